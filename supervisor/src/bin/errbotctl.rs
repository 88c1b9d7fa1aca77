//! errbotctl: the operator's command line for a running errbotd.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use errbot_proto::v1::{
    ControlSendRequest, ControlShutdownRequest, FlowsRequest, FlowsResponse, LogsRequest,
    PluginActionKind, PluginActionRequest, PluginInfoRequest, PluginInfoResponse,
    PluginListRequest, ReloadConfigRequest, ReloadConfigResponse, ReposAction, ReposRequest,
    StatusRequest, StatusResponse, control_service_client::ControlServiceClient, log_entry,
};
use errbotd::config::Config;
use errbotd::storage::ctl as storage;
use serde_json::json;
use tonic::transport::Channel;

/// Exit codes, as `--help` shows them (README's "Operating the bot" has the same table).
const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  refused or failed (the reason on stderr); `config check`: the file is invalid
  2  bad usage, or errbotctl's own configuration is invalid
  3  errbotd is not running";

/// Control a running errbotd through its control socket.
///
/// Every command that prints something prints JSON with --json (`logs`: one JSON object per
/// line). Errors go to stderr.
#[derive(Parser)]
#[command(name = "errbotctl", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// errbotd's configuration file, to find its control socket (default: ./errbot.toml or the
    /// embedded defaults).
    #[arg(short, long, global = true, env = "ERRBOT_CONFIG")]
    config: Option<PathBuf>,
    /// The control socket (overrides --config).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// State of errbotd and of every child.
    Status,
    /// Stop errbotd cleanly.
    Shutdown,
    /// List, inspect and act on plugins.
    Plugin {
        #[command(subcommand)]
        action: PluginCmd,
    },
    /// Plugin repositories: list, search the index, install, uninstall, update (as `!repos`).
    Repos {
        #[command(subcommand)]
        action: Option<ReposCmd>,
    },
    /// The flows the plugins declare, and the conversations in a flow now.
    Flows,
    /// Read errbotd's configuration file again and apply what changed (as SIGHUP does); an
    /// invalid file is refused with its errors and the running configuration stays.
    ReloadConfig,
    /// Check a configuration file (works without errbotd).
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Print errbotd's recent log lines (its own and its children's).
    Logs {
        /// How many of the most recent lines.
        #[arg(short = 'n', long = "lines", default_value_t = 40)]
        lines: u32,
        /// Then print new lines as they come, until Ctrl-C.
        #[arg(short, long)]
        follow: bool,
    },
    /// Say something as the bot to a person or a room.
    Send {
        /// The recipient, as the chat service writes it (`@alice`, `#room`, `nick!user@host`).
        #[arg(long)]
        to: String,
        /// The backend to send through (a `[backends.NAME]`; default: the first one).
        #[arg(long)]
        backend: Option<String>,
        /// The text (Markdown); read from stdin when not given.
        text: Vec<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print errbotctl's man page (roff).
    Man,
    /// Write a backup of everything the bot stores to FILE (default: stdout).
    Backup {
        /// Where to write it (mode 0600).
        file: Option<PathBuf>,
    },
    /// Restore a backup (from `errbotctl backup` or `!backup`); refuses a store that holds data
    /// unless --force.
    Restore {
        /// The backup file (`-` for stdin).
        file: PathBuf,
        /// Restore even into a store that holds data (each namespace of the backup replaces the
        /// stored one).
        #[arg(long)]
        force: bool,
    },
    /// Read or write one storage namespace ("core" or a plugin's name) as a JSON object.
    #[command(subcommand)]
    Storage(StorageCmd),
}

#[derive(Subcommand)]
enum PluginCmd {
    /// Every plugin and its state (as `!status plugins`).
    List,
    /// A plugin's state, version, commands and command filters (as `!plugin info NAME`).
    Info {
        /// The plugin's name.
        name: String,
    },
    /// Start a deactivated or failed plugin (clears its restart history).
    Activate {
        /// The plugin's name.
        name: String,
    },
    /// Stop a plugin until it is activated again.
    Deactivate {
        /// The plugin's name.
        name: String,
    },
    /// Replace a plugin's process without downtime (plugin.toml is read again).
    Reload {
        /// The plugin's name.
        name: String,
    },
    /// Stop a plugin and keep it from starting again, across restarts.
    Blacklist {
        /// The plugin's name.
        name: String,
    },
    /// Take a plugin off the blacklist and start it.
    Unblacklist {
        /// The plugin's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum ReposCmd {
    /// The installed repositories (the default).
    List,
    /// The plugins of the index whose name or description holds one of the words.
    Search {
        /// The words.
        #[arg(required = true)]
        words: Vec<String>,
    },
    /// Clone a repository and start its plugins; nothing is left installed if one fails.
    Install {
        /// A name of the plugin index, a git URL (https, ssh, file:) or `owner/name` (GitHub).
        source: String,
        /// The branch or tag to check out.
        #[arg(long = "ref")]
        reference: Option<String>,
    },
    /// Stop an installed repository's plugins and remove it.
    Uninstall {
        /// The repository's name (as `repos list` shows it).
        name: String,
    },
    /// Pull repositories and reload their plugins without downtime.
    Update {
        /// Repository names, or `all`.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Check a configuration file as `errbotd check-config` does: every error names the file,
    /// the line, the column and the key.
    Check {
        /// The file (default: --config, else ./errbot.toml, else the embedded defaults).
        file: Option<PathBuf>,
    },
}

/// Errbot's --storage-get, --storage-set and --storage-merge.
#[derive(Subcommand)]
enum StorageCmd {
    /// Print the namespace as a JSON object on stdout.
    Get {
        /// The namespace.
        namespace: String,
    },
    /// Replace the namespace with the JSON object read from stdin.
    Set {
        /// The namespace.
        namespace: String,
    },
    /// Write the keys of the JSON object read from stdin into the namespace, keeping the others.
    Merge {
        /// The namespace.
        namespace: String,
    },
}

/// The storage subcommands, as the storage module runs them.
fn storage_action(command: &Cmd) -> Option<storage::Action> {
    Some(match command {
        Cmd::Backup { file } => storage::Action::Backup(file.clone()),
        Cmd::Restore { file, force } => storage::Action::Restore {
            file: file.clone(),
            force: *force,
        },
        Cmd::Storage(StorageCmd::Get { namespace }) => storage::Action::Get(namespace.clone()),
        Cmd::Storage(StorageCmd::Set { namespace }) => storage::Action::Set(namespace.clone()),
        Cmd::Storage(StorageCmd::Merge { namespace }) => storage::Action::Merge(namespace.clone()),
        _ => return None,
    })
}

/// Why a command did not succeed: the message for stderr and the exit code.
struct Failure(String, u8);

type Outcome = Result<(), Failure>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // What needs no errbotd and no configuration of errbotctl's own.
    match &cli.command {
        Cmd::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "errbotctl",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Cmd::Man => {
            return match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => exit(Failure(format!("writing the man page: {e}"), 1)),
            };
        }
        Cmd::Config(ConfigCmd::Check { file }) => {
            let path = file.as_deref().or(cli.config.as_deref());
            return match config_check(path, cli.json) {
                Ok(()) => ExitCode::SUCCESS,
                Err(f) => exit(f),
            };
        }
        _ => {}
    }
    // The storage commands may open the store themselves: they need the whole configuration.
    // The others only need to find the control socket.
    let storage = storage_action(&cli.command);
    let config = match (&cli.socket, &cli.config) {
        (Some(_), None) => None,
        (_, path) => {
            let loaded = if storage.is_some() {
                Config::locate(path.as_deref())
            } else {
                Config::locate_leniently(path.as_deref())
            };
            match loaded {
                Ok(c) => Some(c),
                Err(e) => return exit(Failure(e.to_string(), 2)),
            }
        }
    };
    let socket = match (&cli.socket, &config) {
        (Some(s), _) => s.clone(),
        (None, Some(config)) => errbotd::daemon::control_socket(config),
        (None, None) => unreachable!("a configuration is loaded when there is no --socket"),
    };
    if let Some(action) = storage {
        let reach = storage::Reach {
            socket: &socket,
            config: config.as_ref(),
        };
        return storage::main(&action, &reach).await;
    }
    if !socket.exists() {
        return exit(Failure(
            format!(
                "errbotd is not running (no control socket at {})",
                socket.display()
            ),
            3,
        ));
    }
    let channel = match errbot_proto::transport::channel(
        &errbot_proto::transport::Address::unix_uri(&socket),
    ) {
        Ok(c) => c,
        Err(e) => return exit(Failure(e.to_string(), 2)),
    };
    let client = ControlServiceClient::new(channel);
    let ctl = Ctl {
        client,
        json: cli.json,
        socket,
    };
    match ctl.run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => exit(f),
    }
}

fn exit(Failure(message, code): Failure) -> ExitCode {
    eprintln!("errbotctl: {message}");
    ExitCode::from(code)
}

/// `errbotctl config check`: prints that the file is valid, or fails with its errors.
fn config_check(path: Option<&Path>, json: bool) -> Outcome {
    let file = match path {
        Some(p) => p.display().to_string(),
        None if Path::new("errbot.toml").is_file() => "errbot.toml".to_owned(),
        None => "embedded defaults".to_owned(),
    };
    match errbotd::daemon::load_checked(path) {
        Ok(config) => {
            let file = config.describe_source();
            if json {
                println!("{}", json!({ "file": file, "valid": true }));
            } else {
                println!("{file}: configuration is valid");
            }
            Ok(())
        }
        Err(errors) => {
            if json {
                let list: Vec<&str> = errors.lines().collect();
                println!(
                    "{}",
                    json!({ "file": file, "valid": false, "errors": list })
                );
            }
            Err(Failure(errors, 1))
        }
    }
}

/// errbotctl connected to errbotd.
struct Ctl {
    client: ControlServiceClient<Channel>,
    json: bool,
    socket: PathBuf,
}

impl Ctl {
    async fn run(mut self, command: Cmd) -> Outcome {
        match command {
            Cmd::Status => {
                let s = self.client.status(StatusRequest {}).await;
                let s = self.answer(s)?;
                self.print_status(&s);
            }
            Cmd::Shutdown => {
                let r = self.client.shutdown(ControlShutdownRequest {}).await;
                self.answer(r)?;
                self.print(json!({ "shutting_down": true }), || {
                    "errbotd is shutting down".to_owned()
                });
            }
            Cmd::Plugin { action } => self.plugin(action).await?,
            Cmd::Repos { action } => self.repos(action.unwrap_or(ReposCmd::List)).await?,
            Cmd::Flows => {
                let r = self.client.flows(FlowsRequest {}).await;
                let flows = self.answer(r)?;
                self.print_flows(&flows);
            }
            Cmd::ReloadConfig => {
                let r = self.client.reload_config(ReloadConfigRequest {}).await;
                let report = self.answer(r)?;
                self.print_reload(&report);
                if !report.failed.is_empty() {
                    return Err(Failure(
                        format!("some changes failed: {}", report.failed.join("; ")),
                        1,
                    ));
                }
            }
            Cmd::Logs { lines, follow } => self.logs(lines, follow).await?,
            Cmd::Send { to, backend, text } => {
                let text = if text.is_empty() {
                    let mut input = String::new();
                    std::io::stdin()
                        .read_to_string(&mut input)
                        .map_err(|e| Failure(format!("reading stdin: {e}"), 2))?;
                    input.trim_end().to_owned()
                } else {
                    text.join(" ")
                };
                if text.trim().is_empty() {
                    return Err(Failure(
                        "nothing to send: give the text, or pipe it on stdin".into(),
                        2,
                    ));
                }
                let req = ControlSendRequest {
                    to,
                    backend: backend.unwrap_or_default(),
                    text,
                };
                let r = self.client.send(req).await;
                let sent = self.answer(r)?;
                let to = sent.to.map(|t| t.display).unwrap_or_default();
                self.print(
                    json!({ "backend": sent.backend, "to": to, "message_id": sent.message_id }),
                    || format!("sent to {to} on {}", sent.backend),
                );
            }
            Cmd::Completions { .. }
            | Cmd::Man
            | Cmd::Config(_)
            | Cmd::Backup { .. }
            | Cmd::Restore { .. }
            | Cmd::Storage(_) => unreachable!("handled before connecting"),
        }
        Ok(())
    }

    async fn plugin(&mut self, action: PluginCmd) -> Outcome {
        let (name, kind) = match action {
            PluginCmd::List => {
                let r = self.client.plugin_list(PluginListRequest {}).await;
                let list = self.answer(r)?;
                if self.json {
                    let plugins: Vec<_> = list
                        .plugins
                        .iter()
                        .map(|p| {
                            json!({ "name": p.name, "letter": p.letter, "state": p.state,
                                    "note": p.note })
                        })
                        .collect();
                    println!("{}", json!({ "plugins": plugins }));
                } else {
                    println!("  {:<24} {:<13} NOTE", "PLUGIN", "STATE");
                    for p in &list.plugins {
                        println!("{} {:<24} {:<13} {}", p.letter, p.name, p.state, p.note);
                    }
                    println!(
                        "\nA = Activated, D = Deactivated, B = Blacklisted, C = Needs to be \
                         configured, R = Restarting, F = Failed"
                    );
                }
                return Ok(());
            }
            PluginCmd::Info { name } => {
                let r = self.client.plugin_info(PluginInfoRequest { name }).await;
                let info = self.answer(r)?;
                self.print_info(&info);
                return Ok(());
            }
            PluginCmd::Activate { name } => (name, PluginActionKind::Activate),
            PluginCmd::Deactivate { name } => (name, PluginActionKind::Deactivate),
            PluginCmd::Reload { name } => (name, PluginActionKind::Reload),
            PluginCmd::Blacklist { name } => (name, PluginActionKind::Blacklist),
            PluginCmd::Unblacklist { name } => (name, PluginActionKind::Unblacklist),
        };
        let req = PluginActionRequest {
            name,
            action: kind as i32,
        };
        let r = self.client.plugin_action(req).await;
        let message = self.answer(r)?.message;
        self.print(json!({ "message": message }), || message.clone());
        Ok(())
    }

    async fn repos(&mut self, command: ReposCmd) -> Outcome {
        let (action, args, reference) = match command {
            ReposCmd::List => (ReposAction::List, vec![], None),
            ReposCmd::Search { words } => (ReposAction::Search, words, None),
            ReposCmd::Install { source, reference } => {
                (ReposAction::Install, vec![source], reference)
            }
            ReposCmd::Uninstall { name } => (ReposAction::Uninstall, vec![name], None),
            ReposCmd::Update { names } => (ReposAction::Update, names, None),
        };
        let req = ReposRequest {
            action: action as i32,
            args,
            r#ref: reference.unwrap_or_default(),
        };
        let r = self.client.repos(req).await;
        let answer = self.answer(r)?;
        if self.json {
            let repos: Vec<_> = answer
                .repos
                .iter()
                .map(|e| {
                    json!({ "name": e.name, "url": e.url, "installed": e.installed,
                            "indexed": e.indexed, "description": e.description,
                            "plugins": e.plugins })
                })
                .collect();
            println!("{}", json!({ "messages": answer.messages, "repos": repos }));
            return Ok(());
        }
        for m in &answer.messages {
            println!("{m}");
        }
        if matches!(action, ReposAction::List | ReposAction::Search) {
            if answer.repos.is_empty() {
                println!("(none)");
            }
            for e in &answer.repos {
                let flag = if e.installed { "I" } else { " " };
                println!(
                    "{flag} {:<32} {:<40} {}",
                    e.name,
                    e.plugins.join(","),
                    e.description.replace('\n', " ")
                );
            }
        }
        Ok(())
    }

    async fn logs(&mut self, lines: u32, follow: bool) -> Outcome {
        let r = self.client.logs(LogsRequest { lines, follow }).await;
        let mut stream = self.answer(r)?;
        let mut stdout = std::io::stdout().lock();
        // One listener for the whole command: a Ctrl-C that comes while a line is being written
        // is kept for the next wait (a listener made anew each turn would miss it, and the
        // command would never end).
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            let next = tokio::select! {
                next = stream.message() => next,
                _ = &mut interrupted => return Ok(()),
            };
            let entry = match next {
                Ok(Some(entry)) => entry,
                Ok(None) => return Ok(()),
                Err(s) => return Err(self.failure(s)),
            };
            let written = match entry.kind {
                Some(log_entry::Kind::Line(line)) if self.json => {
                    writeln!(stdout, "{}", json!({ "line": line }))
                }
                Some(log_entry::Kind::Line(line)) => writeln!(stdout, "{line}"),
                Some(log_entry::Kind::Dropped(n)) if self.json => {
                    writeln!(stdout, "{}", json!({ "dropped": n }))
                }
                Some(log_entry::Kind::Dropped(n)) => {
                    eprintln!("errbotctl: {n} log lines dropped (this reader fell behind)");
                    Ok(())
                }
                None => Ok(()),
            };
            // A closed stdout (`| head`) ends the command.
            if written.and_then(|()| stdout.flush()).is_err() {
                return Ok(());
            }
        }
    }

    /// The answer of a call, or the failure to report.
    fn answer<T>(&self, result: Result<tonic::Response<T>, tonic::Status>) -> Result<T, Failure> {
        result
            .map(tonic::Response::into_inner)
            .map_err(|s| self.failure(s))
    }

    fn failure(&self, s: tonic::Status) -> Failure {
        let refused = match s.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown => refused_by_owner(&self.socket),
            _ => None,
        };
        if let Some(why) = refused {
            return Failure(why, 1);
        }
        match s.code() {
            tonic::Code::Unavailable => Failure(
                format!(
                    "errbotd is not running (cannot connect to {}): {}",
                    self.socket.display(),
                    s.message()
                ),
                3,
            ),
            tonic::Code::InvalidArgument => Failure(s.message().to_owned(), 2),
            _ => Failure(s.message().to_owned(), 1),
        }
    }

    /// Prints `value` with --json, else the text.
    fn print(&self, value: serde_json::Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }

    fn print_flows(&self, f: &FlowsResponse) {
        let declared: Vec<serde_json::Value> = f
            .declared
            .iter()
            .map(|d| {
                json!({ "name": d.name, "plugin": d.plugin, "description": d.description,
                        "room_flow": d.room_flow })
            })
            .collect();
        let in_progress: Vec<serde_json::Value> = f
            .in_progress
            .iter()
            .map(|p| {
                let context: serde_json::Value =
                    serde_json::from_str(&p.context_json).unwrap_or(serde_json::Value::Null);
                json!({ "flow": p.flow, "backend": p.backend, "room": p.room,
                        "person": p.person, "started_by": p.started_by, "step": p.step,
                        "context": context, "last_step": p.last_step })
            })
            .collect();
        self.print(
            json!({ "declared": declared, "in_progress": in_progress }),
            || {
                let mut out = format!("{:<20} {:<20} DESCRIPTION\n", "FLOW", "PLUGIN");
                for d in &f.declared {
                    out.push_str(&format!(
                        "{:<20} {:<20} {}\n",
                        d.name, d.plugin, d.description
                    ));
                }
                if f.in_progress.is_empty() {
                    out.push_str("\nNo conversation is in a flow.");
                } else {
                    out.push_str(&format!(
                        "\n{:<20} {:<12} {:<24} {:<20} STEP\n",
                        "IN PROGRESS", "BACKEND", "WHERE", "WHO"
                    ));
                    for p in &f.in_progress {
                        let place = if p.room.is_empty() {
                            "(direct)"
                        } else {
                            &p.room
                        };
                        let step = if p.step.is_empty() {
                            "(start)"
                        } else {
                            &p.step
                        };
                        out.push_str(&format!(
                            "{:<20} {:<12} {:<24} {:<20} {step}\n",
                            p.flow, p.backend, place, p.started_by
                        ));
                    }
                }
                out.trim_end().to_owned()
            },
        );
    }

    fn print_status(&self, s: &StatusResponse) {
        if self.json {
            let children: Vec<serde_json::Value> = s
                .children
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name, "kind": c.kind, "state": c.state, "pid": c.pid,
                        "uptime_seconds": c.uptime_seconds, "restarts": c.restarts,
                        "last_exit": c.last_exit,
                    })
                })
                .collect();
            let v = json!({
                "version": s.version, "pid": s.pid, "uptime_seconds": s.uptime_seconds,
                "children": children,
            });
            println!("{v}");
            return;
        }
        println!(
            "errbotd {} (pid {}), up {} s",
            s.version, s.pid, s.uptime_seconds
        );
        println!(
            "{:<20} {:<8} {:<9} {:>8} {:>9} {:>8}  LAST EXIT",
            "NAME", "KIND", "STATE", "PID", "UPTIME", "RESTARTS"
        );
        for c in &s.children {
            println!(
                "{:<20} {:<8} {:<9} {:>8} {:>8}s {:>8}  {}",
                c.name, c.kind, c.state, c.pid, c.uptime_seconds, c.restarts, c.last_exit
            );
        }
    }

    fn print_info(&self, i: &PluginInfoResponse) {
        if self.json {
            let filters: Vec<_> = i
                .command_filters
                .iter()
                .map(|f| {
                    json!({ "name": f.name, "help": f.help,
                            "catch_unprocessed": f.catch_unprocessed })
                })
                .collect();
            let v = json!({
                "name": i.name, "description": i.description, "state": i.state, "pid": i.pid,
                "restarts": i.restarts, "note": i.note, "version": i.version,
                "depends_on": i.depends_on, "commands": i.commands, "command_filters": filters,
                "callbacks": i.callbacks, "pollers": i.pollers,
            });
            println!("{v}");
            return;
        }
        println!("{}", i.name);
        if !i.description.is_empty() {
            println!("  {}", i.description);
        }
        let row = |label: &str, value: &str| {
            if !value.is_empty() {
                println!("{label:<16}{value}");
            }
        };
        let state = if i.pid == 0 {
            i.state.clone()
        } else {
            format!("{} (pid {}, {} restarts)", i.state, i.pid, i.restarts)
        };
        row("state:", &state);
        row("note:", &i.note);
        row("version:", &i.version);
        row("depends on:", &i.depends_on.join(", "));
        row("commands:", &i.commands.join(", "));
        for f in &i.command_filters {
            let unprocessed = if f.catch_unprocessed {
                " (also sees messages that name no command)"
            } else {
                ""
            };
            row(
                "command filter:",
                &format!("{}: {}{unprocessed}", f.name, f.help),
            );
        }
        row("callbacks:", &i.callbacks.join(", "));
        for p in &i.pollers {
            row("poller:", p);
        }
    }

    fn print_reload(&self, r: &ReloadConfigResponse) {
        if self.json {
            let v = json!({
                "file": r.file, "applied": r.applied, "needs_restart": r.needs_restart,
                "unchanged": r.unchanged, "failed": r.failed, "notes": r.notes,
            });
            println!("{v}");
        } else {
            for line in errbotd::reload::report_lines(r) {
                println!("{line}");
            }
        }
    }
}

/// When errbotctl runs as another user than the control socket's owner (and is not root),
/// why errbotd refuses it.
fn refused_by_owner(socket: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(socket).ok()?.uid();
    let me = nix::unistd::geteuid().as_raw();
    if me == owner || me == 0 {
        return None;
    }
    Some(format!(
        "errbotd refused the connection: its control socket {} is for uid {owner} (the user \
         errbotd runs as) and root only, and errbotctl runs as uid {me}",
        socket.display()
    ))
}
