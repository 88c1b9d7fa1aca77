//! `errbotd init [DIR]`: a commented errbot.toml, a data directory and an example Rust plugin
//! that errbotd builds (its `build.sh`, plugin.toml's `build`) before its first start.
//!
//! The SDK crate is not published: the plugin's Cargo.toml names it by the path of the source
//! checkout errbotd was built from when that checkout is still there (`./errbot init` in a
//! checkout), and otherwise leaves the dependency commented out with what to write; `build.sh`
//! then fails with a message that says which file to edit, and the plugin is marked failed with
//! it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

const CONFIG: &str = r#"# errbot.toml: settings of errbotd. Every key is optional; the values shown are the defaults
# unless said otherwise. `errbotd check-config` checks this file.

[bot]
# Command prefix (Errbot's BOT_PREFIX).
prefix = "!"
# Other ways to address the bot, e.g. ["Err", "@bot"] (BOT_ALT_PREFIXES), and the separators
# allowed after them (BOT_ALT_PREFIX_SEPARATORS).
alt_prefixes = []
alt_prefix_separators = [",", ":", ";"]
alt_prefix_case_insensitive = false
# In a direct message, no prefix is needed (BOT_PREFIX_OPTIONAL_ON_CHAT).
prefix_optional_on_chat = false
# Glob patterns of the people allowed to run admin commands (BOT_ADMINS). The text console's
# user is "@admin".
admins = ["@admin"]
# Do not answer unknown commands (SUPPRESS_CMD_NOT_FOUND).
suppress_cmd_not_found = false
# Longer replies are split into several messages (MESSAGE_SIZE_LIMIT).
message_size_limit = 10000
# Commands whose replies go privately to the sender, or in a thread, even when asked in a room
# (DIVERT_TO_PRIVATE, DIVERT_TO_THREAD); "ALL_COMMANDS" for every command.
divert_to_private = []
divert_to_thread = []
# Replies in rooms start by addressing the sender ("@ana ...") (GROUPCHAT_NICK_PREFIXED).
groupchat_nick_prefixed = false

# Who may run what (Errbot's ACCESS_CONTROLS). Rules are tried in order; the first whose
# `command` ("Plugin:command", globs, case-insensitive; a bare name means any plugin) and
# `backends` (optional) match is merged over [access.default]. Keys: allowusers, denyusers,
# allowrooms, denyrooms, allowargs, denyargs (globs, case-sensitive), allowprivate, allowmuc.
# Admin-only commands also need an admin, and `allowmuc = true` to run in a room.
[access]
# !help lists only what the sender may run (HIDE_RESTRICTED_COMMANDS).
hide_restricted_commands = false
# A refused command gets no reply (HIDE_RESTRICTED_ACCESS).
hide_restricted_access = false
# [access.default]
# allowmuc = true
# [[access.rules]]
# command = "example:*"
# allowusers = ["@admin", "@ana"]
# [[access.rules]]
# command = "Plugins:*"
# backends = ["console"]
# allowmuc = false

[paths]
# Data directory (BOT_DATA_DIR), relative to this file.
data_dir = "data"
# Directories holding one sub-directory per plugin (BOT_EXTRA_PLUGIN_DIR).
plugin_dirs = ["plugins"]
# Also load the plugins shipped with errbot-rs.
bundled_plugins = true

[log]
# Level or tracing filter: "error", "warn", "info", "debug", "errbotd=debug,info"...
level = "info"
# A file the log also goes to (besides stderr, the journal under systemd), with one audit line
# per command: who, where, what, and how it ended (BOT_LOG_FILE). Rotated "daily", "hourly"
# or "never"; `keep` rotated files are kept.
# file = "errbot.log"
# rotate = "daily"
# keep = 14

[limits]
# Seconds a child has to answer its health check after it starts.
start_timeout_secs = 30.0
# Seconds a command may run before it is answered with an error.
command_timeout_secs = 120.0
# Seconds a plugin's command filter may take; past that the command is blocked with an error.
command_filter_timeout_secs = 5.0
# Seconds a plugin's build (plugin.toml's `build`, run when its program is missing or older than
# its sources) may take; past that it is killed and the plugin marked failed.
build_timeout_secs = 1800.0

# Conversation flows (Errbot's flows): kept in storage, so they survive restarts.
[flows]
# Seconds a flow may wait for its next step before it is stopped (0: never).
idle_timeout_secs = 3600.0
# Seconds a plugin has to say whether a step may run by itself (no answer is no).
predicate_timeout_secs = 2.0
# After a step, say which commands may follow.
hints = true

# Where the bot keeps what it stores: plugins' data, plugin configurations, the blacklist,
# command history (Errbot's STORAGE). Default: SQLite at <data_dir>/errbot.db.
[storage]
# url = "sqlite:data/errbot.db"
# url = "postgres://errbot@db.example.com/errbot"
# Or the name of an environment variable holding the URL, to keep a password out of this file:
# url_env = "ERRBOT_STORAGE_URL"

# Plugin repositories installed from chat (`!repos install NAME|URL`) or `errbotctl repos`.
[repos]
# Glob patterns of the git URLs that may be installed; unset: any, [] forbids installing.
# allowed = ["https://github.com/errbotio/*"]
# The plugin indexes `!repos search` reads (BOT_PLUGIN_INDEXES): URLs or files.
indexes = ["https://repos.errbot.io/repos.json"]
# index_max_age_secs = 3600.0
# git_timeout_secs = 300.0

# One table per chat service; the table name is the instance name, `kind` the adapter (it
# defaults to the name). The text console reads your terminal.
[backends.console]
kind = "console"

# How children are supervised. A child that ends or stops answering its health check is
# restarted after a delay that doubles from restart_delay_secs up to restart_delay_max_secs;
# after max_restarts restarts within restart_window_secs it is marked failed and the admins are
# warned (`!plugin activate NAME` or `errbotctl plugin activate NAME` starts it again).
[supervision]
restart_delay_secs = 0.1
restart_delay_max_secs = 30.0
max_restarts = 5
restart_window_secs = 60.0
# A child is killed and restarted after health_failures checks in a row that fail or take
# longer than health_timeout_secs, checked every health_interval_secs.
health_interval_secs = 2.0
health_timeout_secs = 2.0
health_failures = 3
# On reload or deactivation, how long the old process may finish its running commands.
drain_secs = 30.0
# How long a child has to exit after SIGTERM before it is killed.
stop_grace_secs = 3.0

# Per-plugin settings:
# [plugins.example]
# disabled = true
# command_timeout_secs = 600.0
# build_timeout_secs = 3600.0
# [plugins.example.supervision]
# max_restarts = 10
# The plugin's configuration; when set here, `!plugin config example {...}` is refused.
# config = { CITY = "Paris", UNITS = "metric" }
# Or a variable holding the configuration as JSON (for secrets):
# config_env = "EXAMPLE_CONFIG"
"#;

const PLUGIN_TOML: &str = r#"[plugin]
name = "example"
description = "An example plugin: edit src/main.rs, then `!plugin reload example`."
# Run in this directory before the plugin starts, whenever the program of `command` is missing
# or older than a file here (target/ and hidden directories aside). Its output goes to errbotd's
# log; if it fails, the plugin is marked failed with its last lines.
build = ["sh", "build.sh"]
# Program that serves the plugin, relative to this directory (build.sh puts it there).
command = ["bin/errbot-plugin-example"]
"#;

const BUILD_SH: &str = r#"#!/bin/sh
# Builds the plugin; errbotd runs this (plugin.toml's `build`) in this directory before starting
# the plugin, whenever bin/errbot-plugin-example is missing or older than a file here.
set -eu

# The SDK is not on crates.io: Cargo.toml must name it by the path of an errbot-rs checkout.
sdk=$(sed -n 's/^errbot-plugin-sdk *= *{ *path *= *"\([^"]*\)".*/\1/p' Cargo.toml)
if ! grep -q '^errbot-plugin-sdk *=' Cargo.toml; then
    echo "Edit $PWD/Cargo.toml: errbot-plugin-sdk is commented out in [dependencies] (errbotd init found no errbot-rs source checkout). Uncomment it with the path of the plugin-sdk directory of an errbot-rs checkout, then: errbotctl plugin activate example" >&2
    exit 1
elif [ -n "$sdk" ] && [ ! -f "$sdk/Cargo.toml" ]; then
    echo "Edit $PWD/Cargo.toml: errbot-plugin-sdk's path $sdk holds no Cargo.toml. Give the path of the plugin-sdk directory of an errbot-rs checkout, then: errbotctl plugin activate example" >&2
    exit 1
fi

cargo build --release
# Wherever cargo's target directory is (./target, CARGO_TARGET_DIR, a cargo configuration's
# build.target-dir), the program goes to bin/, where plugin.toml's `command` expects it. A rename,
# not a copy over the file: the old program may be running.
target=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
mkdir -p bin
cp "${target:-target}/release/errbot-plugin-example" bin/.errbot-plugin-example.new
mv bin/.errbot-plugin-example.new bin/errbot-plugin-example
"#;

const PLUGIN_MAIN: &str = r#"//! An example errbot-rs plugin. errbotd builds it (build.sh) before starting it whenever a file
//! here is newer than the program: edit, then `!plugin reload example` (or restart errbotd).
//! `!example` answers, and `!help example` lists the commands.

use errbot_plugin_sdk::prelude::*;

/// An example plugin.
pub struct Example;

#[plugin(name = "example")]
impl Example {
    /// Say hello to whoever asks.
    #[command]
    async fn example(&self, ctx: &Context) -> String {
        format!("Hello {}, this is the example plugin!", ctx.sender_nick())
    }

    /// Add two whole numbers: `!add 2 3`.
    #[command]
    async fn add(&self, _ctx: &Context, a: i64, b: i64) -> Result<String, CommandError> {
        a.checked_add(b)
            .map(|sum| sum.to_string())
            .ok_or_else(|| CommandError::new("that sum is too large"))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    errbot_plugin_sdk::serve(Example).await
}
"#;

/// Writes a new bot directory at `dir` (created if missing); refuses to overwrite errbot.toml.
pub fn init(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = dir.join("errbot.toml");
    if config.exists() {
        bail!("{} already exists; not overwriting it", config.display());
    }
    std::fs::write(&config, CONFIG).with_context(|| format!("writing {}", config.display()))?;
    std::fs::create_dir_all(dir.join("data"))?;
    let plugin = dir.join("plugins").join("example");
    std::fs::create_dir_all(plugin.join("src"))?;
    std::fs::write(plugin.join("plugin.toml"), PLUGIN_TOML)?;
    std::fs::write(plugin.join("src").join("main.rs"), PLUGIN_MAIN)?;
    std::fs::write(plugin.join("build.sh"), BUILD_SH)?;
    std::fs::write(
        plugin.join("Cargo.toml"),
        cargo_toml(source_sdk().as_deref()),
    )?;
    Ok(config)
}

/// The plugin SDK of the source checkout errbotd was built from, if it is still there.
pub fn source_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
    sdk.join("Cargo.toml")
        .is_file()
        .then(|| sdk.canonicalize().unwrap_or(sdk))
}

/// The example's Cargo.toml: the SDK by `sdk`'s path, or commented out with what to write.
fn cargo_toml(sdk: Option<&Path>) -> String {
    let dependency = match sdk {
        // A TOML basic string: the path's backslashes and quotes escaped.
        Some(sdk) => format!(
            "errbot-plugin-sdk = {{ path = {} }}",
            toml::Value::String(sdk.display().to_string())
        ),
        None => "# errbotd init found no errbot-rs source checkout, and the SDK is not on crates.io:\n\
                 # uncomment the next line with the path of the plugin-sdk directory of an errbot-rs\n\
                 # checkout (or use git = \"URL of an errbot-rs repository\" instead of path).\n\
                 # errbot-plugin-sdk = { path = \"/path/to/errbot-rs/plugin-sdk\" }"
            .to_owned(),
    };
    format!(
        r#"[package]
name = "errbot-plugin-example"
version = "0.1.0"
edition = "2024"
publish = false

# A workspace of its own, so that it builds wherever the bot directory is.
[workspace]

[dependencies]
{dependency}
tokio = {{ version = "1", features = ["rt-multi-thread", "macros"] }}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_valid_config_and_refuses_to_overwrite() {
        let dir = std::env::temp_dir().join(format!("errbot-init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = init(&dir).expect("init");
        let config = crate::config::Config::load(&path).expect("the generated config is valid");
        assert_eq!(config.bot.admins, ["@admin"]);
        assert!(dir.join("plugins/example/plugin.toml").is_file());
        assert!(init(&dir).is_err());
        let (found, problems) = crate::manifest::discover(&[dir.join("plugins")]);
        assert!(problems.is_empty(), "{problems:?}");
        let example = &found[0];
        assert_eq!(
            example.manifest.build.as_deref(),
            Some(&["sh".to_owned(), "build.sh".to_owned()][..])
        );
        assert!(
            example
                .needs_build()
                .is_some_and(|w| w.ends_with("does not exist"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// From a source checkout the SDK is a path dependency; without one it is commented out,
    /// and build.sh fails saying which file to edit, before running cargo.
    #[test]
    fn the_sdk_dependency_is_a_path_only_when_there_is_one() {
        let sdk = source_sdk().expect("tests run in a source checkout");
        let with = cargo_toml(Some(&sdk));
        let manifest: toml::Table = toml::from_str(&with).expect("valid TOML");
        assert_eq!(
            manifest["dependencies"]["errbot-plugin-sdk"]["path"].as_str(),
            Some(sdk.display().to_string().as_str())
        );
        let without = cargo_toml(None);
        let manifest: toml::Table = toml::from_str(&without).expect("valid TOML");
        assert!(manifest["dependencies"].get("errbot-plugin-sdk").is_none());

        let dir = std::env::temp_dir().join(format!("errbot-init-sdk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("build.sh"), BUILD_SH).expect("write");
        // A cargo that must not run: the check comes first.
        std::fs::create_dir_all(dir.join("fake")).expect("mkdir");
        std::fs::write(
            dir.join("fake/cargo"),
            "#!/bin/sh\necho cargo ran >&2\nexit 99\n",
        )
        .expect("write");
        std::fs::set_permissions(
            dir.join("fake/cargo"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let path = format!("{}:/usr/bin:/bin", dir.join("fake").display());
        let run = |cargo_toml: &str| {
            std::fs::write(dir.join("Cargo.toml"), cargo_toml).expect("write");
            std::process::Command::new("/bin/sh")
                .arg("build.sh")
                .current_dir(&dir)
                .env("PATH", &path)
                .output()
                .expect("sh")
        };
        let out = run(&without);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "Edit {}/Cargo.toml: errbot-plugin-sdk is commented out",
                dir.display()
            )),
            "{stderr}"
        );
        let out = run(&cargo_toml(Some(Path::new("/nonexistent/plugin-sdk"))));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("errbot-plugin-sdk's path /nonexistent/plugin-sdk holds no Cargo.toml"),
            "{stderr}"
        );
        // With the SDK there, the build goes on to cargo.
        let out = run(&with);
        assert_eq!(out.status.code(), Some(99));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "cargo ran\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_commented_access_example_is_valid() {
        let (head, access) = CONFIG.split_once("[access]\n").expect("an [access] table");
        let example: String = access
            .lines()
            .take_while(|l| !l.is_empty())
            .map(|l| match l.strip_prefix("# ") {
                // Commented-out settings, not prose.
                Some(t)
                    if t.starts_with('[')
                        || t.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')) =>
                {
                    t
                }
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let text = format!("{head}[access]\n{example}");
        let config = crate::config::Config::parse(&text, Path::new("init.toml")).expect("valid");
        assert_eq!(config.access.rules.len(), 2);
        assert_eq!(config.access.default.allowmuc, Some(true));
    }
}
