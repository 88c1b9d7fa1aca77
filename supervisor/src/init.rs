//! `errbotd init [DIR]`: a commented errbot.toml, a data directory and an example plugin that
//! builds as it is.

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

[limits]
# Seconds a child has to answer its health check after it starts.
start_timeout_secs = 30.0
# Seconds a command may run before it is answered with an error.
command_timeout_secs = 120.0

# Where the bot keeps what it stores: plugins' data, plugin configurations, the blacklist,
# command history (Errbot's STORAGE). Default: SQLite at <data_dir>/errbot.db.
[storage]
# url = "sqlite:data/errbot.db"
# url = "postgres://errbot@db.example.com/errbot"
# Or the name of an environment variable holding the URL, to keep a password out of this file:
# url_env = "ERRBOT_STORAGE_URL"

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
# [plugins.example.supervision]
# max_restarts = 10
# The plugin's configuration; when set here, `!plugin config example {...}` is refused.
# config = { CITY = "Paris", UNITS = "metric" }
# Or a variable holding the configuration as JSON (for secrets):
# config_env = "EXAMPLE_CONFIG"
"#;

const PLUGIN_TOML: &str = r#"[plugin]
name = "example"
description = "An example plugin: edit src/main.rs and rebuild with `cargo build --release`."
# Program that serves the plugin, relative to this directory.
command = ["target/release/errbot-plugin-example"]
"#;

const PLUGIN_MAIN: &str = r#"//! An example errbot-rs plugin. Build it with `cargo build --release` in this directory, then
//! restart errbotd: `!example` answers, and `!help example` lists the commands.

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
    std::fs::write(plugin.join("Cargo.toml"), cargo_toml())?;
    Ok(config)
}

fn cargo_toml() -> String {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
    let sdk = sdk.canonicalize().unwrap_or(sdk);
    format!(
        r#"[package]
name = "errbot-plugin-example"
version = "0.1.0"
edition = "2024"
publish = false

# A workspace of its own, so that it builds wherever the bot directory is.
[workspace]

[dependencies]
errbot-plugin-sdk = {{ path = "{}" }}
tokio = {{ version = "1", features = ["rt-multi-thread", "macros"] }}
"#,
        sdk.display()
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
        let _ = std::fs::remove_dir_all(&dir);
    }
}
