//! The running bot: its children, its command table, and the path of a message from a gateway
//! to the commands it triggers and back as replies.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use errbot_proto::v1::{
    Content, ExecuteRequest, Identifier, Message, PluginDescription, ProcessedRequest, Reply,
    content,
};
use tokio::sync::watch;

use crate::acl;
use crate::builtins;
use crate::child;
use crate::cmdfilter;
use crate::config::{BotSettings, Config};
use crate::dispatch::history::{Entry, History};
use crate::dispatch::{self, Route, args};
use crate::glob;
use crate::registry::{Command, Owner, Registry};
use crate::supervise::gateway::{Gateway, Outcome};
use crate::supervise::plugin::{Instance, PluginSlot};

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
}

impl Bot {
    /// A bot with no children yet, keeping its state in `storage`, whose children's sockets go
    /// in `runtime_dir` and who serves BotService at `bot_address`.
    pub fn new(
        config: Config,
        storage: crate::storage::core::Storage,
        runtime_dir: PathBuf,
        bot_address: String,
    ) -> Arc<Self> {
        let (shutdown, _) = watch::channel(None);
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
            plugin_changes: tokio::sync::Mutex::new(()),
            reloads: tokio::sync::Mutex::new(()),
            pollers: crate::pollers::Pollers::default(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            shutdown,
            exit_code: AtomicU8::new(0),
        });
        bot.rebuild_registry();
        bot
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
        let builtins = builtins::descriptions();
        let plugins: Vec<(String, PluginDescription)> = read(&self.plugins)
            .values()
            .filter_map(|slot| Some((slot.name.clone(), slot.routable_description()?)))
            .collect();
        let all = builtins.iter().map(|d| (d, Owner::Builtin)).chain(
            plugins
                .iter()
                .map(|(name, d)| (d, Owner::Plugin(name.clone()))),
        );
        let (registry, warnings) = Registry::build(all);
        *write(&self.registry) = Arc::new(registry);
        warnings.into_iter().map(|w| w.0).collect()
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

    /// Whether `who` is a bot admin (BOT_ADMINS globs against the ACL attribute).
    pub fn is_admin(&self, who: &Identifier) -> bool {
        Self::admin_in(&self.config(), who)
    }

    /// Whether `who` is an admin under `config`.
    fn admin_in(config: &Config, who: &Identifier) -> bool {
        glob::matches_any(&config.bot.admins, acl_of(who))
    }

    /// The gateway of a backend instance.
    pub fn gateway(&self, name: &str) -> Option<Arc<Gateway>> {
        read(&self.gateways)
            .iter()
            .find(|g| g.name == name)
            .cloned()
    }

    /// Handles one inbound message completely, then tells its gateway it was processed.
    pub async fn handle_message(self: Arc<Self>, gateway: Arc<Gateway>, message: Message) {
        // One configuration for the whole message, even if a reload happens meanwhile.
        let config = self.config();
        let sink = ReplySink::new(gateway.clone(), &message, &config.bot);
        self.process(&config, &sink, &message).await;
        let req = ProcessedRequest {
            message_id: message.id.clone(),
            replies: sink.count(),
        };
        // A gateway that restarted meanwhile does not know the message any more.
        if let Some(link) = gateway.current() {
            link.session.processed(req);
        }
    }

    async fn process(self: &Arc<Self>, config: &Config, sink: &ReplySink, message: &Message) {
        if message.from_self || message.delayed {
            return;
        }
        let from = message.from.clone().unwrap_or_default();
        let registry = self.registry();
        let prefixes = config.prefixes();
        let route = dispatch::route(
            prefixes,
            &registry,
            &self.history,
            &message.body,
            message.direct,
            &from.person,
        );
        match route {
            Route::Ignore => {}
            Route::NotFound(reply) => {
                // Filters declared with catch_unprocessed may take it (aliases...).
                let text = prefixes.command_text(&message.body);
                if !text.is_empty() && registry.filters().iter().any(|f| f.catch_unprocessed) {
                    let is_admin = Self::admin_in(config, &from);
                    let unprocessed =
                        cmdfilter::unprocessed(self, &registry, sink, message, text, is_admin);
                    match Box::pin(unprocessed).await {
                        cmdfilter::Unprocessed::Handled => return,
                        cmdfilter::Unprocessed::Run(command, args) => {
                            let checked = args.clone();
                            self.run(config, sink, message, &command, args, &checked, Vec::new())
                                .await;
                            return;
                        }
                        cmdfilter::Unprocessed::NotHandled => {}
                    }
                }
                if let Some(text) = reply {
                    sink.send_text(&text, false).await;
                }
            }
            Route::Plain { command, args } => {
                let checked = args.clone();
                self.run(config, sink, message, &command, args, &checked, Vec::new())
                    .await;
            }
            Route::Regex(hits) => {
                // Access rules see a regex command's whole text as its arguments (as Errbot).
                let text = prefixes.command_text(&message.body);
                let runs = hits.into_iter().map(|(command, matches)| async move {
                    self.run(
                        config,
                        sink,
                        message,
                        &command,
                        String::new(),
                        text,
                        matches,
                    )
                    .await
                });
                futures::future::join_all(runs).await;
            }
        }
    }

    /// Whether the sender of `message` may run `command` as far as the access rules tell
    /// without its arguments (what `!help` lists under `hide_restricted_commands`).
    pub fn may_see(&self, command: &Command, message: &Message, backend: &str) -> bool {
        let config = self.config();
        if !config.access.hide_restricted_commands {
            return true;
        }
        let from = message.from.clone().unwrap_or_default();
        let inv = acl::invocation(
            command,
            message,
            backend,
            None,
            Self::admin_in(&config, &from),
        );
        acl::check(&config.access, &inv).is_ok()
    }

    /// Checks `command` with `args` against the access rules; when refused, tells the sender
    /// (unless `hide_restricted_access`) and returns true.
    async fn refused(
        &self,
        config: &Config,
        sink: &ReplySink,
        message: &Message,
        command: &Command,
        args: &str,
        is_admin: bool,
    ) -> bool {
        let inv = acl::invocation(command, message, sink.backend(), Some(args), is_admin);
        let Err(denial) = acl::check(&config.access, &inv) else {
            return false;
        };
        tracing::info!(
            command = %command.name, sender = %inv.sender, backend = %sink.backend(),
            "refused: {}", denial.reply()
        );
        if !config.access.hide_restricted_access {
            sink.send_text(denial.reply(), false).await;
        }
        true
    }

    /// Runs one command and sends its replies. `checked_args` is what the access rules match
    /// the arguments against.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        self: &Arc<Self>,
        config: &Config,
        sink: &ReplySink,
        message: &Message,
        command: &Arc<Command>,
        args: String,
        checked_args: &str,
        matches: Vec<errbot_proto::v1::RegexMatch>,
    ) {
        let from = message.from.clone().unwrap_or_default();
        let is_admin = Self::admin_in(config, &from);
        if self
            .refused(config, sink, message, command, checked_args, is_admin)
            .await
        {
            return;
        }
        // Plugins' command filters, which may rewrite the command (checked again) or block it.
        let registry = self.registry();
        // Boxed, as the command's own run below: a message's future stays small, so that
        // spawning and finishing its task copies little (measured: a 12 KB future cost about
        // 10% of errbotd's CPU in memmove).
        let filtered = Box::pin(cmdfilter::apply(
            self,
            &registry,
            sink,
            message,
            command,
            checked_args,
            is_admin,
        ))
        .await;
        let (command, args, matches) = match filtered {
            cmdfilter::Outcome::Blocked => return,
            cmdfilter::Outcome::Run {
                command: c,
                args: a,
                changed,
            } => {
                if changed && self.refused(config, sink, message, &c, &a, is_admin).await {
                    return;
                }
                if c.is_regex() {
                    (c, args, matches)
                } else {
                    (c, a, Vec::new())
                }
            }
        };
        let command = &command;
        let bot_settings = &config.bot;
        let diverted = sink.diverted(
            BotSettings::lists(&bot_settings.divert_to_private, &command.name),
            BotSettings::lists(&bot_settings.divert_to_thread, &command.name),
        );
        let sink = &diverted;
        if command.spec.flow_only {
            // Flow steps only run inside a flow; flows are not implemented yet, so never.
            return;
        }
        let invocation = format!("{}{}", config.prefixes().prefix(), command.display_name());
        let mut request = ExecuteRequest {
            command: command.spec.name.clone(),
            message: Some(message.clone()),
            args: args.clone(),
            invocation_id: format!("{}:{}", message.id, command.name),
            sender_is_admin: is_admin,
            matches,
            ..Default::default()
        };
        if let Some(errbot_proto::v1::command_spec::Kind::Plain(plain)) = &command.spec.kind {
            match args::parse(plain, &invocation, &args) {
                Ok(parsed) => {
                    request.argv = parsed.argv;
                    request.params = parsed.params;
                }
                Err(e) => {
                    sink.send_text(&e.reply(), false).await;
                    return;
                }
            }
            if command.spec.historize {
                self.history.push(
                    &from.person,
                    Entry {
                        command: command.name.clone(),
                        args,
                    },
                );
            }
        }
        let timeout = config.command_timeout(match &command.owner {
            Owner::Builtin => None,
            Owner::Plugin(name) => Some(name.as_str()),
        });
        let outcome = tokio::time::timeout(timeout, async {
            match &command.owner {
                Owner::Builtin => Box::pin(builtins::run(self, sink, &request)).await,
                Owner::Plugin(name) => Box::pin(self.run_plugin(sink, name, request)).await,
            }
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => {
                tracing::warn!(command = %command.name, "command failed: {failure}");
                let text = format!("Computer says nooo. See logs for details:\n{failure}");
                sink.send_text(&text, false).await;
            }
            Err(_) => {
                let text = format!(
                    "Computer says nooo. See logs for details:\n{invocation} did not finish within {} s",
                    timeout.as_secs_f64()
                );
                sink.send_text(&text, false).await;
            }
        }
    }

    async fn run_plugin(
        &self,
        sink: &ReplySink,
        name: &str,
        request: ExecuteRequest,
    ) -> Result<(), String> {
        let slot = self
            .plugin(name)
            .ok_or_else(|| format!("plugin {name} is not running"))?;
        let plugin = slot.instance().await?;
        let _inflight = plugin.begin();
        let stream = plugin.client.clone().execute(request).await;
        let mut stream = match stream {
            Ok(s) => s.into_inner(),
            Err(status) => return Err(plugin_failure(&plugin, status).await),
        };
        loop {
            match stream.message().await {
                Ok(Some(reply)) => {
                    let error = reply.error;
                    sink.send(reply).await;
                    if error {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(status) => return Err(plugin_failure(&plugin, status).await),
            }
        }
    }
}

async fn plugin_failure(plugin: &Instance, status: tonic::Status) -> String {
    // A broken connection usually means the process died: give its exit a moment to be seen,
    // so that the reply says what happened.
    if matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    ) {
        let _ = tokio::time::timeout(Duration::from_millis(500), plugin.process.wait_exit()).await;
    }
    if let Some(reason) = plugin.process.exit_reason() {
        return format!(
            "plugin {} stopped while running the command ({reason})",
            plugin.name
        );
    }
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Cancelled => {
            format!(
                "plugin {} is not reachable: {}",
                plugin.name,
                status.message()
            )
        }
        _ => status.message().to_owned(),
    }
}

/// The ACL attribute of an identifier: `acl`, else `person`.
pub fn acl_of(who: &Identifier) -> &str {
    if who.acl.is_empty() {
        &who.person
    } else {
        &who.acl
    }
}

/// Sends the replies to one inbound message: to the room it came from (or privately), in its
/// thread, split at the backend's size limit, counting what was sent. In rooms, replies may
/// address the sender by nick (`groupchat_nick_prefixed`); a command's replies may be diverted
/// to a private message or a thread ([`ReplySink::diverted`]).
pub struct ReplySink {
    gateway: Arc<Gateway>,
    public_to: Identifier,
    private_to: Identifier,
    sender: Identifier,
    direct: bool,
    all_private: bool,
    in_reply_to: String,
    thread_id: String,
    limit: u32,
    nick_prefixed: bool,
    sent: Arc<std::sync::atomic::AtomicU32>,
}

impl ReplySink {
    /// A sink answering `message` through `gateway`, with the `[bot]` reply settings.
    pub fn new(gateway: Arc<Gateway>, message: &Message, bot: &BotSettings) -> Self {
        let from = message.from.clone().unwrap_or_default();
        let private_to = Identifier {
            room: String::new(),
            room_name: String::new(),
            ..from.clone()
        };
        let public_to = if message.direct {
            from.clone()
        } else {
            message.to.clone().unwrap_or(from.clone())
        };
        Self {
            gateway,
            public_to,
            private_to,
            sender: from,
            direct: message.direct,
            all_private: false,
            in_reply_to: message.id.clone(),
            thread_id: message.thread_id.clone(),
            limit: bot.message_size_limit,
            nick_prefixed: bot.groupchat_nick_prefixed,
            sent: Default::default(),
        }
    }

    /// The same sink, with every reply sent privately (DIVERT_TO_PRIVATE) and/or in a thread
    /// (DIVERT_TO_THREAD: the message's own thread, else one started from the message, whose
    /// id is then the message's). Replies are counted together.
    pub fn diverted(&self, private: bool, thread: bool) -> ReplySink {
        ReplySink {
            gateway: self.gateway.clone(),
            public_to: self.public_to.clone(),
            private_to: self.private_to.clone(),
            sender: self.sender.clone(),
            direct: self.direct,
            all_private: self.all_private || private,
            in_reply_to: self.in_reply_to.clone(),
            thread_id: if thread && self.thread_id.is_empty() {
                self.in_reply_to.clone()
            } else {
                self.thread_id.clone()
            },
            limit: self.limit,
            nick_prefixed: self.nick_prefixed,
            sent: self.sent.clone(),
        }
    }

    /// Name of the backend instance the message came from.
    pub fn backend(&self) -> &str {
        &self.gateway.name
    }

    /// Number of messages sent so far.
    pub fn count(&self) -> u32 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends Markdown text.
    pub async fn send_text(&self, text: &str, private: bool) {
        self.send(Reply {
            content: Some(Content {
                kind: Some(content::Kind::Markdown(text.to_owned())),
            }),
            error: false,
            private,
        })
        .await;
    }

    /// Sends one reply (split when too long); empty replies are not sent.
    pub async fn send(&self, reply: Reply) {
        let diverted = reply.private || self.all_private;
        let to = if diverted {
            &self.private_to
        } else {
            &self.public_to
        };
        let private = diverted || self.direct;
        let Some(mut content) = reply.content else {
            return;
        };
        match &mut content.kind {
            None => return,
            Some(content::Kind::Markdown(text)) if text.is_empty() => return,
            Some(content::Kind::Markdown(text)) if self.nick_prefixed && !private => {
                let template = self
                    .gateway
                    .current()
                    .map(|l| l.info.nick_prefix.clone())
                    .unwrap_or_default();
                text.insert_str(0, &nick_prefix(&template, &self.sender));
            }
            Some(_) => {}
        }
        // A private answer to a room message cannot go in the room's thread.
        let thread = if diverted && !self.direct {
            ""
        } else {
            &self.thread_id
        };
        let delivery = self.gateway.deliver(
            self.limit,
            to,
            content,
            (thread, &self.in_reply_to),
            Outcome::Forget,
        );
        // Boxed: every await of a reply in a command's future would otherwise carry its size.
        match Box::pin(delivery).await {
            Ok((n, _)) => {
                self.sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(backend = %self.gateway.name, "sending a reply failed: {}", e.message());
            }
        }
    }
}

/// The text addressing `sender` at the start of a reply in a room: the gateway's template
/// (`{nick}`, `{person}`, `{display}`), or `@{nick} ` when it has none.
pub fn nick_prefix(template: &str, sender: &Identifier) -> String {
    let template = if template.is_empty() {
        "@{nick} "
    } else {
        template
    };
    let nick = if sender.nick.is_empty() {
        &sender.person
    } else {
        &sender.nick
    };
    // One pass, so that a nick containing `{person}` is not substituted again.
    let mut out = String::with_capacity(template.len() + nick.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let (value, len) = [
            ("{nick}", nick.as_str()),
            ("{person}", sender.person.as_str()),
            ("{display}", sender.display.as_str()),
        ]
        .into_iter()
        .find(|(key, _)| after.starts_with(key))
        .map_or(("{", 1), |(key, value)| (value, key.len()));
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Reads a lock, ignoring poisoning (the data stays consistent: writers replace whole values).
pub fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

/// Writes a lock, ignoring poisoning.
pub fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_prefix_fills_the_template_once() {
        let who = Identifier {
            person: "U1".into(),
            nick: "{person}".into(),
            display: "<@U1>".into(),
            ..Default::default()
        };
        assert_eq!(nick_prefix("", &who), "@{person} ");
        assert_eq!(nick_prefix("{display}: {x", &who), "<@U1>: {x");
        let plain = Identifier {
            person: "ana!a@h".into(),
            ..Default::default()
        };
        assert_eq!(nick_prefix("{nick}: ", &plain), "ana!a@h: ");
    }
}
