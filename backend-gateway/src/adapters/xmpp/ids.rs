//! XMPP identifiers, as Errbot's XMPP backend writes them: a person is `user@host/resource`
//! (`person` the bare JID, `nick` the local part, `client` the resource, ACLs on the bare JID);
//! a room is `room@conference.host`; someone in a room is `room@conference.host/nick` (`nick`
//! the room nickname), and when the room shows who they are, their real JID is the `client` and
//! the ACL attribute, so that access rules and admins written as JIDs hold in rooms too.

use errbot_proto::v1::Identifier;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};

/// Makes identifiers for one backend instance.
#[derive(Clone, Debug)]
pub struct Ids {
    /// The backend instance name.
    pub backend: String,
}

impl Ids {
    /// A person, from a bare or full JID.
    pub fn person(&self, jid: &Jid) -> Identifier {
        let bare = jid.to_bare().to_string();
        Identifier {
            backend: self.backend.clone(),
            person: bare.clone(),
            nick: jid.node().map(|n| n.to_string()).unwrap_or_default(),
            client: jid.resource().map(|r| r.to_string()).unwrap_or_default(),
            acl: bare,
            display: jid.to_string(),
            ..Default::default()
        }
    }

    /// A room.
    pub fn room(&self, room: &BareJid) -> Identifier {
        Identifier {
            backend: self.backend.clone(),
            room: room.to_string(),
            room_name: room.node().map(|n| n.to_string()).unwrap_or_default(),
            display: room.to_string(),
            ..Default::default()
        }
    }

    /// Someone in a room, by nickname, with their real JID when the room shows it.
    pub fn occupant(&self, room: &BareJid, nick: &str, real: Option<&FullJid>) -> Identifier {
        let full = format!("{room}/{nick}");
        Identifier {
            backend: self.backend.clone(),
            person: full.clone(),
            nick: nick.to_owned(),
            room: room.to_string(),
            room_name: room.node().map(|n| n.to_string()).unwrap_or_default(),
            client: real.map(|j| j.to_string()).unwrap_or_default(),
            acl: real.map_or_else(|| full.clone(), |j| j.to_bare().to_string()),
            display: full,
            ..Default::default()
        }
    }
}

/// Where an identifier's text points, for `build_identifier` and sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A person (bare or full JID).
    Person(Jid),
    /// A room.
    Room(BareJid),
    /// Someone in a room.
    Occupant(BareJid, String),
}

/// Reads an identifier's text (`user@host`, `user@host/resource`, `room@service`,
/// `room@service/nick`). `is_room` tells whether a bare JID is a room (the rooms the bot knows,
/// or a known MUC service); an `xmpp:` URI prefix is accepted.
pub fn parse(text: &str, is_room: impl Fn(&BareJid) -> bool) -> Result<Target, String> {
    let text = text.trim();
    let text = text.strip_prefix("xmpp:").unwrap_or(text);
    let jid = Jid::new(text).map_err(|e| format!("{text:?} is not a JID: {e}"))?;
    if jid.node().is_none() {
        return Err(format!(
            "{text:?} is not a person or a room (expected user@host or room@conference.host)"
        ));
    }
    let bare = jid.to_bare();
    if is_room(&bare) {
        return Ok(match jid.resource() {
            Some(nick) => Target::Occupant(bare, nick.to_string()),
            None => Target::Room(bare),
        });
    }
    Ok(Target::Person(jid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids {
        Ids {
            backend: "xmpp".into(),
        }
    }

    #[test]
    fn people_are_errbots_jids() {
        let id = ids().person(&Jid::new("alice@example.org/phone").unwrap());
        assert_eq!(id.person, "alice@example.org");
        assert_eq!(id.nick, "alice");
        assert_eq!(id.client, "phone");
        assert_eq!(id.acl, "alice@example.org");
        assert_eq!(id.display, "alice@example.org/phone");
    }

    #[test]
    fn occupants_carry_their_real_jid_when_known() {
        let room = BareJid::new("room@conference.example.org").unwrap();
        let anonymous = ids().occupant(&room, "Al", None);
        assert_eq!(anonymous.person, "room@conference.example.org/Al");
        assert_eq!(anonymous.acl, anonymous.person);
        let real = FullJid::new("alice@example.org/phone").unwrap();
        let known = ids().occupant(&room, "Al", Some(&real));
        assert_eq!(known.acl, "alice@example.org");
        assert_eq!(known.client, "alice@example.org/phone");
        assert_eq!(known.display, "room@conference.example.org/Al");
        assert_eq!(known.room, "room@conference.example.org");
    }

    #[test]
    fn text_is_read_as_person_room_or_occupant() {
        let is_room = |j: &BareJid| j.domain().as_str().starts_with("conference.");
        assert_eq!(
            parse("room@conference.x/Al", is_room),
            Ok(Target::Occupant(
                BareJid::new("room@conference.x").unwrap(),
                "Al".into()
            ))
        );
        assert_eq!(
            parse("xmpp:room@conference.x", is_room),
            Ok(Target::Room(BareJid::new("room@conference.x").unwrap()))
        );
        assert_eq!(
            parse("alice@x/r", is_room),
            Ok(Target::Person(Jid::new("alice@x/r").unwrap()))
        );
        assert!(parse("x", is_room).is_err());
        assert!(parse("a@@b", is_room).is_err());
    }
}
