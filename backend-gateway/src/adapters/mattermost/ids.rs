//! Mattermost identifiers as Errbot's Mattermost backend writes them: people as `@username`,
//! channels as `~channel` (the name in its URL), people in a channel as `~channel/username`.
//! The ACL form of a person is `@username` (what BOT_ADMINS holds with Errbot).

use errbot_proto::v1::Identifier;

/// A user as the server describes it (`GET /users/{id}`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// The 26-character user id.
    pub id: String,
    /// The user name, without `@`.
    pub username: String,
    /// First and last name, when the server shows them.
    pub fullname: String,
    /// E-mail, when the server shows it.
    pub email: String,
}

/// A channel as the server describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Channel {
    /// The 26-character channel id.
    pub id: String,
    /// The name in its URL (`town-square`); for a DM, `userid1__userid2`.
    pub name: String,
    /// Its display name.
    pub display_name: String,
    /// `O` public, `P` private, `D` direct, `G` group.
    pub kind: String,
}

impl Channel {
    /// Whether this is a direct or group conversation rather than a channel.
    pub fn is_direct(&self) -> bool {
        matches!(self.kind.as_str(), "D" | "G")
    }
}

/// Whether `name` can be a channel name: lower-case letters, digits, `-`, `_` and `.`, 1 to 64
/// characters (the server's own rule; DM names `a__b` fit it too).
pub fn valid_channel_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// Whether `name` can be a user name: letters, digits and `.-_`, 1 to 64 characters.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
}

/// What a string form names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `@username`.
    Person(String),
    /// `~channel`.
    Room(String),
    /// `~channel/username`.
    Occupant(String, String),
}

/// Parses `@user`, `~channel` or `~channel/user` (a bare word is a user name).
pub fn parse(text: &str) -> Result<Parsed, String> {
    let text = text.trim();
    let bad =
        || format!("{text:?} is not a Mattermost identifier (@user, ~channel or ~channel/user)");
    if let Some(rest) = text.strip_prefix('~') {
        return match rest.split_once('/') {
            Some((room, user)) => {
                let user = user.strip_prefix('@').unwrap_or(user);
                if valid_channel_name(room) && valid_username(user) {
                    Ok(Parsed::Occupant(room.to_owned(), user.to_owned()))
                } else {
                    Err(bad())
                }
            }
            None if valid_channel_name(rest) => Ok(Parsed::Room(rest.to_owned())),
            None => Err(bad()),
        };
    }
    let user = text.strip_prefix('@').unwrap_or(text);
    if valid_username(user) {
        Ok(Parsed::Person(user.to_owned()))
    } else {
        Err(bad())
    }
}

/// Makes identifiers for one backend instance.
#[derive(Clone, Debug)]
pub struct Ids {
    /// The backend instance name.
    pub backend: String,
}

impl Ids {
    /// A person outside any room. `id` may be empty while unknown (resolved when sending).
    pub fn person(&self, user: &User) -> Identifier {
        Identifier {
            backend: self.backend.clone(),
            person: user.id.clone(),
            nick: user.username.clone(),
            fullname: user.fullname.clone(),
            email: user.email.clone(),
            acl: format!("@{}", user.username),
            display: format!("@{}", user.username),
            ..Default::default()
        }
    }

    /// A channel.
    pub fn room(&self, channel: &Channel) -> Identifier {
        Identifier {
            backend: self.backend.clone(),
            room: format!("~{}", channel.name),
            room_name: channel.display_name.clone(),
            client: channel.id.clone(),
            display: format!("~{}", channel.name),
            ..Default::default()
        }
    }

    /// A person in a channel.
    pub fn occupant(&self, channel: &Channel, user: &User) -> Identifier {
        Identifier {
            room: format!("~{}", channel.name),
            room_name: channel.display_name.clone(),
            client: channel.id.clone(),
            display: format!("~{}/{}", channel.name, user.username),
            ..self.person(user)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_errbots_forms() {
        assert_eq!(parse("@alice"), Ok(Parsed::Person("alice".into())));
        assert_eq!(parse("alice"), Ok(Parsed::Person("alice".into())));
        assert_eq!(
            parse("~town-square"),
            Ok(Parsed::Room("town-square".into()))
        );
        assert_eq!(
            parse("~dev/@bob.b"),
            Ok(Parsed::Occupant("dev".into(), "bob.b".into()))
        );
        for bad in ["", "@", "~", "~Dev", "~a/", "@a b", "#chan"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forms_round_trip() {
        let ids = Ids {
            backend: "mm".into(),
        };
        let user = User {
            id: "u1".into(),
            username: "alice".into(),
            ..Default::default()
        };
        let channel = Channel {
            id: "c1".into(),
            name: "dev".into(),
            display_name: "Dev".into(),
            kind: "O".into(),
        };
        let o = ids.occupant(&channel, &user);
        assert_eq!(
            (o.display.as_str(), o.acl.as_str()),
            ("~dev/alice", "@alice")
        );
        assert_eq!(
            parse(&o.display),
            Ok(Parsed::Occupant("dev".into(), "alice".into()))
        );
        assert_eq!(
            parse(&ids.room(&channel).display),
            Ok(Parsed::Room("dev".into()))
        );
        assert_eq!(
            parse(&ids.person(&user).display),
            Ok(Parsed::Person("alice".into()))
        );
    }
}
