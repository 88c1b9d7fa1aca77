//! Chat service adapters: one per backend kind, chosen by `Start`.
//!
//! An adapter connects to its service, pushes inbound events into the [`EventQueue`] and
//! carries out what errbotd asks (send and processed frames of the session, identifiers, rooms). Adding a service (IRC, Slack,
//! Mattermost, Telegram, XMPP...) means adding a module here and a line in [`start`].

pub mod console;
pub mod irc;
pub mod mattermost;
pub mod order;
pub mod patience;
pub mod slack;
pub mod telegram;
pub mod test_driver;
pub mod xmpp;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use errbot_proto::v1::{
    BackendEvent, BackendInfo, Connected, FileHeader, Identifier, Message, ProcessedRequest,
    ReactRequest, RoomInfo, SendRequest, StartRequest, backend_event,
};
use serde::de::DeserializeOwned;
use tonic::Status;

use crate::events::EventQueue;

use crate::settings::Problem;

/// Backend kinds this gateway serves.
pub const KINDS: &[&str] = &[
    "console",
    "irc",
    "mattermost",
    "slack",
    "telegram",
    "test",
    "xmpp",
];

/// Checks the settings of a backend of `kind` without connecting: every problem names its key.
/// An unknown kind is a problem with the key `kind`.
pub fn check(kind: &str, settings: &serde_json::Map<String, serde_json::Value>) -> Vec<Problem> {
    match kind {
        "console" => console::check(settings),
        "irc" => irc::check(settings),
        "mattermost" => mattermost::check(settings),
        "slack" => slack::check(settings),
        "telegram" => telegram::check(settings),
        "test" => test_driver::check(settings),
        "xmpp" => xmpp::check(settings),
        other => vec![Problem {
            key: "kind".into(),
            message: format!(
                "unknown backend kind {other:?} (known: {})",
                KINDS.join(", ")
            ),
        }],
    }
}

/// What an adapter gets when it starts.
pub struct Context {
    /// The backend instance name (copied into every identifier's `backend`).
    pub backend: String,
    /// Where inbound events go.
    pub events: EventQueue,
    /// errbotd's Start request (settings, prefix, admins, command names).
    pub request: StartRequest,
}

impl Context {
    /// Parses the settings JSON into `T`; unknown keys are logged and ignored.
    pub fn settings<T: DeserializeOwned>(&self, known: &[&str]) -> Result<T, Status> {
        let text = self.request.settings_json.trim();
        let value: serde_json::Value = if text.is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_str(text).map_err(|e| self.bad_settings(e))?
        };
        if let Some(map) = value.as_object() {
            for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
                tracing::warn!(
                    "backend {}: unknown setting {key:?} ignored (known: {})",
                    self.backend,
                    known.join(", ")
                );
            }
        }
        serde_json::from_value(value).map_err(|e| self.bad_settings(e))
    }

    /// Reads the settings with a kind's key-by-key reader (`Settings::read`); its problems
    /// become one INVALID_ARGUMENT naming the backend and each key.
    pub fn checked_settings<T>(
        &self,
        read: impl FnOnce(&serde_json::Map<String, serde_json::Value>) -> Result<T, Vec<Problem>>,
    ) -> Result<T, Status> {
        let refused = |problems: &[Problem]| {
            Status::invalid_argument(format!(
                "backend {} ({}): {}",
                self.backend,
                self.request.kind,
                crate::settings::describe(problems)
            ))
        };
        let map =
            crate::settings::parse_json(&self.request.settings_json).map_err(|p| refused(&[p]))?;
        read(&map).map_err(|problems| refused(&problems))
    }

    fn bad_settings(&self, e: serde_json::Error) -> Status {
        Status::invalid_argument(format!(
            "backend {} ({}): invalid settings: {e}",
            self.backend, self.request.kind
        ))
    }
}

/// One chat service, as seen by errbotd's calls.
#[tonic::async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// The backend kind this adapter serves.
    fn kind(&self) -> &'static str;
    /// What Start answers.
    fn info(&self) -> BackendInfo;
    /// errbotd called Start again (for example with new command names).
    fn update(&self, _request: &StartRequest) {}
    /// Sends a message to the service; returns the id the service gave it (or one of ours).
    /// An `ephemeral` request reaches an adapter only if [`Adapter::ephemeral`] says so.
    async fn send(&self, request: SendRequest) -> Result<String, Status>;
    /// Whether the service can show a message in a room to one person only
    /// (`SendRequest.ephemeral`); otherwise the session sends such a message to the person
    /// privately ([`private_instead`]).
    fn ephemeral(&self) -> bool {
        false
    }
    /// errbotd finished an inbound message.
    fn processed(&self, request: &ProcessedRequest);
    /// Parses an identifier's canonical string form.
    fn build_identifier(&self, text: &str) -> Result<Identifier, Status>;
    /// The gateway is stopping: release what the adapter holds (terminal, sockets).
    async fn stop(&self) {}
    /// The rooms the bot is in.
    async fn list_rooms(&self) -> Result<Vec<RoomInfo>, Status> {
        Err(no_rooms(self.kind()))
    }
    /// Joins a room.
    async fn join_room(&self, _room: &str, _password: &str) -> Result<RoomInfo, Status> {
        Err(no_rooms(self.kind()))
    }
    /// Leaves a room.
    async fn leave_room(&self, _room: &str, _reason: &str) -> Result<(), Status> {
        Err(no_rooms(self.kind()))
    }
    /// A room's topic and occupants.
    async fn get_room(&self, _room: &str) -> Result<RoomInfo, Status> {
        Err(no_rooms(self.kind()))
    }
    /// Sets a room's topic.
    async fn set_room_topic(&self, _room: &str, _topic: &str) -> Result<RoomInfo, Status> {
        Err(no_rooms(self.kind()))
    }
    /// Invites people into a room.
    async fn invite_to_room(&self, _room: &str, _people: &[String]) -> Result<(), Status> {
        Err(no_rooms(self.kind()))
    }
    /// Uploads a file to `header.to` (its bytes are `data`); returns the id of the message that
    /// carries it.
    async fn upload(&self, _header: FileHeader, _data: Vec<u8>) -> Result<String, Status> {
        Err(Status::unimplemented(format!(
            "the {} backend cannot send files",
            self.kind()
        )))
    }
    /// Adds or removes a reaction on a message.
    async fn react(&self, _request: ReactRequest) -> Result<(), Status> {
        Err(Status::unimplemented(format!(
            "the {} backend has no reactions",
            self.kind()
        )))
    }
    /// Shows the bot's presence (`online`, `away`, `dnd`, `offline`) and status text.
    async fn set_presence(&self, _status: &str, _message: &str) -> Result<(), Status> {
        Err(Status::unimplemented(format!(
            "the {} backend cannot show the bot's presence",
            self.kind()
        )))
    }
    /// Destroys a room (archives or deletes it, as the service does).
    async fn destroy_room(&self, _room: &str) -> Result<(), Status> {
        Err(Status::unimplemented(format!(
            "the {} backend cannot destroy rooms",
            self.kind()
        )))
    }
}

/// Waits for an adapter's connection task to report its first connection (`Start` returns only
/// once connected): its error becomes UNAVAILABLE, a task that ended without a word INTERNAL.
pub async fn first_connection(
    kind: &str,
    backend: &str,
    first: tokio::sync::oneshot::Receiver<Result<(), String>>,
) -> Result<(), Status> {
    match first.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Status::unavailable(format!(
            "backend {backend} ({kind}): {e}"
        ))),
        Err(_) => Err(Status::internal(format!(
            "backend {backend} ({kind}): the connection task ended"
        ))),
    }
}

fn no_rooms(kind: &str) -> Status {
    Status::unimplemented(format!("the {kind} backend does not manage rooms"))
}

/// Starts the adapter for `ctx.request.kind`.
pub async fn start(ctx: Context) -> Result<Arc<dyn Adapter>, Status> {
    match ctx.request.kind.as_str() {
        "console" => Ok(console::Console::start(ctx).await?),
        "irc" => Ok(irc::Irc::start(ctx).await?),
        "mattermost" => Ok(mattermost::Mattermost::start(ctx).await?),
        "slack" => Ok(slack::Slack::start(ctx).await?),
        "telegram" => Ok(telegram::Telegram::start(ctx).await?),
        "test" => Ok(test_driver::TestDriver::start(ctx).await?),
        "xmpp" => Ok(xmpp::Xmpp::start(ctx).await?),
        other => Err(Status::unimplemented(format!(
            "backend kind {other:?} is not served by errbot-gateway (kinds: {})",
            KINDS.join(", ")
        ))),
    }
}

/// An error with its causes ("error sending request: ...: invalid peer certificate: ..."):
/// reqwest's own text leaves the cause out.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// Hands out message ids unique within the gateway's lifetime.
#[derive(Default)]
pub struct Ids(AtomicU64);

impl Ids {
    /// The next id ("1", "2"...).
    pub fn next(&self) -> String {
        (self.0.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }
}

/// Unix time now, in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An ephemeral send for a service without ephemeral messages: the same message to the
/// person alone, privately (no room, so no thread either).
pub fn private_instead(mut request: SendRequest) -> SendRequest {
    if let Some(to) = request.to.as_mut() {
        to.room.clear();
        to.room_name.clear();
    }
    request.thread_id.clear();
    request.ephemeral = false;
    request
}

/// An inbound message event.
pub fn message_event(message: Message) -> BackendEvent {
    BackendEvent {
        kind: Some(backend_event::Kind::Message(message)),
    }
}

/// The event saying the gateway is connected as `bot`.
pub fn connected_event(bot: Identifier) -> BackendEvent {
    BackendEvent {
        kind: Some(backend_event::Kind::Connected(Connected { bot: Some(bot) })),
    }
}

/// The event asking errbotd to shut the bot down.
pub fn shutdown_event(reason: &str) -> BackendEvent {
    BackendEvent {
        kind: Some(backend_event::Kind::Shutdown(
            errbot_proto::v1::ShutdownRequest {
                reason: reason.to_owned(),
            },
        )),
    }
}
