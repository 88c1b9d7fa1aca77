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
//! [`crate::web`]); flow steps that run by themselves enter at authorize, after the command
//! that moved their flow on ([`run`] asks [`crate::flows`] what comes next).

pub mod audit;
pub mod authorize;
pub mod callbacks;
pub mod deliver;
pub mod execute;
pub mod route;

use std::sync::Arc;

use errbot_proto::v1::{BackendEvent, Message, ProcessedRequest, backend_event};
use futures::future::BoxFuture;
use serde_json::{Map, Value};

use crate::bot::Bot;
use crate::config::Config;
use crate::flows::state::Place;
use crate::flows::{Next, Step};
use crate::registry::Registry;
use crate::supervise::gateway::{Gateway, Inbound};
use audit::Outcome;
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
    crate::telemetry::message_received(&gateway.name, &gateway.metrics);
    tracing::debug!(
        backend = %gateway.name,
        id = %message.id,
        from = message.from.as_ref().map_or("", |f| f.person.as_str()),
        room = message.to.as_ref().map_or("", |t| t.room.as_str()),
        "message received ({} bytes)",
        message.body.len()
    );
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
    let fresh;
    let mut job = Job {
        bot,
        config,
        registry,
        message,
        sink,
        is_admin: crate::acl::is_admin(config, &from),
    };
    callbacks::on_message(&job);
    let mut routed = route::route(&job).await;
    if matches!(routed, route::Routed::Unhandled(Some(_)))
        && route::wait_for_starting_plugins(&job).await
    {
        // The plugins that were starting changed the command table.
        fresh = bot.registry();
        job = Job {
            registry: &fresh,
            ..job
        };
        routed = route::route(&job).await;
    }
    match routed {
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
            if let Some(mut text) = reply {
                // Someone lost in a flow is shown where they are.
                let prefix = config.prefixes().prefix();
                if let Some(hint) = bot.flows.hint_for(registry, &place(&job), prefix) {
                    text.push_str("\n\n");
                    text.push_str(&hint);
                }
                sink.send_text(&text, false).await;
            }
        }
    }
}

/// The most steps of one flow that run by themselves after one message (a graph whose
/// predicates always hold in a cycle would run for ever).
const MAX_AUTO_STEPS: usize = 32;

/// The place of the job's sender, for flows.
fn place(job: &Job<'_>) -> Place {
    crate::flows::place_of(job.sink.backend(), job.message)
}

/// Runs one call; when it succeeded, moves on the flow it was a step of (or started), and
/// runs the steps that follow by themselves, or hints them.
async fn run(job: &Job<'_>, call: route::Call) {
    let Some(ran) = run_one(job, call).await else {
        return;
    };
    if ran.0.is_none() && job.bot.flows.is_idle() {
        // Not a flow step, and no flow `!flows start` could have made: nothing to continue.
        return;
    }
    // Boxed: a message's future stays the size of one command's (most messages are no flow's).
    Box::pin(continue_flow(job, ran)).await;
}

/// After a call that succeeded: the flow it moved on (or started), then the steps that run by
/// themselves, until the flow waits for the person (hinted, unless hints are off).
async fn continue_flow(job: &Job<'_>, mut ran: Ran) {
    let bot = job.bot;
    let store = &bot.storage.store;
    let settings = &job.config.flows;
    let who = place(job);
    let shown = crate::flows::shown(job.message);
    let mut auto_steps = 0;
    loop {
        let (step, context) = ran;
        let at = bot
            .flows
            .advance(store, job.registry, &who, &shown, step.as_deref(), context)
            .await;
        let Some(at) = at else { return };
        let next = bot.flows.next(
            bot,
            store,
            job.registry,
            &at,
            settings.hints,
            settings.predicate_timeout(),
        );
        match next.await {
            Next::Wait => return,
            Next::Hint(text) => {
                job.sink.send_text(&text, false).await;
                return;
            }
            Next::Run(command, step) => {
                auto_steps += 1;
                if auto_steps > MAX_AUTO_STEPS {
                    tracing::warn!(
                        flow = %step.flow,
                        "{MAX_AUTO_STEPS} steps ran by themselves in a row; the flow waits"
                    );
                    return;
                }
                let call = route::Call {
                    step: Some(Box::new(step)),
                    ..route::Call::plain(command, String::new())
                };
                let Some(next) = Box::pin(run_one(job, call)).await else {
                    return;
                };
                ran = next;
            }
        }
    }
}

/// What a call that succeeded leaves for flows: the flow step it was, and the context it set.
type Ran = (Option<Box<Step>>, Option<Map<String, Value>>);

/// Authorizes one call and executes it when allowed, then writes its audit line and counts
/// it; answers what it leaves for flows when it succeeded.
async fn run_one(job: &Job<'_>, call: route::Call) -> Option<Ran> {
    let asked = (call.command.clone(), call.checked_args.clone());
    let started = std::time::Instant::now();
    let (command, args, outcome, ran, done) = match authorize::authorize(job, call).await {
        Ok(call) => {
            let (command, args) = (call.command.clone(), call.checked_args.clone());
            let step = call.step.clone();
            let (outcome, context) = execute::execute(job, call).await;
            let context =
                context.and_then(|text| match crate::flows::state::parse_context(&text) {
                    Ok(map) => Some(map),
                    Err(e) => {
                        tracing::warn!(command = %command.name, "flow context ignored: {e}");
                        None
                    }
                });
            let done = (outcome == Outcome::Done).then_some((step, context));
            (command, args, outcome, Some(started.elapsed()), done)
        }
        Err(outcome) => (asked.0, asked.1, outcome, None, None),
    };
    audit::record(job, &command, &args, outcome);
    audit::count(&command, outcome, ran);
    done
}
