//! A fake Telegram Bot API for the tests, following the published reference
//! (https://core.telegram.org/bots/api): `/bot<token>/<method>` under its base URL, parameters
//! in the query, JSON, urlencoded or multipart bodies (`params`), answers `{"ok": true,
//! "result": ...}` or `{"ok": false, "error_code", "description", "parameters": {"retry_after"
//! | "migrate_to_chat_id"}}`.
//!
//! Methods: `getMe`; `getUpdates` (updates kept until an `offset` above their id confirms them,
//! a negative offset keeps the last ones, `limit` 1-100, `timeout` long polling, 409 "terminated
//! by other getUpdates request" to the older of two pollers, 409 while a webhook is set);
//! `setWebhook`, `deleteWebhook`, `getWebhookInfo`; `sendMessage` (`parse_mode` HTML parsed as
//! Telegram does (`html`), text of 1-4,096 UTF-16 code units after parsing, chat not found, bot
//! blocked (403), a group upgraded to a supergroup (400 with `migrate_to_chat_id`), topics
//! (`message_thread_id`), `reply_parameters`); `sendDocument` (multipart); `setMessageReaction`.
//!
//! The people: alice (1001, `@alice`), bob (1002, `@bob`), carol (1003, no username), who all
//! started a private chat with the bot `@errbot_test_bot` (999000); the group "Team" (-4001) and
//! the forum supergroup "Forum" (-1001234) with the topic 55. The test drives them
//! ([`Fake::say`], [`Fake::edit`]), upgrades a group, blocks the bot, and pulls levers (429s,
//! refused entities, broken polls); then reads what the bot sent ([`Fake::wait_sent`]).

pub mod html;
pub mod params;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use params::Params;

/// The bot's token.
pub const BOT_TOKEN: &str = "999000:AAtest-token_for_errbot";
/// The bot's user id.
pub const BOT_ID: i64 = 999_000;
/// The bot's username.
pub const BOT_USERNAME: &str = "errbot_test_bot";
/// alice's user id.
pub const ALICE: i64 = 1001;
/// bob's user id.
pub const BOB: i64 = 1002;
/// carol's user id (she has no username).
pub const CAROL: i64 = 1003;
/// The group "Team".
pub const GROUP: i64 = -4001;
/// The forum supergroup "Forum".
pub const FORUM: i64 = -1_001_234;
/// The forum's topic.
pub const TOPIC: i64 = 55;
/// The longest message text, in UTF-16 code units after entity parsing.
pub const TEXT_LIMIT: usize = 4096;

/// Everything the fake knows.
struct Inner {
    users: BTreeMap<i64, Value>,
    /// Chats by id (private chats are the users' ids).
    chats: BTreeMap<i64, Value>,
    /// Topics of forum supergroups.
    topics: HashSet<(i64, i64)>,
    /// Old group id to its supergroup.
    upgraded: HashMap<i64, i64>,
    /// People who blocked the bot.
    blocked: HashSet<i64>,
    /// Updates not confirmed yet, in order.
    updates: Vec<Value>,
    next_update: i64,
    next_message: HashMap<i64, i64>,
    /// Every message, by (chat, message id).
    messages: HashMap<(i64, i64), Value>,
    /// What the bot sent, in order (Message objects, plus `_parse_mode` and `_raw`).
    sent: Vec<Value>,
    documents: Vec<(Value, params::File)>,
    reactions: Vec<Value>,
    /// People's reactions, by (chat, message, user).
    people_reactions: HashMap<(i64, i64, i64), Value>,
    /// The latest getUpdates call (an older one still waiting is terminated with 409).
    poll_generation: u64,
    webhook: Option<Value>,
    /// Whether `setWebhook` takes an http:// URL (Telegram wants HTTPS; the tests have no
    /// certificate Telegram would trust, so they serve plain HTTP as behind a proxy).
    http_webhooks: bool,
    /// Updates being posted to the webhook now.
    posting: HashSet<i64>,
    /// Webhook posts answered with an error status, and those answered 2xx.
    webhook_failures: u32,
    webhook_deliveries: u32,
    /// Offsets given to getUpdates, in order.
    offsets: Vec<i64>,
    /// Message ids of the `message` updates getUpdates handed out.
    delivered: Vec<i64>,
    conflicts: u32,
    /// The next n sendMessage calls meet a 429 (with `retry_after` s).
    rate_limit: (u32, u64),
    /// Until when a rate limit holds (calls meanwhile get 429 again and count as early).
    limited_until: Option<tokio::time::Instant>,
    rate_limited: u32,
    early_retries: u32,
    /// The next n HTML sendMessage calls are refused ("can't parse entities").
    refuse_entities: u32,
    /// The next n getUpdates calls never answer (a half-open connection), and how many did.
    freeze_polls: u32,
    frozen: u32,
    /// Errors the fake gave, as "method: description".
    errors: Vec<String>,
    requests: Vec<String>,
}

type Shared = (Arc<Mutex<Inner>>, Arc<Notify>, watch::Sender<u64>);

/// The fake Bot API; dropping it does not stop it (it lives as long as the test's runtime).
#[derive(Clone)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    /// Bumped to break every long poll in progress (a reset connection).
    breaks: watch::Sender<u64>,
    addr: SocketAddr,
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn user(id: i64, first: &str, username: Option<&str>, is_bot: bool) -> Value {
    let mut u = json!({"id": id, "is_bot": is_bot, "first_name": first});
    if let Some(name) = username {
        u["username"] = json!(name);
    }
    u
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({"ok": true, "result": result}).to_string(),
    )
        .into_response()
}

/// An error answer as the Bot API gives it.
fn error(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A refusal, before it becomes an answer.
struct Refusal(u16, &'static str, Option<Value>);

impl Refusal {
    fn answer(self) -> Response {
        error(self.0, self.1, self.2)
    }
}

/// UTF-16 length.
fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The entities Telegram's clients mark in a typed text: a `/command` (with `@bot`) at a
/// word's start, `@username` mentions and URLs.
fn typed_entities(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    let mut word_start = true;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if word_start && (c == '/' || c == '@') {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric()
                    || chars[j] == '_'
                    || (c == '/' && chars[j] == '@'))
            {
                j += 1;
            }
            if j > i + 1 {
                let length: usize = chars[i..j].iter().map(|c| c.len_utf16()).sum();
                let kind = if c == '/' { "bot_command" } else { "mention" };
                out.push(json!({"type": kind, "offset": offset, "length": length}));
                offset += length;
                i = j;
                word_start = false;
                continue;
            }
        }
        word_start = c.is_whitespace();
        offset += c.len_utf16();
        i += 1;
    }
    out
}

impl Inner {
    fn update(&mut self, kind: &str, message: Value) -> i64 {
        let id = self.next_update;
        self.next_update += 1;
        self.updates.push(json!({"update_id": id, kind: message}));
        id
    }

    fn message_id(&mut self, chat: i64) -> i64 {
        let n = self.next_message.entry(chat).or_insert(0);
        *n += 1;
        *n
    }

    /// The chat a bot's call names, or its error.
    fn chat_for_bot(&mut self, chat_id: Option<i64>) -> Result<Value, Refusal> {
        let Some(id) = chat_id else {
            return Err(Refusal(400, "Bad Request: chat_id is empty", None));
        };
        if let Some(to) = self.upgraded.get(&id) {
            return Err(Refusal(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                Some(json!({"migrate_to_chat_id": to})),
            ));
        }
        if self.blocked.contains(&id) {
            return Err(Refusal(403, "Forbidden: bot was blocked by the user", None));
        }
        self.chats
            .get(&id)
            .cloned()
            .ok_or(Refusal(400, "Bad Request: chat not found", None))
    }

    /// Where in `chat` a message goes: the topic and the message it answers, or the error.
    fn placement(&self, chat: &Value, p: &Params) -> Result<(Option<i64>, Option<Value>), Refusal> {
        let chat_id = chat["id"].as_i64().unwrap_or(0);
        let topic = p.int("message_thread_id");
        if let Some(t) = topic
            && !self.topics.contains(&(chat_id, t))
        {
            return Err(Refusal(400, "Bad Request: message thread not found", None));
        }
        let mut reply_to = None;
        if let Some(r) = p.json("reply_parameters") {
            let mid = r["message_id"].as_i64().unwrap_or(0);
            match self.messages.get(&(chat_id, mid)) {
                Some(m) => reply_to = Some(m.clone()),
                None if r["allow_sending_without_reply"] == true => {}
                None => {
                    return Err(Refusal(
                        400,
                        "Bad Request: message to be replied not found",
                        None,
                    ));
                }
            }
        }
        Ok((topic, reply_to))
    }

    fn bot_message(&mut self, chat: &Value, topic: Option<i64>, reply_to: Option<Value>) -> Value {
        let chat_id = chat["id"].as_i64().unwrap_or(0);
        let id = self.message_id(chat_id);
        let mut m =
            json!({"message_id": id, "from": self.users[&BOT_ID], "chat": chat, "date": now_s()});
        if let Some(t) = topic {
            m["message_thread_id"] = json!(t);
            m["is_topic_message"] = json!(true);
        }
        if let Some(r) = reply_to {
            m["reply_to_message"] = r;
        }
        m
    }

    fn send_message(&mut self, p: &Params) -> Response {
        let chat = match self.chat_for_bot(p.int("chat_id")) {
            Ok(c) => c,
            Err(e) => return e.answer(),
        };
        let (topic, reply_to) = match self.placement(&chat, p) {
            Ok(x) => x,
            Err(e) => return e.answer(),
        };
        let raw = p.text("text").unwrap_or_default();
        let mode = p.text("parse_mode").unwrap_or_default();
        let (text, entities) = match mode.to_ascii_lowercase().as_str() {
            "html" => {
                if self.refuse_entities > 0 {
                    self.refuse_entities -= 1;
                    return error(
                        400,
                        "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0",
                        None,
                    );
                }
                match html::parse(&raw) {
                    Ok(x) => x,
                    Err(e) => {
                        return error(
                            400,
                            &format!("Bad Request: can't parse entities: {e}"),
                            None,
                        );
                    }
                }
            }
            "" => (
                raw.clone(),
                p.json("entities")
                    .and_then(|e| e.as_array().cloned())
                    .unwrap_or_default(),
            ),
            other => {
                return error(
                    400,
                    &format!("Bad Request: unsupported parse_mode {other:?} in this fake"),
                    None,
                );
            }
        };
        if text.trim().is_empty() {
            return error(400, "Bad Request: message text is empty", None);
        }
        if units(&text) > TEXT_LIMIT {
            return error(400, "Bad Request: message is too long", None);
        }
        let mut m = self.bot_message(&chat, topic, reply_to);
        m["text"] = json!(text);
        if !entities.is_empty() {
            m["entities"] = json!(entities);
        }
        let chat_id = chat["id"].as_i64().unwrap_or(0);
        let id = m["message_id"].as_i64().unwrap_or(0);
        self.messages.insert((chat_id, id), m.clone());
        let mut record = m.clone();
        record["_parse_mode"] = json!(mode);
        record["_raw"] = json!(raw);
        self.sent.push(record);
        ok(m)
    }
}

impl Fake {
    /// Starts the fake on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let mut users = BTreeMap::new();
        users.insert(BOT_ID, user(BOT_ID, "Err", Some(BOT_USERNAME), true));
        users.insert(ALICE, user(ALICE, "Alice", Some("alice"), false));
        users.insert(BOB, user(BOB, "Bob", Some("bob"), false));
        users.insert(CAROL, user(CAROL, "Carol", None, false));
        let mut chats = BTreeMap::new();
        for (id, u) in &users {
            if *id != BOT_ID {
                let mut c = json!({"id": id, "type": "private", "first_name": u["first_name"]});
                if let Some(name) = u.get("username") {
                    c["username"] = name.clone();
                }
                chats.insert(*id, c);
            }
        }
        chats.insert(
            GROUP,
            json!({"id": GROUP, "type": "group", "title": "Team"}),
        );
        chats.insert(
            FORUM,
            json!({"id": FORUM, "type": "supergroup", "title": "Forum", "is_forum": true}),
        );
        let inner = Inner {
            users,
            chats,
            topics: HashSet::from([(FORUM, TOPIC)]),
            upgraded: HashMap::new(),
            blocked: HashSet::new(),
            updates: Vec::new(),
            // Update ids start at a random-looking number, as Telegram's.
            next_update: 734_120_001,
            next_message: HashMap::new(),
            messages: HashMap::new(),
            sent: Vec::new(),
            documents: Vec::new(),
            reactions: Vec::new(),
            people_reactions: HashMap::new(),
            poll_generation: 0,
            webhook: None,
            http_webhooks: false,
            posting: HashSet::new(),
            webhook_failures: 0,
            webhook_deliveries: 0,
            offsets: Vec::new(),
            delivered: Vec::new(),
            conflicts: 0,
            rate_limit: (0, 0),
            limited_until: None,
            rate_limited: 0,
            early_retries: 0,
            refuse_entities: 0,
            freeze_polls: 0,
            frozen: 0,
            errors: Vec::new(),
            requests: Vec::new(),
        };
        let inner = Arc::new(Mutex::new(inner));
        let changed = Arc::new(Notify::new());
        let breaks = watch::channel(0).0;
        let state: Shared = (inner.clone(), changed.clone(), breaks.clone());
        let app = Router::new()
            .route("/{bot}/{method}", any(call))
            .with_state(state);
        let levers = Router::new()
            .route("/control/{lever}", axum::routing::post(control))
            .with_state(Fake {
                inner: inner.clone(),
                changed: changed.clone(),
                breaks: breaks.clone(),
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            });
        let app = app.merge(levers);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Bot API");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        tokio::spawn(post_updates(inner.clone(), changed.clone()));
        Self {
            inner,
            changed,
            breaks,
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

    /// The base URL (`api_url` of the backend).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `user` writes `text` in `chat` (their private chat is their own id); returns the
    /// message id.
    pub fn say(&self, user: i64, chat: i64, text: &str) -> i64 {
        self.say_in(user, chat, None, text)
    }

    /// Like [`say`](Self::say), in forum topic `topic`.
    pub fn say_in(&self, user: i64, chat: i64, topic: Option<i64>, text: &str) -> i64 {
        self.with(|s| {
            let chat_v = s.chats[&chat].clone();
            let id = s.message_id(chat);
            let mut m = json!({"message_id": id, "from": s.users[&user], "chat": chat_v,
                "date": now_s(), "text": text});
            let entities = typed_entities(text);
            if !entities.is_empty() {
                m["entities"] = json!(entities);
            }
            if let Some(t) = topic {
                m["message_thread_id"] = json!(t);
                m["is_topic_message"] = json!(true);
            }
            s.messages.insert((chat, id), m.clone());
            s.update("message", m);
            id
        })
    }

    /// `user` edits their message `id` in `chat` to `text` (an `edited_message` update).
    pub fn edit(&self, chat: i64, id: i64, text: &str) {
        self.with(|s| {
            let mut m = s.messages[&(chat, id)].clone();
            m["text"] = json!(text);
            m["edit_date"] = json!(now_s());
            m["entities"] = json!(typed_entities(text));
            s.update("edited_message", m);
        });
    }

    /// `user` sets their reaction on message `id` of `chat` to `emoji` (a `message_reaction`
    /// update with the previous one as `old_reaction`).
    pub fn react(&self, user: i64, chat: i64, id: i64, emoji: &str) {
        self.with(|s| {
            let key = (chat, id, user);
            let old = s.people_reactions.get(&key).cloned().unwrap_or(json!([]));
            let new = json!([{"type": "emoji", "emoji": emoji}]);
            s.people_reactions.insert(key, new.clone());
            let r = json!({"chat": s.chats[&chat], "message_id": id, "user": s.users[&user],
                "date": now_s(), "old_reaction": old, "new_reaction": new});
            s.update("message_reaction", r);
        });
    }

    /// The group becomes a supergroup (a new id); with `announce`, the old group gets the
    /// service message holding `migrate_to_chat_id`. Returns the new id.
    pub fn upgrade(&self, group: i64, announce: bool) -> i64 {
        self.with(|s| {
            let new = -1_009_000_000 + group;
            let mut chat = s.chats.remove(&group).expect("a group");
            chat["id"] = json!(new);
            chat["type"] = json!("supergroup");
            s.chats.insert(new, chat);
            s.upgraded.insert(group, new);
            if announce {
                let id = s.message_id(group);
                let m = json!({"message_id": id, "from": s.users[&ALICE],
                    "chat": {"id": group, "type": "group", "title": "Team"},
                    "date": now_s(), "migrate_to_chat_id": new});
                s.update("message", m);
            }
            new
        })
    }

    /// `user` blocks the bot.
    pub fn block(&self, user: i64) {
        self.with(|s| s.blocked.insert(user));
    }

    /// The next `n` sendMessage calls meet 429 with `retry_after` = `secs`.
    pub fn rate_limit(&self, n: u32, secs: u64) {
        self.with(|s| s.rate_limit = (n, secs));
    }

    /// The next `n` sendMessage calls with HTML are refused ("can't parse entities").
    pub fn refuse_entities(&self, n: u32) {
        self.with(|s| s.refuse_entities = n);
    }

    /// Breaks every long poll in progress (its connection fails mid-answer).
    pub fn break_polls(&self) {
        self.breaks.send_modify(|n| *n += 1);
    }

    /// The next `n` getUpdates calls never answer (the connection stays open, silent).
    pub fn freeze_polls(&self, n: u32) {
        self.with(|s| s.freeze_polls = n);
    }

    /// getUpdates calls left unanswered so far.
    pub fn frozen(&self) -> u32 {
        self.read(|s| s.frozen)
    }

    /// Sets a webhook (getUpdates then answers 409).
    pub fn set_webhook(&self, url: &str) {
        self.with(|s| s.webhook = Some(json!({"url": url})));
    }

    /// `setWebhook` takes http:// URLs from now on (see `Inner::http_webhooks`).
    pub fn allow_http_webhooks(&self) {
        self.with(|s| s.http_webhooks = true);
    }

    /// The webhook set (`url`, `secret_token`), if any.
    pub fn webhook(&self) -> Option<Value> {
        self.read(|s| s.webhook.clone())
    }

    /// Updates being posted to the webhook now.
    pub fn posting(&self) -> usize {
        self.read(|s| s.posting.len())
    }

    /// Webhook posts answered 2xx, and answered otherwise.
    pub fn webhook_posts(&self) -> (u32, u32) {
        self.read(|s| (s.webhook_deliveries, s.webhook_failures))
    }

    /// What the bot sent, in order.
    pub fn sent(&self) -> Vec<Value> {
        self.read(|s| s.sent.clone())
    }

    /// Texts the bot sent to `chat`, in order.
    pub fn texts_in(&self, chat: i64) -> Vec<String> {
        self.sent()
            .iter()
            .filter(|m| m["chat"]["id"] == chat)
            .map(|m| m["text"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// How many messages of the bot say `text`.
    pub fn count(&self, text: &str) -> usize {
        self.sent().iter().filter(|m| m["text"] == text).count()
    }

    /// Documents the bot sent: the message and the file.
    pub fn documents(&self) -> Vec<(Value, params::File)> {
        self.read(|s| s.documents.clone())
    }

    /// Reactions the bot set (`setMessageReaction` parameters).
    pub fn reactions(&self) -> Vec<Value> {
        self.read(|s| s.reactions.clone())
    }

    /// Offsets given to getUpdates, in order.
    pub fn offsets(&self) -> Vec<i64> {
        self.read(|s| s.offsets.clone())
    }

    /// Message ids of the messages getUpdates handed out (again when handed out again).
    pub fn delivered(&self) -> Vec<i64> {
        self.read(|s| s.delivered.clone())
    }

    /// Updates not confirmed yet.
    pub fn pending_updates(&self) -> usize {
        self.read(|s| s.updates.len())
    }

    /// 409s given to getUpdates.
    pub fn conflicts(&self) -> u32 {
        self.read(|s| s.conflicts)
    }

    /// 429s given, and how many came before the `retry_after` was over.
    pub fn rate_limited(&self) -> (u32, u32) {
        self.read(|s| (s.rate_limited, s.early_retries))
    }

    /// Errors the fake answered, as "method: description".
    pub fn errors(&self) -> Vec<String> {
        self.read(|s| s.errors.clone())
    }

    /// Methods called, in order.
    pub fn requests(&self) -> Vec<String> {
        self.read(|s| s.requests.clone())
    }

    /// Waits until the bot sent a message matching `pred` (at most `timeout`).
    pub async fn wait_sent(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if let Some(m) = self.sent().into_iter().find(|m| pred(m)) {
                return m;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no message of the bot matched within {timeout:?}; it sent {:#?}\nerrors: {:#?}",
                    self.sent(),
                    self.errors()
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
                "condition not met within {timeout:?}; requests: {:?}",
                self.requests().iter().rev().take(20).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn call(
    State((inner, changed, breaks)): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot.strip_prefix("bot") != Some(BOT_TOKEN) {
        return error(401, "Unauthorized", None);
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let p = match Params::read(&query, ct, &body) {
        Ok(p) => p,
        Err(e) => return error(400, &e, None),
    };
    // Method names are case-insensitive in the Bot API.
    let method = method.to_ascii_lowercase();
    if method == "getupdates" {
        get_updates(&inner, &changed, &breaks, &p).await
    } else {
        let mut s = inner.lock().expect("fake state");
        s.requests.push(method.clone());
        let r = one_call(&mut s, &method, p);
        if !r.status().is_success() {
            let status = r.status().as_u16();
            s.errors.push(format!("{method}: {status}"));
        }
        changed.notify_waiters();
        r
    }
}

fn one_call(s: &mut Inner, method: &str, p: Params) -> Response {
    match method {
        "getme" => ok(s.users[&BOT_ID]
            .clone()
            .as_object()
            .map(|u| {
                let mut u = Value::Object(u.clone());
                u["can_join_groups"] = json!(true);
                u["can_read_all_group_messages"] = json!(false);
                u["supports_inline_queries"] = json!(false);
                u
            })
            .unwrap_or(Value::Null)),
        "setwebhook" => match p.text("url") {
            Some(url) if url.is_empty() => {
                s.webhook = None;
                ok(json!(true))
            }
            Some(url)
                if url.starts_with("https://")
                    || (s.http_webhooks && url.starts_with("http://")) =>
            {
                s.webhook = Some(json!({"url": url, "secret_token": p.text("secret_token")}));
                ok(json!(true))
            }
            Some(_) => error(
                400,
                "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
                None,
            ),
            None => error(400, "Bad Request: url is empty", None),
        },
        "deletewebhook" => {
            s.webhook = None;
            if p.text("drop_pending_updates").as_deref() == Some("true") {
                s.updates.clear();
            }
            ok(json!(true))
        }
        "getwebhookinfo" => ok(json!({
            "url": s.webhook.as_ref().and_then(|w| w["url"].as_str()).unwrap_or(""),
            "has_custom_certificate": false,
            "pending_update_count": s.updates.len(),
        })),
        "sendmessage" => {
            let now = tokio::time::Instant::now();
            if let Some(until) = s.limited_until {
                if now < until {
                    s.early_retries += 1;
                    let left = (until - now).as_secs().max(1);
                    return error(
                        429,
                        &format!("Too Many Requests: retry after {left}"),
                        Some(json!({"retry_after": left})),
                    );
                }
                s.limited_until = None;
            }
            if s.rate_limit.0 > 0 {
                s.rate_limit.0 -= 1;
                s.rate_limited += 1;
                let secs = s.rate_limit.1;
                s.limited_until = Some(now + Duration::from_secs(secs));
                return error(
                    429,
                    &format!("Too Many Requests: retry after {secs}"),
                    Some(json!({"retry_after": secs})),
                );
            }
            s.send_message(&p)
        }
        "senddocument" => {
            let chat = match s.chat_for_bot(p.int("chat_id")) {
                Ok(c) => c,
                Err(e) => return e.answer(),
            };
            let (topic, reply_to) = match s.placement(&chat, &p) {
                Ok(x) => x,
                Err(e) => return e.answer(),
            };
            let Some(file) = p.files.iter().find(|f| f.field == "document").cloned() else {
                return error(
                    400,
                    "Bad Request: there is no document in the request",
                    None,
                );
            };
            let mut m = s.bot_message(&chat, topic, reply_to);
            m["document"] = json!({"file_name": file.name, "file_size": file.data.len(),
                "file_id": format!("BQACAgIAAxkDAAI{}", s.documents.len() + 1),
                "file_unique_id": format!("AgAD{}", s.documents.len() + 1),
                "mime_type": file.content_type});
            if let Some(c) = p.text("caption") {
                m["caption"] = json!(c);
            }
            s.documents.push((m.clone(), file));
            ok(m)
        }
        "setmessagereaction" => {
            let chat = match s.chat_for_bot(p.int("chat_id")) {
                Ok(c) => c,
                Err(e) => return e.answer(),
            };
            let chat_id = chat["id"].as_i64().unwrap_or(0);
            let mid = p.int("message_id").unwrap_or(0);
            if !s.messages.contains_key(&(chat_id, mid)) {
                return error(400, "Bad Request: message to react not found", None);
            }
            let reaction = p.json("reaction").unwrap_or(json!([]));
            let allowed = [
                "👍", "👎", "❤", "🔥", "🎉", "👀", "👌", "🙏", "👏", "💯", "😂", "🤔",
            ];
            let valid = reaction.as_array().is_some_and(|list| {
                list.iter().all(|r| {
                    r["type"] == "emoji" && allowed.contains(&r["emoji"].as_str().unwrap_or(""))
                })
            });
            if !valid {
                return error(400, "Bad Request: REACTION_INVALID", None);
            }
            s.reactions
                .push(json!({"chat_id": chat_id, "message_id": mid, "reaction": reaction}));
            ok(json!(true))
        }
        _ => error(404, "Not Found", None),
    }
}

/// The levers for a test in another language (`fake-telegram`): `POST /control/LEVER` with a
/// JSON body. `say` {user, chat, text, topic?} answers the message id; `edit` {chat, id, text};
/// `upgrade` {group} answers the supergroup's id; `block` {user}; `rate_limit` {n, secs};
/// `refuse_entities` {n}; `sent` answers what the bot sent.
async fn control(State(fake): State<Fake>, Path(lever): Path<String>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let int = |k: &str| v[k].as_i64().unwrap_or(0);
    let known_chat = |c: i64| fake.read(|s| s.chats.contains_key(&c));
    let answer = match lever.as_str() {
        "say" if known_chat(int("chat")) && fake.read(|s| s.users.contains_key(&int("user"))) => {
            json!(fake.say_in(
                int("user"),
                int("chat"),
                v["topic"].as_i64(),
                v["text"].as_str().unwrap_or("")
            ))
        }
        "edit" if fake.read(|s| s.messages.contains_key(&(int("chat"), int("id")))) => {
            fake.edit(int("chat"), int("id"), v["text"].as_str().unwrap_or(""));
            json!(true)
        }
        "upgrade"
            if fake.read(|s| {
                s.chats
                    .get(&int("group"))
                    .is_some_and(|c| c["type"] == "group")
            }) =>
        {
            json!(fake.upgrade(int("group"), v["announce"] == true))
        }
        "block" => {
            fake.block(int("user"));
            json!(true)
        }
        "rate_limit" => {
            fake.rate_limit(
                u32::try_from(int("n")).unwrap_or(0),
                u64::try_from(int("secs")).unwrap_or(1),
            );
            json!(true)
        }
        "refuse_entities" => {
            fake.refuse_entities(u32::try_from(int("n")).unwrap_or(0));
            json!(true)
        }
        "sent" => json!(fake.sent()),
        _ => {
            return error(
                400,
                &format!("Bad Request: no lever {lever:?} for {v}"),
                None,
            );
        }
    };
    ok(answer)
}

/// Records an error answer (its description) for the test to read.
fn note_error(s: &mut Inner, method: &str, code: u16, description: &str) {
    s.errors.push(format!("{method}: {code} {description}"));
}

async fn get_updates(
    inner: &Arc<Mutex<Inner>>,
    changed: &Arc<Notify>,
    breaks: &watch::Sender<u64>,
    p: &Params,
) -> Response {
    let limit = p.int("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = p.int("timeout").unwrap_or(0).clamp(0, 50) as u64;
    let offset = p.int("offset").unwrap_or(0);
    let frozen = {
        let mut s = inner.lock().expect("fake state");
        s.requests.push("getupdates".into());
        if s.webhook.is_some() {
            s.conflicts += 1;
            let d = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
            note_error(&mut s, "getUpdates", 409, d);
            return error(409, d, None);
        }
        let frozen = s.freeze_polls > 0;
        if frozen {
            s.freeze_polls -= 1;
            s.frozen += 1;
        }
        frozen
    };
    if frozen {
        changed.notify_waiters();
        return std::future::pending().await;
    }
    let generation = {
        let mut s = inner.lock().expect("fake state");
        s.offsets.push(offset);
        if offset > 0 {
            s.updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
        } else if offset < 0 {
            let keep = offset.unsigned_abs() as usize;
            let n = s.updates.len();
            s.updates.drain(..n.saturating_sub(keep));
        }
        s.poll_generation += 1;
        s.poll_generation
    };
    changed.notify_waiters();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut broken = breaks.subscribe();
    broken.mark_unchanged();
    loop {
        let notified = changed.notified();
        {
            let mut s = inner.lock().expect("fake state");
            if s.poll_generation != generation {
                s.conflicts += 1;
                let d = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
                note_error(&mut s, "getUpdates", 409, d);
                return error(409, d, None);
            }
            let ready: Vec<Value> = s.updates.iter().take(limit).cloned().collect();
            if !ready.is_empty() || tokio::time::Instant::now() >= deadline {
                for u in &ready {
                    if let Some(id) = u["message"]["message_id"].as_i64() {
                        s.delivered.push(id);
                    }
                }
                return ok(json!(ready));
            }
        }
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep_until(deadline) => {}
            _ = broken.changed() => {
                // The connection breaks mid-answer: headers, then a body that fails.
                let stream = futures::stream::iter([
                    Ok::<_, std::io::Error>(Bytes::from_static(b"{\"ok\":true,\"res")),
                    Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")),
                ]);
                return (StatusCode::OK, [("content-type", "application/json")], Body::from_stream(stream)).into_response();
            }
        }
    }
}

/// Telegram's side of a webhook: each pending update is posted to the webhook's URL (at most
/// 40 at once, Telegram's default `max_connections`) with the secret token header; a 2xx
/// answer confirms it, any other answer (or none) leaves it to be posted again.
async fn post_updates(inner: Arc<Mutex<Inner>>, changed: Arc<Notify>) {
    let http = reqwest::Client::new();
    loop {
        let notified = changed.notified();
        let work: Vec<(Value, Value)> = {
            let mut s = inner.lock().expect("fake state");
            match s.webhook.clone() {
                Some(hook) if !hook["url"].as_str().unwrap_or("").is_empty() => {
                    let free = 40usize.saturating_sub(s.posting.len());
                    let todo: Vec<Value> = s
                        .updates
                        .iter()
                        .filter(|u| !s.posting.contains(&u["update_id"].as_i64().unwrap_or(0)))
                        .take(free)
                        .cloned()
                        .collect();
                    for u in &todo {
                        s.posting.insert(u["update_id"].as_i64().unwrap_or(0));
                    }
                    todo.into_iter().map(|u| (hook.clone(), u)).collect()
                }
                _ => Vec::new(),
            }
        };
        for (hook, update) in work {
            let (http, inner, changed) = (http.clone(), inner.clone(), changed.clone());
            tokio::spawn(async move {
                let id = update["update_id"].as_i64().unwrap_or(0);
                let mut request = http
                    .post(hook["url"].as_str().unwrap_or(""))
                    .header("content-type", "application/json")
                    .body(update.to_string());
                if let Some(secret) = hook["secret_token"].as_str() {
                    request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
                }
                let ok = request.send().await.is_ok_and(|r| r.status().is_success());
                if !ok {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let mut s = inner.lock().expect("fake state");
                s.posting.remove(&id);
                if ok {
                    s.webhook_deliveries += 1;
                    s.updates.retain(|u| u["update_id"] != id);
                    if let Some(m) = update["message"]["message_id"].as_i64() {
                        s.delivered.push(m);
                    }
                } else {
                    s.webhook_failures += 1;
                }
                drop(s);
                changed.notify_waiters();
            });
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
    }
}

/// A second program polling the same bot (for the 409 tests): polls `rounds` times with a
/// 1-second timeout, confirming nothing; returns the 409s it met.
pub async fn other_poller(url: &str, rounds: u32) -> u32 {
    let http = reqwest::Client::new();
    let mut conflicts = 0;
    for _ in 0..rounds {
        let r = http
            .post(format!("{url}/bot{BOT_TOKEN}/getUpdates"))
            .header("content-type", "application/json")
            .body(json!({"timeout": 1, "limit": 1}).to_string())
            .send()
            .await;
        if let Ok(r) = r
            && r.status().as_u16() == 409
        {
            conflicts += 1;
        }
    }
    conflicts
}
