//! Start-up and shut-down of errbotd: the runtime directory, the sockets errbotd serves, every
//! child started and activated, the gateways' event streams, and an orderly stop.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use errbot_proto::transport;
use errbot_proto::v1::{
    bot_service_server::BotServiceServer, control_service_server::ControlServiceServer,
    storage_admin_service_server::StorageAdminServiceServer,
    storage_service_server::StorageServiceServer,
};

use crate::bot::{Bot, read, write};
use crate::child;
use crate::config::Config;
use crate::control::ControlApi;
use crate::manifest;
use crate::services::BotApi;
use crate::storage::{self, admin::StorageAdminApi, service::StorageApi};
use crate::supervise::gateway::Gateway;
use crate::supervise::plugin::{Described, Instance, PluginSlot, StartError};
use crate::supervise::policy::Policy;
use crate::systemd;
/// How long in-flight messages may take to finish at shutdown.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// A private directory for the sockets of one errbotd run, removed when dropped.
pub struct RuntimeDir(PathBuf);

impl RuntimeDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

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
pub async fn run(config: Config) -> anyhow::Result<Exit> {
    let t0 = Instant::now();
    let data_dir = config.data_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let runtime = RuntimeDir::create()?;
    let bot_socket = runtime.path().join("bot.sock");
    let bot_address = transport::Address::unix_uri(&bot_socket);
    let location = storage::settings::location(&config)?;
    let store = storage::Store::open(&location)
        .await
        .with_context(|| format!("opening the storage at {}", location.describe()))?;
    tracing::info!("storage: {}", store.describe());
    let flows = crate::flows::Flows::load(&store).await?;
    let storage = storage::core::Storage::load(store).await?;
    // `[bot] core_plugins` (Errbot's CORE_PLUGINS): the built-in plugins left out are not there.
    let builtins = crate::builtins::descriptions()
        .into_iter()
        .filter(|d| {
            config
                .bot
                .core_plugins
                .as_ref()
                .is_none_or(|loaded| loaded.contains(&d.name))
        })
        .collect();
    let (bot, alerts) = Bot::new(
        config,
        storage,
        flows,
        runtime.path().to_owned(),
        bot_address.clone(),
        builtins,
    );
    tokio::spawn(crate::notify::run(bot.clone(), alerts));
    for warning in bot.config().bot.notification_warnings() {
        tracing::warn!("{}: {warning}", bot.config().describe_source());
    }
    bot.storage.load_history(&bot.history).await?;

    // errbotd's own services.
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
    let control_path = control_socket(&bot.config());
    let control_incoming = transport::bind(&transport::Address::unix_uri(&control_path))
        .with_context(|| format!("binding control socket {}", control_path.display()))?;
    std::fs::set_permissions(&control_path, std::fs::Permissions::from_mode(0o600))?;
    let control_incoming = crate::control::owner_only(control_incoming);
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

    // The web server (webhooks, health) before the children: /readyz says when they are up.
    if let Some(web) = crate::web::webserver::at_start(&bot) {
        bot.web.serve(bot.clone(), web).await?;
    }

    // Children: plugins and gateways start concurrently.
    let mut startup_warnings = Vec::new();
    let slots = plugin_slots(&bot, discover_plugins(&bot).await, &mut startup_warnings);
    let config = bot.config();
    let gateways: Vec<Arc<Gateway>> = config
        .backend_instances()
        .map(|(name, kind, _)| {
            let policy = Policy::from_settings(&config.backend_supervision(name));
            Gateway::new(name, kind, policy)
        })
        .collect();
    *write(&bot.gateways) = gateways.clone();
    for slot in slots.iter().filter(|s| bot.storage.is_blacklisted(&s.name)) {
        startup_warnings.push(format!(
            "- {name} is blacklisted: `{}plugin unblacklist {name}` starts it",
            config.bot.prefix,
            name = slot.name
        ));
    }
    // A plugin to be built is built by its slot's task: the bot does not wait for builds, nor
    // for pip filling a virtualenv, unless another plugin depends on the plugin.
    let needed: HashSet<String> = slots.iter().flat_map(|s| s.manifest_depends_on()).collect();
    let plugin_starts = futures::future::join_all(
        slots
            .iter()
            .map(|slot| slot.spawn_unless_building(&bot, needed.contains(&slot.name))),
    );
    let gateway_starts = futures::future::join_all(gateways.iter().map(|g| g.spawn(&bot)));
    let (spawned, processes) = tokio::join!(plugin_starts, gateway_starts);
    let processes: Vec<child::Running> = processes.into_iter().collect::<anyhow::Result<_>>()?;

    let activated = activate_in_order(&bot, slots.into_iter().zip(spawned).collect()).await;
    for (slot, result) in activated {
        slot.supervise(bot.clone(), result);
    }
    startup_warnings.extend(bot.rebuild_registry());
    let starting: Vec<String> = bot
        .starting_plugins()
        .iter()
        .map(|s| s.name_with_note())
        .collect();

    // Gateways connect once the command table is known (for completion).
    for (gateway, process) in gateways.iter().zip(processes) {
        let link = gateway.connect(&bot, process).await?;
        gateway.supervise(bot.clone(), link, Arc::new(crate::pipeline::Pipeline));
    }
    let ready_ms = t0.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        plugins = read(&bot.plugins).len(),
        backends = gateways.len(),
        "errbotd ready in {ready_ms:.1} ms"
    );
    systemd::ready(&bot);
    if !starting.is_empty() {
        let text = format!(
            "Still starting in the background: {}. Their commands answer once they are ready.",
            starting.join(", ")
        );
        tracing::info!("{text}");
        bot.alert(text);
    }
    if !startup_warnings.is_empty() {
        let text = format!(
            "Some plugins had problems at start-up:\n\n{}",
            startup_warnings.join("\n")
        );
        bot.alert(text);
    }

    crate::storage::core::spawn_history_writer(bot.clone());
    crate::flows::spawn_sweeper(bot.clone());

    // SIGHUP reads the configuration again.
    let reloads = bot.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::error!("cannot install the SIGHUP handler");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reading the configuration again");
            // The outcome is logged (the only place a SIGHUP's outcome goes).
            let _ = crate::reload::reload(&reloads).await;
        }
    });

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
    if bot.restart_requested() {
        systemd::restarting();
    } else {
        systemd::stopping();
    }
    bot.pollers.stop_all();

    let mut inflight = bot.inflight.subscribe();
    let _ = tokio::time::timeout(DRAIN_GRACE, inflight.wait_for(|n| *n == 0)).await;
    let plugins = bot.plugin_slots();
    // The gateways in force now (a reload may have changed them since start-up).
    let gateways: Vec<Arc<Gateway>> = read(&bot.gateways).clone();
    tokio::join!(
        futures::future::join_all(plugins.iter().map(|p| p.stop())),
        futures::future::join_all(gateways.iter().map(|g| g.stop()))
    );
    if let Err(e) = bot.storage.flush_history(&bot.history).await {
        tracing::error!("writing the command history failed: {e}");
    }
    bot.storage.store.close().await;
    let _ = std::fs::remove_file(&control_path);
    drop(runtime);
    if bot.restart_requested() {
        return Ok(Exit::Restart);
    }
    Ok(Exit::Code(bot.exit_code()))
}

/// How errbotd ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit with this status.
    Code(u8),
    /// Start again (`!restart`): the caller re-executes errbotd once the runtime is gone.
    Restart,
}

/// The directories searched for plugins: the bundled ones (unless turned off), then
/// `paths.plugin_dirs`.
pub fn plugin_dirs(config: &Config) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if config.paths.bundled_plugins {
        dirs.extend(bundled_plugins_dir());
    }
    dirs.extend(config.paths.plugin_dirs.iter().map(|d| config.resolve(d)));
    dirs
}

/// Every plugin on disk: those of the plugin directories, then those of the installed
/// repositories (`!repos install`); a name seen twice keeps the first.
pub async fn discover_plugins(bot: &Bot) -> (Vec<manifest::Discovered>, Vec<String>) {
    let (mut found, mut problems) = manifest::discover(&plugin_dirs(&bot.config()));
    let (installed, more) = crate::repos::discover_installed(bot).await;
    problems.extend(more);
    for d in installed {
        match found.iter().find(|f| f.manifest.name == d.manifest.name) {
            Some(other) => problems.push(format!(
                "{}: plugin {:?} is already provided by {}; ignored",
                d.dir.display(),
                d.manifest.name,
                other.dir.display()
            )),
            None => found.push(d),
        }
    }
    (found, problems)
}

/// Whether plugin `found` is to run: not disabled by its `[plugins.NAME]` table, and given one
/// when it is opt-in.
pub fn wanted(config: &Config, found: &manifest::Discovered) -> bool {
    match config.plugins.get(&found.manifest.name) {
        Some(settings) => !settings.disabled,
        None => !found.manifest.opt_in,
    }
}

/// A slot for every plugin found that is not disabled, registered in `bot`.
fn plugin_slots(
    bot: &Arc<Bot>,
    (found, problems): (Vec<manifest::Discovered>, Vec<String>),
    warnings: &mut Vec<String>,
) -> Vec<Arc<PluginSlot>> {
    let config = bot.config();
    for p in &problems {
        tracing::warn!("{p}");
    }
    warnings.extend(problems);
    let slots: Vec<Arc<PluginSlot>> = found
        .into_iter()
        .filter(|d| wanted(&config, d))
        .map(|d| {
            let policy = Policy::from_settings(&config.plugin_supervision(&d.manifest.name));
            PluginSlot::new(d, policy)
        })
        .collect();
    *write(&bot.plugins) = slots.iter().map(|s| (s.name.clone(), s.clone())).collect();
    slots
}

type Outcome = Result<Arc<Instance>, StartError>;

/// Activates the described plugins in dependency order (a dependency may also be a plugin
/// already running). A plugin whose dependencies did not activate is not activated either.
pub async fn activate_in_order(
    bot: &Arc<Bot>,
    spawned: Vec<(Arc<PluginSlot>, Result<Described, StartError>)>,
) -> Vec<(Arc<PluginSlot>, Outcome)> {
    let mut done: Vec<(Arc<PluginSlot>, Outcome)> = Vec::new();
    let mut pending: BTreeMap<String, (Arc<PluginSlot>, Described)> = BTreeMap::new();
    for (slot, result) in spawned {
        match result {
            Ok(described) => {
                pending.insert(slot.name.clone(), (slot, described));
            }
            Err(e) => done.push((slot, Err(e))),
        }
    }
    let deps = |slot: &PluginSlot, d: &Described| -> Vec<String> {
        slot.depends_on_described(&d.description)
    };
    let mut active: HashSet<String> = read(&bot.plugins)
        .values()
        .filter(|s| s.life.state() == crate::supervise::State::Running)
        .map(|s| s.name.clone())
        .collect();
    loop {
        let ready: Vec<String> = pending
            .iter()
            .filter(|(_, (slot, d))| deps(slot, d).iter().all(|dep| active.contains(dep)))
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        for name in ready {
            let Some((slot, described)) = pending.remove(&name) else {
                continue;
            };
            let outcome = slot.activate(bot, described).await;
            if outcome.is_ok() {
                active.insert(name);
            }
            done.push((slot, outcome));
        }
    }
    // What is left waits on a dependency that failed or is missing, or on itself (a cycle).
    let waiting: BTreeMap<String, Vec<String>> = pending
        .iter()
        .map(|(name, (slot, d))| (name.clone(), deps(slot, d)))
        .collect();
    for (name, (slot, described)) in pending {
        let missing: Vec<String> = deps(&slot, &described)
            .into_iter()
            .filter(|x| !active.contains(x))
            .collect();
        described.discard(slot.policy().stop_grace).await;
        let kind = if depends_on_itself(&name, &waiting) {
            "circular dependencies"
        } else {
            "missing dependencies"
        };
        let reason = format!("{kind}: {}", missing.join(", "));
        done.push((slot, Err(StartError::permanent(reason))));
    }
    done
}

/// Whether `name` reaches itself through the dependencies in `graph`.
fn depends_on_itself(name: &str, graph: &BTreeMap<String, Vec<String>>) -> bool {
    let mut seen = HashSet::new();
    let mut next: Vec<&str> = graph
        .get(name)
        .map_or(Vec::new(), |d| d.iter().map(String::as_str).collect());
    while let Some(dep) = next.pop() {
        if dep == name {
            return true;
        }
        if seen.insert(dep) {
            next.extend(graph.get(dep).into_iter().flatten().map(String::as_str));
        }
    }
    false
}

/// Checks that a configuration can be used (for `errbotd check-config`, and before starting):
/// errbot-gateway checks each backend's settings, so the kinds and their keys are known in one
/// place only.
pub fn check(config: &Config) -> anyhow::Result<()> {
    crate::backend_check::check(config).map_err(anyhow::Error::msg)?;
    // The storage URL, including the variable `url_env` names.
    storage::settings::location(config)?;
    Ok(())
}

/// Reads and checks a configuration as `errbotd check-config`, `errbotctl config check` and a
/// reload do: `path`, else `./errbot.toml`, else the embedded defaults. The error lists every
/// problem found, one per line (`FILE:LINE:COLUMN: key `...`: ...`).
pub fn load_checked(path: Option<&Path>) -> Result<Config, String> {
    let config = Config::locate(path).map_err(|e| e.to_string())?;
    check(&config).map_err(|e| format!("{e:#}"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_told_from_a_missing_dependency() {
        let graph: BTreeMap<String, Vec<String>> = [
            ("Self", vec!["Self"]),
            ("A", vec!["B"]),
            ("B", vec!["C"]),
            ("C", vec!["A"]),
            ("Waits", vec!["A"]),
            ("Orphan", vec!["Missing"]),
        ]
        .into_iter()
        .map(|(n, d)| (n.to_owned(), d.into_iter().map(str::to_owned).collect()))
        .collect();
        for name in ["Self", "A", "B", "C"] {
            assert!(depends_on_itself(name, &graph), "{name}");
        }
        // Waits on a cycle without being in it; Orphan's dependency is not there at all.
        assert!(!depends_on_itself("Waits", &graph));
        assert!(!depends_on_itself("Orphan", &graph));
    }
}
