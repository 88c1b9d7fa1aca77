//! daily-message: seed 003's DailyMessage plugin on errbot-rs. Once a day at a chosen time it
//! sends chosen people (the admin, in the seed) a status message: errbotd's uptime, the health
//! of the plugins and the time; `!daily stats` shows the same on demand.
//!
//! Better than the seed's thread timer: the schedule is an errbotd poller that checks the
//! clock (it survives crashes and reloads of this plugin), and the day of the last message is
//! stored, so a restart neither sends it twice nor skips it: a bot that was down at the chosen
//! time sends it when it is back the same day.
//!
//! Configuration (`[plugins.daily-message] config = {...}` in errbot.toml, or `!plugin config`):
//! `TO` the people (`["@hermanl0"]`), `AT` the time (`"07:00"` or `"07:00:30"`), `UTC_OFFSET`
//! the time zone as an offset (`"+02:00"`; empty: the server's local time), `BACKEND` the chat
//! service instance (empty: the first configured), `CHECK_SECS` how often the clock is read.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use errbot_plugin_sdk::prelude::*;
use errbot_plugin_sdk::{BotStatus, PollContext};
use serde::Deserialize;

/// The storage key of the day the last message went out (`YYYY-MM-DD`).
const LAST_SENT: &str = "last_sent";

/// The plugin's configuration, checked.
#[derive(Clone, Debug, PartialEq)]
struct Settings {
    to: Vec<String>,
    at: NaiveTime,
    offset: Option<FixedOffset>,
    backend: String,
    check: Duration,
}

/// The configuration as written (Errbot's upper-case keys).
#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Written {
    to: Vec<String>,
    at: String,
    #[serde(default)]
    utc_offset: String,
    #[serde(default)]
    backend: String,
    #[serde(default = "default_check")]
    check_secs: f64,
}

fn default_check() -> f64 {
    30.0
}

impl Settings {
    /// Reads and checks a configuration; the error names the key.
    fn read(config: &serde_json::Value) -> Result<Self, String> {
        let w: Written = serde_json::from_value(config.clone()).map_err(|e| e.to_string())?;
        if w.to.is_empty() || w.to.iter().any(|t| t.trim().is_empty()) {
            return Err("TO: give at least one person (\"@name\")".into());
        }
        let at = parse_time(&w.at)
            .ok_or_else(|| format!("AT: {:?} is not a time of day (HH:MM or HH:MM:SS)", w.at))?;
        let offset = match w.utc_offset.trim() {
            "" => None,
            text => Some(parse_offset(text).ok_or_else(|| {
                format!("UTC_OFFSET: {text:?} is not an offset (+HH:MM or -HH:MM)")
            })?),
        };
        if !(w.check_secs.is_finite() && (0.05..=3600.0).contains(&w.check_secs)) {
            return Err("CHECK_SECS: between 0.05 and 3600 seconds".into());
        }
        Ok(Self {
            to: w.to,
            at,
            offset,
            backend: w.backend,
            check: Duration::from_secs_f64(w.check_secs),
        })
    }

    /// The wall-clock time now, in the configured zone.
    fn now(&self) -> NaiveDateTime {
        match self.offset {
            Some(offset) => Utc::now().with_timezone(&offset).naive_local(),
            None => chrono::Local::now().naive_local(),
        }
    }
}

/// `HH:MM` or `HH:MM:SS`.
fn parse_time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    NaiveTime::parse_from_str(text, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
}

/// `+HH:MM`, `-HH:MM`, `+HH` or `Z`.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    if text.eq_ignore_ascii_case("z") {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let hours: i32 = hours.parse().ok().filter(|h| (0..=14).contains(h))?;
    let minutes: i32 = minutes.parse().ok().filter(|m| (0..60).contains(m))?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Whether today's message is due at `now`, the last one having gone out on `last_sent`.
fn due(now: NaiveDateTime, at: NaiveTime, last_sent: Option<NaiveDate>) -> bool {
    now.time() >= at && last_sent != Some(now.date())
}

/// `2d 3h 4m`, as the seed shows uptime.
fn uptime_text(uptime: Duration) -> String {
    let secs = uptime.as_secs();
    format!(
        "{}d {}h {}m",
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60
    )
}

/// The plugins' health in one line.
fn health_text(status: &BotStatus) -> String {
    let down: Vec<String> = status
        .plugins
        .iter()
        .filter(|p| !p.is_up())
        .map(|p| {
            if p.note.is_empty() {
                format!("{} {}", p.name, p.state)
            } else {
                format!("{} {} ({})", p.name, p.state, p.note)
            }
        })
        .collect();
    if down.is_empty() {
        format!("Healthy ✅ ({} plugins up)", status.plugins.len())
    } else {
        format!(
            "Partially healthy: {} of {} plugins not up: {}",
            down.len(),
            status.plugins.len(),
            down.join(", ")
        )
    }
}

/// The status lines (uptime, health, time) under `title`.
async fn report(bot: &Bot, title: &str, now: NaiveDateTime) -> String {
    let (uptime, health) = match bot.status().await {
        Ok(status) => (uptime_text(status.uptime), health_text(&status)),
        Err(e) => {
            tracing::warn!("cannot read the bot's status: {e}");
            ("unknown".to_owned(), "Unknown ❓".to_owned())
        }
    };
    format!(
        "{title}\n\n🕒 Uptime: {uptime}\n💡 Health: {health}\n📅 Time: {}",
        now.format("%Y-%m-%d %H:%M:%S")
    )
}

/// Seed 003's DailyMessage.
#[derive(Default)]
pub struct DailyMessage {
    settings: Mutex<Option<Settings>>,
}

impl DailyMessage {
    fn settings(&self) -> Option<Settings> {
        self.settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Sends a daily status message (uptime, plugin health) to chosen people.
#[plugin(
    name = "daily-message",
    config_template = r##"{"TO": ["@admin"], "AT": "07:00", "UTC_OFFSET": "", "BACKEND": "", "CHECK_SECS": 30.0}"##
)]
impl DailyMessage {
    #[check_config]
    fn check(&self, config: &serde_json::Value) -> Result<(), String> {
        Settings::read(config).map(drop)
    }

    #[activate]
    async fn activate(&self, ctx: &ActivateContext) -> Result<(), String> {
        let settings = Settings::read(ctx.config())?;
        // Installed after today's time: the first message is tomorrow's, not one right now.
        let now = settings.now();
        let storage = ctx.storage();
        let last: Option<String> = storage.get(LAST_SENT).await.map_err(|e| e.to_string())?;
        if last.is_none() && now.time() >= settings.at {
            storage
                .set(LAST_SENT, &now.date().to_string())
                .await
                .map_err(|e| e.to_string())?;
        }
        ctx.start_poller(settings.check, "tick", None, ())
            .await
            .map_err(|e| e.to_string())?;
        *self
            .settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(settings);
        Ok(())
    }

    /// Reads the clock; sends the day's message once it is time.
    #[poller]
    async fn tick(&self, ctx: &PollContext) -> Result<(), String> {
        let Some(settings) = self.settings() else {
            return Ok(());
        };
        let now = settings.now();
        let last: Option<String> = ctx
            .storage()
            .get(LAST_SENT)
            .await
            .map_err(|e| e.to_string())?;
        let last = last.and_then(|d| d.parse::<NaiveDate>().ok());
        if !due(now, settings.at, last) {
            return Ok(());
        }
        let text = report(ctx.bot(), "Good morning! I'm alive and well. 🌞", now).await;
        let mut sent = 0;
        for to in &settings.to {
            match ctx
                .bot()
                .send_on(&settings.backend, to, text.as_str())
                .await
            {
                Ok(_) => sent += 1,
                Err(e) => tracing::warn!("daily message to {to}: {e}"),
            }
        }
        // Tried again at the next tick only when it reached no one.
        if sent == 0 {
            return Err("the daily message reached no one".into());
        }
        ctx.storage()
            .set(LAST_SENT, &now.date().to_string())
            .await
            .map_err(|e| e.to_string())
    }

    /// Show uptime and health now, as the daily message does.
    #[command]
    async fn daily_stats(&self, ctx: &Context) -> String {
        let now = self
            .settings()
            .map_or_else(|| chrono::Local::now().naive_local(), |s| s.now());
        report(ctx.bot(), "Manual stats:", now).await
    }

    /// When the next daily message goes out, and to whom.
    #[command]
    async fn daily_next(&self, ctx: &Context) -> Result<String, CommandError> {
        let settings = self
            .settings()
            .ok_or_else(|| CommandError::new("I am not configured."))?;
        let now = settings.now();
        let last: Option<String> = ctx
            .storage()
            .get(LAST_SENT)
            .await
            .map_err(|e| CommandError::new(e.to_string()))?;
        let last = last.and_then(|d| d.parse::<NaiveDate>().ok());
        let today = now.date().and_time(settings.at);
        let next = if last == Some(now.date()) || now > today && last.is_none() {
            today + chrono::Duration::days(1)
        } else if now >= today {
            now
        } else {
            today
        };
        Ok(format!(
            "Next daily message: {} to {}.",
            next.format("%Y-%m-%d %H:%M:%S"),
            settings.to.join(", ")
        ))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    errbot_plugin_sdk::serve(DailyMessage::default()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32, s: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, s).unwrap_or_default()
    }

    #[test]
    fn times_and_offsets_parse() {
        assert_eq!(parse_time("07:00"), Some(t(7, 0, 0)));
        assert_eq!(parse_time(" 23:59:30 "), Some(t(23, 59, 30)));
        assert_eq!(parse_time("25:00"), None);
        assert_eq!(parse_time("7am"), None);
        assert_eq!(parse_offset("+02:00"), FixedOffset::east_opt(7200));
        assert_eq!(parse_offset("-05:30"), FixedOffset::east_opt(-19_800));
        assert_eq!(parse_offset("+01"), FixedOffset::east_opt(3600));
        assert_eq!(parse_offset("Z"), FixedOffset::east_opt(0));
        assert_eq!(parse_offset("02:00"), None);
        assert_eq!(parse_offset("+15:00"), None);
    }

    #[test]
    fn the_message_is_due_once_a_day_after_its_time() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
        let at = t(7, 0, 0);
        let before = day.and_time(t(6, 59, 59));
        let after = day.and_time(t(7, 0, 0));
        assert!(!due(before, at, None));
        assert!(due(after, at, None));
        assert!(!due(after, at, Some(day)));
        // Down at 07:00, back at 15:00 the same day: sent then.
        assert!(due(day.and_time(t(15, 0, 0)), at, day.pred_opt()));
    }

    #[test]
    fn settings_name_the_wrong_key() {
        let ok = serde_json::json!({"TO": ["@a"], "AT": "07:00"});
        let s = Settings::read(&ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.check, Duration::from_secs(30));
        for (bad, key) in [
            (serde_json::json!({"TO": [], "AT": "07:00"}), "TO"),
            (serde_json::json!({"TO": ["@a"], "AT": "7 o'clock"}), "AT"),
            (
                serde_json::json!({"TO": ["@a"], "AT": "07:00", "UTC_OFFSET": "CET"}),
                "UTC_OFFSET",
            ),
            (
                serde_json::json!({"TO": ["@a"], "AT": "07:00", "CHECK_SECS": 0}),
                "CHECK_SECS",
            ),
        ] {
            let e = Settings::read(&bad).err().unwrap_or_default();
            assert!(e.starts_with(key), "{key}: {e}");
        }
    }

    #[test]
    fn uptime_reads_as_days_hours_minutes() {
        assert_eq!(uptime_text(Duration::from_secs(90_061)), "1d 1h 1m");
    }
}
