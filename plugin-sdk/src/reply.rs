//! What commands answer: text, cards, errors, and the conversions from return values.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use errbot_proto::v1;

/// Any error that is not a [`CommandError`]: reported to errbotd as a plugin failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One message a command sends back: Markdown text or a [`Card`].
///
/// `String`, `&str` and [`Card`] convert into it, so most code never names it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply(pub(crate) v1::Reply);

impl Reply {
    /// A Markdown text reply.
    pub fn text(text: impl Into<String>) -> Self {
        Self(v1::Reply {
            content: Some(v1::Content {
                kind: Some(v1::content::Kind::Markdown(text.into())),
            }),
            ..Default::default()
        })
    }

    /// A card reply.
    pub fn card(card: Card) -> Self {
        Self(v1::Reply {
            content: Some(v1::Content {
                kind: Some(v1::content::Kind::Card(card.0)),
            }),
            ..Default::default()
        })
    }

    /// A template reply (Errbot's `template=`): `templates/NAME.md` of the plugin's directory,
    /// in Jinja2's syntax, rendered by errbotd with `params` (any `serde` value, usually a
    /// struct or a `serde_json::json!({...})` object). An empty `name` means the command's
    /// declared template (`#[command(template = "NAME")]`).
    ///
    /// ```
    /// # use errbot_plugin_sdk::Reply;
    /// let reply = Reply::template("weather", serde_json::json!({"city": "Paris", "temp": 21}));
    /// ```
    pub fn template(name: impl Into<String>, params: impl serde::Serialize) -> Self {
        let name = name.into();
        match serde_json::to_string(&params) {
            Ok(params_json) => Self(v1::Reply {
                content: Some(v1::Content {
                    kind: Some(v1::content::Kind::Template(v1::Template {
                        name,
                        params_json,
                    })),
                }),
                ..Default::default()
            }),
            Err(e) => Self::error(format!(
                "the parameters of template {name} cannot be written as JSON: {e}"
            )),
        }
    }

    /// A failure shown to the user as it is; the command ends after it (Errbot's `CommandError`).
    pub fn error(text: impl Into<String>) -> Self {
        let mut reply = Self::text(text);
        reply.0.error = true;
        reply
    }

    /// Sends this reply privately to the sender, even when the command came from a room.
    #[must_use]
    pub fn private(mut self) -> Self {
        self.0.private = true;
        self
    }

    /// Shows this reply only to the sender, in the room the command came from (in its thread,
    /// if it was in one): an ephemeral message on Slack (`chat.postEphemeral`), which nobody
    /// else in the channel sees and which is gone after a reload of Slack. Services without
    /// ephemeral messages send it privately to the sender, as [`Reply::private`] does; in a
    /// direct conversation it is an ordinary reply.
    ///
    /// ```
    /// # use errbot_plugin_sdk::Reply;
    /// // "Only visible to you" on Slack; a private message on IRC or Mattermost.
    /// let reply = Reply::text("your token expires tomorrow").ephemeral();
    /// assert_eq!(reply.as_text(), Some("your token expires tomorrow"));
    /// ```
    #[must_use]
    pub fn ephemeral(mut self) -> Self {
        self.0.ephemeral = true;
        self
    }

    /// Sends this reply in the message's thread, starting one from the message if it was not in
    /// one (on services with threads).
    #[must_use]
    pub fn in_thread(mut self) -> Self {
        self.0.thread = true;
        self
    }

    /// The text of a text reply.
    pub fn as_text(&self) -> Option<&str> {
        match self.0.content.as_ref()?.kind.as_ref()? {
            v1::content::Kind::Markdown(text) => Some(text),
            v1::content::Kind::Card(_) | v1::content::Kind::Template(_) => None,
        }
    }

    /// The protocol form, for advanced uses.
    pub fn into_proto(self) -> v1::Reply {
        self.0
    }

    pub(crate) fn into_content(self) -> Option<v1::Content> {
        self.0.content
    }
}

impl From<String> for Reply {
    fn from(text: String) -> Self {
        Self::text(text)
    }
}

impl From<&str> for Reply {
    fn from(text: &str) -> Self {
        Self::text(text)
    }
}

impl From<Cow<'_, str>> for Reply {
    fn from(text: Cow<'_, str>) -> Self {
        Self::text(text)
    }
}

impl From<Card> for Reply {
    fn from(card: Card) -> Self {
        Self::card(card)
    }
}

/// A rich message (Slack attachment, Mattermost card; plain text where the chat has no cards).
///
/// ```
/// # use errbot_plugin_sdk::Card;
/// let card = Card::new("Build #42").body("All **green**.").color("green").field("Duration", "3 min");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Card(pub(crate) v1::Card);

impl Card {
    /// A card with a title.
    pub fn new(title: impl Into<String>) -> Self {
        Self(v1::Card {
            title: title.into(),
            ..Default::default()
        })
    }
    /// Markdown body.
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.0.body = body.into();
        self
    }
    /// One-line summary for notifications.
    #[must_use]
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.0.summary = summary.into();
        self
    }
    /// Link of the title.
    #[must_use]
    pub fn link(mut self, link: impl Into<String>) -> Self {
        self.0.link = link.into();
        self
    }
    /// Image URL.
    #[must_use]
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.0.image = image.into();
        self
    }
    /// Thumbnail URL.
    #[must_use]
    pub fn thumbnail(mut self, thumbnail: impl Into<String>) -> Self {
        self.0.thumbnail = thumbnail.into();
        self
    }
    /// A colour name (`red`) or `#rrggbb`.
    #[must_use]
    pub fn color(mut self, color: impl Into<String>) -> Self {
        self.0.color = color.into();
        self
    }
    /// Adds a key/value line.
    #[must_use]
    pub fn field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.fields.push(v1::CardField {
            key: key.into(),
            value: value.into(),
        });
        self
    }
}

/// A failure whose text is shown to the user as the command's answer (Errbot's `CommandError`).
///
/// Return `Err(CommandError)` (or `Err("text".into())`) from a command returning
/// `Result<T, CommandError>`. Other error types are plugin failures: errbotd answers
/// "Computer says nooo" and logs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError(String);

impl CommandError {
    /// A command error with this text.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
    /// The text shown to the user.
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for CommandError {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for CommandError {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// How a command ended when it did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Shown to the user as the reply (a [`CommandError`] or an argument that did not convert).
    Command(CommandError),
    /// A plugin failure: reported to errbotd as a gRPC `INTERNAL` status with this text.
    Internal(String),
}

/// Error types a command may return in `Result<T, E>`.
///
/// Implemented for [`CommandError`] (shown to the user) and for every
/// `E: Into<Box<dyn Error + Send + Sync>>` (`std::io::Error`, `anyhow::Error`, `String`...),
/// which become plugin failures.
pub trait IntoFailure {
    /// Converts the error.
    fn into_failure(self) -> Failure;
}

impl IntoFailure for CommandError {
    fn into_failure(self) -> Failure {
        Failure::Command(self)
    }
}

impl IntoFailure for Failure {
    fn into_failure(self) -> Failure {
        self
    }
}

impl<E: Into<BoxError>> IntoFailure for E {
    fn into_failure(self) -> Failure {
        Failure::Internal(error_chain(&*self.into()))
    }
}

/// `error: cause: cause...`
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Values a command can return; each becomes zero, one or several replies.
///
/// Implemented for `()`, `String`, `&str`, `Cow<str>`, [`Card`], [`Reply`], `Option<T>`,
/// `Vec<T>` and `Result<T, E>` (see [`IntoFailure`]). Empty text sends nothing, like Errbot.
pub trait IntoReplies {
    /// Pushes the replies into `sink`.
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure>;
}

impl IntoReplies for () {
    fn into_replies(self, _: &ReplySink) -> Result<(), Failure> {
        Ok(())
    }
}

impl IntoReplies for String {
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure> {
        if !self.is_empty() {
            sink.push(Reply::text(self));
        }
        Ok(())
    }
}

impl IntoReplies for &str {
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure> {
        if !self.is_empty() {
            sink.push(Reply::text(self));
        }
        Ok(())
    }
}

impl IntoReplies for Cow<'_, str> {
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure> {
        if !self.is_empty() {
            sink.push(Reply::text(self));
        }
        Ok(())
    }
}

impl IntoReplies for Card {
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure> {
        sink.push(Reply::card(self));
        Ok(())
    }
}

impl IntoReplies for Reply {
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure> {
        sink.push(self);
        Ok(())
    }
}

impl<T: IntoReplies> IntoReplies for Option<T> {
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure> {
        match self {
            Some(value) => value.into_replies(sink),
            None => Ok(()),
        }
    }
}

impl<T: IntoReplies> IntoReplies for Vec<T> {
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure> {
        self.into_iter()
            .try_for_each(|value| value.into_replies(sink))
    }
}

impl<T: IntoReplies, E: IntoFailure> IntoReplies for Result<T, E> {
    fn into_replies(self, sink: &ReplySink) -> Result<(), Failure> {
        match self {
            Ok(value) => value.into_replies(sink),
            Err(e) => Err(e.into_failure()),
        }
    }
}

/// Where the replies of one command invocation queue up until they are streamed to errbotd.
///
/// Get it from [`Context::replies`](crate::Context::replies); replies pushed after the command
/// returned are dropped.
#[derive(Debug, Default)]
pub struct ReplySink {
    state: Mutex<SinkState>,
}

#[derive(Debug, Default)]
struct SinkState {
    queue: VecDeque<v1::Reply>,
    waker: Option<Waker>,
    closed: bool,
}

impl ReplySink {
    fn lock(&self) -> MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a reply; returns false when the command is over and the reply was dropped.
    pub fn push(&self, reply: impl Into<Reply>) -> bool {
        let reply = reply.into().0;
        let waker = {
            let mut state = self.lock();
            if state.closed {
                return false;
            }
            state.queue.push_back(reply);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    pub(crate) fn pop(&self) -> Option<v1::Reply> {
        self.lock().queue.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().queue.is_empty()
    }

    /// Remembers who to wake when another task pushes.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut state = self.lock();
        match &state.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => state.waker = Some(waker.clone()),
        }
    }

    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.queue.clear();
        state.waker = None;
    }
}
