//! The Events API: Slack posts each event to `/slack/events` (Errbot's path) on the address of
//! `events_listen` (behind the operator's HTTPS proxy). Every request is checked before
//! anything else: `X-Slack-Request-Timestamp` within 300 s of now and `X-Slack-Signature`,
//! `v0=` HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the signing secret, compared in
//! constant time; a forged or stale request gets 401 and is dropped. `url_verification` is
//! answered with its challenge. An event is acknowledged (200) at once and queued; the one
//! handler takes the queue in order, and Slack's retries (`X-Slack-Retry-Num`) of an event it
//! had are dropped by its `event_id`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::transport::text;

/// How far a request's timestamp may be from now (Slack's SDKs use the same five minutes).
pub const WINDOW_SECS: i64 = 300;

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A header is missing or unreadable.
    Missing(&'static str),
    /// The timestamp is too far from now (a replayed request).
    Stale,
    /// The signature does not match.
    Forged,
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks a request's signature (`v0=...`) and timestamp against `secret`, `now` being the
/// Unix time in seconds.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Refused> {
    let timestamp = timestamp.ok_or(Refused::Missing("X-Slack-Request-Timestamp"))?;
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refused::Missing("X-Slack-Request-Timestamp"))?;
    // abs_diff: a timestamp far from now (i64::MIN) must not overflow.
    if now.abs_diff(ts) > WINDOW_SECS.unsigned_abs() {
        return Err(Refused::Stale);
    }
    let given = signature
        .and_then(|s| s.trim().strip_prefix("v0="))
        .and_then(hex_decode)
        .ok_or(Refused::Missing("X-Slack-Signature"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Refused::Forged)?;
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    // Constant time.
    mac.verify_slice(&given).map_err(|_| Refused::Forged)
}

struct Endpoint {
    secret: Vec<u8>,
    events: mpsc::UnboundedSender<Value>,
}

fn now_secs() -> i64 {
    crate::adapters::now_ms() / 1000
}

async fn events(State(ep): State<Arc<Endpoint>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(why) = verify(
        &ep.secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        now_secs(),
    ) {
        tracing::warn!("a request to /slack/events was refused ({why:?}): not from Slack");
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    match text(&v, "type").as_str() {
        "url_verification" => {
            let challenge = text(&v, "challenge");
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                json!({ "challenge": challenge }).to_string(),
            )
                .into_response()
        }
        "event_callback" => {
            if let Some(n) = header("x-slack-retry-num") {
                tracing::debug!(
                    "Slack retries event {} (attempt {n}, {})",
                    text(&v, "event_id"),
                    header("x-slack-retry-reason").unwrap_or("")
                );
            }
            // Acknowledged now; handled in order by the one handler.
            let _ = ep
                .events
                .send(json!({"type": "events_api", "envelope_id": "", "payload": v}));
            StatusCode::OK.into_response()
        }
        other => {
            tracing::debug!("Events API request of type {other:?} ignored");
            StatusCode::OK.into_response()
        }
    }
}

/// Serves the Events API until the adapter stops. `first` is told how the start went.
pub(super) async fn run(
    shared: Arc<Shared>,
    first: oneshot::Sender<Result<(), String>>,
    listen: SocketAddr,
    secret: String,
) {
    let mut first = Some(first);
    let mut stop = shared.stop.subscribe();
    if !super::socket::identified(&shared, &mut first, &mut stop).await {
        return;
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            super::socket::fail(
                &shared,
                &mut first,
                &format!("cannot listen on {listen} (events_listen): {e}"),
            );
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let endpoint = Arc::new(Endpoint {
        secret: secret.into_bytes(),
        events: tx,
    });
    let app = Router::new()
        .route("/slack/events", post(events))
        .with_state(endpoint);
    let mut server_stop = shared.stop.subscribe();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = server_stop.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("the Events API endpoint stopped: {e}");
        }
    });
    shared.set_connected(true);
    tracing::info!("Slack Events API: listening on http://{listen}/slack/events");
    if let Some(f) = first.take() {
        let _ = f.send(Ok(()));
    }
    shared
        .push(crate::adapters::connected_event(shared.bot()))
        .await;
    loop {
        tokio::select! {
            v = rx.recv() => match v {
                Some(v) => shared.envelope(&v).await,
                None => return,
            },
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const BODY: &[u8] = br#"{"type":"url_verification","challenge":"c0ffee"}"#;
    // Computed with Python's hmac and hashlib.
    const SIGNATURE: &str = "v0=8223d03ad98de82c542ba489d88a25b49f1383f616c09efe90c1cdfa3117f561";

    #[test]
    fn signatures_are_checked_with_a_time_window() {
        let ts = Some("1531420618");
        let now = 1_531_420_618;
        assert_eq!(verify(SECRET, ts, Some(SIGNATURE), BODY, now), Ok(()));
        assert_eq!(verify(SECRET, ts, Some(SIGNATURE), BODY, now + 300), Ok(()));
        assert_eq!(
            verify(SECRET, ts, Some(SIGNATURE), BODY, now + 301),
            Err(Refused::Stale)
        );
        let mut other = BODY.to_vec();
        other.push(b' ');
        assert_eq!(
            verify(SECRET, ts, Some(SIGNATURE), &other, now),
            Err(Refused::Forged)
        );
        assert_eq!(
            verify(b"another", ts, Some(SIGNATURE), BODY, now),
            Err(Refused::Forged)
        );
        assert!(matches!(
            verify(SECRET, None, Some(SIGNATURE), BODY, now),
            Err(Refused::Missing(_))
        ));
        assert!(matches!(
            verify(SECRET, ts, Some("v1=00"), BODY, now),
            Err(Refused::Missing(_))
        ));
    }

    #[test]
    fn timestamps_far_from_now_are_stale_without_overflow() {
        // Found by the slack fuzz target: `now - ts` overflowed (a panic in debug builds).
        for (ts, now) in [
            (i64::MIN, 0),
            (i64::MIN, 1_531_420_618),
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
            (i64::MAX, 0),
        ] {
            let ts = ts.to_string();
            assert_eq!(
                verify(SECRET, Some(&ts), Some(SIGNATURE), BODY, now),
                Err(Refused::Stale)
            );
        }
    }
}
