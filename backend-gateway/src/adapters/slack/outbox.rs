//! Calling the Web API through Slack's rate limits without losing anything.
//!
//! - A 429 closes the gate of its method (Slack's limits are per method) for the `Retry-After`
//!   delay; every call of that method waits, then the call is made again. Rate limits never
//!   make a call fail, within a patience of ten minutes.
//! - A call that meets no answer or a failure on Slack's side is tried again with backoff; any
//!   other refusal (`channel_not_found`...) fails at once.
//! - Messages to one channel are paced (Slack allows about one a second, with short bursts): a
//!   token bucket per channel, `post_burst` deep, refilled every `post_interval`.
//! - One lane per channel: the parts of one reply go out together, and replies in the order
//!   they were handed over (the lane is a fair lock).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::transport::ApiError;
use crate::adapters::patience::{self, Failure, Gate};

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The gates, buckets and lanes of one connection.
pub struct Outbox {
    gates: Mutex<HashMap<String, Instant>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    lanes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    interval: Duration,
    burst: u32,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Outbox {
    /// An outbox pacing each channel to one message per `interval` after `burst` at once.
    pub fn new(interval: Duration, burst: u32) -> Self {
        Self {
            gates: Mutex::default(),
            buckets: Mutex::default(),
            lanes: Mutex::default(),
            interval,
            burst: burst.max(1),
        }
    }

    /// The lane of `channel`: hold it while posting one reply's parts.
    pub fn lane(&self, channel: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.lanes)
            .entry(channel.to_owned())
            .or_default()
            .clone()
    }

    /// Waits for a token of `channel`'s bucket.
    pub async fn pace(&self, channel: &str) {
        if self.interval.is_zero() {
            return;
        }
        let wait = {
            let mut buckets = lock(&self.buckets);
            let now = Instant::now();
            let b = buckets.entry(channel.to_owned()).or_insert(Bucket {
                tokens: f64::from(self.burst),
                at: now,
            });
            let refill = now.duration_since(b.at).as_secs_f64() / self.interval.as_secs_f64();
            b.tokens = (b.tokens + refill).min(f64::from(self.burst));
            b.at = now;
            b.tokens -= 1.0;
            if b.tokens >= 0.0 {
                Duration::ZERO
            } else {
                self.interval.mul_f64(-b.tokens)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Closes `method`'s gate for `delay` (a later reopening wins).
    pub fn hold(&self, method: &str, delay: Duration) {
        let until = Instant::now() + delay;
        let mut gates = lock(&self.gates);
        let gate = gates.entry(method.to_owned()).or_insert(until);
        if *gate < until {
            *gate = until;
        }
    }

    /// Runs `attempt` (a call of `method`) behind the method's gate until it succeeds, fails
    /// for good, or the patience runs out (`adapters::patience`).
    pub async fn call<T, F, Fut>(&self, method: &str, attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let gate = MethodGate {
            outbox: self,
            method,
        };
        patience::persist(&format!("Slack {method}"), &gate, attempt).await
    }
}

/// One method's gate.
struct MethodGate<'a> {
    outbox: &'a Outbox,
    method: &'a str,
}

impl Gate for MethodGate<'_> {
    fn opens_at(&self) -> Option<Instant> {
        lock(&self.outbox.gates).get(self.method).copied()
    }

    fn close_for(&self, delay: Duration) {
        self.outbox.hold(self.method, delay);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_holds_its_method_only() {
        let outbox = Outbox::new(Duration::ZERO, 1);
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let got = outbox
            .call("chat.postMessage", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(ApiError::RateLimited(Duration::from_secs(3))),
                    1 => Err(ApiError::Slack("internal_error".into())),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(got.unwrap(), 7);
        assert!(start.elapsed() >= Duration::from_secs(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Another method is not held.
        let t = Instant::now();
        outbox
            .call("users.info", || async { Ok(()) })
            .await
            .unwrap();
        assert!(t.elapsed() < Duration::from_millis(10));
        let refused: Result<(), _> = outbox
            .call("chat.postMessage", || async {
                Err(ApiError::Slack("channel_not_found".into()))
            })
            .await;
        assert_eq!(refused, Err(ApiError::Slack("channel_not_found".into())));
    }

    #[tokio::test(start_paused = true)]
    async fn channels_are_paced_after_a_burst() {
        let outbox = Outbox::new(Duration::from_secs(1), 3);
        let start = Instant::now();
        for _ in 0..5 {
            outbox.pace("C1").await;
        }
        // Three at once, then one a second.
        let spent = start.elapsed();
        assert!(spent >= Duration::from_secs(2), "{spent:?}");
        assert!(spent < Duration::from_millis(2100), "{spent:?}");
        let t = Instant::now();
        outbox.pace("C2").await;
        assert!(t.elapsed() < Duration::from_millis(10));
    }
}
