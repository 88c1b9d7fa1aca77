//! Mattermost (backend kind "mattermost"): API v4 and its websocket, one team.
//!
//! - `settings`: the `[backends.NAME]` keys, checked key by key (secrets from the environment).
//! - `transport`: REST requests (bearer token, login again on 401, 429 reported with its delay)
//!   and the websocket (authentication challenge), rustls on ring.
//! - `client`: set-up, the websocket session (hello, pings both ways, silence is death),
//!   events (`posted`, `post_edited`, `post_deleted`, reactions, `user_added`/`user_removed`,
//!   `status_change`, `user_updated`), reconnection with backoff, catch-up.
//! - `ids`: `@user`, `~channel`, `~channel/user`, the ACL form `@user`.
//! - `seen`: posts seen (a redelivered post runs once; thread roots for replies).
//! - `format`, `split`: Markdown passed through, cards as attachments, 16,383-character posts.
//! - `rooms`: the `!room` calls (join or create, leave, archive, header, members, invite).
//! - `outbox`: posting through rate limits and failures without losing a post.

mod client;
mod format;
pub mod fuzzing;
mod ids;
mod outbox;
mod rooms;
mod seen;
pub mod settings;
mod split;
mod transport;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{
    BackendInfo, FileHeader, Identifier, ProcessedRequest, ReactRequest, RoomInfo, SendRequest,
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tonic::Status;

use super::{Adapter, Context};
use crate::events::EventQueue;
use crate::settings::Problem;
use client::text;
use ids::{Channel, Ids, Parsed, User};
use outbox::Outbox;
use seen::Seen;
use settings::Settings;
use transport::{Api, ApiError};

/// Checks Mattermost settings for `errbot-gateway check`.
pub fn check(map: &serde_json::Map<String, serde_json::Value>) -> Vec<Problem> {
    settings::check(map)
}

/// What the connection knows.
#[derive(Default)]
struct State {
    /// The bot's user (empty until the first set-up).
    me: User,
    team_id: String,
    connected: bool,
    /// Users by id.
    users: HashMap<String, User>,
    /// Channels by id.
    channels: HashMap<String, Channel>,
    /// Direct-message channels by the other person's user id.
    dms: HashMap<String, String>,
    /// Channels the bot reads, with the creation time (ms) of the last post seen there.
    joined: HashMap<String, i64>,
    /// Channels to be in (configured, joined on request), joined again at each connection.
    wanted: BTreeSet<String>,
    seen: Seen,
    /// The websocket connection's id and the next event's sequence number, to resume it.
    resume: Option<(String, i64)>,
}

/// Everything the adapter and the connection task share.
struct Shared {
    settings: Settings,
    api: Api,
    ids: Ids,
    events: EventQueue,
    outbox: Outbox,
    /// The bot's command prefix (a mention of the bot stands for it).
    prefix: String,
    state: Mutex<State>,
    stop: watch::Sender<bool>,
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

    /// A status for a failed API call.
    fn failed(&self, what: &str, e: &ApiError) -> Status {
        let text = format!("Mattermost: {what}: {e}");
        match e {
            ApiError::Status(400 | 404 | 413, _) => Status::invalid_argument(text),
            ApiError::Status(401 | 403, _) => Status::permission_denied(text),
            ApiError::RateLimited(_) => Status::resource_exhausted(text),
            ApiError::Status(..) | ApiError::Transport(_) => Status::unavailable(text),
        }
    }

    /// The channel a message to `to` goes to: the room's, or the direct channel with the person.
    async fn channel_for(&self, to: &Identifier) -> Result<String, Status> {
        if !to.room.is_empty() {
            let name = to.room.trim_start_matches('~');
            if !to.client.is_empty()
                && self.with_state(|st| st.channels.get(&to.client).is_some_and(|c| c.name == name))
            {
                return Ok(to.client.clone());
            }
            return self
                .channel_named(name)
                .await
                .map(|c| c.id)
                .map_err(|e| self.failed(&format!("channel ~{name}"), &e));
        }
        let user_id = if to.person.is_empty() {
            let name = if to.nick.is_empty() {
                match ids::parse(&to.display) {
                    Ok(Parsed::Person(n)) => n,
                    _ => {
                        return Err(Status::invalid_argument(format!(
                            "cannot send to {:?}: no person or channel",
                            to.display
                        )));
                    }
                }
            } else {
                to.nick.clone()
            };
            self.user_named(&name).await?.id
        } else {
            to.person.clone()
        };
        if let Some(id) = self.with_state(|st| st.dms.get(&user_id).cloned()) {
            return Ok(id);
        }
        let me = self.with_state(|st| st.me.id.clone());
        let pair = json!([me, user_id]);
        let v = self
            .outbox
            .deliver("direct channel", || {
                self.api.post("/channels/direct", &pair)
            })
            .await
            .map_err(|e| self.failed("direct channel", &e))?;
        let channel = client::channel_of(&v);
        if channel.id.is_empty() {
            return Err(Status::unavailable(
                "Mattermost: the direct channel has no id",
            ));
        }
        self.with_state(|st| {
            st.dms.insert(user_id.clone(), channel.id.clone());
            st.channels.insert(channel.id.clone(), channel.clone());
        });
        Ok(channel.id)
    }

    /// A user by name.
    async fn user_named(&self, name: &str) -> Result<User, Status> {
        if let Some(u) =
            self.with_state(|st| st.users.values().find(|u| u.username == name).cloned())
        {
            return Ok(u);
        }
        let v = self
            .api
            .get(&format!("/users/username/{name}"))
            .await
            .map_err(|e| self.failed(&format!("user @{name}"), &e))?;
        let user = client::user_of(&v);
        if user.id.is_empty() {
            return Err(Status::not_found(format!("Mattermost: no user @{name}")));
        }
        self.with_state(|st| st.users.insert(user.id.clone(), user.clone()));
        Ok(user)
    }

    /// The root of the thread `thread_id` is in (a reply's id is refused as a `root_id`).
    fn root(&self, thread_id: &str) -> String {
        self.with_state(|st| st.seen.root_of(thread_id).to_owned())
    }

    /// Creates a post, through rate limits and failures; answers its id.
    async fn create_post(&self, body: Value) -> Result<String, Status> {
        let v = self
            .outbox
            .deliver("post", || self.api.post("/posts", &body))
            .await
            .map_err(|e| self.failed("post", &e))?;
        let id = text(&v, "id");
        let root = text(&v, "root_id");
        // The bot's own post comes back on the websocket: known already, it is dropped there.
        self.with_state(|st| st.seen.insert(&id, &root));
        Ok(id)
    }
}

/// The Mattermost adapter.
pub struct Mattermost {
    shared: Arc<Shared>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Mattermost {
    /// Connects; fails when the first connection fails.
    pub async fn start(ctx: Context) -> Result<Arc<Self>, Status> {
        let settings = ctx.checked_settings(Settings::read)?;
        let api = Api::new(&settings).map_err(Status::internal)?;
        let state = State {
            wanted: settings.rooms.iter().cloned().collect(),
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            api,
            ids: Ids {
                backend: ctx.backend.clone(),
            },
            events: ctx.events.clone(),
            outbox: Outbox::new(),
            prefix: ctx.request.bot_prefix.clone(),
            state: Mutex::new(state),
            stop: watch::channel(false).0,
            settings,
        });
        let (first_tx, first_rx) = oneshot::channel();
        let task = tokio::spawn(client::run(shared.clone(), first_tx));
        super::first_connection("mattermost", &ctx.backend, first_rx).await?;
        Ok(Arc::new(Self {
            shared,
            task: tokio::sync::Mutex::new(Some(task)),
        }))
    }
}

#[tonic::async_trait]
impl Adapter for Mattermost {
    fn kind(&self) -> &'static str {
        "mattermost"
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            bot: Some(self.shared.bot()),
            message_size_limit: split::POST_LIMIT as u32,
            limit_in_bytes: false,
            description: format!(
                "Mattermost {} (team {})",
                self.shared.settings.url, self.shared.settings.team
            ),
            nick_prefix: "@{nick} ".to_owned(),
        }
    }

    async fn send(&self, request: SendRequest) -> Result<String, Status> {
        let content = request
            .content
            .as_ref()
            .filter(|c| c.kind.is_some())
            .ok_or_else(|| Status::invalid_argument("content is required"))?;
        let (message, props) = format::post_parts(content)
            .ok_or_else(|| Status::invalid_argument("templates are rendered by errbotd"))?;
        let to = request
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let channel_id = self.shared.channel_for(to).await?;
        let root_id = if request.thread_id.is_empty() {
            String::new()
        } else {
            self.shared.root(&request.thread_id)
        };
        let mut last = String::new();
        for piece in split::split(&message, split::POST_LIMIT) {
            let body = json!({
                "channel_id": channel_id,
                "message": piece,
                "root_id": root_id,
                "props": props,
            });
            last = self.shared.create_post(body).await?;
        }
        Ok(last)
    }

    fn processed(&self, _request: &ProcessedRequest) {}

    fn build_identifier(&self, text: &str) -> Result<Identifier, Status> {
        let parsed = ids::parse(text).map_err(Status::invalid_argument)?;
        let shared = &self.shared;
        let user = |name: &str| {
            shared
                .with_state(|st| st.users.values().find(|u| u.username == name).cloned())
                .unwrap_or_else(|| User {
                    username: name.to_owned(),
                    ..Default::default()
                })
        };
        let channel = |name: &str| {
            shared
                .with_state(|st| {
                    st.channels
                        .values()
                        .find(|c| c.name == name && !c.is_direct())
                        .cloned()
                })
                .unwrap_or_else(|| Channel {
                    name: name.to_owned(),
                    ..Default::default()
                })
        };
        Ok(match parsed {
            Parsed::Person(name) => shared.ids.person(&user(&name)),
            Parsed::Room(name) => shared.ids.room(&channel(&name)),
            Parsed::Occupant(room, name) => shared.ids.occupant(&channel(&room), &user(&name)),
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
        let me = self.shared.with_state(|st| st.me.id.clone());
        let emoji = request.reaction.trim_matches(':').to_owned();
        let post = request.message_id.clone();
        let result = if request.remove {
            let path = format!("/users/{me}/posts/{post}/reactions/{emoji}");
            self.shared
                .outbox
                .deliver("reaction", || {
                    self.shared.api.call(Method::DELETE, &path, None)
                })
                .await
        } else {
            let body = json!({"user_id": me, "post_id": post, "emoji_name": emoji});
            self.shared
                .outbox
                .deliver("reaction", || self.shared.api.post("/reactions", &body))
                .await
        };
        result
            .map(|_| ())
            .map_err(|e| self.shared.failed("reaction", &e))
    }

    async fn set_presence(&self, status: &str, message: &str) -> Result<(), Status> {
        if !matches!(status, "online" | "away" | "dnd" | "offline") {
            return Err(Status::invalid_argument(format!(
                "unknown presence {status:?} (online, away, dnd, offline)"
            )));
        }
        let me = self.shared.with_state(|st| st.me.id.clone());
        let body = json!({"user_id": me, "status": status});
        self.shared
            .api
            .call(Method::PUT, &format!("/users/{me}/status"), Some(&body))
            .await
            .map_err(|e| self.shared.failed("status", &e))?;
        let custom = if message.trim().is_empty() {
            self.shared
                .api
                .call(Method::DELETE, "/users/me/status/custom", None)
                .await
        } else {
            let body = json!({"text": message.trim()});
            self.shared
                .api
                .call(Method::PUT, "/users/me/status/custom", Some(&body))
                .await
        };
        custom
            .map(|_| ())
            .map_err(|e| self.shared.failed("custom status", &e))
    }

    async fn upload(&self, header: FileHeader, data: Vec<u8>) -> Result<String, Status> {
        let to = header
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let channel_id = self.shared.channel_for(to).await?;
        let name: String = url::form_urlencoded::byte_serialize(header.name.as_bytes()).collect();
        let path = format!("/files?channel_id={channel_id}&filename={name}");
        let v = self
            .shared
            .outbox
            .deliver("file", || {
                self.shared.api.call_raw(
                    Method::POST,
                    &path,
                    Some((data.clone(), "application/octet-stream")),
                )
            })
            .await
            .map_err(|e| self.shared.failed("file upload", &e))?;
        let file_id = v
            .get("file_infos")
            .and_then(Value::as_array)
            .and_then(|infos| infos.first())
            .map(|info| text(info, "id"))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Status::unavailable("Mattermost: the upload answer has no file id"))?;
        let root_id = if header.thread_id.is_empty() {
            String::new()
        } else {
            self.shared.root(&header.thread_id)
        };
        self.shared
            .create_post(json!({
                "channel_id": channel_id,
                "message": "",
                "root_id": root_id,
                "file_ids": [file_id],
            }))
            .await
    }
}
