//! The IRC backend's settings (`[backends.NAME]` with `kind = "irc"`), checked key by key.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::ids::{self, AclPattern};
use crate::settings::{Fields, Problem};

/// A channel to join, with its key if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// `#channel`.
    pub name: String,
    /// The channel key (password), if any.
    pub key: Option<String>,
}

/// SASL PLAIN credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Sasl {
    /// Account name.
    pub username: String,
    /// Account password.
    pub password: String,
}

impl std::fmt::Debug for Sasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sasl {{ username: {:?}, password: <hidden> }}",
            self.username
        )
    }
}

/// Everything the IRC backend needs to connect and behave.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Server host name or address.
    pub server: String,
    /// Server port (6667, or 6697 with TLS).
    pub port: u16,
    /// Connect with TLS.
    pub tls: bool,
    /// Extra PEM certificates to trust (a self-signed server), besides the usual roots.
    pub tls_ca_file: Option<PathBuf>,
    /// Local address to connect from.
    pub bind_address: Option<IpAddr>,
    /// The bot's nickname.
    pub nickname: String,
    /// User name (ident); defaults to the nickname.
    pub username: String,
    /// Real name (shown by WHOIS).
    pub realname: String,
    /// Server password (PASS), from the environment.
    pub password: Option<String>,
    /// NickServ password, from the environment: `IDENTIFY` is sent after connecting.
    pub nickserv_password: Option<String>,
    /// SASL PLAIN credentials: authentication during registration.
    pub sasl: Option<Sasl>,
    /// Channels joined at connection.
    pub rooms: Vec<Room>,
    /// Least time between two lines to one channel.
    pub channel_rate: Duration,
    /// Least time between two private lines.
    pub private_rate: Duration,
    /// Delay before rejoining a channel the bot was kicked from; `None`: do not rejoin.
    pub rejoin_after_kick: Option<Duration>,
    /// First delay before reconnecting after a disconnection (doubled each failure).
    pub reconnect_delay: Duration,
    /// Longest delay between two reconnection attempts.
    pub reconnect_max: Duration,
    /// The ACL form of people.
    pub acl_pattern: AclPattern,
}

impl Settings {
    /// Reads and checks the settings; every problem names its key.
    pub fn read(map: &Map<String, Value>) -> Result<Self, Vec<Problem>> {
        let mut f = Fields::new(map);
        let server = f.word("server");
        if server.is_none() && !f.has("server") {
            f.problem(
                "server",
                "required: the IRC server's host name, for example \"irc.libera.chat\"",
            );
        }
        let tls = f.boolean("tls").unwrap_or(false);
        let port = f
            .integer("port", 1, 65535)
            .map_or(if tls { 6697 } else { 6667 }, |p| p as u16);
        let tls_ca_file = f.string("tls_ca_file").map(PathBuf::from);
        if let Some(path) = &tls_ca_file {
            if !tls {
                f.problem("tls_ca_file", "only used with tls = true");
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
        let bind_address = f.string("bind_address").and_then(|a| match a.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                f.problem(
                    "bind_address",
                    format!("expected an IP address, found {a:?}"),
                );
                None
            }
        });
        let nickname = f.word("nickname");
        match &nickname {
            None if !f.has("nickname") => f.problem(
                "nickname",
                "required: the bot's nickname, for example \"errbot\"",
            ),
            Some(n) if !ids::valid_nick(n) => f.problem(
                "nickname",
                format!(
                    "expected a nickname (letters, digits and []\\`_^{{|}}-, not starting with a \
                     digit or -), found {n:?}"
                ),
            ),
            _ => {}
        }
        let username = f.word("username");
        let realname = f.string("realname");
        if realname
            .as_ref()
            .is_some_and(|r| r.contains(['\r', '\n', '\0']))
        {
            f.problem("realname", "expected one line of text");
        }
        let password = f.secret_env("password_env");
        let nickserv_password = f.secret_env("nickserv_password_env");
        let sasl_username = f.word("sasl_username");
        let sasl_password = f.secret_env("sasl_password_env");
        if sasl_username.is_some() && !f.has("sasl_password_env") {
            f.problem(
                "sasl_username",
                "needs sasl_password_env (the variable holding the password)",
            );
        }
        let rooms = f
            .strings("rooms")
            .map(|list| {
                let mut rooms = Vec::new();
                for entry in list {
                    let mut words = entry.split_whitespace();
                    let name = words.next().unwrap_or("");
                    let key = words.next();
                    if !ids::is_channel(name) || words.next().is_some() {
                        f.problem(
                            "rooms",
                            format!("expected \"#channel\" or \"#channel key\", found {entry:?}"),
                        );
                        continue;
                    }
                    rooms.push(Room {
                        name: name.to_owned(),
                        key: key.map(str::to_owned),
                    });
                }
                rooms
            })
            .unwrap_or_default();
        let channel_rate = f.seconds("channel_rate", 0.0, 60.0).unwrap_or(1.0);
        let private_rate = f.seconds("private_rate", 0.0, 60.0).unwrap_or(1.0);
        let rejoin = f.seconds("reconnect_on_kick", 0.0, 3600.0).unwrap_or(5.0);
        let reconnect_delay = f
            .seconds("reconnect_on_disconnect", 0.01, 3600.0)
            .unwrap_or(5.0);
        let reconnect_max = f.seconds("reconnect_max", 0.01, 86_400.0).unwrap_or(300.0);
        let acl_pattern = f
            .string("acl_pattern")
            .and_then(|p| match p.parse::<AclPattern>() {
                Ok(pattern) => Some(pattern),
                Err(e) => {
                    f.problem("acl_pattern", e);
                    None
                }
            })
            .unwrap_or_default();
        let problems = f.finish();
        let (Some(server), Some(nickname), true) = (server, nickname.clone(), problems.is_empty())
        else {
            return Err(problems);
        };
        let sasl = sasl_password.map(|password| Sasl {
            username: sasl_username.unwrap_or_else(|| nickname.clone()),
            password,
        });
        Ok(Self {
            server,
            port,
            tls,
            tls_ca_file,
            bind_address,
            username: username.unwrap_or_else(|| nickname.clone()),
            realname: realname.unwrap_or_else(|| "errbot-rs".to_owned()),
            nickname,
            password,
            nickserv_password,
            sasl,
            rooms,
            channel_rate: Duration::from_secs_f64(channel_rate),
            private_rate: Duration::from_secs_f64(private_rate),
            rejoin_after_kick: (rejoin > 0.0).then(|| Duration::from_secs_f64(rejoin)),
            reconnect_delay: Duration::from_secs_f64(reconnect_delay),
            reconnect_max: Duration::from_secs_f64(reconnect_max.max(reconnect_delay)),
            acl_pattern,
        })
    }
}

/// Checks settings for `errbot-gateway check`.
pub fn check(map: &Map<String, Value>) -> Vec<Problem> {
    Settings::read(map).err().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Settings, Vec<Problem>> {
        match v {
            Value::Object(map) => Settings::read(&map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_follow_errbot() {
        let s = read(json!({"server": "irc.example", "nickname": "bot"})).unwrap();
        assert_eq!((s.port, s.tls, s.username.as_str()), (6667, false, "bot"));
        assert_eq!(s.channel_rate, Duration::from_secs(1));
        assert_eq!(s.private_rate, Duration::from_secs(1));
        assert_eq!(s.rejoin_after_kick, Some(Duration::from_secs(5)));
        assert_eq!(s.reconnect_delay, Duration::from_secs(5));
        assert_eq!(s.acl_pattern, AclPattern::default());
        let s = read(
            json!({"server": "x", "nickname": "b", "tls": true, "reconnect_on_kick": 0,
            "rooms": ["#a", "#b secret"], "channel_rate": 0.25}),
        )
        .unwrap();
        assert_eq!(s.port, 6697);
        assert_eq!(s.rejoin_after_kick, None);
        assert_eq!(
            s.rooms[1],
            Room {
                name: "#b".into(),
                key: Some("secret".into())
            }
        );
        assert_eq!(s.channel_rate, Duration::from_millis(250));
    }

    #[test]
    fn problems_name_their_keys() {
        let problems = read(json!({
            "port": 0, "nickname": "9lives", "rooms": ["general"], "acl_pattern": "{mask}",
            "password_env": "ERRBOT_TEST_SURELY_UNSET_VARIABLE", "channel_rate": -1,
            "bind_address": "here", "sasl_username": "me", "nick": "typo",
        }))
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server",
                "port",
                "bind_address",
                "nickname",
                "password_env",
                "sasl_username",
                "rooms",
                "channel_rate",
                "acl_pattern",
                "nick"
            ]
        );
    }
}
