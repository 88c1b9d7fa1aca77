//! Supervision of the children: every plugin and gateway lives in a slot whose task starts its
//! process, watches it (exit and health), restarts it with backoff up to the intensity limit,
//! and carries out the operator's activate / deactivate / reload.
//!
//! The slot outlives its processes: commands and replies address the slot, which hands them to
//! whatever process serves at that moment, or waits (bounded) for the next one.

pub mod commands;
pub mod gateway;
pub mod health;
pub mod plugin;
pub mod policy;

use std::sync::Mutex;
use std::time::Instant;

use errbot_proto::v1::ChildStatus;
use tokio::sync::watch;

/// Where a supervised child is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// First start in progress.
    Starting,
    /// A process serves.
    Running,
    /// The process ended; a new one starts after the backoff.
    Restarting,
    /// Restarted too often (or cannot start at all): left stopped until an operator activates it.
    Failed,
    /// Stopped by an operator.
    Deactivated,
    /// Has a configuration template but no (acceptable) configuration: not activated until
    /// `!plugin config NAME {...}` gives it one.
    Unconfigured,
    /// On the blacklist (kept in storage): not started until unblacklisted.
    Blacklisted,
    /// errbotd is shutting down.
    Stopped,
}

impl State {
    /// The name shown by status commands.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Restarting => "restarting",
            State::Failed => "failed",
            State::Deactivated => "deactivated",
            State::Unconfigured => "unconfigured",
            State::Blacklisted => "blacklisted",
            State::Stopped => "stopped",
        }
    }
}

/// What status commands show of a child beyond its state.
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// Pid of the serving process (0 when none serves).
    pub pid: u32,
    /// When the serving process started.
    pub since: Option<Instant>,
    /// Restarts since errbotd started.
    pub restarts: u32,
    /// Why the previous process ended.
    pub last_exit: String,
    /// Why the child is failed or deactivated, or what it is doing before it starts
    /// (`building`).
    pub note: String,
}

/// The state and record of one child, shared between its slot task and everyone who asks.
pub struct Life {
    state: watch::Sender<State>,
    record: Mutex<Record>,
}

impl Default for Life {
    fn default() -> Self {
        Self {
            state: watch::channel(State::Starting).0,
            record: Mutex::new(Record::default()),
        }
    }
}

impl Life {
    /// The current state.
    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    /// Moves to `state`, waking whoever waits for a change.
    pub fn set(&self, state: State) {
        self.state.send_replace(state);
    }

    /// A receiver of state changes.
    pub fn subscribe(&self) -> watch::Receiver<State> {
        self.state.subscribe()
    }

    /// A copy of the record.
    pub fn record(&self) -> Record {
        self.record.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Changes the record.
    pub fn update(&self, f: impl FnOnce(&mut Record)) {
        if let Ok(mut r) = self.record.lock() {
            f(&mut r);
        }
    }

    /// The status line of errbotctl for this child.
    pub fn status(&self, name: &str, kind: &str) -> ChildStatus {
        let r = self.record();
        let state = self.state();
        let last_exit = match (state, r.note.is_empty()) {
            (
                State::Failed | State::Deactivated | State::Unconfigured | State::Blacklisted,
                false,
            ) => r.note.clone(),
            // A plugin being built before it starts.
            (State::Starting | State::Restarting, false) => r.note.clone(),
            _ => r.last_exit.clone(),
        };
        ChildStatus {
            name: name.to_owned(),
            kind: kind.to_owned(),
            state: state.as_str().to_owned(),
            pid: r.pid,
            uptime_seconds: r.since.map_or(0, |s| s.elapsed().as_secs()),
            restarts: r.restarts,
            last_exit,
        }
    }
}

/// A uniform random number in [0, 1) for backoff jitter.
fn jitter() -> f64 {
    use rand::Rng;
    rand::rng().random::<f64>()
}
