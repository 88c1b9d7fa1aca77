//! Errbot's text identifiers, used by the console and the test driver: a person is `@name`, a
//! room `#room`, a person in a room `#room/name`.

use errbot_proto::v1::Identifier;

/// The bot's own name on text backends.
pub const BOT_NAME: &str = "errbot";

/// A person: person, acl and display are `@name`, nick is `name`.
pub fn person(backend: &str, name: &str) -> Identifier {
    let at = format!("@{name}");
    Identifier {
        backend: backend.to_owned(),
        person: at.clone(),
        nick: name.to_owned(),
        acl: at.clone(),
        display: at,
        ..Default::default()
    }
}

/// A room: room and display are `#room`, room_name is `room`.
pub fn room(backend: &str, room: &str) -> Identifier {
    let hash = format!("#{room}");
    Identifier {
        backend: backend.to_owned(),
        room: hash.clone(),
        room_name: room.to_owned(),
        display: hash,
        ..Default::default()
    }
}

/// A person in a room: the person's fields plus the room's, displayed `#room/name`.
pub fn occupant(backend: &str, room_name: &str, name: &str) -> Identifier {
    Identifier {
        room: format!("#{room_name}"),
        room_name: room_name.to_owned(),
        display: format!("#{room_name}/{name}"),
        ..person(backend, name)
    }
}

/// The bot's identifier (`@errbot`).
pub fn bot(backend: &str) -> Identifier {
    person(backend, BOT_NAME)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '/')
}

/// A person's bare name from `@name` or `name`, if it is a valid name.
pub fn person_name(text: &str) -> Option<&str> {
    let name = text.trim();
    let name = name.strip_prefix('@').unwrap_or(name);
    valid_name(name).then_some(name)
}

/// A room's bare name from `#room` or `room`, if it is a valid name.
pub fn room_name(text: &str) -> Option<&str> {
    let name = text.trim();
    let name = name.strip_prefix('#').unwrap_or(name);
    valid_name(name).then_some(name)
}

/// Parses `@name`, `#room` or `#room/name` (the canonical forms; `#room/@name` is accepted).
pub fn parse(backend: &str, text: &str) -> Result<Identifier, String> {
    let text = text.trim();
    let invalid = || {
        format!("invalid identifier {text:?}: a text identifier is @person, #room or #room/person")
    };
    if let Some(rest) = text.strip_prefix('#') {
        return match rest.split_once('/') {
            Some((r, p)) => {
                let p = p.strip_prefix('@').unwrap_or(p);
                if valid_name(r) && valid_name(p) {
                    Ok(occupant(backend, r, p))
                } else {
                    Err(invalid())
                }
            }
            None if valid_name(rest) => Ok(room(backend, rest)),
            None => Err(invalid()),
        };
    }
    match text.strip_prefix('@') {
        Some(p) if valid_name(p) => Ok(person(backend, p)),
        _ => Err(invalid()),
    }
}

/// People a message mentions: every `@name` at the start of the text or after whitespace
/// (a name is letters, digits and `_`), each once, in order.
pub fn mentions(backend: &str, body: &str) -> Vec<Identifier> {
    if !body.contains('@') {
        return Vec::new();
    }
    let mut found: Vec<&str> = Vec::new();
    let mut after_space = true;
    for (i, c) in body.char_indices() {
        if c == '@' && after_space {
            let rest = &body[i + 1..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            if !name.is_empty() && !found.contains(&name) {
                found.push(name);
            }
        }
        after_space = c.is_whitespace();
    }
    found
        .into_iter()
        .map(|name| person(backend, name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let p = parse("console", "@admin").unwrap();
        assert_eq!(
            (
                p.person.as_str(),
                p.nick.as_str(),
                p.acl.as_str(),
                p.display.as_str()
            ),
            ("@admin", "admin", "@admin", "@admin")
        );
        assert_eq!(p.backend, "console");
        assert!(p.room.is_empty());
        let r = parse("console", "#ops").unwrap();
        assert_eq!(
            (r.room.as_str(), r.room_name.as_str(), r.display.as_str()),
            ("#ops", "ops", "#ops")
        );
        assert!(r.person.is_empty());
        let o = parse("console", "#ops/bob").unwrap();
        assert_eq!(
            (o.person.as_str(), o.room.as_str(), o.display.as_str()),
            ("@bob", "#ops", "#ops/bob")
        );
        assert_eq!(parse("console", "#ops/@bob").unwrap(), o);
        for bad in [
            "", "admin", "@", "#", "#ops/", "#/bob", "#a/b/c", "@a b", "<@U1>",
        ] {
            assert!(parse("console", bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn finds_mentions() {
        let names: Vec<_> = mentions("t", "@bob hi @alice, mail x@y.z and @bob again @")
            .into_iter()
            .map(|i| i.display)
            .collect();
        assert_eq!(names, ["@bob", "@alice"]);
        assert!(mentions("t", "no one").is_empty());
    }

    #[test]
    fn normalises_names() {
        assert_eq!(person_name("@bob"), Some("bob"));
        assert_eq!(person_name(" bob "), Some("bob"));
        assert_eq!(person_name("two words"), None);
        assert_eq!(room_name("ops"), Some("ops"));
        assert_eq!(room_name("#ops"), Some("ops"));
        assert_eq!(room_name("#"), None);
    }
}
