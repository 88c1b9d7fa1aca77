//! The running bot's shared state: its configuration, children, command table, history and
//! storage. The path of a message through it is [`crate::pipeline`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use errbot_proto::v1::{EventRequest, PluginDescription};
use tokio::sync::{mpsc, watch};

use crate::child;
use crate::config::Config;
use crate::dispatch::history::History;
use crate::registry::{Owner, Registry};
use crate::supervise::gateway::Gateway;
use crate::supervise::plugin::PluginSlot;

/// Tokens of the children, to authenticate their BotService calls: token -> (kind, name).
pub type TokenStore = Arc<RwLock<HashMap<String, (child::Kind, String)>>>;

/// Shared state of errbotd.
pub struct Bot {
    /// The configuration in force, replaced whole by a reload (see [`Bot::config`]).
    config: RwLock<Arc<Config>>,
    registry: RwLock<Arc<Registry>>,
    /// Command history per person.
    pub history: History,
    /// Gateways, in backend name order.
    pub gateways: RwLock<Vec<Arc<Gateway>>>,
    /// Every plugin found, active or not, by name.
    pub plugins: RwLock<BTreeMap<String, Arc<PluginSlot>>>,
    /// Tokens of the children's processes.
    pub tokens: TokenStore,
    /// Messages being handled (shutdown waits for them, bounded).
    pub inflight: watch::Sender<usize>,
    /// The private directory of the children's sockets.
    pub runtime_dir: PathBuf,
    /// errbotd's BotService address, given to every child.
    pub bot_address: String,
    /// Persistent storage and errbotd's own state in it.
    pub storage: crate::storage::core::Storage,
    /// Conversation flows in progress.
    pub flows: crate::flows::Flows,
    /// Serializes run-time changes to the plugin set (configure, blacklist).
    pub plugin_changes: tokio::sync::Mutex<()>,
    /// Serializes configuration reloads.
    pub reloads: tokio::sync::Mutex<()>,
    /// Plugins' pollers (their schedules outlive the plugins' processes).
    pub pollers: crate::pollers::Pollers,
    /// When errbotd started.
    pub started: Instant,
    /// Wall-clock start time.
    pub started_at: SystemTime,
    shutdown: watch::Sender<Option<String>>,
    exit_code: AtomicU8,
    restart: AtomicBool,
    /// The built-in commands, declared as plugins are.
    builtins: Vec<PluginDescription>,
    /// Built-in plugins deactivated (`!plugin deactivate ChatRoom`), until activated again or
    /// errbotd restarts.
    builtins_off: RwLock<BTreeSet<String>>,
    /// The callback queues, one per plugin that was sent an event
    /// ([`crate::pipeline::callbacks`]).
    pub callback_queues: Mutex<HashMap<String, mpsc::Sender<EventRequest>>>,
    /// Warnings for the admins, delivered by [`crate::notify`].
    alerts: mpsc::UnboundedSender<String>,
    /// The web server (webhooks, health), when it runs.
    pub web: crate::web::Server,
}

impl Bot {
    /// A bot with no children yet, keeping its state in `storage` (with the `flows` in
    /// progress found there), whose children's sockets go
    /// in `runtime_dir` and who serves BotService at `bot_address`; `builtins` are the commands
    /// built into errbotd. Also returns the queue of warnings for the admins, which
    /// [`crate::notify::run`] delivers.
    pub fn new(
        config: Config,
        storage: crate::storage::core::Storage,
        flows: crate::flows::Flows,
        runtime_dir: PathBuf,
        bot_address: String,
        builtins: Vec<PluginDescription>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<String>) {
        let (shutdown, _) = watch::channel(None);
        let (alerts, alerts_rx) = mpsc::unbounded_channel();
        let bot = Arc::new(Self {
            config: RwLock::new(Arc::new(config)),
            registry: RwLock::new(Arc::new(Registry::default())),
            history: History::default(),
            gateways: RwLock::new(Vec::new()),
            plugins: RwLock::new(BTreeMap::new()),
            tokens: TokenStore::default(),
            inflight: watch::channel(0).0,
            runtime_dir,
            bot_address,
            storage,
            flows,
            plugin_changes: tokio::sync::Mutex::new(()),
            reloads: tokio::sync::Mutex::new(()),
            pollers: crate::pollers::Pollers::default(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            shutdown,
            exit_code: AtomicU8::new(0),
            restart: AtomicBool::new(false),
            builtins,
            builtins_off: RwLock::default(),
            callback_queues: Mutex::default(),
            alerts,
            web: crate::web::Server::default(),
        });
        bot.rebuild_registry();
        (bot, alerts_rx)
    }

    /// Queues a warning for the admins (`[bot] admin_notifications`); never waits.
    pub fn alert(&self, text: impl Into<String>) {
        // The receiver lives as long as errbotd's runtime.
        let _ = self.alerts.send(text.into());
    }

    /// The configuration in force: a snapshot that a reload does not change (it replaces the
    /// whole configuration). A message is handled with one snapshot throughout its dispatch.
    pub fn config(&self) -> Arc<Config> {
        read(&self.config).clone()
    }

    /// Puts `config` in force (a reload); messages that already took a snapshot keep theirs.
    pub fn set_config(&self, config: Arc<Config>) {
        *write(&self.config) = config;
    }

    /// The command prefix in force.
    pub fn prefix(&self) -> String {
        self.config().prefixes().prefix().to_owned()
    }

    /// The current command table.
    pub fn registry(&self) -> Arc<Registry> {
        read(&self.registry).clone()
    }

    /// Rebuilds the command table from the built-ins and the routable plugins (in name order)
    /// and returns the registration warnings.
    pub fn rebuild_registry(&self) -> Vec<String> {
        let builtins = &self.builtins;
        // The plugins, then their dynamic plugins (served by their processes): those come last,
        // so that they are the ones renamed when a name is taken, as in Errbot.
        let mut plugins: Vec<(String, PluginDescription)> = Vec::new();
        let mut dynamic: Vec<(String, PluginDescription)> = Vec::new();
        for slot in read(&self.plugins).values() {
            let Some(own) = slot.routable_description() else {
                continue;
            };
            plugins.push((slot.name.clone(), own));
            if let Some(instance) = slot.current() {
                dynamic.extend(
                    instance
                        .dynamic_plugins()
                        .into_iter()
                        .map(|d| (slot.name.clone(), d)),
                );
            }
        }
        plugins.extend(dynamic);
        let all = builtins
            .iter()
            .filter(|d| self.builtin_active(&d.name))
            .map(|d| (d, Owner::Builtin))
            .chain(
                plugins
                    .iter()
                    .map(|(name, d)| (d, Owner::Plugin(name.clone()))),
            );
        let (registry, warnings) = Registry::build(all);
        *write(&self.registry) = Arc::new(registry);
        warnings.into_iter().map(|w| w.0).collect()
    }

    /// Whether `name` is one of the built-in plugins loaded.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtins.iter().any(|d| d.name == name)
    }

    /// The built-in plugins loaded (`[bot] core_plugins`), in order.
    pub fn builtin_names(&self) -> Vec<String> {
        self.builtins.iter().map(|d| d.name.clone()).collect()
    }

    /// Whether built-in plugin `name` serves its commands: not deactivated, not blacklisted.
    pub fn builtin_active(&self, name: &str) -> bool {
        !read(&self.builtins_off).contains(name) && !self.storage.is_blacklisted(name)
    }

    /// Deactivates (`off`) or activates built-in plugin `name`, and rebuilds the command table.
    pub fn set_builtin_off(&self, name: &str, off: bool) {
        let mut set = write(&self.builtins_off);
        if off {
            set.insert(name.to_owned());
        } else {
            set.remove(name);
        }
        drop(set);
        self.rebuild_registry();
    }

    /// Asks errbotd to shut down.
    pub fn request_shutdown(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.shutdown.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// Asks errbotd to shut down because it cannot go on; it exits with status 1.
    pub fn fail(&self, reason: impl Into<String>) {
        self.exit_code.store(1, Ordering::Relaxed);
        self.request_shutdown(reason);
    }

    /// Asks errbotd to stop everything and start again as a new process image (`!restart`):
    /// the same program, arguments and process id (systemd sees no exit).
    pub fn request_restart(&self, reason: impl Into<String>) {
        self.restart.store(true, Ordering::Relaxed);
        self.request_shutdown(reason);
    }

    /// Whether the shutdown under way is a restart.
    pub fn restart_requested(&self) -> bool {
        self.restart.load(Ordering::Relaxed)
    }

    /// The exit status errbotd ends with.
    pub fn exit_code(&self) -> u8 {
        self.exit_code.load(Ordering::Relaxed)
    }

    /// Whether a shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.borrow().is_some()
    }

    /// Path of a child's socket in the runtime directory (names are sanitized and kept short:
    /// Unix socket paths are limited to 107 bytes).
    pub fn socket_path(&self, kind: child::Kind, name: &str) -> PathBuf {
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
            child::Kind::Plugin => "p",
            child::Kind::Backend => "b",
        };
        self.runtime_dir.join(format!("{k}-{safe}.sock"))
    }

    /// The status of every child: gateways (in backend order), then plugins (by name).
    pub fn child_statuses(&self) -> Vec<errbot_proto::v1::ChildStatus> {
        let mut children: Vec<_> = read(&self.gateways)
            .iter()
            .map(|g| g.life.status(&g.name, "backend"))
            .collect();
        children.extend(
            read(&self.plugins)
                .values()
                .map(|p| p.life.status(&p.name, "plugin")),
        );
        children
    }

    /// Every plugin's slot, by name.
    pub fn plugin_slots(&self) -> Vec<Arc<PluginSlot>> {
        read(&self.plugins).values().cloned().collect()
    }

    /// The plugins still starting in the background (being built, or installing their Python
    /// requirements).
    pub fn starting_plugins(&self) -> Vec<Arc<PluginSlot>> {
        read(&self.plugins)
            .values()
            .filter(|s| s.life.state() == crate::supervise::State::Starting)
            .cloned()
            .collect()
    }

    /// The slot of a plugin, by exact name.
    pub fn plugin(&self, name: &str) -> Option<Arc<PluginSlot>> {
        read(&self.plugins).get(name).cloned()
    }

    /// Resolves once a shutdown was requested; returns the reason.
    pub async fn shutdown_requested(&self) -> String {
        let mut rx = self.shutdown.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(r) => r.clone().unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The gateway of a backend instance.
    pub fn gateway(&self, name: &str) -> Option<Arc<Gateway>> {
        read(&self.gateways)
            .iter()
            .find(|g| g.name == name)
            .cloned()
    }
}

/// Reads a lock, ignoring poisoning (the data stays consistent: writers replace whole values).
pub fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

/// Writes a lock, ignoring poisoning.
pub fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}
