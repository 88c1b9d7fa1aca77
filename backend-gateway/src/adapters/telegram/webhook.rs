//! The webhook mode: `setWebhook` with the public URL and a secret token, then Telegram posts
//! each update to the path of that URL on `webhook_listen` (behind the operator's HTTPS proxy:
//! Telegram only posts to HTTPS on ports 443, 80, 88 and 8443). A request without the secret
//! in `X-Telegram-Bot-Api-Secret-Token` (compared in constant time) gets 401 and is dropped.
//! An update is answered only once errbotd processed it (at most `webhook_hold`): until then
//! Telegram keeps it and posts it again after a failure, so a gateway that dies meanwhile
//! loses nothing; a redelivery of an update already taken is not run again (`acks`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::Shared;
use super::settings::Webhook;

/// Requests waiting for their update to be processed, by update id.
#[derive(Default)]
pub struct Waiters(Mutex<HashMap<i64, Vec<oneshot::Sender<()>>>>);

impl Waiters {
    fn add(&self, id: i64) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        super::locked(&self.0).entry(id).or_default().push(tx);
        rx
    }

    /// Update `id` is finished: its requests are answered.
    pub fn finished(&self, id: i64) {
        for tx in super::locked(&self.0).remove(&id).unwrap_or_default() {
            let _ = tx.send(());
        }
    }
}

/// Whether `given` is the secret, in time independent of where they differ.
fn same(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn update(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let Some(hook) = shared.settings.webhook.as_ref() else {
        return StatusCode::NOT_FOUND;
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same(given, hook.secret.as_bytes()) {
        tracing::warn!("Telegram webhook: a request without the secret token was refused");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let Some(id) = v.get("update_id").and_then(Value::as_i64) else {
        return StatusCode::BAD_REQUEST;
    };
    let done = shared.waiters.add(id);
    if !shared.take(&v).await {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if shared.with_acks(|a| a.finished(id)) {
        shared.waiters.finished(id);
        return StatusCode::OK;
    }
    if tokio::time::timeout(hook.hold, done).await.is_err() {
        tracing::warn!(
            "Telegram webhook: update {id} still runs after {:?}; answered anyway",
            hook.hold
        );
    }
    StatusCode::OK
}

/// Listens, then sets the webhook; fails when either fails.
pub(super) async fn start(shared: Arc<Shared>, hook: &Webhook) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(hook.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (webhook_listen): {e}", hook.listen))?;
    let params = json!({
        "url": hook.url.as_str(),
        "secret_token": hook.secret,
        "allowed_updates": ["message", "edited_message", "message_reaction"],
        "drop_pending_updates": false,
    });
    shared
        .api
        .call("setWebhook", &params, Duration::ZERO)
        .await
        .map_err(|e| format!("setWebhook failed: {e}"))?;
    let path = match hook.url.path() {
        "" => "/",
        p => p,
    };
    let app = Router::new()
        .route(path, post(update))
        .with_state(shared.clone());
    let mut stop = shared.stop.subscribe();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("the Telegram webhook endpoint stopped: {e}");
        }
    });
    // Updates errbotd never finished are given up in time, as the poller does.
    let expiring = shared.clone();
    let mut stop = shared.stop.subscribe();
    tokio::spawn(async move {
        let limit = expiring.settings.processed_timeout;
        loop {
            tokio::select! {
                () = tokio::time::sleep(limit.min(Duration::from_secs(30))) => {}
                _ = stop.changed() => return,
            }
            for id in expiring.with_acks(|a| a.expire(limit)) {
                expiring.waiters.finished(id);
            }
        }
    });
    tracing::info!(
        "Telegram: webhook {} served on http://{}{path}",
        hook.url,
        hook.listen
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abd", b"abc"));
        assert!(!same(b"ab", b"abc"));
        assert!(!same(b"", b"abc"));
    }
}
