//! Telegram identifiers, as Errbot's Telegram backend has them: a person is their numeric user
//! id (`123456789`, positive), a group or supergroup its numeric chat id (`-4012345`,
//! `-1001234567890`), and a person in a group is written `CHAT/USER` (`-1001234567890/123456789`).
//! Access rules and admins match the user id (Errbot's `aclattr`), the nick is the `@username`
//! (without `@`; people may have none), the full name is first and last name.

use errbot_proto::v1::Identifier;
use serde_json::Value;

/// A string form, parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A person by user id.
    Person(i64),
    /// A person by `@username` (known only once they wrote to the bot).
    Username(String),
    /// A group or supergroup by chat id.
    Chat(i64),
    /// A person in a group.
    Occupant(i64, i64),
}

/// Parses `123`, `@name`, `-100123` or `-100123/456`.
pub fn parse(text: &str) -> Result<Parsed, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "{text:?} is not a Telegram identifier: a user id (123456789), @username, a chat id \
             (-1001234567890) or CHAT/USER"
        )
    };
    if let Some(name) = text.strip_prefix('@') {
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return if ok {
            Ok(Parsed::Username(name.to_owned()))
        } else {
            Err(bad())
        };
    }
    if let Some((chat, user)) = text.split_once('/') {
        let chat: i64 = chat.parse().map_err(|_| bad())?;
        let user: i64 = user.parse().map_err(|_| bad())?;
        return if chat < 0 && user > 0 {
            Ok(Parsed::Occupant(chat, user))
        } else {
            Err(bad())
        };
    }
    match text.parse::<i64>() {
        Ok(n) if n > 0 => Ok(Parsed::Person(n)),
        Ok(n) if n < 0 => Ok(Parsed::Chat(n)),
        _ => Err(bad()),
    }
}

/// Makes identifiers for one backend.
pub struct Ids {
    /// The backend's name.
    pub backend: String,
}

/// A user's fields from a Bot API `User` object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// The user id.
    pub id: i64,
    /// `@username` without the `@`; may be empty.
    pub username: String,
    /// First and last name.
    pub fullname: String,
    /// Whether the user is a bot.
    pub is_bot: bool,
}

impl User {
    /// Reads a `User` object (its id 0 when missing).
    pub fn of(v: &Value) -> Self {
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let first = text("first_name");
        let last = text("last_name");
        let fullname = if last.is_empty() {
            first
        } else {
            format!("{first} {last}")
        };
        Self {
            id: v.get("id").and_then(Value::as_i64).unwrap_or(0),
            username: text("username"),
            fullname,
            is_bot: v.get("is_bot").and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

impl Ids {
    /// A person.
    pub fn person(&self, user: &User) -> Identifier {
        let id = user.id.to_string();
        Identifier {
            backend: self.backend.clone(),
            person: id.clone(),
            nick: user.username.clone(),
            fullname: user.fullname.clone(),
            acl: id.clone(),
            display: id,
            ..Default::default()
        }
    }

    /// A group or supergroup (`title` may be empty).
    pub fn chat(&self, chat_id: i64, title: &str) -> Identifier {
        Identifier {
            backend: self.backend.clone(),
            room: chat_id.to_string(),
            room_name: title.to_owned(),
            display: chat_id.to_string(),
            ..Default::default()
        }
    }

    /// A person in a group.
    pub fn occupant(&self, chat_id: i64, title: &str, user: &User) -> Identifier {
        Identifier {
            room: chat_id.to_string(),
            room_name: title.to_owned(),
            display: format!("{chat_id}/{}", user.id),
            ..self.person(user)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_forms_round_trip() {
        assert_eq!(parse("123"), Ok(Parsed::Person(123)));
        assert_eq!(parse("-1001234"), Ok(Parsed::Chat(-1001234)));
        assert_eq!(parse("-1001234/77"), Ok(Parsed::Occupant(-1001234, 77)));
        assert_eq!(parse("@al_ice"), Ok(Parsed::Username("al_ice".into())));
        for bad in ["", "0", "abc", "@", "@a b", "12/3", "-1/x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let ids = Ids {
            backend: "tg".into(),
        };
        let alice = User::of(&json!({"id": 42, "first_name": "Alice", "last_name": "L",
            "username": "alice", "is_bot": false}));
        let o = ids.occupant(-100, "Group", &alice);
        assert_eq!(
            (o.display.as_str(), o.acl.as_str(), o.nick.as_str()),
            ("-100/42", "42", "alice")
        );
        assert_eq!(o.fullname, "Alice L");
        assert_eq!(parse(&o.display), Ok(Parsed::Occupant(-100, 42)));
        assert_eq!(parse(&ids.person(&alice).display), Ok(Parsed::Person(42)));
    }
}
