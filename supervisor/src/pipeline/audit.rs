//! The audit line: one log record per command that reached authorize, saying who asked, where,
//! what, and how it ended (Errbot's users keep these for auditing, seed 003). Records have the
//! target `audit`, so that a filter can pick them out (`[log] level = "info,audit=info"`) and
//! `[log] file` keeps them with the rest of the log. Each is also counted in the metrics
//! ([`count`]).

use std::time::Duration;

use super::Job;
use crate::registry::{Command, Owner};

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
    /// It answered with an error of its own (Errbot's CommandError).
    Error,
    /// It failed (an error of the plugin or the built-in).
    Failed,
    /// It missed the command deadline.
    TimedOut,
}

impl Outcome {
    /// The outcome as one snake_case word (the metrics' `outcome` label).
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused(_) => "refused",
            Outcome::Blocked => "blocked",
            Outcome::NotInFlow => "not_in_flow",
            Outcome::BadArguments => "bad_arguments",
            Outcome::Error => "error",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused(_) => "refused",
            Outcome::Blocked => "blocked by a filter",
            Outcome::NotInFlow => "not in a flow",
            Outcome::BadArguments => "bad arguments",
            Outcome::Error => "answered with an error",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
        }
    }
}

/// Longest argument string written whole; longer ones are cut.
const ARGS_SHOWN: usize = 200;

/// Writes the audit line of `command` run with `args` for `job`'s message: one short record
/// (its text only: every layer of the log formats it again, so it carries no duplicate
/// fields), and nothing at all when the `audit` target is filtered out.
pub fn record(job: &Job<'_>, command: &Command, args: &str, outcome: Outcome) {
    if !tracing::enabled!(target: "audit", tracing::Level::INFO) {
        return;
    }
    let from = job.message.from.as_ref();
    let who = from.map_or("", crate::acl::acl_of);
    // The stable id too, where the ACL form is a name that can change.
    let id = from.map_or("", crate::acl::id_of);
    let place = if job.message.direct {
        "direct"
    } else {
        job.message.to.as_ref().map_or("", |t| t.room.as_str())
    };
    // Configuration may hold secrets: it is not written out.
    let args: std::borrow::Cow<'_, str> =
        if command.name.starts_with("plugin_config") && !args.trim().is_empty() {
            "(configuration not logged)".into()
        } else if args.len() > ARGS_SHOWN && args.chars().count() > ARGS_SHOWN {
            format!("{}…", args.chars().take(ARGS_SHOWN).collect::<String>()).into()
        } else {
            args.into()
        };
    let sep = if args.is_empty() { "" } else { " " };
    let (colon, reason) = match outcome {
        Outcome::Refused(why) => (": ", why),
        _ => ("", ""),
    };
    let (open, close) = if id.is_empty() { ("", "") } else { (" (", ")") };
    tracing::info!(
        target: "audit",
        "{who}{open}{id}{close} in {place} on {}: {}{sep}{args} -> {}{colon}{reason}",
        job.sink.backend(),
        command.display_name(),
        outcome.describe(),
    );
}

/// Counts `command`'s `outcome` in the metrics, with the time it `ran` from authorization when
/// it was executed ([`crate::telemetry::command`]).
pub fn count(command: &Command, outcome: Outcome, ran: Option<Duration>) {
    let plugin = match &command.owner {
        Owner::Builtin => "builtin",
        Owner::Plugin(name) => name.as_str(),
    };
    crate::telemetry::command(
        plugin,
        &command.name,
        &command.metrics,
        outcome.label(),
        ran,
    );
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn every_outcome_has_its_metric_handle() {
        let all = [
            Outcome::Done,
            Outcome::Refused("no"),
            Outcome::Blocked,
            Outcome::NotInFlow,
            Outcome::BadArguments,
            Outcome::Error,
            Outcome::Failed,
            Outcome::TimedOut,
        ];
        for outcome in all {
            assert!(
                crate::telemetry::OUTCOMES.contains(&outcome.label()),
                "{outcome:?}"
            );
        }
        assert_eq!(all.len(), crate::telemetry::OUTCOMES.len());
    }
}
