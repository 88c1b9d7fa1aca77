//! Built-in commands of Errbot's "Plugins" group (`plugin activate|deactivate|reload|config|
//! blacklist|unblacklist`) and of its "Backup" group (`backup`). The work itself is in
//! [`crate::lifecycle`] and [`crate::storage`].

use std::sync::Arc;

use errbot_proto::v1::{ExecuteRequest, ParamSpec, ParamType};

use super::cmd;
use crate::bot::Bot;
use crate::pipeline::deliver::ReplySink;
use crate::supervise::plugin::Action;
use crate::web::webserver;

fn name_param() -> ParamSpec {
    ParamSpec {
        name: "name".into(),
        help: "the plugin's name".into(),
        r#type: ParamType::String as i32,
        required: true,
        ..Default::default()
    }
}

/// The commands of this module that belong to the "Plugins" group.
pub fn plugin_commands() -> Vec<errbot_proto::v1::CommandSpec> {
    let mut config = cmd(
        "plugin_config",
        "Show a plugin's configuration template and current configuration, or configure it: \
         `!plugin config <name>`, then `!plugin config <name> {\"KEY\": \"value\"}` (JSON with \
         the template's shape). The plugin is reactivated with the new configuration.",
        true,
        vec![
            name_param(),
            ParamSpec {
                name: "config".into(),
                help: "the new configuration, as JSON".into(),
                r#type: ParamType::String as i32,
                rest: true,
                ..Default::default()
            },
        ],
    );
    // Configurations may hold secrets: keep them out of the (stored) command history.
    config.historize = false;
    vec![
        cmd(
            "plugin_activate",
            "Start a plugin that is deactivated or failed: `!plugin activate <name>`.",
            true,
            super::optional_rest("name", "the plugin"),
        ),
        cmd(
            "plugin_deactivate",
            "Stop a plugin until it is activated again: `!plugin deactivate <name>`.",
            true,
            super::optional_rest("name", "the plugin"),
        ),
        cmd(
            "plugin_reload",
            "Replace a plugin's process with a fresh one, without downtime: \
             `!plugin reload <name>`.",
            true,
            super::optional_rest("name", "the plugin"),
        ),
        config,
        cmd(
            "plugin_blacklist",
            "Blacklist a plugin so that it is not started with the bot; a running plugin is \
             deactivated and stopped: `!plugin blacklist <name>`.",
            true,
            vec![name_param()],
        ),
        cmd(
            "plugin_unblacklist",
            "Remove a plugin from the blacklist and start it: `!plugin unblacklist <name>`.",
            true,
            vec![name_param()],
        ),
    ]
}

/// The commands of the "Backup" group.
pub fn backup_commands() -> Vec<errbot_proto::v1::CommandSpec> {
    vec![cmd(
        "backup",
        "Back up everything the bot stores (every plugin's data, configurations, blacklist) \
         into `backup.json` in the data directory; `errbotctl restore FILE` restores it.",
        true,
        vec![],
    )]
}

/// Whether `command` is one of this module's.
pub fn handles(command: &str) -> bool {
    matches!(
        command,
        "plugin_activate"
            | "plugin_deactivate"
            | "plugin_reload"
            | "plugin_config"
            | "plugin_blacklist"
            | "plugin_unblacklist"
            | "backup"
    )
}

fn param<'a>(request: &'a ExecuteRequest, name: &str) -> &'a str {
    request
        .params
        .get(name)
        .and_then(|v| v.values.first())
        .map_or("", String::as_str)
}

/// Runs one of this module's commands.
pub async fn run(bot: &Arc<Bot>, sink: &ReplySink, request: &ExecuteRequest) -> Result<(), String> {
    let name = param(request, "name").trim();
    let text = match request.command.as_str() {
        "plugin_activate" | "plugin_deactivate" | "plugin_reload" => {
            let action = match request.command.as_str() {
                "plugin_activate" => Action::Activate,
                "plugin_deactivate" => Action::Deactivate,
                _ => Action::Reload,
            };
            reply_of(crate::lifecycle::plugin_action(bot, action, &request.args).await)
        }
        // Errbot's Webserver plugin is errbotd's web server, unless a plugin has its name.
        "plugin_config" if name == webserver::NAME && bot.plugin(name).is_none() => {
            webserver::configure(bot, param(request, "config")).await
        }
        "plugin_config" => crate::lifecycle::configure(bot, name, param(request, "config")).await,
        "plugin_blacklist" => reply_of(crate::lifecycle::blacklist(bot, name).await),
        "plugin_unblacklist" => reply_of(crate::lifecycle::unblacklist(bot, name).await),
        "backup" => backup(bot).await?,
        other => return Err(format!("unknown built-in command {other}")),
    };
    // Errbot sends a reload's warning as a message of its own, then the outcome.
    if let Some((warning, rest)) = text.split_once('\n')
        && warning.starts_with("Warning: ")
    {
        sink.send_text(warning, false).await;
        sink.send_text(rest, false).await;
    } else {
        sink.send_text(&text, false).await;
    }
    Ok(())
}

/// The chat reply to an operator's change: what was done, or why not.
fn reply_of(result: Result<String, crate::lifecycle::ActionError>) -> String {
    result.unwrap_or_else(|e| e.text().to_owned())
}

/// Writes `<data_dir>/backup.json` (mode 0600, through a temporary file).
async fn backup(bot: &Bot) -> Result<String, String> {
    bot.storage
        .flush_history(&bot.history)
        .await
        .map_err(|e| e.to_string())?;
    let (text, summary) = crate::storage::backup::backup(&bot.storage.store)
        .await
        .map_err(|e| e.to_string())?;
    let path = bot.config().data_dir().join("backup.json");
    crate::storage::backup::write_private(&path, &text)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(format!(
        "The backup file has been written in '{}' ({} namespaces, {} keys).",
        path.display(),
        summary.namespaces,
        summary.keys
    ))
}
