//! Operator changes to the plugin set, with Errbot's replies, shared by the chat commands and
//! errbotctl: activate / deactivate / reload (`plugin_action`), configure (`!plugin config`),
//! blacklist and unblacklist; and the decision, before each activation, of which configuration a
//! plugin gets.
//!
//! - A plugin with a configuration template and no configuration is not activated: its slot
//!   waits in `unconfigured` (status `C`) until `!plugin config NAME {...}` gives it one.
//! - A blacklisted plugin (core storage) is not started (status `B`); blacklisting a running
//!   plugin stops it, unblacklisting starts it.
//!
//! Changes run under one lock, so two admins cannot interleave changes to the plugin set; the
//! slot's own task carries each one out (see `supervise::plugin`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use errbot_proto::v1::{
    ConfigRequest, PluginDescription, plugin_service_client::PluginServiceClient,
};
use serde_json::Value;
use tonic::transport::Channel;

use crate::bot::{Bot, read};
use crate::plugin_config::{self, Source};
use crate::supervise::State;
use crate::supervise::plugin::{Action, PluginSlot};

/// What to do with a plugin that has described itself.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Activate it with this configuration (JSON; empty for none).
    Activate(String),
    /// Keep it running but inactive, for this reason.
    Wait(String),
}

fn rpc_timeout(bot: &Bot) -> Duration {
    Duration::from_secs_f64(bot.config().limits.start_timeout_secs.max(1.0))
}

/// The configuration of plugin `name` and where it comes from, if it has one.
pub fn configuration_of(bot: &Bot, name: &str) -> Result<Option<(Value, Source)>, String> {
    match plugin_config::from_settings(bot.config().plugins.get(name))? {
        Some(found) => Ok(Some(found)),
        None => Ok(bot.storage.stored_config(name).map(|v| (v, Source::Stored))),
    }
}

/// Decides whether a described plugin can be activated, and with which configuration: checks
/// the configuration's shape against the template, then asks the plugin (CheckConfig). An error
/// is a configuration that errbot.toml imposes and that is wrong.
pub async fn decide(
    bot: &Bot,
    name: &str,
    description: &PluginDescription,
    client: &PluginServiceClient<Channel>,
) -> Result<Decision, String> {
    let template = plugin_config::template_of(&description.config_template_json)?;
    let configuration = configuration_of(bot, name)?;
    let (template, (config, source)) = match (template, configuration) {
        (None, None) => return Ok(Decision::Activate(String::new())),
        (None, Some((config, _))) => return Ok(Decision::Activate(config.to_string())),
        (Some(_), None) => {
            return Ok(Decision::Wait(format!(
                "needs a configuration: `{}plugin config {name}` shows its template",
                bot.prefix()
            )));
        }
        (Some(t), Some(c)) => (t, c),
    };
    let shape = if description.checks_own_shape {
        Ok(())
    } else {
        plugin_config::check_shape(&template, &config)
    };
    let refusal = match shape {
        Err(why) => Some(why),
        Ok(()) => check_config(bot, client, &config).await?,
    };
    match (refusal, source.fixed_by(&bot.config(), name)) {
        (None, _) => Ok(Decision::Activate(config.to_string())),
        (Some(why), None) => Ok(Decision::Wait(refused_note(&why, bot, name))),
        (Some(why), Some(place)) => {
            Err(format!("Incorrect plugin configuration in {place}: {why}"))
        }
    }
}

/// Asks the plugin whether it accepts `config`: the refusal, if any.
async fn check_config(
    bot: &Bot,
    client: &PluginServiceClient<Channel>,
    config: &Value,
) -> Result<Option<String>, String> {
    let request = ConfigRequest {
        config_json: config.to_string(),
    };
    let answer = tokio::time::timeout(rpc_timeout(bot), client.clone().check_config(request))
        .await
        .map_err(|_| "CheckConfig did not answer in time".to_owned())?
        .map_err(|s| format!("CheckConfig failed: {}", s.message()))?;
    let error = answer.into_inner().error;
    Ok((!error.is_empty()).then_some(error))
}

/// Why an action was refused or failed; the text is the reply.
#[derive(Debug, PartialEq, Eq)]
pub enum ActionError {
    /// No name given: the text lists the candidates.
    Usage(String),
    /// No such plugin: the text lists the valid names.
    NotFound(String),
    /// Already in the asked state.
    Already(String),
    /// The plugin could not be started, or the change could not be stored.
    Failed(String),
    /// Not something that can be done to this plugin (a built-in one).
    Refused(String),
}

impl ActionError {
    /// The reply text.
    pub fn text(&self) -> &str {
        match self {
            ActionError::Usage(t)
            | ActionError::NotFound(t)
            | ActionError::Already(t)
            | ActionError::Failed(t)
            | ActionError::Refused(t) => t,
        }
    }
}

fn listing(bot: &Bot, active_only: bool) -> String {
    let mut out = String::new();
    for name in bot.builtin_names() {
        if !active_only || bot.builtin_active(&name) {
            let _ = write!(out, "\n- {name}");
        }
    }
    for slot in read(&bot.plugins).values() {
        if !active_only || slot.life.state() == State::Running {
            let _ = write!(out, "\n- {}", slot.name);
        }
    }
    out
}

/// Carries out `action` (activate, deactivate or reload) on plugin `name`; returns the reply.
pub async fn plugin_action(bot: &Bot, action: Action, name: &str) -> Result<String, ActionError> {
    let name = name.trim();
    let verb = action.verb();
    if name.is_empty() {
        return Err(ActionError::Usage(format!(
            "Please tell me which of the following plugins to {verb}:{}",
            listing(bot, action == Action::Deactivate)
        )));
    }
    let Some(slot) = bot.plugin(name) else {
        if bot.is_builtin(name) {
            let _guard = bot.plugin_changes.lock().await;
            return builtin_action(bot, action, name);
        }
        return Err(ActionError::NotFound(format!(
            "{name} isn't a valid plugin name. The current plugins are:{}",
            listing(bot, false)
        )));
    };
    let _guard = bot.plugin_changes.lock().await;
    let state = slot.life.state();
    let active = matches!(state, State::Running | State::Restarting | State::Starting);
    let prefix = bot.prefix();
    match action {
        Action::Activate | Action::Reload if state == State::Blacklisted => {
            Err(ActionError::Already(format!(
                "Plugin {name} is blacklisted: `{prefix}plugin unblacklist {name}` first."
            )))
        }
        Action::Activate if state == State::Running => Err(ActionError::Already(format!(
            "{name} is already activated."
        ))),
        Action::Deactivate if !active => Err(ActionError::Already(format!(
            "{name} is already deactivated."
        ))),
        Action::Activate => {
            // Its dependencies first, as Errbot's activate_plugin does.
            for dep in inactive_dependencies(bot, &slot).map_err(ActionError::Failed)? {
                if let Err(e) = dep.act(Action::Activate).await {
                    return Err(ActionError::Failed(format!(
                        "Error activating plugin: its dependency {} did not start: {e}",
                        dep.name
                    )));
                }
                tracing::info!(plugin = %dep.name, "activated as a dependency of {name}");
            }
            match slot.act(action).await {
                Ok(()) => Ok(format!("Plugin {name} activated.")),
                Err(e) => Err(ActionError::Failed(format!("Error activating plugin: {e}"))),
            }
        }
        Action::Deactivate | Action::Blacklist => match slot.act(Action::Deactivate).await {
            Ok(()) => Ok(format!("Plugin {name} deactivated.")),
            Err(e) => Err(ActionError::Already(e)),
        },
        Action::Reload => {
            let warning = if active {
                String::new()
            } else {
                not_activated_warning(name, &prefix)
            };
            match slot.act(action).await {
                Ok(()) => Ok(format!("{warning}Plugin {name} reloaded.")),
                Err(e) => Err(ActionError::Failed(format!(
                    "{warning}Error activating plugin {name}: {e}."
                ))),
            }
        }
    }
}

/// The built-in plugin that holds `!plugin` itself: it stays.
const PLUGINS_BUILTIN: &str = "Plugins";

/// `action` on built-in plugin `name`, as on a plugin: deactivated, its commands are gone
/// until it is activated again (or errbotd restarts); reloading has nothing to load again.
fn builtin_action(bot: &Bot, action: Action, name: &str) -> Result<String, ActionError> {
    let prefix = bot.prefix();
    let blacklisted = bot.storage.is_blacklisted(name);
    let active = bot.builtin_active(name);
    match action {
        Action::Activate | Action::Reload if blacklisted => Err(ActionError::Already(format!(
            "Plugin {name} is blacklisted: `{prefix}plugin unblacklist {name}` first."
        ))),
        Action::Activate if active => Err(ActionError::Already(format!(
            "{name} is already activated."
        ))),
        Action::Activate => {
            bot.set_builtin_off(name, false);
            Ok(format!("Plugin {name} activated."))
        }
        Action::Deactivate | Action::Blacklist if name == PLUGINS_BUILTIN => {
            Err(ActionError::Refused(format!(
                "{name} holds `{prefix}plugin` itself: it stays (`[bot] core_plugins` in \
                 errbot.toml can leave it out)."
            )))
        }
        Action::Deactivate | Action::Blacklist if !active => Err(ActionError::Already(format!(
            "{name} is already deactivated."
        ))),
        Action::Deactivate | Action::Blacklist => {
            bot.set_builtin_off(name, true);
            Ok(format!("Plugin {name} deactivated."))
        }
        Action::Reload => {
            let mut warning = String::new();
            if !active {
                warning = not_activated_warning(name, &prefix);
                bot.set_builtin_off(name, false);
            }
            Ok(format!("{warning}Plugin {name} reloaded."))
        }
    }
}

/// The first line of the answer to reloading a plugin that is not activated (Errbot's words).
fn not_activated_warning(name: &str, prefix: &str) -> String {
    format!(
        "Warning: plugin {name} is currently not activated. Use `{prefix}plugin activate {name}` \
         to activate it.\n"
    )
}

/// The plugins `slot` depends on, directly or not, that are not running, each after its own
/// dependencies; an error names a dependency that is missing, blacklisted or in a cycle.
fn inactive_dependencies(bot: &Bot, slot: &PluginSlot) -> Result<Vec<Arc<PluginSlot>>, String> {
    fn visit(
        bot: &Bot,
        slot: &PluginSlot,
        path: &mut Vec<String>,
        out: &mut Vec<Arc<PluginSlot>>,
    ) -> Result<(), String> {
        path.push(slot.name.clone());
        for dep in slot.depends_on() {
            if path.contains(&dep) {
                return Err(format!(
                    "circular dependencies: {} -> {dep}",
                    path.join(" -> ")
                ));
            }
            let Some(d) = bot.plugin(&dep) else {
                return Err(format!(
                    "{} depends on {dep}, which is not installed",
                    slot.name
                ));
            };
            if d.life.state() == State::Blacklisted {
                return Err(format!(
                    "{} depends on {dep}, which is blacklisted",
                    slot.name
                ));
            }
            if d.life.state() != State::Running && !out.iter().any(|o| o.name == dep) {
                visit(bot, &d, path, out)?;
                out.push(d);
            }
        }
        path.pop();
        Ok(())
    }
    let mut out = Vec::new();
    visit(bot, slot, &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// `!plugin config NAME [JSON]`: shows the template and the configuration in force, or checks,
/// stores and applies a new configuration. Returns the reply.
///
/// An active plugin is reconfigured without downtime: the new configuration is checked by the
/// serving process (CheckConfig), stored, and a fresh process activated with it replaces the old
/// one (as `plugin reload` does).
pub async fn configure(bot: &Arc<Bot>, name: &str, json: &str) -> String {
    let _guard = bot.plugin_changes.lock().await;
    let prefix = bot.prefix();
    if bot.storage.is_blacklisted(name) {
        return format!("Plugin {name} is blacklisted: `{prefix}plugin unblacklist {name}` first.");
    }
    let Some(slot) = bot.plugin(name) else {
        return format!("Unknown plugin or the plugin could not load {name}.");
    };
    let Some(description) = slot.description() else {
        return format!("Unknown plugin or the plugin could not load {name}.");
    };
    let template = match plugin_config::template_of(&description.config_template_json) {
        Ok(Some(t)) => t,
        Ok(None) => return "This plugin is not configurable.".to_owned(),
        Err(e) => return format!("Plugin {name}: {e}"),
    };
    let current = configuration_of(bot, name);
    if json.trim().is_empty() {
        let mut out = plugin_config::template_text(&prefix, name, &template);
        match current {
            Ok(Some((config, source))) => {
                out.push_str(&plugin_config::current_text(&prefix, name, &config));
                if let Some(place) = source.fixed_by(&bot.config(), name) {
                    let _ = write!(out, "\n\nIt is set by {place}.");
                }
            }
            Ok(None) => {}
            Err(e) => {
                let _ = write!(out, "\n\nIts configuration cannot be read: {e}.");
            }
        }
        return out;
    }
    if let Ok(Some((_, source))) = &current
        && let Some(place) = source.fixed_by(&bot.config(), name)
    {
        return format!(
            "The configuration of {name} is set by {place}; change it there and restart the bot."
        );
    }
    let config = match plugin_config::parse_text(json) {
        Ok(v) => v,
        Err(why) => return why,
    };
    if std::mem::discriminant(&config) != std::mem::discriminant(&template) {
        return "It looks fishy, your config type is not the same as the template!".to_owned();
    }
    if !description.checks_own_shape
        && let Err(why) = plugin_config::check_shape(&template, &config)
    {
        return format!("Incorrect plugin configuration: {why}.");
    }
    let serving = slot
        .current()
        .filter(|_| slot.life.state() == State::Running);
    if let Some(instance) = &serving {
        match check_config(bot, &instance.client, &config).await {
            Ok(None) => {}
            Ok(Some(why)) => return format!("Incorrect plugin configuration: {why}."),
            Err(e) => return format!("Error activating plugin: {e}."),
        }
    }
    let previous = bot.storage.stored_config(name);
    if let Err(e) = bot.storage.set_config(name, Some(config.clone())).await {
        return format!("The configuration could not be stored: {e}.");
    }
    let action = if serving.is_some() {
        Action::Reload
    } else {
        Action::Activate
    };
    match slot.act(action).await {
        Ok(()) if slot.life.state() == State::Running => "Plugin configuration done.".to_owned(),
        Ok(()) => {
            let note = slot.life.record().note;
            format!("Incorrect plugin configuration: {note}.")
        }
        Err(e) => {
            // A configuration the plugin cannot start with is not kept.
            if let Err(e) = bot.storage.set_config(name, previous).await {
                tracing::error!(plugin = name, "restoring the previous configuration: {e}");
            }
            if slot.life.state() == State::Unconfigured {
                format!(
                    "Incorrect plugin configuration: {}.",
                    refusal_in(&e).unwrap_or(&e)
                )
            } else {
                format!("Error activating plugin: {e}.")
            }
        }
    }
}

/// Why a name given to blacklist or unblacklist is no plugin.
fn not_a_plugin(bot: &Bot, name: &str) -> ActionError {
    ActionError::NotFound(format!(
        "{name} isn't a valid plugin name. The current plugins are:{}",
        listing(bot, false)
    ))
}

/// `!plugin blacklist NAME`: stops the plugin if it runs and keeps it from starting again.
/// Returns the reply.
pub async fn blacklist(bot: &Arc<Bot>, name: &str) -> Result<String, ActionError> {
    let name = name.trim();
    let _guard = bot.plugin_changes.lock().await;
    let slot = bot.plugin(name);
    if slot.is_none() && !bot.is_builtin(name) {
        return Err(not_a_plugin(bot, name));
    }
    if bot.storage.is_blacklisted(name) {
        return Err(ActionError::Already(format!(
            "Plugin {name} is already blacklisted."
        )));
    }
    if slot.is_none() && name == PLUGINS_BUILTIN {
        return builtin_action(bot, Action::Blacklist, name);
    }
    if let Err(e) = bot.storage.set_blacklisted(name, true).await {
        return Err(ActionError::Failed(format!(
            "The blacklist could not be stored: {e}."
        )));
    }
    match slot {
        Some(slot) => {
            if let Err(e) = slot.act(Action::Blacklist).await {
                tracing::warn!(plugin = name, "blacklisting: {e}");
            }
        }
        None => {
            bot.rebuild_registry(); // a built-in plugin: its commands go
        }
    }
    tracing::info!(plugin = name, "blacklisted");
    Ok(format!("Plugin {name} is now blacklisted."))
}

/// `!plugin unblacklist NAME`: removes the plugin from the blacklist and starts it (Errbot
/// activates it). When it cannot start, it stays blacklisted. Returns the reply.
pub async fn unblacklist(bot: &Arc<Bot>, name: &str) -> Result<String, ActionError> {
    let name = name.trim();
    let _guard = bot.plugin_changes.lock().await;
    let slot = bot.plugin(name);
    if slot.is_none() && !bot.is_builtin(name) {
        return Err(not_a_plugin(bot, name));
    }
    if !bot.storage.is_blacklisted(name) {
        return Err(ActionError::Already(format!(
            "Plugin {name} is not blacklisted."
        )));
    }
    if let Err(e) = bot.storage.set_blacklisted(name, false).await {
        return Err(ActionError::Failed(format!(
            "The blacklist could not be stored: {e}."
        )));
    }
    let Some(slot) = slot else {
        bot.set_builtin_off(name, false); // a built-in plugin: activated, as Errbot does
        tracing::info!(plugin = name, "removed from the blacklist");
        return Ok(format!("Plugin {name} removed from blacklist."));
    };
    let note = match slot.act(Action::Activate).await {
        Ok(()) if slot.life.state() == State::Running => String::new(),
        Ok(()) => format!(" It is not activated: {}.", slot.life.record().note),
        Err(e) => {
            if let Err(e) = bot.storage.set_blacklisted(name, true).await {
                tracing::error!(plugin = name, "restoring the blacklist: {e}");
            }
            let _ = slot.act(Action::Blacklist).await;
            return Err(ActionError::Failed(format!("Error activating plugin: {e}")));
        }
    };
    tracing::info!(plugin = name, "removed from the blacklist");
    Ok(format!("Plugin {name} removed from blacklist.{note}"))
}

/// Brings the plugins in line with the stored blacklist after it was written from outside
/// (`errbotctl storage` or a restore): blacklisted plugins stop, plugins taken off it start.
pub async fn follow_blacklist(bot: &Arc<Bot>) {
    let _guard = bot.plugin_changes.lock().await;
    let slots = bot.plugin_slots();
    for slot in slots {
        let listed = bot.storage.is_blacklisted(&slot.name);
        let parked = slot.life.state() == State::Blacklisted;
        let action = match (listed, parked) {
            (true, false) => Action::Blacklist,
            (false, true) => Action::Activate,
            _ => continue,
        };
        if let Err(e) = slot.act(action).await {
            tracing::warn!(plugin = %slot.name, "following the stored blacklist: {e}");
        }
    }
    bot.rebuild_registry(); // the built-in plugins follow it too
}

/// The note of a plugin whose stored configuration it refused.
fn refused_note(why: &str, bot: &Bot, name: &str) -> String {
    format!(
        "its stored configuration is refused ({why}): set another with `{}plugin config {name}`",
        bot.prefix()
    )
}

/// The plugin's own words in a note made by [`refused_note`].
fn refusal_in(note: &str) -> Option<&str> {
    note.strip_prefix("its stored configuration is refused (")?
        .rsplit_once("): set another with")
        .map(|(why, _)| why)
}
