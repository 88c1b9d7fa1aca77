//! Plugin states beyond "active" and "failed", and the run-time changes that move plugins
//! between them: configuring (`!plugin config`), blacklisting and unblacklisting.
//!
//! - A plugin with a configuration template and no configuration is started and described, but
//!   not activated: it *waits* (status `C`) until `!plugin config NAME {...}` gives it one.
//! - A blacklisted plugin (core storage key `bl_plugins`) is not started at all (status `B`);
//!   blacklisting a running plugin deactivates and stops it, unblacklisting starts it.
//!
//! Every change runs under one lock, so two admins cannot interleave changes to the plugin set.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use errbot_proto::v1::{ActivateRequest, ConfigRequest, DeactivateRequest};
use serde_json::Value;

use crate::bot::{Bot, Plugin, read, write};
use crate::manifest::Discovered;
use crate::plugin_config::{self, Source};

/// How long plugins have to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A plugin process that is running but not activated.
pub struct Waiting {
    /// The process, its client and its description.
    pub plugin: Arc<Plugin>,
    /// Why it waits ("needs a configuration").
    pub reason: String,
}

/// What errbotd needs to start plugin processes after start-up.
pub struct Launcher {
    /// errbotd's private runtime directory (plugin sockets live there).
    pub runtime_dir: PathBuf,
    /// The address of errbotd's BotService, given to children.
    pub bot_address: String,
    /// Every plugin found on disk at start-up.
    pub discovered: Vec<Discovered>,
}

/// Plugins that wait, and the means to change the plugin set at run time.
#[derive(Default)]
pub struct Lifecycle {
    waiting: RwLock<BTreeMap<String, Waiting>>,
    launcher: OnceLock<Launcher>,
    lock: tokio::sync::Mutex<()>,
}

impl Lifecycle {
    /// Records how to start plugins (once, at start-up).
    pub fn set_launcher(&self, launcher: Launcher) {
        let _ = self.launcher.set(launcher);
    }

    /// Puts a described plugin aside until it is configured.
    pub fn wait(&self, plugin: Arc<Plugin>, reason: String) {
        tracing::warn!(plugin = %plugin.name, "not activated: {reason}");
        write(&self.waiting).insert(plugin.name.clone(), Waiting { plugin, reason });
    }

    /// The waiting plugins: name and reason.
    pub fn waiting(&self) -> Vec<(String, String)> {
        read(&self.waiting)
            .values()
            .map(|w| (w.plugin.name.clone(), w.reason.clone()))
            .collect()
    }

    /// The waiting plugins' processes (for shutdown and status).
    pub fn waiting_plugins(&self) -> Vec<Arc<Plugin>> {
        read(&self.waiting)
            .values()
            .map(|w| w.plugin.clone())
            .collect()
    }

    /// Names of every plugin found on disk.
    pub fn known(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .launcher
            .get()
            .map(|l| {
                l.discovered
                    .iter()
                    .map(|d| d.manifest.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// What to do with a plugin that has described itself.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Activate it with this configuration (JSON; empty for none).
    Activate(String),
    /// Keep it running but inactive, for this reason.
    Wait(String),
}

fn rpc_timeout(bot: &Bot) -> Duration {
    Duration::from_secs_f64(bot.config.limits.start_timeout_secs.max(1.0))
}

/// The configuration of plugin `name` and where it comes from, if it has one.
pub fn configuration_of(bot: &Bot, name: &str) -> Result<Option<(Value, Source)>, String> {
    match plugin_config::from_settings(bot.config.plugins.get(name))? {
        Some(found) => Ok(Some(found)),
        None => Ok(bot.storage.stored_config(name).map(|v| (v, Source::Stored))),
    }
}

/// Decides whether a described plugin can be activated, and with which configuration: checks
/// the configuration's shape against the template, then asks the plugin (CheckConfig). An error
/// is a configuration that errbot.toml imposes and that is wrong.
pub async fn decide(bot: &Bot, plugin: &Plugin) -> Result<Decision, String> {
    let name = &plugin.name;
    let template = plugin_config::template_of(&plugin.description.config_template_json)?;
    let configuration = configuration_of(bot, name)?;
    let (template, (config, source)) = match (template, configuration) {
        (None, None) => return Ok(Decision::Activate(String::new())),
        (None, Some((config, _))) => return Ok(Decision::Activate(config.to_string())),
        (Some(_), None) => {
            return Ok(Decision::Wait(format!(
                "needs a configuration: `{}plugin config {name}` shows its template",
                bot.prefixes.prefix()
            )));
        }
        (Some(t), Some(c)) => (t, c),
    };
    let refusal = match plugin_config::check_shape(&template, &config) {
        Err(why) => Some(why),
        Ok(()) => check_config(bot, plugin, &config).await?,
    };
    match (refusal, source.fixed_by(&bot.config, name)) {
        (None, _) => Ok(Decision::Activate(config.to_string())),
        (Some(why), None) => Ok(Decision::Wait(format!(
            "its stored configuration is refused ({why}): set another with `{}plugin config {name}`",
            bot.prefixes.prefix()
        ))),
        (Some(why), Some(place)) => {
            Err(format!("Incorrect plugin configuration in {place}: {why}"))
        }
    }
}

/// Asks the plugin whether it accepts `config`: the refusal, if any.
async fn check_config(
    bot: &Bot,
    plugin: &Plugin,
    config: &Value,
) -> Result<Option<String>, String> {
    let request = ConfigRequest {
        config_json: config.to_string(),
    };
    let answer = tokio::time::timeout(
        rpc_timeout(bot),
        plugin.client.clone().check_config(request),
    )
    .await
    .map_err(|_| "CheckConfig did not answer in time".to_owned())?
    .map_err(|s| format!("CheckConfig failed: {}", s.message()))?;
    let error = answer.into_inner().error;
    Ok((!error.is_empty()).then_some(error))
}

/// Activates a described plugin and makes its commands available.
pub async fn activate(bot: &Bot, plugin: Arc<Plugin>, config_json: String) -> Result<(), String> {
    let request = ActivateRequest {
        config_json,
        bot_prefix: bot.config.bot.prefix.clone(),
    };
    tokio::time::timeout(rpc_timeout(bot), plugin.client.clone().activate(request))
        .await
        .map_err(|_| "Activate did not answer in time".to_owned())?
        .map_err(|s| format!("Activate failed: {}", s.message()))?;
    write(&bot.plugins).insert(plugin.name.clone(), plugin);
    for w in bot.rebuild_registry() {
        tracing::warn!("{w}");
    }
    Ok(())
}

/// Deactivates (if active) and stops a plugin process, and forgets its token.
async fn stop(bot: &Bot, plugin: &Plugin, active: bool) {
    if active {
        let mut client = plugin.client.clone();
        let deactivation = client.deactivate(DeactivateRequest {});
        if let Ok(Err(s)) = tokio::time::timeout(Duration::from_secs(2), deactivation).await {
            tracing::warn!(plugin = %plugin.name, "Deactivate failed: {}", s.message());
        }
    }
    plugin.process.stop(STOP_GRACE).await;
    write(&bot.tokens).remove(&plugin.process.token);
}

/// Stops every waiting plugin (at shutdown).
pub async fn stop_waiting(bot: &Bot) {
    let waiting: Vec<Arc<Plugin>> = std::mem::take(&mut *write(&bot.lifecycle.waiting))
        .into_values()
        .map(|w| w.plugin)
        .collect();
    futures::future::join_all(waiting.iter().map(|p| stop(bot, p, false))).await;
}

/// `!plugin config NAME [JSON]`: shows the template and the configuration in force, or checks,
/// stores and applies a new configuration. Returns the reply.
pub async fn configure(bot: &Arc<Bot>, name: &str, json: &str) -> String {
    let _guard = bot.lifecycle.lock.lock().await;
    let prefix = bot.prefixes.prefix();
    if bot.storage.is_blacklisted(name) {
        return format!("Plugin {name} is blacklisted: `{prefix}plugin unblacklist {name}` first.");
    }
    let active = read(&bot.plugins).get(name).cloned();
    let waiting = read(&bot.lifecycle.waiting)
        .get(name)
        .map(|w| w.plugin.clone());
    let Some(plugin) = active.clone().or(waiting) else {
        return format!("Unknown plugin or the plugin could not load {name}.");
    };
    let template = match plugin_config::template_of(&plugin.description.config_template_json) {
        Ok(Some(t)) => t,
        Ok(None) => return "This plugin is not configurable.".to_owned(),
        Err(e) => return format!("Plugin {name}: {e}"),
    };
    let current = configuration_of(bot, name);
    if json.trim().is_empty() {
        let mut out = format!(
            "Default configuration for this plugin (you can copy and paste this directly as a \
             single line command):\n\n```\n{prefix}plugin config {name} {template}\n```"
        );
        match current {
            Ok(Some((config, source))) => {
                out.push_str(&format!(
                    "\n\nCurrent configuration:\n\n```\n{prefix}plugin config {name} {config}\n```"
                ));
                if let Some(place) = source.fixed_by(&bot.config, name) {
                    out.push_str(&format!("\n\nIt is set by {place}."));
                }
            }
            Ok(None) => {}
            Err(e) => out.push_str(&format!("\n\nIts configuration cannot be read: {e}.")),
        }
        return out;
    }
    if let Ok(Some((_, source))) = &current
        && let Some(place) = source.fixed_by(&bot.config, name)
    {
        return format!(
            "The configuration of {name} is set by {place}; change it there and restart the bot."
        );
    }
    let config: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return format!("Syntax error in the given configuration: {e}."),
    };
    if std::mem::discriminant(&config) != std::mem::discriminant(&template) {
        return "It looks fishy, your config type is not the same as the template!".to_owned();
    }
    if let Err(why) = plugin_config::check_shape(&template, &config) {
        return format!("Incorrect plugin configuration: {why}.");
    }
    match check_config(bot, &plugin, &config).await {
        Ok(None) => {}
        Ok(Some(why)) => return format!("Incorrect plugin configuration: {why}."),
        Err(e) => return format!("Error activating plugin: {e}."),
    }
    if let Err(e) = bot.storage.set_config(name, Some(config.clone())).await {
        return format!("The configuration could not be stored: {e}.");
    }
    if active.is_some() {
        let mut client = plugin.client.clone();
        let deactivation = client.deactivate(DeactivateRequest {});
        match tokio::time::timeout(rpc_timeout(bot), deactivation).await {
            Ok(Ok(_)) => {}
            Ok(Err(s)) => return format!("Error deactivating {name}: {}.", s.message()),
            Err(_) => return format!("Error deactivating {name}: no answer in time."),
        }
    }
    // An active plugin stays in the command table meanwhile: the same process serves on.
    write(&bot.lifecycle.waiting).remove(name);
    match activate(bot, plugin.clone(), config.to_string()).await {
        Ok(()) => "Plugin configuration done.".to_owned(),
        Err(e) => {
            write(&bot.plugins).remove(name);
            bot.lifecycle
                .wait(plugin, format!("activation failed: {e}"));
            bot.rebuild_registry();
            format!("Error activating plugin: {e}.")
        }
    }
}

/// The reply for a name that is not a plugin.
fn not_a_plugin(bot: &Bot, name: &str) -> String {
    if bot
        .registry()
        .plugins()
        .iter()
        .any(|p| p.builtin && p.name.eq_ignore_ascii_case(name))
    {
        return format!("{name} is built into the bot and cannot be blacklisted.");
    }
    let list: Vec<String> = bot
        .lifecycle
        .known()
        .iter()
        .map(|n| format!("- {n}"))
        .collect();
    format!(
        "{name} isn't a valid plugin name. The current plugins are:\n{}",
        list.join("\n")
    )
}

/// `!plugin blacklist NAME`: stops the plugin if it runs and keeps it from starting again.
pub async fn blacklist(bot: &Arc<Bot>, name: &str) -> String {
    let _guard = bot.lifecycle.lock.lock().await;
    if !bot.lifecycle.known().iter().any(|n| n == name) {
        return not_a_plugin(bot, name);
    }
    if bot.storage.is_blacklisted(name) {
        return format!("Plugin {name} is already blacklisted.");
    }
    if let Err(e) = bot.storage.set_blacklisted(name, true).await {
        return format!("The blacklist could not be stored: {e}.");
    }
    let active = write(&bot.plugins).remove(name);
    if active.is_some() {
        bot.rebuild_registry();
    }
    let waiting = write(&bot.lifecycle.waiting).remove(name).map(|w| w.plugin);
    write(&bot.failed).retain(|f| f.name != name);
    if let Some(plugin) = &active {
        stop(bot, plugin, true).await;
    } else if let Some(plugin) = &waiting {
        stop(bot, plugin, false).await;
    }
    tracing::info!(plugin = name, "blacklisted");
    format!("Plugin {name} is now blacklisted.")
}

/// `!plugin unblacklist NAME`: starts the plugin again (Errbot activates it) and removes it from
/// the blacklist. When it cannot start, it stays blacklisted.
pub async fn unblacklist(bot: &Arc<Bot>, name: &str) -> String {
    let _guard = bot.lifecycle.lock.lock().await;
    let Some(launcher) = bot.lifecycle.launcher.get() else {
        return "The bot is still starting; try again in a moment.".to_owned();
    };
    let Some(discovered) = launcher.discovered.iter().find(|d| d.manifest.name == name) else {
        return not_a_plugin(bot, name);
    };
    if !bot.storage.is_blacklisted(name) {
        return format!("Plugin {name} is not blacklisted.");
    }
    let disabled = bot.config.plugins.get(name).is_some_and(|s| s.disabled);
    let mut note = String::new();
    if disabled {
        note = format!(" It stays stopped: `[plugins.{name}] disabled = true` in errbot.toml.");
    } else if !read(&bot.plugins).contains_key(name) {
        match start(bot, launcher, discovered).await {
            Ok(None) => {}
            Ok(Some(reason)) => note = format!(" It is not activated: it {reason}."),
            Err(e) => return format!("Error activating plugin: {e}"),
        }
    }
    if let Err(e) = bot.storage.set_blacklisted(name, false).await {
        return format!("The blacklist could not be stored: {e}.");
    }
    tracing::info!(plugin = name, "removed from the blacklist");
    format!("Plugin {name} removed from blacklist.{note}")
}

/// Starts, describes and activates one plugin at run time. `Ok(Some(reason))` when it waits for
/// a configuration.
async fn start(
    bot: &Arc<Bot>,
    launcher: &Launcher,
    discovered: &Discovered,
) -> Result<Option<String>, String> {
    let name = &discovered.manifest.name;
    let missing: Vec<&String> = discovered
        .manifest
        .depends_on
        .iter()
        .filter(|dep| !read(&bot.plugins).contains_key(*dep))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{name} depends on plugins that are not active: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let described = crate::daemon::start_plugin(
        bot,
        &launcher.runtime_dir,
        &launcher.bot_address,
        discovered,
    )
    .await?;
    let plugin = Arc::new(described.into_plugin(name.clone()));
    let decision = match decide(bot, &plugin).await {
        Ok(d) => d,
        Err(e) => {
            stop(bot, &plugin, false).await;
            return Err(e);
        }
    };
    write(&bot.failed).retain(|f| f.name != *name);
    match decision {
        Decision::Wait(reason) => {
            bot.lifecycle.wait(plugin, reason.clone());
            Ok(Some(reason))
        }
        Decision::Activate(config) => match activate(bot, plugin.clone(), config).await {
            Ok(()) => Ok(None),
            Err(e) => {
                stop(bot, &plugin, false).await;
                Err(e)
            }
        },
    }
}

/// errbotctl status entries for waiting ("unconfigured", running) and blacklisted (not running)
/// plugins.
pub fn control_status(bot: &Bot) -> Vec<errbot_proto::v1::ChildStatus> {
    let mut out: Vec<errbot_proto::v1::ChildStatus> = read(&bot.lifecycle.waiting)
        .values()
        .map(|w| errbot_proto::v1::ChildStatus {
            name: w.plugin.name.clone(),
            kind: "plugin".into(),
            state: "unconfigured".into(),
            pid: w.plugin.process.pid,
            uptime_seconds: w.plugin.process.started.elapsed().as_secs(),
            last_exit: w.reason.clone(),
            ..Default::default()
        })
        .collect();
    let known = bot.lifecycle.known();
    out.extend(
        bot.storage
            .blacklist()
            .into_iter()
            .filter(|name| known.contains(name))
            .map(|name| errbot_proto::v1::ChildStatus {
                name,
                kind: "plugin".into(),
                state: "blacklisted".into(),
                ..Default::default()
            }),
    );
    out
}

/// Status rows for plugins that are neither active nor failed: `C` (waiting for a
/// configuration) and `B` (blacklisted), as (letter, text).
pub fn status_rows(bot: &Bot) -> Vec<(char, String)> {
    let mut rows: Vec<(char, String)> = bot
        .lifecycle
        .waiting()
        .into_iter()
        .map(|(name, reason)| ('C', format!("{name} ({reason})")))
        .collect();
    let known = bot.lifecycle.known();
    rows.extend(
        bot.storage
            .blacklist()
            .into_iter()
            .filter(|name| known.contains(name))
            .map(|name| ('B', name)),
    );
    rows
}
