//! Start-up and shut-down of errbotd: the runtime directory, the sockets errbotd serves, every
//! child started and activated, the gateways' event streams, and an orderly stop.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use errbot_proto::transport;
use errbot_proto::v1::{
    ActivateRequest, DeactivateRequest, DescribeRequest, EventsRequest, StartRequest,
    backend_event, backend_service_client::BackendServiceClient,
    bot_service_server::BotServiceServer, control_service_server::ControlServiceServer,
    plugin_service_client::PluginServiceClient,
    storage_admin_service_server::StorageAdminServiceServer,
    storage_service_server::StorageServiceServer,
};
use tokio::sync::watch;

use crate::bot::{Bot, FailedPlugin, Gateway, Plugin, read, write};
use crate::child::{self, Kind, Spec};
use crate::config::Config;
use crate::manifest::{self, Discovered};
use crate::python_env;
use crate::services::{BotApi, ControlApi};
use crate::storage::{self, admin::StorageAdminApi, service::StorageApi};

/// How long children get to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long in-flight messages may take to finish at shutdown.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// A private directory for the sockets of one errbotd run, removed when dropped.
pub struct RuntimeDir(PathBuf);

impl RuntimeDir {
    /// Creates a fresh directory with mode 0700 under `$XDG_RUNTIME_DIR` or the temp directory.
    /// The path is kept short: Unix socket paths are limited to 107 bytes.
    pub fn create() -> anyhow::Result<Self> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!(
            "errbotd-{}-{}",
            std::process::id(),
            &child::new_token()[..6]
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating runtime directory {}", dir.display()))?;
        Ok(Self(dir))
    }

    /// Path of a socket in the directory.
    pub fn socket(&self, kind: Kind, name: &str) -> PathBuf {
        socket_path(&self.0, kind, name)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// Path of the socket of child `name` in runtime directory `dir`.
pub fn socket_path(dir: &Path, kind: Kind, name: &str) -> PathBuf {
    {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let k = match kind {
            Kind::Plugin => "p",
            Kind::Backend => "b",
        };
        dir.join(format!("{k}-{safe}.sock"))
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where the bundled plugins are: beside an installed errbotd (`../share/errbot-rs/plugins`), or
/// the source tree's `plugins/` for a build from source.
pub fn bundled_plugins_dir() -> Option<PathBuf> {
    let installed = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("../share/errbot-rs/plugins")));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    installed.into_iter().chain([source]).find(|d| d.is_dir())
}

/// The control socket path for a configuration.
pub fn control_socket(config: &Config) -> PathBuf {
    config.data_dir().join("errbotd.sock")
}

/// Runs errbotd until it is asked to stop; returns the process exit code.
pub async fn run(config: Config) -> anyhow::Result<u8> {
    let t0 = Instant::now();
    let data_dir = config.data_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let runtime = RuntimeDir::create()?;
    let location = storage::settings::location(&config)?;
    let store = storage::Store::open(&location)
        .await
        .with_context(|| format!("opening the storage at {}", location.describe()))?;
    tracing::info!("storage: {}", store.describe());
    let bot = Bot::new(config, storage::core::Storage::load(store).await?);
    bot.storage.load_history(&bot.history).await?;

    // errbotd's own services.
    let bot_socket = runtime.0.join("bot.sock");
    let bot_address = transport::Address::unix_uri(&bot_socket);
    let incoming = transport::bind(&bot_address)?;
    let api = BotServiceServer::new(BotApi { bot: bot.clone() });
    let storage_api = StorageServiceServer::new(StorageApi { bot: bot.clone() });
    tokio::spawn(async move {
        if let Err(e) = tonic::transport::Server::builder()
            .add_service(api)
            .add_service(storage_api)
            .serve_with_incoming(incoming)
            .await
        {
            tracing::error!("BotService stopped: {e}");
        }
    });
    let control_path = control_socket(&bot.config);
    let control_incoming = transport::bind(&transport::Address::unix_uri(&control_path))
        .with_context(|| format!("binding control socket {}", control_path.display()))?;
    std::fs::set_permissions(&control_path, std::fs::Permissions::from_mode(0o600))?;
    let control = ControlServiceServer::new(ControlApi { bot: bot.clone() });
    let storage_admin = StorageAdminServiceServer::new(StorageAdminApi { bot: bot.clone() });
    tokio::spawn(async move {
        if let Err(e) = tonic::transport::Server::builder()
            .add_service(control)
            .add_service(storage_admin)
            .serve_with_incoming(control_incoming)
            .await
        {
            tracing::error!("ControlService stopped: {e}");
        }
    });

    // Children: plugins and gateways start concurrently.
    let mut plugin_dirs: Vec<PathBuf> = Vec::new();
    if bot.config.paths.bundled_plugins {
        plugin_dirs.extend(bundled_plugins_dir());
    }
    plugin_dirs.extend(
        bot.config
            .paths
            .plugin_dirs
            .iter()
            .map(|d| bot.config.resolve(d)),
    );
    let (found, problems) = manifest::discover(&plugin_dirs);
    let mut startup_warnings = problems;
    for p in &startup_warnings {
        tracing::warn!("{p}");
    }
    bot.lifecycle.set_launcher(crate::lifecycle::Launcher {
        runtime_dir: runtime.path().to_owned(),
        bot_address: bot_address.clone(),
        discovered: found.clone(),
    });
    for name in bot.storage.blacklist() {
        if found.iter().any(|d| d.manifest.name == name) {
            startup_warnings.push(format!(
                "- {name} is blacklisted: `{}plugin unblacklist {name}` starts it",
                bot.config.bot.prefix
            ));
        }
    }
    let found: Vec<Discovered> = found
        .into_iter()
        .filter(|d| {
            !bot.config
                .plugins
                .get(&d.manifest.name)
                .is_some_and(|s| s.disabled)
                && !bot.storage.is_blacklisted(&d.manifest.name)
        })
        .collect();
    let plugin_starts = futures::future::join_all(
        found
            .iter()
            .map(|d| start_plugin(&bot, runtime.path(), &bot_address, d)),
    );
    let gateway_starts = futures::future::join_all(
        bot.config
            .backend_instances()
            .map(|(name, kind, _)| start_gateway_process(&bot, &runtime, &bot_address, name, kind))
            .collect::<Vec<_>>(),
    );
    let (plugins, gateways) = tokio::join!(plugin_starts, gateway_starts);
    let gateways: Vec<(String, String, child::Running)> =
        gateways.into_iter().collect::<anyhow::Result<_>>()?;

    activate_plugins(&bot, plugins, &found, &mut startup_warnings).await;
    startup_warnings.extend(bot.rebuild_registry());

    // Gateways connect once the command table is known (for completion).
    let (inflight_tx, inflight) = watch::channel(0usize);
    let inflight_tx = Arc::new(inflight_tx);
    for (name, kind, process) in gateways {
        let gateway = connect_gateway(&bot, name, kind, process).await?;
        write(&bot.gateways).push(gateway.clone());
        spawn_events(bot.clone(), gateway, inflight_tx.clone());
    }
    let ready_ms = t0.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        plugins = read(&bot.plugins).len(),
        backends = read(&bot.gateways).len(),
        "errbotd ready in {ready_ms:.1} ms"
    );
    if !startup_warnings.is_empty() {
        let text = format!(
            "Some plugins had problems at start-up:\n\n{}",
            startup_warnings.join("\n")
        );
        let b = bot.clone();
        tokio::spawn(async move { crate::services::warn_admins(&b, &text).await });
    }

    crate::storage::core::spawn_history_writer(bot.clone());

    // Run until asked to stop.
    let signals = bot.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => signals.request_shutdown("SIGTERM"),
            _ = int.recv() => signals.request_shutdown("SIGINT"),
        }
    });
    let reason = bot.shutdown_requested().await;
    tracing::info!("shutting down: {reason}");
    let exit = if reason.starts_with("gateway ") { 1 } else { 0 };

    let mut inflight = inflight;
    let _ = tokio::time::timeout(DRAIN_GRACE, inflight.wait_for(|n| *n == 0)).await;
    shutdown_children(&bot).await;
    crate::lifecycle::stop_waiting(&bot).await;
    if let Err(e) = bot.storage.flush_history(&bot.history).await {
        tracing::error!("writing the command history failed: {e}");
    }
    bot.storage.store.close().await;
    let _ = std::fs::remove_file(&control_path);
    drop(runtime);
    Ok(exit)
}

/// A plugin process that serves and has described itself.
pub(crate) struct Described {
    process: child::Running,
    description: errbot_proto::v1::PluginDescription,
    client: PluginServiceClient<tonic::transport::Channel>,
}

impl Described {
    /// The plugin, not yet activated.
    pub(crate) fn into_plugin(self, name: String) -> Plugin {
        Plugin {
            name,
            description: self.description,
            client: self.client,
            process: self.process,
        }
    }
}

/// Starts a plugin process, waits for its health check and asks it to describe itself.
pub(crate) async fn start_plugin(
    bot: &Arc<Bot>,
    runtime: &Path,
    bot_address: &str,
    plugin: &Discovered,
) -> Result<Described, String> {
    let name = &plugin.manifest.name;
    let venv_python = match &plugin.manifest.python_requirements {
        Some(req) => {
            let root = bot.config.venv_dir();
            Some(
                python_env::ensure(&root, name, &plugin.dir.join(req))
                    .await
                    .map_err(|e| format!("{e:#}"))?,
            )
        }
        None => None,
    };
    let (program, args) = plugin.program(venv_python.as_deref())?;
    let spec = Spec {
        name: name.clone(),
        kind: Kind::Plugin,
        program,
        args,
        cwd: plugin.dir.clone(),
        terminal: false,
    };
    let token = child::new_token();
    write(&bot.tokens).insert(token.clone(), (Kind::Plugin, name.clone()));
    let timeout = Duration::from_secs_f64(bot.config.limits.start_timeout_secs);
    let process = child::start(
        spec,
        &socket_path(runtime, Kind::Plugin, name),
        bot_address,
        token,
        timeout,
    )
    .await
    .map_err(|e| format!("{e:#}"))?;
    let mut client = PluginServiceClient::new(process.channel.clone());
    let mut description = client
        .describe(DescribeRequest {
            protocol_versions: vec![errbot_proto::contract::PROTOCOL_VERSION.into()],
        })
        .await
        .map_err(|s| format!("Describe failed: {}", s.message()))?
        .into_inner();
    if description.description.trim().is_empty() {
        description.description = plugin.manifest.description.clone();
    }
    if description.name != *name {
        process.stop(STOP_GRACE).await;
        return Err(format!(
            "describes itself as {:?} but its plugin.toml names it {name:?}",
            description.name
        ));
    }
    Ok(Described {
        process,
        description,
        client,
    })
}

/// Activates the described plugins in dependency order; records failures.
async fn activate_plugins(
    bot: &Arc<Bot>,
    results: Vec<Result<Described, String>>,
    found: &[Discovered],
    warnings: &mut Vec<String>,
) {
    let mut pending: HashMap<String, Described> = HashMap::new();
    for (result, d) in results.into_iter().zip(found) {
        match result {
            Ok(described) => {
                pending.insert(d.manifest.name.clone(), described);
            }
            Err(reason) => fail(bot, &d.manifest.name, reason, warnings),
        }
    }
    let mut active: HashSet<String> = HashSet::new();
    let deps = |d: &Described, name: &str| -> Vec<String> {
        let mut all = d.description.depends_on.clone();
        if let Some(m) = found.iter().find(|f| f.manifest.name == name) {
            all.extend(m.manifest.depends_on.iter().cloned());
        }
        all
    };
    loop {
        let mut ready: Vec<String> = pending
            .iter()
            .filter(|(name, d)| deps(d, name).iter().all(|dep| active.contains(dep)))
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        ready.sort();
        for name in ready {
            let Some(d) = pending.remove(&name) else {
                continue;
            };
            let plugin = Arc::new(d.into_plugin(name.clone()));
            let config_json = match crate::lifecycle::decide(bot, &plugin).await {
                Ok(crate::lifecycle::Decision::Activate(config_json)) => config_json,
                Ok(crate::lifecycle::Decision::Wait(reason)) => {
                    warnings.push(format!("- {name}: {reason}"));
                    bot.lifecycle.wait(plugin, reason);
                    continue;
                }
                Err(reason) => {
                    plugin.process.stop(STOP_GRACE).await;
                    fail(bot, &name, reason, warnings);
                    continue;
                }
            };
            let req = ActivateRequest {
                config_json,
                bot_prefix: bot.config.bot.prefix.clone(),
            };
            match plugin.client.clone().activate(req).await {
                Ok(_) => {
                    active.insert(name.clone());
                    write(&bot.plugins).insert(name, plugin);
                }
                Err(s) => {
                    plugin.process.stop(STOP_GRACE).await;
                    fail(
                        bot,
                        &name,
                        format!("Activate failed: {}", s.message()),
                        warnings,
                    );
                }
            }
        }
    }
    for (name, d) in pending {
        let missing: Vec<String> = deps(&d, &name)
            .into_iter()
            .filter(|x| !active.contains(x))
            .collect();
        d.process.stop(STOP_GRACE).await;
        fail(
            bot,
            &name,
            format!("missing dependencies: {}", missing.join(", ")),
            warnings,
        );
    }
}

fn fail(bot: &Bot, name: &str, reason: String, warnings: &mut Vec<String>) {
    tracing::error!(plugin = name, "not started: {reason}");
    warnings.push(format!("- {name}: {reason}"));
    write(&bot.failed).push(FailedPlugin {
        name: name.to_owned(),
        reason,
    });
}

async fn start_gateway_process(
    bot: &Arc<Bot>,
    runtime: &RuntimeDir,
    bot_address: &str,
    name: &str,
    kind: &str,
) -> anyhow::Result<(String, String, child::Running)> {
    let program = child::beside_errbotd("errbot-gateway");
    let spec = Spec {
        name: name.to_owned(),
        kind: Kind::Backend,
        program,
        args: Vec::new(),
        cwd: bot.config.data_dir(),
        terminal: kind == "console",
    };
    let token = child::new_token();
    write(&bot.tokens).insert(token.clone(), (Kind::Backend, name.to_owned()));
    let timeout = Duration::from_secs_f64(bot.config.limits.start_timeout_secs);
    let process = child::start(
        spec,
        &runtime.socket(Kind::Backend, name),
        bot_address,
        token,
        timeout,
    )
    .await
    .with_context(|| format!("backend {name}"))?;
    Ok((name.to_owned(), kind.to_owned(), process))
}

async fn connect_gateway(
    bot: &Arc<Bot>,
    name: String,
    kind: String,
    process: child::Running,
) -> anyhow::Result<Arc<Gateway>> {
    let mut client = BackendServiceClient::new(process.channel.clone());
    let mut settings = bot
        .config
        .backends
        .get(&name)
        .map(|b| b.settings.clone())
        .unwrap_or_default();
    if kind == "console" && !settings.contains_key("history_file") {
        let path = bot.config.data_dir().join("console_history");
        settings.insert("history_file".into(), path.display().to_string().into());
    }
    let settings_json = serde_json::to_string(&settings)?;
    let registry = bot.registry();
    let command_names = registry
        .commands()
        .iter()
        .filter(|c| !c.spec.hidden && !c.is_regex())
        .map(|c| c.display_name())
        .collect();
    let info = client
        .start(StartRequest {
            name: name.clone(),
            kind: kind.clone(),
            settings_json,
            bot_prefix: bot.config.bot.prefix.clone(),
            bot_admins: bot.config.bot.admins.clone(),
            command_names,
        })
        .await
        .map_err(|s| anyhow::anyhow!("backend {name} failed to start: {}", s.message()))?
        .into_inner();
    tracing::info!(backend = %name, "connected: {}", info.description);
    Ok(Arc::new(Gateway {
        name,
        kind,
        client,
        info,
        process,
    }))
}

/// Reads a gateway's events and dispatches every message concurrently.
fn spawn_events(bot: Arc<Bot>, gateway: Arc<Gateway>, inflight: Arc<watch::Sender<usize>>) {
    tokio::spawn(async move {
        let stream = gateway.client.clone().events(EventsRequest {}).await;
        let mut stream = match stream {
            Ok(s) => s.into_inner(),
            Err(e) => {
                bot.request_shutdown(format!(
                    "gateway {} refused its event stream: {}",
                    gateway.name,
                    e.message()
                ));
                return;
            }
        };
        while let Ok(Some(event)) = stream.message().await {
            match event.kind {
                Some(backend_event::Kind::Message(message)) => {
                    inflight.send_modify(|n| *n += 1);
                    let (b, g, done) = (bot.clone(), gateway.clone(), inflight.clone());
                    tokio::spawn(async move {
                        b.handle_message(g, message).await;
                        done.send_modify(|n| *n -= 1);
                    });
                }
                Some(backend_event::Kind::Shutdown(req)) => {
                    bot.request_shutdown(format!(
                        "requested by backend {}: {}",
                        gateway.name, req.reason
                    ));
                }
                Some(backend_event::Kind::Connected(_)) => {
                    tracing::info!(backend = %gateway.name, "connected");
                }
                Some(other) => tracing::debug!(backend = %gateway.name, "event {other:?}"),
                None => {}
            }
        }
        let reason =
            match tokio::time::timeout(Duration::from_secs(1), gateway.process.wait_exit()).await {
                Ok(r) => r,
                Err(_) => "closed its event stream".to_owned(),
            };
        bot.request_shutdown(format!("gateway {} ended: {reason}", gateway.name));
    });
}

/// Deactivates the plugins and stops every child.
async fn shutdown_children(bot: &Arc<Bot>) {
    let plugins: Vec<Arc<Plugin>> = read(&bot.plugins).values().cloned().collect();
    let deactivations = plugins.iter().map(|p| async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            p.client.clone().deactivate(DeactivateRequest {}),
        )
        .await;
        p.process.stop(STOP_GRACE).await;
    });
    let gateways: Vec<Arc<Gateway>> = read(&bot.gateways).clone();
    let gateway_stops = gateways.iter().map(|g| g.process.stop(STOP_GRACE));
    tokio::join!(
        futures::future::join_all(deactivations),
        futures::future::join_all(gateway_stops)
    );
}

/// Checks that a configuration can be used (for `errbotd check-config`).
pub fn check(config: &Config) -> anyhow::Result<()> {
    for (name, kind, _) in config.backend_instances() {
        if !["console", "test"].contains(&kind) {
            bail!("backend {name}: unknown kind {kind:?} (known: console, test)");
        }
    }
    // The storage URL, including the variable `url_env` names.
    storage::settings::location(config)?;
    Ok(())
}
