//! errbot-gateway: connects one chat service to errbotd.
//!
//! errbotd starts it with the child contract's environment, waits for its health check, calls
//! `BackendService.Start` (which picks the adapter for the backend kind) and opens the `Session`.
//! SIGTERM (or SIGINT) stops it gracefully. Logs go to stderr; stdout belongs to the adapter
//! (the text console prints replies there).
//!
//! `errbot-gateway check --kind KIND` checks a backend's settings without connecting: it reads
//! them as JSON on stdin and prints `{"problems": [{"key": ..., "message": ...}]}` on stdout,
//! exiting 0 when there is none and 1 otherwise. errbotd runs it for `check-config` and before
//! starting, so that the gateway alone knows what each kind accepts.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use errbot_proto::contract::{self, ChildEnv};
use errbot_proto::transport;
use errbot_proto::v1::backend_service_server::BackendServiceServer;
use tokio::signal::unix::{SignalKind, signal};

use errbot_gateway::events::EventQueue;
use errbot_gateway::service::Gateway;
use errbot_gateway::{adapters, settings};

/// How long in-flight calls get to finish after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// errbot-gateway: connects one chat service to errbotd (started by errbotd, not by hand).
#[derive(clap::Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Check a backend's settings (JSON on stdin) without connecting; print the problems as JSON.
    Check {
        /// The backend kind ("console", "irc", "test").
        #[arg(long)]
        kind: String,
    },
}

/// `errbot-gateway check`: problems on stdout as JSON, exit 1 when there are any.
fn check(kind: &str) -> ExitCode {
    let mut input = String::new();
    let problems = match std::io::stdin().read_to_string(&mut input) {
        Ok(_) => match settings::parse_json(&input) {
            Ok(map) => adapters::check(kind, &map),
            Err(p) => vec![p],
        },
        Err(e) => vec![settings::Problem {
            key: String::new(),
            message: format!("cannot read the settings on stdin: {e}"),
        }],
    };
    let report = serde_json::json!({ "problems": problems });
    println!("{report}");
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    if let Some(Cmd::Check { kind }) = cli.command {
        return check(&kind);
    }
    // One TLS provider for the whole process (ring), whatever else a dependency enables.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let env = match ChildEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    if !env
        .protocol_versions
        .iter()
        .any(|v| v == contract::PROTOCOL_VERSION)
    {
        tracing::error!(
            "errbotd speaks {:?}, this gateway speaks {}",
            env.protocol_versions,
            contract::PROTOCOL_VERSION
        );
        return ExitCode::from(2);
    }
    if let Ok(kind) = std::env::var(contract::ENV_KIND)
        && kind != "backend"
    {
        tracing::warn!(
            "{} is {kind:?}; errbot-gateway is a backend",
            contract::ENV_KIND
        );
    }
    // One worker thread: a gateway translates I/O and does little work per message, and a
    // second worker mostly costs wake-ups between threads (measured: lower latency and CPU per
    // message with one; BENCHMARKS.md). Blocking sections (console output) still get their
    // own thread through block_in_place, which needs the multi-thread runtime.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(env)) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e:#}");
            1
        }
    };
    // Threads blocked on stdin (console input) must not keep the process alive.
    std::process::exit(code)
}

async fn run(env: ChildEnv) -> anyhow::Result<()> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let incoming = transport::bind(&env.socket)
        .map_err(|e| anyhow::anyhow!("cannot serve on {}: {e}", env.socket))?;
    let events = EventQueue::new();
    let gateway = Gateway::new(env.name.clone(), events.clone());
    let adapter = gateway.adapter_slot();
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<BackendServiceServer<Gateway>>().await;

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let mut server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(BackendServiceServer::new(gateway))
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            }),
    );
    tracing::info!("gateway {} serving on {}", env.name, env.socket);

    tokio::select! {
        _ = sigterm.recv() => tracing::info!("SIGTERM: stopping"),
        _ = sigint.recv() => tracing::info!("SIGINT: stopping"),
        served = &mut server => {
            // The server ended by itself: that is a failure (the socket broke).
            return match served {
                Ok(Ok(())) => Err(anyhow::anyhow!("the server stopped unexpectedly")),
                Ok(Err(e)) => Err(anyhow::anyhow!("the server failed: {e}")),
                Err(e) => Err(anyhow::anyhow!("the server task failed: {e}")),
            };
        }
    }
    // End the sessions so that the graceful shutdown does not wait for them forever.
    events.close();
    if let Some(adapter) = adapter.get() {
        adapter.stop().await;
    }
    stop_tx.send_replace(true);
    match tokio::time::timeout(STOP_GRACE, &mut server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!("server stopped with an error: {e}"),
        Ok(Err(e)) => tracing::warn!("server task failed: {e}"),
        Err(_) => tracing::warn!("calls still running after {STOP_GRACE:?}: exiting anyway"),
    }
    let transport::Address::Unix(path) = transport::Address::parse(&env.socket)?;
    let _ = std::fs::remove_file(path);
    Ok(())
}
