//! errbot.toml: the bot's settings, with embedded defaults when there is no file.
//!
//! Every table rejects unknown keys so that a typo is reported instead of silently ignored.
//! Relative paths are resolved against the directory of the file (or the working directory when
//! running on the embedded defaults).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::dispatch::Prefixes;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Dispatch and identity settings.
    #[serde(default)]
    pub bot: BotSettings,
    /// Where data and plugins live.
    #[serde(default)]
    pub paths: PathSettings,
    /// Logging.
    #[serde(default)]
    pub log: LogSettings,
    /// Chat services, by instance name. The key is the name; `kind` defaults to it.
    #[serde(default = "default_backends")]
    pub backends: BTreeMap<String, BackendConfig>,
    /// Per-plugin settings, by plugin name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginSettings>,
    /// Timing limits.
    #[serde(default)]
    pub limits: Limits,
    /// How children are restarted and checked; each child may override it in its own
    /// `supervision` table.
    #[serde(default)]
    pub supervision: Supervision,
    /// Access control (Errbot's ACCESS_CONTROLS and friends); see [`crate::acl`].
    #[serde(default)]
    pub access: crate::acl::AccessSettings,
    /// Where persistent state is stored (`[storage]`).
    #[serde(default)]
    pub storage: crate::storage::settings::StorageSettings,
    /// The web server (webhooks, health): off unless the `[web]` table is present.
    #[serde(default)]
    pub web: Option<WebSettings>,
    /// Conversation flows (`[flows]`).
    #[serde(default)]
    pub flows: FlowSettings,
    /// Plugin repositories installed from chat or errbotctl (`[repos]`, see [`crate::repos`]).
    #[serde(default)]
    pub repos: RepoSettings,
    /// The file this came from, if any (not a TOML key).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// The prefix rules made from `[bot]`, once asked for (not a TOML key).
    #[serde(skip)]
    prefixes: Derived<Prefixes>,
}

/// A value computed from a configuration on first use. A clone starts empty, so that a
/// configuration cloned and then changed never keeps a value made from the original.
#[derive(Debug)]
struct Derived<T>(OnceLock<T>);

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Self(OnceLock::new())
    }
}

impl<T> Clone for Derived<T> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// Settings of `[bot]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BotSettings {
    /// Command prefix (BOT_PREFIX).
    pub prefix: String,
    /// Alternate prefixes such as "Err" or "@bot" (BOT_ALT_PREFIXES).
    pub alt_prefixes: Vec<String>,
    /// Separators stripped after an alternate prefix (BOT_ALT_PREFIX_SEPARATORS).
    pub alt_prefix_separators: Vec<String>,
    /// Match alternate prefixes case-insensitively (BOT_ALT_PREFIX_CASEINSENSITIVE).
    pub alt_prefix_case_insensitive: bool,
    /// In direct messages no prefix is needed (BOT_PREFIX_OPTIONAL_ON_CHAT).
    pub prefix_optional_on_chat: bool,
    /// Glob patterns of admins (BOT_ADMINS).
    pub admins: Vec<String>,
    /// Who gets the warnings meant for the admins (BOT_ADMINS_NOTIFICATIONS): people in the
    /// canonical form of a chat service (`"alice"` on IRC, `"@alice"`), tried on every backend,
    /// or `{ backend = "irc", to = "alice" }` for one backend. Unset: the admins that are not
    /// patterns ([`BotSettings::notification_targets`]).
    pub admin_notifications: Option<Vec<NotificationTarget>>,
    /// Do not answer unknown commands (SUPPRESS_CMD_NOT_FOUND).
    pub suppress_cmd_not_found: bool,
    /// Longest reply sent as one message; longer ones are split (MESSAGE_SIZE_LIMIT). A backend's
    /// own lower limit wins.
    pub message_size_limit: u32,
    /// Commands whose replies go to the sender privately, even from a room; `ALL_COMMANDS` for
    /// every command (DIVERT_TO_PRIVATE). Names as typed (`plugin activate`) or registered
    /// (`plugin_activate`), case-insensitive.
    pub divert_to_private: Vec<String>,
    /// Commands whose replies go in a thread started from the command's message, on services
    /// with threads; `ALL_COMMANDS` for every command (DIVERT_TO_THREAD).
    pub divert_to_thread: Vec<String>,
    /// Replies in rooms start by addressing the sender by nick, in the service's convention
    /// (GROUPCHAT_NICK_PREFIXED).
    pub groupchat_nick_prefixed: bool,
    /// The order in which plugins get callbacks (PLUGINS_CALLBACK_ORDER): plugin names, `"*"`
    /// standing for every plugin not listed (Errbot's `None`); unlisted plugins come last, by
    /// name.
    pub callback_order: Vec<String>,
    /// The built-in plugins loaded (CORE_PLUGINS), by Errbot's names; unset: all. Those left
    /// out are not there at all: no commands, not in `!status plugins`. Read at start.
    pub core_plugins: Option<Vec<String>>,
}

/// The names Errbot's CORE_PLUGINS takes. errbotd's built-in plugins have the first eight;
/// the others are parts of errbotd that cannot be left out (access rules, "not found", the
/// text console's commands, the version check), accepted so that Errbot's settings carry over.
pub const CORE_PLUGINS: &[&str] = &[
    "Help",
    "Health",
    "Plugins",
    "Backup",
    "Utils",
    "ChatRoom",
    "Flows",
    "Webserver",
    "ACLs",
    "CommandNotFoundFilter",
    "TextCmds",
    "VersionChecker",
];

impl BotSettings {
    /// Whether command `name` (registered form) is listed in `list` (a divert setting).
    pub fn lists(list: &[String], name: &str) -> bool {
        list.iter()
            .any(|n| n == "ALL_COMMANDS" || n.trim().replace(' ', "_").eq_ignore_ascii_case(name))
    }
}

/// One recipient of the admins' warnings (`[bot] admin_notifications`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum NotificationTarget {
    /// A person in a backend's canonical form, tried on every backend that can name it.
    Anywhere(String),
    /// A person on one backend.
    On {
        /// The backend instance (`[backends.NAME]`).
        backend: String,
        /// The person, in that backend's canonical form.
        to: String,
    },
}

impl NotificationTarget {
    /// The backend it is limited to, if any, and the person's text form.
    pub fn parts(&self) -> (Option<&str>, &str) {
        match self {
            Self::Anywhere(to) => (None, to),
            Self::On { backend, to } => (Some(backend), to),
        }
    }
}

impl BotSettings {
    /// Whether an admin entry is a pattern rather than one person.
    pub fn is_pattern(admin: &str) -> bool {
        admin.contains(['*', '?', '['])
    }

    /// Who gets the admins' warnings: `admin_notifications` when set, else every admin that
    /// is not a pattern.
    pub fn notification_targets(&self) -> Vec<NotificationTarget> {
        match &self.admin_notifications {
            Some(list) => list.clone(),
            None => self
                .admins
                .iter()
                .filter(|a| !Self::is_pattern(a))
                .map(|a| NotificationTarget::Anywhere(a.clone()))
                .collect(),
        }
    }

    /// What is wrong with the admin notifications, for the start-up warnings and
    /// `check-config`: admins written as patterns that no notification reaches, or nobody to
    /// warn at all while there are admins.
    pub fn notification_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.admin_notifications.is_none() {
            let patterns: Vec<&str> = self
                .admins
                .iter()
                .filter(|a| Self::is_pattern(a))
                .map(String::as_str)
                .collect();
            if !patterns.is_empty() {
                out.push(format!(
                    "bot.admins: {} {} a pattern, which cannot be sent a message: warnings for \
                     the admins (failed plugins and backends, warn_admins) do not reach {}; set \
                     bot.admin_notifications to the people to warn (BOT_ADMINS_NOTIFICATIONS)",
                    patterns
                        .iter()
                        .map(|p| format!("{p:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if patterns.len() == 1 { "is" } else { "are" },
                    if patterns.len() == 1 { "it" } else { "them" },
                ));
            }
        }
        if !self.admins.is_empty() && self.notification_targets().is_empty() {
            out.push("bot.admin_notifications: nobody gets the warnings for the admins".to_owned());
        }
        out
    }
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            prefix: "!".into(),
            alt_prefixes: Vec::new(),
            alt_prefix_separators: Vec::new(),
            alt_prefix_case_insensitive: false,
            prefix_optional_on_chat: false,
            admins: Vec::new(),
            admin_notifications: None,
            suppress_cmd_not_found: false,
            message_size_limit: 10_000,
            divert_to_private: Vec::new(),
            divert_to_thread: Vec::new(),
            groupchat_nick_prefixed: false,
            callback_order: Vec::new(),
            core_plugins: None,
        }
    }
}

/// Settings of `[paths]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PathSettings {
    /// Data directory (BOT_DATA_DIR).
    pub data_dir: PathBuf,
    /// Directories searched for plugins, each holding one sub-directory per plugin with a
    /// plugin.toml (BOT_EXTRA_PLUGIN_DIR). The bundled plugins are always searched first.
    pub plugin_dirs: Vec<PathBuf>,
    /// Search the bundled plugins directory as well.
    pub bundled_plugins: bool,
    /// Where Python plugins' virtualenvs are created (default: `<data_dir>/venvs`).
    pub venv_dir: Option<PathBuf>,
}

impl Default for PathSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            plugin_dirs: vec![PathBuf::from("plugins")],
            bundled_plugins: true,
            venv_dir: None,
        }
    }
}

/// Settings of `[log]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Level or tracing filter ("info", "debug", "errbotd=debug,info") (BOT_LOG_LEVEL).
    pub level: String,
    /// A file the log also goes to, besides stderr (the journal under systemd), with one audit
    /// line per command (BOT_LOG_FILE); relative to the configuration file's directory.
    pub file: Option<PathBuf>,
    /// When the file is rotated: `daily`, `hourly` or `never`. A rotated file's name carries
    /// its date (`errbot.2026-11-30.log`), and `file` is a link to the current one.
    pub rotate: Rotate,
    /// How many rotated files are kept (the oldest are deleted).
    pub keep: usize,
}

/// When `[log] file` is rotated.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Rotate {
    /// A new file every day (UTC).
    Daily,
    /// A new file every hour.
    Hourly,
    /// Never: one file that grows (for logrotate, with copytruncate).
    Never,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            file: None,
            rotate: Rotate::Daily,
            keep: 14,
        }
    }
}

/// Settings of `[web]`: errbotd's HTTP server (Errbot's Webserver plugin), for the plugins'
/// webhooks and the health endpoints.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// Address and port to listen on (Errbot's default port is 3141).
    pub listen: String,
    /// Largest request body, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Seconds a webhook may take before it is answered 504.
    pub request_timeout_secs: f64,
    /// Requests handled at once; more are answered 503 with Retry-After.
    pub max_in_flight: usize,
    /// Signatures or tokens required on some paths (`[[web.auth]]`), checked before any plugin
    /// sees the request: the first entry whose `path` matches applies.
    pub auth: Vec<WebAuth>,
    /// HTTPS: the certificate chain, PEM (with `tls_key_file`; relative paths from errbot.toml's
    /// folder). Unset: plain HTTP.
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of `tls_cert_file`, PEM.
    pub tls_key_file: Option<PathBuf>,
}

/// Settings of `[repos]`: where `!repos install` may clone from and where it looks names up.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RepoSettings {
    /// Glob patterns of the git URLs that may be installed (`https://github.com/errbotio/*`,
    /// `file:///srv/plugins/*`); unset: any. An empty list forbids every installation.
    pub allowed: Option<Vec<String>>,
    /// The plugin indexes (Errbot's BOT_PLUGIN_INDEXES): URLs (http, https) or files, in
    /// Errbot's JSON format; later ones win for the same repository.
    pub indexes: Vec<String>,
    /// Seconds the cached index is used before it is read again (Errbot: one hour).
    pub index_max_age_secs: f64,
    /// Seconds a git clone or pull may take before it is killed.
    pub git_timeout_secs: f64,
}

impl Default for RepoSettings {
    fn default() -> Self {
        Self {
            allowed: None,
            indexes: vec!["https://repos.errbot.io/repos.json".to_owned()],
            index_max_age_secs: 3600.0,
            git_timeout_secs: 300.0,
        }
    }
}

/// One `[[web.auth]]`: how requests to some paths prove where they come from.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebAuth {
    /// Glob over the request path (`/github/*`).
    pub path: String,
    /// How the request is signed.
    pub scheme: AuthScheme,
    /// The environment variable holding the shared secret (never the secret itself).
    pub secret_env: String,
    /// For `token`: the header carrying it (default `x-webhook-token`).
    #[serde(default)]
    pub header: Option<String>,
}

/// How a webhook request is signed.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    /// GitHub's: `X-Hub-Signature-256: sha256=` HMAC-SHA256 of the body, in hex.
    Github,
    /// Slack's: `X-Slack-Signature: v0=` HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`,
    /// the timestamp within 5 minutes.
    Slack,
    /// A header equal to the secret.
    Token,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3141".into(),
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30.0,
            max_in_flight: 256,
            auth: Vec::new(),
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

/// Settings of `[flows]`: how errbotd runs the plugins' conversation flows.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSettings {
    /// Seconds a flow may wait for its next step before it is stopped (the place it ran in is
    /// told); 0 keeps flows until they end or are stopped.
    pub idle_timeout_secs: f64,
    /// Seconds a plugin has to answer whether a step may run by itself (a flow's predicate);
    /// no answer counts as no.
    pub predicate_timeout_secs: f64,
    /// After a step, say which commands may follow (Errbot's hints). Steps declared without
    /// hints never give one.
    pub hints: bool,
}

impl Default for FlowSettings {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 3600.0,
            predicate_timeout_secs: 2.0,
            hints: true,
        }
    }
}

impl FlowSettings {
    /// How long a flow may stay idle; `None`: for ever.
    pub fn idle_timeout(&self) -> Option<std::time::Duration> {
        (self.idle_timeout_secs > 0.0).then(|| secs(self.idle_timeout_secs))
    }

    /// How long a predicate may take.
    pub fn predicate_timeout(&self) -> std::time::Duration {
        secs(self.predicate_timeout_secs)
    }
}

/// Seconds from a checked configuration value (finite, not negative).
fn secs(value: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(value).unwrap_or(std::time::Duration::MAX)
}

/// Settings of `[limits]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Seconds a child has to answer its health check after it starts.
    pub start_timeout_secs: f64,
    /// Seconds a command may run before it is answered with a timeout error.
    pub command_timeout_secs: f64,
    /// Seconds a plugin's command filter may take before the command is blocked with an error.
    pub command_filter_timeout_secs: f64,
    /// Seconds a plugin's callback may take before it is abandoned (logged).
    pub callback_timeout_secs: f64,
    /// Largest file a plugin may send, in bytes.
    pub max_file_bytes: u64,
    /// Seconds a plugin's build (plugin.toml's `build`) may take before it is killed and the
    /// plugin marked failed.
    pub build_timeout_secs: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            start_timeout_secs: 30.0,
            command_timeout_secs: 120.0,
            command_filter_timeout_secs: 5.0,
            callback_timeout_secs: 10.0,
            max_file_bytes: 100 * 1024 * 1024,
            build_timeout_secs: 1800.0,
        }
    }
}

/// Settings of `[supervision]` and of the per-child `[plugins.NAME.supervision]` and
/// `[backends.NAME.supervision]` tables. Unset keys fall back to the global table, then to the
/// defaults of [`Supervision::DEFAULTS`].
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Supervision {
    /// First delay before restarting a child that ended (default 0.1 s); it doubles on each
    /// consecutive restart, with jitter.
    pub restart_delay_secs: Option<f64>,
    /// Longest delay between restarts (default 30 s).
    pub restart_delay_max_secs: Option<f64>,
    /// At most this many restarts within `restart_window_secs` (default 5 in 60 s); one more and
    /// the child is marked failed and the admins are warned.
    pub max_restarts: Option<u32>,
    /// The window of the restart intensity limit (default 60 s).
    pub restart_window_secs: Option<f64>,
    /// Seconds between health checks of a running child (default 2).
    pub health_interval_secs: Option<f64>,
    /// How long a health check may take (default 2 s).
    pub health_timeout_secs: Option<f64>,
    /// Failed health checks in a row after which the child is killed and restarted (default 3).
    pub health_failures: Option<u32>,
    /// How long a retired plugin process (reload, deactivation) may finish its in-flight commands
    /// (default 30 s).
    pub drain_secs: Option<f64>,
    /// How long a child has to exit after SIGTERM before SIGKILL (default 3 s).
    pub stop_grace_secs: Option<f64>,
}

impl Supervision {
    /// The built-in defaults.
    pub const DEFAULTS: Supervision = Supervision {
        restart_delay_secs: Some(0.1),
        restart_delay_max_secs: Some(30.0),
        max_restarts: Some(5),
        restart_window_secs: Some(60.0),
        health_interval_secs: Some(2.0),
        health_timeout_secs: Some(2.0),
        health_failures: Some(3),
        drain_secs: Some(30.0),
        stop_grace_secs: Some(3.0),
    };

    /// `self`, with unset keys taken from `fallback`.
    pub fn or(&self, fallback: &Supervision) -> Supervision {
        Supervision {
            restart_delay_secs: self.restart_delay_secs.or(fallback.restart_delay_secs),
            restart_delay_max_secs: self
                .restart_delay_max_secs
                .or(fallback.restart_delay_max_secs),
            max_restarts: self.max_restarts.or(fallback.max_restarts),
            restart_window_secs: self.restart_window_secs.or(fallback.restart_window_secs),
            health_interval_secs: self.health_interval_secs.or(fallback.health_interval_secs),
            health_timeout_secs: self.health_timeout_secs.or(fallback.health_timeout_secs),
            health_failures: self.health_failures.or(fallback.health_failures),
            drain_secs: self.drain_secs.or(fallback.drain_secs),
            stop_grace_secs: self.stop_grace_secs.or(fallback.stop_grace_secs),
        }
    }

    /// Names and values of the keys that are set but out of range.
    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let secs = [
            ("restart_delay_secs", self.restart_delay_secs),
            ("restart_delay_max_secs", self.restart_delay_max_secs),
            ("restart_window_secs", self.restart_window_secs),
            ("health_interval_secs", self.health_interval_secs),
            ("health_timeout_secs", self.health_timeout_secs),
            ("drain_secs", self.drain_secs),
            ("stop_grace_secs", self.stop_grace_secs),
        ];
        for (key, value) in secs {
            if let Some(v) = value
                && !(v.is_finite() && v > 0.0 && v <= 86_400.0)
            {
                out.push((
                    key,
                    format!("expected seconds between 0 and 86400, found {v}"),
                ));
            }
        }
        for (key, value) in [
            ("max_restarts", self.max_restarts),
            ("health_failures", self.health_failures),
        ] {
            if value == Some(0) {
                out.push((key, "expected at least 1, found 0".to_owned()));
            }
        }
        out
    }
}

/// One `[backends.NAME]` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct BackendConfig {
    /// Adapter kind ("console", "test", "irc"...); defaults to the table's name.
    pub kind: Option<String>,
    /// How this gateway is supervised (overrides `[supervision]`).
    #[serde(default)]
    pub supervision: Supervision,
    /// Every other key: the adapter's own settings, passed to the gateway as JSON.
    #[serde(flatten)]
    pub settings: toml::Table,
}

/// One `[plugins.NAME]` table.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Do not start this plugin.
    pub disabled: bool,
    /// Seconds a command of this plugin may run (overrides `limits.command_timeout_secs`).
    pub command_timeout_secs: Option<f64>,
    /// Seconds this plugin's build may take (overrides `limits.build_timeout_secs`).
    pub build_timeout_secs: Option<f64>,
    /// How this plugin is supervised (overrides `[supervision]`).
    pub supervision: Supervision,
    /// The plugin's configuration (a TOML value, given to the plugin as JSON). When set, it is
    /// the configuration in force and `!plugin config NAME {...}` is refused (see
    /// `plugin_config`).
    pub config: Option<toml::Value>,
    /// Name of an environment variable holding the plugin's configuration as JSON (for secrets).
    pub config_env: Option<String>,
}

fn default_backends() -> BTreeMap<String, BackendConfig> {
    BTreeMap::from([(
        "console".to_owned(),
        BackendConfig {
            kind: Some("console".into()),
            supervision: Supervision::default(),
            settings: toml::Table::new(),
        },
    )])
}

/// `path` made absolute against the working directory (without resolving symbolic links, so
/// that what the operator wrote stays recognisable in messages), `.` components dropped.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// A configuration file could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong, naming the key and what was expected.
        message: String,
    },
}

impl Config {
    /// The embedded defaults: text console, data in ./data, bundled plugins plus ./plugins, and
    /// the console user `@admin` as the only admin.
    pub fn embedded_default() -> Self {
        let mut config: Config = match toml::from_str("") {
            Ok(c) => c,
            Err(e) => unreachable!("the empty configuration is valid: {e}"),
        };
        config.bot.admins = vec!["@admin".into()];
        config
    }

    /// The configuration errbotd and errbotctl use: `path` when given, else `./errbot.toml`
    /// when it exists, else the embedded defaults.
    pub fn locate(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            Some(p) => Self::load(p),
            None if Path::new("errbot.toml").is_file() => Self::load(Path::new("errbot.toml")),
            None => Ok(Self::embedded_default()),
        }
    }

    /// The configuration at `path` (or `./errbot.toml`, or the embedded defaults, as
    /// [`Config::locate`]) reduced to what locates errbotd's files, read leniently: only
    /// `paths.data_dir` counts, and whatever else is wrong in the file (even its TOML syntax)
    /// is ignored, so that errbotctl finds a running errbotd whose file was since edited into
    /// an invalid one (and `reload-config` gets errbotd's own refusal, with every error).
    pub fn locate_leniently(path: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match path {
            Some(p) => p,
            None if Path::new("errbot.toml").is_file() => Path::new("errbot.toml"),
            None => return Ok(Self::embedded_default()),
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::embedded_default();
        config.source = Some(path.to_owned());
        let (root, _errors) = toml::de::DeTable::parse_recoverable(&text);
        let data_dir = root
            .get_ref()
            .get("paths")
            .and_then(|paths| match paths.get_ref() {
                toml::de::DeValue::Table(t) => t.get("data_dir"),
                _ => None,
            })
            .and_then(|dir| match dir.get_ref() {
                toml::de::DeValue::String(s) => Some(PathBuf::from(s.as_ref())),
                _ => None,
            });
        if let Some(dir) = data_dir {
            config.paths.data_dir = dir;
        }
        Ok(config)
    }

    /// The prefix rules of `[bot]` (made on first use: a configuration in force is never
    /// changed, a reload replaces it whole).
    pub fn prefixes(&self) -> &Prefixes {
        self.prefixes.0.get_or_init(|| Prefixes::new(&self.bot))
    }

    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses `text`, reporting errors against `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            let message = e.message().trim();
            let message = match key_at(text, line) {
                Some(key) if !message.contains(&format!("`{key}`")) => {
                    format!("key `{key}`: {message}")
                }
                _ => message.to_owned(),
            };
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        })?;
        config.source = Some(path.to_owned());
        config.validate(text, path)?;
        Ok(config)
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| {
            let (line, column) = find_key(text, key);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        // A prefix may end with a space (Errbot's `"! "`: "! status"); it cannot start with
        // one, since messages are read from their first visible character.
        if self.bot.prefix.trim().is_empty() || self.bot.prefix.starts_with(char::is_whitespace) {
            return Err(invalid(
                "prefix",
                format!(
                    "key `bot.prefix`: expected a prefix that starts with a visible character, \
                     found {:?}",
                    self.bot.prefix
                ),
            ));
        }
        let tables = std::iter::once(("supervision".to_owned(), &self.supervision))
            .chain(
                self.plugins
                    .iter()
                    .map(|(n, p)| (format!("plugins.{n}.supervision"), &p.supervision)),
            )
            .chain(
                self.backends
                    .iter()
                    .map(|(n, b)| (format!("backends.{n}.supervision"), &b.supervision)),
            );
        for (table, settings) in tables {
            if let Some((key, problem)) = settings.problems().into_iter().next() {
                return Err(invalid(key, format!("key `{table}.{key}`: {problem}")));
            }
        }
        for (name, plugin) in &self.plugins {
            for (key, value) in [
                ("command_timeout_secs", plugin.command_timeout_secs),
                ("build_timeout_secs", plugin.build_timeout_secs),
            ] {
                if let Some(v) = value
                    && !(v.is_finite() && v > 0.0)
                {
                    return Err(invalid(
                        key,
                        format!(
                            "key `plugins.{name}.{key}`: expected a positive number of seconds, \
                             found {v}"
                        ),
                    ));
                }
            }
        }
        for (key, v, zero) in [
            ("idle_timeout_secs", self.flows.idle_timeout_secs, true),
            (
                "predicate_timeout_secs",
                self.flows.predicate_timeout_secs,
                false,
            ),
        ] {
            if !(v.is_finite() && (v > 0.0 || (zero && v == 0.0))) {
                let what = if zero {
                    "0 or more"
                } else {
                    "a positive number of"
                };
                return Err(invalid(
                    key,
                    format!("key `flows.{key}`: expected {what} seconds, found {v}"),
                ));
            }
        }
        let v = self.limits.build_timeout_secs;
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(
                "build_timeout_secs",
                format!(
                    "key `limits.build_timeout_secs`: expected a positive number of seconds, found {v}"
                ),
            ));
        }
        if let Some(p) = self.access.problems().into_iter().next() {
            let start = p.table_start.unwrap_or_else(|| {
                // The defaults are a plain table: find its header.
                text.find("[access.default]").unwrap_or(0)
            });
            let (line, column) = find_key_within(text, start, p.leaf);
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: format!("key `{}`: {}", p.key, p.message),
            });
        }
        // A `backends` glob that names no configured backend is most likely a typo: the rule
        // would silently never apply.
        for (i, rule) in self.access.rules.iter().enumerate() {
            let Some(globs) = &rule.get_ref().backends else {
                continue;
            };
            if let Some(g) = globs
                .0
                .iter()
                .find(|g| !self.backends.keys().any(|b| crate::glob::matches(g, b)))
            {
                let (line, column) = find_key_within(text, rule.span().start, "backends");
                let known: Vec<&str> = self.backends.keys().map(String::as_str).collect();
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    line,
                    column,
                    message: format!(
                        "key `access.rules[{i}].backends`: {g:?} matches no backend of \
                         [backends] (configured: {})",
                        known.join(", ")
                    ),
                });
            }
        }
        if let Some(unknown) = self
            .bot
            .core_plugins
            .iter()
            .flatten()
            .find(|n| !CORE_PLUGINS.contains(&n.as_str()))
        {
            return Err(invalid(
                "core_plugins",
                format!(
                    "key `bot.core_plugins`: {unknown:?} is not one of Errbot's core plugins \
                     ({})",
                    CORE_PLUGINS.join(", ")
                ),
            ));
        }
        if self.backends.is_empty() {
            return Err(invalid(
                "backends",
                "key `backends`: expected at least one backend table".into(),
            ));
        }
        if let Some(web) = &self.web {
            match (&web.tls_cert_file, &web.tls_key_file) {
                (Some(_), None) => {
                    return Err(invalid(
                        "tls_cert_file",
                        "key `web.tls_cert_file`: goes with `web.tls_key_file`, which is missing"
                            .into(),
                    ));
                }
                (None, Some(_)) => {
                    return Err(invalid(
                        "tls_key_file",
                        "key `web.tls_key_file`: goes with `web.tls_cert_file`, which is missing"
                            .into(),
                    ));
                }
                _ => {}
            }
        }
        for (key, v) in [
            ("index_max_age_secs", self.repos.index_max_age_secs),
            ("git_timeout_secs", self.repos.git_timeout_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(
                    key,
                    format!("key `repos.{key}`: expected a positive number of seconds, found {v}"),
                ));
            }
        }
        if let Some(p) = self
            .repos
            .allowed
            .iter()
            .flatten()
            .find(|p| p.trim().is_empty())
        {
            return Err(invalid(
                "allowed",
                format!("key `repos.allowed`: expected URL patterns, found {p:?}"),
            ));
        }
        crate::storage::settings::validate(self, text, path)?;
        crate::plugin_config::validate_settings(self, text, path)?;
        Ok(())
    }

    /// The file to tell people to edit: its path, or `errbot.toml` on the embedded defaults.
    pub fn file_to_edit(&self) -> String {
        self.source
            .as_ref()
            .map_or("errbot.toml".to_owned(), |p| p.display().to_string())
    }

    /// Where this configuration came from: its file, or "embedded defaults".
    pub fn describe_source(&self) -> String {
        self.source
            .as_ref()
            .map_or("embedded defaults".to_owned(), |p| p.display().to_string())
    }

    /// The directory relative paths are resolved against: the file's directory (made absolute
    /// against the working directory when the file was named by a relative path, as in
    /// `errbotd -c mybot/errbot.toml`), or the working directory for the embedded defaults.
    pub fn base_dir(&self) -> PathBuf {
        let dir = match self.source.as_deref().and_then(Path::parent) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        absolute(&dir)
    }

    /// `path` resolved against [`Config::base_dir`]: always absolute, because children run in
    /// other working directories (a plugin in its own directory, a gateway in the data
    /// directory).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir().join(path)
        }
    }

    /// The data directory, resolved.
    pub fn data_dir(&self) -> PathBuf {
        self.resolve(&self.paths.data_dir)
    }

    /// Where Python plugins' virtualenvs live: `$ERRBOT_VENV_DIR`, else `paths.venv_dir`, else
    /// `<data_dir>/venvs`. The variable lets several bots (or test runs) share one cache.
    pub fn venv_dir(&self) -> PathBuf {
        match (std::env::var_os("ERRBOT_VENV_DIR"), &self.paths.venv_dir) {
            (Some(dir), _) if !dir.is_empty() => absolute(Path::new(&dir)),
            (_, Some(dir)) => self.resolve(dir),
            _ => self.data_dir().join("venvs"),
        }
    }

    /// The supervision settings of a plugin: its own table over `[supervision]` over the defaults.
    pub fn plugin_supervision(&self, name: &str) -> Supervision {
        let own = self.plugins.get(name).map(|p| p.supervision.clone());
        own.unwrap_or_default()
            .or(&self.supervision)
            .or(&Supervision::DEFAULTS)
    }

    /// The supervision settings of a backend's gateway.
    pub fn backend_supervision(&self, name: &str) -> Supervision {
        let own = self.backends.get(name).map(|b| b.supervision.clone());
        own.unwrap_or_default()
            .or(&self.supervision)
            .or(&Supervision::DEFAULTS)
    }

    /// The command deadline of a plugin's commands.
    pub fn command_timeout(&self, plugin: Option<&str>) -> std::time::Duration {
        let own = plugin
            .and_then(|n| self.plugins.get(n))
            .and_then(|p| p.command_timeout_secs);
        let secs = own.unwrap_or(self.limits.command_timeout_secs);
        std::time::Duration::from_secs_f64(secs.clamp(0.001, 31_536_000.0))
    }

    /// How long a plugin's build may take.
    pub fn build_timeout(&self, plugin: &str) -> std::time::Duration {
        let own = self.plugins.get(plugin).and_then(|p| p.build_timeout_secs);
        let secs = own.unwrap_or(self.limits.build_timeout_secs);
        std::time::Duration::from_secs_f64(secs.clamp(0.001, 31_536_000.0))
    }

    /// The backend instances with their resolved kinds, in name order.
    pub fn backend_instances(&self) -> impl Iterator<Item = (&str, &str, &BackendConfig)> {
        self.backends
            .iter()
            .map(|(name, b)| (name.as_str(), b.kind.as_deref().unwrap_or(name), b))
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// Position of the first line assigning `key`, or the start of the file.
fn find_key(text: &str, key: &str) -> (usize, usize) {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or((1, 1), |i| (i + 1, 1))
}

/// Position of the first line assigning `key` in the table that starts at byte `start` (up to
/// the next table header), or of `start` when there is none.
fn find_key_within(text: &str, start: usize, key: &str) -> (usize, usize) {
    let start = start.min(text.len());
    let Some(region) = text.get(start..) else {
        return line_column(text, start);
    };
    let mut offset = start;
    for (n, l) in region.split_inclusive('\n').enumerate() {
        let t = l.trim_start();
        // A table's span may cover its header only: stop at the next header instead.
        if n > 0 && t.starts_with('[') {
            break;
        }
        if t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return line_column(text, offset);
        }
        offset += l.len();
    }
    line_column(text, start)
}

/// The dotted path of the key assigned on 1-based `line` (`bot.admins`,
/// `access.rules[1].allowusers`), from the nearest table header above it.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let own = lines.get(line.checked_sub(1)?)?.trim();
    if own.starts_with('[') || own.starts_with('#') {
        return None;
    }
    let (key, _) = own.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() {
        return None;
    }
    for (i, l) in lines[..line - 1].iter().enumerate().rev() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim();
            let index = lines[..i]
                .iter()
                .filter(|o| {
                    o.trim()
                        .strip_prefix("[[")
                        .and_then(|r| r.split("]]").next())
                        .map(str::trim)
                        == Some(name)
                })
                .count();
            return Some(format!("{name}[{index}].{key}"));
        }
        if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            return Some(format!("{}.{key}", name.trim()));
        }
    }
    Some(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_console_defaults() {
        let c = Config::parse("", Path::new("errbot.toml")).expect("valid");
        assert_eq!(c.bot.prefix, "!");
        assert_eq!(
            c.backend_instances()
                .map(|(n, k, _)| (n, k))
                .collect::<Vec<_>>(),
            [("console", "console")]
        );
        assert_eq!(c.bot.message_size_limit, 10_000);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[bot]\nprefix = \"!\"\nprefx = \"?\"\n";
        let err = Config::parse(text, Path::new("/etc/errbot.toml")).expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/errbot.toml:3:"), "{msg}");
        assert!(msg.contains("prefx"), "{msg}");
    }

    #[test]
    fn wrong_type_is_reported_with_line() {
        let text = "[bot]\n\nadmins = \"@me\"\n";
        let err = Config::parse(text, Path::new("e.toml")).expect_err("bad type");
        assert!(err.to_string().starts_with("e.toml:3:"), "{err}");
    }

    #[test]
    fn backend_settings_are_kept() {
        let text = "[backends.work]\nkind = \"test\"\ndriver_socket = \"/tmp/x\"\n";
        let c = Config::parse(text, Path::new("e.toml")).expect("valid");
        let (name, kind, b) = c.backend_instances().next().expect("one");
        assert_eq!((name, kind), ("work", "test"));
        assert_eq!(
            b.settings.get("driver_socket").and_then(|v| v.as_str()),
            Some("/tmp/x")
        );
    }

    #[test]
    fn supervision_overrides_fall_back_to_global_then_defaults() {
        let text = "[supervision]\nmax_restarts = 9\n\n[plugins.hello.supervision]\n\
                    health_interval_secs = 0.5\n\n[backends.test]\nkind = \"test\"\n\
                    supervision = { max_restarts = 2 }\n";
        let c = Config::parse(text, Path::new("e.toml")).expect("valid");
        let hello = c.plugin_supervision("hello");
        assert_eq!(hello.health_interval_secs, Some(0.5));
        assert_eq!(hello.max_restarts, Some(9));
        assert_eq!(hello.restart_delay_secs, Some(0.1));
        assert_eq!(c.backend_supervision("test").max_restarts, Some(2));
        let (_, _, b) = c.backend_instances().next().expect("one backend");
        assert!(!b.settings.contains_key("supervision"));
    }

    #[test]
    fn core_plugins_take_errbots_names() {
        let text = "[bot]\ncore_plugins = [\"Help\", \"Utils\", \"CommandNotFoundFilter\"]\n";
        let c = Config::parse(text, Path::new("e.toml")).expect("Errbot's names");
        assert_eq!(c.bot.core_plugins.map(|n| n.len()), Some(3));
        let text = "[bot]\ncore_plugins = [\"Help\", \"Halp\"]\n";
        let err = Config::parse(text, Path::new("e.toml")).expect_err("a typo");
        assert!(
            err.to_string()
                .starts_with("e.toml:2:1: key `bot.core_plugins`: \"Halp\""),
            "{err}"
        );
    }

    #[test]
    fn web_tls_needs_the_certificate_and_its_key() {
        let text = "[web]\nlisten = \"127.0.0.1:0\"\ntls_cert_file = \"cert.pem\"\n";
        let err = Config::parse(text, Path::new("e.toml")).expect_err("a certificate alone");
        let msg = err.to_string();
        assert!(
            msg.starts_with("e.toml:3:1: key `web.tls_cert_file`"),
            "{msg}"
        );
        let text = "[web]\ntls_key_file = \"key.pem\"\n";
        let err = Config::parse(text, Path::new("e.toml")).expect_err("a key alone");
        assert!(err.to_string().contains("`web.tls_key_file`"), "{err}");
        let text = "[web]\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\n";
        let c = Config::parse(text, Path::new("/etc/errbot/e.toml")).expect("both");
        let web = c.web.clone().unwrap_or_default();
        assert_eq!(
            web.tls_cert_file.map(|p| c.resolve(&p)),
            Some(PathBuf::from("/etc/errbot/c.pem"))
        );
    }

    #[test]
    fn bad_supervision_value_names_its_key() {
        let text = "[plugins.hello.supervision]\nhealth_failures = 0\n";
        let err = Config::parse(text, Path::new("e.toml")).expect_err("bad");
        let msg = err.to_string();
        assert!(
            msg.starts_with("e.toml:2:1: key `plugins.hello.supervision.health_failures`"),
            "{msg}"
        );
        let err = Config::parse("[supervision]\nwat = 1\n", Path::new("e.toml")).expect_err("bad");
        assert!(err.to_string().starts_with("e.toml:2:"), "{err}");
    }

    /// Issue 12: `errbotd -c mybot/errbot.toml` from the parent directory gave children relative
    /// paths (the data directory, the virtualenvs), wrong in their own working directories.
    #[test]
    fn relative_paths_resolve_to_absolute_ones() {
        let c = Config::parse(
            "[paths]\ndata_dir = \"data\"\nvenv_dir = \"./venvs\"\n",
            Path::new("mybot/errbot.toml"),
        )
        .expect("valid");
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(c.base_dir(), cwd.join("mybot"));
        assert_eq!(c.data_dir(), cwd.join("mybot/data"));
        assert!(c.data_dir().is_absolute());
        if std::env::var_os("ERRBOT_VENV_DIR").is_none() {
            assert_eq!(c.venv_dir(), cwd.join("mybot/venvs"));
        }
        let c = Config::parse("", Path::new("errbot.toml")).expect("valid");
        assert_eq!(c.data_dir(), cwd.join("data"));
        assert_eq!(Config::embedded_default().data_dir(), cwd.join("data"));
    }

    #[test]
    fn flow_settings() {
        let c = Config::parse("", Path::new("e.toml")).expect("valid");
        assert_eq!(
            c.flows.idle_timeout(),
            Some(std::time::Duration::from_secs(3600))
        );
        assert!(c.flows.hints);
        let c = Config::parse(
            "[flows]
idle_timeout_secs = 0
predicate_timeout_secs = 0.25
hints = false
",
            Path::new("e.toml"),
        )
        .expect("valid");
        assert_eq!(c.flows.idle_timeout(), None);
        assert_eq!(c.flows.predicate_timeout().as_millis(), 250);
        let e = Config::parse(
            "[flows]

predicate_timeout_secs = 0
",
            Path::new("e.toml"),
        )
        .expect_err("zero");
        assert!(
            e.to_string()
                .starts_with("e.toml:3:1: key `flows.predicate_timeout_secs`: expected a positive"),
            "{e}"
        );
        let e = Config::parse(
            "[flows]
idle = 3
",
            Path::new("e.toml"),
        )
        .expect_err("unknown");
        assert!(e.to_string().contains("idle"), "{e}");
    }

    #[test]
    fn build_timeouts() {
        let c = Config::parse(
            "[limits]\nbuild_timeout_secs = 60\n[plugins.a]\nbuild_timeout_secs = 5\n",
            Path::new("e.toml"),
        )
        .expect("valid");
        assert_eq!(c.build_timeout("a").as_secs(), 5);
        assert_eq!(c.build_timeout("b").as_secs(), 60);
        let c = Config::parse("", Path::new("e.toml")).expect("valid");
        assert_eq!(c.build_timeout("a").as_secs(), 1800);
        let e = Config::parse(
            "[plugins.a]\n\nbuild_timeout_secs = -1\n",
            Path::new("e.toml"),
        )
        .expect_err("negative");
        assert!(
            e.to_string()
                .starts_with("e.toml:3:1: key `plugins.a.build_timeout_secs`: expected a positive"),
            "{e}"
        );
        let e = Config::parse("[limits]\nbuild_timeout_secs = 0\n", Path::new("e.toml"))
            .expect_err("zero");
        assert!(
            e.to_string()
                .starts_with("e.toml:2:1: key `limits.build_timeout_secs`"),
            "{e}"
        );
    }

    #[test]
    fn repos_settings() {
        let c = Config::parse("", Path::new("e.toml")).expect("valid");
        assert_eq!(c.repos.allowed, None);
        assert_eq!(c.repos.indexes, ["https://repos.errbot.io/repos.json"]);
        let c = Config::parse(
            "[repos]\nallowed = [\"file:///srv/*\"]\nindexes = [\"index.json\"]\n",
            Path::new("e.toml"),
        )
        .expect("valid");
        assert_eq!(
            c.repos.allowed.as_deref(),
            Some(&["file:///srv/*".to_owned()][..])
        );
        for (text, start) in [
            (
                "[repos]\n\ngit_timeout_secs = 0\n",
                "e.toml:3:1: key `repos.git_timeout_secs`: expected a positive",
            ),
            (
                "[repos]\nallowed = [\" \"]\n",
                "e.toml:2:1: key `repos.allowed`: expected URL patterns",
            ),
            ("[repos]\nallow = []\n", "e.toml:2:1: key `repos.allow`"),
        ] {
            let e = Config::parse(text, Path::new("e.toml")).expect_err(text);
            assert!(e.to_string().starts_with(start), "{e}");
        }
    }

    #[test]
    fn deploy_example_is_valid() {
        let text = include_str!("../../deploy/errbot.toml");
        let c = Config::parse(text, Path::new("deploy/errbot.toml")).expect("valid");
        assert_eq!(c.data_dir(), PathBuf::from("/var/lib/errbot"));
        assert_eq!(c.plugin_supervision("any").max_restarts, Some(5));
    }

    #[test]
    fn access_rules_are_read_in_order() {
        let text = "[access]\nhide_restricted_access = true\n\n[access.default]\nallowmuc = false\n\n\
                    [[access.rules]]\ncommand = \"hello:*\"\nallowusers = \"@ana\"\n\n\
                    [[access.rules]]\ncommand = \"status\"\nbackends = [\"con*\"]\n";
        let c = Config::parse(text, Path::new("e.toml")).expect("valid");
        assert!(c.access.hide_restricted_access);
        assert_eq!(c.access.default.allowmuc, Some(false));
        let keys: Vec<_> = c
            .access
            .rules
            .iter()
            .map(|r| r.get_ref().command.clone().unwrap_or_default())
            .collect();
        assert_eq!(keys, ["hello:*", "status"]);
    }

    #[test]
    fn access_errors_name_file_line_and_key() {
        let cases = [
            (
                "[[access.rules]]\ncommand = \"a\"\n\n[[access.rules]]\ncommand = \"x\"\nallowusers = 3\n",
                "e.toml:6:14: key `access.rules[1].allowusers`: invalid type: integer `3`, expected a glob pattern or an array of glob patterns",
            ),
            (
                "[[access.rules]]\ncommand = \"a\"\nallowuser = [\"@x\"]\n",
                "e.toml:3:1: key `access.rules[0].allowuser`: unknown field `allowuser`",
            ),
            (
                "[[access.rules]]\ncommand = \"a\"\n\n[[access.rules]]\nallowmuc = true\n",
                "e.toml:4:1: key `access.rules[1].command`: missing",
            ),
            (
                "[[access.rules]]\ncommand = \"a\"\n[[access.rules]]\ndenyusers = []\ncommand = \"a:b:c\"\n",
                "e.toml:5:1: key `access.rules[1].command`: expected `Plugin:command`",
            ),
            (
                "[access.default]\nallowmuc = \"no\"\n",
                "e.toml:2:12: key `access.default.allowmuc`: invalid type: string \"no\", expected a boolean",
            ),
            (
                "[access.default]\nbackends = [\"irc\"]\n",
                "e.toml:2:1: key `access.default.backends`: not allowed in the defaults",
            ),
            (
                "[[access.rules]]\ncommand = \"a\"\nbackends = [\"console\", \"irc\"]\n",
                "e.toml:3:1: key `access.rules[0].backends`: \"irc\" matches no backend of [backends] (configured: console)",
            ),
            (
                "[bot]\ndivert_to_private = \"help\"\n",
                "e.toml:2:21: key `bot.divert_to_private`: invalid type",
            ),
        ];
        for (text, want) in cases {
            let err = Config::parse(text, Path::new("e.toml")).expect_err(text);
            assert!(err.to_string().starts_with(want), "{err}\nwanted: {want}");
        }
    }

    #[test]
    fn readme_access_example_is_valid() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split_once("## Access control")
            .map(|(_, s)| s)
            .expect("README has an access control section");
        let example = section
            .split_once("```toml\n")
            .and_then(|(_, s)| s.split_once("```"))
            .map(|(toml, _)| toml)
            .expect("a TOML example");
        let text = format!("[backends.irc]\nkind = \"irc\"\n\n{example}");
        let c = Config::parse(&text, Path::new("README.md")).expect("valid");
        assert_eq!(c.access.rules.len(), 3);
        assert!(c.access.hide_restricted_commands);
    }

    #[test]
    fn admin_notifications_default_to_concrete_admins_and_warn_about_patterns() {
        let mut bot = BotSettings {
            admins: vec!["@alice".into(), "boss!*@*".into()],
            ..Default::default()
        };
        assert_eq!(
            bot.notification_targets(),
            [NotificationTarget::Anywhere("@alice".into())]
        );
        let warnings = bot.notification_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("\"boss!*@*\" is a pattern"),
            "{warnings:?}"
        );
        // Only patterns: nobody would be warned.
        bot.admins = vec!["boss!*@*".into()];
        assert_eq!(bot.notification_warnings().len(), 2);
        // Named targets, on any backend or on one.
        let config = Config::parse(
            "[bot]\nadmins = [\"boss!*@*\"]\nadmin_notifications = [\"boss\", \
             { backend = \"irc\", to = \"ops\" }]\n",
            Path::new("errbot.toml"),
        )
        .expect("valid");
        assert!(config.bot.notification_warnings().is_empty());
        assert_eq!(
            config.bot.notification_targets()[1].parts(),
            (Some("irc"), "ops")
        );
    }

    #[test]
    fn divert_lists_match_either_form() {
        let list = vec!["plugin activate".to_owned(), "Help".to_owned()];
        assert!(BotSettings::lists(&list, "plugin_activate"));
        assert!(BotSettings::lists(&list, "help"));
        assert!(!BotSettings::lists(&list, "echo"));
        assert!(BotSettings::lists(&["ALL_COMMANDS".to_owned()], "echo"));
    }

    #[test]
    fn empty_prefix_is_refused() {
        for bad in ["", " ", " !"] {
            let text = format!("[bot]\nprefix = {bad:?}\n");
            let err = Config::parse(&text, Path::new("e.toml")).expect_err("bad");
            assert!(
                err.to_string().contains("e.toml:2:1: key `bot.prefix`"),
                "{err}"
            );
        }
        // Errbot's "! " is a prefix.
        let c = Config::parse("[bot]\nprefix = \"! \"\n", Path::new("e.toml")).expect("\"! \"");
        assert_eq!(c.bot.prefix, "! ");
    }

    #[test]
    fn the_data_dir_is_found_in_an_invalid_file() {
        let dir = tempfile_dir();
        let path = dir.join("errbot.toml");
        std::fs::write(&path, "[paths]\ndata_dir = \"d\"\n[bot]\nprefx = 1\n").expect("write");
        assert!(Config::load(&path).is_err());
        let lenient = Config::locate_leniently(Some(&path)).expect("lenient");
        assert_eq!(lenient.data_dir(), dir.join("d"));
        // Broken TOML after the key: still found.
        std::fs::write(&path, "[paths]\ndata_dir = \"e\"\n[bot]\n[bot]\nx = [\n").expect("write");
        assert_eq!(
            Config::locate_leniently(Some(&path))
                .expect("lenient")
                .data_dir(),
            dir.join("e")
        );
        assert!(Config::locate_leniently(Some(&dir.join("missing.toml"))).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("errbot-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}
