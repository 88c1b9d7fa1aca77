//! Calling a chat service's HTTP API without losing anything, for every adapter's outbox: a
//! call that meets a rate limit waits behind its gate for the delay the service gave and is
//! made again (rate limits never make it fail, within [`PATIENCE`]); one that meets no answer
//! or a failure on the service's side is tried again with backoff, at most [`ATTEMPTS`] times;
//! any other refusal fails at once.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How many times a call is tried when the service does not answer or fails on its side. Rate
/// limits do not count: a rate-limited call waits as long as the service says.
pub const ATTEMPTS: u32 = 6;

/// Longest a call waits in all (rate limits included).
pub const PATIENCE: Duration = Duration::from_secs(600);

/// What a failed call says about trying again.
pub trait Failure: std::fmt::Display + Sized {
    /// The delay a rate limit asks for, if this is one.
    fn rate_limit(&self) -> Option<Duration>;
    /// Whether trying again later may succeed.
    fn is_transient(&self) -> bool;
    /// The error of a call given up after [`PATIENCE`].
    fn gave_up(text: String) -> Self;
}

/// The gate calls wait behind, closed by rate limits.
pub trait Gate {
    /// When the gate opens again, if it is closed.
    fn opens_at(&self) -> Option<Instant>;
    /// Closes the gate for `delay` (a later reopening wins).
    fn close_for(&self, delay: Duration);
}

/// A gate closed until one instant: the one gate of an outbox whose service rate-limits as a
/// whole (Mattermost, Telegram).
#[derive(Default)]
pub struct ClosedUntil(std::sync::Mutex<Option<Instant>>);

impl Gate for ClosedUntil {
    fn opens_at(&self) -> Option<Instant> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn close_for(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut gate = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if gate.is_none_or(|t| t < until) {
            *gate = Some(until);
        }
    }
}

/// Runs `attempt` (`what`, for the log) behind `gate` until it succeeds, fails for good, or
/// the patience runs out.
pub async fn persist<T, E, F, Fut>(
    what: &str,
    gate: &(dyn Gate + Sync),
    mut attempt: F,
) -> Result<T, E>
where
    E: Failure,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut failures = 0u32;
    let mut backoff = Duration::from_millis(200);
    loop {
        if let Some(until) = gate.opens_at() {
            tokio::time::sleep_until(until).await;
        }
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => match e.rate_limit() {
                Some(delay) => {
                    tracing::info!("rate limit: {what} waits {:.1} s", delay.as_secs_f64());
                    gate.close_for(delay);
                }
                None if e.is_transient() && failures + 1 < ATTEMPTS => {
                    failures += 1;
                    tracing::warn!("{what} failed ({e}); trying again in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                None => return Err(e),
            },
        }
        if started.elapsed() > PATIENCE {
            return Err(E::gave_up(format!(
                "{what}: gave up after {} s of rate limits and failures",
                PATIENCE.as_secs()
            )));
        }
    }
}
