//! The audit line: one log record per command that reached authorize, saying who asked, where,
//! what, and how it ended (Errbot's users keep these for auditing, seed 003). Records have the
//! target `audit`, so that a filter can pick them out (`[log] level = "info,audit=info"`) and
//! `[log] file` keeps them with the rest of the log.

use super::Job;
use crate::registry::Command;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and finished.
    Done,
    /// The access rules refused it (the reply given).
    Refused(&'static str),
    /// A command filter blocked it.
    Blocked,
    /// A flow step outside a flow.
    NotInFlow,
    /// Its arguments did not parse.
    BadArguments,
    /// It failed (an error of the plugin or the built-in).
    Failed,
    /// It missed the command deadline.
    TimedOut,
}

impl Outcome {
    fn describe(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused(_) => "refused",
            Outcome::Blocked => "blocked by a filter",
            Outcome::NotInFlow => "not in a flow",
            Outcome::BadArguments => "bad arguments",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
        }
    }
}

/// Longest argument string written whole; longer ones are cut.
const ARGS_SHOWN: usize = 200;

/// Writes the audit line of `command` run with `args` for `job`'s message.
pub fn record(job: &Job<'_>, command: &Command, args: &str, outcome: Outcome) {
    let from = job.message.from.as_ref();
    let who = from.map_or("", crate::acl::acl_of);
    let person = from.map_or("", |f| f.person.as_str());
    let place = if job.message.direct {
        "direct".to_owned()
    } else {
        job.message
            .to
            .as_ref()
            .map_or_else(String::new, |t| t.room.clone())
    };
    // Configuration may hold secrets: it is not written out.
    let args = if command.name.starts_with("plugin_config") && !args.trim().is_empty() {
        "(configuration not logged)".to_owned()
    } else if args.chars().count() > ARGS_SHOWN {
        format!("{}…", args.chars().take(ARGS_SHOWN).collect::<String>())
    } else {
        args.to_owned()
    };
    let what = if args.is_empty() {
        command.display_name()
    } else {
        format!("{} {args}", command.display_name())
    };
    let reason = match outcome {
        Outcome::Refused(why) => why,
        _ => "",
    };
    tracing::info!(
        target: "audit",
        backend = %job.sink.backend(),
        who,
        person,
        place = %place,
        command = %command.name,
        outcome = outcome.describe(),
        "{who} in {place} on {}: {what} -> {}{}{reason}",
        job.sink.backend(),
        outcome.describe(),
        if reason.is_empty() { "" } else { ": " },
    );
}
