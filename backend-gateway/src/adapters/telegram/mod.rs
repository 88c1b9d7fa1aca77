//! Telegram (backend kind "telegram"): the Bot API with long polling.
//!
//! - `settings`: the `[backends.NAME]` keys (the token from the environment).
//! - `api`: Bot API calls and their errors (`retry_after`, `migrate_to_chat_id`).
//! - `poll`: `getUpdates` long polling, 409 conflicts and failures waited out.
//! - `webhook`: the webhook mode instead (`setWebhook`, the secret token checked).
//! - `acks`: the offset confirmed only once errbotd processed an update, kept in a file.
//! - `inbound`: updates to messages (private chats, groups, topics, `/cmd@Bot`, mentions).
//! - `ids`: user ids, chat ids, `CHAT/USER`.
//! - `format`, `split`: Markdown to Telegram's HTML, cut at 4,096 UTF-16 code units of text.
//! - `reactions`: reaction names as emoji and back, people's reactions as events.
//! - `fuzzing`: entry points for the fuzz targets of `tests/fuzz/`.
//! - `outbox`: sending through 429s and failures without losing a message; replies in the
//!   order of the messages they answer (`adapters::order`, shared with IRC and Slack).

mod acks;
mod api;
mod format;
pub mod fuzzing;
mod ids;
mod inbound;
mod outbox;
mod poll;
mod reactions;
pub mod settings;
mod split;
mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{
    BackendInfo, FileHeader, Identifier, ProcessedRequest, ReactRequest, SendRequest,
};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tonic::Status;

use super::order::ReplyOrder;
use super::{Adapter, Context};
use crate::settings::Problem;
use acks::Acks;
use api::{Api, ApiError, Attachment};
use ids::{Ids, Parsed, User};
use inbound::Inbound;
use outbox::Outbox;
use settings::Settings;
use split::Piece;

/// Checks Telegram settings for `errbot-gateway check`.
pub fn check(map: &serde_json::Map<String, Value>) -> Vec<Problem> {
    settings::check(map)
}

/// Everything the adapter and the poller share.
struct Shared {
    settings: Settings,
    api: Api,
    ids: Ids,
    events: crate::events::EventQueue,
    outbox: Outbox,
    /// errbotd's command prefix (a leading `/command` or mention of the bot stands for it).
    prefix: String,
    /// The bot (from `getMe`).
    me: User,
    acks: Mutex<Acks>,
    /// Groups that became supergroups: old chat id to new.
    migrations: Mutex<HashMap<i64, i64>>,
    /// People who wrote to the bot, by lower-case username (for `@name` identifiers).
    users: Mutex<HashMap<String, User>>,
    /// Told when errbotd finished an update (the poller may confirm it).
    progress: Notify,
    /// Webhook requests waiting for their update.
    waiters: webhook::Waiters,
    /// Replies in the order of the messages they answer, per person and place.
    order: ReplyOrder,
    stop: watch::Sender<bool>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where a message goes in its chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// The chat itself.
    Chat,
    /// A forum topic (`message_thread_id`).
    Topic(i64),
    /// In reply to a message (errbotd's thread started from a message).
    ReplyTo(i64),
}

impl Place {
    /// errbotd's `thread_id`: a topic's id as a message's `thread_id` carries it, or `CHAT:MESSAGE`
    /// (a message's own id, when errbotd starts a thread from it).
    fn of(thread_id: &str) -> Self {
        if let Some((_, message)) = thread_id.split_once(':') {
            return message.parse().map_or(Self::Chat, Self::ReplyTo);
        }
        thread_id.parse().map_or(Self::Chat, Self::Topic)
    }

    fn add_to(self, params: &mut Value) {
        match self {
            Self::Chat => {}
            Self::Topic(t) => params["message_thread_id"] = json!(t),
            Self::ReplyTo(m) => {
                params["reply_parameters"] =
                    json!({"message_id": m, "allow_sending_without_reply": true});
            }
        }
    }
}

impl Shared {
    fn with_acks<R>(&self, f: impl FnOnce(&mut Acks) -> R) -> R {
        f(&mut locked(&self.acks))
    }

    fn remember(&self, from: &Value) {
        let user = User::of(from);
        if !user.username.is_empty() {
            locked(&self.users).insert(user.username.to_ascii_lowercase(), user);
        }
    }

    fn moved(&self, from: i64, to: i64) {
        locked(&self.migrations).insert(from, to);
    }

    /// A chat's id now (a group that became a supergroup has the supergroup's).
    fn current(&self, chat: i64) -> i64 {
        locked(&self.migrations).get(&chat).copied().unwrap_or(chat)
    }

    /// The chat a message to `to` goes to.
    fn chat_of(&self, to: &Identifier) -> Result<i64, Status> {
        let unknown =
            || Status::invalid_argument(format!("cannot send to {:?}: no chat", to.display));
        let chat = if !to.room.is_empty() {
            to.room.parse::<i64>().map_err(|_| unknown())?
        } else if !to.person.is_empty() {
            to.person.parse::<i64>().map_err(|_| unknown())?
        } else {
            match ids::parse(&to.display).map_err(Status::invalid_argument)? {
                Parsed::Person(id) | Parsed::Chat(id) | Parsed::Occupant(id, _) => id,
                Parsed::Username(name) => self.user_named(&name)?.id,
            }
        };
        Ok(self.current(chat))
    }

    fn user_named(&self, name: &str) -> Result<User, Status> {
        locked(&self.users)
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| {
                Status::not_found(format!(
                    "Telegram: @{name} never wrote to the bot (bots can only reach people by \
                     their user id, once they started a chat)"
                ))
            })
    }

    /// A status for a failed call.
    fn failed(&self, what: &str, e: &ApiError) -> Status {
        let text = format!("Telegram: {what}: {e}");
        match e {
            ApiError::Refused(401, _) => Status::unauthenticated(text),
            ApiError::Refused(403, _) => Status::permission_denied(text),
            ApiError::Refused(404, _) => Status::not_found(text),
            ApiError::Refused(400, _) | ApiError::Migrated(_) => Status::invalid_argument(text),
            ApiError::RateLimited(_) => Status::resource_exhausted(text),
            ApiError::Refused(..) | ApiError::Transport(_) => Status::unavailable(text),
        }
    }

    /// Calls `method` through the outbox, following a group's move to a supergroup (its
    /// `chat_id` is then the new one); answers the result and the chat it went to.
    async fn to_chat(
        &self,
        method: &str,
        mut chat: i64,
        params: impl Fn(i64) -> Value,
    ) -> Result<(Value, i64), ApiError> {
        for _ in 0..3 {
            self.outbox.pace(chat).await;
            let body = params(chat);
            match self
                .outbox
                .deliver(method, || self.api.call(method, &body, Duration::ZERO))
                .await
            {
                Err(ApiError::Migrated(to)) => {
                    tracing::info!("Telegram: group {chat} is now supergroup {to}; sent there");
                    self.moved(chat, to);
                    chat = to;
                }
                other => return other.map(|v| (v, chat)),
            }
        }
        Err(ApiError::Refused(
            400,
            "the chat moved too many times".into(),
        ))
    }

    /// Takes one update: a message goes to errbotd, the rest is finished at once. False when
    /// the gateway is shutting down.
    async fn take(&self, update: &Value) -> bool {
        let Some(id) = update.get("update_id").and_then(Value::as_i64) else {
            tracing::warn!("Telegram: an update without update_id was ignored");
            return true;
        };
        if !self.with_acks(|a| a.receive(id)) {
            tracing::debug!("Telegram: update {id} again (still in flight or done): dropped");
            return true;
        }
        match inbound::read(update, &self.me, &self.prefix, &self.ids) {
            Inbound::Message(message) => {
                if let Some(from) = update.get("message").and_then(|m| m.get("from")) {
                    self.remember(from);
                }
                // One person in one place (a chat, a topic): replies keep the messages' order.
                let conversation = format!(
                    "{}/{}/{}",
                    message.to.as_ref().map_or("", |t| t.display.as_str()),
                    message.thread_id,
                    message.from.as_ref().map_or("", |f| f.person.as_str())
                );
                self.order.arrived(&message.id, &conversation);
                self.with_acks(|a| a.hand_over(id, &message.id));
                if self
                    .events
                    .push(crate::adapters::message_event(*message))
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            Inbound::Ignore(why) => {
                tracing::debug!("Telegram: update {id} ignored: {why}");
                self.with_acks(|a| a.finish(id));
            }
            Inbound::Reactions(events) => {
                self.with_acks(|a| a.finish(id));
                for event in events {
                    let event = errbot_proto::v1::BackendEvent {
                        kind: Some(errbot_proto::v1::backend_event::Kind::Reaction(event)),
                    };
                    if self.events.push(event).await.is_err() {
                        return false;
                    }
                }
            }
            Inbound::Migrated { from, to } => {
                tracing::info!("Telegram: group {from} became supergroup {to}");
                self.moved(from, to);
                self.with_acks(|a| a.finish(id));
            }
        }
        true
    }

    /// errbotd finished with message `message_id`: its update is confirmed (once).
    fn processed(&self, message_id: &str) {
        self.order.processed(message_id);
        if let Some(id) = self.with_acks(|a| a.processed(message_id)) {
            self.progress.notify_one();
            self.waiters.finished(id);
        }
    }

    /// Sends one piece; Telegram's refusal of its HTML makes it plain text.
    async fn send_piece(&self, chat: i64, place: Place, piece: &Piece) -> Result<String, Status> {
        let params = |html: bool| {
            move |chat: i64| {
                let mut p = if html {
                    json!({"chat_id": chat, "text": piece.html, "parse_mode": "HTML"})
                } else {
                    json!({"chat_id": chat, "text": piece.plain})
                };
                place.add_to(&mut p);
                p
            }
        };
        let sent = match self.to_chat("sendMessage", chat, params(true)).await {
            Err(e) if e.is_entity_error() => {
                tracing::warn!("Telegram refused a reply's formatting ({e}); sent as plain text");
                self.to_chat("sendMessage", chat, params(false)).await
            }
            other => other,
        };
        let (v, chat) = sent.map_err(|e| self.failed(&format!("sendMessage to {chat}"), &e))?;
        let id = v.get("message_id").and_then(Value::as_i64).unwrap_or(0);
        Ok(inbound::message_key(chat, id))
    }
}

/// The errbotd process this gateway serves: its pid and start time (the parent's; empty when
/// unknown), which tell a gateway restarted alone from a new errbotd (`acks`).
fn errbotd_instance() -> String {
    let parent = std::os::unix::process::parent_id();
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{parent}/stat")) else {
        return String::new();
    };
    // Field 22 (start time) counts from the field after the command's closing parenthesis.
    stat.rfind(')')
        .and_then(|i| stat.get(i + 1..))
        .and_then(|rest| rest.split_whitespace().nth(19))
        .map_or_else(String::new, |start| format!("{parent}:{start}"))
}

/// The Telegram adapter.
pub struct Telegram {
    shared: Arc<Shared>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Telegram {
    /// Asks Telegram who the bot is (`getMe`), then polls; fails when `getMe` fails.
    pub async fn start(ctx: Context) -> Result<Arc<Self>, Status> {
        let backend = ctx.backend.clone();
        let settings = ctx.checked_settings(|m| Settings::read(&backend, m))?;
        let api = Api::new(&settings).map_err(Status::internal)?;
        let unavailable =
            |e: String| Status::unavailable(format!("backend {backend} (telegram): {e}"));
        let me = match api.call("getMe", &json!({}), Duration::ZERO).await {
            Ok(v) => User::of(&v),
            Err(ApiError::Refused(401, text)) => {
                return Err(unavailable(format!(
                    "the bot's token was refused (401 {text}): check it with @BotFather"
                )));
            }
            Err(e) => return Err(unavailable(format!("getMe failed: {e}"))),
        };
        if me.id == 0 {
            return Err(unavailable("getMe answered no bot".into()));
        }
        if let Some(expected) = &settings.username
            && !expected.eq_ignore_ascii_case(&me.username)
        {
            tracing::warn!(
                "Telegram: the token is @{}'s, not @{expected}'s (setting `username`)",
                me.username
            );
        }
        let offset_file = std::path::absolute(&settings.offset_file)
            .unwrap_or_else(|_| settings.offset_file.clone());
        let shared = Arc::new(Shared {
            api,
            ids: Ids {
                backend: ctx.backend.clone(),
            },
            events: ctx.events.clone(),
            outbox: Outbox::new(
                settings.chat_interval,
                settings.group_interval,
                settings.burst,
            ),
            prefix: ctx.request.bot_prefix.clone(),
            acks: Mutex::new(Acks::load(&offset_file, &errbotd_instance())),
            migrations: Mutex::default(),
            users: Mutex::default(),
            progress: Notify::new(),
            waiters: webhook::Waiters::default(),
            order: ReplyOrder::default(),
            stop: watch::channel(false).0,
            me,
            settings,
        });
        tracing::info!(
            "Telegram: connected as @{} ({})",
            shared.me.username,
            shared.me.id
        );
        let task = match shared.settings.webhook.clone() {
            Some(hook) => {
                webhook::start(shared.clone(), &hook)
                    .await
                    .map_err(unavailable)?;
                None
            }
            None => {
                // Long polling and a webhook exclude each other (409): the webhook goes, its
                // updates stay for getUpdates.
                let params = json!({"drop_pending_updates": false});
                if let Err(e) = shared
                    .api
                    .call("deleteWebhook", &params, Duration::ZERO)
                    .await
                {
                    tracing::warn!("Telegram: deleteWebhook failed: {e}");
                }
                Some(tokio::spawn(poll::run(shared.clone())))
            }
        };
        let bot = shared.ids.person(&shared.me);
        let _ = shared.events.push(super::connected_event(bot)).await;
        Ok(Arc::new(Self {
            shared,
            task: tokio::sync::Mutex::new(task),
        }))
    }
}

#[tonic::async_trait]
impl Adapter for Telegram {
    fn kind(&self) -> &'static str {
        "telegram"
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            bot: Some(self.shared.ids.person(&self.shared.me)),
            message_size_limit: split::LIMIT as u32,
            limit_in_bytes: false,
            description: format!("Telegram @{}", self.shared.me.username),
            // Errbot's Telegram backend prefixes `@nick: `.
            nick_prefix: "@{nick}: ".to_owned(),
        }
    }

    async fn send(&self, request: SendRequest) -> Result<String, Status> {
        let runs = request
            .content
            .as_ref()
            .and_then(format::content_runs)
            .ok_or_else(|| {
                Status::invalid_argument("content is required (templates are rendered by errbotd)")
            })?;
        let to = request
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let chat = self.shared.chat_of(to)?;
        let place = Place::of(&request.thread_id);
        let pieces = split::split(&runs, split::LIMIT);
        if pieces.is_empty() {
            return Err(Status::invalid_argument(
                "Telegram cannot send an empty message",
            ));
        }
        if !request.in_reply_to.is_empty() {
            self.shared.order.wait_turn(&request.in_reply_to).await;
        }
        let mut last = String::new();
        for piece in &pieces {
            last = self.shared.send_piece(chat, place, piece).await?;
        }
        Ok(last)
    }

    fn processed(&self, request: &ProcessedRequest) {
        self.shared.processed(&request.message_id);
    }

    fn build_identifier(&self, text: &str) -> Result<Identifier, Status> {
        let ids = &self.shared.ids;
        let person = |id: i64| {
            locked(&self.shared.users)
                .values()
                .find(|u| u.id == id)
                .cloned()
                .unwrap_or(User {
                    id,
                    ..Default::default()
                })
        };
        Ok(match ids::parse(text).map_err(Status::invalid_argument)? {
            Parsed::Person(id) => ids.person(&person(id)),
            Parsed::Username(name) => ids.person(&self.shared.user_named(&name)?),
            Parsed::Chat(id) => ids.chat(id, ""),
            Parsed::Occupant(chat, id) => ids.occupant(chat, "", &person(id)),
        })
    }

    async fn stop(&self) {
        self.shared.stop.send_replace(true);
        self.shared.with_acks(Acks::release);
        if let Some(task) = self.task.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }

    async fn upload(&self, header: FileHeader, data: Vec<u8>) -> Result<String, Status> {
        let to = header
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let mut chat = self.shared.chat_of(to)?;
        let mut fields = vec![];
        if !header.comment.trim().is_empty() {
            fields.push(("caption", header.comment.trim().to_owned()));
        }
        match Place::of(&header.thread_id) {
            Place::Chat => {}
            Place::Topic(t) => fields.push(("message_thread_id", t.to_string())),
            Place::ReplyTo(m) => fields.push((
                "reply_parameters",
                json!({"message_id": m, "allow_sending_without_reply": true}).to_string(),
            )),
        }
        let file = Attachment {
            field: "document",
            name: if header.name.is_empty() {
                "file".into()
            } else {
                header.name.clone()
            },
            content_type: if header.content_type.is_empty() {
                "application/octet-stream".into()
            } else {
                header.content_type.clone()
            },
            data,
        };
        for _ in 0..3 {
            self.shared.outbox.pace(chat).await;
            let mut all = vec![("chat_id", chat.to_string())];
            all.extend(fields.iter().cloned());
            let sent = self
                .shared
                .outbox
                .deliver("sendDocument", || {
                    self.shared.api.call_with_file("sendDocument", &all, &file)
                })
                .await;
            match sent {
                Ok(v) => {
                    let id = v.get("message_id").and_then(Value::as_i64).unwrap_or(0);
                    return Ok(inbound::message_key(chat, id));
                }
                Err(ApiError::Migrated(new)) => {
                    self.shared.moved(chat, new);
                    chat = new;
                }
                Err(e) => return Err(self.shared.failed("sendDocument", &e)),
            }
        }
        Err(Status::unavailable(
            "Telegram: the chat moved too many times",
        ))
    }

    async fn react(&self, request: ReactRequest) -> Result<(), Status> {
        let to = request
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let chat = self.shared.chat_of(to)?;
        let id = request.message_id.rsplit(':').next().unwrap_or("");
        let message: i64 = id.parse().map_err(|_| {
            Status::invalid_argument(format!(
                "{:?} is not a Telegram message id",
                request.message_id
            ))
        })?;
        let reaction = if request.remove {
            json!([])
        } else {
            json!([{"type": "emoji", "emoji": reactions::emoji(&request.reaction)}])
        };
        self.shared
            .to_chat(
                "setMessageReaction",
                chat,
                |chat| json!({"chat_id": chat, "message_id": message, "reaction": reaction}),
            )
            .await
            .map(|_| ())
            .map_err(|e| self.shared.failed("setMessageReaction", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_topics_or_replies() {
        assert_eq!(Place::of(""), Place::Chat);
        assert_eq!(Place::of("17"), Place::Topic(17));
        assert_eq!(Place::of("-100:42"), Place::ReplyTo(42));
    }
}
