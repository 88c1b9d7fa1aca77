//! The Slack backend's settings (`[backends.NAME]` with `kind = "slack"`), checked key by key.
//! Secrets (the bot token, the app-level token, the signing secret) come from environment
//! variables named by `*_env` keys, never from the file.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::settings::{Fields, Problem};

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<hidden>")
    }
}

/// How Slack's events reach the bot.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Socket Mode: the bot opens websockets with the app-level token (`xapp-`, scope
    /// `connections:write`).
    Socket {
        /// The app-level token.
        app_token: Secret,
    },
    /// The Events API: Slack posts events to `/slack/events` on this address (behind a proxy
    /// with TLS); each request is checked against the signing secret.
    Events {
        /// Where the gateway listens.
        listen: std::net::SocketAddr,
        /// The app's signing secret.
        signing_secret: Secret,
    },
}

/// Everything the Slack backend needs to connect and behave.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The bot token (`xoxb-`): every Web API call but `apps.connections.open`.
    pub bot_token: Secret,
    /// How Slack's events reach the bot.
    pub mode: Mode,
    /// The Web API's base URL, without a trailing slash (`https://slack.com/api`; a test server's
    /// otherwise).
    pub api_url: url::Url,
    /// Time limit of each Web API request, and of a new connection's `hello`.
    pub timeout: Duration,
    /// Interval between the bot's websocket pings.
    pub ping_interval: Duration,
    /// A websocket silent this long (no frame, no pong) is taken for dead and replaced.
    pub silence_timeout: Duration,
    /// First delay before opening a connection again (doubled at each failure).
    pub reconnect_delay: Duration,
    /// Longest delay between attempts.
    pub reconnect_max: Duration,
    /// Shortest interval between two messages to one channel (Slack allows about one a second).
    pub post_interval: Duration,
    /// Messages one channel may receive at once before the pacing applies.
    pub post_burst: u32,
    /// An HTTP proxy (`http://[user:password@]host:port`) for the Web API and the Socket Mode
    /// websocket (a CONNECT tunnel); without one, the Web API follows `HTTPS_PROXY` and the
    /// like, and the websocket connects directly.
    pub proxy: Option<url::Url>,
}

impl Settings {
    /// Reads and checks the settings; every problem names its key.
    pub fn read(map: &Map<String, Value>) -> Result<Self, Vec<Problem>> {
        let mut f = Fields::new(map);
        for (legacy, instead) in [
            ("token", "bot_token_env"),
            ("app_token", "app_token_env"),
            ("signing_secret", "signing_secret_env"),
        ] {
            if f.has(legacy) {
                let _ = f.string(legacy);
                f.problem(
                    legacy,
                    format!(
                        "secrets are not written in errbot.toml: put it in an environment \
                         variable and name the variable with `{instead}`"
                    ),
                );
            }
        }
        let bot_token = f.secret_env("bot_token_env");
        if !f.has("bot_token_env") {
            f.problem(
                "bot_token_env",
                "required: the environment variable holding the bot token (xoxb-...)",
            );
        }
        let bot_token = bot_token.filter(|t| match bot_token_problem(t) {
            None => true,
            Some(why) => {
                f.problem("bot_token_env", why);
                false
            }
        });
        let app_token = f.secret_env("app_token_env");
        let app_token = app_token.filter(|t| match app_token_problem(t) {
            None => true,
            Some(why) => {
                f.problem("app_token_env", why);
                false
            }
        });
        let signing_secret = f.secret_env("signing_secret_env");
        let listen = f.string("events_listen").and_then(|a| match a.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                f.problem(
                    "events_listen",
                    format!("expected an address and port such as \"127.0.0.1:3000\", found {a:?}"),
                );
                None
            }
        });
        let mode = match (f.has("app_token_env"), f.has("events_listen")) {
            (true, true) => {
                f.problem(
                    "events_listen",
                    "give either app_token_env (Socket Mode) or events_listen (the Events API), \
                     not both",
                );
                None
            }
            (true, false) => app_token.map(|t| Mode::Socket {
                app_token: Secret(t),
            }),
            (false, true) => {
                if !f.has("signing_secret_env") {
                    f.problem(
                        "signing_secret_env",
                        "required with events_listen: the environment variable holding the \
                         app's signing secret (Basic Information > App Credentials)",
                    );
                }
                match (listen, signing_secret) {
                    (Some(listen), Some(secret)) => Some(Mode::Events {
                        listen,
                        signing_secret: Secret(secret),
                    }),
                    _ => None,
                }
            }
            (false, false) => {
                f.problem(
                    "app_token_env",
                    "required: the environment variable holding the app-level token (xapp-...) \
                     with the connections:write scope, for Socket Mode (or events_listen and \
                     signing_secret_env for the Events API)",
                );
                None
            }
        };
        let api_url = f
            .string("api_url")
            .unwrap_or_else(|| "https://slack.com/api".to_owned());
        let api_url = match url::Url::parse(api_url.trim_end_matches('/')) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) | Err(_) => {
                f.problem(
                    "api_url",
                    format!("expected an http:// or https:// address, found {api_url:?}"),
                );
                None
            }
        };
        let timeout = f.seconds("timeout", 0.1, 600.0).unwrap_or(30.0);
        let ping_interval = f.seconds("ping_interval", 0.05, 600.0).unwrap_or(10.0);
        let silence_timeout = f.seconds("silence_timeout", 0.1, 3600.0).unwrap_or(45.0);
        if silence_timeout <= ping_interval {
            f.problem(
                "silence_timeout",
                format!("must be longer than ping_interval ({ping_interval} s)"),
            );
        }
        let reconnect_delay = f.seconds("reconnect_delay", 0.01, 3600.0).unwrap_or(1.0);
        let reconnect_max = f.seconds("reconnect_max", 0.01, 86_400.0).unwrap_or(60.0);
        let post_interval = f.seconds("post_interval", 0.0, 60.0).unwrap_or(1.0);
        let post_burst = f.integer("post_burst", 1, 100).unwrap_or(3);
        let proxy = f.string("proxy").and_then(|p| match url::Url::parse(&p) {
            Ok(u) if u.scheme() == "http" && u.host().is_some() => Some(u),
            Ok(_) | Err(_) => {
                f.problem(
                    "proxy",
                    format!(
                        "expected an HTTP proxy's address such as \"http://proxy.example:3128\", \
                         found {p:?}"
                    ),
                );
                None
            }
        });
        let problems = f.finish();
        let (Some(bot_token), Some(mode), Some(api_url), true) =
            (bot_token, mode, api_url, problems.is_empty())
        else {
            return Err(problems);
        };
        Ok(Self {
            bot_token: Secret(bot_token),
            mode,
            api_url,
            timeout: Duration::from_secs_f64(timeout),
            ping_interval: Duration::from_secs_f64(ping_interval),
            silence_timeout: Duration::from_secs_f64(silence_timeout),
            reconnect_delay: Duration::from_secs_f64(reconnect_delay),
            reconnect_max: Duration::from_secs_f64(reconnect_max.max(reconnect_delay)),
            post_interval: Duration::from_secs_f64(post_interval),
            post_burst: u32::try_from(post_burst).unwrap_or(3),
            proxy,
        })
    }
}

/// What is wrong with a bot token, if anything (its kind is told by its prefix).
pub fn bot_token_problem(token: &str) -> Option<&'static str> {
    if token.starts_with("xoxb-") {
        None
    } else if token.starts_with("xapp-") {
        Some(
            "this variable holds the app-level token (xapp-); give the bot token (xoxb-, \
             OAuth & Permissions > Bot User OAuth Token) here and the app-level token with \
             app_token_env",
        )
    } else if token.starts_with("xoxp-") {
        Some(
            "this variable holds a user token (xoxp-); the bot needs the Bot User OAuth Token \
             (xoxb-)",
        )
    } else {
        Some(
            "expected a bot token, starting with xoxb- (OAuth & Permissions > Bot User OAuth \
             Token)",
        )
    }
}

/// What is wrong with an app-level token, if anything.
pub fn app_token_problem(token: &str) -> Option<&'static str> {
    if token.starts_with("xapp-") {
        None
    } else {
        Some(
            "expected an app-level token, starting with xapp- (Basic Information > App-Level \
             Tokens, scope connections:write)",
        )
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
    fn tokens_are_told_apart_by_their_prefix() {
        assert_eq!(bot_token_problem("xoxb-1-2-abc"), None);
        assert!(
            bot_token_problem("xapp-1-A1-2")
                .unwrap()
                .contains("app-level")
        );
        assert!(bot_token_problem("xoxp-1").unwrap().contains("user token"));
        assert!(bot_token_problem("abc").is_some());
        assert_eq!(app_token_problem("xapp-1-A1-2"), None);
        assert!(app_token_problem("xoxb-1").is_some());
    }

    #[test]
    fn problems_name_their_keys() {
        let problems = read(json!({"token": "xoxb-in-the-file",
            "bot_token_env": "ERRBOT_SURELY_UNSET_BOT", "app_token_env": "ERRBOT_SURELY_UNSET_APP",
            "api_url": "ftp://x", "ping_interval": 5, "silence_timeout": 2, "typo": 1}))
        .unwrap_err();
        assert_eq!(
            keys(&problems),
            [
                "token",
                "bot_token_env",
                "app_token_env",
                "api_url",
                "silence_timeout",
                "typo"
            ]
        );
        assert!(problems[0].message.contains("bot_token_env"));
        assert!(problems[1].message.contains("is not set"));
        let problems = read(json!({})).unwrap_err();
        assert_eq!(keys(&problems), ["bot_token_env", "app_token_env"]);
        let problems = read(json!({"bot_token_env": "ERRBOT_SURELY_UNSET_BOT",
            "app_token_env": "ERRBOT_SURELY_UNSET_APP", "events_listen": "nowhere"}))
        .unwrap_err();
        assert_eq!(
            keys(&problems),
            [
                "bot_token_env",
                "app_token_env",
                "events_listen",
                "events_listen"
            ]
        );
        let problems = read(json!({"bot_token_env": "ERRBOT_SURELY_UNSET_BOT",
            "events_listen": "127.0.0.1:3000"}))
        .unwrap_err();
        assert_eq!(keys(&problems), ["bot_token_env", "signing_secret_env"]);
    }
}
