//! The XMPP backend's settings (`[backends.NAME]` with `kind = "xmpp"`), checked key by key.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};
use xmpp_parsers::jid::{BareJid, Jid};

use crate::settings::{Fields, Problem};

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain TCP, then STARTTLS (required: a server that does not offer it is refused).
    StartTls,
    /// TLS from the first byte (XEP-0368, usually port 5223).
    Direct,
    /// No TLS at all: for a server on the loopback interface only (tests, a local proxy).
    None,
}

/// A room joined at connection (Errbot's CHATROOM_PRESENCE), with its password if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// `room@conference.example.org`.
    pub jid: BareJid,
    /// The room's password, if any.
    pub password: Option<String>,
}

/// Everything the XMPP backend needs to connect and behave.
#[derive(Clone)]
pub struct Settings {
    /// The bot's account (`bot@example.org`, or with a resource `bot@example.org/errbot`).
    pub jid: Jid,
    /// The account's password, from the environment.
    pub password: String,
    /// Host to connect to (default: the JID's domain).
    pub server: String,
    /// Port (default 5222, or 5223 with direct TLS).
    pub port: u16,
    /// STARTTLS, direct TLS or none.
    pub security: Security,
    /// Extra PEM certificates to trust (a private CA), besides Mozilla's roots.
    pub tls_ca_file: Option<PathBuf>,
    /// SASL mechanisms the bot may use; empty: the best the server offers (SCRAM-SHA-256,
    /// SCRAM-SHA-1, PLAIN).
    pub sasl_mechanisms: Vec<String>,
    /// Silence after which the server is pinged (XEP-0199, or a stream management request).
    pub keepalive: Duration,
    /// The bot's nickname in rooms (Errbot's CHATROOM_FN); default: the JID's local part.
    pub nickname: String,
    /// Rooms joined at connection.
    pub rooms: Vec<Room>,
    /// Delay before rejoining a room the bot was kicked from; `None` (0 s): do not rejoin.
    pub rejoin_after_kick: Option<Duration>,
    /// First delay before reconnecting after a disconnection (doubled each failure).
    pub reconnect_delay: Duration,
    /// Longest delay between two reconnection attempts.
    pub reconnect_max: Duration,
    /// Longest reply in characters before errbotd splits it (Errbot's MESSAGE_SIZE_LIMIT).
    pub message_size_limit: u32,
    /// Send replies with an XHTML-IM version too (Errbot's XMPP_XHTML_IM).
    pub xhtml_im: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("jid", &self.jid.to_string())
            .field("password", &"<hidden>")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("nickname", &self.nickname)
            .field("rooms", &self.rooms)
            .finish_non_exhaustive()
    }
}

/// SASL mechanisms the client knows.
pub const MECHANISMS: &[&str] = &["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"];

/// Parses `room@service` or `room@service password`.
pub fn parse_room(entry: &str) -> Result<Room, String> {
    let entry = entry.trim();
    let (name, password) = match entry.split_once(char::is_whitespace) {
        Some((name, password)) => (name, Some(password.trim().to_owned())),
        None => (entry, None),
    };
    let jid = BareJid::new(name).map_err(|e| format!("{name:?} is not a room JID: {e}"))?;
    if jid.node().is_none() {
        return Err(format!(
            "expected \"room@conference.example.org\" or \"room@conference.example.org password\", found {entry:?}"
        ));
    }
    Ok(Room {
        jid,
        password: password.filter(|p| !p.is_empty()),
    })
}

impl Settings {
    /// Reads and checks the settings; every problem names its key.
    pub fn read(map: &Map<String, Value>) -> Result<Self, Vec<Problem>> {
        let mut f = Fields::new(map);
        let jid = f.word("jid").and_then(|text| match Jid::new(&text) {
            Ok(jid) if jid.node().is_some() => Some(jid),
            Ok(_) => {
                f.problem(
                    "jid",
                    format!("expected \"user@example.org\", found {text:?}"),
                );
                None
            }
            Err(e) => {
                f.problem("jid", format!("{text:?} is not a JID: {e}"));
                None
            }
        });
        if jid.is_none() && !f.has("jid") {
            f.problem(
                "jid",
                "required: the bot's account, for example \"errbot@example.org\"",
            );
        }
        let password = f.secret_env("password_env");
        if password.is_none() && !f.has("password_env") {
            f.problem(
                "password_env",
                "required: the name of the environment variable holding the account's password",
            );
        }
        let security = match f.string("tls").as_deref() {
            None | Some("starttls") => Security::StartTls,
            Some("direct") => Security::Direct,
            Some("none") => Security::None,
            Some(other) => {
                f.problem(
                    "tls",
                    format!("expected \"starttls\", \"direct\" or \"none\", found {other:?}"),
                );
                Security::StartTls
            }
        };
        let server = f.word("server");
        let port = f.integer("port", 1, 65535).map_or(
            if security == Security::Direct {
                5223
            } else {
                5222
            },
            |p| p as u16,
        );
        if security == Security::None {
            let host = server
                .clone()
                .or_else(|| jid.as_ref().map(|j| j.domain().to_string()));
            let loopback = host.as_deref().is_some_and(|h| {
                h == "localhost"
                    || h.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            });
            if !loopback {
                f.problem(
                    "tls",
                    "\"none\" is only allowed for a server on the loopback interface \
                     (server = \"127.0.0.1\")",
                );
            }
        }
        let tls_ca_file = f.string("tls_ca_file").map(PathBuf::from);
        if let Some(path) = &tls_ca_file {
            if security == Security::None {
                f.problem("tls_ca_file", "not used with tls = \"none\"");
            } else if !path.is_absolute() {
                f.problem(
                    "tls_ca_file",
                    format!("expected an absolute path, found {path:?}"),
                );
            } else if !path.is_file() {
                f.problem(
                    "tls_ca_file",
                    format!("{} is not a readable file", path.display()),
                );
            }
        }
        let sasl_mechanisms = f.strings("sasl_mechanisms").unwrap_or_default();
        for m in &sasl_mechanisms {
            if !MECHANISMS.contains(&m.as_str()) {
                f.problem(
                    "sasl_mechanisms",
                    format!("unknown mechanism {m:?} (known: {})", MECHANISMS.join(", ")),
                );
            }
        }
        let keepalive = f.seconds("keepalive_interval", 1.0, 3600.0).unwrap_or(60.0);
        let nickname = f.string("nickname");
        if nickname
            .as_deref()
            .is_some_and(|n| n.trim().is_empty() || n.contains(['/', '\n', '\r', '\0']))
        {
            f.problem("nickname", "expected a room nickname (one line, no /)");
        }
        let rooms = f
            .strings("rooms")
            .map(|list| {
                let mut rooms = Vec::new();
                for entry in list {
                    match parse_room(&entry) {
                        Ok(room) => rooms.push(room),
                        Err(e) => f.problem("rooms", e),
                    }
                }
                rooms
            })
            .unwrap_or_default();
        let rejoin = f.seconds("reconnect_on_kick", 0.0, 3600.0).unwrap_or(5.0);
        let reconnect_delay = f
            .seconds("reconnect_on_disconnect", 0.01, 3600.0)
            .unwrap_or(1.0);
        let reconnect_max = f.seconds("reconnect_max", 0.01, 86_400.0).unwrap_or(60.0);
        let message_size_limit = f
            .integer("message_size_limit", 100, 1_000_000)
            .map_or(10_000, |n| n as u32);
        let xhtml_im = f.boolean("xhtml_im").unwrap_or(false);
        let problems = f.finish();
        let (Some(jid), Some(password), true) = (jid, password, problems.is_empty()) else {
            return Err(problems);
        };
        let server = server.unwrap_or_else(|| jid.domain().to_string());
        let nickname = nickname.unwrap_or_else(|| {
            jid.node()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "errbot".to_owned())
        });
        Ok(Self {
            jid,
            password,
            server,
            port,
            security,
            tls_ca_file,
            sasl_mechanisms,
            keepalive: Duration::from_secs_f64(keepalive),
            nickname,
            rooms,
            rejoin_after_kick: (rejoin > 0.0).then(|| Duration::from_secs_f64(rejoin)),
            reconnect_delay: Duration::from_secs_f64(reconnect_delay),
            reconnect_max: Duration::from_secs_f64(reconnect_max.max(reconnect_delay)),
            message_size_limit,
            xhtml_im,
        })
    }
}

/// Checks XMPP settings for `errbot-gateway check`.
pub fn check(map: &Map<String, Value>) -> Vec<Problem> {
    Settings::read(map).err().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: serde_json::Value) -> Result<Settings, Vec<Problem>> {
        let Value::Object(map) = json else {
            unreachable!()
        };
        Settings::read(&map)
    }

    #[test]
    fn defaults_come_from_the_jid() {
        // Any variable that is set will do as the password's: PATH is.
        let s = read(serde_json::json!({
            "jid": "bot@example.org", "password_env": "PATH",
            "rooms": ["room@conference.example.org", "club@conference.example.org s3cret"],
        }))
        .unwrap();
        assert_eq!((s.server.as_str(), s.port), ("example.org", 5222));
        assert_eq!(s.security, Security::StartTls);
        assert_eq!(s.nickname, "bot");
        assert_eq!(s.rooms[1].password.as_deref(), Some("s3cret"));
        assert_eq!(s.rooms[0].jid.to_string(), "room@conference.example.org");
        assert!(!format!("{s:?}").contains(&s.password));
    }

    #[test]
    fn problems_name_their_keys() {
        let problems = read(serde_json::json!({
            "jid": "example.org", "tls": "none", "server": "example.org",
            "rooms": ["conference.example.org"], "sasl_mechanisms": ["DIGEST-MD5"],
        }))
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in ["jid", "password_env", "tls", "rooms", "sasl_mechanisms"] {
            assert!(keys.contains(&key), "{key} missing from {problems:?}");
        }
    }
}
