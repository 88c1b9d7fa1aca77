//! Long polling: `getUpdates` with the offset of `acks` (so an update is confirmed to Telegram
//! only once errbotd finished with it), `timeout` = `poll_timeout` while nothing waits for
//! errbotd. While updates wait, Telegram would answer at once with them again, so the poller
//! asks again only when errbotd finished one or after `busy_poll_interval`. A redelivered
//! update is dropped; a 409 (another program polls the same bot, or a webhook is set) is said
//! once in the log and waited out with backoff, like a lost connection; a 429 waits its
//! `retry_after`. The poller never ends before the adapter stops.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::Shared;
use super::api::ApiError;

/// Polls until the adapter stops.
pub(super) async fn run(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    let settings = &shared.settings;
    let mut delay = settings.reconnect_delay;
    let mut trouble: Option<String> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let expired = shared.with_acks(|a| a.expire(settings.processed_timeout));
        if !expired.is_empty() {
            tracing::warn!(
                "Telegram: errbotd never finished updates {expired:?} within {:?}; taken as done",
                settings.processed_timeout
            );
        }
        let wait = if shared.with_acks(|a| a.waiting()) {
            let progress = shared.progress.notified();
            tokio::select! {
                () = progress => {}
                () = tokio::time::sleep(settings.busy_poll_interval) => {}
                _ = stop.changed() => return,
            }
            Duration::ZERO
        } else {
            settings.poll_timeout
        };
        let offset = shared.with_acks(|a| a.offset());
        let mut params = json!({
            "timeout": wait.as_secs(),
            "allowed_updates": ["message", "edited_message", "message_reaction"],
        });
        if offset > 0 {
            params["offset"] = json!(offset);
        }
        let answer = tokio::select! {
            a = shared.api.call("getUpdates", &params, wait) => a,
            _ = stop.changed() => return,
        };
        let pause = match answer {
            Ok(updates) => {
                if let Some(was) = trouble.take() {
                    tracing::info!("Telegram: receiving updates again (after: {was})");
                }
                delay = settings.reconnect_delay;
                let list = updates.as_array().cloned().unwrap_or_default();
                for update in &list {
                    if !shared.take(update).await {
                        return;
                    }
                }
                continue;
            }
            Err(ApiError::RateLimited(d)) => {
                tracing::info!("Telegram: getUpdates is rate limited; waiting {d:?}");
                d
            }
            Err(e) => {
                let text = if e.is_conflict() {
                    format!(
                        "{e}: another program is receiving this bot's updates (a second \
                         errbotd, or a webhook: only one may); trying again with backoff"
                    )
                } else {
                    format!("getUpdates failed: {e}")
                };
                if trouble.as_deref() != Some(&text) {
                    tracing::warn!("Telegram: {text}");
                    trouble = Some(text);
                }
                let d = delay;
                delay = (delay * 2).min(settings.reconnect_max);
                d
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}
