//! errbotctl: the operator's command line for a running errbotd.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use errbot_proto::v1::{
    ControlShutdownRequest, PluginActionKind, PluginActionRequest, StatusRequest,
    control_service_client::ControlServiceClient,
};
use errbotd::config::Config;

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

/// Exit codes: 0 success, 1 the request failed, 2 bad usage or configuration, 3 errbotd is not
/// running.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = match (&cli.socket, &cli.config) {
        (Some(s), _) => s.clone(),
        (None, Some(c)) => match Config::load(c) {
            Ok(config) => errbotd::daemon::control_socket(&config),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        (None, None) if Path::new("errbot.toml").is_file() => {
            match Config::load(Path::new("errbot.toml")) {
                Ok(config) => errbotd::daemon::control_socket(&config),
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            }
        }
        (None, None) => errbotd::daemon::control_socket(&Config::embedded_default()),
    };
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
