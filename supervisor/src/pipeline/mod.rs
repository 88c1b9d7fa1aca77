//! The pipeline: the one path that work takes through errbotd.
//!
//! ```text
//!  chat message ──> route ──> authorize ──> execute ──> deliver ──> gateway
//!       │           (what is      (access rules,   (a built-in or   (ReplySink: where
//!       │            asked)        then filters)    a plugin)         replies go)
//!       └──> callbacks (fan-out to the plugins that declared them; never waits)
//! ```
//!
//! Each stage is a module with one job, called only by the stage before it (or by an entry):
//! [`route`] decides which commands a message asks for, [`authorize`] lets each through the
//! access rules and the plugins' command filters, [`execute`] parses its arguments and runs it
//! through one interface ([`execute::Executor`]) whether it is built in or served by a plugin,
//! and [`deliver`] sends what it says. [`callbacks`] hands events to plugins beside the path;
//! [`audit`] writes one line per command that reached authorize, whatever its outcome.
//!
//! Entries: a chat message enters at route ([`handle_message`]); the gateway's other events
//! (presence, reactions, rooms, connection) go to [`callbacks`] only. Pollers call their plugin
//! directly (they are not commands); webhooks enter at execute ([`execute::webhook`], from
//! [`crate::web`]); flow steps will enter at authorize.

pub mod audit;
pub mod authorize;
pub mod callbacks;
pub mod deliver;
pub mod execute;
pub mod route;

use std::sync::Arc;

use errbot_proto::v1::{BackendEvent, Message, ProcessedRequest, backend_event};
use futures::future::BoxFuture;

use crate::bot::Bot;
use crate::config::Config;
use crate::registry::Registry;
use crate::supervise::gateway::{Gateway, Inbound};
use deliver::ReplySink;

/// One message on its way through the pipeline: what every stage reads.
pub struct Job<'a> {
    /// The bot's state.
    pub bot: &'a Arc<Bot>,
    /// The configuration snapshot the whole message is handled with.
    pub config: &'a Config,
    /// The command table snapshot.
    pub registry: &'a Registry,
    /// The message.
    pub message: &'a Message,
    /// Where replies go.
    pub sink: &'a ReplySink,
    /// Whether the sender is a bot admin.
    pub is_admin: bool,
}

/// What errbotd does with a gateway's inbound events: the pipeline's entry for chat traffic.
pub struct Pipeline;

impl Inbound for Pipeline {
    fn message(
        &self,
        bot: Arc<Bot>,
        gateway: Arc<Gateway>,
        message: Message,
    ) -> BoxFuture<'static, ()> {
        // Boxed: the task then holds a pointer, and starting and finishing it does not copy the
        // message's (several KB) future around.
        Box::pin(handle_message(bot, gateway, message))
    }

    fn event(&self, bot: &Arc<Bot>, gateway: &Arc<Gateway>, event: BackendEvent) {
        if let Some(kind) = event.kind {
            match kind {
                backend_event::Kind::Message(_)
                | backend_event::Kind::Sent(_)
                | backend_event::Kind::Shutdown(_) => {}
                other => callbacks::on_event(bot, &gateway.name, other),
            }
        }
    }
}

/// Handles one inbound message completely, then tells its gateway it was processed.
pub async fn handle_message(bot: Arc<Bot>, gateway: Arc<Gateway>, message: Message) {
    crate::telemetry::message_received(&gateway.name);
    // One configuration for the whole message, even if a reload happens meanwhile.
    let config = bot.config();
    let registry = bot.registry();
    let observer = callbacks::wants_bot_messages(&registry).then(|| bot.clone());
    let sink = ReplySink::new(gateway.clone(), &message, &config.bot, observer);
    process(&bot, &config, &registry, &sink, &message).await;
    let req = ProcessedRequest {
        message_id: message.id.clone(),
        replies: sink.count(),
    };
    // A gateway that restarted meanwhile does not know the message any more.
    if let Some(link) = gateway.current() {
        link.session.processed(req);
    }
}

async fn process(
    bot: &Arc<Bot>,
    config: &Config,
    registry: &Registry,
    sink: &ReplySink,
    message: &Message,
) {
    if message.from_self || message.delayed {
        return;
    }
    let from = message.from.clone().unwrap_or_default();
    let job = Job {
        bot,
        config,
        registry,
        message,
        sink,
        is_admin: crate::acl::is_admin(config, &from),
    };
    callbacks::on_message(&job);
    match route::route(&job).await {
        route::Routed::Calls(mut calls) => {
            if calls.len() == 1 {
                if let Some(call) = calls.pop() {
                    run(&job, call).await;
                }
            } else {
                futures::future::join_all(calls.into_iter().map(|c| run(&job, c))).await;
            }
        }
        route::Routed::Answered => {}
        route::Routed::Unhandled(reply) => {
            callbacks::on_unhandled(&job);
            if let Some(text) = reply {
                sink.send_text(&text, false).await;
            }
        }
    }
}

/// Authorizes one call and executes it when allowed, then writes its audit line and counts it.
async fn run(job: &Job<'_>, call: route::Call) {
    let asked = (call.command.clone(), call.checked_args.clone());
    let started = std::time::Instant::now();
    let (command, args, outcome, ran) = match authorize::authorize(job, call).await {
        Ok(call) => {
            let (command, args) = (call.command.clone(), call.checked_args.clone());
            let outcome = execute::execute(job, call).await;
            (command, args, outcome, Some(started.elapsed()))
        }
        Err(outcome) => (asked.0, asked.1, outcome, None),
    };
    audit::record(job, &command, &args, outcome);
    audit::count(&command, outcome, ran);
}
