//! Restart policy: exponential backoff with jitter, and the intensity limit (at most N restarts
//! in T seconds, as Erlang/OTP supervisors count them).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::Supervision;

/// A child's supervision settings, resolved to durations.
#[derive(Clone, Debug)]
pub struct Policy {
    /// First restart delay.
    pub restart_delay: Duration,
    /// Longest restart delay.
    pub restart_delay_max: Duration,
    /// Restarts allowed within `restart_window`.
    pub max_restarts: u32,
    /// Window of the intensity limit.
    pub restart_window: Duration,
    /// Time between health checks.
    pub health_interval: Duration,
    /// Deadline of one health check.
    pub health_timeout: Duration,
    /// Failed checks in a row that make a child hung.
    pub health_failures: u32,
    /// How long a retired process may finish its in-flight commands.
    pub drain: Duration,
    /// SIGTERM to SIGKILL grace.
    pub stop_grace: Duration,
}

impl Policy {
    /// Resolves `s`; keys it leaves unset take the built-in defaults.
    pub fn from_settings(s: &Supervision) -> Self {
        let s = s.or(&Supervision::DEFAULTS);
        let secs = |v: Option<f64>, default: f64| Duration::from_secs_f64(v.unwrap_or(default));
        Self {
            restart_delay: secs(s.restart_delay_secs, 0.1),
            restart_delay_max: secs(s.restart_delay_max_secs, 30.0),
            max_restarts: s.max_restarts.unwrap_or(5),
            restart_window: secs(s.restart_window_secs, 60.0),
            health_interval: secs(s.health_interval_secs, 2.0),
            health_timeout: secs(s.health_timeout_secs, 2.0),
            health_failures: s.health_failures.unwrap_or(3),
            drain: secs(s.drain_secs, 30.0),
            stop_grace: secs(s.stop_grace_secs, 3.0),
        }
    }
}

/// The restart history of one child.
#[derive(Debug, Default)]
pub struct Restarts {
    /// Restarts in a row without a stable run in between (drives the backoff).
    consecutive: u32,
    /// When the recent restarts happened (drives the intensity limit).
    recent: VecDeque<Instant>,
}

impl Restarts {
    /// Records that the child ended at `now` after running for `ran_for` (`None` if it never
    /// became ready) and returns how long to wait before starting it again, or `None` when the
    /// intensity limit is reached. `jitter` in [0, 1) spreads the delay over ±25 %.
    pub fn next_delay(
        &mut self,
        policy: &Policy,
        now: Instant,
        ran_for: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        // A child that ran for longer than the longest delay was stable: start the backoff over.
        if ran_for.is_some_and(|d| d >= policy.restart_delay_max.max(Duration::from_secs(10))) {
            self.consecutive = 0;
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.restart_window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= policy.max_restarts as usize {
            return None;
        }
        self.recent.push_back(now);
        let base = policy
            .restart_delay
            .saturating_mul(1u32 << self.consecutive.min(20))
            .min(policy.restart_delay_max);
        self.consecutive = self.consecutive.saturating_add(1);
        let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
        Some(base.mul_f64(factor).min(policy.restart_delay_max))
    }

    /// Forgets the history (an operator cleared a failed child).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_settings(&Supervision {
            max_restarts: Some(3),
            restart_window_secs: Some(10.0),
            restart_delay_secs: Some(0.1),
            restart_delay_max_secs: Some(1.0),
            ..Default::default()
        })
    }

    #[test]
    fn delay_doubles_up_to_the_cap_with_jitter_inside_25_percent() {
        let p = Policy {
            max_restarts: 100,
            ..policy()
        };
        let mut r = Restarts::default();
        let t = Instant::now();
        let delays: Vec<Duration> = (0..6)
            .map(|i| {
                r.next_delay(&p, t + Duration::from_millis(i), None, 0.5)
                    .expect("under the limit")
            })
            .collect();
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        let low = r.next_delay(&p, t, None, 0.0).expect("under the limit");
        let high = r.next_delay(&p, t, None, 0.999).expect("under the limit");
        assert_eq!(low, Duration::from_millis(750));
        assert_eq!(high, Duration::from_secs(1));
    }

    #[test]
    fn intensity_limit_gives_up_after_n_restarts_in_the_window() {
        let p = policy();
        let mut r = Restarts::default();
        let t = Instant::now();
        for i in 0..3 {
            assert!(
                r.next_delay(&p, t + Duration::from_secs(i), None, 0.5)
                    .is_some()
            );
        }
        assert_eq!(
            r.next_delay(&p, t + Duration::from_secs(3), None, 0.5),
            None
        );
        // Once the oldest restart leaves the window, one more is allowed.
        assert!(
            r.next_delay(&p, t + Duration::from_secs(11), None, 0.5)
                .is_some()
        );
        r.clear();
        assert!(r.next_delay(&p, t, None, 0.5).is_some());
    }

    #[test]
    fn a_stable_run_resets_the_backoff() {
        let p = Policy {
            max_restarts: 100,
            ..policy()
        };
        let mut r = Restarts::default();
        let t = Instant::now();
        for _ in 0..4 {
            r.next_delay(&p, t, None, 0.5);
        }
        let after_stable = r
            .next_delay(&p, t, Some(Duration::from_secs(60)), 0.5)
            .expect("under the limit");
        assert_eq!(after_stable, Duration::from_millis(100));
    }
}
