//! errbotctl: the operator's command line for a running errbotd.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use errbot_proto::v1::{
    ControlShutdownRequest, PluginActionKind, PluginActionRequest, StatusRequest,
    control_service_client::ControlServiceClient,
};
use errbotd::config::Config;
use errbotd::storage::ctl as storage;

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
        Cmd::Status | Cmd::Shutdown | Cmd::Plugin { .. } => return None,
    })
}

/// Control a running errbotd through its control socket.
#[derive(Parser)]
#[command(version, about)]
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
    /// Act on a plugin.
    Plugin {
        #[command(subcommand)]
        action: PluginCmd,
    },
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

/// Exit codes: 0 success, 1 the request failed, 2 bad usage or configuration, 3 errbotd is not
/// running.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match (&cli.socket, &cli.config) {
        (_, Some(c)) => Config::load(c).map(Some),
        (Some(_), None) => Ok(None),
        (None, None) if Path::new("errbot.toml").is_file() => {
            Config::load(Path::new("errbot.toml")).map(Some)
        }
        (None, None) => Ok(Some(Config::embedded_default())),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let socket = match (&cli.socket, &config) {
        (Some(s), _) => s.clone(),
        (None, Some(config)) => errbotd::daemon::control_socket(config),
        (None, None) => unreachable!("a configuration is loaded when there is no --socket"),
    };
    if let Some(action) = storage_action(&cli.command) {
        let reach = storage::Reach {
            socket: &socket,
            config: config.as_ref(),
        };
        return storage::main(&action, &reach).await;
    }
    if !socket.exists() {
        eprintln!(
            "errbotd is not running (no control socket at {})",
            socket.display()
        );
        return ExitCode::from(3);
    }
    let channel = match errbot_proto::transport::channel(
        &errbot_proto::transport::Address::unix_uri(&socket),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut client = ControlServiceClient::new(channel);
    let result = match cli.command {
        Cmd::Status => client.status(StatusRequest {}).await.map(|r| {
            let s = r.into_inner();
            if cli.json {
                let children: Vec<serde_json::Value> = s
                    .children
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "name": c.name, "kind": c.kind, "state": c.state, "pid": c.pid,
                            "uptime_seconds": c.uptime_seconds, "restarts": c.restarts,
                            "last_exit": c.last_exit,
                        })
                    })
                    .collect();
                let v = serde_json::json!({
                    "version": s.version, "pid": s.pid, "uptime_seconds": s.uptime_seconds,
                    "children": children,
                });
                println!("{v}");
            } else {
                println!(
                    "errbotd {} (pid {}), up {} s",
                    s.version, s.pid, s.uptime_seconds
                );
                println!(
                    "{:<20} {:<8} {:<9} {:>8} {:>9} {:>8}  LAST EXIT",
                    "NAME", "KIND", "STATE", "PID", "UPTIME", "RESTARTS"
                );
                for c in s.children {
                    println!(
                        "{:<20} {:<8} {:<9} {:>8} {:>8}s {:>8}  {}",
                        c.name, c.kind, c.state, c.pid, c.uptime_seconds, c.restarts, c.last_exit
                    );
                }
            }
        }),
        Cmd::Shutdown => client.shutdown(ControlShutdownRequest {}).await.map(|_| {
            if !cli.json {
                println!("errbotd is shutting down");
            }
        }),
        Cmd::Plugin { action } => {
            let (name, action) = match action {
                PluginCmd::Activate { name } => (name, PluginActionKind::Activate),
                PluginCmd::Deactivate { name } => (name, PluginActionKind::Deactivate),
                PluginCmd::Reload { name } => (name, PluginActionKind::Reload),
            };
            let req = PluginActionRequest {
                name,
                action: action as i32,
            };
            client.plugin_action(req).await.map(|r| {
                let message = r.into_inner().message;
                if cli.json {
                    println!("{}", serde_json::json!({ "message": message }));
                } else {
                    println!("{message}");
                }
            })
        }
        Cmd::Backup { .. } | Cmd::Restore { .. } | Cmd::Storage(_) => {
            unreachable!("storage commands are handled above")
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(s) if s.code() == tonic::Code::Unavailable => {
            eprintln!(
                "errbotd is not running (cannot connect to {}): {}",
                socket.display(),
                s.message()
            );
            ExitCode::from(3)
        }
        Err(s) => {
            eprintln!("errbotctl: {}", s.message());
            ExitCode::from(1)
        }
    }
}
