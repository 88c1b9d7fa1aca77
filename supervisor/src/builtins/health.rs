//! The Health commands beyond `!status`: `!status load`, `!status gc` (memory figures: errbotd
//! has no garbage collector), `!restart` and `!shutdown` (admins), and `!render test`.

use std::fmt::Write as _;
use std::sync::Arc;

use errbot_proto::v1::{CommandSpec, ExecuteRequest};

use crate::bot::Bot;
use crate::pipeline::deliver::ReplySink;

/// The commands, declared as `cmd(name, help, admin_only)` makes them.
pub fn commands(cmd: impl Fn(&str, &str, bool) -> CommandSpec) -> Vec<CommandSpec> {
    vec![
        cmd(
            "status_load",
            "Show the machine's load and errbotd's CPU time.",
            false,
        ),
        cmd(
            "status_gc",
            "Show the memory of errbotd and of each of its processes.",
            false,
        ),
        cmd(
            "restart",
            "Restart the bot: every process stops and starts again.",
            true,
        ),
        cmd(
            "shutdown",
            "Shut the bot down: `!shutdown --confirm`; `--kill` stops at once, without the \
             orderly stop of the plugins.",
            true,
        ),
        cmd(
            "render_test",
            "Show how this chat service renders Markdown: headings, emphasis, code, lists, \
             links and a table.",
            false,
        ),
    ]
}

/// Whether `command` is one of these.
pub fn owns(command: &str) -> bool {
    matches!(
        command,
        "status_load" | "status_gc" | "restart" | "shutdown" | "render_test"
    )
}

/// Runs one of these commands.
pub async fn run(bot: &Arc<Bot>, sink: &ReplySink, request: &ExecuteRequest) -> Result<(), String> {
    let text = match request.command.as_str() {
        "status_load" => load(bot),
        "status_gc" => memory(bot),
        "render_test" => RENDER_TEST.to_owned(),
        "restart" => {
            sink.send_text_now("Deactivating all the plugins and restarting...")
                .await;
            tracing::info!("restart asked in the chat");
            bot.request_restart("restart asked in the chat");
            return Ok(());
        }
        "shutdown" => return shutdown(bot, sink, request).await,
        other => return Err(format!("unknown built-in command {other}")),
    };
    sink.send_text(&text, false).await;
    Ok(())
}

async fn shutdown(bot: &Bot, sink: &ReplySink, request: &ExecuteRequest) -> Result<(), String> {
    let given = |flag: &str| {
        request
            .params
            .get(flag)
            .is_some_and(|v| v.values.iter().any(|x| x == "true"))
    };
    if !given("confirm") {
        sink.send_text(
            "Please provide `--confirm` to confirm you really want me to shut down.",
            false,
        )
        .await;
        return Ok(());
    }
    if given("kill") {
        sink.send_text_now("Killing myself right now!").await;
        tracing::warn!("shutdown --kill asked in the chat: exiting at once");
        // The children die with errbotd (parent-death signal).
        std::process::exit(0);
    }
    sink.send_text_now("Roger that. I am shutting down.").await;
    bot.request_shutdown("shutdown asked in the chat");
    Ok(())
}

fn load(bot: &Bot) -> String {
    let mut out = String::new();
    match std::fs::read_to_string("/proc/loadavg") {
        Ok(l) => {
            let avg: Vec<&str> = l.split_whitespace().take(3).collect();
            let _ = writeln!(out, "**Load** (1, 5, 15 min): {}", avg.join(", "));
        }
        Err(_) => out.push_str("**Load**: unknown on this system\n"),
    }
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let _ = writeln!(out, "**Cores**: {cores}");
    if let Some((user, system)) = cpu_seconds("self") {
        let _ = writeln!(
            out,
            "**CPU** (errbotd): {user:.2} s user, {system:.2} s system in {} s",
            bot.started.elapsed().as_secs()
        );
    }
    let _ = write!(out, "**Messages in progress**: {}", *bot.inflight.borrow());
    out
}

fn memory(bot: &Bot) -> String {
    let mut out =
        String::from("| Process | Pid | Memory (RSS) |\n| ------- | --- | ------------ |\n");
    let mut total = 0;
    let mut row = |name: &str, pid: String, kib: Option<u64>| {
        total += kib.unwrap_or(0);
        let shown = kib.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        let _ = writeln!(out, "| {name} | {pid} | {shown} |");
    };
    row("errbotd", std::process::id().to_string(), rss_kib("self"));
    for child in bot.child_statuses() {
        let kib = (child.pid != 0)
            .then(|| rss_kib(&child.pid.to_string()))
            .flatten();
        row(
            &format!("{} ({})", child.name, child.kind),
            child.pid.to_string(),
            kib,
        );
    }
    let _ = write!(out, "\n**Total**: {:.1} MiB", total as f64 / 1024.0);
    out
}

/// Resident memory of process `pid` (`self` for errbotd), in KiB.
fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User and system CPU seconds of process `pid`.
fn cpu_seconds(pid: &str) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, inside parentheses).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)? as f64;
    // utime and stime are fields 14 and 15 of stat(5): 12 and 13 after the state.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user / ticks, system / ticks))
}

/// The Markdown of `!render test`.
const RENDER_TEST: &str = "\
# Header 1
## Header 2
### Header 3

A paragraph with **bold**, *italics*, ~~strike-through~~ and `inline code`, and a link to \
[errbot-rs](https://github.com/errbotio/errbot).

- a list item
- another one, with **bold**
  - nested

1. first
2. second

> a quote

```
a code block
    keeps its spaces
```

| Column | Another |
| ------ | ------- |
| a cell | `code` |
| two | **bold** |
";
