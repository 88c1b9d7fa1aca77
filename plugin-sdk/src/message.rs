//! People, rooms and the messages they write.

use std::collections::HashMap;
use std::fmt;

use errbot_proto::v1;

/// Someone or somewhere on a chat service: a person, a room, or a person in a room.
///
/// Every accessor returns `""` when the chat service does not know the value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identifier(pub(crate) v1::Identifier);

impl Identifier {
    /// Name of the backend instance (as configured in errbot.toml) this identifier belongs to.
    pub fn backend(&self) -> &str {
        &self.0.backend
    }
    /// Stable, unique id of the person (Slack `U123`, IRC `nick!user@host`); empty for a room.
    pub fn person(&self) -> &str {
        &self.0.person
    }
    /// Short human name.
    pub fn nick(&self) -> &str {
        &self.0.nick
    }
    /// Full display name.
    pub fn fullname(&self) -> &str {
        &self.0.fullname
    }
    /// E-mail address.
    pub fn email(&self) -> &str {
        &self.0.email
    }
    /// Stable id of the room (`#general`, `C123`); empty outside rooms.
    pub fn room(&self) -> &str {
        &self.0.room
    }
    /// Human name of the room (falls back to [`room`](Self::room)).
    pub fn room_name(&self) -> &str {
        if self.0.room_name.is_empty() {
            &self.0.room
        } else {
            &self.0.room_name
        }
    }
    /// Device or channel the person wrote from.
    pub fn client(&self) -> &str {
        &self.0.client
    }
    /// The string access rules and `BOT_ADMINS` are matched against.
    pub fn acl(&self) -> &str {
        if self.0.acl.is_empty() {
            &self.0.person
        } else {
            &self.0.acl
        }
    }
    /// Canonical string form (`@user`, `#room`, `#room/user`, `<@U123>`), accepted by
    /// [`Bot::send`](crate::Bot::send).
    pub fn display(&self) -> &str {
        if !self.0.display.is_empty() {
            &self.0.display
        } else if !self.0.person.is_empty() {
            &self.0.person
        } else {
            &self.0.room
        }
    }
    /// True when this names a room rather than a person.
    pub fn is_room(&self) -> bool {
        self.0.person.is_empty() && !self.0.room.is_empty()
    }
    /// The protocol form, for advanced uses.
    pub fn as_proto(&self) -> &v1::Identifier {
        &self.0
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display())
    }
}

impl From<v1::Identifier> for Identifier {
    fn from(id: v1::Identifier) -> Self {
        Self(id)
    }
}

/// A chat message received by the bot.
#[derive(Clone, Debug, Default)]
pub struct Message {
    id: String,
    from: Identifier,
    to: Identifier,
    body: String,
    direct: bool,
    thread_id: String,
    timestamp_ms: i64,
    mentions: Vec<Identifier>,
    extras: HashMap<String, String>,
}

impl Message {
    /// Id of the message, unique within its gateway's lifetime.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Who wrote it (in a room: the occupant, with person and room set).
    pub fn sender(&self) -> &Identifier {
        &self.from
    }
    /// Where it was written: the bot for a direct message, otherwise the room.
    pub fn to(&self) -> &Identifier {
        &self.to
    }
    /// The room it was written in; `None` for a direct message.
    pub fn room(&self) -> Option<&Identifier> {
        if self.direct {
            None
        } else if !self.to.room().is_empty() {
            Some(&self.to)
        } else if !self.from.room().is_empty() {
            Some(&self.from)
        } else {
            None
        }
    }
    /// Text of the message.
    pub fn body(&self) -> &str {
        &self.body
    }
    /// True for a direct (private) message to the bot.
    pub fn is_direct(&self) -> bool {
        self.direct
    }
    /// Thread the message belongs to; empty when none.
    pub fn thread_id(&self) -> &str {
        &self.thread_id
    }
    /// Unix time in milliseconds (0 when unknown).
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }
    /// People the message mentions.
    pub fn mentions(&self) -> &[Identifier] {
        &self.mentions
    }
    /// Backend-specific extra data (for example Slack's raw event as JSON).
    pub fn extras(&self) -> &HashMap<String, String> {
        &self.extras
    }
    /// Where an answer to this message goes: the room, or the sender for a direct message.
    pub(crate) fn reply_target(&self) -> &Identifier {
        self.room().unwrap_or(&self.from)
    }
}

impl From<v1::Message> for Message {
    fn from(m: v1::Message) -> Self {
        Self {
            id: m.id,
            from: Identifier(m.from.unwrap_or_default()),
            to: Identifier(m.to.unwrap_or_default()),
            body: m.body,
            direct: m.direct,
            thread_id: m.thread_id,
            timestamp_ms: m.timestamp_ms,
            // Same layout: collected in place, no new allocation.
            mentions: m.mentions.into_iter().map(Identifier).collect(),
            extras: m.extras,
        }
    }
}
