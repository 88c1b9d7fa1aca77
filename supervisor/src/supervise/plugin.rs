//! Plugin slots: one per discovered plugin, each with a task that keeps a process serving it.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use errbot_proto::v1::{
    ActivateRequest, DeactivateRequest, DescribeRequest, PluginDescription,
    plugin_service_client::PluginServiceClient,
};
use tokio::sync::{Notify, mpsc, oneshot};
use tonic::transport::Channel;

use super::commands::Commands;
use super::policy::{Policy, Restarts};
use super::{Life, State, health, jitter};
use crate::bot::{Bot, TokenStore, read, write};
use crate::child::{self, Kind, Spec};
use crate::lifecycle::{self, Decision};
use crate::manifest::Discovered;
use crate::python_env;

/// How long a command waits for a restarting plugin before it is answered with an error.
const RESTART_WAIT: Duration = Duration::from_secs(5);
/// How long a plugin's Deactivate may take.
const DEACTIVATE_TIMEOUT: Duration = Duration::from_secs(2);
/// The status note of a plugin while its build runs.
pub const BUILDING: &str = "building";
/// The status note of a Python plugin whose virtualenv is being filled (pip) before it starts.
pub const INSTALLING: &str = "installing its Python requirements";

/// One running plugin process, described and activated.
pub struct Instance {
    /// Plugin name.
    pub name: String,
    /// What it declared.
    pub description: PluginDescription,
    /// Client of its PluginService.
    pub client: PluginServiceClient<Channel>,
    /// Its commands' way: a session, or Execute calls.
    pub commands: Commands,
    /// The process.
    pub process: child::Running,
    /// The dynamic plugins this process declared (BotService.SetDynamicPlugins), which live as
    /// long as it does.
    dynamic: RwLock<Vec<PluginDescription>>,
    inflight: AtomicUsize,
    idle: Notify,
}

impl Instance {
    /// Its dynamic plugins (Errbot's create_dynamic_plugin).
    pub fn dynamic_plugins(&self) -> Vec<PluginDescription> {
        read(&self.dynamic).clone()
    }

    /// Replaces its dynamic plugins; the command table must be rebuilt after.
    pub fn set_dynamic_plugins(&self, plugins: Vec<PluginDescription>) {
        *write(&self.dynamic) = plugins;
    }

    /// Counts a command as in flight on this process until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InflightGuard {
        self.inflight.fetch_add(1, Ordering::AcqRel);
        InflightGuard(self.clone())
    }

    /// Waits until no command is in flight, at most `within`; returns whether it drained.
    async fn drained(&self, within: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.inflight.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, wait).await.is_ok()
    }
}

/// Marks a command in flight on an [`Instance`].
pub struct InflightGuard(Arc<Instance>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// What an operator asks of a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start it (clears a failed state).
    Activate,
    /// Stop it until activated again.
    Deactivate,
    /// Replace its process without downtime.
    Reload,
    /// Stop it and keep it stopped (the caller records the blacklist).
    Blacklist,
}

impl Action {
    /// The verb, as in "plugin reload".
    pub fn verb(self) -> &'static str {
        match self {
            Action::Activate => "activate",
            Action::Deactivate => "deactivate",
            Action::Reload => "reload",
            Action::Blacklist => "blacklist",
        }
    }
}

enum Control {
    Act(Action, oneshot::Sender<Result<(), String>>),
    Stop(oneshot::Sender<()>),
}

/// A plugin under supervision.
pub struct PluginSlot {
    /// Plugin name.
    pub name: String,
    /// State and history.
    pub life: Life,
    /// Restart and health settings (replaced by a configuration reload).
    policy: RwLock<Policy>,
    source: Mutex<Discovered>,
    current: RwLock<Option<Arc<Instance>>>,
    description: RwLock<Option<PluginDescription>>,
    control: mpsc::UnboundedSender<Control>,
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Control>>>,
    generation: AtomicU32,
}

/// Why a start failed, and what the slot does about it.
pub struct StartError {
    /// What went wrong.
    pub reason: String,
    /// Where the slot goes: `Restarting` (try again after the backoff), `Failed` (trying again
    /// cannot help: a missing dependency, a wrong name, a configuration errbot.toml imposes and
    /// the plugin refuses, a failed build), `Unconfigured` or `Blacklisted`; `Starting`: not
    /// started yet, the slot's task starts it (a plugin built in the background at start-up).
    pub then: State,
}

impl StartError {
    /// A failure that trying again cannot mend.
    pub fn permanent(reason: String) -> Self {
        Self {
            reason,
            then: State::Failed,
        }
    }
}

impl From<String> for StartError {
    fn from(reason: String) -> Self {
        Self {
            reason,
            then: State::Restarting,
        }
    }
}

/// A started and described plugin process, not yet activated.
pub struct Described {
    process: child::Running,
    /// What it declared.
    pub description: PluginDescription,
    client: PluginServiceClient<Channel>,
}

impl Described {
    /// Stops the process (it was never activated).
    pub async fn discard(self, grace: Duration) {
        self.process.stop(grace).await;
    }
}

impl PluginSlot {
    /// A slot for a discovered plugin; nothing runs until [`PluginSlot::supervise`].
    pub fn new(discovered: Discovered, policy: Policy) -> Arc<Self> {
        let (control, inbox) = mpsc::unbounded_channel();
        Arc::new(Self {
            name: discovered.manifest.name.clone(),
            life: Life::default(),
            policy: RwLock::new(policy),
            source: Mutex::new(discovered),
            current: RwLock::new(None),
            description: RwLock::new(None),
            control,
            inbox: Mutex::new(Some(inbox)),
            generation: AtomicU32::new(0),
        })
    }

    /// The description of the plugin when its commands are to be routed: it has been active and
    /// is neither failed nor deactivated.
    pub fn routable_description(&self) -> Option<PluginDescription> {
        match self.life.state() {
            State::Running | State::Restarting => read(&self.description).clone(),
            // Starting with no process serving yet: the first launch may still end unconfigured
            // or failed, and its commands and filters must not be reached before; `serve`
            // publishes them once it serves.
            State::Starting if read(&self.current).is_none() => None,
            State::Starting => read(&self.description).clone(),
            State::Failed
            | State::Deactivated
            | State::Stopped
            | State::Unconfigured
            | State::Blacklisted => None,
        }
    }

    /// The restart and health settings in force.
    pub fn policy(&self) -> Policy {
        read(&self.policy).clone()
    }

    /// Replaces the restart and health settings; a process started after this (a restart, a
    /// reload) is watched under them.
    pub fn set_policy(&self, policy: Policy) {
        *write(&self.policy) = policy;
    }

    /// The plugin's directory (where its plugin.toml and templates are).
    pub fn dir(&self) -> std::path::PathBuf {
        self.source
            .lock()
            .map(|s| s.dir.clone())
            .unwrap_or_default()
    }

    /// The dependencies declared in plugin.toml.
    pub fn manifest_depends_on(&self) -> Vec<String> {
        self.source
            .lock()
            .map(|s| s.manifest.depends_on.clone())
            .unwrap_or_default()
    }

    /// Every plugin it depends on: its manifest's, then those its last description adds.
    pub fn depends_on(&self) -> Vec<String> {
        self.depends_on_described(&self.description().unwrap_or_default())
    }

    /// Every plugin it depends on when it describes itself as `description`: its manifest's,
    /// then those the description adds, once each (an Errbot plugin names them in both).
    pub fn depends_on_described(&self, description: &PluginDescription) -> Vec<String> {
        let mut all = self.manifest_depends_on();
        for dep in &description.depends_on {
            if !all.contains(dep) {
                all.push(dep.clone());
            }
        }
        all
    }

    /// The process serving now, waiting (bounded) while the plugin restarts.
    pub async fn instance(&self) -> Result<Arc<Instance>, String> {
        let mut rx = self.life.subscribe();
        let deadline = Instant::now() + RESTART_WAIT;
        loop {
            if let Some(i) = read(&self.current).clone()
                && i.process.exit_reason().is_none()
            {
                return Ok(i);
            }
            let record = self.life.record();
            match self.life.state() {
                State::Failed => {
                    return Err(format!("plugin {} has failed: {}", self.name, record.note));
                }
                State::Deactivated | State::Blacklisted | State::Unconfigured => {
                    return Err(format!(
                        "plugin {} is {}",
                        self.name,
                        self.life.state().as_str()
                    ));
                }
                State::Stopped => return Err("errbotd is shutting down".to_owned()),
                State::Starting | State::Running | State::Restarting => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let why = if record.last_exit.is_empty() {
                    String::new()
                } else {
                    format!(" (last exit: {})", record.last_exit)
                };
                return Err(format!(
                    "plugin {} is restarting{why}; try again in a moment",
                    self.name
                ));
            }
            // The state changes when a new process serves; poll too, for the instant between a
            // process dying and its slot noticing.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), rx.changed()).await;
        }
    }

    /// The plugin's name, with its status note when it has one (`python-hello (installing its
    /// Python requirements)`): how errbotd names a plugin still starting.
    pub fn name_with_note(&self) -> String {
        match self.life.record().note {
            note if note.is_empty() => self.name.clone(),
            note => format!("{} ({note})", self.name),
        }
    }

    /// Asks the slot's task to carry out `action`; resolves when it is done.
    pub async fn act(&self, action: Action) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.control
            .send(Control::Act(action, tx))
            .map_err(|_| "errbotd is shutting down".to_owned())?;
        rx.await
            .unwrap_or_else(|_| Err("errbotd is shutting down".to_owned()))
    }

    /// Deactivates and stops the plugin for good (errbotd shutting down).
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// At start-up: [`PluginSlot::spawn`], unless the plugin must be built first, or its
    /// virtualenv filled and no other plugin `needed` it to start with; then its slot's task
    /// builds (or installs) and starts it, and errbotd does not wait for it.
    pub async fn spawn_unless_building(
        &self,
        bot: &Bot,
        needed: bool,
    ) -> Result<Described, StartError> {
        let source = self.source.lock().ok().map(|s| s.clone());
        let installs = |s: &Discovered| {
            let requirements = s.python_requirements().unwrap_or_default();
            !needed
                && !requirements.is_empty()
                && python_env::needs_install(
                    &bot.config().venv_dir(),
                    &s.venv_name(),
                    &requirements,
                )
        };
        let why = match &source {
            Some(s) => match s.needs_build() {
                Some(why) => Some(format!("to be built in the background: {why}")),
                None if installs(s) => {
                    // Noted before errbotd tells anyone what is still starting.
                    self.life.update(|r| r.note = INSTALLING.to_owned());
                    Some("to install its Python requirements in the background".to_owned())
                }
                None => None,
            },
            None => None,
        };
        match why {
            Some(reason) => Err(StartError {
                reason,
                then: State::Starting,
            }),
            None => self.spawn(bot).await,
        }
    }

    /// Builds the plugin when it must be (see [`Discovered::needs_build`]); the status note says
    /// `building` meanwhile. A failed build is permanent: building again changes nothing until
    /// someone edits the plugin and activates it.
    async fn build_if_needed(&self, bot: &Bot, source: &Discovered) -> Result<(), StartError> {
        let (Some(why), Some(command)) = (source.needs_build(), &source.manifest.build) else {
            return Ok(());
        };
        let (program, _) = source.program(None)?;
        tracing::info!(plugin = %self.name, "building ({why}): {command:?}");
        self.life.update(|r| r.note = BUILDING.to_owned());
        let started = Instant::now();
        let timeout = bot.config().build_timeout(&self.name);
        let built = tokio::select! {
            built = crate::build::run(&self.name, &source.dir, command, &program, timeout) => {
                Some(built)
            }
            // The build's process group is killed with the dropped future.
            _ = bot.shutdown_requested() => None,
        };
        self.life.update(|r| {
            if r.note == BUILDING {
                r.note.clear();
            }
        });
        match built {
            // Not a failure of the plugin: the slot stops.
            None => Err(StartError::from(
                "build stopped: errbotd is shutting down".to_owned(),
            )),
            Some(Ok(())) => {
                tracing::info!(
                    plugin = %self.name,
                    "built in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Some(Err(e)) => Err(StartError::permanent(e)),
        }
    }

    /// Starts a new process (built first when it must be), checks it serves and describes
    /// itself under the right name.
    pub async fn spawn(&self, bot: &Bot) -> Result<Described, StartError> {
        if bot.storage.is_blacklisted(&self.name) {
            return Err(StartError {
                reason: format!(
                    "blacklisted: `{}plugin unblacklist {}` starts it",
                    bot.prefix(),
                    self.name
                ),
                then: State::Blacklisted,
            });
        }
        let source = self
            .source
            .lock()
            .map(|s| s.clone())
            .map_err(|_| "plugin source unavailable".to_owned())?;
        let name = &self.name;
        self.build_if_needed(bot, &source).await?;
        let requirements = source.python_requirements()?;
        let venv_python = if requirements.is_empty() {
            None
        } else {
            let root = bot.config().venv_dir();
            let venv = source.venv_name();
            if python_env::needs_install(&root, &venv, &requirements) {
                self.life.update(|r| r.note = INSTALLING.to_owned());
            }
            let ensured = python_env::ensure(&root, &venv, &requirements).await;
            self.life.update(|r| {
                if r.note == INSTALLING {
                    r.note.clear();
                }
            });
            Some(ensured.map_err(|e| format!("{e:#}"))?)
        };
        let (program, args) = source.program(venv_python.as_deref())?;
        let spec = Spec {
            name: name.clone(),
            kind: Kind::Plugin,
            program,
            args,
            cwd: source.dir.clone(),
            terminal: false,
        };
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let socket = bot.socket_path(Kind::Plugin, &format!("{name}.{generation}"));
        let token = child::new_token();
        write(&bot.tokens).insert(token.clone(), (Kind::Plugin, name.clone()));
        let timeout = Duration::from_secs_f64(bot.config().limits.start_timeout_secs);
        let process =
            match child::start(spec, &socket, &bot.bot_address, token.clone(), timeout).await {
                Ok(p) => p,
                Err(e) => {
                    write(&bot.tokens).remove(&token);
                    return Err(format!("{e:#}").into());
                }
            };
        let mut client = PluginServiceClient::new(process.channel.clone());
        let described = client
            .describe(DescribeRequest {
                protocol_versions: vec![errbot_proto::contract::PROTOCOL_VERSION.into()],
            })
            .await;
        let mut description = match described {
            Ok(d) => d.into_inner(),
            Err(s) => {
                self.discard(bot, process).await;
                return Err(format!("Describe failed: {}", s.message()).into());
            }
        };
        if description.description.trim().is_empty() {
            description.description = source.manifest.description.clone();
        }
        if description.name != *name {
            let reason = format!(
                "describes itself as {:?} but {} names it {name:?}",
                description.name,
                source
                    .manifest_path()
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            self.discard(bot, process).await;
            return Err(StartError::permanent(reason));
        }
        Ok(Described {
            process,
            description,
            client,
        })
    }

    /// Activates a described process; on failure the process is stopped.
    pub async fn activate(
        &self,
        bot: &Bot,
        described: Described,
    ) -> Result<Arc<Instance>, StartError> {
        let Described {
            process,
            description,
            mut client,
        } = described;
        let config_json = match lifecycle::decide(bot, &self.name, &description, &client).await {
            Ok(Decision::Activate(config_json)) => config_json,
            Ok(Decision::Wait(reason)) => {
                // Kept although the plugin is not activated: `!plugin config` shows its template.
                *write(&self.description) = Some(description);
                self.discard(bot, process).await;
                return Err(StartError {
                    reason,
                    then: State::Unconfigured,
                });
            }
            Err(reason) => {
                self.discard(bot, process).await;
                return Err(StartError::permanent(reason));
            }
        };
        let req = ActivateRequest {
            config_json,
            bot_prefix: bot.config().bot.prefix.clone(),
        };
        if let Err(s) = client.activate(req).await {
            self.discard(bot, process).await;
            return Err(format!("Activate failed: {}", s.message()).into());
        }
        let commands = Commands::open(&client, &self.name, description.serves_session).await;
        Ok(Arc::new(Instance {
            name: self.name.clone(),
            description,
            client,
            commands,
            process,
            dynamic: RwLock::default(),
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
        }))
    }

    async fn launch(&self, bot: &Bot) -> Result<Arc<Instance>, StartError> {
        let described = self.spawn(bot).await?;
        self.activate(bot, described).await
    }

    async fn discard(&self, bot: &Bot, process: child::Running) {
        process.stop(self.policy().stop_grace).await;
        write(&bot.tokens).remove(&process.token);
    }

    /// Makes `instance` the one serving, and publishes its commands if they changed.
    fn serve(&self, bot: &Bot, instance: Arc<Instance>) {
        // The commands change with the description, and when the process going away had
        // dynamic plugins (the new one has none yet).
        let had_dynamic = read(&self.current)
            .as_ref()
            .is_some_and(|old| !read(&old.dynamic).is_empty());
        let changed =
            had_dynamic || read(&self.description).as_ref() != Some(&instance.description);
        *write(&self.description) = Some(instance.description.clone());
        self.life.update(|r| {
            r.pid = instance.process.pid;
            r.since = Some(instance.process.started);
            r.note.clear();
        });
        *write(&self.current) = Some(instance);
        let was = self.life.state();
        // The table first, then Running: whoever sees Running (`!plugin config` answering
        // "done", `!plugin activate`) can already reach the commands. The state before
        // (Starting, Restarting) is routable too.
        if changed || !matches!(was, State::Running | State::Restarting) {
            let warnings = bot.rebuild_registry();
            // At start-up errbotd reports the warnings of the complete table once.
            if was != State::Starting {
                for w in warnings {
                    tracing::warn!(plugin = %self.name, "{w}");
                }
            }
        }
        self.life.set(State::Running);
    }

    /// Takes the serving instance out of routing.
    fn unserve(&self) -> Option<Arc<Instance>> {
        self.life.update(|r| {
            r.pid = 0;
            r.since = None;
        });
        write(&self.current).take()
    }

    /// Enters a state in which the plugin's commands are not routed, and its pollers stop.
    fn park(&self, bot: &Bot, state: State, note: String) {
        self.park_quietly(state, note);
        // After the state changed: a poller started meanwhile is refused (see `pollers`).
        bot.pollers.stop_slot(self, state.as_str());
        bot.rebuild_registry();
    }

    /// Changes a parked state (the command table is already without the plugin).
    fn park_quietly(&self, state: State, note: String) {
        self.life.update(|r| r.note = note);
        self.life.set(state);
    }

    /// The last description the plugin gave (its configuration template, commands...), even
    /// while it does not run.
    pub fn description(&self) -> Option<PluginDescription> {
        read(&self.description).clone()
    }

    /// The process serving now, if one does (no waiting).
    pub fn current(&self) -> Option<Arc<Instance>> {
        read(&self.current).clone()
    }

    /// Runs the slot's task: from `first` (the result of the start-up launch), keeps the plugin
    /// served until errbotd stops.
    pub fn supervise(
        self: &Arc<Self>,
        bot: Arc<Bot>,
        first: Result<Arc<Instance>, StartError>,
    ) -> tokio::task::JoinHandle<()> {
        // Routed at once, so that the command table is complete before the gateways connect.
        if let Ok(instance) = &first {
            self.serve(&bot, instance.clone());
        }
        let slot = self.clone();
        let inbox = self.inbox.lock().ok().and_then(|mut i| i.take());
        tokio::spawn(async move {
            let Some(inbox) = inbox else {
                tracing::error!(plugin = %slot.name, "supervised twice");
                return;
            };
            slot.run(bot, inbox, first).await;
        })
    }

    async fn run(
        self: Arc<Self>,
        bot: Arc<Bot>,
        mut inbox: mpsc::UnboundedReceiver<Control>,
        first: Result<Arc<Instance>, StartError>,
    ) {
        let mut restarts = Restarts::default();
        let mut phase = match first {
            Ok(instance) => Phase::Serve(instance),
            Err(e) => Phase::after(e),
        };
        loop {
            phase = match phase {
                Phase::Launch(reply) => match self.launch(&bot).await {
                    Ok(instance) => {
                        // Serving (Running, its commands routed) before the caller hears of
                        // it: `!plugin config` and `!plugin activate` read the state next.
                        self.serve(&bot, instance.clone());
                        answer(reply, Ok(()));
                        Phase::Serve(instance)
                    }
                    Err(e) => {
                        answer(reply, Err(e.reason.clone()));
                        Phase::after(e)
                    }
                },
                Phase::Serve(instance) => self.watch(&bot, instance, &mut inbox).await,
                Phase::Crashed { reason, ran_for } => {
                    if let Some(dead) = self.unserve() {
                        write(&bot.tokens).remove(&dead.process.token);
                    }
                    self.life.update(|r| r.last_exit = reason.clone());
                    if bot.is_shutting_down() {
                        Phase::Stop(None)
                    } else {
                        let policy = self.policy();
                        let delay = restarts.next_delay(&policy, Instant::now(), ran_for, jitter());
                        match delay {
                            Some(delay) => {
                                tracing::warn!(
                                    plugin = %self.name,
                                    "{reason}; restarting in {:.0} ms",
                                    delay.as_secs_f64() * 1000.0
                                );
                                self.life.update(|r| r.restarts += 1);
                                if self.life.state() != State::Starting {
                                    self.life.set(State::Restarting);
                                }
                                self.backoff(delay, &mut inbox).await
                            }
                            None => Phase::Failed(format!(
                                "{reason}; gave up after {} restarts within {} s",
                                policy.max_restarts,
                                policy.restart_window.as_secs_f64()
                            )),
                        }
                    }
                }
                Phase::Failed(reason) => {
                    tracing::error!(plugin = %self.name, "failed: {reason}");
                    self.park(&bot, State::Failed, reason.clone());
                    let text = format!(
                        "Plugin {name} has failed and will not be restarted: {reason}.\n\
                         `errbotctl plugin activate {name}` or `{prefix}plugin activate {name}` \
                         starts it again.",
                        name = self.name,
                        prefix = bot.prefix()
                    );
                    bot.alert(text);
                    restarts.clear();
                    self.parked(&mut inbox).await
                }
                Phase::Parked(state, note, reply) => {
                    if state == State::Unconfigured {
                        tracing::warn!(plugin = %self.name, "not activated: {note}");
                    }
                    self.park(&bot, state, note);
                    answer(reply, Ok(()));
                    self.parked(&mut inbox).await
                }
                Phase::Stop(done) => {
                    bot.pollers.stop_slot(&self, "stopping");
                    if let Some(instance) = self.unserve() {
                        retire(&self.name, instance, &self.policy(), &bot.tokens, false).await;
                    }
                    self.life.set(State::Stopped);
                    // Again, now that the state refuses new ones (one may have started meanwhile).
                    bot.pollers.stop_slot(&self, "stopping");
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
            };
        }
    }

    /// Serves `instance` until it ends or an operator acts.
    async fn watch(
        &self,
        bot: &Bot,
        instance: Arc<Instance>,
        inbox: &mut mpsc::UnboundedReceiver<Control>,
    ) -> Phase {
        self.serve(bot, instance.clone());
        let mut instance = instance;
        loop {
            let ran_for = Some(instance.process.started.elapsed());
            let policy = self.policy();
            tokio::select! {
                reason = instance.process.wait_exit() => {
                    return Phase::Crashed { reason, ran_for };
                }
                why = health::watch(instance.process.channel.clone(), &policy) => {
                    tracing::warn!(plugin = %self.name, "hung: {why}; killing it");
                    let reason = instance.process.kill(&why).await;
                    return Phase::Crashed { reason, ran_for };
                }
                control = inbox.recv() => match control {
                    None => return Phase::Stop(None),
                    Some(Control::Stop(done)) => return Phase::Stop(Some(done)),
                    Some(Control::Act(Action::Activate, reply)) => {
                        let _ = reply.send(Err(format!("{} is already activated.", self.name)));
                    }
                    Some(Control::Act(action @ (Action::Deactivate | Action::Blacklist), reply)) => {
                        let (state, note) = stop_state(action);
                        if let Some(old) = self.unserve() {
                            self.park(bot, state, note.clone());
                            retire(&self.name, old, &policy, &bot.tokens, true).await;
                        }
                        return Phase::Parked(state, note, Some(reply));
                    }
                    Some(Control::Act(Action::Reload, reply)) => {
                        match self.reload(bot).await {
                            Ok(new) => {
                                let old = std::mem::replace(&mut instance, new.clone());
                                self.serve(bot, new);
                                let _ = reply.send(Ok(()));
                                let (name, policy) = (self.name.clone(), self.policy());
                                let tokens = bot.tokens.clone();
                                tokio::spawn(async move {
                                    retire(&name, old, &policy, &tokens, true).await;
                                });
                            }
                            Err(e) => {
                                let _ = reply.send(Err(e));
                            }
                        }
                    }
                },
            }
        }
    }

    /// Starts a replacement process from a freshly read plugin.toml.
    async fn reload(&self, bot: &Bot) -> Result<Arc<Instance>, String> {
        self.reread()?;
        self.launch(bot).await.map_err(|e| e.reason)
    }

    /// Reads plugin.toml again.
    fn reread(&self) -> Result<(), String> {
        let mut source = self
            .source
            .lock()
            .map_err(|_| "plugin source unavailable".to_owned())?;
        *source = source.reread()?;
        Ok(())
    }

    /// Waits out a restart delay, unless an operator acts first.
    async fn backoff(
        &self,
        delay: Duration,
        inbox: &mut mpsc::UnboundedReceiver<Control>,
    ) -> Phase {
        tokio::select! {
            _ = tokio::time::sleep(delay) => Phase::Launch(None),
            control = inbox.recv() => match control {
                None => Phase::Stop(None),
                Some(Control::Stop(done)) => Phase::Stop(Some(done)),
                Some(Control::Act(action @ (Action::Deactivate | Action::Blacklist), reply)) => {
                    let (state, note) = stop_state(action);
                    Phase::Parked(state, note, Some(reply))
                }
                Some(Control::Act(_, reply)) => Phase::Launch(Some(reply)),
            },
        }
    }

    /// Waits, failed or deactivated, for an operator to start the plugin again.
    async fn parked(&self, inbox: &mut mpsc::UnboundedReceiver<Control>) -> Phase {
        loop {
            match inbox.recv().await {
                None => return Phase::Stop(None),
                Some(Control::Stop(done)) => return Phase::Stop(Some(done)),
                Some(Control::Act(Action::Deactivate, reply)) => {
                    let _ = reply.send(Err(format!("{} is already deactivated.", self.name)));
                }
                Some(Control::Act(Action::Blacklist, reply)) => {
                    let (state, note) = stop_state(Action::Blacklist);
                    self.park_quietly(state, note);
                    let _ = reply.send(Ok(()));
                }
                // Errbot's reload leaves the activation state alone: only plugin.toml is read
                // again, for the next activation.
                Some(Control::Act(Action::Reload, reply)) => {
                    let _ = reply.send(self.reread());
                }
                Some(Control::Act(Action::Activate, reply)) => {
                    // The note said why it was parked; it is no longer true.
                    self.life.update(|r| r.note.clear());
                    self.life.set(State::Starting);
                    return Phase::Launch(Some(reply));
                }
            }
        }
    }
}

/// Lets `instance` finish its in-flight commands (bounded, when `drain`), deactivates and stops
/// it, and revokes its token.
async fn retire(
    name: &str,
    instance: Arc<Instance>,
    policy: &Policy,
    tokens: &TokenStore,
    drain: bool,
) {
    if drain && !instance.drained(policy.drain).await {
        tracing::warn!(
            plugin = %name,
            "commands still running after {:?}; stopping the old process anyway",
            policy.drain
        );
    }
    if instance.process.exit_reason().is_none() {
        let _ = tokio::time::timeout(
            DEACTIVATE_TIMEOUT,
            instance.client.clone().deactivate(DeactivateRequest {}),
        )
        .await;
    }
    instance.process.stop(policy.stop_grace).await;
    write(tokens).remove(&instance.process.token);
}

enum Phase {
    /// Start a process; answer the operator when it serves or fails.
    Launch(Option<oneshot::Sender<Result<(), String>>>),
    /// A process serves.
    Serve(Arc<Instance>),
    /// The process ended (or never started).
    Crashed {
        reason: String,
        ran_for: Option<Duration>,
    },
    /// Given up until an operator acts.
    Failed(String),
    /// Not running, in `State` (deactivated, unconfigured, blacklisted) for the reason given,
    /// until an operator acts; the operator who asked is answered.
    Parked(State, String, Option<oneshot::Sender<Result<(), String>>>),
    /// errbotd is stopping.
    Stop(Option<oneshot::Sender<()>>),
}

impl Phase {
    /// Where a failed start leads.
    fn after(e: StartError) -> Phase {
        match e.then {
            State::Starting => Phase::Launch(None),
            State::Restarting => Phase::Crashed {
                reason: e.reason,
                ran_for: None,
            },
            State::Unconfigured | State::Blacklisted | State::Deactivated => {
                Phase::Parked(e.then, e.reason, None)
            }
            _ => Phase::Failed(e.reason),
        }
    }
}

/// The state an operator's stop leads to, and its note.
fn stop_state(action: Action) -> (State, String) {
    match action {
        Action::Blacklist => (State::Blacklisted, "blacklisted".to_owned()),
        _ => (State::Deactivated, "deactivated by an operator".to_owned()),
    }
}

fn answer(reply: Option<oneshot::Sender<Result<(), String>>>, result: Result<(), String>) {
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
}
