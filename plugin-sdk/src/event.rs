//! Lifecycle hooks and callbacks: what they receive and may return.

use std::fmt;
use std::sync::Arc;

use errbot_proto::v1;

use crate::bot::{Bot, BotError};
use crate::context::Runtime;
use crate::message::{Identifier, Message};
use crate::reply::{BoxError, Reply};

/// What an `#[activate]` hook receives.
pub struct ActivateContext {
    config: serde_json::Value,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for ActivateContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivateContext")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ActivateContext {
    pub(crate) fn new(config: serde_json::Value, runtime: Arc<Runtime>) -> Self {
        Self { config, runtime }
    }
    /// The plugin's configuration (`null` when none is set), already checked against the
    /// template's shape.
    pub fn config(&self) -> &serde_json::Value {
        &self.config
    }
    /// The configuration as your own type; `None` when no configuration is set.
    pub fn config_as<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<Option<T>, serde_json::Error> {
        if self.config.is_null() {
            return Ok(None);
        }
        T::deserialize(&self.config).map(Some)
    }
    /// The bot's command prefix.
    pub fn bot_prefix(&self) -> &str {
        self.runtime.prefix()
    }
    /// The bot, to keep for later (pollers).
    pub fn bot(&self) -> &Bot {
        &self.runtime.bot
    }
    /// The plugin's persistent storage.
    pub fn storage(&self) -> &crate::Storage {
        self.runtime.bot.storage()
    }
    /// Starts (or updates) a poller; see [`Bot::start_poller`]. The place to start pollers:
    /// activation runs again in every new process of the plugin, and a poller that runs already
    /// keeps its schedule.
    pub async fn start_poller(
        &self,
        interval: std::time::Duration,
        method: &str,
        times: Option<u32>,
        args: impl serde::Serialize,
    ) -> Result<bool, BotError> {
        self.runtime
            .bot
            .start_poller(interval, method, times, args)
            .await
    }
    /// Stops a poller; see [`Bot::stop_poller`].
    pub async fn stop_poller(
        &self,
        method: &str,
        args: impl serde::Serialize,
    ) -> Result<bool, BotError> {
        self.runtime.bot.stop_poller(method, args).await
    }
}

/// Which callback an [`Event`] is; use the lower-case names in `#[callback(...)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallbackKind {
    /// `connect`: the bot connected to a chat service.
    Connect,
    /// `message`: every message the bot sees.
    Message,
    /// `mention`: a message mentioning someone.
    Mention,
    /// `presence`: someone's presence changed; [`Event::detail`] is the status,
    /// [`Event::presence`] the whole change.
    Presence,
    /// `reaction`: a reaction was added or removed; [`Event::detail`] is its name,
    /// [`Event::reaction`] the whole event.
    Reaction,
    /// `room_joined`.
    RoomJoined,
    /// `room_left`.
    RoomLeft,
    /// `room_topic`: [`Event::detail`] is the new topic.
    RoomTopic,
    /// `bot_message`: a message the bot itself sent (a reply, or another plugin's send).
    BotMessage,
    /// `unhandled`: a message no command handled (chatter, or an unknown command).
    Unhandled,
}

impl CallbackKind {
    pub(crate) fn from_proto(callback: v1::Callback) -> Option<Self> {
        Some(match callback {
            v1::Callback::Unspecified => return None,
            v1::Callback::Connect => Self::Connect,
            v1::Callback::Message => Self::Message,
            v1::Callback::Mention => Self::Mention,
            v1::Callback::Presence => Self::Presence,
            v1::Callback::Reaction => Self::Reaction,
            v1::Callback::RoomJoined => Self::RoomJoined,
            v1::Callback::RoomLeft => Self::RoomLeft,
            v1::Callback::RoomTopic => Self::RoomTopic,
            v1::Callback::BotMessage => Self::BotMessage,
            v1::Callback::Unhandled => Self::Unhandled,
        })
    }
}

/// A callback event (`#[callback(...)]` handlers receive `&Event`).
pub struct Event {
    kind: CallbackKind,
    message: Option<Message>,
    subject: Option<Identifier>,
    detail: String,
    backend: String,
    presence: Option<Presence>,
    reaction: Option<Reaction>,
    membership: Option<Membership>,
    topic: Option<String>,
    runtime: Arc<Runtime>,
}

/// A change of someone's presence ([`CallbackKind::Presence`]).
#[derive(Clone, Debug)]
pub struct Presence {
    /// Whose presence.
    pub who: Identifier,
    /// `online`, `away`, `dnd`, `offline`...
    pub status: String,
    /// The status text the person set, if any.
    pub message: String,
}

/// A reaction added to or removed from a message ([`CallbackKind::Reaction`]).
#[derive(Clone, Debug)]
pub struct Reaction {
    /// Who reacted.
    pub who: Identifier,
    /// The chat service's id of the message reacted to.
    pub message_id: String,
    /// The reaction's name (`thumbsup`).
    pub reaction: String,
    /// True when added, false when removed.
    pub added: bool,
}

/// Someone joining or leaving a room ([`CallbackKind::RoomJoined`], [`CallbackKind::RoomLeft`]);
/// the room is [`Event::subject`].
#[derive(Clone, Debug)]
pub struct Membership {
    /// Who joined or left; `None` when it is the bot itself.
    pub who: Option<Identifier>,
    /// Who added or removed them (Errbot's `invited_by`, `kicked_by`), when the service tells.
    pub by: Option<Identifier>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("subject", &self.subject)
            .field("detail", &self.detail)
            .finish_non_exhaustive()
    }
}

impl Event {
    pub(crate) fn new(
        kind: CallbackKind,
        request: v1::EventRequest,
        runtime: Arc<Runtime>,
    ) -> Self {
        let presence = request.presence.map(|p| Presence {
            who: Identifier(p.who.unwrap_or_default()),
            status: p.status,
            message: p.message,
        });
        let reaction = request.reaction.map(|r| Reaction {
            who: Identifier(r.who.unwrap_or_default()),
            message_id: r.message_id,
            reaction: r.reaction,
            added: r.added,
        });
        let membership = request
            .room
            .as_ref()
            .filter(|r| {
                matches!(
                    r.kind(),
                    v1::room_event::Kind::Joined | v1::room_event::Kind::Left
                )
            })
            .map(|r| Membership {
                who: r
                    .who
                    .clone()
                    .filter(|w| !w.person.is_empty())
                    .map(Identifier),
                by: r
                    .by
                    .clone()
                    .filter(|b| !b.person.is_empty())
                    .map(Identifier),
            });
        let topic = request
            .room
            .filter(|r| r.kind() == v1::room_event::Kind::Topic)
            .map(|r| r.topic);
        Self {
            kind,
            message: request.message.map(Message::from),
            subject: request.subject.or(request.bot).map(Identifier),
            detail: request.detail,
            backend: request.backend,
            presence,
            reaction,
            membership,
            topic,
            runtime,
        }
    }
    /// Which callback this is.
    pub fn kind(&self) -> CallbackKind {
        self.kind
    }
    /// The message, for `message`, `mention`, `unhandled` and `bot_message`.
    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }
    /// The person or room concerned: the sender for messages, the person for presence and
    /// reactions, the room for room callbacks, the bot itself for `connect`.
    pub fn subject(&self) -> Option<&Identifier> {
        self.subject.as_ref()
    }
    /// The backend instance the event comes from (`"irc"`, `"slack-work"`).
    pub fn backend(&self) -> &str {
        &self.backend
    }
    /// The presence change, for `presence`.
    pub fn presence(&self) -> Option<&Presence> {
        self.presence.as_ref()
    }
    /// The reaction, for `reaction`.
    pub fn reaction(&self) -> Option<&Reaction> {
        self.reaction.as_ref()
    }
    /// Who joined or left, and who made them, for `room_joined` and `room_left`.
    pub fn membership(&self) -> Option<&Membership> {
        self.membership.as_ref()
    }
    /// The new topic, for `room_topic`.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }
    /// Presence status, reaction name or new topic, depending on the callback.
    pub fn detail(&self) -> &str {
        &self.detail
    }
    /// The bot.
    pub fn bot(&self) -> &Bot {
        &self.runtime.bot
    }
    /// The plugin's persistent storage.
    pub fn storage(&self) -> &crate::Storage {
        self.runtime.bot.storage()
    }
    /// The bot's command prefix.
    pub fn bot_prefix(&self) -> &str {
        self.runtime.prefix()
    }
    /// Answers the event's message where it was written (the room, or the sender privately).
    /// Does nothing for events without a message.
    pub async fn reply(&self, content: impl Into<Reply>) -> Result<(), BotError> {
        let Some(message) = &self.message else {
            return Ok(());
        };
        let target = message.reply_target();
        let request = v1::BotSendRequest {
            to: Some(target.0.clone()),
            backend: target.backend().to_owned(),
            content: content.into().into_content(),
            thread_id: message.thread_id().to_owned(),
            in_reply_to: message.id().to_owned(),
            ..Default::default()
        };
        self.runtime.bot.raw_send(request).await.map(drop)
    }
}

/// What lifecycle hooks and callbacks may return: `()` or `Result<(), E>` for any
/// `E: Into<Box<dyn Error + Send + Sync>>`.
pub trait HookOutput {
    /// Converts the outcome.
    fn into_hook_result(self) -> Result<(), BoxError>;
}

impl HookOutput for () {
    fn into_hook_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> HookOutput for Result<(), E> {
    fn into_hook_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// What a `#[check_config]` hook may return: `()`, `bool` (false: refused) or `Result<(), E>` for
/// any displayable `E` (its text is the refusal shown to the admin).
pub trait CheckOutput {
    /// The refusal, if any.
    fn into_refusal(self) -> Option<String>;
}

impl CheckOutput for () {
    fn into_refusal(self) -> Option<String> {
        None
    }
}

impl CheckOutput for bool {
    fn into_refusal(self) -> Option<String> {
        (!self).then(|| "the configuration was refused by the plugin".to_owned())
    }
}

impl<E: fmt::Display> CheckOutput for Result<(), E> {
    fn into_refusal(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}
