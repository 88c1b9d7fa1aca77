//! Callbacks (Errbot's callback_message, callback_mention, callback_presence...): events handed
//! to the plugins that declared them in `PluginDescription.callbacks`, and to no other.
//!
//! Delivery never holds up dispatch: each plugin has a bounded queue drained by a task of its
//! own, one event at a time and in order, each `PluginService.Event` call with the deadline
//! `limits.callback_timeout_secs`; a restarting plugin is waited for (bounded) by its queue
//! only. Plugins get an event in `bot.callback_order` (PLUGINS_CALLBACK_ORDER). A callback that
//! fails, misses its deadline or overflows its queue is logged; nothing is said in the chat
//! (Errbot stays silent too).

use std::sync::{Arc, PoisonError, Weak};
use std::time::Duration;

use errbot_proto::v1::{
    Callback, Content, EventRequest, Identifier, Message, backend_event, content, room_event,
};
use tokio::sync::mpsc;

use super::Job;
use crate::bot::Bot;
use crate::registry::Registry;
use crate::supervise::gateway::Gateway;

/// Events waiting for one plugin, at most; beyond, new ones are dropped and logged.
const QUEUE: usize = 1024;

/// A chat message was received (before its commands run): CALLBACK_MESSAGE, and
/// CALLBACK_MENTION when it mentions people.
pub fn on_message(job: &Job<'_>) {
    let message = job.message;
    let backend = job.sink.backend();
    let event = |callback: Callback| EventRequest {
        callback: callback as i32,
        message: Some(message.clone()),
        subject: message.from.clone(),
        backend: backend.to_owned(),
        ..Default::default()
    };
    send(job.bot, job.registry, Callback::Message, None, || {
        event(Callback::Message)
    });
    if !message.mentions.is_empty() {
        send(job.bot, job.registry, Callback::Mention, None, || {
            event(Callback::Mention)
        });
    }
}

/// No command handled the message: CALLBACK_UNHANDLED.
pub fn on_unhandled(job: &Job<'_>) {
    let message = job.message;
    send(job.bot, job.registry, Callback::Unhandled, None, || {
        EventRequest {
            callback: Callback::Unhandled as i32,
            message: Some(message.clone()),
            subject: message.from.clone(),
            backend: job.sink.backend().to_owned(),
            ..Default::default()
        }
    });
}

/// The bot sent `content` to `to` through `gateway` (a reply or a `BotService.Send`):
/// CALLBACK_BOT_MESSAGE, with the message from the bot to `to`, for the plugins that want it
/// except `sender`, the plugin that sent it itself.
pub fn on_bot_message(
    bot: &Arc<Bot>,
    gateway: &Gateway,
    to: &Identifier,
    content: &Content,
    thread_id: &str,
    sender: Option<&str>,
) {
    let registry = bot.registry();
    if !wants_bot_messages(&registry) {
        return;
    }
    let me = gateway
        .current()
        .and_then(|l| l.info.bot.clone())
        .unwrap_or_default();
    let message = Message {
        from: Some(me),
        to: Some(to.clone()),
        body: content_text(content),
        thread_id: thread_id.to_owned(),
        from_self: true,
        ..Default::default()
    };
    send(bot, &registry, Callback::BotMessage, sender, || {
        EventRequest {
            callback: Callback::BotMessage as i32,
            message: Some(message.clone()),
            subject: Some(to.clone()),
            backend: gateway.name.clone(),
            ..Default::default()
        }
    });
}

/// The text of a message of the bot as plugins see it: Markdown as it is, a card as its title
/// and body.
fn content_text(content: &Content) -> String {
    match &content.kind {
        Some(content::Kind::Markdown(text)) => text.clone(),
        Some(content::Kind::Card(card)) => [card.title.as_str(), card.body.as_str()]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        Some(content::Kind::Template(t)) => format!("(template {})", t.name),
        None => String::new(),
    }
}

/// Whether any plugin wants the bot's own messages.
pub fn wants_bot_messages(registry: &Registry) -> bool {
    !registry.subscribers(Callback::BotMessage).is_empty()
}

/// Any other event of a chat service: presence, reactions, rooms, connection.
pub fn on_event(bot: &Arc<Bot>, backend: &str, event: backend_event::Kind) {
    let base = EventRequest {
        backend: backend.to_owned(),
        ..Default::default()
    };
    let (callback, request) = match event {
        backend_event::Kind::Presence(p) => (
            Callback::Presence,
            EventRequest {
                subject: p.who.clone(),
                detail: p.status.clone(),
                presence: Some(p),
                ..base
            },
        ),
        backend_event::Kind::Reaction(r) => (
            Callback::Reaction,
            EventRequest {
                subject: r.who.clone(),
                detail: r.reaction.clone(),
                reaction: Some(r),
                ..base
            },
        ),
        backend_event::Kind::Room(r) => {
            let callback = match r.kind() {
                room_event::Kind::Joined => Callback::RoomJoined,
                room_event::Kind::Left => Callback::RoomLeft,
                room_event::Kind::Topic => Callback::RoomTopic,
                room_event::Kind::Unspecified => return,
            };
            (
                callback,
                EventRequest {
                    subject: r.room.clone(),
                    detail: r.topic.clone(),
                    room: Some(r),
                    ..base
                },
            )
        }
        backend_event::Kind::Connected(c) => (
            Callback::Connect,
            EventRequest {
                subject: c.bot.clone(),
                bot: c.bot,
                ..base
            },
        ),
        _ => return,
    };
    let registry = bot.registry();
    let mut request = Some(request);
    send(bot, &registry, callback, None, || {
        let mut r = request.take().unwrap_or_default();
        r.callback = callback as i32;
        r
    });
}

/// Queues the event made by `make` (called at most once per plugin, only when someone
/// subscribed) for every plugin subscribed to `callback`, except `except`.
fn send(
    bot: &Arc<Bot>,
    registry: &Registry,
    callback: Callback,
    except: Option<&str>,
    mut make: impl FnMut() -> EventRequest,
) {
    let subscribers = registry.subscribers(callback);
    if subscribers.is_empty() {
        return;
    }
    let config = bot.config();
    let order = ordered(subscribers, &config.bot.callback_order);
    let mut event: Option<EventRequest> = None;
    for plugin in order.into_iter().filter(|p| Some(*p) != except) {
        let request = match &event {
            Some(e) => e.clone(),
            None => event.insert(make()).clone(),
        };
        enqueue(bot, plugin, request);
    }
}

/// `plugins` in callback order: those named in `order` where they are named, `"*"` standing
/// for the unnamed ones (by name), which otherwise come last.
pub fn ordered<'a>(plugins: &'a [String], order: &[String]) -> Vec<&'a str> {
    if order.is_empty() {
        return plugins.iter().map(String::as_str).collect();
    }
    let listed = |p: &str| order.iter().any(|o| o == p);
    let rest: Vec<&str> = plugins
        .iter()
        .map(String::as_str)
        .filter(|p| !listed(p))
        .collect();
    let mut out = Vec::with_capacity(plugins.len());
    let mut rest_placed = false;
    for name in order {
        if name == "*" {
            if !rest_placed {
                out.extend(&rest);
                rest_placed = true;
            }
        } else if let Some(p) = plugins.iter().find(|p| *p == name) {
            out.push(p.as_str());
        }
    }
    if !rest_placed {
        out.extend(&rest);
    }
    out
}

fn enqueue(bot: &Arc<Bot>, plugin: &str, request: EventRequest) {
    let mut queues = bot
        .callback_queues
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let queue = queues
        .entry(plugin.to_owned())
        .or_insert_with(|| start_queue(bot, plugin));
    match queue.try_send(request) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(r)) => {
            tracing::warn!(
                %plugin, callback = ?r.callback(),
                "callback dropped: the plugin has {QUEUE} events waiting"
            );
        }
        Err(mpsc::error::TrySendError::Closed(r)) => {
            // Its task ended (it only does when errbotd stops): start another.
            let fresh = start_queue(bot, plugin);
            let _ = fresh.try_send(r);
            *queue = fresh;
        }
    }
}

fn start_queue(bot: &Arc<Bot>, plugin: &str) -> mpsc::Sender<EventRequest> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(drain(Arc::downgrade(bot), plugin.to_owned(), rx));
    tx
}

/// Delivers a plugin's events one after the other.
async fn drain(bot: Weak<Bot>, plugin: String, mut rx: mpsc::Receiver<EventRequest>) {
    while let Some(request) = rx.recv().await {
        let Some(strong) = bot.upgrade() else { return };
        let Some(slot) = strong.plugin(&plugin) else {
            continue;
        };
        let timeout = Duration::from_secs_f64(
            strong
                .config()
                .limits
                .callback_timeout_secs
                .clamp(0.001, 3600.0),
        );
        drop(strong);
        let callback = request.callback();
        let call = async {
            let instance = slot.instance().await?;
            let _inflight = instance.begin();
            instance
                .client
                .clone()
                .event(request)
                .await
                .map(|_| ())
                .map_err(|s| s.message().to_owned())
        };
        // Events still queued when errbotd stops are dropped: that is no failure of the plugin
        // (a piped console stops at the end of its input, the events of its last lines queued).
        let stopping = || bot.upgrade().is_none_or(|b| b.is_shutting_down());
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) if stopping() => {
                tracing::debug!(%plugin, ?callback, "callback not delivered: {why}");
            }
            Ok(Err(why)) => tracing::warn!(%plugin, ?callback, "callback failed: {why}"),
            Err(_) => tracing::warn!(
                %plugin, ?callback,
                "callback did not finish within {} s", timeout.as_secs_f64()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ordered;

    #[test]
    fn callback_order_as_errbot() {
        let plugins: Vec<String> = ["a", "b", "c", "d"].map(String::from).into();
        assert_eq!(ordered(&plugins, &[]), ["a", "b", "c", "d"]);
        let order: Vec<String> = ["c", "*", "a"].map(String::from).into();
        assert_eq!(ordered(&plugins, &order), ["c", "b", "d", "a"]);
        let order: Vec<String> = ["d", "x"].map(String::from).into();
        assert_eq!(ordered(&plugins, &order), ["d", "a", "b", "c"]);
    }
}
