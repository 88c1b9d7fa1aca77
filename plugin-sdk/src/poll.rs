//! Pollers: starting and stopping them, and what a `#[poller]` method receives at each tick.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use errbot_proto::v1;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bot::{Bot, BotError};
use crate::context::Runtime;
use crate::reply::Reply;

/// One tick of a poller: what a `#[poller]` method receives (optionally) as `&PollContext`.
pub struct PollContext {
    method: String,
    args_json: String,
    tick: u64,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for PollContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollContext")
            .field("method", &self.method)
            .field("args_json", &self.args_json)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl PollContext {
    pub(crate) fn new(request: v1::PollRequest, runtime: Arc<Runtime>) -> Self {
        Self {
            method: request.method,
            args_json: request.args_json,
            tick: request.tick,
            runtime,
        }
    }
    /// The poller's method name, as given to `start_poller`.
    pub fn method(&self) -> &str {
        &self.method
    }
    /// Which tick this is, from 1, counted over the poller's whole life (errbotd keeps the count
    /// across restarts of the plugin).
    pub fn tick(&self) -> u64 {
        self.tick
    }
    /// The arguments given to `start_poller`, as JSON (empty when none).
    pub fn args_json(&self) -> &str {
        &self.args_json
    }
    /// The arguments given to `start_poller`, as your own type (`()` or an `Option` when none
    /// were given: they read as JSON `null`).
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        if self.args_json.is_empty() {
            T::deserialize(serde_json::Value::Null)
        } else {
            serde_json::from_str(&self.args_json)
        }
    }
    /// The bot.
    pub fn bot(&self) -> &Bot {
        &self.runtime.bot
    }
    /// The plugin's persistent storage.
    pub fn storage(&self) -> &crate::Storage {
        self.runtime.bot.storage()
    }
    /// The bot's command prefix.
    pub fn bot_prefix(&self) -> &str {
        self.runtime.prefix()
    }
    /// Sends `content` (text or card) to `to` (`@user`, `#room`) on the first configured
    /// backend (see [`Bot::send`]).
    pub async fn send(&self, to: &str, content: impl Into<Reply>) -> Result<String, BotError> {
        self.runtime.bot.send(to, content).await
    }
    /// Starts (or updates) a poller; see [`Bot::start_poller`].
    pub async fn start_poller(
        &self,
        interval: Duration,
        method: &str,
        times: Option<u32>,
        args: impl Serialize,
    ) -> Result<bool, BotError> {
        self.runtime
            .bot
            .start_poller(interval, method, times, args)
            .await
    }
    /// Stops a poller, this one included; see [`Bot::stop_poller`].
    pub async fn stop_poller(&self, method: &str, args: impl Serialize) -> Result<bool, BotError> {
        self.runtime.bot.stop_poller(method, args).await
    }
}

/// One of the plugin's pollers as errbotd runs it ([`Bot::pollers`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PollerStatus {
    /// The method, as given to `start_poller`.
    pub method: String,
    /// Its arguments as JSON (canonical: no insignificant whitespace; empty when none).
    pub args_json: String,
    /// Time between ticks.
    pub interval: Duration,
    /// Ticks to run in all; `None`: until stopped.
    pub times: Option<u32>,
    /// Ticks run so far, over the poller's whole life.
    pub ticks: u64,
    /// Ticks that failed (an error, the deadline missed, the plugin restarting too long).
    pub failures: u64,
    /// Why the last failed tick failed; empty when none did.
    pub last_error: String,
    /// Until the next tick is due (zero while one runs).
    pub next_in: Duration,
    /// A tick is running now.
    pub running: bool,
}

impl From<v1::PollerInfo> for PollerStatus {
    fn from(p: v1::PollerInfo) -> Self {
        let secs = |s: f64| Duration::try_from_secs_f64(s).unwrap_or_default();
        Self {
            method: p.method,
            args_json: p.args_json,
            interval: secs(p.interval_secs),
            times: (p.times > 0).then_some(p.times),
            ticks: p.ticks,
            failures: p.failures,
            last_error: p.last_error,
            next_in: secs(p.next_in_secs),
            running: p.running,
        }
    }
}

/// `args` as the JSON of `StartPollerRequest.args_json`.
pub(crate) fn args_json(args: impl Serialize) -> Result<String, BotError> {
    serde_json::to_string(&args).map_err(|e| {
        BotError::from(tonic::Status::invalid_argument(format!(
            "the poller's arguments do not serialize to JSON: {e}"
        )))
    })
}

/// `times` as `StartPollerRequest.times` (0: until stopped).
pub(crate) fn times(times: Option<u32>) -> Result<u32, BotError> {
    match times {
        None => Ok(0),
        Some(0) => Err(BotError::from(tonic::Status::invalid_argument(
            "a poller runs at least once: give `None` to run it until stopped",
        ))),
        Some(n) => Ok(n),
    }
}
