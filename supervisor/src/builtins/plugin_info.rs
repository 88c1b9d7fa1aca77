//! `plugin info NAME`: what a plugin is, its state, and the `Plugin:command` names its commands
//! have in access rules, with its command filters.

use std::fmt::Write as _;

use errbot_proto::v1::CommandSpec;

use crate::bot::{Bot, read};

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

/// The reply to `!plugin info name`.
pub fn plugin_info(bot: &Bot, name: &str) -> String {
    let name = name.trim();
    let registry = bot.registry();
    let mut names: Vec<String> = registry
        .plugins()
        .iter()
        .filter(|p| p.builtin)
        .map(|p| p.name.clone())
        .collect();
    names.extend(read(&bot.plugins).keys().cloned());
    let listing: String = names.iter().map(|n| format!("\n- {n}")).collect();
    if name.is_empty() {
        return format!("Please tell me which of the following plugins to describe:{listing}");
    }
    let Some(found) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) else {
        return format!("{name} isn't a valid plugin name. The current plugins are:{listing}");
    };
    let slot = bot.plugin(found);
    let description = slot.as_ref().and_then(|s| s.routable_description());
    let entry = registry.plugins().iter().find(|p| &p.name == found);
    let mut out = format!("### {found}\n");
    if let Some(e) = entry
        && !e.description.is_empty()
    {
        let _ = writeln!(out, "{}\n", e.description);
    }
    match &slot {
        None => out.push_str("- **state**: built into errbotd\n"),
        Some(slot) => {
            let record = slot.life.record();
            let _ = writeln!(out, "- **state**: {}", slot.life.state().as_str());
            if record.pid != 0 {
                let _ = writeln!(
                    out,
                    "- **process**: pid {}, {} restarts",
                    record.pid, record.restarts
                );
            }
            if !record.note.is_empty() {
                let _ = writeln!(out, "- **note**: {}", record.note);
            }
        }
    }
    if let Some(d) = &description {
        if !d.version.is_empty() {
            let _ = writeln!(out, "- **version**: {}", d.version);
        }
        if !d.depends_on.is_empty() {
            let _ = writeln!(out, "- **depends on**: {}", d.depends_on.join(", "));
        }
    }
    let commands: Vec<String> = registry
        .commands_of(found)
        .map(|c| format!("`{}:{}`", c.plugin, c.name))
        .collect();
    if !commands.is_empty() {
        let _ = writeln!(
            out,
            "- **commands** (as access rules name them): {}",
            commands.join(", ")
        );
    }
    if let Some(d) = &description {
        for f in &d.command_filters {
            let help = f.help.lines().next().unwrap_or_default();
            let unknown = if f.catch_unprocessed {
                " (also sees messages that name no command)"
            } else {
                ""
            };
            let _ = writeln!(out, "- **command filter** `{}`: {help}{unknown}", f.name);
        }
    }
    out.trim_end().to_owned()
}
