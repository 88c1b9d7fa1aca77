//! Execute, the third stage: runs an authorized call. The arguments are parsed for the
//! command's declared mode and parameters (errbotd parses for every language), the call is
//! recorded in the sender's history, and the command runs behind one interface,
//! [`Executor`], whether errbotd serves it ([`crate::builtins::Builtins`]) or a plugin does
//! ([`PluginExecutor`]), with the command deadline. A failure or a missed deadline becomes a
//! reply, never silence.

use std::sync::Arc;
use std::time::Duration;

use errbot_proto::v1::{Content, ExecuteRequest, command_spec, content};
use futures::future::BoxFuture;

use super::Job;
use super::audit::Outcome;
use super::deliver::ReplySink;
use super::route::Call;
use crate::bot::Bot;
use crate::config::BotSettings;
use crate::dispatch::args;
use crate::dispatch::history::Entry;
use crate::registry::Owner;
use crate::supervise::plugin::Instance;
use crate::templates;

/// How a command that ran to its end ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Well, leaving this context for its flow (`Reply.flow_context_json`), when it runs as a
    /// flow step and set one.
    Done(Option<String>),
    /// With an error it showed to the sender (Errbot's CommandError).
    Error,
}

/// Whatever runs commands: errbotd's built-ins or a plugin process. Replies go to `sink`; an
/// `Err` is a failure reported to the sender ("Computer says nooo").
pub trait Executor: Send + Sync {
    /// Runs `request`.
    fn execute<'a>(
        &'a self,
        bot: &'a Arc<Bot>,
        sink: &'a ReplySink,
        request: ExecuteRequest,
    ) -> BoxFuture<'a, Result<Ended, String>>;
}

/// A plugin process, reached through its slot (a restarting plugin is waited for, bounded).
pub struct PluginExecutor<'n> {
    /// The plugin's name.
    pub name: &'n str,
    /// The command's declared template (replies that are an unnamed template use it).
    pub template: &'n str,
}

impl Executor for PluginExecutor<'_> {
    fn execute<'a>(
        &'a self,
        bot: &'a Arc<Bot>,
        sink: &'a ReplySink,
        request: ExecuteRequest,
    ) -> BoxFuture<'a, Result<Ended, String>> {
        Box::pin(run_plugin(bot, sink, self, request))
    }
}

/// Runs `call` for `job.message` and sends its replies; answers how it ended, and the context it
/// left for its flow.
pub async fn execute(job: &Job<'_>, call: Call) -> (Outcome, Option<String>) {
    let Call {
        command,
        args,
        matches,
        step,
        ..
    } = call;
    let config = job.config;
    let message = job.message;
    let bot_settings = &config.bot;
    let sink = &job.sink.diverted(
        BotSettings::lists(&bot_settings.divert_to_private, &command.name),
        BotSettings::lists(&bot_settings.divert_to_thread, &command.name),
    );
    let invocation = format!("{}{}", config.prefixes().prefix(), command.display_name());
    let mut request = ExecuteRequest {
        command: command.spec.name.clone(),
        plugin: command.plugin.clone(),
        message: Some(message.clone()),
        args: args.clone(),
        invocation_id: format!("{}:{}", message.id, command.name),
        sender_is_admin: job.is_admin,
        matches,
        flow: step.as_deref().map(crate::flows::Step::to_proto),
        ..Default::default()
    };
    if let Some(command_spec::Kind::Plain(plain)) = &command.spec.kind {
        match args::parse(plain, &invocation, &args) {
            Ok(parsed) => {
                request.argv = parsed.argv;
                request.params = parsed.params;
            }
            Err(e) => {
                sink.send_text(&e.reply(), false).await;
                return (Outcome::BadArguments, None);
            }
        }
        // A step errbotd ran by itself is not something the person typed.
        if command.spec.historize && !step.as_ref().is_some_and(|s| s.auto) {
            let person = message.from.as_ref().map_or("", |f| f.person.as_str());
            job.bot.history.push(
                person,
                Entry {
                    command: command.name.clone(),
                    args,
                },
            );
        }
    }
    let (executor, timeout): (&dyn Executor, Duration) = match &command.owner {
        Owner::Builtin => (&crate::builtins::Builtins, config.command_timeout(None)),
        Owner::Plugin(name) => (
            &PluginExecutor {
                name,
                template: &command.spec.template,
            },
            config.command_timeout(Some(name.as_str())),
        ),
    };
    let outcome = tokio::time::timeout(timeout, executor.execute(job.bot, sink, request)).await;
    match outcome {
        Ok(Ok(Ended::Done(left))) => (Outcome::Done, left),
        Ok(Ok(Ended::Error)) => (Outcome::Error, None),
        Ok(Err(failure)) => {
            tracing::warn!(command = %command.name, "command failed: {failure}");
            let text = format!("Computer says nooo. See logs for details:\n{failure}");
            sink.send_text(&text, false).await;
            (Outcome::Failed, None)
        }
        Err(_) => {
            let text = format!(
                "Computer says nooo. See logs for details:\n{invocation} did not finish within {} s",
                timeout.as_secs_f64()
            );
            sink.send_text(&text, false).await;
            (Outcome::TimedOut, None)
        }
    }
}

async fn run_plugin(
    bot: &Bot,
    sink: &ReplySink,
    target: &PluginExecutor<'_>,
    request: ExecuteRequest,
) -> Result<Ended, String> {
    let name = target.name;
    let slot = bot
        .plugin(name)
        .ok_or_else(|| format!("plugin {name} is not running"))?;
    let plugin = slot.instance().await?;
    let _inflight = plugin.begin();
    // Raced with the process's exit: a call that went to a process dying at that instant must
    // not wait on a connection nobody will answer (the command deadline is long).
    let stream = tokio::select! {
        biased;
        stream = plugin.commands.execute(request) => stream,
        reason = plugin.process.wait_exit() => return Err(stopped(&plugin, &reason)),
    };
    let mut stream = match stream {
        Ok(s) => s,
        Err(status) => return Err(plugin_failure(&plugin, status).await),
    };
    let mut left = None;
    loop {
        let next = tokio::select! {
            biased;
            next = stream.message() => next,
            reason = plugin.process.wait_exit() => {
                // What it sent before dying is still read: the connection is closed, so the
                // stream ends at once; bounded all the same.
                match tokio::time::timeout(EXIT_DRAIN, stream.message()).await {
                    Ok(next) => next,
                    Err(_) => return Err(stopped(&plugin, &reason)),
                }
            }
        };
        match next {
            Ok(Some(mut reply)) => {
                if !reply.flow_context_json.is_empty() {
                    left = Some(std::mem::take(&mut reply.flow_context_json));
                    if reply.content.is_none() {
                        continue;
                    }
                }
                let error = reply.error;
                if let Some(Content {
                    kind: Some(content::Kind::Template(template)),
                }) = &reply.content
                {
                    let markdown = templates::render(&slot.dir(), target.template, template)?;
                    reply.content = Some(Content {
                        kind: Some(content::Kind::Markdown(markdown)),
                    });
                }
                sink.send(reply).await;
                if error {
                    return Ok(Ended::Error);
                }
            }
            Ok(None) => return Ok(Ended::Done(left)),
            Err(status) => return Err(plugin_failure(&plugin, status).await),
        }
    }
}

/// How long the replies a plugin sent just before it died are still read.
const EXIT_DRAIN: Duration = Duration::from_millis(500);

/// The failure of a call whose plugin process ended under it.
fn stopped(plugin: &Instance, reason: &str) -> String {
    format!(
        "plugin {} stopped while running the command ({reason})",
        plugin.name
    )
}

/// Why a webhook request got no answer from its plugin.
#[derive(Debug)]
pub enum WebhookFailure {
    /// The plugin is not serving (deactivated, failed, or restarting for too long): 503.
    Unavailable(String),
    /// It missed the deadline: 504.
    TimedOut,
    /// It does not serve that webhook (any more): 404.
    NotServed,
    /// It failed (logged; 500 without the text).
    Failed(String),
}

/// The webhooks' entry into the pipeline: a request already routed by the web server
/// ([`crate::web`]) runs on `plugin`, waited for (bounded) while it restarts, with `deadline`.
pub async fn webhook(
    bot: &Bot,
    plugin: &str,
    request: errbot_proto::v1::WebhookRequest,
    deadline: Duration,
) -> Result<errbot_proto::v1::WebhookResponse, WebhookFailure> {
    let slot = bot
        .plugin(plugin)
        .ok_or_else(|| WebhookFailure::Unavailable(format!("plugin {plugin} is not running")))?;
    let started = tokio::time::Instant::now();
    let mut retried = false;
    loop {
        let instance = slot.instance().await.map_err(WebhookFailure::Unavailable)?;
        let _inflight = instance.begin();
        let left = deadline.saturating_sub(started.elapsed());
        let status = match tokio::time::timeout(
            left,
            instance.client.clone().webhook(request.clone()),
        )
        .await
        {
            Err(_) => return Err(WebhookFailure::TimedOut),
            Ok(Ok(answer)) => return Ok(answer.into_inner()),
            Ok(Err(status)) => status,
        };
        if status.code() == tonic::Code::NotFound {
            return Err(WebhookFailure::NotServed);
        }
        let failure = plugin_failure(&instance, status.clone()).await;
        if instance.process.exit_reason().is_some() {
            // A process that had died before the request could reach it (the connection was
            // refused): the request goes, once, to the process that replaces it. One that died
            // with the request may have acted on it: the client is told to try again.
            if !retried && status.code() == tonic::Code::Unavailable {
                retried = true;
                continue;
            }
            return Err(WebhookFailure::Unavailable(failure));
        }
        return Err(WebhookFailure::Failed(failure));
    }
}

/// What to tell the sender when `plugin` failed with `status`: its exit when it died, else the
/// status's message.
pub async fn plugin_failure(plugin: &Instance, status: tonic::Status) -> String {
    // A broken connection usually means the process died: give its exit a moment to be seen,
    // so that the reply says what happened.
    if matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    ) {
        let _ = tokio::time::timeout(Duration::from_millis(500), plugin.process.wait_exit()).await;
    }
    if let Some(reason) = plugin.process.exit_reason() {
        return stopped(plugin, &reason);
    }
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Cancelled => {
            format!(
                "plugin {} is not reachable: {}",
                plugin.name,
                status.message()
            )
        }
        _ => status.message().to_owned(),
    }
}
