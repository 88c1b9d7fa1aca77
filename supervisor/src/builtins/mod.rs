//! Commands built into errbotd, grouped as Errbot's core plugins are: Help, Health, Utils,
//! Plugins and Backup (the last two in [`plugins`]).
//! They are declared with the same `PluginDescription` as plugin processes, so dispatch, help and
//! argument parsing treat them exactly alike.

use std::fmt::Write as _;
use std::sync::Arc;

use errbot_proto::v1::{
    ArgMode, CommandSpec, ExecuteRequest, ParamKind, ParamSpec, ParamType, PlainCommand,
    PluginDescription, PluginEntry, command_spec,
};

mod certificate;
mod flows;
mod health;
mod repos;
mod rooms;

use crate::acl;
use crate::bot::{Bot, read};
use crate::pipeline::deliver::ReplySink;
use crate::pipeline::execute::{Ended, Executor};
use crate::registry::Command;
use crate::supervise::State;
use crate::web::webserver::ECHO_RULE;

pub mod plugin_info;
pub mod plugins;

fn cmd(name: &str, help: &str, admin_only: bool, params: Vec<ParamSpec>) -> CommandSpec {
    CommandSpec {
        name: name.into(),
        help: help.into(),
        admin_only,
        historize: true,
        kind: Some(command_spec::Kind::Plain(PlainCommand {
            arg_mode: ArgMode::Raw as i32,
            params,
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn flag(name: &str, help: &str) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        help: help.into(),
        r#type: ParamType::Boolean as i32,
        kind: ParamKind::Flag as i32,
        ..Default::default()
    }
}

fn optional_rest(name: &str, help: &str) -> Vec<ParamSpec> {
    vec![ParamSpec {
        name: name.into(),
        help: help.into(),
        r#type: ParamType::String as i32,
        rest: true,
        ..Default::default()
    }]
}

/// The built-in plugins and their commands.
pub fn descriptions() -> Vec<PluginDescription> {
    let plugin = |name: &str, description: &str, commands| PluginDescription {
        name: name.into(),
        description: description.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol_version: errbot_proto::contract::PROTOCOL_VERSION.into(),
        commands,
        ..Default::default()
    };
    vec![
        plugin(
            "Help",
            "Commands that explain the bot and its commands.",
            vec![
                cmd("about", "Return information about this bot.", false, vec![]),
                cmd(
                    "apropos",
                    "Find the commands whose help mentions a term: `!apropos <term>`.",
                    false,
                    optional_rest("term", "what to look for"),
                ),
                cmd(
                    "help",
                    "Returns a help string listing available options: every command, or the \
                     help of a plugin or a command (`!help <plugin>`, `!help <command>`).",
                    false,
                    optional_rest("topic", "a plugin or command name"),
                ),
            ],
        ),
        plugin(
            "Health",
            "Whether the bot is alive, how long it has been up and how its plugins are doing.",
            vec![
                cmd(
                    "status",
                    "Show that the bot is alive, its plugins and its load.",
                    false,
                    vec![],
                ),
                cmd(
                    "status_plugins",
                    "Show the state of every plugin: A activated, D deactivated, B blacklisted, \
                     C needs configuration, F failed to start.",
                    false,
                    vec![],
                ),
                cmd(
                    "uptime",
                    "Return how long the bot has been running.",
                    false,
                    vec![],
                ),
            ]
            .into_iter()
            .chain(health::commands(|name, help, admin_only| {
                let params = if name == "shutdown" {
                    vec![
                        flag("confirm", "really shut down"),
                        flag(
                            "kill",
                            "stop at once, without the orderly stop of the plugins",
                        ),
                    ]
                } else {
                    vec![]
                };
                cmd(name, help, admin_only, params)
            }))
            .collect(),
        ),
        plugin(
            "Plugins",
            "Manage the plugins (admins only): activate, deactivate, reload, configure, \
             blacklist and unblacklist them; install, update and uninstall plugin repositories.",
            {
                let mut commands = plugins::plugin_commands();
                commands.push(plugin_info::command());
                commands.push(cmd(
                    "plugin_list",
                    "List the plugins and their state, as `!status plugins` does.",
                    false,
                    vec![],
                ));
                commands.extend(repos::commands());
                commands
            },
        ),
        plugin(
            "Backup",
            "Back up everything the bot stores.",
            plugins::backup_commands(),
        ),
        plugin(
            "Utils",
            "Small utilities.",
            vec![
                cmd(
                    "echo",
                    "Repeat what you said: `!echo <text>`.",
                    false,
                    vec![],
                ),
                cmd(
                    "whoami",
                    "Show what the bot knows about you.",
                    false,
                    vec![],
                ),
                cmd(
                    "history",
                    "Show your last commands; `!!` repeats the last one and `!N` the Nth.",
                    false,
                    vec![],
                ),
                cmd(
                    "log_tail",
                    "Show the last lines of errbotd's log (40 unless told): `!log tail [n]`.",
                    true,
                    optional_rest("n", "how many lines"),
                ),
            ],
        ),
        rooms::description(|name, help, admin_only| cmd(name, help, admin_only, vec![])),
        flows::description(|name, help, admin_only| cmd(name, help, admin_only, vec![])),
        plugin(
            "Webserver",
            "errbotd's web server: the plugins' webhooks, and its certificate.",
            vec![
                cmd(
                    "webstatus",
                    "Show whether the web server runs, where, and the webhooks it serves.",
                    false,
                    vec![],
                ),
                cmd(
                    "generate_certificate",
                    "Make a self-signed certificate and key for the web server's HTTPS in the \
                     data directory: `!generate certificate [NAME ...]` (for localhost, \
                     127.0.0.1, the listen address and the NAMEs).",
                    true,
                    vec![],
                ),
                cmd(
                    "webhook_test",
                    "Try a webhook from the chat: `!webhook test /path [body]` POSTs the body \
                     (sent as JSON when it parses as JSON, a form when it looks like one, else \
                     text) and shows the answer.",
                    true,
                    vec![],
                ),
            ],
        ),
    ]
}

/// The commands built into errbotd, run in errbotd itself.
pub struct Builtins;

impl Executor for Builtins {
    fn execute<'a>(
        &'a self,
        bot: &'a Arc<Bot>,
        sink: &'a ReplySink,
        request: ExecuteRequest,
    ) -> futures::future::BoxFuture<'a, Result<Ended, String>> {
        Box::pin(async move { run(bot, sink, &request).await.map(|()| Ended::Done(None)) })
    }
}

/// Runs built-in command `request.command`.
async fn run(bot: &Arc<Bot>, sink: &ReplySink, request: &ExecuteRequest) -> Result<(), String> {
    if rooms::owns(&request.command) {
        return rooms::run(bot, sink, request).await;
    }
    if health::owns(&request.command) {
        return health::run(bot, sink, request).await;
    }
    if flows::owns(&request.command) {
        return flows::run(bot, sink, request).await;
    }
    if repos::owns(&request.command) {
        return repos::run(bot, sink, request).await;
    }
    let message = request.message.clone().unwrap_or_default();
    // Under `access.hide_restricted_commands`, listings skip what the sender may not run.
    let config = bot.config();
    let visible = |c: &Command| c.listed() && acl::may_see(&config, c, &message, sink.backend());
    let text = match request.command.as_str() {
        "about" => about(),
        "apropos" => apropos(bot, &request.args, &visible),
        "help" => help(bot, request.args.trim(), &visible),
        "status" => status(bot),
        "status_plugins" | "plugin_list" => status_plugins(bot),
        "uptime" => uptime(bot),
        "echo" => request.args.clone(),
        "whoami" => whoami(request),
        "history" => history(bot, request),
        "log_tail" => log_tail(&request.args),
        "plugin_info" => plugin_info::plugin_info(bot, &request.args),
        "webstatus" => webstatus(bot),
        "webhook_test" => webhook_test(bot, &request.args).await,
        "generate_certificate" => return certificate::generate(bot, sink, &request.args).await,
        name if plugins::handles(name) => return plugins::run(bot, sink, request).await,
        other => return Err(format!("unknown built-in command {other}")),
    };
    sink.send_text(&text, false).await;
    Ok(())
}

/// `!webhook test /path [body]` (Errbot's): a POST made inside errbotd, its status and body.
async fn webhook_test(bot: &Arc<Bot>, args: &str) -> String {
    let Some(settings) = bot.web.settings() else {
        return web_off(bot);
    };
    let args = args.trim();
    let (path, body) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let body = body.trim();
    if !path.starts_with('/') {
        return "Usage: `!webhook test /path [body]` (the path starts with `/`).".to_owned();
    }
    let content_type = if serde_json::from_str::<serde::de::IgnoredAny>(body).is_ok() {
        "application/json"
    } else if body.contains('=') && !body.contains(char::is_whitespace) {
        "application/x-www-form-urlencoded"
    } else {
        "text/plain"
    };
    match crate::web::test_request(bot, settings, path, content_type, body.to_owned()).await {
        Ok(answer) => {
            const SHOWN: usize = 2000;
            let mut shown: String = answer.body.chars().take(SHOWN).collect();
            if answer.body.chars().count() > SHOWN {
                shown.push('…');
            }
            // Errbot's report, then the answer's body.
            format!(
                "**Test Report**\nURL: `{path}`\nContent: `{body}`\nDetected your post as: \
                 {content_type}\nStatus code: {}\n```\n{shown}\n```",
                answer.status
            )
        }
        Err(e) => format!("The request could not be made: {e}"),
    }
}

/// What to say when the web server is off.
fn web_off(bot: &Bot) -> String {
    format!(
        "The web server is off: configure it with `{}plugin config Webserver {{'HOST': \
         '127.0.0.1', 'PORT': 3141}}` or a `[web]` table in errbot.toml (`listen = \
         \"127.0.0.1:3141\"`) to serve webhooks.",
        bot.prefix()
    )
}

/// `!webstatus`: the server's address and every webhook route.
fn webstatus(bot: &Bot) -> String {
    let Some(web) = bot.web.settings() else {
        return web_off(bot);
    };
    let registry = bot.registry();
    let scheme = if web.tls_cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    let mut out = format!("Web server listening on {scheme}://{}\n\n", web.listen);
    if registry.webhooks().is_empty() {
        out.push_str("No plugin serves a webhook.\n\n");
    }
    out.push_str("| Route | Methods | Body | Plugin | Webhook |\n");
    out.push_str("| ----- | ------- | ---- | ------ | ------- |\n");
    for route in registry.webhooks() {
        let body = if route.spec.body.is_empty() {
            "json"
        } else {
            route.spec.body.as_str()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {body} | {} | {} |",
            route.spec.uri_rule,
            route.methods().join(", "),
            route.plugin,
            route.spec.name
        );
    }
    if !registry
        .webhooks()
        .iter()
        .any(|r| r.spec.uri_rule == ECHO_RULE)
    {
        let _ = writeln!(out, "| {ECHO_RULE} | GET, POST | json | errbotd | echo |");
    }
    out
}

fn about() -> String {
    format!(
        "This is **errbot-rs** {}: Errbot's chat bot rebuilt as a supervisor with plugins in \
         separate processes, speaking gRPC. Licensed under the GPL v3.",
        env!("CARGO_PKG_VERSION")
    )
}

fn usage_of(bot: &Bot, c: &Command) -> String {
    let invocation = format!("{}{}", bot.prefix(), c.display_name());
    match &c.spec.kind {
        Some(command_spec::Kind::Plain(p)) => {
            crate::dispatch::args::usage(&invocation, &p.params, &c.spec.syntax)
                .trim_start_matches("Usage: ")
                .to_owned()
        }
        Some(command_spec::Kind::Regex(r)) => format!("{invocation} (matches /{}/)", r.pattern),
        None => invocation,
    }
}

fn line_for(bot: &Bot, c: &Command) -> String {
    format!("- **{}** - {}", usage_of(bot, c), c.summary())
}

fn help(bot: &Bot, topic: &str, visible: &dyn Fn(&Command) -> bool) -> String {
    let registry = bot.registry();
    let prefix = bot.prefix();
    if topic.is_empty() {
        let mut out = String::from("### All commands\n");
        for plugin in registry.plugins() {
            let listed: Vec<_> = registry
                .commands_of(&plugin.name)
                .filter(|c| visible(c))
                .collect();
            if listed.is_empty() {
                continue;
            }
            let _ = write!(out, "\n**{}**: {}\n", plugin.name, plugin.description);
            for c in listed {
                out.push_str(&line_for(bot, c));
                out.push('\n');
            }
        }
        let _ = write!(
            out,
            "\nType `{prefix}help <command>` or `{prefix}help <plugin>` for more."
        );
        return out;
    }
    let topic_words: Vec<&str> = topic
        .trim_start_matches(prefix.as_str())
        .split_whitespace()
        .collect();
    if let Some(plugin) = registry
        .plugins()
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(topic))
    {
        let mut out = format!("### {}\n{}\n\n", plugin.name, plugin.description);
        for c in registry.commands_of(&plugin.name).filter(|c| visible(c)) {
            out.push_str(&line_for(bot, c));
            out.push('\n');
        }
        return out.trim_end().to_owned();
    }
    if let Some((c, n)) = registry.lookup(&topic_words)
        && n == topic_words.len()
    {
        return format!("**{}**\n\n{}", usage_of(bot, &c), c.spec.help.trim());
    }
    // A regex command by its name (`re_foo`, or `re foo` as Errbot also takes it).
    let name = topic_words.join("_").to_lowercase();
    if let Some(c) = registry
        .commands()
        .iter()
        .find(|c| c.is_regex() && visible(c) && c.name.to_lowercase() == name)
    {
        return format!("**{}**\n\n{}", usage_of(bot, c), c.spec.help.trim());
    }
    "That command is not defined.".to_owned()
}

fn apropos(bot: &Bot, term: &str, visible: &dyn Fn(&Command) -> bool) -> String {
    let term = term.trim();
    let prefix = bot.prefix();
    if term.is_empty() {
        return format!("Usage: {prefix}apropos <term>");
    }
    let needle = term.to_lowercase();
    let registry = bot.registry();
    let lines: Vec<String> = registry
        .commands()
        .iter()
        .filter(|c| visible(c))
        .filter(|c| {
            c.display_name().contains(&needle) || c.spec.help.to_lowercase().contains(&needle)
        })
        .map(|c| format!("- {}: {}", usage_of(bot, c), c.summary()))
        .collect();
    if lines.is_empty() {
        format!("Sorry, I could not find any command matching \"{term}\".")
    } else {
        format!("Commands matching \"{term}\":\n{}", lines.join("\n"))
    }
}

fn status(bot: &Bot) -> String {
    let mut out = String::from("Yes I am alive...\n\n");
    out.push_str(&status_plugins(bot));
    out.push_str("\n\n| Process | State | Pid | Up | Restarts | Last exit |\n");
    out.push_str("| ------- | ----- | --- | -- | -------- | --------- |\n");
    for c in bot.child_statuses() {
        let _ = writeln!(
            out,
            "| {} ({}) | {} | {} | {} s | {} | {} |",
            c.name,
            c.kind,
            c.state,
            c.pid,
            c.uptime_seconds,
            c.restarts,
            c.last_exit.replace('|', "/")
        );
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let avg: Vec<&str> = load.split_whitespace().take(3).collect();
        let _ = write!(out, "\n\n**Load**: {}", avg.join(", "));
    }
    if let Some(kib) = own_rss_kib() {
        let _ = write!(
            out,
            "\n**Memory** (errbotd): {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
    out
}

fn own_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every plugin with its state, as `!status plugins` and `errbotctl plugin list` show them:
/// the built-in ones first, then the others by name.
pub fn plugin_entries(bot: &Bot) -> Vec<PluginEntry> {
    let entry = |name: &str, letter: &str, state: &str, note: &str| PluginEntry {
        name: name.to_owned(),
        letter: letter.to_owned(),
        state: state.to_owned(),
        note: note.to_owned(),
    };
    // Built-in plugins (deactivated or blacklisted ones too), then the plugins; a blacklisted
    // plugin is deactivated as well: "B,D", as Errbot shows it.
    let mut rows: Vec<PluginEntry> = bot
        .builtin_names()
        .iter()
        .map(|name| {
            let (letters, state) = if bot.storage.is_blacklisted(name) {
                ("B,D", State::Blacklisted.as_str())
            } else if bot.builtin_active(name) {
                ("A", "builtin")
            } else {
                ("D", State::Deactivated.as_str())
            };
            entry(name, letters, state, "")
        })
        .collect();
    for slot in read(&bot.plugins).values() {
        let state = slot.life.state();
        let note = slot.life.record().note;
        let (letter, note) = match state {
            State::Running => ("A", ""),
            State::Starting | State::Restarting => ("R", note.as_str()),
            State::Deactivated | State::Stopped => ("D", ""),
            State::Blacklisted => ("B,D", ""),
            State::Unconfigured => ("C", note.as_str()),
            State::Failed => ("F", note.as_str()),
        };
        rows.push(entry(&slot.name, letter, state.as_str(), note));
    }
    rows
}

fn status_plugins(bot: &Bot) -> String {
    let mut out = String::from("| Status | Plugin |\n| ------ | ------ |\n");
    for p in plugin_entries(bot) {
        if p.note.is_empty() {
            let _ = writeln!(out, "| {} | {} |", p.letter, p.name);
        } else {
            let _ = writeln!(out, "| {} | {} ({}) |", p.letter, p.name, p.note);
        }
    }
    out.push_str(
        "\nA = Activated, D = Deactivated, B = Blacklisted, C = Needs to be configured, \
         R = Restarting, F = Failed",
    );
    out
}

fn uptime(bot: &Bot) -> String {
    let secs = bot.started.elapsed().as_secs();
    let since = bot
        .started_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| format_utc(d.as_secs()))
        .unwrap_or_default();
    format!(
        "I've been up for {} days, {} hours, {} minutes and {} seconds (since {since}).",
        secs / 86_400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time.
fn format_utc(unix: u64) -> String {
    let (year, month, day, h, m, s) = crate::clock::civil_utc(unix);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

fn whoami(request: &ExecuteRequest) -> String {
    let m = request.message.clone().unwrap_or_default();
    let f = m.from.unwrap_or_default();
    let row = |k: &str, v: &str| {
        if v.is_empty() {
            String::new()
        } else {
            format!("| {k} | `{v}` |\n")
        }
    };
    let mut out = String::from("| key | value |\n| --- | --- |\n");
    out.push_str(&row("person", &f.person));
    out.push_str(&row("nick", &f.nick));
    out.push_str(&row("fullname", &f.fullname));
    out.push_str(&row("email", &f.email));
    out.push_str(&row("client", &f.client));
    out.push_str(&row("room", &f.room));
    out.push_str(&row("backend", &f.backend));
    out.push_str(&row("acl", acl::acl_of(&f)));
    let _ = write!(out, "\n- string representation is `{}`", f.display);
    let _ = write!(
        out,
        "\n- admin: {}",
        if request.sender_is_admin { "yes" } else { "no" }
    );
    out
}

/// Lines `!log tail` shows unless told (as Errbot).
const LOG_TAIL_LINES: usize = 40;

fn log_tail(args: &str) -> String {
    let args = args.trim();
    let n = match args {
        "" => LOG_TAIL_LINES,
        n => match n.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return format!("Usage: log tail [n]: n is a number of lines, not {args:?}."),
        },
    };
    let lines = crate::logring::LogRing::global().tail(n);
    if lines.is_empty() {
        return "The log is empty.".to_owned();
    }
    let text: Vec<&str> = lines.iter().map(|l| &**l).collect();
    format!("```\n{}\n```", text.join("\n"))
}

fn history(bot: &Bot, request: &ExecuteRequest) -> String {
    let person = request
        .message
        .as_ref()
        .and_then(|m| m.from.as_ref())
        .map(|f| f.person.as_str());
    let list = bot.history.list(person.unwrap_or_default());
    let n = list.len();
    let prefix = bot.prefix();
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let name = e.command.replace('_', " ");
            let line = format!("{:2}:{prefix}{name} {}", n - i, e.args);
            line.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::format_utc;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_795_306_332), "2026-11-22 00:12:12 UTC");
    }

    #[test]
    fn every_built_in_plugin_has_a_core_plugins_name() {
        for d in super::descriptions() {
            assert!(
                crate::config::CORE_PLUGINS.contains(&d.name.as_str()),
                "{} cannot be named in core_plugins",
                d.name
            );
        }
    }
}
