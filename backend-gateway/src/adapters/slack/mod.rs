//! Slack (backend kind "slack"): Socket Mode and the Web API, one workspace.
//!
//! Written on reqwest and tokio-tungstenite (rustls on ring) rather than slack-morphism: see
//! ARCHITECTURE.md ("Slack") for why.
//!
//! - `settings`: the `[backends.NAME]` keys, checked key by key (tokens from the environment).
//! - `transport`: Web API calls (form-encoded, bearer token, `ok`/`error`, 429 with
//!   `Retry-After`) and the websocket.
//! - `socket`: `auth.test` (legacy tokens refused), Socket Mode connections (acks before
//!   anything else, `disconnect` reasons, pings both ways, silence is death, backoff).
//! - `events_api`: the Events API instead (`/slack/events`, signatures checked, acknowledged at
//!   once, retries dropped by event id).
//! - `inbound`: events to messages (subtypes, threads, mentions, DMs), once each.
//! - `ids`: `<@U123>`, `#channel`, `#channel/user`, ACL form `U123`.
//! - `format`, `split`: Markdown to mrkdwn, channel pings escaped, 4,000-character parts with
//!   code blocks balanced.
//! - `outbox`: 429s per method, pacing per channel; replies in the order of the messages they
//!   answer (`adapters::order`, shared with IRC).
//! - `seen`: what was handled (event ids, envelopes, messages).
//! - `rooms`: the `!room` calls (join or create, leave, archive, topic, members, invite).

mod events_api;
mod format;
pub mod fuzzing;
mod ids;
mod inbound;
mod outbox;
mod rooms;
mod seen;
pub mod settings;
mod socket;
mod split;
mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{
    BackendInfo, Card, FileHeader, Identifier, ProcessedRequest, ReactRequest, RoomInfo,
    SendRequest, content,
};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tonic::Status;

use super::order::ReplyOrder;
use super::{Adapter, Context};
use crate::events::EventQueue;
use crate::settings::Problem;
use ids::{Channel, Ids, Kind, Parsed, User, Where, Who};
use outbox::Outbox;
use seen::Seen;
use settings::Settings;
use transport::{Api, ApiError, Token, text};

/// Checks Slack settings for `errbot-gateway check`.
pub fn check(map: &serde_json::Map<String, serde_json::Value>) -> Vec<Problem> {
    settings::check(map)
}

/// A user from Slack's JSON (`users.info`'s `user`).
fn user_of(v: &Value) -> User {
    let profile = v.get("profile").cloned().unwrap_or(Value::Null);
    let real_name = match text(&profile, "real_name") {
        n if n.is_empty() => text(v, "real_name"),
        n => n,
    };
    User {
        id: text(v, "id"),
        name: text(v, "name"),
        display_name: text(&profile, "display_name"),
        real_name,
        email: text(&profile, "email"),
    }
}

/// A conversation from Slack's JSON (`conversations.info`'s `channel`).
fn channel_of(v: &Value) -> Channel {
    let flag = |k: &str| v.get(k).and_then(Value::as_bool) == Some(true);
    let kind = if flag("is_im") {
        Kind::Im
    } else if flag("is_mpim") {
        Kind::Mpim
    } else if flag("is_private") || flag("is_group") {
        Kind::Private
    } else {
        Kind::Public
    };
    Channel {
        id: text(v, "id"),
        name: text(v, "name"),
        kind,
    }
}

/// What the connection knows.
#[derive(Default)]
struct State {
    /// The bot's user (from auth.test).
    me: User,
    /// The bot's `B...` id.
    bot_id: String,
    connected: bool,
    /// Users and bots by id.
    users: HashMap<String, User>,
    /// Conversations by id.
    channels: HashMap<String, Channel>,
    /// Direct-message channels by the person's id.
    dms: HashMap<String, String>,
    seen: Seen,
}

/// Everything the adapter and the connection task share.
struct Shared {
    settings: Settings,
    api: Api,
    ids: Ids,
    events: EventQueue,
    outbox: Outbox,
    /// The bot's command prefix (a leading mention of the bot stands for it).
    prefix: String,
    state: Mutex<State>,
    stop: watch::Sender<bool>,
    /// Replies in the order of the messages they answer, per person and place.
    order: ReplyOrder,
}

impl Shared {
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// The bot's identifier.
    fn bot(&self) -> Identifier {
        self.with_state(|st| self.ids.person(&st.me))
    }

    fn set_connected(&self, connected: bool) {
        self.with_state(|st| st.connected = connected);
    }

    fn remember_user(&self, user: &User) {
        self.with_state(|st| st.users.insert(user.id.clone(), user.clone()));
    }

    /// A status for a failed call.
    fn failed(what: &str, e: &ApiError) -> Status {
        let text = format!("Slack: {what}: {e}");
        match e {
            ApiError::Slack(code) => match code.as_str() {
                "channel_not_found" | "user_not_found" | "users_not_found" => {
                    Status::not_found(text)
                }
                "not_in_channel"
                | "is_archived"
                | "restricted_action"
                | "cannot_dm_bot"
                | "missing_scope"
                | "not_allowed_token_type" => Status::failed_precondition(text),
                "invalid_auth" | "not_authed" | "token_revoked" => Status::permission_denied(text),
                _ => Status::invalid_argument(text),
            },
            ApiError::RateLimited(_) => Status::resource_exhausted(text),
            ApiError::Transport(_) => Status::unavailable(text),
        }
    }

    /// Calls a bot-token method through the outbox (rate limits waited out, retries).
    async fn call(&self, method: &str, params: &[(&str, &str)]) -> Result<Value, Status> {
        self.outbox
            .call(method, || self.api.call(method, Token::Bot, params))
            .await
            .map(|a| a.body)
            .map_err(|e| Self::failed(method, &e))
    }

    /// The conversation a message to `to` goes to: the room's, or the DM with the person.
    async fn channel_for(&self, to: &Identifier) -> Result<String, Status> {
        if !to.room.is_empty() {
            if is_conversation_id(&to.client) {
                return Ok(to.client.clone());
            }
            return match ids::parse(&to.room).map_err(Status::invalid_argument)? {
                Parsed::Room(Where::Id(id)) | Parsed::Occupant(Where::Id(id), _) => Ok(id),
                Parsed::Room(Where::Name(name)) | Parsed::Occupant(Where::Name(name), _) => {
                    self.channel_named(&name).await.map(|c| c.id)
                }
                Parsed::Person(_) => Err(Status::invalid_argument(format!(
                    "{:?} is not a channel",
                    to.room
                ))),
            };
        }
        if to.client.starts_with('D') && is_conversation_id(&to.client) {
            return Ok(to.client.clone());
        }
        let user_id = if to.person.is_empty() {
            let who = match ids::parse(&to.display) {
                Ok(Parsed::Person(who)) => who,
                _ if !to.nick.is_empty() => Who::Name(to.nick.clone()),
                _ => {
                    return Err(Status::invalid_argument(format!(
                        "cannot send to {:?}: no person or channel",
                        to.display
                    )));
                }
            };
            match who {
                Who::Id(id) => id,
                Who::Name(name) => self.user_named(&name).await?.id,
            }
        } else {
            to.person.clone()
        };
        if let Some(id) = self.with_state(|st| st.dms.get(&user_id).cloned()) {
            return Ok(id);
        }
        let v = self
            .call("conversations.open", &[("users", &user_id)])
            .await?;
        let id = v
            .get("channel")
            .map(|c| text(c, "id"))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Status::unavailable("Slack: conversations.open gave no channel"))?;
        self.with_state(|st| st.dms.insert(user_id, id.clone()));
        Ok(id)
    }

    /// A person by handle or display name: the cache, else the pages of `users.list` (only
    /// when a plugin names someone the bot never met; never at start).
    async fn user_named(&self, name: &str) -> Result<User, Status> {
        let find = |st: &mut State| {
            st.users
                .values()
                .find(|u| u.name == name || u.display_name == name)
                .cloned()
        };
        if let Some(u) = self.with_state(find) {
            return Ok(u);
        }
        self.paged("users.list", &[], "members", |page| {
            for u in page {
                let user = user_of(u);
                if !user.id.is_empty() {
                    self.remember_user(&user);
                }
            }
            self.with_state(find).is_some()
        })
        .await?;
        self.with_state(find)
            .ok_or_else(|| Status::not_found(format!("Slack: no user @{name}")))
    }

    /// A channel by name: the cache, else the pages of `conversations.list`.
    async fn channel_named(&self, name: &str) -> Result<Channel, Status> {
        let find = |st: &mut State| st.channels.values().find(|c| c.name == name).cloned();
        if let Some(c) = self.with_state(find) {
            return Ok(c);
        }
        let params = [
            ("exclude_archived", "true"),
            ("types", "public_channel,private_channel"),
        ];
        self.paged("conversations.list", &params, "channels", |page| {
            for c in page {
                let channel = channel_of(c);
                if !channel.id.is_empty() {
                    self.with_state(|st| st.channels.insert(channel.id.clone(), channel));
                }
            }
            self.with_state(find).is_some()
        })
        .await?;
        self.with_state(find)
            .ok_or_else(|| Status::not_found(format!("Slack: no channel #{name}")))
    }

    /// Calls a cursor-paginated method (`limit` 200, then `cursor`) page by page, handing each
    /// page's `key` list to `each` until it says it has what it wanted or the pages end.
    async fn paged(
        &self,
        method: &str,
        params: &[(&str, &str)],
        key: &str,
        mut each: impl FnMut(&[Value]) -> bool,
    ) -> Result<(), Status> {
        let mut cursor = String::new();
        loop {
            let mut all = params.to_vec();
            all.push(("limit", "200"));
            if !cursor.is_empty() {
                all.push(("cursor", cursor.as_str()));
            }
            let v = self.call(method, &all).await?;
            let page = v
                .get(key)
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if each(page) {
                return Ok(());
            }
            cursor = v
                .get("response_metadata")
                .map(|m| text(m, "next_cursor"))
                .unwrap_or_default();
            if cursor.is_empty() {
                return Ok(());
            }
        }
    }

    /// Posts the parts of one message in order (the channel's lane held, each part paced);
    /// answers the last part's `ts`. With `only_for` (a user id), the parts are ephemeral
    /// messages that only this person sees (`chat.postEphemeral`, answered `message_ts`).
    async fn post(
        &self,
        channel: &str,
        parts: &[String],
        (thread_ts, only_for): (&str, Option<&str>),
        attachments: Option<&str>,
    ) -> Result<String, Status> {
        let lane = self.outbox.lane(channel);
        let _held = lane.lock().await;
        let mut last = String::new();
        for (i, part) in parts.iter().enumerate() {
            self.outbox.pace(channel).await;
            let mut params = vec![("channel", channel), ("text", part.as_str())];
            if let Some(user) = only_for {
                params.push(("user", user));
            }
            if !thread_ts.is_empty() {
                params.push(("thread_ts", thread_ts));
            }
            if let Some(a) = attachments.filter(|_| i + 1 == parts.len()) {
                params.push(("attachments", a));
            }
            if only_for.is_some() {
                // An ephemeral message never comes back as an event.
                let v = self.call("chat.postEphemeral", &params).await?;
                last = text(&v, "message_ts");
                continue;
            }
            let v = self.call("chat.postMessage", &params).await?;
            last = text(&v, "ts");
            // The bot's own message comes back as an event: known already, it is dropped.
            self.with_state(|st| st.seen.insert(&format!("message:{channel}/{last}")));
        }
        Ok(last)
    }
}

/// Whether `id` looks like a conversation id (`C...`, `G...`, `D...`).
fn is_conversation_id(id: &str) -> bool {
    id.len() >= 3
        && id.starts_with(['C', 'G', 'D'])
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A card as a legacy attachment, as Errbot's SlackV3 sends it.
fn attachment(card: &Card) -> Value {
    let color = match card.color.as_str() {
        "red" => "#FF0000",
        "green" => "#008000",
        "yellow" => "#FFA500",
        "blue" => "#0000FF",
        "white" => "#FFFFFF",
        "cyan" => "#00FFFF",
        other => other,
    };
    // Slack reads `<...>` as markup in every text: escaped, a card's words cannot ping a
    // channel or a group (`<!here>`, `<!subteam^S1>`), as a reply's cannot.
    let plain = format::escape_keeping_mentions;
    let fields: Vec<Value> = card
        .fields
        .iter()
        .map(|f| json!({"title": plain(&f.key), "value": format::mrkdwn(&f.value), "short": true}))
        .collect();
    let mut a = json!({
        "fallback": plain(if card.summary.is_empty() { &card.title } else { &card.summary }),
        "pretext": plain(&card.summary),
        "title": plain(&card.title),
        "text": format::mrkdwn(&card.body),
        "fields": fields,
        "mrkdwn_in": ["text", "pretext", "fields"],
    });
    for (key, value) in [
        ("color", color),
        ("title_link", card.link.as_str()),
        ("image_url", card.image.as_str()),
        ("thumb_url", card.thumbnail.as_str()),
    ] {
        if !value.is_empty()
            && let Some(map) = a.as_object_mut()
        {
            map.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
    a
}

/// The Slack adapter.
pub struct Slack {
    shared: Arc<Shared>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Slack {
    /// Connects; fails when the first connection fails (a legacy token says what to create
    /// instead).
    pub async fn start(ctx: Context) -> Result<Arc<Self>, Status> {
        let settings = ctx.checked_settings(Settings::read)?;
        let api = Api::new(&settings).map_err(Status::internal)?;
        let shared = Arc::new(Shared {
            api,
            ids: Ids {
                backend: ctx.backend.clone(),
            },
            events: ctx.events.clone(),
            outbox: Outbox::new(settings.post_interval, settings.post_burst),
            prefix: ctx.request.bot_prefix.clone(),
            state: Mutex::new(State::default()),
            stop: watch::channel(false).0,
            order: ReplyOrder::default(),
            settings,
        });
        let (first_tx, first_rx) = oneshot::channel();
        let task = match &shared.settings.mode {
            settings::Mode::Socket { .. } => tokio::spawn(socket::run(shared.clone(), first_tx)),
            settings::Mode::Events {
                listen,
                signing_secret,
            } => tokio::spawn(events_api::run(
                shared.clone(),
                first_tx,
                *listen,
                signing_secret.0.clone(),
            )),
        };
        super::first_connection("slack", &ctx.backend, first_rx).await?;
        Ok(Arc::new(Self {
            shared,
            task: tokio::sync::Mutex::new(Some(task)),
        }))
    }
}

#[tonic::async_trait]
impl Adapter for Slack {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            bot: Some(self.shared.bot()),
            message_size_limit: split::TEXT_LIMIT as u32,
            limit_in_bytes: false,
            description: format!(
                "Slack ({}, {}{})",
                match self.shared.settings.mode {
                    settings::Mode::Socket { .. } => "Socket Mode",
                    settings::Mode::Events { .. } => "Events API",
                },
                self.shared.settings.api_url,
                if self.shared.with_state(|st| st.connected) {
                    ""
                } else {
                    ", disconnected"
                }
            ),
            nick_prefix: "<@{person}> ".to_owned(),
        }
    }

    async fn send(&self, request: SendRequest) -> Result<String, Status> {
        let kind = request
            .content
            .as_ref()
            .and_then(|c| c.kind.as_ref())
            .ok_or_else(|| Status::invalid_argument("content is required"))?;
        let to = request
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let (parts, attachments) = match kind {
            content::Kind::Markdown(text) => {
                (split::split(&format::mrkdwn(text), split::TEXT_LIMIT), None)
            }
            content::Kind::Card(card) => {
                let fallback = if card.summary.is_empty() {
                    card.title.clone()
                } else {
                    card.summary.clone()
                };
                (
                    vec![format::escape(&fallback)],
                    Some(json!([attachment(card)]).to_string()),
                )
            }
            content::Kind::Template(_) => {
                return Err(Status::invalid_argument(
                    "templates are rendered by errbotd",
                ));
            }
        };
        // Ephemeral: to the person of an occupant, in its channel. Without a channel (an
        // identifier of a person alone) it is an ordinary direct message.
        let only_for = (request.ephemeral && !to.room.is_empty()).then_some(to.person.as_str());
        if only_for.is_some_and(str::is_empty) {
            return Err(Status::invalid_argument(
                "an ephemeral message needs the person it is for",
            ));
        }
        let channel = self.shared.channel_for(to).await?;
        if !request.in_reply_to.is_empty() {
            self.shared.order.wait_turn(&request.in_reply_to).await;
        }
        self.shared
            .post(
                &channel,
                &parts,
                (&request.thread_id, only_for),
                attachments.as_deref(),
            )
            .await
    }

    fn ephemeral(&self) -> bool {
        true
    }

    fn processed(&self, request: &ProcessedRequest) {
        self.shared.order.processed(&request.message_id);
    }

    fn build_identifier(&self, text: &str) -> Result<Identifier, Status> {
        let parsed = ids::parse(text).map_err(Status::invalid_argument)?;
        let shared = &self.shared;
        let user = |who: &Who| {
            shared
                .with_state(|st| match who {
                    Who::Id(id) => st.users.get(id).cloned(),
                    Who::Name(name) => st
                        .users
                        .values()
                        .find(|u| &u.name == name || &u.display_name == name)
                        .cloned(),
                })
                .unwrap_or_else(|| match who {
                    Who::Id(id) => User {
                        id: id.clone(),
                        ..Default::default()
                    },
                    Who::Name(name) => User {
                        name: name.clone(),
                        ..Default::default()
                    },
                })
        };
        let channel = |at: &Where| {
            shared
                .with_state(|st| match at {
                    Where::Id(id) => st.channels.get(id).cloned(),
                    Where::Name(name) => st.channels.values().find(|c| &c.name == name).cloned(),
                })
                .unwrap_or_else(|| match at {
                    Where::Id(id) => Channel {
                        id: id.clone(),
                        kind: Kind::of("", id),
                        ..Default::default()
                    },
                    Where::Name(name) => Channel {
                        name: name.clone(),
                        ..Default::default()
                    },
                })
        };
        Ok(match parsed {
            Parsed::Person(who) => shared.ids.person(&user(&who)),
            Parsed::Room(at) => shared.ids.room(&channel(&at)),
            Parsed::Occupant(at, who) => shared.ids.occupant(&channel(&at), &user(&who)),
        })
    }

    async fn stop(&self) {
        self.shared.stop.send_replace(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }

    async fn list_rooms(&self) -> Result<Vec<RoomInfo>, Status> {
        self.shared.rooms().await
    }

    async fn join_room(&self, room: &str, _password: &str) -> Result<RoomInfo, Status> {
        self.shared.join_room(room).await
    }

    async fn leave_room(&self, room: &str, _reason: &str) -> Result<(), Status> {
        self.shared.leave_room(room).await
    }

    async fn get_room(&self, room: &str) -> Result<RoomInfo, Status> {
        self.shared.room(room).await
    }

    async fn set_room_topic(&self, room: &str, topic: &str) -> Result<RoomInfo, Status> {
        self.shared.set_topic(room, topic).await
    }

    async fn invite_to_room(&self, room: &str, people: &[String]) -> Result<(), Status> {
        self.shared.invite(room, people).await
    }

    async fn destroy_room(&self, room: &str) -> Result<(), Status> {
        self.shared.archive(room).await
    }

    async fn react(&self, request: ReactRequest) -> Result<(), Status> {
        let to = request
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let channel = self.shared.channel_for(to).await?;
        let name = request.reaction.trim_matches(':');
        let method = if request.remove {
            "reactions.remove"
        } else {
            "reactions.add"
        };
        let params = [
            ("channel", channel.as_str()),
            ("timestamp", request.message_id.as_str()),
            ("name", name),
        ];
        match self.shared.call(method, &params).await {
            Ok(_) => Ok(()),
            // As Errbot: reacting twice, or removing what is not there, is no failure.
            Err(s)
                if s.message().contains("already_reacted")
                    || s.message().contains("no_reaction") =>
            {
                Ok(())
            }
            Err(s) => Err(s),
        }
    }

    /// Slack's upload flow (`files.upload` is gone): `files.getUploadURLExternal`, the bytes to
    /// the address it gave, `files.completeUploadExternal` into the channel (and the thread,
    /// when asked). Answers the file's id.
    async fn upload(&self, header: FileHeader, data: Vec<u8>) -> Result<String, Status> {
        let to = header
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let channel = self.shared.channel_for(to).await?;
        let name = if header.name.trim().is_empty() {
            "file".to_owned()
        } else {
            header.name.clone()
        };
        let length = data.len().to_string();
        let v = self
            .shared
            .call(
                "files.getUploadURLExternal",
                &[("filename", &name), ("length", &length)],
            )
            .await?;
        let (url, file_id) = (text(&v, "upload_url"), text(&v, "file_id"));
        if url.is_empty() || file_id.is_empty() {
            return Err(Status::unavailable(
                "Slack: files.getUploadURLExternal gave no upload_url or file_id",
            ));
        }
        let shared = &self.shared;
        shared
            .outbox
            .call("file upload", || {
                shared.api.upload_bytes(&url, data.clone())
            })
            .await
            .map_err(|e| Shared::failed("file upload", &e))?;
        let files = json!([{"id": file_id, "title": name}]).to_string();
        let mut params = vec![("files", files.as_str()), ("channel_id", channel.as_str())];
        if !header.thread_id.is_empty() {
            params.push(("thread_ts", header.thread_id.as_str()));
        }
        shared.call("files.completeUploadExternal", &params).await?;
        Ok(file_id)
    }

    async fn set_presence(&self, status: &str, _message: &str) -> Result<(), Status> {
        let presence = match status {
            "online" => "auto",
            "away" | "dnd" | "offline" => "away",
            other => {
                return Err(Status::invalid_argument(format!(
                    "unknown presence {other:?} (online, away, dnd, offline)"
                )));
            }
        };
        self.shared
            .call("users.setPresence", &[("presence", presence)])
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use errbot_proto::v1::CardField;

    #[test]
    fn a_card_is_an_attachment_as_errbot_sends_it() {
        let card = Card {
            title: "Build".into(),
            body: "**passed**".into(),
            summary: "CI".into(),
            color: "green".into(),
            link: "https://ci".into(),
            fields: vec![CardField {
                key: "time".into(),
                value: "3 s".into(),
            }],
            ..Default::default()
        };
        let a = attachment(&card);
        assert_eq!(a["color"], "#008000");
        assert_eq!(a["title_link"], "https://ci");
        assert_eq!(a["text"], "*passed*");
        assert_eq!(a["pretext"], "CI");
        assert_eq!(a["fields"][0]["title"], "time");
        assert!(a.get("image_url").is_none());
    }

    #[test]
    fn a_card_cannot_ping_a_channel() {
        // Found by the slack fuzz target: a card's title, summary and field names went out
        // unescaped, and `<!subteam^S1>` or `<!here>` in them pinged.
        let card = Card {
            title: "a <!subteam^S1> & b".into(),
            summary: "<!here> <@U0ALICE>".into(),
            fields: vec![CardField {
                key: "<!channel>".into(),
                value: "<!everyone>".into(),
            }],
            ..Default::default()
        };
        let a = attachment(&card);
        assert_eq!(a["title"], "a &lt;!subteam^S1&gt; &amp; b");
        assert_eq!(a["pretext"], "&lt;!here&gt; <@U0ALICE>");
        assert_eq!(a["fallback"], "&lt;!here&gt; <@U0ALICE>");
        assert!(!a.to_string().contains("<!"), "{a}");
    }

    #[test]
    fn json_of_users_and_channels() {
        let u = user_of(&json!({"id": "U1", "name": "alice",
            "profile": {"display_name": "Al", "real_name": "Alice L", "email": "a@x"}}));
        assert_eq!((u.nick(), u.real_name.as_str()), ("Al", "Alice L"));
        let c = channel_of(&json!({"id": "G1", "name": "secret", "is_private": true}));
        assert_eq!(c.kind, Kind::Private);
        assert!(is_conversation_id("C0GENERAL") && !is_conversation_id("U1"));
    }
}
