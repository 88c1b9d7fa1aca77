//! Reactions: the names plugins give them (Slack's, as Errbot's plugins use) as Telegram's
//! emoji, and back; and people's `message_reaction` updates (Telegram sends them to a bot that
//! administers the chat and asked for them) as reaction events, one per emoji added or removed.

use errbot_proto::v1::ReactionEvent;
use serde_json::Value;

use super::ids::{Ids, User};
use super::inbound::message_key;

/// Names and the emoji Telegram allows for them.
const KNOWN: &[(&str, &str)] = &[
    ("thumbsup", "👍"),
    ("+1", "👍"),
    ("thumbsdown", "👎"),
    ("-1", "👎"),
    ("heart", "❤"),
    ("fire", "🔥"),
    ("tada", "🎉"),
    ("eyes", "👀"),
    ("ok_hand", "👌"),
    ("pray", "🙏"),
    ("clap", "👏"),
    ("100", "💯"),
    ("joy", "😂"),
    ("thinking_face", "🤔"),
    ("white_check_mark", "👌"),
];

/// A reaction's name (`thumbsup`, `:thumbsup:`) as Telegram's emoji; an emoji stays as it is.
pub fn emoji(name: &str) -> String {
    let name = name.trim().trim_matches(':');
    KNOWN
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(|| name.to_owned(), |(_, e)| (*e).to_owned())
}

/// An emoji's name, when it has one (else the emoji).
pub fn name(emoji: &str) -> String {
    KNOWN
        .iter()
        .find(|(_, e)| *e == emoji)
        .map_or_else(|| emoji.to_owned(), |(n, _)| (*n).to_owned())
}

/// The emoji of a list of `ReactionType` objects (custom emoji and paid reactions have none).
fn emojis(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter(|r| r.get("type").and_then(Value::as_str) == Some("emoji"))
                .filter_map(|r| r.get("emoji").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The events of a `message_reaction` object (none from an anonymous admin, who has no user).
pub fn events(reaction: &Value, ids: &Ids) -> Vec<ReactionEvent> {
    let chat = reaction.get("chat").cloned().unwrap_or(Value::Null);
    let chat_id = chat.get("id").and_then(Value::as_i64).unwrap_or(0);
    let title = chat.get("title").and_then(Value::as_str).unwrap_or("");
    let Some(user) = reaction.get("user").map(User::of).filter(|u| u.id != 0) else {
        return Vec::new();
    };
    let who = if chat.get("type").and_then(Value::as_str) == Some("private") {
        ids.person(&user)
    } else {
        ids.occupant(chat_id, title, &user)
    };
    let message_id = message_key(
        chat_id,
        reaction
            .get("message_id")
            .and_then(Value::as_i64)
            .unwrap_or(0),
    );
    let old = emojis(reaction.get("old_reaction"));
    let new = emojis(reaction.get("new_reaction"));
    let added = new.iter().filter(|e| !old.contains(e)).map(|e| (e, true));
    let removed = old.iter().filter(|e| !new.contains(e)).map(|e| (e, false));
    added
        .chain(removed)
        .map(|(e, added)| ReactionEvent {
            who: Some(who.clone()),
            message_id: message_id.clone(),
            reaction: name(e),
            added,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_events() {
        assert_eq!(emoji(":thumbsup:"), "👍");
        assert_eq!(emoji("🔥"), "🔥");
        assert_eq!(name("🎉"), "tada");
        let ids = Ids {
            backend: "tg".into(),
        };
        let r = json!({"chat": {"id": -5, "type": "group", "title": "G"}, "message_id": 7,
            "user": {"id": 42, "first_name": "A"}, "date": 0,
            "old_reaction": [{"type": "emoji", "emoji": "👍"}],
            "new_reaction": [{"type": "emoji", "emoji": "🎉"}, {"type": "custom_emoji", "custom_emoji_id": "1"}]});
        let got: Vec<(String, bool, String)> = events(&r, &ids)
            .into_iter()
            .map(|e| {
                (
                    e.reaction,
                    e.added,
                    e.who.map(|w| w.display).unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("tada".into(), true, "-5/42".into()),
                ("thumbsup".into(), false, "-5/42".into())
            ]
        );
        assert!(events(&json!({"chat": {"id": -5}, "message_id": 7}), &ids).is_empty());
    }
}
