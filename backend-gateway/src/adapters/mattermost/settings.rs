//! The Mattermost backend's settings (`[backends.NAME]` with `kind = "mattermost"`), checked key
//! by key. Secrets come from environment variables named by `*_env` keys, never from the file.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::settings::{Fields, Problem};

/// How the bot proves who it is.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// A personal access token or a bot account's token.
    Token(String),
    /// Login with a password (`POST /users/login`), done again when the session expires (401).
    Password {
        /// The login id: user name or e-mail address.
        login: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => write!(f, "Token(<hidden>)"),
            Self::Password { login, .. } => write!(f, "Password {{ login: {login:?} }}"),
        }
    }
}

/// Everything the Mattermost backend needs to connect and behave.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The server's base URL, without a trailing slash (`https://chat.example.com`, or with a
    /// base path: `https://example.com/mattermost`).
    pub url: url::Url,
    /// The team's name (as in its URL, `my-team`).
    pub team: String,
    /// Credentials.
    pub auth: Auth,
    /// The bot's user name as the operator expects it (Errbot's `username`): only compared with
    /// the user the credentials name, a difference is logged.
    pub username: Option<String>,
    /// Channels joined at start (names as in their URL, `town-square`).
    pub rooms: Vec<String>,
    /// Check the server's certificate (Errbot's `verify`); false is for test servers only.
    pub verify: bool,
    /// Extra PEM certificates to trust (a self-signed server), besides Mozilla's roots.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Time limit of each API request.
    pub timeout: Duration,
    /// Interval between the bot's websocket pings.
    pub ping_interval: Duration,
    /// A websocket silent this long (no event, no pong) is taken for dead and reconnected.
    pub silence_timeout: Duration,
    /// First delay before reconnecting (doubled at each failure).
    pub reconnect_delay: Duration,
    /// Longest delay between reconnection attempts.
    pub reconnect_max: Duration,
}

/// Reads `url`, or Errbot's `server`, `scheme`, `port` and `basepath`.
fn read_url(f: &mut Fields<'_>) -> Option<url::Url> {
    let url = f.string("url");
    let server = f.word("server");
    let scheme = f.word("scheme");
    let port = f.integer("port", 1, 65535);
    let basepath = f.string("basepath");
    let text = match (url, server) {
        (Some(_), Some(_)) => {
            f.problem("server", "give either `url` or `server`, not both");
            return None;
        }
        (Some(url), None) => {
            for key in ["scheme", "port", "basepath"] {
                if f.has(key) {
                    f.problem(key, "only used with `server` (`url` holds it already)");
                }
            }
            url
        }
        (None, Some(server)) => {
            let scheme = scheme.unwrap_or_else(|| "https".to_owned());
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let base = basepath.unwrap_or_default();
            let base = base.trim_matches('/');
            let base = if base.is_empty() {
                String::new()
            } else {
                format!("/{base}")
            };
            format!("{scheme}://{server}{port}{base}")
        }
        (None, None) => {
            if !f.has("url") && !f.has("server") {
                f.problem(
                    "url",
                    "required: the server's address, for example \"https://chat.example.com\"",
                );
            }
            return None;
        }
    };
    let key = if f.has("url") { "url" } else { "server" };
    match url::Url::parse(text.trim_end_matches('/')) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Ok(u) => {
            f.problem(
                key,
                format!(
                    "expected an http:// or https:// address, found {:?}",
                    u.as_str()
                ),
            );
            None
        }
        Err(e) => {
            f.problem(key, format!("not a valid address ({e}): {text:?}"));
            None
        }
    }
}

impl Settings {
    /// Reads and checks the settings; every problem names its key.
    pub fn read(map: &Map<String, Value>) -> Result<Self, Vec<Problem>> {
        let mut f = Fields::new(map);
        let url = read_url(&mut f);
        let team = f.word("team");
        if team.is_none() && !f.has("team") {
            f.problem(
                "team",
                "required: the team's name, as in its URL (\"my-team\")",
            );
        }
        let token = f.secret_env("token_env");
        let login = f.word("login");
        let password = f.secret_env("password_env");
        let auth = match (token, login, password) {
            (Some(token), None, None) if !f.has("password_env") => Some(Auth::Token(token)),
            (_, Some(login), Some(password)) if !f.has("token_env") => {
                Some(Auth::Password { login, password })
            }
            _ => {
                if f.has("token_env") && (f.has("login") || f.has("password_env")) {
                    f.problem(
                        "token_env",
                        "give either token_env or login and password_env",
                    );
                } else if f.has("login") && !f.has("password_env") {
                    f.problem(
                        "login",
                        "needs password_env (the variable holding the password)",
                    );
                } else if f.has("password_env") && !f.has("login") {
                    f.problem(
                        "password_env",
                        "needs login (the bot's user name or e-mail)",
                    );
                } else if !f.has("token_env") && !f.has("login") {
                    f.problem(
                        "token_env",
                        "required: the environment variable holding the bot's access token \
                         (or login and password_env)",
                    );
                }
                None
            }
        };
        let username = f
            .word("username")
            .map(|u| u.trim_start_matches('@').to_owned());
        let rooms = f
            .strings("rooms")
            .map(|list| {
                let mut rooms = Vec::new();
                for entry in list {
                    let name = entry.trim().trim_start_matches('~');
                    if !super::ids::valid_channel_name(name) {
                        f.problem(
                            "rooms",
                            format!(
                                "expected a channel's name as in its URL (\"~town-square\"), \
                                 found {entry:?}"
                            ),
                        );
                        continue;
                    }
                    rooms.push(name.to_owned());
                }
                rooms
            })
            .unwrap_or_default();
        let verify = f.boolean("verify").unwrap_or(true);
        let tls_ca_file = f.string("tls_ca_file").map(std::path::PathBuf::from);
        if let Some(path) = &tls_ca_file {
            if !verify {
                f.problem("tls_ca_file", "not used with verify = false");
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
        let timeout = f.seconds("timeout", 0.1, 600.0).unwrap_or(30.0);
        let ping_interval = f.seconds("ping_interval", 0.1, 600.0).unwrap_or(30.0);
        let silence_timeout = f.seconds("silence_timeout", 0.2, 3600.0).unwrap_or(90.0);
        if silence_timeout <= ping_interval {
            f.problem(
                "silence_timeout",
                format!("must be longer than ping_interval ({ping_interval} s)"),
            );
        }
        let reconnect_delay = f.seconds("reconnect_delay", 0.01, 3600.0).unwrap_or(1.0);
        let reconnect_max = f.seconds("reconnect_max", 0.01, 86_400.0).unwrap_or(60.0);
        let problems = f.finish();
        let (Some(url), Some(team), Some(auth), true) = (url, team, auth, problems.is_empty())
        else {
            return Err(problems);
        };
        Ok(Self {
            url,
            team,
            auth,
            username,
            rooms,
            verify,
            tls_ca_file,
            timeout: Duration::from_secs_f64(timeout),
            ping_interval: Duration::from_secs_f64(ping_interval),
            silence_timeout: Duration::from_secs_f64(silence_timeout),
            reconnect_delay: Duration::from_secs_f64(reconnect_delay),
            reconnect_max: Duration::from_secs_f64(reconnect_max.max(reconnect_delay)),
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

    fn keys(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.key.as_str()).collect()
    }

    #[test]
    fn a_token_from_the_environment() {
        let s = read(
            json!({"url": "https://chat.example/", "team": "t", "token_env": "PATH",
            "rooms": ["~town-square", "dev"]}),
        )
        .unwrap();
        assert_eq!(s.url.as_str(), "https://chat.example/");
        assert!(matches!(s.auth, Auth::Token(_)));
        assert_eq!(s.rooms, ["town-square", "dev"]);
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert!(!format!("{s:?}").contains(&std::env::var("PATH").unwrap()));
    }

    #[test]
    fn errbots_split_address() {
        let s = read(
            json!({"server": "chat.example", "port": 8065, "scheme": "http",
            "basepath": "/mm/", "team": "t", "login": "bot", "password_env": "PATH"}),
        )
        .unwrap();
        assert_eq!(s.url.as_str(), "http://chat.example:8065/mm");
        assert!(matches!(s.auth, Auth::Password { .. }));
    }

    #[test]
    fn the_seeds_identity_keys() {
        let s = read(
            json!({"server": "chat.example", "scheme": "https", "port": 443,
            "basepath": "", "team": "t", "token_env": "PATH", "username": "@errbot",
            "verify": false, "timeout": 10}),
        )
        .unwrap();
        assert_eq!(s.url.as_str(), "https://chat.example/");
        assert_eq!(s.username.as_deref(), Some("errbot"));
        assert!(!s.verify);
        assert_eq!(s.timeout, Duration::from_secs(10));
        let problems = read(json!({"url": "https://x", "team": "t", "token_env": "PATH",
            "verify": "no", "tls_ca_file": "ca.pem"}))
        .unwrap_err();
        assert_eq!(keys(&problems), ["verify", "tls_ca_file"]);
    }

    #[test]
    fn problems_name_their_keys() {
        let problems = read(
            json!({"team": "a b", "token_env": "ERRBOT_TEST_SURELY_UNSET",
            "rooms": ["no such/name"], "ping_interval": 10, "silence_timeout": 5, "typo": 1}),
        )
        .unwrap_err();
        assert_eq!(
            keys(&problems),
            [
                "url",
                "team",
                "token_env",
                "rooms",
                "silence_timeout",
                "typo"
            ]
        );
        let problems = read(json!({"url": "ftp://x", "team": "t", "login": "me"})).unwrap_err();
        assert_eq!(keys(&problems), ["url", "login"]);
        let problems = read(json!({"url": "http://x", "team": "t"})).unwrap_err();
        assert_eq!(keys(&problems), ["token_env"]);
    }
}
