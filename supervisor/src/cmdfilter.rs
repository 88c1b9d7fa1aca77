//! Command filters served by plugins (Errbot's cmdfilter): called in order before a command
//! runs, each with a deadline; each may let the command through, rewrite it or block it. A
//! filter that fails or misses its deadline blocks the command, and the sender is told why.

use std::sync::Arc;
use std::time::Duration;

use errbot_proto::v1::{FilterRequest, Message, filter_response};

use crate::bot::Bot;
use crate::pipeline::deliver::ReplySink;
use crate::registry::{Command, FilterRef, Registry};

/// What the filters decided.
pub enum Outcome {
    /// Run `command` with `args`; `changed` when a filter rewrote either.
    Run {
        /// The command to run.
        command: Arc<Command>,
        /// Its argument string.
        args: String,
        /// A filter changed the command or its arguments.
        changed: bool,
    },
    /// A filter blocked the command (its reply, if any, was sent).
    Blocked,
}

/// Runs every filter of `registry` on `command` with `args` from `message`, sending the
/// filters' replies through `sink`.
pub async fn apply(
    bot: &Arc<Bot>,
    registry: &Registry,
    sink: &ReplySink,
    message: &Message,
    command: &Arc<Command>,
    args: &str,
    sender_is_admin: bool,
) -> Outcome {
    let mut command = command.clone();
    let mut args = args.to_owned();
    let mut changed = false;
    let timeout = Duration::from_secs_f64(
        bot.config()
            .limits
            .command_filter_timeout_secs
            .clamp(0.001, 3600.0),
    );
    for filter in registry.filters() {
        let request = FilterRequest {
            filter: filter.name.clone(),
            message: Some(message.clone()),
            plugin: command.plugin.clone(),
            command: command.name.clone(),
            args: args.clone(),
            sender_is_admin,
            regex: command.is_regex(),
            unprocessed: false,
        };
        let response = match call(bot, filter, request, timeout).await {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(filter = %filter.name, plugin = %filter.plugin, "command filter failed: {why}");
                let text = format!(
                    "Computer says nooo. See logs for details:\ncommand filter {} of plugin {} \
                     blocked the command: {why}",
                    filter.name, filter.plugin
                );
                sink.send_text(&text, false).await;
                return Outcome::Blocked;
            }
        };
        if !response.reply.is_empty() {
            sink.send_text(&response.reply, false).await;
        }
        if response.action() == filter_response::Action::Block {
            tracing::info!(filter = %filter.name, plugin = %filter.plugin, command = %command.name, "command blocked by a filter");
            return Outcome::Blocked;
        }
        if !response.command.is_empty() {
            let Some(next) = resolve(registry, &response.command) else {
                let text = format!(
                    "Computer says nooo. See logs for details:\ncommand filter {} of plugin {} \
                     asked for {:?}, which is not a command",
                    filter.name, filter.plugin, response.command
                );
                sink.send_text(&text, false).await;
                return Outcome::Blocked;
            };
            changed |= !Arc::ptr_eq(&next, &command);
            command = next;
        }
        if let Some(new_args) = response.args
            && !command.is_regex()
            && new_args != args
        {
            args = new_args;
            changed = true;
        }
    }
    Outcome::Run {
        command,
        args,
        changed,
    }
}

/// What the filters made of a message that names no command.
pub enum Unprocessed {
    /// No filter took it: the usual "not found" reply follows.
    NotHandled,
    /// A filter answered it (or chose silence) itself.
    Handled,
    /// A filter turned it into this command with these arguments.
    Run(Arc<Command>, String),
}

/// Offers `text` (a prefixed message naming no command) to the filters declared with
/// `catch_unprocessed`, in order, until one rewrites or blocks it. A filter that fails is
/// logged and skipped: the sender then gets the usual "not found" reply.
pub async fn unprocessed(
    bot: &Arc<Bot>,
    registry: &Registry,
    sink: &ReplySink,
    message: &Message,
    text: &str,
    sender_is_admin: bool,
) -> Unprocessed {
    let (word, rest) = match text.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim_start()),
        None => (text, ""),
    };
    let timeout = Duration::from_secs_f64(
        bot.config()
            .limits
            .command_filter_timeout_secs
            .clamp(0.001, 3600.0),
    );
    for filter in registry.filters().iter().filter(|f| f.catch_unprocessed) {
        let request = FilterRequest {
            filter: filter.name.clone(),
            message: Some(message.clone()),
            plugin: String::new(),
            command: word.to_owned(),
            args: rest.to_owned(),
            sender_is_admin,
            regex: false,
            unprocessed: true,
        };
        let response = match call(bot, filter, request, timeout).await {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(filter = %filter.name, plugin = %filter.plugin, "command filter failed on an unknown command: {why}");
                continue;
            }
        };
        if !response.reply.is_empty() {
            sink.send_text(&response.reply, false).await;
        }
        if response.action() == filter_response::Action::Block {
            return Unprocessed::Handled;
        }
        if !response.command.is_empty() {
            let Some(command) = resolve(registry, &response.command) else {
                let text = format!(
                    "Computer says nooo. See logs for details:
command filter {} of plugin {} \
                     asked for {:?}, which is not a command",
                    filter.name, filter.plugin, response.command
                );
                sink.send_text(&text, false).await;
                return Unprocessed::Handled;
            };
            let args = response.args.unwrap_or_else(|| rest.to_owned());
            return Unprocessed::Run(command, args);
        }
        if !response.reply.is_empty() {
            return Unprocessed::Handled;
        }
    }
    Unprocessed::NotHandled
}

/// The plain command named `name` (registered form, or the words people type).
fn resolve(registry: &Registry, name: &str) -> Option<Arc<Command>> {
    let words: Vec<&str> = name.split_whitespace().collect();
    match registry.lookup(&words) {
        Some((c, n)) if n == words.len() => Some(c),
        _ => None,
    }
}

async fn call(
    bot: &Arc<Bot>,
    filter: &FilterRef,
    request: FilterRequest,
    timeout: Duration,
) -> Result<errbot_proto::v1::FilterResponse, String> {
    let slot = bot
        .plugin(&filter.plugin)
        .ok_or_else(|| format!("plugin {} is not running", filter.plugin))?;
    let outcome = tokio::time::timeout(timeout, async {
        let plugin = slot.instance().await?;
        let _inflight = plugin.begin();
        plugin
            .client
            .clone()
            .filter_command(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| status.message().to_owned())
    })
    .await;
    match outcome {
        Ok(result) => result,
        Err(_) => Err(format!(
            "it did not answer within {} s",
            timeout.as_secs_f64()
        )),
    }
}
