//! The connection: set-up (login, the bot's user, the team, the rooms joined), the websocket
//! (authentication, `hello`, pings both ways, silence taken for a dead connection), every event
//! it brings, reconnection with backoff, and catching up on the posts missed meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use errbot_proto::v1::{
    BackendEvent, Identifier, Message, PresenceEvent, ReactionEvent, RoomEvent, backend_event,
    room_event,
};
use futures::SinkExt;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::Shared;
use super::ids::{Channel, User};
use super::transport::{self, ApiError, Socket};

/// A string field of a JSON object (empty when absent or not a string: the server's JSON is
/// never trusted to have a shape).
pub fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// A user from the server's JSON.
pub fn user_of(v: &Value) -> User {
    let fullname = format!("{} {}", text(v, "first_name"), text(v, "last_name"))
        .trim()
        .to_owned();
    User {
        id: text(v, "id"),
        username: text(v, "username"),
        fullname,
        email: text(v, "email"),
    }
}

/// A channel from the server's JSON.
pub fn channel_of(v: &Value) -> Channel {
    Channel {
        id: text(v, "id"),
        name: text(v, "name"),
        display_name: text(v, "display_name"),
        kind: text(v, "type"),
    }
}

/// A JSON value that may come as a JSON string holding JSON (`data.post`, `data.reaction`,
/// `data.mentions` of websocket events).
pub(super) fn embedded(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) => serde_json::from_str(s).ok(),
        other => Some(other.clone()),
    }
}

/// Runs the connection until the adapter stops. `first` is told how the first connection went.
pub(super) async fn run(shared: Arc<Shared>, first: oneshot::Sender<Result<(), String>>) {
    let mut first = Some(first);
    let mut stop = shared.stop.subscribe();
    let mut delay = shared.settings.reconnect_delay;
    loop {
        let outcome = match shared.set_up().await {
            Ok(()) => match transport::open_websocket(
                &shared.api,
                &shared.settings,
                shared.with_state(|st| st.resume.clone()),
            )
            .await
            {
                Ok(socket) => shared.session(socket, &mut first, &mut delay).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e.to_string()),
        };
        shared.with_state(|st| st.connected = false);
        let reason = match outcome {
            Ok(()) => return,
            Err(e) => e,
        };
        if let Some(tx) = first.take() {
            let _ = tx.send(Err(format!(
                "cannot connect to Mattermost at {}: {reason}",
                shared.settings.url
            )));
            return;
        }
        tracing::warn!(
            "Mattermost connection lost ({reason}); reconnecting in {:.1} s",
            delay.as_secs_f64()
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
        delay = (delay * 2).min(shared.settings.reconnect_max);
    }
}

impl Shared {
    /// Logs in (a password), learns the bot's user and the team, joins the configured rooms.
    /// Done at every connection: a password's session may have expired meanwhile.
    async fn set_up(&self) -> Result<(), ApiError> {
        if self.with_state(|st| st.me.id.is_empty()) {
            self.api.login().await?;
        }
        let me = user_of(&self.api.get("/users/me").await?);
        if me.id.is_empty() || me.username.is_empty() {
            return Err(ApiError::Transport(
                "/users/me has no id or username".into(),
            ));
        }
        if let Some(expected) = &self.settings.username
            && *expected != me.username
        {
            tracing::warn!(
                "the credentials are those of @{}, not of @{expected} (setting `username`)",
                me.username
            );
        }
        let team_name = &self.settings.team;
        let team = self.api.get(&format!("/teams/name/{team_name}")).await?;
        let team_id = text(&team, "id");
        if team_id.is_empty() {
            return Err(ApiError::Transport(format!(
                "the team {team_name} has no id"
            )));
        }
        self.with_state(|st| {
            st.me = me.clone();
            st.team_id = team_id.clone();
        });
        let rooms: Vec<String> = self.with_state(|st| st.wanted.iter().cloned().collect());
        for room in rooms {
            match self.join(&room).await {
                Ok(c) => tracing::info!("in ~{} ({})", c.name, c.display_name),
                Err(e) => tracing::warn!("cannot join ~{room}: {e}"),
            }
        }
        Ok(())
    }

    /// Joins a channel of the team by name (already a member: nothing changes).
    pub(super) async fn join(&self, name: &str) -> Result<Channel, ApiError> {
        let channel = self.channel_named(name).await?;
        let me = self.with_state(|st| st.me.id.clone());
        self.api
            .post(
                &format!("/channels/{}/members", channel.id),
                &json!({"user_id": me}),
            )
            .await?;
        self.with_state(|st| {
            st.wanted.insert(channel.name.clone());
            st.joined.entry(channel.id.clone()).or_insert(0);
        });
        Ok(channel)
    }

    /// One websocket session, until it fails or the adapter stops (`Ok`).
    async fn session(
        &self,
        mut socket: Socket,
        first: &mut Option<oneshot::Sender<Result<(), String>>>,
        delay: &mut Duration,
    ) -> Result<(), String> {
        let mut stop = self.stop.subscribe();
        let s = &self.settings;
        // Authentication: the answer to our challenge (seq_reply 1) or the `hello` event.
        let deadline = Instant::now() + s.timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, transport::next_json(&mut socket))
                .await
                .map_err(|_| "no hello on the websocket".to_owned())??;
            let Some(v) = frame else { continue };
            self.note_sequence(&v);
            if v.get("seq_reply").and_then(Value::as_i64) == Some(1) {
                if text(&v, "status") != "OK" {
                    return Err(format!("the websocket refused the token: {v}"));
                }
                break;
            }
            if text(&v, "event") == "hello" {
                break;
            }
            // An event before the hello is kept.
            self.event(&v).await;
        }
        let now = crate::adapters::now_ms();
        self.with_state(|st| {
            st.connected = true;
            // Channels without a post seen yet are caught up from this moment on.
            for last in st.joined.values_mut().filter(|l| **l == 0) {
                *last = now;
            }
        });
        tracing::info!(
            "connected to Mattermost {} as @{}",
            s.url,
            self.with_state(|st| st.me.username.clone())
        );
        if let Some(tx) = first.take() {
            let _ = tx.send(Ok(()));
        } else {
            self.catch_up().await;
        }
        *delay = s.reconnect_delay;
        self.push(crate::adapters::connected_event(self.bot()))
            .await;
        let mut ping = tokio::time::interval(s.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seq = 1i64;
        let mut heard = Instant::now();
        loop {
            tokio::select! {
                frame = transport::next_json(&mut socket) => {
                    heard = Instant::now();
                    if let Some(v) = frame? {
                        self.note_sequence(&v);
                        self.event(&v).await;
                    }
                }
                _ = ping.tick() => {
                    seq += 1;
                    // A websocket ping (answered by a pong frame) and Mattermost's own `ping`
                    // action (answered with `pong` in the data), as the webapp does.
                    let action = json!({"seq": seq, "action": "ping"}).to_string();
                    socket.send(WsMessage::Ping(Vec::new().into())).await
                        .map_err(|e| format!("websocket ping: {e}"))?;
                    socket.send(WsMessage::text(action)).await
                        .map_err(|e| format!("websocket ping: {e}"))?;
                }
                () = tokio::time::sleep_until(heard + s.silence_timeout) => {
                    return Err(format!(
                        "the websocket was silent for {:.1} s",
                        s.silence_timeout.as_secs_f64()
                    ));
                }
                _ = stop.changed() => {
                    let _ = socket.close(None).await;
                    return Ok(());
                }
            }
        }
    }

    /// Remembers the connection's id (from `hello`) and the next event's sequence number, so
    /// that a reconnection asks the server to resume (`connection_id`, `sequence_number`): a
    /// server that still has the missed events sends them again, one that does not says
    /// `hello` with a new id (catch-up then reads what was missed).
    fn note_sequence(&self, v: &Value) {
        let Some(seq) = v.get("seq").and_then(Value::as_i64) else {
            return;
        };
        if v.get("event").is_none() {
            return;
        }
        let hello_id = (text(v, "event") == "hello")
            .then(|| v.get("data").map(|d| text(d, "connection_id")))
            .flatten()
            .filter(|id| !id.is_empty());
        self.with_state(|st| {
            if let Some(id) = hello_id {
                st.resume = Some((id, seq + 1));
            } else if let Some((_, next)) = &mut st.resume {
                *next = seq + 1;
            }
        });
    }

    /// Reads the posts of the bot's channels written while it was disconnected
    /// (`GET /channels/{id}/posts?since=`), oldest first; those already seen are skipped.
    async fn catch_up(&self) {
        let channels: Vec<(String, i64)> =
            self.with_state(|st| st.joined.iter().map(|(k, v)| (k.clone(), *v)).collect());
        for (channel_id, since) in channels {
            if since == 0 {
                continue;
            }
            let answer = match self
                .api
                .get(&format!("/channels/{channel_id}/posts?since={since}"))
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!("cannot catch up on channel {channel_id}: {e}");
                    continue;
                }
            };
            let mut posts: Vec<Value> = answer
                .get("posts")
                .and_then(Value::as_object)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            posts.sort_by_key(|p| p.get("create_at").and_then(Value::as_i64).unwrap_or(0));
            for post in posts {
                // Edited or deleted posts come back too: only new ones are commands.
                let created = post.get("create_at").and_then(Value::as_i64).unwrap_or(0);
                if created <= since
                    || post.get("delete_at").and_then(Value::as_i64).unwrap_or(0) > 0
                {
                    continue;
                }
                self.post(&post, &Value::Null).await;
            }
        }
    }

    /// One websocket event.
    pub(super) async fn event(&self, v: &Value) {
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        match text(v, "event").as_str() {
            "posted" => match embedded(data.get("post")) {
                Some(post) => self.post(&post, &data).await,
                None => tracing::warn!("a posted event without a readable post ignored"),
            },
            "post_edited" => {
                // An edit never runs a command again (Errbot's users saw commands run twice).
                if let Some(post) = embedded(data.get("post")) {
                    tracing::debug!("post {} edited: not a new command", text(&post, "id"));
                }
            }
            "post_deleted" => {
                // A deleted post is never read again: catching up skips it (`delete_at`).
                if let Some(post) = embedded(data.get("post")) {
                    tracing::debug!("post {} deleted", text(&post, "id"));
                }
            }
            "reaction_added" | "reaction_removed" => {
                let added = text(v, "event") == "reaction_added";
                if let Some(r) = embedded(data.get("reaction")) {
                    self.reaction(&r, added).await;
                }
            }
            "user_added" => {
                let broadcast = v.get("broadcast").cloned().unwrap_or(Value::Null);
                let channel_id = text(&broadcast, "channel_id");
                self.membership(&channel_id, &text(&data, "user_id"), "", true)
                    .await;
            }
            "user_removed" => {
                // Sent to the channel (`data.user_id` left) and to the person removed
                // (`data.channel_id`, `broadcast.user_id`).
                let broadcast = v.get("broadcast").cloned().unwrap_or(Value::Null);
                let (channel_id, user_id) = match text(&data, "channel_id") {
                    id if id.is_empty() => (text(&broadcast, "channel_id"), text(&data, "user_id")),
                    id => (id, text(&broadcast, "user_id")),
                };
                self.membership(&channel_id, &user_id, &text(&data, "remover_id"), false)
                    .await;
            }
            "status_change" => self.presence(&data).await,
            "user_updated" => {
                // A rename: the cache learns the new name (access rules match the id too).
                if let Some(user) = data.get("user").map(user_of).filter(|u| !u.id.is_empty()) {
                    self.with_state(|st| {
                        if st.me.id == user.id {
                            st.me.username.clone_from(&user.username);
                        }
                        st.users.insert(user.id.clone(), user);
                    });
                }
            }
            _ => {}
        }
    }

    /// Someone (or the bot) joined or left a channel: a room event for errbotd.
    async fn membership(&self, channel_id: &str, user_id: &str, by: &str, joined: bool) {
        if channel_id.is_empty() || user_id.is_empty() {
            return;
        }
        let channel = self
            .channel(&Channel {
                id: channel_id.to_owned(),
                ..Default::default()
            })
            .await;
        if channel.name.is_empty() || channel.is_direct() {
            return;
        }
        let me = self.with_state(|st| st.me.id.clone());
        let who = if user_id == me {
            self.with_state(|st| {
                if joined {
                    st.joined.entry(channel.id.clone()).or_insert(0);
                } else {
                    // Removed by someone: not joined again at the next connection.
                    st.joined.remove(&channel.id);
                    st.wanted.remove(&channel.name);
                }
            });
            if !joined && !by.is_empty() && by != me {
                tracing::warn!("removed from ~{} by {by}", channel.name);
            }
            None
        } else {
            let user = self.user(user_id, "").await;
            Some(self.ids.occupant(&channel, &user))
        };
        let by = if by.is_empty() || by == user_id {
            None
        } else {
            let user = self.user(by, "").await;
            Some(self.ids.occupant(&channel, &user))
        };
        let kind = if joined {
            room_event::Kind::Joined
        } else {
            room_event::Kind::Left
        };
        let event = BackendEvent {
            kind: Some(backend_event::Kind::Room(RoomEvent {
                kind: kind as i32,
                room: Some(self.ids.room(&channel)),
                topic: String::new(),
                who,
                by,
            })),
        };
        self.push(event).await;
    }

    /// A person's status changed (`online`, `away`, `dnd`, `offline`).
    async fn presence(&self, data: &Value) {
        let user_id = text(data, "user_id");
        let status = text(data, "status");
        if user_id.is_empty()
            || status.is_empty()
            || user_id == self.with_state(|st| st.me.id.clone())
        {
            return;
        }
        let user = self.user(&user_id, "").await;
        let event = BackendEvent {
            kind: Some(backend_event::Kind::Presence(PresenceEvent {
                who: Some(self.ids.person(&user)),
                status,
                message: String::new(),
            })),
        };
        self.push(event).await;
    }

    /// A new post: a message for errbotd unless it is the bot's own, a system message, or one
    /// seen already.
    async fn post(&self, post: &Value, data: &Value) {
        let id = text(post, "id");
        let channel_id = text(post, "channel_id");
        let user_id = text(post, "user_id");
        let root_id = text(post, "root_id");
        if id.is_empty() || channel_id.is_empty() || user_id.is_empty() {
            return;
        }
        let create_at = post.get("create_at").and_then(Value::as_i64).unwrap_or(0);
        let (fresh, me) = self.with_state(|st| {
            let fresh = st.seen.insert(&id, &root_id);
            if let Some(last) = st.joined.get_mut(&channel_id) {
                *last = (*last).max(create_at);
            } else {
                st.joined.insert(channel_id.clone(), create_at);
            }
            (fresh, st.me.clone())
        });
        if !fresh || user_id == me.id || !text(post, "type").is_empty() {
            return;
        }
        let hint = Channel {
            id: channel_id.clone(),
            name: text(data, "channel_name"),
            display_name: text(data, "channel_display_name"),
            kind: text(data, "channel_type"),
        };
        let channel = self.channel(&hint).await;
        let sender = text(data, "sender_name");
        let user = self.user(&user_id, sender.trim_start_matches('@')).await;
        let body = self.unmention(&text(post, "message"), &me.username);
        let direct = channel.kind == "D";
        let (from, to) = if direct {
            let mut from = self.ids.person(&user);
            from.client = channel.id.clone();
            (from, self.bot())
        } else {
            (self.ids.occupant(&channel, &user), self.ids.room(&channel))
        };
        let mentions = embedded(data.get("mentions"))
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .map(|uid| Identifier {
                backend: self.ids.backend.clone(),
                person: uid.to_owned(),
                ..Default::default()
            })
            .collect();
        let mut extras = HashMap::new();
        extras.insert("channel_id".to_owned(), channel.id.clone());
        extras.insert("post_id".to_owned(), id.clone());
        let message = Message {
            id,
            from: Some(from),
            to: Some(to),
            body,
            direct,
            thread_id: root_id,
            delayed: false,
            from_self: false,
            timestamp_ms: create_at,
            mentions,
            extras,
        };
        self.push(crate::adapters::message_event(message)).await;
    }

    /// `@bot help` is a command: a leading mention of the bot becomes the bot's prefix.
    fn unmention(&self, body: &str, me: &str) -> String {
        let Some(rest) = body.strip_prefix('@').and_then(|b| b.strip_prefix(me)) else {
            return body.to_owned();
        };
        if !(rest.is_empty() || rest.starts_with([' ', ':', ',', '\t', '\n'])) {
            return body.to_owned();
        }
        let rest = rest.trim_start_matches([':', ',']).trim_start();
        if self.prefix.is_empty() || rest.starts_with(self.prefix.as_str()) {
            rest.to_owned()
        } else {
            format!("{}{rest}", self.prefix)
        }
    }

    /// A reaction added or removed, for errbotd.
    async fn reaction(&self, r: &Value, added: bool) {
        let user_id = text(r, "user_id");
        let post_id = text(r, "post_id");
        let emoji = text(r, "emoji_name");
        if user_id.is_empty() || post_id.is_empty() || emoji.is_empty() {
            return;
        }
        if user_id == self.with_state(|st| st.me.id.clone()) {
            return;
        }
        let user = self.user(&user_id, "").await;
        let event = BackendEvent {
            kind: Some(backend_event::Kind::Reaction(ReactionEvent {
                who: Some(self.ids.person(&user)),
                message_id: post_id,
                reaction: emoji,
                added,
            })),
        };
        self.push(event).await;
    }

    /// A user by id, from the cache or the server (`fallback` names it when the server fails).
    pub(super) async fn user(&self, id: &str, fallback: &str) -> User {
        if let Some(u) = self.with_state(|st| st.users.get(id).cloned()) {
            return u;
        }
        match self.api.get(&format!("/users/{id}")).await {
            Ok(v) => {
                let user = user_of(&v);
                if user.id == id && !user.username.is_empty() {
                    self.with_state(|st| st.users.insert(id.to_owned(), user.clone()));
                    return user;
                }
            }
            Err(e) => tracing::warn!("cannot look user {id} up: {e}"),
        }
        User {
            id: id.to_owned(),
            username: if fallback.is_empty() { id } else { fallback }.to_owned(),
            ..Default::default()
        }
    }

    /// A channel by id, from the cache, the event's own data or the server.
    async fn channel(&self, hint: &Channel) -> Channel {
        if let Some(c) = self.with_state(|st| st.channels.get(&hint.id).cloned()) {
            return c;
        }
        let channel = match self.api.get(&format!("/channels/{}", hint.id)).await {
            Ok(v) if text(&v, "id") == hint.id => channel_of(&v),
            _ => hint.clone(),
        };
        if !channel.name.is_empty() {
            self.remember(&channel);
        }
        channel
    }

    /// A channel of the team by name, from the cache or the server.
    pub(super) async fn channel_named(&self, name: &str) -> Result<Channel, ApiError> {
        let known = self.with_state(|st| {
            st.channels
                .values()
                .find(|c| c.name == name && !c.is_direct())
                .cloned()
        });
        if let Some(c) = known {
            return Ok(c);
        }
        let team_id = self.with_state(|st| st.team_id.clone());
        let v = self
            .api
            .get(&format!("/teams/{team_id}/channels/name/{name}"))
            .await?;
        let channel = channel_of(&v);
        if channel.id.is_empty() {
            return Err(ApiError::Transport(format!("channel {name} has no id")));
        }
        self.remember(&channel);
        Ok(channel)
    }

    fn remember(&self, channel: &Channel) {
        self.with_state(|st| st.channels.insert(channel.id.clone(), channel.clone()));
    }

    /// Queues an event for errbotd (waits while the queue is full: nothing is dropped).
    pub(super) async fn push(&self, event: BackendEvent) {
        if let Err(e) = self.events.push(event).await {
            tracing::warn!("event dropped: {e}");
        }
    }
}
