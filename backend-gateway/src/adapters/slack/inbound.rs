//! What Slack sends, turned into events for errbotd: `message` (channels, private channels,
//! DMs, multi-person DMs, threads, the subtypes), `app_mention`, reactions. Each event is
//! handled once whatever the number of deliveries; edits, unfurls, deletions and the bot's own
//! messages never run a command.

use std::collections::HashMap;

use errbot_proto::v1::{
    BackendEvent, Identifier, Message, ReactionEvent, RoomEvent, backend_event, room_event,
};
use serde_json::Value;

use super::Shared;
use super::ids::{Channel, Kind, User};
use super::transport::text;

/// Subtypes of `message` that are new messages from someone (others are changes to old
/// messages, or notices).
const NEW_MESSAGE_SUBTYPES: &[&str] = &[
    "",
    "bot_message",
    "file_share",
    "me_message",
    "thread_broadcast",
];

/// A message's text as the person typed it: Slack's links back to what they show, mentions
/// kept in Slack's form (`<@U123>`, what the identifiers show), `&amp; &lt; &gt;` unescaped.
pub fn plain_text(markup: &str) -> String {
    let mut out = String::with_capacity(markup.len());
    let mut rest = markup;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find('>') else {
            out.push_str(tail);
            rest = "";
            break;
        };
        let inner = &tail[1..end];
        if inner.starts_with('@') || inner.starts_with('#') {
            // A mention of a person or a channel: kept as the identifiers write it.
            let id = inner.split_once('|').map_or(inner, |(id, _)| id);
            out.push('<');
            out.push_str(id);
            out.push('>');
        } else if let Some(special) = inner.strip_prefix('!') {
            // `<!here>`, `<!subteam^S1|@team>`: what it shows.
            match special.split_once('|') {
                Some((_, label)) => out.push_str(label),
                None => {
                    out.push('@');
                    out.push_str(special);
                }
            }
        } else {
            // A link: what it shows (its label, else the address).
            out.push_str(inner.split_once('|').map_or(inner, |(_, label)| label));
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The ids of the people a message mentions (`<@U123>`), in order, without repeats.
pub fn mentioned(markup: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for piece in markup.split("<@").skip(1) {
        let Some(end) = piece.find('>') else { continue };
        let inner = &piece[..end];
        let id = inner.split_once('|').map_or(inner, |(id, _)| id);
        if !id.is_empty() && !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// `<@BOT> help` is a command: a leading mention of the bot becomes the prefix.
pub fn unmention(body: &str, bot_id: &str, prefix: &str) -> String {
    let mention = format!("<@{bot_id}>");
    let Some(rest) = body.trim_start().strip_prefix(&mention) else {
        return body.to_owned();
    };
    let rest = rest.trim_start_matches([':', ',']).trim_start();
    if prefix.is_empty() || rest.starts_with(prefix) {
        rest.to_owned()
    } else {
        format!("{prefix}{rest}")
    }
}

/// Milliseconds of a Slack `ts` (`"1700000000.123456"`).
pub fn ts_ms(ts: &str) -> i64 {
    ts.parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map_or(0, |t| (t * 1000.0) as i64)
}

impl Shared {
    /// One envelope (already acknowledged): handled once, whatever the connection.
    pub(super) async fn envelope(&self, v: &Value) {
        let payload = v.get("payload").cloned().unwrap_or(Value::Null);
        let event_id = text(&payload, "event_id");
        let key = if event_id.is_empty() {
            format!("envelope:{}", text(v, "envelope_id"))
        } else {
            format!("event:{event_id}")
        };
        if !self.with_state(|st| st.seen.insert(&key)) {
            let attempt = v.get("retry_attempt").and_then(serde_json::Value::as_i64);
            let reason = text(v, "retry_reason");
            tracing::debug!(
                "{key} delivered again (retry {}, {reason}): handled once already",
                attempt.unwrap_or(0)
            );
            return;
        }
        match text(v, "type").as_str() {
            "events_api" => {
                let event = payload.get("event").cloned().unwrap_or(Value::Null);
                match text(&event, "type").as_str() {
                    "message" | "app_mention" => self.message(&event).await,
                    "member_joined_channel" | "member_left_channel" => {
                        self.membership(&event).await;
                    }
                    "reaction_added" => self.reaction(&event, true).await,
                    "reaction_removed" => self.reaction(&event, false).await,
                    other => tracing::debug!("Slack event {other:?} not handled"),
                }
            }
            other => tracing::debug!("Socket Mode envelope {other:?} not handled"),
        }
    }

    /// A `message` or `app_mention` event.
    async fn message(&self, ev: &Value) {
        let subtype = text(ev, "subtype");
        if matches!(subtype.as_str(), "channel_topic" | "group_topic") {
            let channel_id = text(ev, "channel");
            let channel = self
                .channel(
                    &channel_id,
                    Kind::of(&text(ev, "channel_type"), &channel_id),
                )
                .await;
            self.room_event(room_event::Kind::Topic, &channel, text(ev, "topic"))
                .await;
            return;
        }
        if !NEW_MESSAGE_SUBTYPES.contains(&subtype.as_str()) {
            match subtype.as_str() {
                "message_changed" => tracing::debug!(
                    "a message was edited or unfurled: not a new command (ts {})",
                    ev.get("message").map(|m| text(m, "ts")).unwrap_or_default()
                ),
                "message_deleted" => {
                    tracing::debug!("message {} deleted", text(ev, "deleted_ts"));
                }
                other => tracing::debug!("message subtype {other:?} ignored"),
            }
            return;
        }
        if ev.get("hidden").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let channel_id = text(ev, "channel");
        let ts = text(ev, "ts");
        if channel_id.is_empty() || ts.is_empty() {
            return;
        }
        let user_id = text(ev, "user");
        let bot_id = text(ev, "bot_id");
        let (fresh, me, my_bot) = self.with_state(|st| {
            (
                st.seen.insert(&format!("message:{channel_id}/{ts}")),
                st.me.clone(),
                st.bot_id.clone(),
            )
        });
        // A mention comes as `message` and as `app_mention`: the first one counts.
        if !fresh {
            return;
        }
        if user_id == me.id || (!bot_id.is_empty() && bot_id == my_bot) {
            return;
        }
        let sender = if !user_id.is_empty() {
            self.user(&user_id).await
        } else if !bot_id.is_empty() {
            self.bot_user(&bot_id, &text(ev, "username")).await
        } else {
            return;
        };
        let kind = Kind::of(&text(ev, "channel_type"), &channel_id);
        let channel = self.channel(&channel_id, kind).await;
        let markup = text(ev, "text");
        let body = unmention(&plain_text(&markup), &me.id, &self.prefix);
        let direct = channel.kind == Kind::Im;
        let (from, to) = if direct {
            let mut from = self.ids.person(&sender);
            from.client = channel.id.clone();
            (from, self.bot())
        } else {
            (
                self.ids.occupant(&channel, &sender),
                self.ids.room(&channel),
            )
        };
        let mentions = mentioned(&markup)
            .into_iter()
            .map(|id| Identifier {
                backend: self.ids.backend.clone(),
                display: format!("<@{id}>"),
                acl: id.clone(),
                person: id,
                ..Default::default()
            })
            .collect();
        let thread_ts = text(ev, "thread_ts");
        let mut extras = HashMap::new();
        extras.insert("channel".to_owned(), channel.id.clone());
        extras.insert("ts".to_owned(), ts.clone());
        if !thread_ts.is_empty() {
            extras.insert("thread_ts".to_owned(), thread_ts.clone());
        }
        extras.insert("slack_event".to_owned(), ev.to_string());
        // One person in one place (a channel, a thread, a DM): replies keep the messages' order.
        let conversation = format!("{}/{}/{}", channel.id, thread_ts, sender.id);
        self.order.arrived(&ts, &conversation);
        let message = Message {
            id: ts.clone(),
            from: Some(from),
            to: Some(to),
            body,
            direct,
            thread_id: thread_ts,
            delayed: false,
            from_self: false,
            timestamp_ms: ts_ms(&ts),
            mentions,
            extras,
        };
        self.push(crate::adapters::message_event(message)).await;
    }

    /// The bot joined or left a channel (`member_joined_channel`, `member_left_channel`; the
    /// `channel_join` messages that come too are not counted twice).
    async fn membership(&self, ev: &Value) {
        if text(ev, "user") != self.with_state(|st| st.me.id.clone()) {
            return;
        }
        let channel_id = text(ev, "channel");
        if channel_id.is_empty() {
            return;
        }
        let channel = self.channel(&channel_id, Kind::of("", &channel_id)).await;
        let kind = if text(ev, "type") == "member_joined_channel" {
            room_event::Kind::Joined
        } else {
            room_event::Kind::Left
        };
        self.room_event(kind, &channel, String::new()).await;
    }

    async fn room_event(&self, kind: room_event::Kind, channel: &Channel, topic: String) {
        self.push(BackendEvent {
            kind: Some(backend_event::Kind::Room(RoomEvent {
                kind: kind as i32,
                room: Some(self.ids.room(channel)),
                topic,
                ..Default::default()
            })),
        })
        .await;
    }

    /// A reaction added or removed, for errbotd.
    async fn reaction(&self, ev: &Value, added: bool) {
        let user_id = text(ev, "user");
        let item = ev.get("item").cloned().unwrap_or(Value::Null);
        let ts = text(&item, "ts");
        let name = text(ev, "reaction");
        if user_id.is_empty() || ts.is_empty() || name.is_empty() {
            return;
        }
        if user_id == self.with_state(|st| st.me.id.clone()) {
            return;
        }
        let user = self.user(&user_id).await;
        self.push(BackendEvent {
            kind: Some(backend_event::Kind::Reaction(ReactionEvent {
                who: Some(self.ids.person(&user)),
                message_id: ts,
                reaction: name,
                added,
            })),
        })
        .await;
    }

    /// A user by id: the cache, else `users.info` (a failure leaves just the id: a message is
    /// never lost because a profile could not be read).
    pub(super) async fn user(&self, id: &str) -> User {
        if let Some(u) = self.with_state(|st| st.users.get(id).cloned()) {
            return u;
        }
        let params = [("user", id)];
        let answer = self
            .outbox
            .call("users.info", || {
                self.api.call("users.info", super::Token::Bot, &params)
            })
            .await;
        match answer {
            Ok(a) => {
                let user = super::user_of(a.body.get("user").unwrap_or(&Value::Null));
                if user.id == id {
                    self.remember_user(&user);
                    return user;
                }
            }
            Err(e) => tracing::warn!("cannot look user {id} up: {e}"),
        }
        User {
            id: id.to_owned(),
            ..Default::default()
        }
    }

    /// A bot by its `B...` id: the cache, else `bots.info` (`users.info` knows no bot id).
    async fn bot_user(&self, id: &str, username: &str) -> User {
        if let Some(u) = self.with_state(|st| st.users.get(id).cloned()) {
            return u;
        }
        let params = [("bot", id)];
        let answer = self
            .outbox
            .call("bots.info", || {
                self.api.call("bots.info", super::Token::Bot, &params)
            })
            .await;
        let name = match &answer {
            Ok(a) => a
                .body
                .get("bot")
                .map(|b| text(b, "name"))
                .unwrap_or_default(),
            Err(e) => {
                tracing::warn!("cannot look bot {id} up: {e}");
                String::new()
            }
        };
        let user = User {
            id: id.to_owned(),
            name: if name.is_empty() {
                username.to_owned()
            } else {
                name
            },
            ..Default::default()
        };
        if answer.is_ok() {
            self.with_state(|st| st.users.insert(id.to_owned(), user.clone()));
        }
        user
    }

    /// A conversation by id: the cache, else `conversations.info` (a failure leaves the id).
    pub(super) async fn channel(&self, id: &str, kind: Kind) -> Channel {
        if let Some(c) = self.with_state(|st| st.channels.get(id).cloned()) {
            return c;
        }
        if kind == Kind::Im {
            let c = Channel {
                id: id.to_owned(),
                name: String::new(),
                kind,
            };
            self.with_state(|st| st.channels.insert(id.to_owned(), c.clone()));
            return c;
        }
        let params = [("channel", id)];
        let answer = self
            .outbox
            .call("conversations.info", || {
                self.api
                    .call("conversations.info", super::Token::Bot, &params)
            })
            .await;
        match answer {
            Ok(a) => {
                let c = super::channel_of(a.body.get("channel").unwrap_or(&Value::Null));
                if c.id == id {
                    self.with_state(|st| st.channels.insert(id.to_owned(), c.clone()));
                    return c;
                }
            }
            Err(e) => tracing::warn!("cannot look channel {id} up: {e}"),
        }
        Channel {
            id: id.to_owned(),
            name: String::new(),
            kind,
        }
    }

    /// Queues an event for errbotd (waits while the queue is full: nothing is dropped).
    pub(super) async fn push(&self, event: BackendEvent) {
        if let Err(e) = self.events.push(event).await {
            tracing::warn!("event dropped: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_read_back_as_typed() {
        assert_eq!(
            plain_text("see <https://x.example|x.example> &amp; <mailto:a@b.c|a@b.c> &lt;3"),
            "see x.example & a@b.c <3"
        );
        assert_eq!(plain_text("<https://x.example>"), "https://x.example");
        assert_eq!(
            plain_text("hi <@U0ALICE|alice> in <#C1|general> <!here>"),
            "hi <@U0ALICE> in <#C1> @here"
        );
        assert_eq!(plain_text("a < b"), "a < b");
    }

    #[test]
    fn a_leading_mention_is_the_prefix() {
        assert_eq!(unmention("<@UBOT> help", "UBOT", "!"), "!help");
        assert_eq!(unmention("<@UBOT>: !help", "UBOT", "!"), "!help");
        assert_eq!(unmention("hi <@UBOT> help", "UBOT", "!"), "hi <@UBOT> help");
        assert_eq!(unmention("<@UOTHER> help", "UBOT", "!"), "<@UOTHER> help");
        assert_eq!(
            mentioned("<@U1> and <@U2|b> and <@U1>"),
            ["U1".to_owned(), "U2".to_owned()]
        );
        assert_eq!(ts_ms("1700000000.123456"), 1_700_000_000_123);
    }
}
