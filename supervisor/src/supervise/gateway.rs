//! Gateway slots: one per `[backends.NAME]`, each with a task that keeps a gateway process
//! connected, reads its events and restarts it when it ends or hangs.
//!
//! Replies address the slot, not the process: a reply produced while the gateway restarts waits
//! (bounded) for the new process and is delivered through it.
//!
//! Everything per message travels on the link's session (`BackendService.Session`): events up,
//! `send` and `processed` frames down, a `sent` event up for each send ([`Session`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use errbot_proto::v1::{
    BackendEvent, BackendInfo, Content, Identifier, Message, ProcessedRequest, SendRequest,
    SendResult, SessionFrame, StartRequest, backend_event,
    backend_service_client::BackendServiceClient, content, session_frame,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

use super::policy::{Policy, Restarts};
use super::{Life, State, health, jitter};
use crate::bot::{Bot, read, write};
use crate::child::{self, Kind, Spec};
use crate::split::{self, Unit};

/// What errbotd does with a gateway's inbound traffic (the pipeline, [`crate::pipeline`]): the
/// slot reads its session and hands each message and event over, so that this module never
/// depends on what handles them.
pub trait Inbound: Send + Sync + 'static {
    /// Handles one chat message completely (its replies and processed notice included); the
    /// slot runs the returned future as a task of its own.
    fn message(
        &self,
        bot: Arc<Bot>,
        gateway: Arc<Gateway>,
        message: Message,
    ) -> futures::future::BoxFuture<'static, ()>;
    /// Takes any other event of the chat service (presence, reactions, rooms, connection);
    /// must not wait.
    fn event(&self, bot: &Arc<Bot>, gateway: &Arc<Gateway>, event: BackendEvent);
}

/// How long a reply waits for a restarting gateway.
const LINK_WAIT: Duration = Duration::from_secs(10);

/// One connected gateway process.
pub struct Link {
    /// Client of its BackendService (Start, identifiers, rooms).
    pub client: BackendServiceClient<Channel>,
    /// The bot's identity there and the service's limits.
    pub info: BackendInfo,
    /// The process.
    pub process: child::Running,
    /// The open session: sends and processed notices.
    pub session: Session,
    /// The session's inbound events, until the slot's task takes them.
    inbound: Mutex<Option<Streaming<BackendEvent>>>,
}

/// errbotd's end of a gateway session: frames go down an unbounded queue that tonic streams to
/// the gateway. A send that needs its outcome waits for the `sent` event with its id; the others
/// (replies) go without waiting: the gateway keeps the order of a message's sends and carries out
/// its `processed` notice after them.
pub struct Session {
    frames: mpsc::UnboundedSender<SessionFrame>,
    /// Sends waiting for their outcome; `None` once the session ended (they all failed).
    pending: Mutex<Option<HashMap<u64, oneshot::Sender<SendResult>>>>,
    next_id: AtomicU64,
}

impl Session {
    /// Opens a session with the gateway behind `client`; returns it and its inbound events.
    pub async fn open(
        client: &BackendServiceClient<Channel>,
    ) -> Result<(Self, Streaming<BackendEvent>), tonic::Status> {
        let (frames, rx) = mpsc::unbounded_channel();
        let inbound = client
            .clone()
            .session(UnboundedReceiverStream::new(rx))
            .await?
            .into_inner();
        let session = Self {
            frames,
            pending: Mutex::new(Some(HashMap::new())),
            next_id: AtomicU64::new(1),
        };
        Ok((session, inbound))
    }

    /// Sends a message. With `Outcome::Wait`, waits until the service took it and returns the id
    /// it gave the message; with `Outcome::Forget`, returns once the frame is queued (an empty id).
    pub async fn send(
        &self,
        mut request: SendRequest,
        outcome: Outcome,
    ) -> Result<String, tonic::Status> {
        if outcome == Outcome::Forget {
            request.id = 0;
            let frame = SessionFrame {
                kind: Some(session_frame::Kind::Send(request)),
            };
            return match self.frames.send(frame) {
                Ok(()) => Ok(String::new()),
                Err(_) => Err(ended()),
            };
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        request.id = id;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(pending) = pending.as_mut() else {
                return Err(ended());
            };
            pending.insert(id, tx);
            let frame = SessionFrame {
                kind: Some(session_frame::Kind::Send(request)),
            };
            if self.frames.send(frame).is_err() {
                pending.remove(&id);
                return Err(ended());
            }
        }
        let result = rx.await.map_err(|_| ended())?;
        if result.code == 0 {
            Ok(result.message_id)
        } else {
            Err(tonic::Status::new(result.code.into(), result.error))
        }
    }

    /// Tells the gateway that errbotd has finished with an inbound message.
    pub fn processed(&self, request: ProcessedRequest) {
        let frame = SessionFrame {
            kind: Some(session_frame::Kind::Processed(request)),
        };
        // A session that ended has nobody left to tell.
        let _ = self.frames.send(frame);
    }

    /// Hands the outcome of a send to whoever waits for it.
    fn resolve(&self, result: SendResult) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waiting) = pending.as_mut().and_then(|p| p.remove(&result.id)) {
            let _ = waiting.send(result);
        }
    }

    /// The session ended: every send still waiting fails, and so do later ones.
    fn end(&self) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Whether a send waits for its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Wait until the service took the message (or refused it), and get its id.
    Wait,
    /// Only queue it (replies: a failure is logged by the gateway).
    Forget,
}

/// How a message is sent: whether the send waits for its outcome, and whether only the person
/// of an occupant `to` sees it (`SendRequest.ephemeral`). An [`Outcome`] alone is an ordinary
/// message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Whether to wait for the outcome.
    pub outcome: Outcome,
    /// Shown to the addressed person only, in the room (Slack's ephemeral messages).
    pub ephemeral: bool,
}

impl From<Outcome> for Delivery {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            ephemeral: false,
        }
    }
}

fn ended() -> tonic::Status {
    tonic::Status::unavailable("the gateway's session ended before the message was sent")
}

/// A chat gateway under supervision.
pub struct Gateway {
    /// Backend instance name.
    pub name: String,
    /// Adapter kind.
    pub kind: String,
    /// State and history.
    pub life: Life,
    /// Restart and health settings.
    pub policy: Policy,
    /// Its metrics' handles.
    pub metrics: crate::telemetry::BackendMetrics,
    link: watch::Sender<Option<Arc<Link>>>,
    stop: mpsc::UnboundedSender<oneshot::Sender<()>>,
    inbox: std::sync::Mutex<Option<mpsc::UnboundedReceiver<oneshot::Sender<()>>>>,
}

impl Gateway {
    /// A slot for backend `name` of `kind`; nothing runs until [`Gateway::supervise`].
    pub fn new(name: &str, kind: &str, policy: Policy) -> Arc<Self> {
        let (stop, inbox) = mpsc::unbounded_channel();
        Arc::new(Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            life: Life::default(),
            policy,
            metrics: Default::default(),
            link: watch::channel(None).0,
            stop,
            inbox: std::sync::Mutex::new(Some(inbox)),
        })
    }

    /// The connected process, if one is connected now.
    pub fn current(&self) -> Option<Arc<Link>> {
        self.link.borrow().clone()
    }

    /// The connected process, waiting (bounded) while the gateway restarts.
    pub async fn link(&self) -> Result<Arc<Link>, tonic::Status> {
        let mut rx = self.link.subscribe();
        let waited = tokio::time::timeout(LINK_WAIT, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(link)) => link.clone().ok_or_else(|| self.unavailable()),
            _ => Err(self.unavailable()),
        }
    }

    fn unavailable(&self) -> tonic::Status {
        tonic::Status::unavailable(format!(
            "backend {} is {}",
            self.name,
            self.life.state().as_str()
        ))
    }

    /// Sends `content` to `to`, split at the smaller of `configured_limit` and the service's own
    /// limit; returns how many messages were sent and the id of the last one (empty unless
    /// the outcome is `Wait`).
    pub async fn deliver(
        &self,
        configured_limit: u32,
        to: &Identifier,
        content: Content,
        (thread_id, in_reply_to): (&str, &str),
        how: impl Into<Delivery>,
    ) -> Result<(u32, String), tonic::Status> {
        let Delivery { outcome, ephemeral } = how.into();
        let link = self.link().await?;
        let parts = match content.kind {
            Some(content::Kind::Markdown(text)) => {
                let unit = if link.info.limit_in_bytes {
                    Unit::Bytes
                } else {
                    Unit::Chars
                };
                let limit = match (configured_limit, link.info.message_size_limit) {
                    (0, b) => b,
                    (c, 0) => c,
                    (c, b) => c.min(b),
                };
                split::split(&text, limit as usize, unit)
                    .into_iter()
                    .map(|t| Content {
                        kind: Some(content::Kind::Markdown(t)),
                    })
                    .collect()
            }
            Some(content::Kind::Template(t)) => {
                return Err(tonic::Status::invalid_argument(format!(
                    "template {} was not rendered: only plugins' replies and sends are",
                    t.name
                )));
            }
            Some(kind) => vec![Content { kind: Some(kind) }],
            None => return Err(tonic::Status::invalid_argument("content is empty")),
        };
        let (mut sent, mut id) = (0, String::new());
        for part in parts {
            let req = SendRequest {
                to: Some(to.clone()),
                content: Some(part),
                in_reply_to: in_reply_to.to_owned(),
                thread_id: thread_id.to_owned(),
                id: 0,
                ephemeral,
            };
            id = link.session.send(req, outcome).await?;
            sent += 1;
            crate::telemetry::messages_sent(&self.name, &self.metrics, 1);
        }
        Ok((sent, id))
    }

    /// Starts the gateway process and waits for its health check.
    pub async fn spawn(&self, bot: &Bot) -> anyhow::Result<child::Running> {
        let spec = Spec {
            name: self.name.clone(),
            kind: Kind::Backend,
            program: child::beside_errbotd("errbot-gateway"),
            args: Vec::new(),
            cwd: bot.config().data_dir(),
            terminal: self.kind == "console",
        };
        let token = child::new_token();
        write(&bot.tokens).insert(token.clone(), (Kind::Backend, self.name.clone()));
        let timeout = Duration::from_secs_f64(bot.config().limits.start_timeout_secs);
        let socket = bot.socket_path(Kind::Backend, &self.name);
        let started = child::start(spec, &socket, &bot.bot_address, token.clone(), timeout).await;
        if started.is_err() {
            write(&bot.tokens).remove(&token);
        }
        started.map_err(|e| e.context(format!("backend {}", self.name)))
    }

    /// Starts the adapter in a serving process (`BackendService.Start`).
    pub async fn connect(&self, bot: &Bot, process: child::Running) -> anyhow::Result<Arc<Link>> {
        let client = BackendServiceClient::new(process.channel.clone());
        let config = bot.config();
        let mut settings = config
            .backends
            .get(&self.name)
            .map(|b| b.settings.clone())
            .unwrap_or_default();
        if self.kind == "console" && !settings.contains_key("history_file") {
            let path = config.data_dir().join("console_history");
            settings.insert("history_file".into(), path.display().to_string().into());
        }
        let settings_json = serde_json::to_string(&settings)?;
        let registry = bot.registry();
        let command_names = registry
            .commands()
            .iter()
            .filter(|c| c.listed() && !c.is_regex())
            .map(|c| c.display_name())
            .collect();
        let start = StartRequest {
            name: self.name.clone(),
            kind: self.kind.clone(),
            settings_json,
            bot_prefix: config.bot.prefix.clone(),
            bot_admins: config.bot.admins.clone(),
            command_names,
        };
        let opened = async {
            let info =
                client.clone().start(start).await.map_err(|s| {
                    format!("backend {} failed to start: {}", self.name, s.message())
                })?;
            let session = Session::open(&client).await.map_err(|s| {
                format!("backend {} refused its session: {}", self.name, s.message())
            })?;
            Ok::<_, String>((info.into_inner(), session))
        };
        let (info, (session, inbound)) = match opened.await {
            Ok(opened) => opened,
            Err(why) => {
                process.stop(self.policy.stop_grace).await;
                write(&bot.tokens).remove(&process.token);
                anyhow::bail!(why);
            }
        };
        tracing::info!(backend = %self.name, "connected: {}", info.description);
        Ok(Arc::new(Link {
            client,
            info,
            process,
            session,
            inbound: Mutex::new(Some(inbound)),
        }))
    }

    /// Stops the gateway for good (errbotd shutting down).
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.stop.send(tx).is_ok() {
            let _ = rx.await;
        }
    }

    /// Makes `link` the connected process.
    fn attach(&self, link: &Arc<Link>) {
        self.life.update(|r| {
            r.pid = link.process.pid;
            r.since = Some(link.process.started);
            r.note.clear();
        });
        self.link.send_replace(Some(link.clone()));
        self.life.set(State::Running);
    }

    /// Runs the slot's task, starting from the connected `first` link (connected at once, so
    /// that errbotd is ready when this returns).
    pub fn supervise(
        self: &Arc<Self>,
        bot: Arc<Bot>,
        first: Arc<Link>,
        inbound: Arc<dyn Inbound>,
    ) -> tokio::task::JoinHandle<()> {
        self.attach(&first);
        let slot = self.clone();
        let inbox = self.inbox.lock().ok().and_then(|mut i| i.take());
        tokio::spawn(async move {
            let Some(inbox) = inbox else {
                tracing::error!(backend = %slot.name, "supervised twice");
                return;
            };
            slot.run(bot, inbox, first, inbound).await;
        })
    }

    async fn run(
        self: Arc<Self>,
        bot: Arc<Bot>,
        mut inbox: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
        first: Arc<Link>,
        inbound: Arc<dyn Inbound>,
    ) {
        let mut restarts = Restarts::default();
        let mut next = Some(first);
        loop {
            let (reason, ran_for) = match next.take() {
                Some(link) => {
                    let ran_for = Some(link.process.started.elapsed());
                    let token = link.process.token.clone();
                    match self.watch(&bot, link, &mut inbox, &*inbound).await {
                        Ok(reason) => {
                            write(&bot.tokens).remove(&token);
                            (reason, ran_for)
                        }
                        Err(done) => return self.stopped(done),
                    }
                }
                None => match self.launch(&bot).await {
                    Ok(link) => {
                        next = Some(link);
                        continue;
                    }
                    Err(e) => (format!("{e:#}"), None),
                },
            };
            self.link.send_replace(None);
            self.life.update(|r| {
                r.pid = 0;
                r.since = None;
                r.last_exit = reason.clone();
            });
            if bot.is_shutting_down() {
                return self.stopped(None);
            }
            match restarts.next_delay(&self.policy, Instant::now(), ran_for, jitter()) {
                Some(delay) => {
                    tracing::warn!(
                        backend = %self.name,
                        "{reason}; restarting in {:.0} ms",
                        delay.as_secs_f64() * 1000.0
                    );
                    self.life.update(|r| r.restarts += 1);
                    self.life.set(State::Restarting);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        done = inbox.recv() => return self.stopped(done),
                    }
                }
                None => {
                    let note = format!(
                        "{reason}; gave up after {} restarts within {} s",
                        self.policy.max_restarts,
                        self.policy.restart_window.as_secs_f64()
                    );
                    tracing::error!(backend = %self.name, "failed: {note}");
                    self.life.update(|r| r.note = note.clone());
                    self.life.set(State::Failed);
                    let serving = read(&bot.gateways)
                        .iter()
                        .any(|g| matches!(g.life.state(), State::Running | State::Restarting));
                    if serving {
                        bot.alert(format!("Backend {} has failed: {note}.", self.name));
                    } else {
                        bot.fail(format!("every backend has failed; the last: {note}"));
                    }
                    let done = inbox.recv().await;
                    return self.stopped(done);
                }
            }
        }
    }

    fn stopped(&self, done: Option<oneshot::Sender<()>>) {
        self.life.set(State::Stopped);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    async fn launch(&self, bot: &Arc<Bot>) -> anyhow::Result<Arc<Link>> {
        let process = self.spawn(bot).await?;
        self.connect(bot, process).await
    }

    /// Serves `link` until its process ends (`Ok(reason)`) or errbotd stops the gateway
    /// (`Err`, with whom to tell once stopped).
    async fn watch(
        self: &Arc<Self>,
        bot: &Arc<Bot>,
        link: Arc<Link>,
        inbox: &mut mpsc::UnboundedReceiver<oneshot::Sender<()>>,
        inbound: &dyn Inbound,
    ) -> Result<String, Option<oneshot::Sender<()>>> {
        self.attach(&link);
        tokio::select! {
            () = self.events(bot, &link, inbound) => {
                let ended = tokio::time::timeout(Duration::from_secs(1), link.process.wait_exit()).await;
                Ok(match ended {
                    Ok(reason) => reason,
                    Err(_) => link.process.kill("it closed its event stream").await,
                })
            }
            why = health::watch(link.process.channel.clone(), &self.policy) => {
                tracing::warn!(backend = %self.name, "hung: {why}; killing it");
                Ok(link.process.kill(&why).await)
            }
            done = inbox.recv() => {
                self.link.send_replace(None);
                link.process.stop(self.policy.stop_grace).await;
                write(&bot.tokens).remove(&link.process.token);
                Err(done)
            }
        }
    }

    /// Reads the link's session and hands every message (each as its own task) and event to
    /// `inbound`, until it ends.
    async fn events(self: &Arc<Self>, bot: &Arc<Bot>, link: &Arc<Link>, handler: &dyn Inbound) {
        let inbound = link
            .inbound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut stream) = inbound else {
            tracing::error!(backend = %self.name, "session read twice");
            return;
        };
        loop {
            let event = match stream.message().await {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(backend = %self.name, "session ended: {}", e.message());
                    break;
                }
            };
            match event.kind {
                Some(backend_event::Kind::Message(message)) => {
                    bot.inflight.send_modify(|n| *n += 1);
                    let b = bot.clone();
                    let handling = handler.message(bot.clone(), self.clone(), message);
                    tokio::spawn(async move {
                        handling.await;
                        b.inflight.send_modify(|n| *n -= 1);
                    });
                }
                Some(backend_event::Kind::Sent(result)) => link.session.resolve(result),
                Some(backend_event::Kind::Shutdown(req)) => {
                    bot.request_shutdown(format!(
                        "requested by backend {}: {}",
                        self.name, req.reason
                    ));
                }
                Some(kind) => {
                    if matches!(kind, backend_event::Kind::Connected(_)) {
                        tracing::info!(backend = %self.name, "connected");
                    }
                    let event = BackendEvent { kind: Some(kind) };
                    handler.event(bot, self, event);
                }
                None => {}
            }
        }
        link.session.end();
    }
}
