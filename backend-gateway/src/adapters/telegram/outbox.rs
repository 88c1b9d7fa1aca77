//! Calling the Bot API without losing a message: a call that meets a 429 waits for the
//! `retry_after` Telegram gave and is made again, and every other call waits with it (one gate
//! for the bot: Telegram's limits are per bot as well as per chat); a call that meets no answer
//! or a server error is tried again with backoff; any other refusal fails at once
//! (`adapters::patience`).

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::api::ApiError;
use crate::adapters::patience::{self, Failure, Gate};

/// The gate every call that sends passes.
#[derive(Default)]
pub struct Outbox {
    not_before: Mutex<Option<Instant>>,
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

impl Gate for Outbox {
    fn opens_at(&self) -> Option<Instant> {
        *self
            .not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn close_for(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut gate = self
            .not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if gate.is_none_or(|t| t < until) {
            *gate = Some(until);
        }
    }
}

impl Outbox {
    /// Runs `attempt` until it succeeds, fails for good, or the patience runs out.
    pub async fn deliver<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        patience::persist(&format!("Telegram {what}"), self, attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_out_and_a_refusal_fails_at_once() {
        let outbox = Outbox::default();
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
