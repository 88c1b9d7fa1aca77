//! The Flows commands (Errbot's core plugin of that name, with its reply texts): `!flows list`,
//! `!flows show NAME`, `!flows start NAME [json]`, `!flows status [NAME]`, `!flows stop
//! [NAME]`, and `!flows kill USER NAME` (admins: Errbot documents it so but lets anyone).
//! The flows themselves are run by [`crate::flows`].

use std::fmt::Write as _;
use std::sync::Arc;

use errbot_proto::v1::{CommandSpec, ExecuteRequest, PluginDescription};

use crate::bot::Bot;
use crate::flows::place_of;
use crate::flows::state::{InFlight, Place, parse_context};
use crate::pipeline::deliver::ReplySink;

/// The Flows plugin, its commands made by `cmd(name, help, admin_only)`.
pub fn description(cmd: impl Fn(&str, &str, bool) -> CommandSpec) -> PluginDescription {
    PluginDescription {
        name: "Flows".into(),
        description: "Conversation flows: guided sequences of commands that plugins declare."
            .into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol_version: errbot_proto::contract::PROTOCOL_VERSION.into(),
        commands: vec![
            cmd("flows_list", "Displays the list of setup flows.", false),
            cmd(
                "flows_show",
                "Shows the structure of a flow: `!flows show <name>`.",
                false,
            ),
            cmd(
                "flows_start",
                "Manually start a flow within the context of the calling user: `!flows start \
                 <name> [initial_payload]`; the payload, a JSON object, prefeeds the flow's \
                 context.",
                false,
            ),
            cmd(
                "flows_status",
                "Displays the list of started flows: `!flows status [name]`.",
                false,
            ),
            cmd(
                "flows_stop",
                "Stop flows you are in; optionally, a specific one: `!flows stop [name]`.",
                false,
            ),
            cmd(
                "flows_kill",
                "Admin command to kill a specific flow: `!flows kill <user> <flow_name>`.",
                true,
            ),
        ],
        ..Default::default()
    }
}

/// Whether `command` is one of these.
pub fn owns(command: &str) -> bool {
    command.starts_with("flows_")
}

/// Runs one of these commands.
pub async fn run(bot: &Arc<Bot>, sink: &ReplySink, request: &ExecuteRequest) -> Result<(), String> {
    let message = request.message.clone().unwrap_or_default();
    let who = place_of(sink.backend(), &message);
    let shown = crate::flows::shown(&message);
    let args = request.args.trim();
    let text = match request.command.as_str() {
        "flows_list" => list(bot),
        "flows_show" => show(bot, args),
        "flows_start" => start(bot, &who, &shown, args).await,
        "flows_status" => status(bot, &who, &shown, request.sender_is_admin, args),
        "flows_stop" => stop(bot, &who, args).await,
        "flows_kill" => kill(bot, args).await,
        other => return Err(format!("unknown built-in command {other}")),
    };
    sink.send_text(&text, false).await;
    Ok(())
}

fn list(bot: &Bot) -> String {
    let registry = bot.registry();
    if registry.flows().is_empty() {
        return "No flows: no active plugin declares one.".into();
    }
    let mut out = String::new();
    for flow in registry.flows() {
        let description = if flow.description.is_empty() {
            "No description"
        } else {
            &flow.description
        };
        let _ = writeln!(out, "- **{}** {description}", flow.name);
    }
    out
}

fn show(bot: &Bot, name: &str) -> String {
    if name.is_empty() {
        return "You need to specify a flow name.".into();
    }
    let registry = bot.registry();
    match registry.flow(name) {
        Some(flow) => flow.tree(Some(&registry), None),
        None => format!("Flow {name} doesn't exist."),
    }
}

async fn start(bot: &Bot, who: &Place, shown: &str, args: &str) -> String {
    let (name, payload) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    if name.is_empty() {
        return "You need to specify a flow to manually start".into();
    }
    let payload = payload.trim();
    let context = match parse_context(payload) {
        Ok(context) => context,
        Err(e) => return format!("Cannot parse json {payload}: {e}."),
    };
    let registry = bot.registry();
    let started = bot
        .flows
        .start(&bot.storage.store, &registry, who, shown, name, context)
        .await;
    match started {
        Ok(_) => format!("Flow **{name}** started ..."),
        Err(why) => why,
    }
}

/// Whether the person at `who` may see the flow at `place`: theirs, or their room's.
fn is_theirs(who: &Place, place: &Place) -> bool {
    crate::flows::places(who).any(|p| p == *place)
}

fn status(bot: &Bot, who: &Place, shown: &str, admin: bool, name: &str) -> String {
    let all = bot.flows.list();
    if all.is_empty() {
        return "No Flow started.".into();
    }
    let visible: Vec<&(Place, InFlight)> = all
        .iter()
        .filter(|(place, flow)| {
            (admin || is_theirs(who, place)) && (name.is_empty() || flow.flow == name)
        })
        .collect();
    if visible.is_empty() {
        return format!("No Flow started for current user: {shown}.");
    }
    let registry = bot.registry();
    let prefix = bot.prefix();
    let mut out = String::new();
    for (place, flow) in visible {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        let Some(def) = registry.flow(&flow.flow) else {
            let _ = write!(
                out,
                "{} is using flow **{}**, whose plugin is not running now.",
                flow.started_by, flow.flow
            );
            continue;
        };
        let whose = if place.is_room_wide() {
            format!("the room {}", place.room)
        } else {
            flow.started_by.clone()
        };
        let node = crate::flows::node_of(def, flow);
        if name.is_empty() {
            let next = def.next_invocations(node, &registry, &prefix).join(", ");
            let _ = write!(
                out,
                // Errbot's `>>>` mark (escaped: not a Markdown quote).
                "\\>>> {whose} is using flow **{}** on step **{}**\nNext Step(s): {}",
                flow.flow,
                def.step_name(node),
                if next.is_empty() { "none" } else { &next }
            );
        } else {
            out.push_str(&def.tree(Some(&registry), Some((node, &whose))));
        }
    }
    out
}

async fn stop(bot: &Bot, who: &Place, name: &str) -> String {
    let store = &bot.storage.store;
    if !name.is_empty() {
        let stopped = bot
            .flows
            .stop(store, |place, flow| {
                flow.flow == name && is_theirs(who, place)
            })
            .await;
        return match stopped.first() {
            Some((_, flow)) => format!("{} stopped.", flow.flow),
            None => "Flow not found.".into(),
        };
    }
    let stopped = bot.flows.stop(store, |place, _| place == who).await;
    if stopped.is_empty() {
        return "No Flow found.".into();
    }
    stopped
        .iter()
        .map(|(_, flow)| format!("{} stopped.", flow.flow))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn kill(bot: &Bot, args: &str) -> String {
    let mut words = args.split_whitespace();
    let (Some(user), Some(name), None) = (words.next(), words.next(), words.next()) else {
        return "usage: !flows kill <user> <flow_name>".into();
    };
    let bare = user.trim_start_matches('@');
    let stopped = bot
        .flows
        .stop(&bot.storage.store, |place, flow| {
            flow.flow == name
                && [flow.started_by.as_str(), place.person.as_str()]
                    .iter()
                    .any(|s| *s == user || s.trim_start_matches('@') == bare)
        })
        .await;
    match stopped.first() {
        Some((_, flow)) => format!("{} killed.", flow.flow),
        None => "Flow not found.".into(),
    }
}
