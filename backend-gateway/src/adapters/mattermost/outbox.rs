//! Posting without losing anything: a post that meets a rate limit (429) waits for the delay
//! the server gave (`Retry-After`) and is tried again, and every other post waits with it (one
//! gate for the whole connection, as the server's limit is per user); a post that meets no
//! answer or a server error is tried again with backoff. Only a refusal (4xx) fails.

use std::future::Future;
use std::time::Duration;

use super::transport::ApiError;
use crate::adapters::patience::{self, ClosedUntil, Failure};

/// The gate every post passes.
#[derive(Default)]
pub struct Outbox {
    gate: ClosedUntil,
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
    /// A new outbox, open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `attempt` until it succeeds, fails for good, or the patience runs out
    /// (`adapters::patience`).
    pub async fn deliver<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        patience::persist(&format!("Mattermost {what}"), &self.gate, attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_is_waited_out() {
        let outbox = Outbox::new();
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let got = outbox
            .deliver("post", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(ApiError::RateLimited(Duration::from_secs(3))),
                    1 => Err(ApiError::Transport("reset".into())),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(got.unwrap(), 7);
        assert!(start.elapsed() >= Duration::from_secs(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_fails_at_once() {
        let outbox = Outbox::new();
        let got: Result<(), _> = outbox
            .deliver("post", || async {
                Err(ApiError::Status(400, "bad root_id".into()))
            })
            .await;
        assert!(matches!(got, Err(ApiError::Status(400, _))));
    }
}
