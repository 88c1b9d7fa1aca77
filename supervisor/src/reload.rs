//! Reading errbot.toml again while errbotd runs (SIGHUP, `errbotctl reload-config`).
//!
//! The new file is read and checked exactly as at start-up; an invalid one is refused with its
//! errors and the running configuration stays. A valid one is put in force whole
//! ([`Bot::set_config`]: the next message sees it, a message in flight keeps its snapshot), and
//! then the children follow, each only if its own settings changed:
//!
//! - a plugin whose `[plugins.NAME]` table (or resolved supervision) changed is reloaded without
//!   downtime (the operator's `plugin reload` path); one now `disabled` is deactivated and
//!   stopped, one no longer disabled is started;
//! - a backend whose `[backends.NAME]` table (or resolved supervision) changed is restarted; an
//!   added backend is started, a removed one stopped;
//! - new plugin directories (`paths.plugin_dirs`) are searched: the plugins found there start,
//!   and the plugins of directories taken out stop;
//! - settings read only at start-up (the rest of `[paths]`, `[storage]`, `[log]`: the data
//!   directory, the control socket, the store, the log filter) keep their running value and
//!   are reported as needing a restart.
//!
//! Reloads are serialized; [`plan`] is the pure part (what changed), [`reload`] carries it out.

use std::collections::BTreeSet;
use std::sync::Arc;

use errbot_proto::v1::ReloadConfigResponse;

use crate::bot::{Bot, read, write};
use crate::config::Config;
use crate::lifecycle::{self, ActionError};
use crate::supervise::State;
use crate::supervise::gateway::Gateway;
use crate::supervise::plugin::{Action, PluginSlot};
use crate::supervise::policy::Policy;

/// What differs between the running configuration and a new one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Settings that take effect with the next message ("bot.prefix", "access rules").
    pub settings: Vec<String>,
    /// Settings read only at start-up that changed ("paths.data_dir").
    pub needs_restart: Vec<String>,
    /// Sections that did not change ("bot", "access", "limits", "supervision").
    pub unchanged: Vec<String>,
    /// Plugins whose settings changed.
    pub plugins: Vec<String>,
    /// Backends whose settings changed, including their kind.
    pub backends_changed: Vec<String>,
    /// Backends only in the new configuration.
    pub backends_added: Vec<String>,
    /// Backends only in the running configuration.
    pub backends_removed: Vec<String>,
}

/// The names of the fields that differ between two values of a settings struct, as
/// `section.field`; the section alone if they differ in a field not listed.
macro_rules! changed_fields {
    ($old:expr, $new:expr, $section:literal, [$($field:ident),* $(,)?]) => {{
        let (old, new) = (&$old, &$new);
        let mut out: Vec<String> = Vec::new();
        $(
            if old.$field != new.$field {
                out.push(concat!($section, ".", stringify!($field)).to_owned());
            }
        )*
        if out.is_empty() && old != new {
            out.push($section.to_owned());
        }
        out
    }};
}

/// What changed from `old` to `new`. `plugins` are the plugins errbotd knows (running or not):
/// a plugin's settings also change when the global `[supervision]` it falls back on does.
pub fn plan(old: &Config, new: &Config, plugins: &[String]) -> Plan {
    let mut plan = Plan::default();
    let mut section = |name: &str, changed: Vec<String>| {
        if changed.is_empty() {
            plan.unchanged.push(name.to_owned());
        } else {
            plan.settings.extend(changed);
        }
    };
    // `core_plugins` takes a restart (below).
    let new_bot = crate::config::BotSettings {
        core_plugins: old.bot.core_plugins.clone(),
        ..new.bot.clone()
    };
    section(
        "bot",
        changed_fields!(
            old.bot,
            new_bot,
            "bot",
            [
                prefix,
                alt_prefixes,
                alt_prefix_separators,
                alt_prefix_case_insensitive,
                prefix_optional_on_chat,
                admins,
                admin_notifications,
                suppress_cmd_not_found,
                message_size_limit,
                divert_to_private,
                divert_to_thread,
                groupchat_nick_prefixed,
                callback_order,
            ]
        ),
    );
    let mut access = Vec::new();
    if old.access.rules != new.access.rules || old.access.default != new.access.default {
        access.push("access rules".to_owned());
    }
    access.extend(changed_fields!(
        old.access,
        new.access,
        "access",
        [hide_restricted_commands, hide_restricted_access]
    ));
    access.retain(|a| a != "access");
    section("access", access);
    section(
        "limits",
        changed_fields!(
            old.limits,
            new.limits,
            "limits",
            [
                start_timeout_secs,
                command_timeout_secs,
                command_filter_timeout_secs,
                callback_timeout_secs,
                max_file_bytes,
                build_timeout_secs
            ]
        ),
    );
    section(
        "supervision",
        if old.supervision == new.supervision {
            Vec::new()
        } else {
            vec!["supervision".to_owned()]
        },
    );
    if old.paths.plugin_dirs != new.paths.plugin_dirs {
        plan.settings.push("paths.plugin_dirs".to_owned());
    }
    let new_paths = crate::config::PathSettings {
        plugin_dirs: old.paths.plugin_dirs.clone(),
        ..new.paths.clone()
    };
    plan.needs_restart.extend(changed_fields!(
        old.paths,
        new_paths,
        "paths",
        [data_dir, bundled_plugins, venv_dir]
    ));
    if old.storage != new.storage {
        plan.needs_restart.push("storage".to_owned());
    }
    if old.web != new.web {
        plan.needs_restart.push("web".to_owned());
    }
    if old.bot.core_plugins != new.bot.core_plugins {
        plan.needs_restart.push("bot.core_plugins".to_owned());
    }
    plan.needs_restart.extend(changed_fields!(
        old.log,
        new.log,
        "log",
        [level, file, rotate, keep]
    ));

    let names: BTreeSet<&String> = plugins
        .iter()
        .chain(old.plugins.keys())
        .chain(new.plugins.keys())
        .collect();
    for name in names {
        if old.plugins.get(name) != new.plugins.get(name)
            || old.plugin_supervision(name) != new.plugin_supervision(name)
        {
            plan.plugins.push(name.clone());
        }
    }
    for (name, kind, backend) in new.backend_instances() {
        match old.backend_instances().find(|(n, _, _)| *n == name) {
            None => plan.backends_added.push(name.to_owned()),
            Some((_, old_kind, old_backend)) => {
                if old_kind != kind
                    || old_backend.settings != backend.settings
                    || old.backend_supervision(name) != new.backend_supervision(name)
                {
                    plan.backends_changed.push(name.to_owned());
                }
            }
        }
    }
    plan.backends_removed = old
        .backends
        .keys()
        .filter(|n| !new.backends.contains_key(*n))
        .cloned()
        .collect();
    plan
}

/// Reads errbotd's configuration file again and applies it (see the module's documentation).
/// The error, when the new configuration is refused, says why (each problem on its own line).
/// Either way the outcome is logged.
pub async fn reload(bot: &Arc<Bot>) -> Result<ReloadConfigResponse, String> {
    let _one_at_a_time = bot.reloads.lock().await;
    let outcome = apply(bot).await;
    match &outcome {
        Ok(report) => tracing::info!("configuration {}", summary(report)),
        Err(refusal) => tracing::warn!("{refusal}"),
    }
    outcome
}

async fn apply(bot: &Arc<Bot>) -> Result<ReloadConfigResponse, String> {
    let running = bot.config();
    let Some(path) = running.source.clone() else {
        return Err(
            "errbotd runs on its embedded defaults: there is no configuration file to \
                    read again (start it with --config FILE)"
                .to_owned(),
        );
    };
    let file = path.display().to_string();
    let checked = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || crate::daemon::load_checked(Some(&path))).await
    };
    let mut new = match checked {
        Ok(Ok(config)) => config,
        Ok(Err(errors)) => {
            return Err(format!(
                "the configuration in {file} is refused, the running one stays:\n{errors}"
            ));
        }
        Err(e) => return Err(format!("checking {file} failed: {e}")),
    };
    let slots: Vec<String> = read(&bot.plugins).keys().cloned().collect();
    let mut plan = plan(&running, &new, &slots);
    // What is read only at start-up keeps its running value.
    new.paths = crate::config::PathSettings {
        plugin_dirs: new.paths.plugin_dirs.clone(),
        ..running.paths.clone()
    };
    new.storage = running.storage.clone();
    new.log = running.log.clone();
    // A backend errbotd does not run (it failed to start at a previous reload) is started.
    for name in new.backends.keys() {
        if bot.gateway(name).is_none()
            && !plan.backends_added.contains(name)
            && !plan.backends_changed.contains(name)
        {
            plan.backends_added.push(name.clone());
        }
    }
    let mut report = ReloadConfigResponse {
        file,
        applied: plan.settings.clone(),
        needs_restart: plan
            .needs_restart
            .iter()
            .map(|s| format!("{s} (keeps its running value)"))
            .collect(),
        unchanged: plan.unchanged.clone(),
        ..Default::default()
    };
    let new = Arc::new(new);
    bot.set_config(new.clone());

    apply_backends(bot, &new, &plan, &mut report).await;
    apply_plugins(bot, &running, &new, &plan, &mut report).await;
    if running.paths.plugin_dirs != new.paths.plugin_dirs {
        apply_plugin_dirs(bot, &new, &mut report).await;
    }

    let restarted: BTreeSet<&String> = plan
        .backends_changed
        .iter()
        .chain(&plan.backends_added)
        .collect();
    let kept: Vec<String> = read(&bot.gateways)
        .iter()
        .filter(|g| !restarted.contains(&g.name))
        .map(|g| g.name.clone())
        .collect();
    if !kept.is_empty()
        && plan
            .settings
            .iter()
            .any(|s| s == "bot.prefix" || s == "bot.admins")
    {
        report.notes.push(format!(
            "backend {} keep the prefix and admins they were started with for their own \
             commands (such as the console's !asadmin) until they restart",
            kept.join(", ")
        ));
    }
    Ok(report)
}

/// Stops removed and changed backends, then starts changed and added ones.
async fn apply_backends(
    bot: &Arc<Bot>,
    config: &Config,
    plan: &Plan,
    report: &mut ReloadConfigResponse,
) {
    for name in plan.backends_removed.iter().chain(&plan.backends_changed) {
        if let Some(gateway) = bot.gateway(name) {
            gateway.stop().await;
            write(&bot.gateways).retain(|g| !Arc::ptr_eq(g, &gateway));
            if plan.backends_removed.contains(name) {
                report.applied.push(format!("backend {name} stopped"));
            }
        }
    }
    for (name, kind, _) in config.backend_instances() {
        let restarted = plan.backends_changed.iter().any(|n| n == name);
        let added = plan.backends_added.iter().any(|n| n == name);
        if !restarted && !added {
            report.unchanged.push(format!("backend {name}"));
            continue;
        }
        let policy = Policy::from_settings(&config.backend_supervision(name));
        let gateway = Gateway::new(name, kind, policy);
        let started = match gateway.spawn(bot).await {
            Ok(process) => gateway.connect(bot, process).await,
            Err(e) => Err(e),
        };
        match started {
            Ok(link) => {
                gateway.supervise(bot.clone(), link, Arc::new(crate::pipeline::Pipeline));
                let mut gateways = write(&bot.gateways);
                gateways.push(gateway);
                gateways.sort_by(|a, b| a.name.cmp(&b.name));
                let verb = if restarted { "restarted" } else { "started" };
                report.applied.push(format!("backend {name} {verb}"));
            }
            Err(e) => {
                tracing::error!(backend = %name, "not started after a reload: {e:#}");
                report
                    .failed
                    .push(format!("backend {name} could not start: {e:#}"));
            }
        }
    }
}

/// Reloads, stops or starts the plugins whose settings changed.
async fn apply_plugins(
    bot: &Arc<Bot>,
    old: &Config,
    config: &Config,
    plan: &Plan,
    report: &mut ReloadConfigResponse,
) {
    let known: Vec<String> = read(&bot.plugins).keys().cloned().collect();
    for name in &known {
        if !plan.plugins.contains(name) {
            report.unchanged.push(format!("plugin {name}"));
        }
    }
    for name in &plan.plugins {
        let disabled = config.plugins.get(name).is_some_and(|p| p.disabled);
        let outcome = match (bot.plugin(name), disabled) {
            (Some(slot), true) => stop_plugin(bot, &slot).await.map(|()| "stopped (disabled)"),
            (Some(slot), false) => {
                slot.set_policy(Policy::from_settings(&config.plugin_supervision(name)));
                follow_settings(bot, &slot).await
            }
            // Enabled again, or an opt-in plugin given its table.
            (None, false) if old.plugins.get(name).is_none_or(|p| p.disabled) => {
                match start_plugin(bot, config, name).await {
                    Err(why) if why == NOT_FOUND => {
                        report.notes.push(format!(
                            "plugin {name}: not in the plugin directories, its settings are kept"
                        ));
                        continue;
                    }
                    other => other.map(|()| "started"),
                }
            }
            (None, _) => {
                report.notes.push(format!(
                    "plugin {name}: not running, its settings are kept for when it starts"
                ));
                continue;
            }
        };
        match outcome {
            Ok(done) => report.applied.push(format!("plugin {name} {done}")),
            Err(why) => report.failed.push(format!("plugin {name}: {why}")),
        }
    }
}

/// Follows a change of `paths.plugin_dirs`: starts the plugins found that do not run (unless
/// disabled or opt-in without a table), stops those no longer found.
async fn apply_plugin_dirs(bot: &Arc<Bot>, config: &Config, report: &mut ReloadConfigResponse) {
    let (found, problems) = crate::daemon::discover_plugins(bot).await;
    report.notes.extend(problems);
    for d in &found {
        let name = &d.manifest.name;
        if !crate::daemon::wanted(config, d) || bot.plugin(name).is_some() {
            continue;
        }
        match start_plugin(bot, config, name).await {
            Ok(()) => report.applied.push(format!("plugin {name} started")),
            Err(why) => report.failed.push(format!("plugin {name}: {why}")),
        }
    }
    for slot in bot.plugin_slots() {
        if found.iter().any(|d| d.manifest.name == slot.name) {
            continue;
        }
        match stop_plugin(bot, &slot).await {
            Ok(()) => report
                .applied
                .push(format!("plugin {} stopped (no longer found)", slot.name)),
            Err(why) => report.failed.push(format!("plugin {}: {why}", slot.name)),
        }
    }
}

/// Puts a plugin's new settings in force: a serving plugin is reloaded (no downtime), one
/// waiting for a configuration is tried again, a stopped one takes them when activated.
async fn follow_settings(bot: &Arc<Bot>, slot: &PluginSlot) -> Result<&'static str, String> {
    let text = |e: ActionError| e.text().to_owned();
    match slot.life.state() {
        State::Running | State::Starting | State::Restarting => {
            lifecycle::plugin_action(bot, Action::Reload, &slot.name)
                .await
                .map_err(text)?;
            Ok("reloaded")
        }
        State::Unconfigured => {
            lifecycle::plugin_action(bot, Action::Activate, &slot.name)
                .await
                .map_err(text)?;
            Ok("activated")
        }
        State::Deactivated | State::Failed | State::Blacklisted | State::Stopped => {
            Ok("settings kept for its next activation")
        }
    }
}

/// Deactivates a plugin that is now disabled (its in-flight commands finish), stops its slot
/// and forgets it, as if errbotd had started with it disabled.
async fn stop_plugin(bot: &Arc<Bot>, slot: &Arc<PluginSlot>) -> Result<(), String> {
    if matches!(
        slot.life.state(),
        State::Running | State::Starting | State::Restarting
    ) && let Err(e) = lifecycle::plugin_action(bot, Action::Deactivate, &slot.name).await
    {
        tracing::warn!(plugin = %slot.name, "deactivating: {}", e.text());
    }
    slot.stop().await;
    write(&bot.plugins).remove(&slot.name);
    bot.rebuild_registry();
    Ok(())
}

/// Why [`start_plugin`] started nothing.
const NOT_FOUND: &str = "not found in the plugin directories";

/// Starts a plugin that was disabled: found in the plugin directories, activated, supervised.
async fn start_plugin(bot: &Arc<Bot>, config: &Config, name: &str) -> Result<(), String> {
    let (found, _) = crate::daemon::discover_plugins(bot).await;
    let Some(discovered) = found.into_iter().find(|d| d.manifest.name == name) else {
        return Err(NOT_FOUND.to_owned());
    };
    let policy = Policy::from_settings(&config.plugin_supervision(name));
    let slot = PluginSlot::new(discovered, policy);
    write(&bot.plugins).insert(name.to_owned(), slot.clone());
    let started = match slot.spawn(bot).await {
        Ok(described) => slot.activate(bot, described).await,
        Err(e) => Err(e),
    };
    let failure = started.as_ref().err().map(|e| e.reason.clone());
    slot.supervise(bot.clone(), started);
    bot.rebuild_registry();
    match failure {
        None => Ok(()),
        Some(why) => Err(why),
    }
}

/// A reload's report as lines: "reloaded FILE", then "applied: ...", "needs a restart: ...",
/// "failed: ...", "unchanged: ...", "note: ..." for those that are not empty.
pub fn report_lines(report: &ReloadConfigResponse) -> Vec<String> {
    let mut lines = vec![format!("reloaded {}", report.file)];
    let lists = [
        ("applied", &report.applied),
        ("needs a restart", &report.needs_restart),
        ("failed", &report.failed),
        ("unchanged", &report.unchanged),
        ("note", &report.notes),
    ];
    for (label, items) in lists {
        if !items.is_empty() {
            lines.push(format!("{label}: {}", items.join(", ")));
        }
    }
    if report.applied.is_empty() && report.failed.is_empty() && report.needs_restart.is_empty() {
        lines.push("nothing changed".to_owned());
    }
    lines
}

/// A reload's report in one line, for the log.
pub fn summary(report: &ReloadConfigResponse) -> String {
    report_lines(report).join("; ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("e.toml")).expect("valid")
    }

    #[test]
    fn nothing_changed() {
        let text = "[bot]\nprefix = \"?\"\n[plugins.hello]\ncommand_timeout_secs = 3\n";
        let p = plan(&config(text), &config(text), &["hello".into()]);
        assert_eq!(p.settings, Vec::<String>::new());
        assert_eq!(p.unchanged, ["bot", "access", "limits", "supervision"]);
        assert!(p.plugins.is_empty() && p.needs_restart.is_empty());
        assert!(p.backends_added.is_empty() && p.backends_changed.is_empty());
    }

    #[test]
    fn bot_and_access_settings_are_named() {
        let old = config("[bot]\nprefix = \"!\"\n");
        let new = config(
            "[bot]\nprefix = \"?\"\nadmins = [\"@x\"]\n[access]\nhide_restricted_access = true\n\
             [[access.rules]]\ncommand = \"echo\"\ndenyusers = \"*\"\n",
        );
        let p = plan(&old, &new, &[]);
        assert_eq!(
            p.settings,
            [
                "bot.prefix",
                "bot.admins",
                "access rules",
                "access.hide_restricted_access"
            ]
        );
        assert_eq!(p.unchanged, ["limits", "supervision"]);
    }

    #[test]
    fn moving_a_rule_in_the_file_is_no_change() {
        let old = config("[[access.rules]]\ncommand = \"echo\"\ndenyusers = \"*\"\n");
        let new = config("\n\n# moved\n[[access.rules]]\ncommand = \"echo\"\ndenyusers = \"*\"\n");
        assert!(plan(&old, &new, &[]).settings.is_empty());
    }

    #[test]
    fn plugins_follow_their_table_and_the_global_supervision() {
        let old = config("[plugins.a]\ncommand_timeout_secs = 3\n");
        let new = config("[plugins.a]\ncommand_timeout_secs = 4\n");
        let known = ["a".to_owned(), "b".to_owned()];
        assert_eq!(plan(&old, &new, &known).plugins, ["a"]);
        let new =
            config("[supervision]\nmax_restarts = 9\n[plugins.a]\ncommand_timeout_secs = 3\n");
        let p = plan(&old, &new, &known);
        assert_eq!(p.plugins, ["a", "b"]);
        assert_eq!(p.settings, ["supervision"]);
        // Its own table overrides the global one: nothing changes for it.
        let old = config("[plugins.a.supervision]\nmax_restarts = 2\n");
        let new =
            config("[supervision]\nmax_restarts = 9\n[plugins.a.supervision]\nmax_restarts = 2\n");
        assert_eq!(plan(&old, &new, &known).plugins, ["b"]);
    }

    #[test]
    fn backends_changed_added_removed() {
        let old = config(
            "[backends.a]\nkind = \"test\"\nx = 1\n[backends.b]\nkind = \"test\"\n\
             [backends.c]\nkind = \"test\"\n",
        );
        let new = config(
            "[backends.a]\nkind = \"test\"\nx = 2\n[backends.b]\nkind = \"test\"\n\
             [backends.d]\nkind = \"test\"\n",
        );
        let p = plan(&old, &new, &[]);
        assert_eq!(p.backends_changed, ["a"]);
        assert_eq!(p.backends_added, ["d"]);
        assert_eq!(p.backends_removed, ["c"]);
    }

    #[test]
    fn start_up_settings_need_a_restart() {
        let old = config("[paths]\ndata_dir = \"a\"\n");
        let new = config(
            "[paths]\ndata_dir = \"b\"\n[storage]\nurl = \"sqlite:x.db\"\n[log]\nlevel = \"debug\"\n",
        );
        let p = plan(&old, &new, &[]);
        assert_eq!(p.needs_restart, ["paths.data_dir", "storage", "log.level"]);
        assert!(p.settings.is_empty());
    }
}
