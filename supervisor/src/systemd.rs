//! systemd integration (`Type=notify`): readiness, a status line, watchdog pings and the stop
//! notice. Every call does nothing when errbotd does not run under systemd (no
//! `NOTIFY_SOCKET`).

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use crate::bot::{Bot, read};
use crate::supervise::State;

/// Tells systemd that errbotd is ready (gateways connected, plugins active), then keeps its
/// status line current and, when `WatchdogSec=` is set, pings the watchdog at half its period.
pub fn ready(bot: &Arc<Bot>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let status = status_line(bot);
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
    let watchdog = watchdog_period().map(|p| (p / 2).max(Duration::from_millis(10)));
    let period = watchdog
        .unwrap_or(Duration::from_secs(2))
        .min(Duration::from_secs(2));
    let bot = bot.clone();
    tokio::spawn(async move {
        let mut last_status = status;
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if bot.is_shutting_down() {
                return;
            }
            // The ping comes from the same runtime that serves every message: if it stalls,
            // the pings stop and systemd restarts errbotd.
            if watchdog.is_some() {
                notify(&[NotifyState::Watchdog]);
            }
            let status = status_line(&bot);
            if status != last_status {
                notify(&[NotifyState::Status(&status)]);
                last_status = status;
            }
        }
    });
}

/// Tells systemd that errbotd is restarting in place (`!restart`): as a reload, which the new
/// process image ends with its own `READY=1` (same pid, so systemd sees no exit).
pub fn restarting() {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        let mut states = vec![NotifyState::Reloading, NotifyState::Status("restarting")];
        // systemd 253+ wants the reload's start time with it (Type=notify-reload).
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            states.push(now);
        }
        notify(&states);
    }
}

/// Tells systemd that errbotd is stopping.
pub fn stopping() {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}

/// The watchdog period systemd asks for, as `sd_watchdog_enabled(3)` reads it: `WATCHDOG_USEC`,
/// unless `WATCHDOG_PID` names another process.
fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!("systemd notification failed: {e}");
    }
}

/// "3 plugins running, 1 failed; backends: irc running, test running".
pub fn status_line(bot: &Bot) -> String {
    let plugins: Vec<State> = read(&bot.plugins)
        .values()
        .map(|p| p.life.state())
        .collect();
    let count = |s: State| plugins.iter().filter(|p| **p == s).count();
    let mut parts = vec![format!("{} plugins running", count(State::Running))];
    for s in [State::Restarting, State::Failed, State::Deactivated] {
        let n = count(s);
        if n > 0 {
            parts.push(format!("{n} {}", s.as_str()));
        }
    }
    let backends: Vec<String> = read(&bot.gateways)
        .iter()
        .map(|g| format!("{} {}", g.name, g.life.state().as_str()))
        .collect();
    format!("{}; backends: {}", parts.join(", "), backends.join(", "))
}
