//! What an update means for errbotd: a message, reactions, nothing (edits, the bot's own messages,
//! commands for another bot, updates of other kinds), or a group that became a supergroup.
//!
//! A message in a private chat is direct (from the person, to the bot); one in a group or
//! supergroup comes from the person in the group, to the group, in its topic
//! (`message_thread_id` of a topic message) if it has one. A leading command (a `bot_command`
//! entity at offset 0) is the bot's command whatever errbotd's prefix: `/help` and
//! `/help@ThisBot` are `!help`, while `/help@OtherBot` is for another bot and dropped. A leading
//! mention of the bot (`@ThisBot help`) stands for the prefix too. Entity offsets and lengths
//! count UTF-16 code units.

use errbot_proto::v1::{Identifier, Message};
use serde_json::Value;

use super::ids::{Ids, User};

/// An update, read.
#[derive(Debug)]
pub enum Inbound {
    /// A message for errbotd.
    Message(Box<Message>),
    /// Nothing for errbotd (why, for the debug log).
    Ignore(&'static str),
    /// People's reactions changed on a message.
    Reactions(Vec<errbot_proto::v1::ReactionEvent>),
    /// Group `from` became supergroup `to` (its service message).
    Migrated {
        /// The old group's id.
        from: i64,
        /// The supergroup's id.
        to: i64,
    },
}

/// The byte range of the UTF-16 range `offset..offset+length` of `text`.
pub fn utf16_range(text: &str, offset: usize, length: usize) -> Option<(usize, usize)> {
    let (mut units, mut start) = (0usize, None);
    let end_units = offset.checked_add(length)?;
    for (i, c) in text.char_indices() {
        if units == offset {
            start = Some(i);
        }
        if units == end_units {
            return Some((start?, i));
        }
        units += c.len_utf16();
    }
    if units == offset {
        start = Some(text.len());
    }
    (units == end_units).then_some((start?, text.len()))
}

/// An entity's type and byte range in `text`.
fn entities(text: &str, message: &Value, key: &str) -> Vec<(String, usize, usize, Value)> {
    let Some(list) = message.get(key).and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            let kind = e.get("type")?.as_str()?.to_owned();
            let offset = usize::try_from(e.get("offset")?.as_u64()?).ok()?;
            let length = usize::try_from(e.get("length")?.as_u64()?).ok()?;
            let (a, b) = utf16_range(text, offset, length)?;
            Some((kind, a, b, e.clone()))
        })
        .collect()
}

/// Reads `update` for a bot `me` whose errbotd prefix is `prefix`.
pub fn read(update: &Value, me: &User, prefix: &str, ids: &Ids) -> Inbound {
    if let Some(reaction) = update.get("message_reaction") {
        return Inbound::Reactions(super::reactions::events(reaction, ids));
    }
    let message = match update.get("message") {
        Some(m) => m,
        None if update.get("edited_message").is_some() => {
            return Inbound::Ignore("an edit (never runs a command again)");
        }
        None => return Inbound::Ignore("an update of another kind"),
    };
    let chat = message.get("chat").cloned().unwrap_or(Value::Null);
    let chat_id = chat.get("id").and_then(Value::as_i64).unwrap_or(0);
    if let Some(to) = message.get("migrate_to_chat_id").and_then(Value::as_i64) {
        return Inbound::Migrated { from: chat_id, to };
    }
    let Some(from) = message.get("from").map(User::of).filter(|u| u.id != 0) else {
        return Inbound::Ignore("a message from no user (a channel post)");
    };
    if from.id == me.id {
        return Inbound::Ignore("the bot's own message");
    }
    let (text, key) = match (message.get("text"), message.get("caption")) {
        (Some(Value::String(t)), _) => (t.as_str(), "entities"),
        (_, Some(Value::String(c))) => (c.as_str(), "caption_entities"),
        _ => return Inbound::Ignore("a message without text"),
    };
    let found = entities(text, message, key);
    let body = match leading(text, &found, me, prefix) {
        Ok(body) => body,
        Err(why) => return Inbound::Ignore(why),
    };
    let chat_type = chat.get("type").and_then(Value::as_str).unwrap_or("");
    let title = chat.get("title").and_then(Value::as_str).unwrap_or("");
    let message_id = message
        .get("message_id")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let (from_id, to_id, direct) = match chat_type {
        "private" => (ids.person(&from), ids.person(me), true),
        "group" | "supergroup" => (
            ids.occupant(chat_id, title, &from),
            ids.chat(chat_id, title),
            false,
        ),
        _ => return Inbound::Ignore("a message in a channel"),
    };
    let topic = message.get("is_topic_message").and_then(Value::as_bool) == Some(true);
    let thread_id = message
        .get("message_thread_id")
        .and_then(Value::as_i64)
        .filter(|_| topic)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let mentions = found
        .iter()
        .filter_map(|(kind, a, b, e)| match kind.as_str() {
            "mention" => Some(Identifier {
                backend: ids.backend.clone(),
                nick: text[*a..*b].trim_start_matches('@').to_owned(),
                display: text[*a..*b].to_owned(),
                ..Default::default()
            }),
            "text_mention" => e.get("user").map(|u| ids.person(&User::of(u))),
            _ => None,
        })
        .collect();
    let mut extras = std::collections::HashMap::new();
    extras.insert("message_id".to_owned(), message_id.to_string());
    extras.insert("chat_id".to_owned(), chat_id.to_string());
    extras.insert("chat_type".to_owned(), chat_type.to_owned());
    if let Some(u) = update.get("update_id").and_then(Value::as_i64) {
        extras.insert("update_id".to_owned(), u.to_string());
    }
    attachment(message, &mut extras);
    if let Some(r) = message
        .get("reply_to_message")
        .and_then(|r| r.get("message_id"))
        .and_then(Value::as_i64)
    {
        extras.insert("reply_to_message_id".to_owned(), r.to_string());
    }
    Inbound::Message(Box::new(Message {
        id: message_key(chat_id, message_id),
        from: Some(from_id),
        to: Some(to_id),
        body,
        direct,
        thread_id,
        delayed: false,
        from_self: false,
        timestamp_ms: message
            .get("date")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .saturating_mul(1000),
        mentions,
        extras,
    }))
}

/// A file the message carries (a document, the largest size of a photo, audio, video, voice),
/// for plugins: `file_kind`, `file_id` (for the Bot API's `getFile`), `file_name`,
/// `mime_type`, `file_size`.
fn attachment(message: &Value, extras: &mut std::collections::HashMap<String, String>) {
    let found = ["document", "photo", "audio", "video", "voice"]
        .iter()
        .find_map(|kind| {
            let v = message.get(*kind)?;
            // A photo comes in several sizes, the largest last.
            let file = if *kind == "photo" {
                v.as_array()?.last()?
            } else {
                v
            };
            Some((*kind, file))
        });
    let Some((kind, file)) = found else { return };
    extras.insert("file_kind".to_owned(), kind.to_owned());
    for key in ["file_id", "file_name", "mime_type"] {
        if let Some(v) = file.get(key).and_then(Value::as_str) {
            extras.insert(key.to_owned(), v.to_owned());
        }
    }
    if let Some(n) = file.get("file_size").and_then(Value::as_u64) {
        extras.insert("file_size".to_owned(), n.to_string());
    }
}

/// A message's id for errbotd (unique across chats): `CHAT:MESSAGE`.
pub fn message_key(chat_id: i64, message_id: i64) -> String {
    format!("{chat_id}:{message_id}")
}

/// The body errbotd gets: a leading command or mention of the bot made the prefix.
fn leading(
    text: &str,
    found: &[(String, usize, usize, Value)],
    me: &User,
    prefix: &str,
) -> Result<String, &'static str> {
    let Some((kind, 0, end, e)) = found.iter().find(|(_, a, _, _)| *a == 0) else {
        return Ok(text.to_owned());
    };
    let (entity, rest) = text.split_at(*end);
    match kind.as_str() {
        "bot_command" => {
            // Telegram's command entities start with `/`; one that does not is no command.
            let Some(command) = entity.strip_prefix('/') else {
                return Ok(text.to_owned());
            };
            let (name, bot) = command.split_once('@').unwrap_or((command, ""));
            if !bot.is_empty() && !bot.eq_ignore_ascii_case(&me.username) {
                return Err("a command for another bot");
            }
            let prefix = if prefix.is_empty() { "/" } else { prefix };
            Ok(format!("{prefix}{name}{rest}"))
        }
        "mention" | "text_mention" => {
            let me_named = if kind == "mention" {
                entity
                    .strip_prefix('@')
                    .is_some_and(|name| name.eq_ignore_ascii_case(&me.username))
            } else {
                e.get("user")
                    .and_then(|u| u.get("id"))
                    .and_then(Value::as_i64)
                    == Some(me.id)
            };
            if !me_named {
                return Ok(text.to_owned());
            }
            let rest = rest.trim_start_matches([':', ',']).trim_start();
            if prefix.is_empty() || rest.starts_with(prefix) {
                Ok(rest.to_owned())
            } else {
                Ok(format!("{prefix}{rest}"))
            }
        }
        _ => Ok(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn me() -> User {
        User {
            id: 999,
            username: "ErrBot".into(),
            fullname: "Err".into(),
            is_bot: true,
        }
    }

    fn ids() -> Ids {
        Ids {
            backend: "tg".into(),
        }
    }

    fn update(chat: Value, text: &str, entities: Value) -> Value {
        json!({"update_id": 7, "message": {"message_id": 3, "date": 1700000000,
            "from": {"id": 42, "is_bot": false, "first_name": "Alice", "username": "alice"},
            "chat": chat, "text": text, "entities": entities}})
    }

    fn body(u: &Value) -> Result<Message, &'static str> {
        match read(u, &me(), "!", &ids()) {
            Inbound::Message(m) => Ok(*m),
            Inbound::Ignore(why) => Err(why),
            Inbound::Migrated { .. } => Err("migrated"),
            Inbound::Reactions(_) => Err("reactions"),
        }
    }

    #[test]
    fn utf16_offsets() {
        let text = "😀 @bob hi";
        assert_eq!(
            utf16_range(text, 3, 4).map(|(a, b)| &text[a..b]),
            Some("@bob")
        );
        assert_eq!(
            utf16_range(text, 0, 2).map(|(a, b)| &text[a..b]),
            Some("😀")
        );
        assert_eq!(utf16_range(text, 1, 1), None, "inside a surrogate pair");
        assert_eq!(
            utf16_range(text, 7, 3).map(|(a, b)| &text[a..b]),
            Some(" hi")
        );
        assert_eq!(utf16_range(text, 9, 5), None);
    }

    #[test]
    fn private_and_group_messages() {
        let private = json!({"id": 42, "type": "private", "first_name": "Alice"});
        let m = body(&update(private, "!echo hi", json!([]))).unwrap();
        assert!(m.direct);
        assert_eq!(m.id, "42:3");
        assert_eq!(m.from.unwrap().display, "42");
        assert_eq!(m.to.unwrap().person, "999");
        assert_eq!(m.timestamp_ms, 1_700_000_000_000);

        let group = json!({"id": -100123, "type": "supergroup", "title": "Team", "is_forum": true});
        let mut u = update(group, "!echo hi", json!([]));
        u["message"]["message_thread_id"] = json!(55);
        u["message"]["is_topic_message"] = json!(true);
        let m = body(&u).unwrap();
        assert!(!m.direct);
        assert_eq!(m.thread_id, "55");
        assert_eq!(m.from.unwrap().display, "-100123/42");
        assert_eq!(m.to.unwrap().room, "-100123");
    }

    #[test]
    fn commands_and_mentions_of_the_bot() {
        let group = json!({"id": -5, "type": "group", "title": "G"});
        let cmd = |text: &str, len: usize| {
            update(
                group.clone(),
                text,
                json!([{"type": "bot_command", "offset": 0, "length": len}]),
            )
        };
        assert_eq!(body(&cmd("/echo@errbot hi", 12)).unwrap().body, "!echo hi");
        assert_eq!(body(&cmd("/echo hi", 5)).unwrap().body, "!echo hi");
        assert_eq!(
            body(&cmd("/echo@OtherBot hi", 14)).unwrap_err(),
            "a command for another bot"
        );
        let mention = update(
            group.clone(),
            "@ErrBot: echo yo",
            json!([{"type": "mention", "offset": 0, "length": 7}]),
        );
        let m = body(&mention).unwrap();
        assert_eq!(m.body, "!echo yo");
        assert_eq!(m.mentions[0].nick, "ErrBot");
        let other = update(
            group,
            "😀 @bob !echo",
            json!([{"type": "mention", "offset": 3, "length": 4}]),
        );
        let m = body(&other).unwrap();
        assert_eq!(m.body, "😀 @bob !echo");
        assert_eq!(m.mentions[0].display, "@bob");
    }

    #[test]
    fn a_captioned_document_is_a_message_with_its_file() {
        let mut u = update(json!({"id": 42, "type": "private"}), "", json!([]));
        let m = u["message"].as_object_mut().unwrap();
        m.remove("text");
        m.remove("entities");
        m.insert("caption".into(), json!("!echo see file"));
        m.insert(
            "document".into(),
            json!({"file_id": "BQAC", "file_unique_id": "AgAD",
            "file_name": "r.pdf", "mime_type": "application/pdf", "file_size": 12}),
        );
        let m = body(&u).unwrap();
        assert_eq!(m.body, "!echo see file");
        assert_eq!(m.extras["file_kind"], "document");
        assert_eq!(m.extras["file_name"], "r.pdf");
        assert_eq!(m.extras["file_size"], "12");
    }

    #[test]
    fn a_leading_entity_that_is_no_command_or_mention_leaves_the_text_as_it_is() {
        // Found by fuzzing (telegram_events): the entity's first byte was taken for its `/` or
        // `@` and cut off, which panicked inside a character or for an empty entity.
        for (text, kind, length) in [
            ("é help", "bot_command", 1),
            ("/help", "bot_command", 0),
            ("x@Other y", "bot_command", 7),
            ("éErrBot y", "mention", 7),
            ("", "mention", 0),
        ] {
            let entities = json!([{"type": kind, "offset": 0, "length": length}]);
            let u = update(json!({"id": 5, "type": "private"}), text, entities);
            match read(&u, &me(), "!", &ids()) {
                Inbound::Message(m) => assert_eq!(m.body, text),
                Inbound::Ignore(why) => assert_eq!(text, "", "{text:?} ignored: {why}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn dates_and_update_ids_at_the_ends_of_the_range_do_not_overflow() {
        let mut u = update(json!({"id": 5, "type": "private"}), "hi", json!([]));
        u["message"]["date"] = json!(i64::MAX);
        assert_eq!(body(&u).map(|m| m.timestamp_ms), Ok(i64::MAX));
    }

    #[test]
    fn edits_own_messages_and_migrations() {
        let edit = json!({"update_id": 8, "edited_message": {"message_id": 3}});
        assert!(matches!(
            read(&edit, &me(), "!", &ids()),
            Inbound::Ignore(_)
        ));
        let mut own = update(json!({"id": 42, "type": "private"}), "x", json!([]));
        own["message"]["from"]["id"] = json!(999);
        assert!(matches!(read(&own, &me(), "!", &ids()), Inbound::Ignore(_)));
        let migrated = json!({"update_id": 9, "message": {"message_id": 4, "chat": {"id": -5,
            "type": "group"}, "migrate_to_chat_id": -1005}});
        assert!(matches!(
            read(&migrated, &me(), "!", &ids()),
            Inbound::Migrated {
                from: -5,
                to: -1005
            }
        ));
    }
}
