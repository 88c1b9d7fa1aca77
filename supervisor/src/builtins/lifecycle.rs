//! `plugin activate|deactivate|reload NAME`: the operator's hold on a plugin's process, shared by
//! the chat commands and errbotctl (ControlService.PluginAction), with Errbot's replies.

use std::fmt::Write as _;

use crate::bot::{Bot, read};
use crate::supervise::State;
use crate::supervise::plugin::Action;

/// Why an action was refused or failed; the text is the reply.
#[derive(Debug, PartialEq, Eq)]
pub enum ActionError {
    /// No name given: the text lists the candidates.
    Usage(String),
    /// No such plugin: the text lists the valid names.
    NotFound(String),
    /// Already in the asked state.
    Already(String),
    /// The plugin could not be started.
    Failed(String),
}

impl ActionError {
    /// The reply text.
    pub fn text(&self) -> &str {
        match self {
            ActionError::Usage(t)
            | ActionError::NotFound(t)
            | ActionError::Already(t)
            | ActionError::Failed(t) => t,
        }
    }
}

fn listing(bot: &Bot, active_only: bool) -> String {
    let mut out = String::new();
    for slot in read(&bot.plugins).values() {
        if !active_only || slot.life.state() == State::Running {
            let _ = write!(out, "\n- {}", slot.name);
        }
    }
    out
}

/// Carries out `action` on plugin `name` and returns the reply.
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
        return Err(ActionError::NotFound(format!(
            "{name} isn't a valid plugin name. The current plugins are:{}",
            listing(bot, false)
        )));
    };
    let state = slot.life.state();
    let active = matches!(state, State::Running | State::Restarting | State::Starting);
    match action {
        Action::Activate if state == State::Running => Err(ActionError::Already(format!(
            "{name} is already activated."
        ))),
        Action::Deactivate if !active => Err(ActionError::Already(format!(
            "{name} is already deactivated."
        ))),
        Action::Activate => match slot.act(action).await {
            Ok(()) => Ok(format!("Plugin {name} activated.")),
            Err(e) => Err(ActionError::Failed(format!("Error activating plugin: {e}"))),
        },
        Action::Deactivate => match slot.act(action).await {
            Ok(()) => Ok(format!("Plugin {name} deactivated.")),
            Err(e) => Err(ActionError::Already(e)),
        },
        Action::Reload => {
            let warning = if active {
                String::new()
            } else {
                format!(
                    "Warning: plugin {name} is currently not activated. Use `{}plugin activate \
                     {name}` to activate it.\n",
                    bot.prefixes.prefix()
                )
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
