//! IRC identifiers: people as `nick!user@host` masks, channels as `#chan`, people in a channel
//! as `#chan/nick!user@host`; nickname case folding; the ACL pattern (Errbot's IRC_ACL_PATTERN).

use errbot_proto::v1::Identifier;

/// A person's mask. `user` and `host` are empty while unknown (a bare nick).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mask {
    /// Nickname.
    pub nick: String,
    /// User name (ident), possibly with a leading `~`.
    pub user: String,
    /// Host name or cloak (may contain `/`).
    pub host: String,
}

impl Mask {
    /// A mask with only a nick known.
    pub fn nick(nick: &str) -> Self {
        Self {
            nick: nick.to_owned(),
            ..Default::default()
        }
    }

    /// Parses `nick`, `nick!user@host` (as in message prefixes), refusing invalid nicks.
    pub fn parse(text: &str) -> Option<Self> {
        let (nick, rest) = match text.split_once('!') {
            Some((nick, rest)) => (nick, Some(rest)),
            None => (text, None),
        };
        if !valid_nick(nick) {
            return None;
        }
        let (user, host) = match rest {
            None => ("", ""),
            Some(rest) => {
                let (user, host) = rest.split_once('@')?;
                let bad = |s: &str| s.is_empty() || s.contains([' ', '!', '@', '\0', '\r', '\n']);
                if bad(user) || bad(host) {
                    return None;
                }
                (user, host)
            }
        };
        Some(Self {
            nick: nick.to_owned(),
            user: user.to_owned(),
            host: host.to_owned(),
        })
    }

    /// Whether user and host are known.
    pub fn is_full(&self) -> bool {
        !self.user.is_empty() && !self.host.is_empty()
    }

    /// `nick!user@host`, or `nick` while user and host are unknown.
    pub fn full(&self) -> String {
        if self.is_full() {
            format!("{}!{}@{}", self.nick, self.user, self.host)
        } else {
            self.nick.clone()
        }
    }

    /// `user@host` (Errbot's `client`), empty while unknown.
    pub fn userhost(&self) -> String {
        if self.is_full() {
            format!("{}@{}", self.user, self.host)
        } else {
            String::new()
        }
    }
}

/// Whether `c` may appear in a nickname (RFC 2812 plus `-` and digits after the first).
fn nick_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "[]\\`_^{|}-".contains(c)
}

/// Whether `nick` is a valid nickname: letters, digits and `[]\`_^{|}-`, not starting with a
/// digit or `-`.
pub fn valid_nick(nick: &str) -> bool {
    let mut chars = nick.chars();
    match chars.next() {
        Some(c) if nick_char(c) && !c.is_ascii_digit() && c != '-' => chars.all(nick_char),
        _ => false,
    }
}

/// Whether `name` is a channel name: a `#`, `&`, `+` or `!` followed by at least one character,
/// without spaces, commas, BEL or control characters, at most 200 bytes.
pub fn is_channel(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('#' | '&' | '+' | '!'))
        && name.len() > 1
        && name.len() <= 200
        && !name.contains(|c: char| c == ' ' || c == ',' || c.is_control())
}

/// Lower-cases a nick or channel name with the rfc1459 case mapping (`[]\~` are the upper case of
/// `{}|^`), which IRC servers use to compare names.
pub fn fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '[' => '{',
            ']' => '}',
            '\\' => '|',
            '~' => '^',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The ACL form of a person (Errbot's IRC_ACL_PATTERN): a template with `{nick}`, `{user}` and
/// `{host}`; `{{` and `}}` stand for braces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclPattern(Vec<Piece>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Nick,
    User,
    Host,
}

impl Default for AclPattern {
    fn default() -> Self {
        Self::DEFAULT.parse().unwrap_or(Self(vec![Piece::Nick]))
    }
}

impl AclPattern {
    /// Errbot's default pattern.
    pub const DEFAULT: &'static str = "{nick}!{user}@{host}";

    /// Fills the pattern in for `mask` (unknown parts are empty).
    pub fn format(&self, mask: &Mask) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Nick => out.push_str(&mask.nick),
                Piece::User => out.push_str(&mask.user),
                Piece::Host => out.push_str(&mask.host),
            }
        }
        out
    }
}

impl std::str::FromStr for AclPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let piece = match name.as_str() {
                        "nick" => Piece::Nick,
                        "user" => Piece::User,
                        "host" => Piece::Host,
                        other => {
                            return Err(format!(
                                "unknown placeholder {{{other}}}: expected {{nick}}, {{user}} or {{host}}"
                            ));
                        }
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                }
                '}' => return Err("a lone `}` (write `}}` for a brace)".to_owned()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        if !pieces
            .iter()
            .any(|p| matches!(p, Piece::Nick | Piece::User | Piece::Host))
        {
            return Err("expected at least one of {nick}, {user} or {host}".to_owned());
        }
        Ok(Self(pieces))
    }
}

/// Builds identifiers for one backend instance.
#[derive(Clone, Debug)]
pub struct Ids {
    /// Backend instance name.
    pub backend: String,
    /// The ACL pattern.
    pub acl: AclPattern,
}

impl Ids {
    /// A person: `person` and `display` are the mask (`nick!user@host`), `client` is
    /// `user@host`, `acl` follows the ACL pattern.
    pub fn person(&self, mask: &Mask) -> Identifier {
        Identifier {
            backend: self.backend.clone(),
            person: mask.full(),
            nick: mask.nick.clone(),
            client: mask.userhost(),
            acl: self.acl.format(mask),
            display: mask.full(),
            ..Default::default()
        }
    }

    /// A channel.
    pub fn room(&self, channel: &str) -> Identifier {
        Identifier {
            backend: self.backend.clone(),
            room: channel.to_owned(),
            room_name: channel.to_owned(),
            display: channel.to_owned(),
            ..Default::default()
        }
    }

    /// A person in a channel, displayed `#chan/nick!user@host`.
    pub fn occupant(&self, channel: &str, mask: &Mask) -> Identifier {
        Identifier {
            room: channel.to_owned(),
            room_name: channel.to_owned(),
            display: format!("{channel}/{}", mask.full()),
            ..self.person(mask)
        }
    }

    /// Parses `nick`, `nick!user@host`, `#chan` or `#chan/nick[!user@host]`; `complete` fills in
    /// the mask of a bare nick when it is known.
    pub fn parse(
        &self,
        text: &str,
        complete: impl Fn(&str) -> Option<Mask>,
    ) -> Result<Identifier, String> {
        let text = text.trim();
        let invalid = || {
            format!(
                "invalid IRC identifier {text:?}: expected nick, nick!user@host, #channel or \
                 #channel/nick"
            )
        };
        let person = |p: &str| -> Option<Mask> {
            let p = p.strip_prefix('@').unwrap_or(p);
            let mask = Mask::parse(p)?;
            Some(if mask.is_full() {
                mask
            } else {
                complete(&mask.nick).unwrap_or(mask)
            })
        };
        if is_channel(text) || text.starts_with(['#', '&', '+', '!']) {
            // The person part starts after the first `/` whose remainder is a valid person
            // (hosts may contain `/`, nicks may not).
            for (i, _) in text.match_indices('/') {
                if let Some(mask) = person(&text[i + 1..]) {
                    let channel = &text[..i];
                    if is_channel(channel) {
                        return Ok(self.occupant(channel, &mask));
                    }
                }
            }
            return if is_channel(text) {
                Ok(self.room(text))
            } else {
                Err(invalid())
            };
        }
        person(text).map(|m| self.person(&m)).ok_or_else(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pattern: &str) -> Ids {
        Ids {
            backend: "irc".into(),
            acl: pattern.parse().unwrap(),
        }
    }

    #[test]
    fn masks_and_names() {
        let m = Mask::parse("Bob!~bob@user/bob").unwrap();
        assert_eq!(
            (m.nick.as_str(), m.user.as_str(), m.host.as_str()),
            ("Bob", "~bob", "user/bob")
        );
        assert_eq!(m.full(), "Bob!~bob@user/bob");
        assert_eq!(m.userhost(), "~bob@user/bob");
        assert_eq!(Mask::parse("bob").unwrap().full(), "bob");
        for bad in ["", "1bob", "-x", "a b", "bob!x", "bob!@h", "bob!u@", "b@d"] {
            assert!(Mask::parse(bad).is_none(), "{bad:?}");
        }
        assert!(valid_nick("[away]_-1"));
        assert!(
            is_channel("#rust-lang")
                && is_channel("&local")
                && !is_channel("#")
                && !is_channel("#a b")
        );
        assert_eq!(fold("Nick[A]\\~"), "nick{a}|^");
    }

    #[test]
    fn acl_pattern() {
        let m = Mask::parse("bob!~b@host.example").unwrap();
        assert_eq!(AclPattern::default().format(&m), "bob!~b@host.example");
        assert_eq!(ids("{host}").acl.format(&m), "host.example");
        assert_eq!(ids("{{{nick}}}").acl.format(&m), "{bob}");
        assert!("{nickname}".parse::<AclPattern>().is_err());
        assert!("plain".parse::<AclPattern>().is_err());
        assert!("{nick}}".parse::<AclPattern>().is_err());
    }

    #[test]
    fn parses_every_form_and_completes_bare_nicks() {
        let ids = ids(AclPattern::DEFAULT);
        let known = |n: &str| (n == "alice").then(|| Mask::parse("alice!a@h").unwrap());
        let p = ids.parse("alice", known).unwrap();
        assert_eq!(
            (p.person.as_str(), p.acl.as_str(), p.client.as_str()),
            ("alice!a@h", "alice!a@h", "a@h")
        );
        let p = ids.parse("carol", known).unwrap();
        assert_eq!((p.person.as_str(), p.nick.as_str()), ("carol", "carol"));
        let r = ids.parse("#ops", known).unwrap();
        assert_eq!(
            (r.room.as_str(), r.person.as_str(), r.display.as_str()),
            ("#ops", "", "#ops")
        );
        let o = ids.parse("#ops/bob!~b@user/cloak", known).unwrap();
        assert_eq!(
            (o.room.as_str(), o.person.as_str()),
            ("#ops", "bob!~b@user/cloak")
        );
        assert_eq!(o.display, "#ops/bob!~b@user/cloak");
        assert_eq!(ids.parse(&o.display, known).unwrap(), o);
        let o = ids.parse("#ops/alice", known).unwrap();
        assert_eq!(o.person, "alice!a@h");
        for bad in ["", "#", "#a b", "1x", "x y", "@"] {
            assert!(ids.parse(bad, known).is_err(), "{bad:?}");
        }
    }
}
