//! What the bot knows of the rooms (XEP-0045 multi-user chats): the rooms it wants to be in
//! (joined at each connection), and for each room it is in, its nickname there, the occupants
//! (with their real JIDs when the room shows them) and the topic.

use std::collections::BTreeMap;

use xmpp_parsers::jid::{BareJid, FullJid};

use super::settings::Room;

/// A room the bot is in.
#[derive(Clone, Debug, Default)]
pub struct Joined {
    /// The bot's nickname in the room.
    pub nick: String,
    /// Occupants by nickname, with their real JID if the room shows it.
    pub occupants: BTreeMap<String, Option<FullJid>>,
    /// The topic (subject), once the room sent it; `Some("")` for no topic.
    pub topic: Option<String>,
    /// Whether the join is complete (the room sent the bot's own presence).
    pub complete: bool,
}

/// Every room, wanted and joined.
#[derive(Debug, Default)]
pub struct Rooms {
    /// Rooms to be in, with their passwords: joined at each connection.
    pub wanted: BTreeMap<BareJid, Room>,
    /// Rooms the bot is in (or joining).
    pub joined: BTreeMap<BareJid, Joined>,
    /// Failed joins in a row, by room (for the delay before the next attempt).
    failures: BTreeMap<BareJid, u32>,
}

impl Rooms {
    /// Rooms from the settings.
    pub fn new(rooms: &[Room]) -> Self {
        Self {
            wanted: rooms.iter().map(|r| (r.jid.clone(), r.clone())).collect(),
            joined: BTreeMap::new(),
            failures: BTreeMap::new(),
        }
    }

    /// A join failed; returns how many failed in a row before this one.
    pub fn failed(&mut self, room: &BareJid) -> u32 {
        let count = self.failures.entry(room.clone()).or_insert(0);
        *count += 1;
        *count - 1
    }

    /// A join succeeded.
    pub fn joined_ok(&mut self, room: &BareJid) {
        self.failures.remove(room);
    }

    /// Whether `jid` is a room: one the bot wants, is in, or on a MUC service it knows.
    pub fn is_room(&self, jid: &BareJid) -> bool {
        self.wanted.contains_key(jid)
            || self.joined.contains_key(jid)
            || self
                .wanted
                .keys()
                .chain(self.joined.keys())
                .any(|r| r.domain() == jid.domain())
    }

    /// A join was sent as `nick`.
    pub fn joining(&mut self, room: &BareJid, nick: &str) {
        let entry = self.joined.entry(room.clone()).or_default();
        entry.nick = nick.to_owned();
    }

    /// The bot's nickname in `room`, if it is in it.
    pub fn nick_in(&self, room: &BareJid) -> Option<&str> {
        self.joined.get(room).map(|j| j.nick.as_str())
    }

    /// Someone is present in a room.
    pub fn present(&mut self, room: &BareJid, nick: &str, real: Option<FullJid>) {
        if let Some(j) = self.joined.get_mut(room) {
            j.occupants.insert(nick.to_owned(), real);
        }
    }

    /// Someone left a room.
    pub fn absent(&mut self, room: &BareJid, nick: &str) {
        if let Some(j) = self.joined.get_mut(room) {
            j.occupants.remove(nick);
        }
    }

    /// The real JID of `nick` in `room`, when the room shows it.
    pub fn real_jid(&self, room: &BareJid, nick: &str) -> Option<FullJid> {
        self.joined.get(room)?.occupants.get(nick)?.clone()
    }

    /// Nicknames of `room` (other than the bot's) that `body` mentions: written as a word, or
    /// after `@`.
    pub fn mentions(&self, room: &BareJid, body: &str) -> Vec<String> {
        let Some(j) = self.joined.get(room) else {
            return Vec::new();
        };
        j.occupants
            .keys()
            .filter(|nick| **nick != j.nick && mentioned(body, nick))
            .cloned()
            .collect()
    }

    /// The connection ended: no room is joined any more (the wanted ones are joined again).
    pub fn disconnected(&mut self) {
        self.joined.clear();
    }
}

/// Whether `nick` appears in `text` as a whole word.
fn mentioned(text: &str, nick: &str) -> bool {
    if nick.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    text.match_indices(nick).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + nick.len()..].chars().next();
        !word(before) && !word(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_whole_nicknames_of_occupants() {
        let room = BareJid::new("r@conference.x").unwrap();
        let mut rooms = Rooms::default();
        rooms.joining(&room, "bot");
        for nick in ["bot", "alice", "al", "Bob Smith"] {
            rooms.present(&room, nick, None);
        }
        assert_eq!(
            rooms.mentions(&room, "@alice: ask Bob Smith, not bot"),
            ["Bob Smith", "alice"]
        );
        assert!(rooms.mentions(&room, "always").is_empty());
    }

    #[test]
    fn rooms_are_known_by_jid_or_service() {
        let rooms = Rooms::new(&[super::super::settings::parse_room("a@conference.x").unwrap()]);
        assert!(rooms.is_room(&BareJid::new("a@conference.x").unwrap()));
        assert!(rooms.is_room(&BareJid::new("b@conference.x").unwrap()));
        assert!(!rooms.is_room(&BareJid::new("alice@x").unwrap()));
    }
}
