//! Pollers (Errbot's `start_poller` / `stop_poller`): errbotd owns every poller's schedule and
//! calls `PluginService.Poll` on whatever process serves the plugin at each tick, so a poller
//! survives its plugin's crash-restarts and reloads.
//!
//! One task per poller. Its schedule is fixed-rate (tick n is due at start + n · interval, the
//! first one interval after the start, as in Errbot) and sequential: a tick that runs past the
//! next due time makes the ticks missed meanwhile be dropped, and the next one runs at the next
//! due time after it ended ([`next_due`]). A tick that fails (an error status, the plugin's
//! command deadline missed, no process to call within [`PluginSlot::instance`]'s wait) is
//! logged and counted; the poller keeps its schedule. The slot stops its plugin's pollers
//! ([`Pollers::stop_slot`]) when it parks (deactivated, blacklisted, failed, unconfigured) or
//! stops (removed by a configuration reload, errbotd shutting down).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use errbot_proto::v1::{PollRequest, PollerInfo};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bot::Bot;
use crate::supervise::State;
use crate::supervise::plugin::PluginSlot;

/// The longest interval accepted (a year), so that due times never overflow.
const MAX_INTERVAL_SECS: f64 = 31_536_000.0;
/// A failure that repeats the previous one is logged again at most this often (the others at
/// debug level), so that a fast poller failing for good does not flood the log.
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);

/// What identifies a poller: the plugin, the method and its arguments (canonical JSON).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The plugin whose `Poll` is called.
    pub plugin: String,
    /// The method, as the plugin serves it in `Poll`.
    pub method: String,
    /// The arguments in canonical JSON; empty when none.
    pub args_json: String,
}

impl Key {
    /// The key of `method` with `args_json` (JSON, or empty/`null` for none) for `plugin`;
    /// the reason when the method is empty or the arguments are not JSON.
    pub fn new(plugin: &str, method: &str, args_json: &str) -> Result<Self, String> {
        if method.trim().is_empty() {
            return Err("the poller's method is empty".to_owned());
        }
        Ok(Self {
            plugin: plugin.to_owned(),
            method: method.to_owned(),
            args_json: canonical_args(args_json)?,
        })
    }
}

/// `args_json` in canonical form: no insignificant whitespace, object keys sorted; empty for
/// none (empty or `null`).
pub fn canonical_args(args_json: &str) -> Result<String, String> {
    if args_json.trim().is_empty() {
        return Ok(String::new());
    }
    let value: serde_json::Value = serde_json::from_str(args_json)
        .map_err(|e| format!("the poller's args_json is not valid JSON: {e}"))?;
    // serde_json's maps are sorted by key (no `preserve_order` in this workspace).
    Ok(if value.is_null() {
        String::new()
    } else {
        value.to_string()
    })
}

/// How often a poller ticks, and how many times in all.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Time between due times.
    pub interval: Duration,
    /// Ticks to run in all; 0: until stopped.
    pub times: u32,
}

impl Settings {
    /// Checked settings: `interval_secs` must be a number of seconds > 0 (at most a year).
    pub fn new(interval_secs: f64, times: u32) -> Result<Self, String> {
        if !(interval_secs > 0.0 && interval_secs <= MAX_INTERVAL_SECS) {
            return Err(format!(
                "the poller's interval must be > 0 and at most {MAX_INTERVAL_SECS} seconds, \
                 not {interval_secs}"
            ));
        }
        let interval = Duration::try_from_secs_f64(interval_secs).map_err(|e| e.to_string())?;
        Ok(Self { interval, times })
    }

    /// True when `ticks` ticks complete the poller.
    fn done(&self, ticks: u64) -> bool {
        self.times > 0 && ticks >= u64::from(self.times)
    }
}

/// The next due time after a tick due at `due` that ended at `now`: `due + interval`, or, when
/// that is past already (the tick overran), the first `due + k · interval` after `now` (the
/// ticks missed are dropped; the schedule keeps its phase).
pub fn next_due(due: Instant, interval: Duration, now: Instant) -> Instant {
    let next = due + interval;
    if next > now {
        return next;
    }
    let behind = now.duration_since(due).as_nanos();
    let step = interval.as_nanos().max(1);
    let k = behind / step + 1;
    let offset = interval
        .checked_mul(u32::try_from(k).unwrap_or(u32::MAX))
        .unwrap_or(interval);
    let candidate = due + offset;
    if candidate > now {
        candidate
    } else {
        now + interval
    }
}

/// What a poller has done, shared between its task and the listings.
#[derive(Default)]
struct Stats {
    ticks: u64,
    failures: u64,
    last_error: String,
    next_due: Option<Instant>,
    running: bool,
}

/// A poller's settings (changed by a repeated start) and statistics.
struct Shared {
    settings: watch::Sender<Settings>,
    stats: Mutex<Stats>,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running poller.
struct Entry {
    id: u64,
    slot: Arc<PluginSlot>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// Why a poller could not be started.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    /// The plugin is not active (deactivated, failed, stopping...): nothing to poll.
    NotActive(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::NotActive(why) => f.write_str(why),
        }
    }
}

/// Every poller of errbotd.
#[derive(Default)]
pub struct Pollers {
    entries: Mutex<BTreeMap<Key, Entry>>,
    next_id: AtomicU64,
}

impl Pollers {
    fn entries(&self) -> MutexGuard<'_, BTreeMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the poller `key` of `slot`'s plugin, or, when it runs already, gives it
    /// `settings` and keeps its schedule and count: returns whether it ran already.
    pub fn start(
        &self,
        bot: &Arc<Bot>,
        slot: &Arc<PluginSlot>,
        key: Key,
        settings: Settings,
    ) -> Result<bool, StartError> {
        let mut entries = self.entries();
        // Checked under the lock: a slot that parks sets its state, then stops its pollers
        // under the same lock, so no poller is left behind for a parked plugin.
        let state = slot.life.state();
        if !matches!(state, State::Starting | State::Running | State::Restarting) {
            return Err(StartError::NotActive(format!(
                "plugin {} is {}: pollers run only while it is active",
                slot.name,
                state.as_str()
            )));
        }
        if let Some(entry) = entries.get(&key) {
            if Arc::ptr_eq(&entry.slot, slot) && !entry.task.is_finished() {
                let changed = entry.shared.settings.send_if_modified(|s| {
                    let changed = *s != settings;
                    *s = settings;
                    changed
                });
                if changed {
                    tracing::info!(
                        plugin = %key.plugin,
                        "poller {} now every {:?}{}",
                        label(&key),
                        settings.interval,
                        times_text(settings.times)
                    );
                }
                return Ok(true);
            }
            // A poller of a slot since replaced (a configuration reload), or one that ended.
            if let Some(old) = entries.remove(&key) {
                old.task.abort();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            settings: watch::channel(settings).0,
            stats: Mutex::new(Stats::default()),
        });
        tracing::info!(
            plugin = %key.plugin,
            "poller {} started: every {:?}{}",
            label(&key),
            settings.interval,
            times_text(settings.times)
        );
        let task = tokio::spawn(run(
            bot.clone(),
            slot.clone(),
            key.clone(),
            id,
            shared.clone(),
        ));
        entries.insert(
            key,
            Entry {
                id,
                slot: slot.clone(),
                shared,
                task,
            },
        );
        Ok(false)
    }

    /// Stops the poller `key` (a tick in progress is cancelled); returns whether one ran.
    pub fn stop(&self, key: &Key) -> bool {
        let removed = self.entries().remove(key);
        match removed {
            Some(entry) => {
                entry.task.abort();
                tracing::info!(plugin = %key.plugin, "poller {} stopped", label(key));
                true
            }
            None => false,
        }
    }

    /// Stops every poller of `slot` (its plugin parks or stops, for the reason `why`); returns
    /// how many there were.
    pub fn stop_slot(&self, slot: &PluginSlot, why: &str) -> usize {
        let mut stopped = Vec::new();
        self.entries().retain(|key, entry| {
            if std::ptr::eq(Arc::as_ptr(&entry.slot), slot) {
                entry.task.abort();
                stopped.push(label(key));
                false
            } else {
                true
            }
        });
        if !stopped.is_empty() {
            tracing::info!(
                plugin = %slot.name,
                "pollers stopped ({why}): {}",
                stopped.join(", ")
            );
        }
        stopped.len()
    }

    /// Stops every poller (errbotd shutting down).
    pub fn stop_all(&self) {
        let entries = std::mem::take(&mut *self.entries());
        for entry in entries.into_values() {
            entry.task.abort();
        }
    }

    /// The pollers of `plugin` (every poller when `None`), by plugin, method and arguments:
    /// what `BotService.ListPollers` answers and status commands show (see [`summary`]).
    pub fn list(&self, plugin: Option<&str>) -> Vec<PollerInfo> {
        let now = Instant::now();
        self.entries()
            .iter()
            .filter(|(key, _)| plugin.is_none_or(|p| key.plugin == p))
            .map(|(key, entry)| {
                let settings = *entry.shared.settings.borrow();
                let stats = entry.shared.stats();
                PollerInfo {
                    plugin: key.plugin.clone(),
                    method: key.method.clone(),
                    args_json: key.args_json.clone(),
                    interval_secs: settings.interval.as_secs_f64(),
                    times: settings.times,
                    ticks: stats.ticks,
                    failures: stats.failures,
                    last_error: stats.last_error.clone(),
                    next_in_secs: match (stats.running, stats.next_due) {
                        (false, Some(due)) => due.saturating_duration_since(now).as_secs_f64(),
                        _ => 0.0,
                    },
                    running: stats.running,
                }
            })
            .collect()
    }

    /// Forgets the poller `key` once its task ended by itself (its `times` ran), unless it was
    /// replaced meanwhile.
    fn finished(&self, key: &Key, id: u64) {
        let mut entries = self.entries();
        if entries.get(key).is_some_and(|e| e.id == id) {
            entries.remove(key);
        }
    }
}

/// One line describing a poller for people (`!plugin info`, `!status`): method, arguments,
/// interval, ticks run, failures.
pub fn summary(p: &PollerInfo) -> String {
    let args = if p.args_json.is_empty() {
        String::new()
    } else {
        format!(" {}", p.args_json)
    };
    let ticks = if p.times > 0 {
        format!("{}/{} ticks", p.ticks, p.times)
    } else {
        format!("{} ticks", p.ticks)
    };
    let failures = match (p.failures, p.last_error.is_empty()) {
        (0, _) => String::new(),
        (n, true) => format!(", {n} failed"),
        (n, false) => format!(", {n} failed (last: {})", p.last_error),
    };
    let when = if p.running {
        "running now".to_owned()
    } else {
        format!("next in {:.1} s", p.next_in_secs)
    };
    format!(
        "{}{args} every {} s: {ticks}{failures}, {when}",
        p.method,
        trim_secs(p.interval_secs)
    )
}

/// Seconds without useless decimals (`5`, `0.25`).
fn trim_secs(secs: f64) -> String {
    let text = format!("{secs:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn label(key: &Key) -> String {
    if key.args_json.is_empty() {
        key.method.clone()
    } else {
        format!("{}({})", key.method, key.args_json)
    }
}

fn times_text(times: u32) -> String {
    if times == 0 {
        String::new()
    } else {
        format!(", {times} times")
    }
}

/// What one tick came to.
enum Tick {
    /// Poll was called; its outcome.
    Ran(Result<(), String>),
    /// No process to call.
    NotRun(String),
}

/// Calls the plugin's Poll for tick number `n` of `key`, on the process serving now, within
/// the plugin's command deadline.
async fn tick(bot: &Bot, slot: &PluginSlot, key: &Key, n: u64) -> Tick {
    let instance = match slot.instance().await {
        Ok(i) => i,
        Err(why) => return Tick::NotRun(why),
    };
    // Counted in flight: a reload retires the old process after the tick.
    let _inflight = instance.begin();
    let deadline = bot.config().command_timeout(Some(&slot.name));
    let request = PollRequest {
        method: key.method.clone(),
        args_json: key.args_json.clone(),
        tick: n,
    };
    let mut client = instance.client.clone();
    Tick::Ran(
        match tokio::time::timeout(deadline, client.poll(request)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(status)) if status.message().is_empty() => Err(format!("{}", status.code())),
            Ok(Err(status)) => Err(status.message().to_owned()),
            Err(_) => Err(format!(
                "no answer within the command deadline ({} s)",
                trim_secs(deadline.as_secs_f64())
            )),
        },
    )
}

/// Logs failures without flooding: a failure is logged as a warning unless it repeats the
/// previous one within [`REPEAT_LOG_EVERY`]; a recovery is logged once.
#[derive(Default)]
struct FailureLog {
    last: Option<(String, Instant)>,
    streak: u64,
}

impl FailureLog {
    fn failed(&mut self, key: &Key, why: &str) {
        self.streak += 1;
        let repeat = self
            .last
            .as_ref()
            .is_some_and(|(text, at)| text == why && at.elapsed() < REPEAT_LOG_EVERY);
        if repeat {
            tracing::debug!(plugin = %key.plugin, "poller {} failed: {why}", label(key));
        } else {
            tracing::warn!(
                plugin = %key.plugin,
                "poller {} failed: {why}; it keeps its schedule",
                label(key)
            );
            self.last = Some((why.to_owned(), Instant::now()));
        }
    }

    fn succeeded(&mut self, key: &Key) {
        if self.streak > 0 {
            tracing::info!(
                plugin = %key.plugin,
                "poller {} works again after {} failed ticks",
                label(key),
                self.streak
            );
        }
        self.streak = 0;
        self.last = None;
    }
}

/// The task of one poller: waits for each due time, runs the tick, until `times` ticks ran
/// (it is aborted when stopped).
async fn run(bot: Arc<Bot>, slot: Arc<PluginSlot>, key: Key, id: u64, shared: Arc<Shared>) {
    let mut changes = shared.settings.subscribe();
    let mut settings = *changes.borrow_and_update();
    let mut due = Instant::now() + settings.interval;
    let mut failures = FailureLog::default();
    loop {
        shared.stats().next_due = Some(due);
        tokio::select! {
            () = tokio::time::sleep_until(due.into()) => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                let new = *changes.borrow_and_update();
                if new.interval != settings.interval {
                    due = Instant::now() + new.interval;
                }
                settings = new;
                if settings.done(shared.stats().ticks) {
                    break;
                }
                continue;
            }
        }
        let n = {
            let mut stats = shared.stats();
            stats.running = true;
            stats.ticks + 1
        };
        let outcome = tick(&bot, &slot, &key, n).await;
        let ticks = {
            let mut stats = shared.stats();
            stats.running = false;
            match &outcome {
                Tick::Ran(result) => {
                    stats.ticks = n;
                    if let Err(why) = result {
                        stats.failures += 1;
                        stats.last_error.clone_from(why);
                    }
                }
                Tick::NotRun(why) => {
                    stats.failures += 1;
                    stats.last_error = format!("not run: {why}");
                }
            }
            stats.ticks
        };
        match outcome {
            Tick::Ran(Ok(())) => failures.succeeded(&key),
            Tick::Ran(Err(why)) => failures.failed(&key, &why),
            Tick::NotRun(why) => failures.failed(&key, &format!("not run: {why}")),
        }
        if settings.done(ticks) {
            break;
        }
        due = next_due(due, settings.interval, Instant::now());
    }
    tracing::info!(
        plugin = %key.plugin,
        "poller {} done after {} ticks",
        label(&key),
        settings.times
    );
    bot.pollers.finished(&key, id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_canonical() {
        assert_eq!(canonical_args("").as_deref(), Ok(""));
        assert_eq!(canonical_args("  null ").as_deref(), Ok(""));
        assert_eq!(
            canonical_args(r#"{ "b": [1, 2], "a": "x" }"#).as_deref(),
            Ok(r#"{"a":"x","b":[1,2]}"#)
        );
        assert!(canonical_args("{nope").is_err());
        let a = Key::new("p", "m", r#"{"a": 1}"#);
        let b = Key::new("p", "m", r#"{"a":1}"#);
        assert_eq!(a, b);
        assert!(Key::new("p", " ", "").is_err());
    }

    #[test]
    fn intervals_are_checked() {
        assert!(Settings::new(0.5, 0).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e12] {
            assert!(Settings::new(bad, 0).is_err(), "{bad}");
        }
        let s = Settings::new(1.0, 3).expect("valid");
        assert!(!s.done(2));
        assert!(s.done(3));
        assert!(!Settings::new(1.0, 0).expect("valid").done(u64::MAX));
    }

    #[test]
    fn the_schedule_is_fixed_rate_and_drops_missed_ticks() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        // On time: the next due time follows.
        assert_eq!(next_due(t0, s, t0 + Duration::from_millis(200)), t0 + s);
        // Overran by 2.5 intervals: the ticks due at +1 and +2 are dropped, +3 is next.
        assert_eq!(
            next_due(t0, s, t0 + Duration::from_millis(2500)),
            t0 + 3 * s
        );
        // Ended exactly on a due time: that one is past, the following one is next.
        assert_eq!(next_due(t0, s, t0 + 2 * s), t0 + 3 * s);
    }

    #[test]
    fn summaries_read_well() {
        let p = PollerInfo {
            plugin: "p".into(),
            method: "check".into(),
            args_json: r##"["#ops"]"##.into(),
            interval_secs: 0.5,
            times: 10,
            ticks: 3,
            failures: 1,
            last_error: "boom".into(),
            next_in_secs: 2.0,
            running: false,
        };
        assert_eq!(
            summary(&p),
            r##"check ["#ops"] every 0.5 s: 3/10 ticks, 1 failed (last: boom), next in 2.0 s"##
        );
    }
}
