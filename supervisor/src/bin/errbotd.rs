//! errbotd: the errbot-rs supervisor.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use errbotd::config::Config;
use tracing_subscriber::prelude::*;

/// errbot-rs supervisor: runs the chat gateways and plugins of a bot.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (default: ./errbot.toml if it exists, else the embedded defaults).
    #[arg(short, long, global = true, env = "ERRBOT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bot in the foreground (the default).
    Start,
    /// Write a commented errbot.toml, a data directory and an example plugin into DIR.
    Init {
        /// Directory to create (default: the current directory).
        dir: Option<PathBuf>,
    },
    /// Check a configuration file and exit (non-zero when invalid).
    CheckConfig {
        /// The file (default: --config or ./errbot.toml).
        file: Option<PathBuf>,
    },
}

/// The log file of `[log] file`, rotated as configured, written by its own thread (never lossy:
/// it holds the audit lines). `None` when no file is configured.
fn log_file(
    config: &Config,
) -> Result<
    Option<(
        tracing_appender::non_blocking::NonBlocking,
        tracing_appender::non_blocking::WorkerGuard,
    )>,
    String,
> {
    use errbotd::config::Rotate;
    use tracing_appender::rolling::{Builder, Rotation};
    let Some(file) = &config.log.file else {
        return Ok(None);
    };
    let path = config.resolve(file);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(format!("log.file: {} is not a file name", path.display()));
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("log.file: cannot make {}: {e}", dir.display()))?;
    let name = name.to_string_lossy().into_owned();
    let builder = match config.log.rotate {
        Rotate::Never => Builder::new()
            .rotation(Rotation::NEVER)
            .filename_prefix(&name),
        rotate => {
            // errbot.log -> errbot.2026-11-30.log, with errbot.log linking to the current one.
            let (stem, ext) = match name.rsplit_once('.') {
                Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), ext.to_owned()),
                _ => (name.clone(), "log".to_owned()),
            };
            let rotation = if rotate == Rotate::Hourly {
                Rotation::HOURLY
            } else {
                Rotation::DAILY
            };
            Builder::new()
                .rotation(rotation)
                .filename_prefix(stem)
                .filename_suffix(ext)
                .max_log_files(config.log.keep.max(1))
                .latest_symlink(&name)
        }
    };
    let appender = builder
        .build(dir)
        .map_err(|e| format!("log.file: cannot open {}: {e}", path.display()))?;
    Ok(Some(
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("errbotd-logfile")
            .finish(appender),
    ))
}

/// What the log's writer threads need kept alive (dropping them flushes what is queued).
type LogGuards = (
    tracing_appender::non_blocking::WorkerGuard,
    Option<tracing_appender::non_blocking::WorkerGuard>,
);

/// Sets up the log on stderr, and in `[log] file` when set. Records go to stderr through a lossy
/// queue to a writer thread: errbotd never blocks on a slow or stuck stderr (a full pipe, a
/// paused terminal), and so neither do the children whose output it forwards.
fn init_logging(config: &Config) -> Result<LogGuards, String> {
    // On an interactive console, only warnings reach the terminal unless the file asks for more.
    let interactive = std::io::stdin().is_terminal()
        && config
            .backend_instances()
            .any(|(_, kind, _)| kind == "console");
    let level = match (&config.log.level, interactive, config.source.is_some()) {
        (l, true, false) if l == "info" => "warn".to_owned(),
        (l, _, _) => l.clone(),
    };
    let filter = |level: &str| {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(64 * 1024)
        .thread_name("errbotd-log")
        .finish(std::io::stderr());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter(&level));
    // The ring behind `errbotctl logs` and `!log tail` keeps the configured level even when the
    // terminal shows less.
    let ring = errbotd::logring::layer().with_filter(filter(&config.log.level));
    let (file, file_guard) = match log_file(config)? {
        Some((writer, guard)) => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false)
                    .with_filter(filter(&config.log.level)),
            ),
            Some(guard),
        ),
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(ring)
        .with(file)
        .init();
    Ok((guard, file_guard))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Cmd::Start) {
        Cmd::Init { dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            match errbotd::init::init(&dir) {
                Ok(path) => {
                    println!(
                        "Wrote {}. Run `errbotd -c {}` to start the bot; it builds the example \
                         plugin first (cargo; the first build takes a few minutes).",
                        path.display(),
                        path.display()
                    );
                    if errbotd::init::source_sdk().is_none() {
                        let cargo_toml = dir.join("plugins/example/Cargo.toml");
                        eprintln!(
                            "Note: no errbot-rs source checkout to take the plugin SDK from (it is \
                             not on crates.io): edit {} (the commented errbot-plugin-sdk line) \
                             before the example plugin can build.",
                            cargo_toml.display()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("errbotd init: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::CheckConfig { file } => {
            let path = file.or(cli.config);
            match errbotd::daemon::load_checked(path.as_deref()) {
                Ok(c) => {
                    for warning in c.bot.notification_warnings() {
                        eprintln!("{}: warning: {warning}", c.describe_source());
                    }
                    println!("{}: configuration is valid", c.describe_source());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Start => {
            let config = match errbotd::daemon::load_checked(cli.config.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let _log = match init_logging(&config) {
                Ok(guards) => guards,
                Err(e) => {
                    eprintln!("{}: {e}", config.describe_source());
                    return ExitCode::from(2);
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("errbotd: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = runtime.block_on(errbotd::daemon::run(config));
            // Every task and worker thread ends before a restart replaces the process image.
            drop(runtime);
            match outcome {
                Ok(errbotd::daemon::Exit::Code(code)) => ExitCode::from(code),
                Ok(errbotd::daemon::Exit::Restart) => re_exec(),
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("errbotd: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Replaces errbotd's process image with a fresh errbotd, same program and arguments (`!restart`):
/// the process id stays, so a service manager sees no exit. Returns only on failure.
fn re_exec() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("errbotd: cannot restart: where is errbotd? {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("restarting: executing {}", program.display());
    let err = std::process::Command::new(&program)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("errbotd: cannot restart {}: {err}", program.display());
    ExitCode::FAILURE
}
