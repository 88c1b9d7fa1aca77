//! The Telegram backend's settings (`[backends.NAME]` with `kind = "telegram"`), checked key by
//! key. The bot's token comes from the environment variable named by `token_env` (Errbot's
//! `BOT_IDENTITY = {"token": ...}`), never from the file.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::settings::{Fields, Problem};

/// Where Telegram's Bot API is unless `api_url` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// Everything the Telegram backend needs to connect and behave.
#[derive(Clone)]
pub struct Settings {
    /// The bot's token from @BotFather (`123456:ABC...`).
    pub token: String,
    /// The Bot API's base URL, without a trailing slash; methods are `{api_url}/bot{token}/{method}`
    /// (a local telegram-bot-api server, or a test server).
    pub api_url: url::Url,
    /// How long one `getUpdates` call waits for updates (Telegram's `timeout`, long polling).
    pub poll_timeout: Duration,
    /// How often updates are asked for again while some wait for errbotd: Telegram answers at
    /// once while updates it returned are not confirmed, so the poll cannot wait long then.
    pub busy_poll_interval: Duration,
    /// Time limit of each request (besides the long poll's own wait).
    pub timeout: Duration,
    /// The file keeping the offset of the updates errbotd finished with (relative to the data
    /// directory, errbotd's working directory for its gateways).
    pub offset_file: PathBuf,
    /// An update errbotd has not finished after this long is taken as finished (errbotd always
    /// says; only a session replaced while a message was in flight leaves one unanswered).
    pub processed_timeout: Duration,
    /// First delay before polling again after a failure or a conflict (doubled each time).
    pub reconnect_delay: Duration,
    /// Longest delay between attempts.
    pub reconnect_max: Duration,
    /// Extra PEM certificates to trust (a local Bot API server with its own certificate).
    pub tls_ca_file: Option<PathBuf>,
    /// Updates pushed by Telegram instead of long polling, when set.
    pub webhook: Option<Webhook>,
    /// The bot's username as the operator expects it (the `username` of Errbot's older
    /// `BOT_IDENTITY`): only compared with `getMe`'s, a difference is logged.
    pub username: Option<String>,
    /// Pacing of messages to a private chat (Telegram: about one a second); zero: none.
    pub chat_interval: Duration,
    /// Pacing of messages to a group (Telegram: twenty a minute); zero: none.
    pub group_interval: Duration,
    /// Messages a chat may get at once before the pacing starts.
    pub burst: u32,
}

/// The webhook mode: Telegram posts each update to `url` (the operator's HTTPS proxy in front
/// of `listen`) with the secret in `X-Telegram-Bot-Api-Secret-Token`.
#[derive(Clone)]
pub struct Webhook {
    /// The public HTTPS address given to `setWebhook`.
    pub url: url::Url,
    /// Where the gateway listens (plain HTTP, behind the proxy).
    pub listen: std::net::SocketAddr,
    /// The secret token (1-256 characters `A-Z a-z 0-9 _ -`).
    pub secret: String,
    /// Longest a request is held waiting for errbotd to process its update.
    pub hold: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("token", &"<hidden>")
            .field("api_url", &self.api_url.as_str())
            .field("poll_timeout", &self.poll_timeout)
            .field("offset_file", &self.offset_file)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads and checks the settings of backend `name`; every problem names its key.
    pub fn read(name: &str, map: &Map<String, Value>) -> Result<Self, Vec<Problem>> {
        let mut f = Fields::new(map);
        let token = f.secret_env("token_env");
        if token.is_none() && !f.has("token_env") {
            f.problem(
                "token_env",
                "required: the environment variable holding the bot's token (from @BotFather)",
            );
        }
        let token = token.filter(|t| well_formed(t));
        if token.is_none() && f.has("token_env") && map_env_set(map) {
            f.problem(
                "token_env",
                "the token does not look like one of @BotFather's (\"123456:ABC-def...\")",
            );
        }
        let api_url = match f.string("api_url") {
            None => url::Url::parse(DEFAULT_API_URL).ok(),
            Some(text) => match url::Url::parse(text.trim_end_matches('/')) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
                Ok(_) | Err(_) => {
                    f.problem(
                        "api_url",
                        format!("expected an http:// or https:// address, found {text:?}"),
                    );
                    None
                }
            },
        };
        let poll_timeout = f.seconds("poll_timeout", 0.0, 300.0).unwrap_or(30.0);
        let busy_poll_interval = f.seconds("busy_poll_interval", 0.01, 60.0).unwrap_or(0.5);
        let timeout = f.seconds("timeout", 0.1, 600.0).unwrap_or(30.0);
        let offset_file = f
            .string("offset_file")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("telegram-{name}.offset.json")));
        let processed_timeout = f
            .seconds("processed_timeout", 1.0, 86_400.0)
            .unwrap_or(900.0);
        let reconnect_delay = f.seconds("reconnect_delay", 0.01, 3600.0).unwrap_or(1.0);
        let reconnect_max = f.seconds("reconnect_max", 0.01, 86_400.0).unwrap_or(60.0);
        let tls_ca_file = f.string("tls_ca_file").map(PathBuf::from);
        if let Some(path) = &tls_ca_file
            && !path.is_file()
        {
            f.problem(
                "tls_ca_file",
                format!("{} is not a readable file", path.display()),
            );
        }
        let webhook = read_webhook(&mut f);
        let username = f
            .word("username")
            .map(|u| u.trim_start_matches('@').to_owned());
        let chat_interval = f.seconds("chat_interval", 0.0, 60.0).unwrap_or(1.0);
        let group_interval = f.seconds("group_interval", 0.0, 600.0).unwrap_or(3.0);
        let burst = f
            .integer("burst", 1, 100)
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(3);
        let problems = f.finish();
        let (Some(token), Some(api_url), true) = (token, api_url, problems.is_empty()) else {
            return Err(problems);
        };
        Ok(Self {
            token,
            api_url,
            poll_timeout: Duration::from_secs_f64(poll_timeout),
            busy_poll_interval: Duration::from_secs_f64(busy_poll_interval),
            timeout: Duration::from_secs_f64(timeout),
            offset_file,
            processed_timeout: Duration::from_secs_f64(processed_timeout),
            reconnect_delay: Duration::from_secs_f64(reconnect_delay),
            reconnect_max: Duration::from_secs_f64(reconnect_max.max(reconnect_delay)),
            tls_ca_file,
            webhook,
            username,
            chat_interval: Duration::from_secs_f64(chat_interval),
            group_interval: Duration::from_secs_f64(group_interval),
            burst,
        })
    }
}

/// Reads `webhook_url`, `webhook_listen`, `webhook_secret_env` and `webhook_hold` (all or none
/// of the first three).
fn read_webhook(f: &mut Fields<'_>) -> Option<Webhook> {
    let url = f.string("webhook_url");
    let listen = f.string("webhook_listen");
    let secret = f.secret_env("webhook_secret_env");
    let hold = f.seconds("webhook_hold", 1.0, 600.0).unwrap_or(50.0);
    let any = ["webhook_url", "webhook_listen", "webhook_secret_env"]
        .iter()
        .any(|k| f.has(k));
    if !any {
        if f.has("webhook_hold") {
            f.problem("webhook_hold", "only used with webhook_url");
        }
        return None;
    }
    for key in ["webhook_url", "webhook_listen", "webhook_secret_env"] {
        if !f.has(key) {
            f.problem(
                key,
                "required with a webhook (webhook_url, webhook_listen and webhook_secret_env go together)",
            );
        }
    }
    let url = url.and_then(|text| match url::Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        _ => {
            f.problem(
                "webhook_url",
                format!("expected the public https:// address Telegram posts to, found {text:?}"),
            );
            None
        }
    });
    let listen = listen.and_then(|text| match text.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            f.problem(
                "webhook_listen",
                format!("expected an address and port (\"127.0.0.1:8443\"), found {text:?}"),
            );
            None
        }
    });
    let secret = secret.filter(|s| {
        let ok = s.len() <= 256
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            f.problem(
                "webhook_secret_env",
                "Telegram's secret token is 1 to 256 characters A-Z, a-z, 0-9, _ and -",
            );
        }
        ok
    });
    Some(Webhook {
        url: url?,
        listen: listen?,
        secret: secret?,
        hold: Duration::from_secs_f64(hold),
    })
}

/// Whether `token` has the shape of @BotFather's tokens: digits, a colon, then URL-safe
/// characters (`123456:ABC-def_0`).
fn well_formed(token: &str) -> bool {
    token.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !secret.is_empty()
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// Whether the variable named by `token_env` is set (a malformed token is then worth a word).
fn map_env_set(map: &Map<String, Value>) -> bool {
    map.get("token_env")
        .and_then(Value::as_str)
        .and_then(|var| std::env::var(var).ok())
        .is_some_and(|v| !v.is_empty())
}

/// Checks settings for `errbot-gateway check`.
pub fn check(map: &Map<String, Value>) -> Vec<Problem> {
    Settings::read("telegram", map).err().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Settings, Vec<Problem>> {
        match v {
            Value::Object(map) => Settings::read("tg", &map),
            _ => unreachable!(),
        }
    }

    fn keys(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.key.as_str()).collect()
    }

    #[test]
    fn defaults_and_a_token_from_the_environment() {
        // SAFETY of the test: a variable only this test reads.
        unsafe { std::env::set_var("ERRBOT_TG_SETTINGS_TEST", "123:abc-DEF_9") };
        let s = read(json!({"token_env": "ERRBOT_TG_SETTINGS_TEST"})).unwrap();
        assert_eq!(s.api_url.as_str(), "https://api.telegram.org/");
        assert_eq!(s.poll_timeout, Duration::from_secs(30));
        assert_eq!(s.offset_file, PathBuf::from("telegram-tg.offset.json"));
        assert!(!format!("{s:?}").contains("abc-DEF"));
    }

    #[test]
    fn a_webhook_needs_its_three_keys() {
        unsafe { std::env::set_var("ERRBOT_TG_SETTINGS_HOOK", "123:abc") };
        let s = read(json!({"token_env": "ERRBOT_TG_SETTINGS_HOOK",
            "webhook_url": "https://bot.example.org/tg", "webhook_listen": "127.0.0.1:8443",
            "webhook_secret_env": "ERRBOT_TG_SETTINGS_HOOK"}));
        assert!(s.is_err(), "':' is not allowed in a secret token");
        let problems = read(json!({"token_env": "ERRBOT_TG_SETTINGS_HOOK",
            "webhook_url": "https://bot.example.org/tg"}))
        .unwrap_err();
        assert_eq!(keys(&problems), ["webhook_listen", "webhook_secret_env"]);
    }

    #[test]
    fn problems_name_their_keys() {
        unsafe { std::env::set_var("ERRBOT_TG_SETTINGS_BAD", "not a token") };
        let problems = read(json!({"token_env": "ERRBOT_TG_SETTINGS_BAD",
            "api_url": "ftp://x", "poll_timeout": -1, "typo": 1}))
        .unwrap_err();
        assert_eq!(
            keys(&problems),
            ["token_env", "api_url", "poll_timeout", "typo"]
        );
        let problems = read(json!({})).unwrap_err();
        assert_eq!(keys(&problems), ["token_env"]);
    }
}
