//! `!repos`, `!repos search`, `!repos install`, `!repos uninstall`, `!repos update` (Errbot's
//! "Plugins" group): the chat side of [`crate::repos`], each message sent as it comes.

use std::sync::Arc;

use errbot_proto::v1::{CommandSpec, ExecuteRequest};

use super::cmd;
use crate::bot::Bot;
use crate::pipeline::deliver::ReplySink;

/// The commands, in the "Plugins" group.
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd(
            "repos",
            "List the installed plugin repositories (I installed, P private: not in the index).",
            false,
            vec![],
        ),
        cmd(
            "repos_search",
            "Search the plugin index by name and description: `!repos search <words>`.",
            false,
            vec![],
        ),
        cmd(
            "repos_install",
            "Install a plugin repository and start its plugins: `!repos install <name of the \
             index|git URL|owner/name> [branch or tag]`.",
            true,
            vec![],
        ),
        cmd(
            "repos_uninstall",
            "Stop the plugins of an installed repository and remove it: `!repos uninstall \
             <name>`.",
            true,
            vec![],
        ),
        cmd(
            "repos_update",
            "Pull installed repositories and reload their plugins without downtime: `!repos \
             update all` or `!repos update <name> ...`.",
            true,
            vec![],
        ),
    ]
}

/// Whether `command` is one of this module's.
pub fn owns(command: &str) -> bool {
    matches!(
        command,
        "repos" | "repos_search" | "repos_install" | "repos_uninstall" | "repos_update"
    )
}

/// Runs one of this module's commands.
pub async fn run(bot: &Arc<Bot>, sink: &ReplySink, request: &ExecuteRequest) -> Result<(), String> {
    let args = request.args.trim();
    match request.command.as_str() {
        "repos" => {
            let text = match crate::repos::list(bot).await {
                Ok(entries) => crate::repos::list_text(&entries),
                Err(e) => e.text().to_owned(),
            };
            sink.send_text(&text, false).await;
            return Ok(());
        }
        "repos_search" => {
            let text = match crate::repos::search(bot, args).await {
                Ok(entries) => crate::repos::search_text(args, &entries),
                Err(e) => e.text().to_owned(),
            };
            sink.send_text(&text, false).await;
            return Ok(());
        }
        _ => {}
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The sender goes with the operation: the messages end when it does.
    let operation = async move {
        match request.command.as_str() {
            "repos_install" => {
                let mut words = args.split_whitespace();
                let target = words.next().unwrap_or("");
                let reference = words.next();
                crate::repos::install(bot, target, reference, &tx).await
            }
            "repos_uninstall" => crate::repos::uninstall(bot, args, &tx).await,
            _ => {
                let names: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
                crate::repos::update(bot, &names, &tx).await
            }
        }
    };
    // Messages go out as the operation makes them.
    let forward = async {
        while let Some(text) = rx.recv().await {
            sink.send_text(&text, false).await;
        }
    };
    let (outcome, ()) = tokio::join!(operation, forward);
    if let Err(e) = outcome
        && !e.text().is_empty()
    {
        sink.send_text(e.text(), false).await;
    }
    Ok(())
}
