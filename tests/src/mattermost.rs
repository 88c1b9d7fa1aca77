//! A fake Mattermost server for the tests: API v4 over real HTTP on 127.0.0.1 and the real
//! websocket (`/api/v4/websocket`), following the published reference (endpoints, JSON shapes,
//! status codes, AppError bodies, the event envelope `{"event", "data", "broadcast", "seq"}`
//! with `data.post` as a JSON string). Any client can use it: errbot-gateway here, and later
//! mattermostdriver or Errbot's own Mattermost backend.
//!
//! One team (`testteam`), channels `town-square` and `dev` (public) and `secret` (private), the
//! users `errbot` (the bot, token [`BOT_TOKEN`], password [`BOT_PASSWORD`]), `alice` and `bob`.
//! alice and bob log in with the passwords `alice-password` and `bob-password`.
//! The test drives it: people post ([`Fake::post_as`]), the connections are reset, a post is
//! delivered again or edited, the next posts meet a rate limit, tokens expire; and it reads what
//! the bot posted ([`Fake::wait_post`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// The bot's personal access token.
pub const BOT_TOKEN: &str = "bottoken000000000000000000";
/// The bot's password (for login).
pub const BOT_PASSWORD: &str = "bot-password";
/// The team's name.
pub const TEAM: &str = "testteam";
/// The longest post, in characters (the server's PostMessageMaxRunesV2).
pub const POST_LIMIT: usize = 16_383;

/// A user of the fake server.
#[derive(Clone, Debug)]
pub struct User {
    /// Id.
    pub id: String,
    /// User name.
    pub username: String,
}

struct Conn {
    user_id: String,
    tx: mpsc::UnboundedSender<WsMessage>,
    /// Closing this ends the connection abruptly (a reset: no close frame).
    kill: mpsc::UnboundedSender<()>,
}

#[derive(Default)]
struct Inner {
    users: Vec<Value>,
    passwords: HashMap<String, String>,
    /// Session tokens -> user id.
    sessions: HashMap<String, String>,
    team: Value,
    channels: BTreeMap<String, Value>,
    members: HashMap<String, BTreeSet<String>>,
    posts: BTreeMap<String, Value>,
    /// Post ids in creation order.
    order: Vec<String>,
    reactions: Vec<Value>,
    statuses: HashMap<String, String>,
    files: HashMap<String, (String, Vec<u8>)>,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    next_id: u64,
    /// The next create-post requests answered 429.
    rate_limit_posts: u32,
    /// 429 answers given.
    rate_limited: u32,
    /// Every request, as "METHOD /path".
    requests: Vec<String>,
    /// Websocket pings the server received (protocol pings and `ping` actions).
    pings_received: u32,
    /// Milliseconds of the last timestamp handed out (timestamps strictly increase).
    last_ms: i64,
    /// The `connection_id` and `sequence_number` clients asked to resume.
    resumes: Vec<(String, String)>,
    /// Connections gone silent: they send nothing and read nothing, but stay open.
    frozen: BTreeSet<u64>,
    /// The rate limiter, once a test turns it on.
    window: Option<Window>,
}

/// A rate-limit window: `limit` requests per second (for every session together: the tests
/// have one client at a time).
#[derive(Default)]
struct Window {
    limit: u32,
    used: u32,
    started: Option<std::time::Instant>,
}

impl Window {
    /// Counts a request: `Ok(remaining)`, or `Err(seconds until the window resets)`.
    fn take(&mut self) -> Result<u32, u64> {
        let now = std::time::Instant::now();
        if self
            .started
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.started = Some(now);
            self.used = 0;
        }
        if self.used >= self.limit {
            return Err(1);
        }
        self.used += 1;
        Ok(self.limit - self.used)
    }
}

impl Inner {
    fn id(&mut self, kind: char) -> String {
        self.next_id += 1;
        format!("{kind}{:0>25}", self.next_id)
    }

    fn now(&mut self) -> i64 {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.last_ms = ms.max(self.last_ms + 1);
        self.last_ms
    }

    fn user(&self, id: &str) -> Option<&Value> {
        self.users.iter().find(|u| u["id"] == id)
    }

    fn user_named(&self, name: &str) -> Option<&Value> {
        self.users.iter().find(|u| u["username"] == name)
    }

    fn add_user(&mut self, username: &str, first: &str, last: &str) -> String {
        let id = self.id('u');
        let now = self.now();
        self.users.push(json!({
            "id": id, "create_at": now, "update_at": now, "delete_at": 0,
            "username": username, "auth_data": "", "auth_service": "",
            "email": format!("{username}@example.com"), "nickname": "",
            "first_name": first, "last_name": last, "position": "", "roles": "system_user",
            "locale": "en", "timezone": {},
        }));
        id
    }

    fn add_channel(&mut self, name: &str, display: &str, kind: &str, team_id: &str) -> String {
        let id = self.id('c');
        let now = self.now();
        self.channels.insert(
            id.clone(),
            json!({
                "id": id, "create_at": now, "update_at": now, "delete_at": 0,
                "team_id": team_id, "type": kind, "display_name": display, "name": name,
                "header": "", "purpose": "", "last_post_at": 0, "total_msg_count": 0,
                "extra_update_at": 0, "creator_id": "",
            }),
        );
        id
    }

    /// Sends an event to every connection of the members of `channel_id`.
    fn broadcast(&mut self, event: &str, data: Value, channel_id: &str) {
        let members = self.members.get(channel_id).cloned().unwrap_or_default();
        let team_id = self.team["id"].as_str().unwrap_or("").to_owned();
        for conn in self.conns.values() {
            if members.contains(&conn.user_id) {
                let envelope = json!({
                    "event": event,
                    "data": data,
                    "broadcast": {
                        "omit_users": null, "user_id": "", "channel_id": channel_id,
                        "team_id": team_id, "connection_id": "", "omit_connection_id": "",
                    },
                    // Filled per connection by its writer.
                    "seq": 0,
                });
                let _ = conn.tx.send(WsMessage::text(envelope.to_string()));
            }
        }
    }

    /// Sends an event to every connection (`broadcast` names no channel: a user-wide event
    /// such as `status_change` or `user_updated`), or only to `user_id`'s when not empty.
    fn broadcast_users(&mut self, event: &str, data: Value, user_id: &str) {
        for conn in self.conns.values() {
            if user_id.is_empty() || conn.user_id == user_id {
                let envelope = json!({
                    "event": event,
                    "data": data,
                    "broadcast": {
                        "omit_users": null, "user_id": user_id, "channel_id": "", "team_id": "",
                        "connection_id": "", "omit_connection_id": "",
                    },
                    "seq": 0,
                });
                let _ = conn.tx.send(WsMessage::text(envelope.to_string()));
            }
        }
    }

    /// Adds `user_id` to a channel; a new member is announced (`user_added`) to the channel.
    fn add_member(&mut self, channel_id: &str, user_id: &str) {
        let added = self
            .members
            .entry(channel_id.to_owned())
            .or_default()
            .insert(user_id.to_owned());
        if added {
            let team_id = self.team["id"].clone();
            self.broadcast(
                "user_added",
                json!({"team_id": team_id, "user_id": user_id}),
                channel_id,
            );
        }
    }

    /// Removes `user_id` from a channel (by `remover_id`): `user_removed` goes to the channel's
    /// remaining members and to the person removed, each in its own shape.
    fn remove_member(&mut self, channel_id: &str, user_id: &str, remover_id: &str) -> bool {
        let removed = self
            .members
            .get_mut(channel_id)
            .is_some_and(|m| m.remove(user_id));
        if removed {
            self.broadcast(
                "user_removed",
                json!({"remover_id": remover_id, "user_id": user_id}),
                channel_id,
            );
            self.broadcast_users(
                "user_removed",
                json!({"channel_id": channel_id, "remover_id": remover_id}),
                user_id,
            );
        }
        removed
    }

    fn posted_data(&self, post: &Value) -> Value {
        let channel = &self.channels[post["channel_id"].as_str().unwrap_or("")];
        let sender = self
            .user(post["user_id"].as_str().unwrap_or(""))
            .map(|u| format!("@{}", u["username"].as_str().unwrap_or("")))
            .unwrap_or_default();
        let message = post["message"].as_str().unwrap_or("");
        let mentioned: Vec<String> = self
            .users
            .iter()
            .filter(|u| {
                let name = u["username"].as_str().unwrap_or("");
                message.contains(&format!("@{name}"))
            })
            .map(|u| u["id"].as_str().unwrap_or("").to_owned())
            .collect();
        let mut data = json!({
            "channel_display_name": channel["display_name"],
            "channel_name": channel["name"],
            "channel_type": channel["type"],
            "post": post.to_string(),
            "sender_name": sender,
            "set_online": true,
            "team_id": channel["team_id"],
        });
        if !mentioned.is_empty() {
            data["mentions"] = Value::String(json!(mentioned).to_string());
        }
        data
    }

    /// Validates and stores a post; answers it, or the AppError.
    fn create_post(&mut self, user_id: &str, body: &Value) -> Result<Value, (StatusCode, Value)> {
        let channel_id = body["channel_id"].as_str().unwrap_or("").to_owned();
        let message = body["message"].as_str().unwrap_or("").to_owned();
        let root_id = body["root_id"].as_str().unwrap_or("").to_owned();
        if !self.channels.contains_key(&channel_id) {
            return Err(app_error(
                StatusCode::BAD_REQUEST,
                "api.context.invalid_body_param.app_error",
                "Invalid or missing channel_id in request body.",
            ));
        }
        if !self
            .members
            .get(&channel_id)
            .is_some_and(|m| m.contains(user_id))
        {
            return Err(app_error(
                StatusCode::FORBIDDEN,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            ));
        }
        if message.chars().count() > POST_LIMIT {
            return Err(app_error(
                StatusCode::BAD_REQUEST,
                "model.post.is_valid.msg.app_error",
                "Invalid Message.",
            ));
        }
        if !root_id.is_empty() {
            let ok = self.posts.get(&root_id).is_some_and(|root| {
                root["root_id"] == "" && root["channel_id"] == channel_id.as_str()
            });
            if !ok {
                return Err(app_error(
                    StatusCode::BAD_REQUEST,
                    "api.post.create_post.root_id.app_error",
                    "Invalid RootId parameter.",
                ));
            }
        }
        let file_ids = body.get("file_ids").cloned().unwrap_or(json!([]));
        let props = body.get("props").cloned().unwrap_or(json!({}));
        Ok(self.store_post(user_id, &channel_id, &message, &root_id, props, file_ids))
    }

    fn store_post(
        &mut self,
        user_id: &str,
        channel_id: &str,
        message: &str,
        root_id: &str,
        props: Value,
        file_ids: Value,
    ) -> Value {
        let id = self.id('p');
        let now = self.now();
        let post = json!({
            "id": id, "create_at": now, "update_at": now, "edit_at": 0, "delete_at": 0,
            "is_pinned": false, "user_id": user_id, "channel_id": channel_id,
            "root_id": root_id, "original_id": "", "message": message, "type": "",
            "props": props, "hashtags": "", "pending_post_id": "", "reply_count": 0,
            "file_ids": file_ids, "metadata": {},
        });
        self.posts.insert(id.clone(), post.clone());
        self.order.push(id);
        let data = self.posted_data(&post);
        self.broadcast("posted", data, channel_id);
        post
    }
}

fn app_error(status: StatusCode, id: &str, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({
            "id": id, "message": message, "detailed_error": "", "request_id": "fake",
            "status_code": status.as_u16(),
        }),
    )
}

type Answer = Result<(StatusCode, Value), (StatusCode, Value)>;

fn reply(answer: Answer) -> Response {
    match answer {
        Ok((status, body)) | Err((status, body)) => (
            status,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response(),
    }
}

/// The fake server; dropping it stops it.
#[derive(Clone)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    addr: SocketAddr,
    scheme: &'static str,
    /// The bot's user.
    pub bot: User,
    /// alice.
    pub alice: User,
    /// bob.
    pub bob: User,
}

type Shared = (Arc<Mutex<Inner>>, Arc<Notify>);

/// Accepts TLS connections (the fake server over HTTPS).
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client refusing the certificate fails its handshake: the next one is served.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl Fake {
    /// Starts a server on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts a server over HTTPS with a self-signed certificate for 127.0.0.1, made by
    /// openssl into `dir` (`cert.pem`, which a client may be told to trust).
    pub async fn start_tls(dir: &std::path::Path) -> Self {
        crate::self_signed_certificate(dir);
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("cert.pem"))
            .expect("cert.pem")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificates");
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("key.pem");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("the certificate");
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let mut inner = Inner::default();
        let bot = inner.add_user("errbot", "Err", "Bot");
        let alice = inner.add_user("alice", "Alice", "Liddell");
        let bob = inner.add_user("bob", "Bob", "Builder");
        inner.passwords.insert("errbot".into(), BOT_PASSWORD.into());
        // People log in too (`{name}-password`), so that an outside client can post as them.
        inner
            .passwords
            .insert("alice".into(), "alice-password".into());
        inner.passwords.insert("bob".into(), "bob-password".into());
        inner.sessions.insert(BOT_TOKEN.into(), bot.clone());
        let team_id = inner.id('t');
        inner.team = json!({
            "id": team_id, "create_at": 0, "update_at": 0, "delete_at": 0,
            "display_name": "Test Team", "name": TEAM, "description": "", "email": "",
            "type": "O", "allowed_domains": "", "invite_id": "", "allow_open_invite": true,
        });
        for (name, display, kind) in [
            ("town-square", "Town Square", "O"),
            ("dev", "Developers", "O"),
            ("secret", "Secret", "P"),
        ] {
            let id = inner.add_channel(name, display, kind, &team_id);
            let mut m = BTreeSet::from([alice.clone(), bob.clone()]);
            if kind == "P" {
                m.insert(bot.clone());
            }
            inner.members.insert(id, m);
        }
        let inner = Arc::new(Mutex::new(inner));
        let changed = Arc::new(Notify::new());
        let state: Shared = (inner.clone(), changed.clone());
        let app = Router::new()
            .route("/api/v4/users/login", post(login))
            .route("/api/v4/users/me", get(me))
            .route("/api/v4/users/{id}", get(user_by_id))
            .route("/api/v4/users/username/{name}", get(user_by_name))
            .route("/api/v4/users/{id}/status", put(set_status))
            .route(
                "/api/v4/users/me/status/custom",
                put(custom_status).delete(custom_status),
            )
            .route("/api/v4/teams/name/{name}", get(team_by_name))
            .route(
                "/api/v4/teams/{team}/channels/name/{name}",
                get(channel_by_name),
            )
            .route("/api/v4/teams/{team}/channels", get(public_channels))
            .route("/api/v4/users", get(users_in_channel))
            .route("/api/v4/users/me/teams/{team}/channels", get(my_channels))
            .route("/api/v4/channels", post(create_channel))
            .route(
                "/api/v4/channels/{id}/members/{user}",
                delete(remove_member),
            )
            .route("/api/v4/channels/{id}/patch", put(patch_channel))
            .route("/api/v4/channels/direct", post(direct))
            .route(
                "/api/v4/channels/{id}",
                get(channel_by_id).delete(archive_channel),
            )
            .route("/api/v4/channels/{id}/members", post(add_member))
            .route("/api/v4/channels/{id}/posts", get(channel_posts))
            .route("/api/v4/posts", post(create_post))
            .route("/api/v4/reactions", post(add_reaction))
            .route(
                "/api/v4/users/{user}/posts/{post}/reactions/{emoji}",
                delete(remove_reaction),
            )
            .route("/api/v4/files", post(upload))
            .route("/api/v4/websocket", get(websocket))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                rate_limiter,
            ))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Mattermost");
        let addr = listener.local_addr().expect("its address");
        let scheme = if tls.is_some() { "https" } else { "http" };
        match tls {
            None => {
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
            }
            Some(acceptor) => {
                let listener = TlsListener {
                    tcp: listener,
                    acceptor,
                };
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
            }
        }
        let user = |id: String, name: &str| User {
            id,
            username: name.into(),
        };
        Self {
            inner,
            changed,
            addr,
            scheme,
            bot: user(bot, "errbot"),
            alice: user(alice, "alice"),
            bob: user(bob, "bob"),
        }
    }

    /// Reads the state (waiters are not woken).
    fn read<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        f(&self.inner.lock().expect("fake state"))
    }

    /// Changes the state and wakes the waiters.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let r = f(&mut self.inner.lock().expect("fake state"));
        self.changed.notify_waiters();
        r
    }

    /// `http://127.0.0.1:PORT` (`https://` over TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// A channel's id by name.
    pub fn channel_id(&self, name: &str) -> String {
        self.read(|s| {
            s.channels
                .values()
                .find(|c| c["name"] == name)
                .and_then(|c| c["id"].as_str())
                .expect("channel")
                .to_owned()
        })
    }

    /// `user` writes `message` in channel `channel` (by name), in the thread of `root_id` if
    /// not empty; the post is stored and broadcast. Returns it.
    pub fn post_as(&self, user: &User, channel: &str, message: &str, root_id: &str) -> Value {
        let channel_id = self.channel_id(channel);
        self.with(|s| {
            s.store_post(
                &user.id,
                &channel_id,
                message,
                root_id,
                json!({}),
                json!([]),
            )
        })
    }

    /// `user` writes privately to the bot (the direct channel is made as the server would).
    pub fn dm_as(&self, user: &User, message: &str) -> Value {
        let bot = self.bot.id.clone();
        self.with(|s| {
            let channel_id = direct_channel(s, &user.id, &bot);
            s.store_post(&user.id, &channel_id, message, "", json!({}), json!([]))
        })
    }

    /// Sends a stored post's `posted` event again (as after a reconnection).
    pub fn redeliver(&self, post_id: &str) {
        self.with(|s| {
            let post = s.posts[post_id].clone();
            let data = s.posted_data(&post);
            let channel = post["channel_id"].as_str().unwrap_or("").to_owned();
            s.broadcast("posted", data, &channel);
        });
    }

    /// Edits a post: its message changes and `post_edited` is broadcast.
    pub fn edit(&self, post_id: &str, message: &str) {
        self.with(|s| {
            let now = s.now();
            let Some(post) = s.posts.get_mut(post_id) else {
                return;
            };
            post["message"] = json!(message);
            post["edit_at"] = json!(now);
            post["update_at"] = json!(now);
            let post = post.clone();
            let channel = post["channel_id"].as_str().unwrap_or("").to_owned();
            s.broadcast("post_edited", json!({"post": post.to_string()}), &channel);
        });
    }

    /// Resets every websocket connection (no close frame, as a network failure).
    pub fn reset_connections(&self) {
        self.with(|s| {
            for (_, c) in s.conns.drain() {
                let _ = c.kill.send(());
            }
        });
    }

    /// `user` reacts to a post with `emoji`: stored and `reaction_added` broadcast.
    pub fn react_as(&self, user: &User, post_id: &str, emoji: &str) {
        self.with(|s| {
            let now = s.now();
            let r = json!({"user_id": user.id, "post_id": post_id, "emoji_name": emoji,
                "create_at": now});
            s.reactions.push(r.clone());
            let channel = s.posts[post_id]["channel_id"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            s.broadcast(
                "reaction_added",
                json!({"reaction": r.to_string()}),
                &channel,
            );
        });
    }

    /// `user` joins channel `name` (`user_added` is broadcast).
    pub fn add_to_channel(&self, user: &User, name: &str) {
        let id = self.channel_id(name);
        self.with(|s| s.add_member(&id, &user.id));
    }

    /// `remover` removes `user` from channel `name` (`user_removed` is broadcast).
    pub fn remove_from_channel(&self, user: &User, name: &str, remover: &User) {
        let id = self.channel_id(name);
        self.with(|s| s.remove_member(&id, &user.id, &remover.id));
    }

    /// `user`'s status changes (`status_change` goes to every connection).
    pub fn set_status_as(&self, user: &User, status: &str) {
        self.with(|s| {
            s.statuses.insert(user.id.clone(), status.to_owned());
            s.broadcast_users(
                "status_change",
                json!({"status": status, "user_id": user.id}),
                "",
            );
        });
    }

    /// `user` takes the user name `new_name` (`user_updated` goes to every connection, with
    /// the user sanitised as the server does: no e-mail address, no auth data).
    pub fn rename(&self, user: &User, new_name: &str) -> User {
        self.with(|s| {
            let now = s.now();
            let Some(u) = s.users.iter_mut().find(|u| u["id"] == user.id.as_str()) else {
                return;
            };
            u["username"] = json!(new_name);
            u["update_at"] = json!(now);
            let mut public = u.clone();
            public["email"] = json!("");
            public["auth_data"] = json!("");
            s.broadcast_users("user_updated", json!({"user": public}), "");
        });
        User {
            id: user.id.clone(),
            username: new_name.to_owned(),
        }
    }

    /// Deletes a post: `delete_at` is set and `post_deleted` is broadcast.
    pub fn delete_post(&self, post_id: &str) {
        self.with(|s| {
            let now = s.now();
            let Some(post) = s.posts.get_mut(post_id) else {
                return;
            };
            post["delete_at"] = json!(now);
            post["update_at"] = json!(now);
            let post = post.clone();
            let channel = post["channel_id"].as_str().unwrap_or("").to_owned();
            s.broadcast("post_deleted", json!({"post": post.to_string()}), &channel);
        });
    }

    /// `user` writes `message` in the group message with `others` and the bot (the group
    /// channel is made as the server would: type `G`, named after its members).
    pub fn group_post_as(&self, user: &User, others: &[&User], message: &str) -> Value {
        let mut ids: Vec<String> = others.iter().map(|u| u.id.clone()).collect();
        ids.push(user.id.clone());
        ids.push(self.bot.id.clone());
        self.with(|s| {
            let channel_id = group_channel(s, ids);
            s.store_post(&user.id, &channel_id, message, "", json!({}), json!([]))
        })
    }

    /// From now on every request counts against a window of `limit` requests per second and
    /// session, reported in `X-Ratelimit-Limit`, `-Remaining` and `-Reset` on every answer,
    /// as the server's rate limiter does; a request over the limit is answered 429.
    pub fn rate_window(&self, limit: u32) {
        self.with(|s| {
            s.window = Some(Window {
                limit,
                ..Window::default()
            })
        });
    }

    /// Every reaction, as the server stores them.
    pub fn reactions(&self) -> Vec<Value> {
        self.read(|s| s.reactions.clone())
    }

    /// A user's status (`online`, `away`...), if it was set.
    pub fn status_of(&self, user_id: &str) -> Option<String> {
        self.read(|s| s.statuses.get(user_id).cloned())
    }

    /// An uploaded file's name and bytes.
    pub fn file(&self, id: &str) -> Option<(String, Vec<u8>)> {
        self.read(|s| s.files.get(id).cloned())
    }

    /// A channel as the server has it now (by name, archived ones too).
    pub fn channel(&self, name: &str) -> Value {
        self.read(|s| {
            s.channels
                .values()
                .find(|c| c["name"] == name)
                .cloned()
                .expect("channel")
        })
    }

    /// Whether `user_id` is a member of channel `name`.
    pub fn is_member(&self, name: &str, user_id: &str) -> bool {
        let id = self.channel_id(name);
        self.read(|s| s.members.get(&id).is_some_and(|m| m.contains(user_id)))
    }

    /// Every open connection goes silent (no event, no ping, no answer) without closing, as a
    /// connection dropped somewhere on the way.
    pub fn freeze_connections(&self) {
        self.with(|s| {
            let ids: Vec<u64> = s.conns.keys().copied().collect();
            for id in ids {
                s.conns.remove(&id);
                s.frozen.insert(id);
            }
        });
    }

    /// Open websocket connections (silent ones aside).
    pub fn connections(&self) -> usize {
        self.read(|s| s.conns.len())
    }

    /// The next `n` create-post requests are answered 429.
    pub fn rate_limit_posts(&self, n: u32) {
        self.with(|s| s.rate_limit_posts = n);
    }

    /// How many 429 answers were given.
    pub fn rate_limited(&self) -> u32 {
        self.read(|s| s.rate_limited)
    }

    /// The `connection_id` and `sequence_number` of each reconnection that asked to resume.
    pub fn resumes(&self) -> Vec<(String, String)> {
        self.read(|s| s.resumes.clone())
    }

    /// Pings the server received from clients.
    pub fn pings_received(&self) -> u32 {
        self.read(|s| s.pings_received)
    }

    /// Every session token stops working (a password login makes a new one).
    pub fn expire_sessions(&self) {
        self.with(|s| s.sessions.clear());
    }

    /// Every request so far, as "METHOD /path".
    pub fn requests(&self) -> Vec<String> {
        self.read(|s| s.requests.clone())
    }

    /// Posts `user_id` wrote, in order.
    pub fn posts_by(&self, user_id: &str) -> Vec<Value> {
        self.read(|s| {
            s.order
                .iter()
                .map(|id| s.posts[id].clone())
                .filter(|p| p["user_id"] == user_id)
                .collect()
        })
    }

    /// Waits until the bot has written a post matching `pred` (at most `timeout`).
    pub async fn wait_post(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            assert!(
                tokio::time::Instant::now() < deadline,
                "no post of the bot matched within {timeout:?}; the bot wrote {:#?}",
                self.posts_by(&self.bot.id)
            );
            if let Some(p) = self.posts_by(&self.bot.id).into_iter().find(|p| pred(p)) {
                return p;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no post of the bot matched within {timeout:?}; the bot wrote {:#?}",
                    self.posts_by(&self.bot.id)
                );
            }
        }
    }

    /// Waits until `cond` holds (at most `timeout`).
    pub async fn wait_until(&self, timeout: Duration, cond: impl Fn(&Fake) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !cond(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not met within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn direct_channel(s: &mut Inner, a: &str, b: &str) -> String {
    let mut pair = [a.to_owned(), b.to_owned()];
    pair.sort();
    let name = format!("{}__{}", pair[0], pair[1]);
    if let Some(id) = s
        .channels
        .values()
        .find(|c| c["name"] == name.as_str())
        .and_then(|c| c["id"].as_str())
    {
        return id.to_owned();
    }
    let id = s.add_channel(&name, "", "D", "");
    s.members.insert(id.clone(), BTreeSet::from(pair));
    id
}

/// The group channel of `ids` (3 to 8 people), made when missing. Its name is a 40-digit hex
/// string that depends only on the members, as the server's (a SHA-1 there).
fn group_channel(s: &mut Inner, mut ids: Vec<String>) -> String {
    ids.sort();
    ids.dedup();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ids.join(",").bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let name = format!("{h:016x}{:024x}", h.rotate_left(17) as u128 * 0x9e37);
    if let Some(id) = s
        .channels
        .values()
        .find(|c| c["name"] == name.as_str())
        .and_then(|c| c["id"].as_str())
    {
        return id.to_owned();
    }
    let id = s.add_channel(&name, "", "G", "");
    s.members
        .insert(id.clone(), ids.into_iter().collect::<BTreeSet<_>>());
    id
}

/// The session's user, or the 401 answer.
fn session(s: &mut Inner, headers: &HeaderMap, what: &str) -> Result<String, (StatusCode, Value)> {
    s.requests.push(what.to_owned());
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or("");
    s.sessions.get(token).cloned().ok_or_else(|| {
        app_error(
            StatusCode::UNAUTHORIZED,
            "api.context.session_expired.app_error",
            "Invalid or expired session, please login again.",
        )
    })
}

fn not_found_error() -> (StatusCode, Value) {
    app_error(
        StatusCode::NOT_FOUND,
        "app.channel.get_by_name.missing.app_error",
        "Unable to find the existing channel.",
    )
}

async fn not_found() -> Response {
    reply(Err(app_error(
        StatusCode::NOT_FOUND,
        "api.context.404.app_error",
        "Sorry, we could not find the page.",
    )))
}

async fn login(State((inner, n)): State<Shared>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = inner.lock().expect("fake state");
    s.requests.push("POST /users/login".into());
    let login = body["login_id"].as_str().unwrap_or("");
    let ok = s
        .passwords
        .get(login)
        .is_some_and(|p| body["password"] == p.as_str());
    let user = s.user_named(login).cloned();
    let (true, Some(user)) = (ok, user) else {
        return reply(Err(app_error(
            StatusCode::UNAUTHORIZED,
            "api.user.login.invalid_credentials_email_username",
            "Enter a valid email or username and/or password.",
        )));
    };
    let token = s.id('s');
    let uid = user["id"].as_str().unwrap_or("").to_owned();
    s.sessions.insert(token.clone(), uid);
    n.notify_waiters();
    let mut resp = reply(Ok((StatusCode::OK, user)));
    if let Ok(v) = HeaderValue::from_str(&token) {
        resp.headers_mut().insert("token", v);
    }
    resp
}

async fn me(State((inner, _)): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(session(&mut s, &headers, "GET /users/me").and_then(|uid| {
        s.user(&uid)
            .cloned()
            .map(|u| (StatusCode::OK, u))
            .ok_or_else(not_found_error)
    }))
}

async fn user_by_id(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(session(&mut s, &headers, "GET /users/{id}").and_then(|_| {
        s.user(&id)
            .cloned()
            .map(|u| (StatusCode::OK, u))
            .ok_or_else(|| {
                app_error(
                    StatusCode::NOT_FOUND,
                    "app.user.missing_account.const",
                    "Unable to find the user.",
                )
            })
    }))
}

async fn user_by_name(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(
        session(&mut s, &headers, "GET /users/username/{name}").and_then(|_| {
            s.user_named(&name)
                .cloned()
                .map(|u| (StatusCode::OK, u))
                .ok_or_else(|| {
                    app_error(
                        StatusCode::NOT_FOUND,
                        "app.user.missing_account.const",
                        "Unable to find the user.",
                    )
                })
        }),
    )
}

async fn set_status(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "PUT /users/{id}/status").and_then(|uid| {
        let status = body["status"].as_str().unwrap_or("");
        if uid != id || !["online", "away", "dnd", "offline"].contains(&status) {
            return Err(app_error(
                StatusCode::BAD_REQUEST,
                "api.context.invalid_body_param.app_error",
                "Invalid status.",
            ));
        }
        s.statuses.insert(uid.clone(), status.to_owned());
        Ok((
            StatusCode::OK,
            json!({"user_id": uid, "status": status, "manual": true, "last_activity_at": 0}),
        ))
    });
    n.notify_waiters();
    reply(answer)
}

async fn custom_status(State((inner, _)): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(
        session(&mut s, &headers, "custom status")
            .map(|_| (StatusCode::OK, json!({"status": "OK"}))),
    )
}

async fn team_by_name(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(
        session(&mut s, &headers, "GET /teams/name/{name}").and_then(|_| {
            if s.team["name"] == name.as_str() {
                Ok((StatusCode::OK, s.team.clone()))
            } else {
                Err(app_error(
                    StatusCode::NOT_FOUND,
                    "app.team.get_by_name.missing.app_error",
                    "Unable to find the existing team.",
                ))
            }
        }),
    )
}

async fn channel_by_name(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Path((team, name)): Path<(String, String)>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(
        session(&mut s, &headers, "GET /teams/{team}/channels/name/{name}").and_then(|uid| {
            let c = s
                .channels
                .values()
                .find(|c| {
                    c["team_id"] == team.as_str()
                        && c["name"] == name.as_str()
                        && c["delete_at"] == 0
                })
                .cloned()
                .ok_or_else(not_found_error)?;
            // A private channel is only visible to its members.
            let id = c["id"].as_str().unwrap_or("");
            if c["type"] == "P" && !s.members.get(id).is_some_and(|m| m.contains(&uid)) {
                return Err(not_found_error());
            }
            Ok((StatusCode::OK, c))
        }),
    )
}

async fn channel_by_id(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(
        session(&mut s, &headers, "GET /channels/{id}").and_then(|uid| {
            let c = s.channels.get(&id).cloned().ok_or_else(not_found_error)?;
            if c["type"] != "O" && !s.members.get(&id).is_some_and(|m| m.contains(&uid)) {
                return Err(app_error(
                    StatusCode::FORBIDDEN,
                    "api.context.permissions.app_error",
                    "You do not have the appropriate permissions.",
                ));
            }
            Ok((StatusCode::OK, c))
        }),
    )
}

async fn add_member(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "POST /channels/{id}/members").and_then(|uid| {
        let user_id = body["user_id"].as_str().unwrap_or("").to_owned();
        let c = s.channels.get(&id).cloned().ok_or_else(not_found_error)?;
        if s.user(&user_id).is_none() {
            return Err(app_error(
                StatusCode::BAD_REQUEST,
                "api.context.invalid_body_param.app_error",
                "Invalid or missing user_id in request body.",
            ));
        }
        let members = s.members.entry(id.clone()).or_default();
        if c["type"] != "O" && !members.contains(&uid) {
            return Err(app_error(
                StatusCode::FORBIDDEN,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            ));
        }
        s.add_member(&id, &user_id);
        Ok((
            StatusCode::CREATED,
            json!({
                "channel_id": id, "user_id": user_id, "roles": "channel_user",
                "last_viewed_at": 0, "msg_count": 0, "mention_count": 0,
                "notify_props": {}, "last_update_at": 0,
            }),
        ))
    });
    n.notify_waiters();
    reply(answer)
}

async fn direct(State((inner, n)): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "POST /channels/direct").and_then(|uid| {
        let ids: Vec<String> = body
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if ids.len() != 2 || !ids.contains(&uid) || ids.iter().any(|i| s.user(i).is_none()) {
            return Err(app_error(
                StatusCode::BAD_REQUEST,
                "api.context.invalid_body_param.app_error",
                "Invalid or missing user_ids in request body.",
            ));
        }
        let id = direct_channel(&mut s, &ids[0], &ids[1]);
        Ok((StatusCode::CREATED, s.channels[&id].clone()))
    });
    n.notify_waiters();
    reply(answer)
}

async fn channel_posts(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(
        session(&mut s, &headers, "GET /channels/{id}/posts").and_then(|uid| {
            if !s.members.get(&id).is_some_and(|m| m.contains(&uid)) {
                return Err(app_error(
                    StatusCode::FORBIDDEN,
                    "api.context.permissions.app_error",
                    "You do not have the appropriate permissions.",
                ));
            }
            let since: i64 = q.get("since").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut order = Vec::new();
            let mut posts = serde_json::Map::new();
            // Newest first, as the server orders them.
            for pid in s.order.iter().rev() {
                let p = &s.posts[pid];
                if p["channel_id"] == id.as_str() && p["update_at"].as_i64().unwrap_or(0) > since {
                    order.push(json!(pid));
                    posts.insert(pid.clone(), p.clone());
                }
            }
            Ok((
                StatusCode::OK,
                json!({"order": order, "posts": posts, "next_post_id": "", "prev_post_id": ""}),
            ))
        }),
    )
}

async fn create_post(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = inner.lock().expect("fake state");
    let uid = match session(&mut s, &headers, "POST /posts") {
        Ok(uid) => uid,
        Err(e) => return reply(Err(e)),
    };
    if s.rate_limit_posts > 0 {
        s.rate_limit_posts -= 1;
        s.rate_limited += 1;
        n.notify_waiters();
        let mut resp = reply(Err(app_error(
            StatusCode::TOO_MANY_REQUESTS,
            "api.context.rate_limit",
            "limit exceeded",
        )));
        for (k, v) in [
            ("retry-after", "1"),
            ("x-ratelimit-limit", "10"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1"),
        ] {
            resp.headers_mut().insert(k, HeaderValue::from_static(v));
        }
        return resp;
    }
    let answer = s.create_post(&uid, &body).map(|p| (StatusCode::CREATED, p));
    n.notify_waiters();
    reply(answer)
}

async fn add_reaction(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "POST /reactions").and_then(|uid| {
        let post_id = body["post_id"].as_str().unwrap_or("").to_owned();
        let Some(post) = s.posts.get(&post_id).cloned() else {
            return Err(app_error(StatusCode::BAD_REQUEST, "api.context.invalid_body_param.app_error", "Invalid or missing post_id in request body."));
        };
        if body["user_id"] != uid.as_str() || body["emoji_name"].as_str().unwrap_or("").is_empty() {
            return Err(app_error(StatusCode::BAD_REQUEST, "api.context.invalid_body_param.app_error", "Invalid reaction."));
        }
        let now = s.now();
        let r = json!({"user_id": uid, "post_id": post_id, "emoji_name": body["emoji_name"], "create_at": now});
        s.reactions.push(r.clone());
        let channel = post["channel_id"].as_str().unwrap_or("").to_owned();
        s.broadcast("reaction_added", json!({"reaction": r.to_string()}), &channel);
        Ok((StatusCode::OK, r))
    });
    n.notify_waiters();
    reply(answer)
}

async fn remove_reaction(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    Path((user, post, emoji)): Path<(String, String, String)>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "DELETE reaction").map(|_| {
        s.reactions.retain(|r| {
            !(r["user_id"] == user.as_str()
                && r["post_id"] == post.as_str()
                && r["emoji_name"] == emoji.as_str())
        });
        (StatusCode::OK, json!({"status": "OK"}))
    });
    n.notify_waiters();
    reply(answer)
}

/// `POST /files`: the raw body with `?channel_id=&filename=`, or a multipart form with a
/// `channel_id` field and one or more `files` parts (what the official clients send).
async fn upload(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    request: axum::extract::Request,
) -> Response {
    let bad = || {
        app_error(
            StatusCode::BAD_REQUEST,
            "api.file.upload_file.bad_parse.app_error",
            "Unable to upload file.",
        )
    };
    let multipart = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut channel_id = q.get("channel_id").cloned().unwrap_or_default();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if multipart {
        use axum::extract::FromRequest;
        let Ok(mut form) = axum::extract::Multipart::from_request(request, &()).await else {
            return reply(Err(bad()));
        };
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().unwrap_or("").to_owned();
            let Ok(data) = field.bytes().await else {
                return reply(Err(bad()));
            };
            match name.as_str() {
                "channel_id" => channel_id = String::from_utf8_lossy(&data).into_owned(),
                "files" => files.push((file_name, data.to_vec())),
                _ => {}
            }
        }
    } else {
        let Ok(body) = axum::body::to_bytes(request.into_body(), 64 << 20).await else {
            return reply(Err(bad()));
        };
        files.push((
            q.get("filename").cloned().unwrap_or_default(),
            body.to_vec(),
        ));
    }
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "POST /files").and_then(|uid| {
        if !s.members.get(&channel_id).is_some_and(|m| m.contains(&uid))
            || files.is_empty()
            || files.iter().any(|(name, _)| name.is_empty())
        {
            return Err(bad());
        }
        let mut infos = Vec::new();
        for (name, data) in files {
            let id = s.id('f');
            let now = s.now();
            infos.push(
                json!({"id": id, "user_id": uid, "post_id": "", "create_at": now,
                "update_at": now, "delete_at": 0, "name": name, "extension": "",
                "size": data.len(), "mime_type": "application/octet-stream"}),
            );
            s.files.insert(id, (name, data));
        }
        Ok((
            StatusCode::CREATED,
            json!({"file_infos": infos, "client_ids": []}),
        ))
    });
    n.notify_waiters();
    reply(answer)
}

async fn websocket(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let preauth = {
        let mut s = inner.lock().expect("fake state");
        // Resumption is not offered: a new connection always starts with a new hello.
        if let Some(id) = q.get("connection_id") {
            let next = q.get("sequence_number").cloned().unwrap_or_default();
            s.resumes.push((id.clone(), next));
        }
        session(&mut s, &headers, "GET /websocket").ok()
    };
    ws.on_upgrade(move |socket| serve_socket(inner, n, socket, preauth))
}

/// One websocket connection: authentication (the Authorization header, or the
/// `authentication_challenge` action), `hello`, events with their sequence numbers, answers to
/// `ping` actions, the server's own pings every second.
async fn serve_socket(
    inner: Arc<Mutex<Inner>>,
    n: Arc<Notify>,
    socket: WebSocket,
    preauth: Option<String>,
) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<WsMessage>();
    let (kill_tx, mut kill_rx) = mpsc::unbounded_channel::<()>();
    let mut seq = 0i64;
    let mut user: Option<String> = None;
    let mut conn_id = None;
    let connection_id = {
        let mut s = inner.lock().expect("fake state");
        s.id('w')
    };
    let hello = |uid: &str| {
        json!({"event": "hello", "data": {"server_version": "9.11.0.fake", "connection_id": connection_id},
            "broadcast": {"omit_users": null, "user_id": uid, "channel_id": "", "team_id": ""},
            "seq": 0})
    };
    let register =
        |uid: &str, tx: &mpsc::UnboundedSender<WsMessage>, kill: &mpsc::UnboundedSender<()>| {
            let mut s = inner.lock().expect("fake state");
            s.next_conn += 1;
            let id = s.next_conn;
            s.conns.insert(
                id,
                Conn {
                    user_id: uid.to_owned(),
                    tx: tx.clone(),
                    kill: kill.clone(),
                },
            );
            n.notify_waiters();
            id
        };
    if let Some(uid) = preauth {
        let _ = tx.send(WsMessage::text(hello(&uid).to_string()));
        conn_id = Some(register(&uid, &tx, &kill_tx));
        user = Some(uid);
    }
    let mut ping = tokio::time::interval(Duration::from_secs(1));
    loop {
        if conn_id.is_some_and(|id| inner.lock().expect("fake state").frozen.contains(&id)) {
            // Silent: nothing read (so not even pings are answered), nothing sent, for longer
            // than any test waits.
            tokio::time::sleep(Duration::from_secs(120)).await;
            return;
        }
        tokio::select! {
            _ = kill_rx.recv() => {
                // A reset: the connection is dropped without a close frame.
                return;
            }
            out = rx.recv() => {
                let Some(WsMessage::Text(t)) = out else { continue };
                let mut v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                if v.get("event").is_some() {
                    v["seq"] = json!(seq);
                    seq += 1;
                }
                if sink.send(WsMessage::text(v.to_string())).await.is_err() {
                    break;
                }
            }
            _ = ping.tick() => {
                if sink.send(WsMessage::Ping(Bytes::new())).await.is_err() {
                    break;
                }
            }
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                match frame {
                    WsMessage::Ping(_) => {
                        inner.lock().expect("fake state").pings_received += 1;
                    }
                    WsMessage::Text(t) => {
                        let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                        let reply_seq = v["seq"].clone();
                        match v["action"].as_str().unwrap_or("") {
                            "authentication_challenge" => {
                                let token = v["data"]["token"].as_str().unwrap_or("").to_owned();
                                let uid = inner.lock().expect("fake state").sessions.get(&token).cloned();
                                match uid {
                                    Some(uid) => {
                                        let _ = tx.send(WsMessage::text(json!({"status": "OK", "seq_reply": reply_seq}).to_string()));
                                        if user.is_none() {
                                            let _ = tx.send(WsMessage::text(hello(&uid).to_string()));
                                            conn_id = Some(register(&uid, &tx, &kill_tx));
                                            user = Some(uid);
                                        }
                                    }
                                    None => {
                                        let _ = tx.send(WsMessage::text(json!({"status": "FAIL", "seq_reply": reply_seq,
                                            "error": {"id": "api.web_socket_router.not_authenticated.app_error",
                                                "message": "Invalid or expired session, please login again."}}).to_string()));
                                    }
                                }
                            }
                            "ping" => {
                                inner.lock().expect("fake state").pings_received += 1;
                                let _ = tx.send(WsMessage::text(json!({"status": "OK", "seq_reply": reply_seq,
                                    "data": {"text": "pong", "version": "9.11.0.fake", "server_time": 0}}).to_string()));
                            }
                            _ => {}
                        }
                    }
                    WsMessage::Close(_) => break,
                    _ => {}
                }
            }
        }
    }
    if let Some(id) = conn_id {
        inner.lock().expect("fake state").conns.remove(&id);
        n.notify_waiters();
    }
}

/// The rate limiter, when a test turned it on ([`Fake::rate_window`]): each answer says what
/// is left of the window; past it, 429 with `Retry-After`.
async fn rate_limiter(
    State((inner, n)): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let verdict = {
        let mut s = inner.lock().expect("fake state");
        let limit = s.window.as_ref().map(|w| w.limit);
        match s.window.as_mut().map(Window::take) {
            None => None,
            Some(Ok(left)) => Some((limit.unwrap_or(0), Ok(left))),
            Some(Err(wait)) => {
                s.rate_limited += 1;
                Some((limit.unwrap_or(0), Err(wait)))
            }
        }
    };
    let headers = |resp: &mut Response, limit: u32, left: u32, reset: u64| {
        for (k, v) in [
            ("x-ratelimit-limit", limit.to_string()),
            ("x-ratelimit-remaining", left.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(k, v);
            }
        }
    };
    match verdict {
        None => next.run(request).await,
        Some((limit, Ok(left))) => {
            let mut resp = next.run(request).await;
            headers(&mut resp, limit, left, 1);
            resp
        }
        Some((limit, Err(wait))) => {
            n.notify_waiters();
            let mut resp = reply(Err(app_error(
                StatusCode::TOO_MANY_REQUESTS,
                "api.context.rate_limit",
                "limit exceeded",
            )));
            headers(&mut resp, limit, 0, wait);
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
            resp
        }
    }
}

fn forbidden() -> (StatusCode, Value) {
    app_error(
        StatusCode::FORBIDDEN,
        "api.context.permissions.app_error",
        "You do not have the appropriate permissions.",
    )
}

async fn users_in_channel(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(session(&mut s, &headers, "GET /users").map(|_| {
        let channel = q.get("in_channel").cloned().unwrap_or_default();
        let members = s.members.get(&channel).cloned().unwrap_or_default();
        let users: Vec<Value> = s
            .users
            .iter()
            .filter(|u| channel.is_empty() || members.contains(u["id"].as_str().unwrap_or("")))
            .cloned()
            .collect();
        (StatusCode::OK, Value::Array(users))
    }))
}

/// `GET /teams/{team}/channels`: the team's public channels, not archived, a page at a time
/// (`page` from 0, `per_page` default 60, at most 200).
async fn public_channels(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Path(team): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(
        session(&mut s, &headers, "GET /teams/{team}/channels").map(|_| {
            let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(0);
            let per_page: usize = q
                .get("per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(60)
                .clamp(1, 200);
            let public: Vec<Value> = s
                .channels
                .values()
                .filter(|c| {
                    c["team_id"] == team.as_str() && c["type"] == "O" && c["delete_at"] == 0
                })
                .skip(page * per_page)
                .take(per_page)
                .cloned()
                .collect();
            (StatusCode::OK, Value::Array(public))
        }),
    )
}

async fn my_channels(
    State((inner, _)): State<Shared>,
    headers: HeaderMap,
    Path(team): Path<String>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    reply(
        session(&mut s, &headers, "GET /users/me/teams/{team}/channels").map(|uid| {
            let mine: Vec<Value> = s
                .channels
                .values()
                .filter(|c| {
                    let id = c["id"].as_str().unwrap_or("");
                    (c["team_id"] == team.as_str() || c["team_id"] == "")
                        && c["delete_at"] == 0
                        && s.members.get(id).is_some_and(|m| m.contains(&uid))
                })
                .cloned()
                .collect();
            (StatusCode::OK, Value::Array(mine))
        }),
    )
}

async fn create_channel(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "POST /channels").and_then(|uid| {
        let name = body["name"].as_str().unwrap_or("").to_owned();
        let team = body["team_id"].as_str().unwrap_or("").to_owned();
        let kind = body["type"].as_str().unwrap_or("").to_owned();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c));
        if !valid || s.team["id"] != team.as_str() || !["O", "P"].contains(&kind.as_str()) {
            return Err(app_error(
                StatusCode::BAD_REQUEST,
                "model.channel.is_valid.name.app_error",
                "Invalid name.",
            ));
        }
        if s.channels
            .values()
            .any(|c| c["team_id"] == team.as_str() && c["name"] == name.as_str())
        {
            return Err(app_error(
                StatusCode::BAD_REQUEST,
                "store.sql_channel.save_channel.exists.app_error",
                "A channel with that name already exists on the same team.",
            ));
        }
        let display = body["display_name"].as_str().unwrap_or(&name).to_owned();
        let id = s.add_channel(&name, &display, &kind, &team);
        s.members.insert(id.clone(), BTreeSet::from([uid]));
        Ok((StatusCode::CREATED, s.channels[&id].clone()))
    });
    n.notify_waiters();
    reply(answer)
}

async fn remove_member(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    let answer =
        session(&mut s, &headers, "DELETE /channels/{id}/members/{user}").and_then(|uid| {
            if uid != user {
                return Err(forbidden());
            }
            if s.remove_member(&id, &user, &uid) {
                Ok((StatusCode::OK, json!({"status": "OK"})))
            } else {
                Err(not_found_error())
            }
        });
    n.notify_waiters();
    reply(answer)
}

async fn patch_channel(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "PUT /channels/{id}/patch").and_then(|uid| {
        if !s.members.get(&id).is_some_and(|m| m.contains(&uid)) {
            return Err(forbidden());
        }
        let now = s.now();
        let c = s.channels.get_mut(&id).ok_or_else(not_found_error)?;
        for key in ["header", "purpose", "display_name"] {
            if let Some(v) = body.get(key).and_then(Value::as_str) {
                c[key] = json!(v);
            }
        }
        c["update_at"] = json!(now);
        Ok((StatusCode::OK, c.clone()))
    });
    n.notify_waiters();
    reply(answer)
}

async fn archive_channel(
    State((inner, n)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    let answer = session(&mut s, &headers, "DELETE /channels/{id}").and_then(|uid| {
        if !s.members.get(&id).is_some_and(|m| m.contains(&uid)) {
            return Err(forbidden());
        }
        let now = s.now();
        let c = s.channels.get_mut(&id).ok_or_else(not_found_error)?;
        c["delete_at"] = json!(now);
        Ok((StatusCode::OK, json!({"status": "OK"})))
    });
    n.notify_waiters();
    reply(answer)
}
