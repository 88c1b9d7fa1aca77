//! Calling the Bot API without losing a message: a call that meets a 429 waits for the
//! `retry_after` Telegram gave and is made again, and every other call waits with it (one gate
//! for the bot: Telegram's limits are per bot as well as per chat); a call that meets no answer
//! or a server error is tried again with backoff; any other refusal fails at once
//! (`adapters::patience`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::api::ApiError;
use crate::adapters::patience::{self, ClosedUntil, Failure};

/// The gate every call that sends passes, and the chats' buckets.
#[derive(Default)]
pub struct Outbox {
    gate: ClosedUntil,
    /// Tokens left and when they were counted, by chat.
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
    /// Pacing of private chats and of groups (zero: none), and the bucket's depth.
    chat_interval: Duration,
    group_interval: Duration,
    burst: u32,
}

impl Failure for ApiError {
    fn rate_limit(&self) -> Option<Duration> {
        match self {
            Self::RateLimited(d) => Some(*d),
            _ => None,
        }
    }

    fn is_transient(&self) -> bool {
        ApiError::is_transient(self)
    }

    fn gave_up(text: String) -> Self {
        Self::Transport(text)
    }
}

impl Outbox {
    /// An outbox pacing private chats to one message per `chat_interval` and groups to one per
    /// `group_interval`, after `burst` at once.
    pub fn new(chat_interval: Duration, group_interval: Duration, burst: u32) -> Self {
        Self {
            chat_interval,
            group_interval,
            burst: burst.max(1),
            ..Self::default()
        }
    }

    /// Waits for a token of `chat`'s bucket (groups and supergroups have negative ids).
    pub async fn pace(&self, chat: i64) {
        let interval = if chat < 0 {
            self.group_interval
        } else {
            self.chat_interval
        };
        if interval.is_zero() {
            return;
        }
        let wait = {
            let mut buckets = self
                .buckets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let burst = f64::from(self.burst);
            let (tokens, at) = buckets.entry(chat).or_insert((burst, now));
            let refill = now.duration_since(*at).as_secs_f64() / interval.as_secs_f64();
            *tokens = (*tokens + refill).min(burst) - 1.0;
            *at = now;
            if *tokens >= 0.0 {
                Duration::ZERO
            } else {
                interval.mul_f64(-*tokens)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the patience runs out.
    pub async fn deliver<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        patience::persist(&format!("Telegram {what}"), &self.gate, attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn chats_are_paced_after_a_burst() {
        let outbox = Outbox::new(Duration::from_secs(1), Duration::from_secs(3), 2);
        let start = Instant::now();
        for _ in 0..2 {
            outbox.pace(42).await;
            outbox.pace(-100).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        outbox.pace(42).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        outbox.pace(-100).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3),
            "groups are paced slower"
        );
        outbox.pace(7).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3),
            "another chat does not wait"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_out_and_a_refusal_fails_at_once() {
        let outbox = Outbox::new(Duration::ZERO, Duration::ZERO, 1);
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let got = outbox
            .deliver("sendMessage", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(ApiError::RateLimited(Duration::from_secs(5))),
                    _ => Ok(1),
                }
            })
            .await;
        assert_eq!(got, Ok(1));
        assert!(start.elapsed() >= Duration::from_secs(5));
        let refused: Result<(), _> = outbox
            .deliver("sendMessage", || async {
                Err(ApiError::Refused(
                    403,
                    "Forbidden: bot was blocked by the user".into(),
                ))
            })
            .await;
        assert!(matches!(refused, Err(ApiError::Refused(403, _))));
    }
}
