//! Posting without losing anything: a post that meets a rate limit (429) waits for the delay
//! the server gave (`Retry-After`) and is tried again, and every other post waits with it (one
//! gate for the whole connection, as the server's limit is per user); a post that meets no
//! answer or a server error is tried again with backoff. Only a refusal (4xx) fails.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::transport::ApiError;

/// How many times a post is tried when the server does not answer or fails (5xx). Rate limits
/// do not count: a rate-limited post waits as long as the server says.
pub const ATTEMPTS: u32 = 6;

/// Longest the outbox waits in all for one post (rate limits included).
pub const PATIENCE: Duration = Duration::from_secs(600);

/// The gate every post passes.
#[derive(Default)]
pub struct Outbox {
    not_before: Mutex<Option<Instant>>,
}

impl Outbox {
    /// A new outbox, open.
    pub fn new() -> Self {
        Self::default()
    }

    fn wait_until(&self) -> Option<Instant> {
        *self
            .not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes the gate for `delay` (a later reopening wins).
    pub fn hold(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut gate = self
            .not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if gate.is_none_or(|t| t < until) {
            *gate = Some(until);
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the patience runs out.
    pub async fn deliver<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let started = Instant::now();
        let mut failures = 0u32;
        let mut backoff = Duration::from_millis(200);
        loop {
            if let Some(until) = self.wait_until() {
                tokio::time::sleep_until(until).await;
            }
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(ApiError::RateLimited(delay)) => {
                    tracing::info!(
                        "Mattermost rate limit: {what} waits {:.1} s",
                        delay.as_secs_f64()
                    );
                    self.hold(delay);
                }
                Err(e) if e.is_transient() && failures + 1 < ATTEMPTS => {
                    failures += 1;
                    tracing::warn!("{what} failed ({e}); trying again in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(e),
            }
            if started.elapsed() > PATIENCE {
                return Err(ApiError::Transport(format!(
                    "{what}: gave up after {} s of rate limits and failures",
                    PATIENCE.as_secs()
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

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
