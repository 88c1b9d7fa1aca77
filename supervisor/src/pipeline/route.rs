//! Route, the first stage: which commands a message asks for. The decision itself is the pure
//! [`crate::dispatch::route`]; this stage adds what needs the plugins: a prefixed message that
//! names no command is offered to the command filters declared with `catch_unprocessed`
//! (aliases), which may turn it into a command or answer it themselves. A command nobody serves
//! while plugins are still starting in the background (building, installing their Python
//! requirements) waits for them ([`wait_for_starting_plugins`]) before it is "not found".

use std::sync::Arc;

use errbot_proto::v1::RegexMatch;

use super::Job;
use crate::cmdfilter;
use crate::dispatch::{self, Route};
use crate::registry::Command;

/// One command to run for a message.
#[derive(Clone)]
pub struct Call {
    /// The command.
    pub command: Arc<Command>,
    /// Its argument string (empty for a regex command).
    pub args: String,
    /// What the access rules match the arguments against: the argument string, or a regex
    /// command's whole text after the prefix (as Errbot).
    pub checked_args: String,
    /// A regex command's matches.
    pub matches: Vec<RegexMatch>,
    /// The flow step it is (found by authorize, or set by errbotd for a step that runs by
    /// itself).
    pub step: Option<Box<crate::flows::Step>>,
}

impl Call {
    /// A plain command with `args`.
    pub fn plain(command: Arc<Command>, args: String) -> Self {
        Self {
            command,
            checked_args: args.clone(),
            args,
            matches: Vec::new(),
            step: None,
        }
    }
}

/// What the route stage decided.
pub enum Routed {
    /// Run these commands (every regex command that matched runs, as in Errbot).
    Calls(Vec<Call>),
    /// A command filter answered the message itself.
    Answered,
    /// No command handles the message; the "not found" reply, when one is due.
    Unhandled(Option<String>),
}

/// Routes `job.message`.
pub async fn route(job: &Job<'_>) -> Routed {
    let prefixes = job.config.prefixes();
    let message = job.message;
    let person = message.from.as_ref().map_or("", |f| f.person.as_str());
    let route = dispatch::route(
        prefixes,
        job.registry,
        &job.bot.history,
        &message.body,
        message.direct,
        person,
    );
    match route {
        Route::Ignore => Routed::Unhandled(None),
        Route::Plain { command, args } => Routed::Calls(vec![Call::plain(command, args)]),
        Route::Regex(hits) => {
            let text = prefixes.command_text(&message.body);
            Routed::Calls(
                hits.into_iter()
                    .map(|(command, matches)| Call {
                        command,
                        args: String::new(),
                        checked_args: text.to_owned(),
                        matches,
                        step: None,
                    })
                    .collect(),
            )
        }
        Route::NotFound(reply) => {
            // Filters declared with catch_unprocessed may take it (aliases...).
            let text = prefixes.command_text(&message.body);
            if text.is_empty() || !job.registry.filters().iter().any(|f| f.catch_unprocessed) {
                return Routed::Unhandled(reply);
            }
            let unprocessed = cmdfilter::unprocessed(
                job.bot,
                job.registry,
                job.sink,
                message,
                text,
                job.is_admin,
            );
            match Box::pin(unprocessed).await {
                cmdfilter::Unprocessed::Handled => Routed::Answered,
                cmdfilter::Unprocessed::Run(command, args) => {
                    Routed::Calls(vec![Call::plain(command, args)])
                }
                cmdfilter::Unprocessed::NotHandled => Routed::Unhandled(reply),
            }
        }
    }
}

/// When plugins are still starting in the background, tells the sender which and waits until
/// they started or failed (bounded by their build timeout); true when it waited, and the
/// message should be routed again on the command table they changed.
pub async fn wait_for_starting_plugins(job: &Job<'_>) -> bool {
    let starting = job.bot.starting_plugins();
    if starting.is_empty() {
        return false;
    }
    let names: Vec<String> = starting.iter().map(|s| s.name_with_note()).collect();
    let text = format!(
        "Still starting: {}. Your command waits for {}.",
        names.join(", "),
        if starting.len() == 1 { "it" } else { "them" }
    );
    job.sink.send_text(&text, false).await;
    let limit = starting
        .iter()
        .map(|s| job.config.build_timeout(&s.name))
        .max()
        .unwrap_or_default();
    let started = futures::future::join_all(starting.iter().map(|slot| {
        let mut changes = slot.life.subscribe();
        async move {
            let _ = changes
                .wait_for(|s| *s != crate::supervise::State::Starting)
                .await;
        }
    }));
    if tokio::time::timeout(limit, started).await.is_err() {
        tracing::warn!(
            "plugins still starting after {limit:?}: {}",
            names.join(", ")
        );
    }
    true
}
