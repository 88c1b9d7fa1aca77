//! `plugin info NAME`: what a plugin is, its state, and the `Plugin:command` names its commands
//! have in access rules, with its command filters, callbacks and pollers. [`info`] gathers the facts (also served to
//! `errbotctl plugin info`), [`plugin_info`] writes the chat reply.

use std::fmt::Write as _;

use errbot_proto::v1::{Callback, CommandFilterSpec, CommandSpec, PluginInfoResponse};

use crate::bot::{Bot, read};
use crate::lifecycle::ActionError;

/// The `plugin info` command's declaration (in the "Plugins" group).
pub fn command() -> CommandSpec {
    super::cmd(
        "plugin_info",
        "Show a plugin's state, version, commands (as access rules name them) and command \
         filters: `!plugin info <name>`.",
        true,
        super::optional_rest("name", "the plugin"),
    )
}

/// The facts about plugin `name` (case-insensitive). Without a name, or with an unknown one,
/// the error's text lists the plugins.
pub fn info(bot: &Bot, name: &str) -> Result<PluginInfoResponse, ActionError> {
    let name = name.trim();
    let registry = bot.registry();
    let mut names: Vec<String> = bot.builtin_names();
    names.extend(read(&bot.plugins).keys().cloned());
    let listing: String = names.iter().map(|n| format!("\n- {n}")).collect();
    if name.is_empty() {
        return Err(ActionError::Usage(format!(
            "Please tell me which of the following plugins to describe:{listing}"
        )));
    }
    let Some(found) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) else {
        return Err(ActionError::NotFound(format!(
            "{name} isn't a valid plugin name. The current plugins are:{listing}"
        )));
    };
    let slot = bot.plugin(found);
    let description = slot.as_ref().and_then(|s| s.routable_description());
    let entry = registry.plugins().iter().find(|p| &p.name == found);
    let mut out = PluginInfoResponse {
        name: found.clone(),
        description: entry.map(|e| e.description.clone()).unwrap_or_default(),
        ..Default::default()
    };
    match &slot {
        None => out.state = "builtin".to_owned(),
        Some(slot) => {
            let record = slot.life.record();
            out.state = slot.life.state().as_str().to_owned();
            out.pid = record.pid;
            out.restarts = record.restarts;
            out.note = record.note;
        }
    }
    if let Some(d) = description {
        out.callbacks = d
            .callbacks()
            .filter(|c| *c != Callback::Unspecified)
            .map(|c| {
                c.as_str_name()
                    .trim_start_matches("CALLBACK_")
                    .to_lowercase()
            })
            .collect();
        out.version = d.version;
        out.depends_on = d.depends_on;
        out.command_filters = d
            .command_filters
            .into_iter()
            .map(|f| CommandFilterSpec {
                help: f.help.lines().next().unwrap_or_default().to_owned(),
                ..f
            })
            .collect();
    }
    (out.commands, out.command_specs) = registry
        .commands_of(found)
        .map(|c| {
            let spec = CommandSpec {
                name: c.name.clone(),
                ..c.spec.clone()
            };
            (format!("{}:{}", c.plugin, c.name), spec)
        })
        .unzip();
    if slot.is_some() {
        out.pollers = bot
            .pollers
            .list(Some(found))
            .iter()
            .map(crate::pollers::summary)
            .collect();
    }
    Ok(out)
}

/// The reply to `!plugin info name`.
pub fn plugin_info(bot: &Bot, name: &str) -> String {
    let info = match info(bot, name) {
        Ok(info) => info,
        Err(e) => return e.text().to_owned(),
    };
    let mut out = format!("### {}\n", info.name);
    if !info.description.is_empty() {
        let _ = writeln!(out, "{}\n", info.description);
    }
    if info.state == "builtin" {
        out.push_str("- **state**: built into errbotd\n");
    } else {
        let _ = writeln!(out, "- **state**: {}", info.state);
        if info.pid != 0 {
            let _ = writeln!(
                out,
                "- **process**: pid {}, {} restarts",
                info.pid, info.restarts
            );
        }
        if !info.note.is_empty() {
            let _ = writeln!(out, "- **note**: {}", info.note);
        }
    }
    if !info.version.is_empty() {
        let _ = writeln!(out, "- **version**: {}", info.version);
    }
    if !info.depends_on.is_empty() {
        let _ = writeln!(out, "- **depends on**: {}", info.depends_on.join(", "));
    }
    if !info.commands.is_empty() {
        let names: Vec<String> = info.commands.iter().map(|c| format!("`{c}`")).collect();
        let _ = writeln!(
            out,
            "- **commands** (as access rules name them): {}",
            names.join(", ")
        );
    }
    for f in &info.command_filters {
        let unknown = if f.catch_unprocessed {
            " (also sees messages that name no command)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "- **command filter** `{}`: {}{unknown}",
            f.name, f.help
        );
    }
    if !info.callbacks.is_empty() {
        let _ = writeln!(out, "- **callbacks**: {}", info.callbacks.join(", "));
    }
    for p in &info.pollers {
        let _ = writeln!(out, "- **poller** {p}");
    }
    out.trim_end().to_owned()
}
