//! Slack identifiers as Errbot's SlackV3 backend writes them: a person is `<@U123>` (its ACL
//! form the plain id `U123`, what BOT_ADMINS holds with Errbot), a channel `#name` (or `<#C123>`),
//! a person in a channel `#name/username`. Accepted back: `<@U123>`, `<@U123|name>`, `@name`, a
//! bare `U123`, `<#C123>`, `<#C123|name>`, `#name`, a bare `C123`, and `#name/person` with any
//! person form.

use errbot_proto::v1::Identifier;

/// A user (or a bot) as Slack describes it (`users.info`, `bots.info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// `U...`/`W...` for people, `B...` for bots without a user.
    pub id: String,
    /// The handle (`name`), without `@`.
    pub name: String,
    /// `profile.display_name` (may be empty).
    pub display_name: String,
    /// `profile.real_name` / `real_name`.
    pub real_name: String,
    /// `profile.email`, when the bot may read it.
    pub email: String,
}

impl User {
    /// The name people see: the display name, else the handle, else the id.
    pub fn nick(&self) -> &str {
        [&self.display_name, &self.name, &self.id]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("", String::as_str)
    }

    /// The handle, else the id (never empty once the id is known).
    pub fn handle(&self) -> &str {
        if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        }
    }
}

/// What kind of conversation a channel is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// A public channel (`C...`).
    #[default]
    Public,
    /// A private channel (`G...`, or `C...` with `is_private`).
    Private,
    /// A direct message with one person (`D...`).
    Im,
    /// A multi-person direct message.
    Mpim,
}

impl Kind {
    /// The kind from an event's `channel_type` (`channel`, `group`, `im`, `mpim`), else from
    /// the id's first letter.
    pub fn of(channel_type: &str, id: &str) -> Self {
        match channel_type {
            "channel" => Self::Public,
            "group" | "private_channel" => Self::Private,
            "im" => Self::Im,
            "mpim" => Self::Mpim,
            _ if id.starts_with('D') => Self::Im,
            _ if id.starts_with('G') => Self::Private,
            _ => Self::Public,
        }
    }
}

/// A conversation as Slack describes it (`conversations.info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Channel {
    /// `C...`, `G...` or `D...`.
    pub id: String,
    /// The name without `#` (empty for direct messages).
    pub name: String,
    /// What kind it is.
    pub kind: Kind,
}

impl Channel {
    /// `#name`, or the id for a conversation without a name (a DM).
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.id.clone()
        } else {
            format!("#{}", self.name)
        }
    }
}

/// A person named by a string form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// By id (`U123`, `W123`, `B123`).
    Id(String),
    /// By handle (`alice`).
    Name(String),
}

/// A channel named by a string form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Where {
    /// By id (`C123`, `G123`, `D123`).
    Id(String),
    /// By name (`general`).
    Name(String),
}

/// What a string form names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A person.
    Person(Who),
    /// A channel.
    Room(Where),
    /// A person in a channel.
    Occupant(Where, Who),
}

fn is_id(s: &str, first: &[char]) -> bool {
    s.len() >= 3
        && s.starts_with(first)
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Whether `name` can be a channel name or a handle: letters, digits, `.`, `-`, `_`, at most
/// 80 characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 80
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-".contains(c))
}

/// The inside of `<...>` with its label (`U123|alice` -> `U123`).
fn link_target(text: &str, sigil: char) -> Option<&str> {
    let inner = text
        .strip_prefix('<')?
        .strip_suffix('>')?
        .strip_prefix(sigil)?;
    Some(inner.split_once('|').map_or(inner, |(id, _)| id))
}

fn parse_person(text: &str) -> Option<Who> {
    if let Some(id) = link_target(text, '@') {
        return is_id(id, &['U', 'W', 'B']).then(|| Who::Id(id.to_owned()));
    }
    if let Some(name) = text.strip_prefix('@') {
        return valid_name(name).then(|| Who::Name(name.to_owned()));
    }
    if is_id(text, &['U', 'W', 'B']) {
        return Some(Who::Id(text.to_owned()));
    }
    valid_name(text).then(|| Who::Name(text.to_owned()))
}

fn parse_room(text: &str) -> Option<Where> {
    if let Some(id) = link_target(text, '#') {
        return is_id(id, &['C', 'G', 'D']).then(|| Where::Id(id.to_owned()));
    }
    if let Some(name) = text.strip_prefix('#') {
        return valid_name(name).then(|| Where::Name(name.to_owned()));
    }
    is_id(text, &['C', 'G', 'D']).then(|| Where::Id(text.to_owned()))
}

/// Parses one of the string forms (see the module's text).
pub fn parse(text: &str) -> Result<Parsed, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "{text:?} is not a Slack identifier (<@U123>, @name, #channel, <#C123> or \
             #channel/name)"
        )
    };
    if text.starts_with('#') || text.starts_with("<#") {
        if let Some((room, who)) = text.split_once('/') {
            let room = parse_room(room).ok_or_else(bad)?;
            let who = parse_person(who).ok_or_else(bad)?;
            return Ok(Parsed::Occupant(room, who));
        }
        return parse_room(text).map(Parsed::Room).ok_or_else(bad);
    }
    if let Some(room) = parse_room(text) {
        return Ok(Parsed::Room(room));
    }
    parse_person(text).map(Parsed::Person).ok_or_else(bad)
}

/// Makes identifiers for one backend instance.
#[derive(Clone, Debug)]
pub struct Ids {
    /// The backend instance name.
    pub backend: String,
}

impl Ids {
    /// A person outside any room; `client` is their direct-message channel, when known.
    pub fn person(&self, user: &User) -> Identifier {
        let display = if user.id.is_empty() {
            format!("@{}", user.name)
        } else {
            format!("<@{}>", user.id)
        };
        Identifier {
            backend: self.backend.clone(),
            person: user.id.clone(),
            nick: user.nick().to_owned(),
            fullname: user.real_name.clone(),
            email: user.email.clone(),
            // `@name` for the rules, which match the id too (errbotd's `acl::id_of`): admins
            // and access rules may name people either way, as Errbot's users write them.
            acl: if user.name.is_empty() {
                user.id.clone()
            } else {
                format!("@{}", user.name)
            },
            display,
            ..Default::default()
        }
    }

    /// A channel.
    pub fn room(&self, channel: &Channel) -> Identifier {
        Identifier {
            backend: self.backend.clone(),
            room: channel.label(),
            room_name: channel.name.clone(),
            client: channel.id.clone(),
            display: channel.label(),
            ..Default::default()
        }
    }

    /// A person in a channel.
    pub fn occupant(&self, channel: &Channel, user: &User) -> Identifier {
        Identifier {
            room: channel.label(),
            room_name: channel.name.clone(),
            client: channel.id.clone(),
            display: format!("{}/{}", channel.label(), user.handle()),
            ..self.person(user)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Who {
        Who::Id(s.into())
    }

    #[test]
    fn parses_errbots_forms() {
        assert_eq!(parse("<@U123ABC>"), Ok(Parsed::Person(id("U123ABC"))));
        assert_eq!(parse("<@U123|alice>"), Ok(Parsed::Person(id("U123"))));
        assert_eq!(parse("U0ALICE"), Ok(Parsed::Person(id("U0ALICE"))));
        assert_eq!(parse("<@B0BOT>"), Ok(Parsed::Person(id("B0BOT"))));
        assert_eq!(
            parse("@alice"),
            Ok(Parsed::Person(Who::Name("alice".into())))
        );
        assert_eq!(
            parse("#general"),
            Ok(Parsed::Room(Where::Name("general".into())))
        );
        assert_eq!(
            parse("<#C024BE7LR|general>"),
            Ok(Parsed::Room(Where::Id("C024BE7LR".into())))
        );
        assert_eq!(
            parse("C024BE7LR"),
            Ok(Parsed::Room(Where::Id("C024BE7LR".into())))
        );
        assert_eq!(
            parse("#dev/alice"),
            Ok(Parsed::Occupant(
                Where::Name("dev".into()),
                Who::Name("alice".into())
            ))
        );
        assert_eq!(
            parse("#dev/<@U1AB>"),
            Ok(Parsed::Occupant(Where::Name("dev".into()), id("U1AB")))
        );
        for bad in ["", "@", "#", "<@u1>", "#a b", "#dev/", "~town", "<#X1>"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forms_round_trip() {
        let ids = Ids {
            backend: "slack".into(),
        };
        let user = User {
            id: "U0ALICE".into(),
            name: "alice".into(),
            display_name: "Alice L".into(),
            real_name: "Alice Liddell".into(),
            ..Default::default()
        };
        let channel = Channel {
            id: "C0GENERAL".into(),
            name: "general".into(),
            kind: Kind::Public,
        };
        let p = ids.person(&user);
        assert_eq!(
            (p.display.as_str(), p.acl.as_str(), p.nick.as_str()),
            ("<@U0ALICE>", "@alice", "Alice L")
        );
        let o = ids.occupant(&channel, &user);
        assert_eq!(o.display, "#general/alice");
        assert_eq!(o.client, "C0GENERAL");
        assert_eq!(
            parse(&o.display),
            Ok(Parsed::Occupant(
                Where::Name("general".into()),
                Who::Name("alice".into())
            ))
        );
        assert_eq!(parse(&p.display), Ok(Parsed::Person(id("U0ALICE"))));
        assert_eq!(
            parse(&ids.room(&channel).display),
            Ok(Parsed::Room(Where::Name("general".into())))
        );
        assert_eq!(Kind::of("", "D123"), Kind::Im);
        assert_eq!(Kind::of("mpim", "G123"), Kind::Mpim);
    }
}
