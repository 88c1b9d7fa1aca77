//! A fake Slack for the tests: the Web API (`POST /api/<method>`, form-encoded or JSON bodies,
//! the token in the Authorization header or the `token` field, `{"ok": false, "error": ...}`
//! answers, HTTP 429 with `Retry-After` per method) and a Socket Mode server (`/link/?ticket=`)
//! on 127.0.0.1, with the shapes of Slack's documentation and of slack_sdk's own test server:
//! `hello`, `events_api` envelopes carrying `event_callback` payloads, acknowledgements by
//! `envelope_id`, `disconnect` with each reason, server pings.
//!
//! One workspace (`T0FAKE`): the bot `errbot` (user `U0ERRBOT`, bot `B0ERRBOT`), alice
//! (`U0ALICE`), bob (`U0BOB`), another app's bot `deploybot` (`B0DEPLOY`, no user); channels
//! `#general` (`C0GENERAL`) and `#random` (`C0RANDOM`, the bot is not in it), the private
//! `#secret` (`G0SECRET`) and a multi-person DM of alice, bob and the bot (`G0MPIM`).
//!
//! Like Slack, an envelope not acknowledged on a connection that goes away is delivered again
//! (with `retry_attempt` + 1) on another one, and events wait while no connection is open. The
//! test drives it: people write ([`Fake::say`], [`Fake::dm`]), edit, unfurl; connections are
//! asked to refresh, reset, frozen (half-open); methods answer 429; and it reads what the bot
//! posted ([`Fake::wait_post`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// The bot token.
pub const BOT_TOKEN: &str = "xoxb-1111-2222-fakebottoken";
/// The app-level token.
pub const APP_TOKEN: &str = "xapp-1-A0FAKE-3333-fakeapptoken";
/// The bot's user id.
pub const BOT_USER: &str = "U0ERRBOT";
/// The bot's bot id.
pub const BOT_ID: &str = "B0ERRBOT";
/// alice.
pub const ALICE: &str = "U0ALICE";
/// bob.
pub const BOB: &str = "U0BOB";
/// The scopes of a token made for a Socket Mode app (`x-oauth-scopes`).
pub const SCOPES: &str = "app_mentions:read,channels:history,channels:read,chat:write,\
groups:history,im:history,im:write,mpim:history,reactions:write,users:read";

struct Conn {
    tx: mpsc::UnboundedSender<WsMessage>,
    /// Closing this ends the connection abruptly (a reset: no close frame).
    kill: mpsc::UnboundedSender<()>,
}

#[derive(Default)]
struct Inner {
    /// The fake itself (for the tasks that post to the Events API).
    me: Option<(Arc<Mutex<Inner>>, Arc<Notify>)>,
    users: Vec<Value>,
    bots: Vec<Value>,
    channels: BTreeMap<String, Value>,
    members: HashMap<String, BTreeSet<String>>,
    /// Every message, in order (with its `channel`).
    messages: Vec<Value>,
    conns: BTreeMap<u64, Conn>,
    frozen: BTreeSet<u64>,
    next_conn: u64,
    next: u64,
    /// Envelopes waiting for a connection.
    pending: VecDeque<Value>,
    /// Envelopes sent and not acknowledged: envelope id -> (connection, envelope, when sent).
    unacked: HashMap<String, (u64, Value, Instant)>,
    /// Every envelope sent, by id (for redelivery).
    sent: HashMap<String, Value>,
    acks: u32,
    slowest_ack: Duration,
    tickets: BTreeSet<String>,
    /// Method -> the next calls answered 429.
    rate_limits: HashMap<String, u32>,
    retry_after: u64,
    rate_limited: u32,
    /// The next `apps.connections.open` calls answered `internal_error`.
    open_failures: u32,
    legacy: bool,
    link_disabled: bool,
    max_connections: usize,
    /// Connections that said hello, in all.
    opened: u32,
    /// The most connections open at once.
    peak: usize,
    pings_received: u32,
    /// Method names called, in order.
    requests: Vec<String>,
    reactions: Vec<Value>,
    presence: String,
    /// The Events API's request URL and signing secret, when events go there instead of
    /// Socket Mode.
    events_api: Option<(String, String)>,
    /// Status codes the request URL answered, per event id (retries included).
    answers: Vec<(String, u16)>,
    /// Files by id: name, declared length, bytes (once uploaded).
    files: HashMap<String, (String, usize, Option<Vec<u8>>)>,
    /// Ephemeral messages the bot posted (`chat.postEphemeral`): seen by one user, never in
    /// the channel's history and never an event.
    ephemerals: Vec<Value>,
    last_ts: u64,
}

impl Inner {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:08X}", self.next)
    }

    /// A new `ts`, strictly increasing (`seconds.micros`).
    fn ts(&mut self) -> String {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        self.last_ts = micros.max(self.last_ts + 1);
        format!(
            "{}.{:06}",
            self.last_ts / 1_000_000,
            self.last_ts % 1_000_000
        )
    }

    fn channel_type(&self, channel: &str) -> &'static str {
        let c = &self.channels[channel];
        if c["is_im"] == true {
            "im"
        } else if c["is_mpim"] == true {
            "mpim"
        } else if c["is_private"] == true {
            "group"
        } else {
            "channel"
        }
    }

    fn is_member(&self, channel: &str, user: &str) -> bool {
        self.members.get(channel).is_some_and(|m| m.contains(user))
    }

    /// Wraps an event in an `event_callback` payload and an `events_api` envelope, and
    /// delivers it.
    fn emit(&mut self, event: Value) {
        let event_id = self.id("Ev");
        let envelope_id = format!("{}-fake-envelope", self.id("e"));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let envelope = json!({
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": false,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": {
                "token": "fake-verification-token",
                "team_id": "T0FAKE",
                "context_team_id": "T0FAKE",
                "api_app_id": "A0FAKE",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": now,
                "authorizations": [{"enterprise_id": null, "team_id": "T0FAKE",
                    "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}],
                "is_ext_shared_channel": false,
                "event_context": format!("4-fake-{event_id}"),
            },
        });
        self.deliver(envelope);
    }

    /// Sends an envelope on the newest live connection, or keeps it until one opens; with the
    /// Events API, posts its payload to the request URL instead.
    fn deliver(&mut self, envelope: Value) {
        if let Some((url, secret)) = self.events_api.clone() {
            let body = envelope["payload"].to_string();
            let event_id = envelope["payload"]["event_id"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            self.sent.insert(
                envelope["envelope_id"].as_str().unwrap_or("").to_owned(),
                envelope,
            );
            tokio::spawn(post_event(self.me.clone(), url, secret, event_id, body));
            return;
        }
        let id = envelope["envelope_id"].as_str().unwrap_or("").to_owned();
        self.sent.insert(id.clone(), envelope.clone());
        let live = self
            .conns
            .iter()
            .rev()
            .find(|(cid, _)| !self.frozen.contains(cid));
        match live {
            Some((cid, conn)) => {
                let _ = conn.tx.send(WsMessage::text(envelope.to_string()));
                self.unacked.insert(id, (*cid, envelope, Instant::now()));
            }
            None => self.pending.push_back(envelope),
        }
    }

    /// Sends again, with the next `retry_attempt`, the envelopes left unacknowledged on
    /// connections that are gone or silent.
    fn redeliver_orphans(&mut self) {
        let orphans: Vec<String> = self
            .unacked
            .iter()
            .filter(|(_, (cid, _, _))| !self.conns.contains_key(cid) || self.frozen.contains(cid))
            .map(|(id, _)| id.clone())
            .collect();
        for id in orphans {
            if let Some((_, mut envelope, _)) = self.unacked.remove(&id) {
                let attempt = envelope["retry_attempt"].as_u64().unwrap_or(0) + 1;
                envelope["retry_attempt"] = json!(attempt);
                envelope["retry_reason"] = json!("timeout");
                self.deliver(envelope);
            }
        }
    }

    /// Stores a message and sends its events (`message`, and `app_mention` when it mentions
    /// the bot in a channel) if the bot is in the conversation.
    fn store_message(&mut self, mut msg: Value) -> Value {
        let channel = msg["channel"].as_str().unwrap_or("").to_owned();
        let ts = self.ts();
        msg["ts"] = json!(ts);
        msg["event_ts"] = json!(ts);
        msg["team"] = json!("T0FAKE");
        self.messages.push(msg.clone());
        if self.is_member(&channel, BOT_USER) {
            let channel_type = self.channel_type(&channel);
            let mut event = msg.clone();
            event["type"] = json!("message");
            event["channel_type"] = json!(channel_type);
            self.emit(event);
            let text = msg["text"].as_str().unwrap_or("");
            if channel_type != "im" && text.contains(&format!("<@{BOT_USER}>")) {
                let mut mention = msg.clone();
                mention["type"] = json!("app_mention");
                if let Some(m) = mention.as_object_mut() {
                    m.remove("channel_type");
                }
                self.emit(mention);
            }
        }
        msg
    }

    /// `member_joined_channel` or `member_left_channel` for `user` in `channel`.
    fn member_event(&mut self, kind: &str, channel: &str, user: &str) {
        let now = self.ts();
        let channel_type = if channel.starts_with('G') { "G" } else { "C" };
        self.emit(json!({"type": kind, "user": user, "channel": channel,
            "channel_type": channel_type, "team": "T0FAKE", "event_ts": now}));
    }

    fn message(&self, channel: &str, ts: &str) -> Option<Value> {
        self.messages
            .iter()
            .find(|m| m["channel"] == channel && m["ts"] == ts)
            .cloned()
    }
}

/// The fake Slack; dropping it does not stop it (it ends with the test's runtime).
#[derive(Clone)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    addr: SocketAddr,
}

type Shared = (Arc<Mutex<Inner>>, Arc<Notify>, SocketAddr);

fn user(id: &str, name: &str, real: &str, display: &str, is_bot: bool) -> Value {
    json!({
        "id": id, "team_id": "T0FAKE", "name": name, "deleted": false, "real_name": real,
        "tz": "Europe/Paris", "is_admin": false, "is_owner": false, "is_bot": is_bot,
        "is_app_user": false, "updated": 1_700_000_000,
        "profile": {"real_name": real, "display_name": display, "real_name_normalized": real,
            "display_name_normalized": display, "email": format!("{name}@example.com"),
            "team": "T0FAKE"},
    })
}

fn channel(id: &str, name: &str, private: bool, mpim: bool) -> Value {
    json!({
        "id": id, "name": name, "is_channel": !private, "is_group": private && !mpim,
        "is_im": false, "is_mpim": mpim, "is_private": private, "created": 1_700_000_000,
        "is_archived": false, "is_general": id == "C0GENERAL", "is_shared": false,
        "is_member": true, "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
    })
}

impl Fake {
    /// Starts the fake on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let mut inner = Inner {
            retry_after: 1,
            max_connections: 10,
            presence: "auto".into(),
            ..Default::default()
        };
        inner.users = vec![
            user(BOT_USER, "errbot", "Err Bot", "", true),
            user(ALICE, "alice", "Alice Liddell", "Alice", false),
            user(BOB, "bob", "Bob Builder", "", false),
        ];
        inner.bots = vec![
            json!({"id": BOT_ID, "deleted": false, "name": "errbot", "app_id": "A0FAKE",
                "user_id": BOT_USER, "updated": 1_700_000_000}),
            json!({"id": "B0DEPLOY", "deleted": false, "name": "deploybot", "app_id": "A0OTHER",
                "updated": 1_700_000_000}),
        ];
        let everyone = BTreeSet::from([BOT_USER.to_owned(), ALICE.to_owned(), BOB.to_owned()]);
        for (id, name, private, mpim, with_bot) in [
            ("C0GENERAL", "general", false, false, true),
            ("C0RANDOM", "random", false, false, false),
            ("G0SECRET", "secret", true, false, true),
            ("G0MPIM", "mpdm-alice--bob--errbot-1", true, true, true),
        ] {
            inner
                .channels
                .insert(id.to_owned(), channel(id, name, private, mpim));
            let mut m = everyone.clone();
            if !with_bot {
                m.remove(BOT_USER);
            }
            inner.members.insert(id.to_owned(), m);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Slack");
        let addr = listener.local_addr().expect("its address");
        let inner = Arc::new(Mutex::new(inner));
        let changed = Arc::new(Notify::new());
        inner.lock().expect("fake state").me = Some((inner.clone(), changed.clone()));
        let state: Shared = (inner.clone(), changed.clone(), addr);
        let app = Router::new()
            // Slack takes every method as a POST (form or JSON) or a GET (query string).
            .route("/api/{method}", post(api).get(api))
            .route("/link/", get(link))
            .route("/upload/{id}", post(upload))
            .with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            inner,
            changed,
            addr,
        }
    }

    fn read<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        f(&self.inner.lock().expect("fake state"))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let r = f(&mut self.inner.lock().expect("fake state"));
        self.changed.notify_waiters();
        r
    }

    /// The Web API's base URL (`http://127.0.0.1:PORT/api`).
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// `user` writes `text` in `channel` (an id), in the thread of `thread_ts` if not empty.
    /// Returns the message (with its `ts`).
    pub fn say(&self, user: &str, channel: &str, text: &str, thread_ts: &str) -> Value {
        self.with(|s| {
            let client_msg_id = format!("{}-fake-client-msg", s.id("m"));
            let mut msg = json!({
                "user": user, "text": text, "channel": channel, "client_msg_id": client_msg_id,
                "blocks": [{"type": "rich_text", "block_id": "fake", "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
            });
            if !thread_ts.is_empty() {
                msg["thread_ts"] = json!(thread_ts);
                msg["parent_user_id"] = s
                    .message(channel, thread_ts)
                    .map_or(Value::Null, |p| p["user"].clone());
            }
            s.store_message(msg)
        })
    }

    /// `user` writes `text` with `/me` (subtype `me_message`, the text without `/me`).
    pub fn me_says(&self, user: &str, channel: &str, text: &str) -> Value {
        self.with(|s| {
            s.store_message(json!({"subtype": "me_message", "user": user, "text": text,
                "channel": channel}))
        })
    }

    /// `user` replies in the thread of `thread_ts` and also sends the reply to the channel
    /// (subtype `thread_broadcast`, with the thread's `root`).
    pub fn broadcast(&self, user: &str, channel: &str, text: &str, thread_ts: &str) -> Value {
        self.with(|s| {
            let root = s.message(channel, thread_ts).unwrap_or(Value::Null);
            let client_msg_id = format!("{}-fake-client-msg", s.id("m"));
            s.store_message(
                json!({"subtype": "thread_broadcast", "user": user, "text": text,
                "channel": channel, "thread_ts": thread_ts, "root": root,
                "client_msg_id": client_msg_id}),
            )
        })
    }

    /// `user` uploads a file named `name` into `channel` with `text` as its comment: the file
    /// is stored and shared by a `file_share` message carrying it in `files`, as Slack does.
    pub fn share_file(&self, user: &str, channel: &str, text: &str, name: &str) -> Value {
        self.with(|s| {
            let id = s.id("F");
            let bytes = format!("contents of {name}").into_bytes();
            let size = bytes.len();
            s.files
                .insert(id.clone(), (name.to_owned(), size, Some(bytes)));
            let file = json!({"id": id, "name": name, "title": name, "mimetype": "text/plain",
                "filetype": "text", "pretty_type": "Plain Text", "user": user, "size": size,
                "mode": "hosted", "is_external": false, "is_public": true,
                "url_private": format!("https://files.fake.slack.com/files-pri/T0FAKE-{id}/{name}"),
                "url_private_download": format!(
                    "https://files.fake.slack.com/files-pri/T0FAKE-{id}/download/{name}")});
            s.store_message(json!({"subtype": "file_share", "user": user, "text": text,
                "channel": channel, "files": [file], "upload": true, "display_as_bot": false}))
        })
    }

    /// `user` writes to the bot privately (the DM is made as Slack would).
    pub fn dm(&self, user: &str, text: &str) -> Value {
        let channel = self.with(|s| im_with(s, user));
        self.say(user, &channel, text, "")
    }

    /// Another app's bot (`deploybot`) writes in `channel`.
    pub fn bot_says(&self, channel: &str, text: &str) -> Value {
        self.with(|s| {
            s.store_message(json!({"subtype": "bot_message", "bot_id": "B0DEPLOY",
                "username": "deploybot", "text": text, "channel": channel}))
        })
    }

    /// The author edits a message: `message_changed` with `edited`.
    pub fn edit(&self, channel: &str, ts: &str, text: &str) {
        self.changed_event(channel, ts, |m, s| {
            m["text"] = json!(text);
            m["edited"] = json!({"user": m["user"].clone(), "ts": s.ts()});
        });
    }

    /// Slack unfurls a link of a message: `message_changed` with `attachments`, same text.
    pub fn unfurl(&self, channel: &str, ts: &str) {
        self.changed_event(channel, ts, |m, _| {
            m["attachments"] = json!([{"id": 1, "title": "A page", "title_link":
                "https://example.com/", "from_url": "https://example.com/",
                "service_name": "example.com", "fallback": "example.com: A page"}]);
        });
    }

    fn changed_event(&self, channel: &str, ts: &str, change: impl FnOnce(&mut Value, &mut Inner)) {
        self.with(|s| {
            let Some(i) = s
                .messages
                .iter()
                .position(|m| m["channel"] == channel && m["ts"] == ts)
            else {
                return;
            };
            let previous = s.messages[i].clone();
            let mut m = previous.clone();
            change(&mut m, s);
            s.messages[i] = m.clone();
            let now = s.ts();
            let channel_type = s.channel_type(channel);
            s.emit(json!({
                "type": "message", "subtype": "message_changed", "hidden": true,
                "channel": channel, "channel_type": channel_type, "ts": now, "event_ts": now,
                "message": m, "previous_message": previous,
            }));
        });
    }

    /// A message is deleted: `message_deleted`.
    pub fn delete(&self, channel: &str, ts: &str) {
        self.with(|s| {
            let now = s.ts();
            let channel_type = s.channel_type(channel);
            let previous = s.message(channel, ts);
            s.emit(
                json!({"type": "message", "subtype": "message_deleted", "hidden": true,
                "channel": channel, "channel_type": channel_type, "ts": now, "event_ts": now,
                "deleted_ts": ts, "previous_message": previous}),
            );
        });
    }

    /// Sends an envelope again (as Slack when its acknowledgement came late), with the next
    /// `retry_attempt`.
    pub fn redeliver(&self, envelope_id: &str) {
        self.with(|s| {
            if let Some(mut envelope) = s.sent.get(envelope_id).cloned() {
                let attempt = envelope["retry_attempt"].as_u64().unwrap_or(0) + 1;
                envelope["retry_attempt"] = json!(attempt);
                envelope["retry_reason"] = json!("timeout");
                s.deliver(envelope);
            }
        });
    }

    /// The envelope ids of the events about message `ts`, in order.
    pub fn envelopes_of(&self, ts: &str) -> Vec<String> {
        self.read(|s| {
            let mut v: Vec<(String, String)> = s
                .sent
                .values()
                .filter(|e| e["payload"]["event"]["ts"] == ts)
                .map(|e| {
                    (
                        e["payload"]["event_id"].as_str().unwrap_or("").to_owned(),
                        e["envelope_id"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            v.sort();
            v.into_iter().map(|(_, e)| e).collect()
        })
    }

    /// Sends `{"type": "disconnect", "reason": reason}` on every live connection.
    /// `link_disabled` also closes them and refuses new ones.
    pub fn disconnect(&self, reason: &str) {
        self.with(|s| {
            let frame = json!({"type": "disconnect", "reason": reason,
                "debug_info": {"host": "applink-fake-1"}});
            if reason == "link_disabled" {
                s.link_disabled = true;
            }
            for conn in s.conns.values() {
                let _ = conn.tx.send(WsMessage::text(frame.to_string()));
                if reason == "link_disabled" {
                    let _ = conn.tx.send(WsMessage::Close(None));
                }
            }
        });
    }

    /// Resets every connection (no close frame, as a network failure).
    pub fn reset(&self) {
        self.with(|s| {
            for (_, c) in std::mem::take(&mut s.conns) {
                let _ = c.kill.send(());
            }
        });
    }

    /// Every open connection goes silent without closing (half-open): nothing sent, nothing
    /// read, no pong.
    pub fn freeze(&self) {
        self.with(|s| {
            let ids: Vec<u64> = s.conns.keys().copied().collect();
            s.frozen.extend(ids);
        });
    }

    /// The next `n` calls of `method` are answered 429 with `Retry-After: secs`.
    pub fn rate_limit(&self, method: &str, n: u32, secs: u64) {
        self.with(|s| {
            s.rate_limits.insert(method.to_owned(), n);
            s.retry_after = secs;
        });
    }

    /// The next `n` `apps.connections.open` calls fail with `internal_error`.
    pub fn fail_opens(&self, n: u32) {
        self.with(|s| s.open_failures = n);
    }

    /// The bot token becomes a legacy token (`x-oauth-scopes: bot`).
    pub fn legacy_token(&self) {
        self.with(|s| s.legacy = true);
    }

    /// At most `n` connections at once (more are told `too_many_websockets`).
    pub fn max_connections(&self, n: usize) {
        self.with(|s| s.max_connections = n);
    }

    /// Open, non-silent connections.
    pub fn connections(&self) -> usize {
        self.read(|s| s.conns.keys().filter(|c| !s.frozen.contains(c)).count())
    }

    /// Connections that said hello, in all.
    pub fn opened(&self) -> u32 {
        self.read(|s| s.opened)
    }

    /// The most connections that were open at once.
    pub fn peak(&self) -> usize {
        self.read(|s| s.peak)
    }

    /// How many 429 answers were given.
    pub fn rate_limited(&self) -> u32 {
        self.read(|s| s.rate_limited)
    }

    /// Acknowledgements received, and the slowest one.
    pub fn acks(&self) -> (u32, Duration) {
        self.read(|s| (s.acks, s.slowest_ack))
    }

    /// Envelopes sent and not yet acknowledged (on live connections too).
    pub fn unacked(&self) -> usize {
        self.read(|s| s.unacked.len() + s.pending.len())
    }

    /// Pings received from clients.
    pub fn pings_received(&self) -> u32 {
        self.read(|s| s.pings_received)
    }

    /// How many times `method` was called.
    pub fn calls(&self, method: &str) -> usize {
        self.read(|s| s.requests.iter().filter(|m| *m == method).count())
    }

    /// The reactions the bot added.
    pub fn reactions(&self) -> Vec<Value> {
        self.read(|s| s.reactions.clone())
    }

    /// A file the bot uploaded: its name and bytes.
    pub fn file(&self, id: &str) -> Option<(String, Vec<u8>)> {
        self.read(|s| {
            s.files
                .get(id)
                .and_then(|(name, _, bytes)| Some((name.clone(), bytes.clone()?)))
        })
    }

    /// The ephemeral messages the bot posted (`user` is the one person who sees each).
    pub fn ephemerals(&self) -> Vec<Value> {
        self.read(|s| s.ephemerals.clone())
    }

    /// The messages of the bot that share files.
    pub fn file_shares(&self) -> Vec<Value> {
        self.posts()
            .into_iter()
            .filter(|p| p["files"].is_array())
            .collect()
    }

    /// `user` reacts to a message with `name`: `reaction_added`.
    pub fn react_as(&self, user: &str, channel: &str, ts: &str, name: &str) {
        self.with(|s| {
            let item_user = s
                .message(channel, ts)
                .map_or(Value::Null, |m| m["user"].clone());
            let now = s.ts();
            s.emit(
                json!({"type": "reaction_added", "user": user, "reaction": name,
                "item_user": item_user, "item": {"type": "message", "channel": channel, "ts": ts},
                "event_ts": now}),
            );
        });
    }

    /// A channel as the fake has it now, by name.
    pub fn channel(&self, name: &str) -> Value {
        self.read(|s| {
            s.channels
                .values()
                .find(|c| c["name"] == name)
                .cloned()
                .unwrap_or(Value::Null)
        })
    }

    /// Whether `user` is in the channel named `name`.
    pub fn is_member(&self, name: &str, user: &str) -> bool {
        let c = self.channel(name);
        self.read(|s| s.is_member(c["id"].as_str().unwrap_or(""), user))
    }

    /// Events go to the Events API's request URL (`http://127.0.0.1:PORT/slack/events`),
    /// signed with `secret`, instead of Socket Mode.
    pub fn events_to(&self, url: &str, secret: &str) {
        self.with(|s| s.events_api = Some((url.to_owned(), secret.to_owned())));
    }

    /// What the request URL answered, per event id, in order (retries included).
    pub fn answers(&self) -> Vec<(String, u16)> {
        self.read(|s| s.answers.clone())
    }

    /// Posts an envelope's payload to the request URL again, as Slack's retry `retry_num`.
    pub async fn retry_event(&self, envelope_id: &str, retry_num: u32) -> u16 {
        let (url, secret, body) = self.read(|s| {
            let (url, secret) = s.events_api.clone().unwrap_or_default();
            let body = s.sent.get(envelope_id).map(|e| e["payload"].to_string());
            (url, secret, body.unwrap_or_default())
        });
        let ts = now_secs().to_string();
        let sig = sign(&secret, &ts, body.as_bytes());
        let retry = retry_num.to_string();
        let headers = [
            ("X-Slack-Request-Timestamp", ts.as_str()),
            ("X-Slack-Signature", sig.as_str()),
            ("X-Slack-Retry-Num", retry.as_str()),
            ("X-Slack-Retry-Reason", "http_timeout"),
        ];
        http_post(&url, &headers, body.as_bytes())
            .await
            .map_or(0, |(status, _)| status)
    }

    /// Posts `body` to the request URL with the given timestamp and signature (forgeries);
    /// answers the status and body.
    pub async fn post_raw(&self, body: &str, timestamp: &str, signature: &str) -> (u16, String) {
        let url = self.read(|s| s.events_api.clone().unwrap_or_default().0);
        let headers = [
            ("X-Slack-Request-Timestamp", timestamp),
            ("X-Slack-Signature", signature),
        ];
        http_post(&url, &headers, body.as_bytes())
            .await
            .unwrap_or((0, String::new()))
    }

    /// Posts `body` signed as Slack would (now, with the secret); answers status and body.
    pub async fn post_signed(&self, body: &str) -> (u16, String) {
        let secret = self.read(|s| s.events_api.clone().unwrap_or_default().1);
        let ts = now_secs().to_string();
        let sig = sign(&secret, &ts, body.as_bytes());
        self.post_raw(body, &ts, &sig).await
    }

    /// The payload of a message event, as Slack would post it (for forged requests).
    pub fn message_payload(&self, user: &str, channel: &str, text: &str) -> String {
        self.with(|s| {
            let ts = s.ts();
            let event_id = s.id("Ev");
            json!({"token": "fake-verification-token", "team_id": "T0FAKE",
                "api_app_id": "A0FAKE", "type": "event_callback", "event_id": event_id,
                "event_time": now_secs(),
                "event": {"type": "message", "user": user, "text": text, "channel": channel,
                    "channel_type": "channel", "ts": ts, "event_ts": ts}})
            .to_string()
        })
    }

    /// The bot's presence (`auto` or `away`).
    pub fn presence(&self) -> String {
        self.read(|s| s.presence.clone())
    }

    /// The bot's messages, in order.
    pub fn posts(&self) -> Vec<Value> {
        self.read(|s| {
            s.messages
                .iter()
                .filter(|m| m["user"] == BOT_USER)
                .cloned()
                .collect()
        })
    }

    /// How many of the bot's messages say exactly `text`.
    pub fn count(&self, text: &str) -> usize {
        self.posts().iter().filter(|p| p["text"] == text).count()
    }

    /// Waits until the bot has posted a message matching `pred` (at most `timeout`).
    pub async fn wait_post(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if let Some(p) = self.posts().into_iter().find(|p| pred(p)) {
                return p;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no message of the bot matched within {timeout:?}; the bot wrote {:#?}",
                    self.posts()
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
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `v0=` and the hex HMAC-SHA256 of `v0:{ts}:{body}` with `secret`, as Slack signs requests.
pub fn sign(secret: &str, ts: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v0={hex}")
}

/// A plain HTTP/1.1 POST of JSON to `url` (`http://host:port/path`); answers status and body.
async fn http_post(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").ok_or("not http")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\nUser-Agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.write_all(body).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("no status in {answer:?}"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    Ok((status, body))
}

/// Posts an event to the request URL as Slack does: signed, and tried again (at most three
/// retries, with `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`) while the answer is not 2xx.
async fn post_event(
    me: Option<(Arc<Mutex<Inner>>, Arc<Notify>)>,
    url: String,
    secret: String,
    event_id: String,
    body: String,
) {
    let Some((inner, n)) = me else { return };
    for attempt in 0..4u32 {
        let ts = now_secs().to_string();
        let sig = sign(&secret, &ts, body.as_bytes());
        let retry = attempt.to_string();
        let mut headers = vec![
            ("X-Slack-Request-Timestamp", ts.as_str()),
            ("X-Slack-Signature", sig.as_str()),
        ];
        if attempt > 0 {
            headers.push(("X-Slack-Retry-Num", retry.as_str()));
            headers.push(("X-Slack-Retry-Reason", "http_error"));
        }
        let status = http_post(&url, &headers, body.as_bytes())
            .await
            .map_or(0, |(s, _)| s);
        inner
            .lock()
            .expect("fake state")
            .answers
            .push((event_id.clone(), status));
        n.notify_waiters();
        if (200..300).contains(&status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The DM of the bot with `user` (made when missing).
fn im_with(s: &mut Inner, user: &str) -> String {
    let existing = s
        .channels
        .values()
        .find(|c| c["is_im"] == true && c["user"] == user)
        .and_then(|c| c["id"].as_str())
        .map(str::to_owned);
    if let Some(id) = existing {
        return id;
    }
    let id = s.id("D");
    s.channels.insert(
        id.clone(),
        json!({"id": id, "is_im": true, "user": user, "created": 1_700_000_000,
            "is_user_deleted": false, "is_org_shared": false, "priority": 0}),
    );
    s.members.insert(
        id.clone(),
        BTreeSet::from([BOT_USER.to_owned(), user.to_owned()]),
    );
    id
}

fn ok(mut body: Value) -> Result<Value, &'static str> {
    body["ok"] = json!(true);
    Ok(body)
}

/// The form fields of a request (form-encoded or JSON), strings only.
fn fields(headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json_body {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), s)
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        url::form_urlencoded::parse(body).into_owned().collect()
    }
}

/// One Web API call.
async fn api(
    State((inner, n, addr)): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut f = query;
    f.extend(fields(&headers, &body));
    f.insert("__addr".to_owned(), addr.to_string());
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| f.get("token").cloned())
        .unwrap_or_default();
    let mut s = inner.lock().expect("fake state");
    s.requests.push(method.clone());
    if let Some(left) = s.rate_limits.get_mut(&method).filter(|n| **n > 0) {
        *left -= 1;
        s.rate_limited += 1;
        let secs = s.retry_after.to_string();
        drop(s);
        n.notify_waiters();
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            [("content-type", "application/json; charset=utf-8")],
            json!({"ok": false, "error": "ratelimited"}).to_string(),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            resp.headers_mut().insert("retry-after", v);
        }
        return resp;
    }
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let answer: Result<Value, &'static str> = if method == "apps.connections.open" {
        if token != APP_TOKEN {
            Err(if token.starts_with("xoxb-") {
                "not_allowed_token_type"
            } else {
                "invalid_auth"
            })
        } else if s.open_failures > 0 {
            s.open_failures -= 1;
            Err("internal_error")
        } else {
            let ticket = s.id("ticket-");
            s.tickets.insert(ticket.clone());
            ok(json!({"url": format!("ws://{addr}/link/?ticket={ticket}&app_id=A0FAKE")}))
        }
    } else if token.is_empty() {
        Err("not_authed")
    } else if token != BOT_TOKEN {
        Err(if token == APP_TOKEN {
            "not_allowed_token_type"
        } else {
            "invalid_auth"
        })
    } else {
        call(&mut s, &method, &field)
    };
    let scopes = if s.legacy { "bot" } else { SCOPES };
    drop(s);
    n.notify_waiters();
    let body = match answer {
        Ok(v) => v,
        Err(code) => json!({"ok": false, "error": code}),
    };
    let mut resp = (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    if method == "auth.test" {
        resp.headers_mut()
            .insert("x-oauth-scopes", HeaderValue::from_static(scopes));
    }
    resp
}

/// One page of `all` under `key`, by `limit` and `cursor`, with the next cursor.
fn page(all: &[Value], key: &str, field: &dyn Fn(&str) -> String) -> Value {
    let limit = field("limit")
        .parse::<usize>()
        .unwrap_or(100)
        .clamp(1, 1000);
    let start = field("cursor")
        .strip_prefix("fake-cursor-")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let items: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    let next = if start + limit < all.len() {
        format!("fake-cursor-{}", start + limit)
    } else {
        String::new()
    };
    json!({key: items, "response_metadata": {"next_cursor": next}})
}

/// The methods called with the bot token.
fn call(
    s: &mut Inner,
    method: &str,
    field: &dyn Fn(&str) -> String,
) -> Result<Value, &'static str> {
    match method {
        "auth.test" => ok(
            json!({"url": "https://fake.slack.com/", "team": "Fake Team",
            "user": "errbot", "team_id": "T0FAKE", "user_id": BOT_USER, "bot_id": BOT_ID,
            "is_enterprise_install": false}),
        ),
        "chat.postMessage" => {
            let channel = field("channel");
            let text = field("text");
            let attachments = field("attachments");
            if !s.channels.contains_key(&channel) {
                return Err("channel_not_found");
            }
            if !s.is_member(&channel, BOT_USER) {
                return Err("not_in_channel");
            }
            if text.is_empty() && attachments.is_empty() && field("blocks").is_empty() {
                return Err("no_text");
            }
            if text.chars().count() > 40_000 {
                return Err("msg_too_long");
            }
            let mut msg = json!({"user": BOT_USER, "bot_id": BOT_ID, "app_id": "A0FAKE",
                "text": text, "channel": channel,
                "bot_profile": {"id": BOT_ID, "name": "errbot", "app_id": "A0FAKE"}});
            let thread_ts = field("thread_ts");
            if !thread_ts.is_empty() {
                let Some(parent) = s.message(&channel, &thread_ts) else {
                    return Err("thread_not_found");
                };
                // A reply to a reply is filed under the thread's root, as Slack does.
                let root = parent["thread_ts"]
                    .as_str()
                    .unwrap_or(&thread_ts)
                    .to_owned();
                msg["thread_ts"] = json!(root);
            }
            if !attachments.is_empty() {
                msg["attachments"] =
                    serde_json::from_str(&attachments).map_err(|_| "invalid_attachments")?;
            }
            let stored = s.store_message(msg);
            ok(json!({"channel": channel, "ts": stored["ts"], "message": stored}))
        }
        "team.info" => {
            let team = field("team");
            if !team.is_empty() && team != "T0FAKE" {
                return Err("team_not_found");
            }
            ok(
                json!({"team": {"id": "T0FAKE", "name": "Fake Team", "domain": "fake",
                "email_domain": "example.com", "icon": {"image_default": true}}}),
            )
        }
        "users.info" => {
            let id = field("user");
            s.users
                .iter()
                .find(|u| u["id"] == id.as_str())
                .cloned()
                .map_or(Err("user_not_found"), |u| ok(json!({"user": u})))
        }
        "bots.info" => {
            let id = field("bot");
            s.bots
                .iter()
                .find(|b| b["id"] == id.as_str())
                .cloned()
                .map_or(Err("bot_not_found"), |b| ok(json!({"bot": b})))
        }
        "conversations.info" => {
            let id = field("channel");
            s.channels
                .get(&id)
                .cloned()
                .map_or(Err("channel_not_found"), |c| ok(json!({"channel": c})))
        }
        "conversations.open" => {
            let users = field("users");
            if users.is_empty() || users.contains(',') {
                return Err("invalid_arguments");
            }
            if !s.users.iter().any(|u| u["id"] == users.as_str()) {
                return Err("user_not_found");
            }
            if users == BOT_USER {
                return Err("cannot_dm_bot");
            }
            let id = im_with(s, &users);
            ok(json!({"channel": {"id": id}}))
        }
        "conversations.list" | "users.list" | "users.conversations" => {
            let exclude_archived = field("exclude_archived") == "true";
            let all: Vec<Value> = if method == "users.list" {
                s.users.clone()
            } else {
                s.channels
                    .values()
                    .filter(|c| c["is_im"] != true && c["is_mpim"] != true)
                    .filter(|c| !(exclude_archived && c["is_archived"] == true))
                    .filter(|c| {
                        method == "conversations.list"
                            || s.is_member(c["id"].as_str().unwrap_or(""), BOT_USER)
                    })
                    .cloned()
                    .collect()
            };
            let key = if method == "users.list" {
                "members"
            } else {
                "channels"
            };
            ok(page(&all, key, field))
        }
        "conversations.members" => {
            let channel = field("channel");
            let Some(members) = s.members.get(&channel) else {
                return Err("channel_not_found");
            };
            let all: Vec<Value> = members.iter().map(|m| json!(m)).collect();
            ok(page(&all, "members", field))
        }
        "conversations.join" => {
            let id = field("channel");
            let Some(c) = s.channels.get(&id).cloned() else {
                return Err("channel_not_found");
            };
            if c["is_archived"] == true {
                return Err("is_archived");
            }
            if c["is_private"] == true || c["is_im"] == true {
                return Err("method_not_supported_for_channel_type");
            }
            if s.members
                .entry(id.clone())
                .or_default()
                .insert(BOT_USER.to_owned())
            {
                s.member_event("member_joined_channel", &id, BOT_USER);
            }
            ok(json!({"channel": c}))
        }
        "conversations.leave" => {
            let id = field("channel");
            if !s.channels.contains_key(&id) {
                return Err("channel_not_found");
            }
            let was = s.members.get_mut(&id).is_some_and(|m| m.remove(BOT_USER));
            if was {
                s.member_event("member_left_channel", &id, BOT_USER);
                ok(json!({}))
            } else {
                ok(json!({"not_in_channel": true}))
            }
        }
        "conversations.create" => {
            let name = field("name");
            let valid = !name.is_empty()
                && name.chars().count() <= 80
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c));
            if !valid {
                return Err("invalid_name_specials");
            }
            if s.channels.values().any(|c| c["name"] == name.as_str()) {
                return Err("name_taken");
            }
            let id = s.id("C");
            let private = field("is_private") == "true";
            let c = channel(&id, &name, private, false);
            s.channels.insert(id.clone(), c.clone());
            s.members
                .insert(id.clone(), BTreeSet::from([BOT_USER.to_owned()]));
            s.member_event("member_joined_channel", &id, BOT_USER);
            ok(json!({"channel": c}))
        }
        "conversations.archive" => {
            let id = field("channel");
            let Some(c) = s.channels.get_mut(&id) else {
                return Err("channel_not_found");
            };
            if c["is_archived"] == true {
                return Err("already_archived");
            }
            c["is_archived"] = json!(true);
            ok(json!({}))
        }
        "conversations.setTopic" => {
            let id = field("channel");
            let topic = field("topic");
            if !s.is_member(&id, BOT_USER) {
                return Err(if s.channels.contains_key(&id) {
                    "not_in_channel"
                } else {
                    "channel_not_found"
                });
            }
            let Some(c) = s.channels.get_mut(&id) else {
                return Err("channel_not_found");
            };
            c["topic"] = json!({"value": topic, "creator": BOT_USER, "last_set": 1_700_000_000});
            let c = c.clone();
            // Slack posts the change in the channel.
            s.store_message(
                json!({"subtype": "channel_topic", "user": BOT_USER, "channel": id,
                "topic": topic, "text": format!("set the channel topic: {topic}")}),
            );
            ok(json!({"channel": c}))
        }
        "conversations.invite" => {
            let id = field("channel");
            if !s.channels.contains_key(&id) {
                return Err("channel_not_found");
            }
            if !s.is_member(&id, BOT_USER) {
                return Err("not_in_channel");
            }
            let users: Vec<String> = field("users").split(',').map(str::to_owned).collect();
            for u in &users {
                if !s.users.iter().any(|x| x["id"] == u.as_str()) {
                    return Err("user_not_found");
                }
                if s.is_member(&id, u) {
                    return Err("already_in_channel");
                }
            }
            s.members.entry(id.clone()).or_default().extend(users);
            ok(json!({"channel": s.channels[&id].clone()}))
        }
        "reactions.add" | "reactions.remove" => {
            let (channel, ts, name) = (field("channel"), field("timestamp"), field("name"));
            if s.message(&channel, &ts).is_none() {
                return Err("message_not_found");
            }
            if name.is_empty() || name.contains(' ') {
                return Err("invalid_name");
            }
            let r = json!({"channel": channel, "timestamp": ts, "name": name});
            let has = s.reactions.contains(&r);
            match (method, has) {
                ("reactions.add", true) => Err("already_reacted"),
                ("reactions.remove", false) => Err("no_reaction"),
                ("reactions.add", _) => {
                    s.reactions.push(r);
                    ok(json!({}))
                }
                _ => {
                    s.reactions.retain(|x| *x != r);
                    ok(json!({}))
                }
            }
        }
        // Only visible to `user`, in `channel` (and the thread of `thread_ts`): not stored in
        // the history, no event; answers `message_ts`.
        "chat.postEphemeral" => {
            let channel = field("channel");
            let user = field("user");
            let text = field("text");
            let attachments = field("attachments");
            let blocks = field("blocks");
            if channel.is_empty() || user.is_empty() {
                return Err("invalid_arguments");
            }
            if !s.channels.contains_key(&channel) {
                return Err("channel_not_found");
            }
            if s.channels[&channel]["is_archived"] == true {
                return Err("is_archived");
            }
            if !s.users.iter().any(|u| u["id"] == user.as_str()) {
                return Err("user_not_found");
            }
            if !s.is_member(&channel, BOT_USER) {
                return Err("not_in_channel");
            }
            if !s.is_member(&channel, &user) {
                return Err("user_not_in_channel");
            }
            if text.is_empty() && attachments.is_empty() && blocks.is_empty() {
                return Err("no_text");
            }
            if text.chars().count() > 40_000 {
                return Err("msg_too_long");
            }
            let message_ts = s.ts();
            let mut msg = json!({"type": "message", "subtype": "bot_message", "bot_id": BOT_ID,
                "user": user, "channel": channel, "text": text, "ts": message_ts});
            let thread_ts = field("thread_ts");
            if !thread_ts.is_empty() {
                msg["thread_ts"] = json!(thread_ts);
            }
            for (key, value) in [("attachments", &attachments), ("blocks", &blocks)] {
                if !value.is_empty() {
                    msg[key] = serde_json::from_str(value).map_err(|_| "invalid_arguments")?;
                }
            }
            s.ephemerals.push(msg);
            ok(json!({"message_ts": message_ts}))
        }
        "files.getUploadURLExternal" => {
            let name = field("filename");
            let Ok(length) = field("length").parse::<usize>() else {
                return Err("invalid_arguments");
            };
            if name.is_empty() {
                return Err("invalid_arguments");
            }
            let id = s.id("F");
            s.files.insert(id.clone(), (name, length, None));
            let addr = field("__addr");
            ok(json!({"upload_url": format!("http://{addr}/upload/{id}"), "file_id": id}))
        }
        "files.completeUploadExternal" => {
            let files: Value =
                serde_json::from_str(&field("files")).map_err(|_| "invalid_arguments")?;
            let channel = field("channel_id");
            let Some(list) = files.as_array().filter(|l| !l.is_empty()) else {
                return Err("invalid_arguments");
            };
            if !channel.is_empty() && !s.is_member(&channel, BOT_USER) {
                return Err(if s.channels.contains_key(&channel) {
                    "not_in_channel"
                } else {
                    "channel_not_found"
                });
            }
            let mut done = Vec::new();
            for f in list {
                let id = f["id"].as_str().unwrap_or("");
                match s.files.get(id) {
                    Some((name, _, Some(bytes))) => done.push(json!({"id": id, "name": name,
                        "title": f["title"].as_str().unwrap_or(name), "size": bytes.len()})),
                    _ => return Err("file_not_found"),
                }
            }
            if !channel.is_empty() {
                let mut msg = json!({"subtype": "file_share", "user": BOT_USER, "bot_id": BOT_ID,
                    "text": field("initial_comment"), "channel": channel, "files": done,
                    "upload": true});
                let thread_ts = field("thread_ts");
                if !thread_ts.is_empty() {
                    msg["thread_ts"] = json!(thread_ts);
                }
                s.store_message(msg);
            }
            ok(json!({"files": done}))
        }
        "users.setPresence" => match field("presence").as_str() {
            p @ ("auto" | "away") => {
                s.presence = p.to_owned();
                ok(json!({}))
            }
            _ => Err("invalid_presence"),
        },
        _ => Err("unknown_method"),
    }
}

/// The upload address of a file: the bytes, as many as announced.
async fn upload(
    State((inner, n, _)): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut s = inner.lock().expect("fake state");
    let answer = match s.files.get_mut(&id) {
        None => (StatusCode::NOT_FOUND, "file not found".to_owned()),
        Some((_, length, _)) if *length != body.len() => {
            (StatusCode::BAD_REQUEST, "length mismatch".to_owned())
        }
        Some((_, _, bytes)) => {
            *bytes = Some(body.to_vec());
            (StatusCode::OK, format!("OK - {}", body.len()))
        }
    };
    drop(s);
    n.notify_waiters();
    answer.into_response()
}

/// The Socket Mode websocket.
async fn link(
    State((inner, n, _)): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let ticket = q.get("ticket").cloned().unwrap_or_default();
    if !inner.lock().expect("fake state").tickets.remove(&ticket) {
        return (StatusCode::UNAUTHORIZED, "invalid ticket").into_response();
    }
    ws.on_upgrade(move |socket| serve_socket(inner, n, socket))
}

/// One connection: hello (or the reason it is refused), envelopes, acknowledgements, pings.
async fn serve_socket(inner: Arc<Mutex<Inner>>, n: Arc<Notify>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let refusal = {
        let s = inner.lock().expect("fake state");
        if s.link_disabled {
            Some("link_disabled")
        } else if s.conns.len() >= s.max_connections {
            Some("too_many_websockets")
        } else {
            None
        }
    };
    if let Some(reason) = refusal {
        let frame = json!({"type": "disconnect", "reason": reason,
            "debug_info": {"host": "applink-fake-1"}});
        let _ = sink.send(WsMessage::text(frame.to_string())).await;
        let _ = sink.send(WsMessage::Close(None)).await;
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<WsMessage>();
    let (kill_tx, mut kill_rx) = mpsc::unbounded_channel::<()>();
    let id = {
        let mut s = inner.lock().expect("fake state");
        s.next_conn += 1;
        s.opened += 1;
        let id = s.next_conn;
        let hello = json!({"type": "hello", "num_connections": s.conns.len() + 1,
            "debug_info": {"host": "applink-fake-1", "build_number": 10,
                "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0FAKE"}});
        let _ = tx.send(WsMessage::text(hello.to_string()));
        s.conns.insert(
            id,
            Conn {
                tx: tx.clone(),
                kill: kill_tx,
            },
        );
        s.peak = s.peak.max(s.conns.len());
        // What waited for a connection, and what went unacknowledged on dead ones.
        let pending: Vec<Value> = s.pending.drain(..).collect();
        for envelope in pending {
            s.deliver(envelope);
        }
        s.redeliver_orphans();
        id
    };
    n.notify_waiters();
    let mut ping = tokio::time::interval(Duration::from_millis(300));
    loop {
        if inner.lock().expect("fake state").frozen.contains(&id) {
            // Half-open: nothing read (not even pings), nothing sent, until the test ends.
            tokio::time::sleep(Duration::from_secs(120)).await;
            return;
        }
        tokio::select! {
            _ = kill_rx.recv() => return,
            out = rx.recv() => {
                let Some(msg) = out else { break };
                let close = matches!(msg, WsMessage::Close(_));
                if sink.send(msg).await.is_err() || close {
                    break;
                }
            }
            _ = ping.tick() => {
                if sink.send(WsMessage::Ping(Bytes::from_static(b"fake"))).await.is_err() {
                    break;
                }
            }
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                match frame {
                    WsMessage::Ping(_) => inner.lock().expect("fake state").pings_received += 1,
                    WsMessage::Text(t) => {
                        let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                        if let Some(eid) = v["envelope_id"].as_str() {
                            let mut s = inner.lock().expect("fake state");
                            if let Some((_, _, at)) = s.unacked.remove(eid) {
                                s.acks += 1;
                                s.slowest_ack = s.slowest_ack.max(at.elapsed());
                            }
                            drop(s);
                            n.notify_waiters();
                        }
                    }
                    WsMessage::Close(_) => break,
                    _ => {}
                }
            }
        }
    }
    let mut s = inner.lock().expect("fake state");
    s.conns.remove(&id);
    s.redeliver_orphans();
    drop(s);
    n.notify_waiters();
}
