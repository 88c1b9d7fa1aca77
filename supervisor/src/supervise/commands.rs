//! errbotd's end of a plugin process's commands: one long-lived `PluginService.Session` stream
//! (a command is a frame down, its replies and its end are events up), or an `Execute` call per
//! command for a plugin that does not serve sessions (other languages' plugins may not).
//!
//! A session costs a command two frames on a stream that is already open, where `Execute` costs
//! a new HTTP/2 stream, its headers and a task on each side (BENCHMARKS.md, issue 20).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use errbot_proto::v1::{
    CancelCall, ExecuteRequest, PluginSessionEvent, PluginSessionFrame, Reply,
    plugin_service_client::PluginServiceClient, plugin_session_event, plugin_session_frame,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

/// How many events of one command wait for errbotd to take them before the session's reader
/// waits too (the plugin then waits on the stream's flow control).
const CALL_QUEUE: usize = 64;

/// How long the plugin may take to accept a session (it answers at once: it has just been
/// activated).
const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a command's events say: a reply, or how it ended (`Ok` when it ran to its end).
type CallEvent = Result<Option<Reply>, tonic::Status>;

/// The commands waiting for their events; `None` once the session ended (they all failed).
type Waiting = Mutex<Option<HashMap<u64, mpsc::Sender<CallEvent>>>>;

/// How errbotd runs the commands of one plugin process.
pub struct Commands {
    client: PluginServiceClient<Channel>,
    session: Option<Session>,
}

impl Commands {
    /// Opens a session with the plugin behind `client` when it serves one (`serves_session` in
    /// its description), else settles for `Execute` calls.
    pub async fn open(
        client: &PluginServiceClient<Channel>,
        plugin: &str,
        serves_session: bool,
    ) -> Self {
        let session = if serves_session {
            let opened = tokio::time::timeout(OPEN_TIMEOUT, Session::open(client))
                .await
                .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("no answer")));
            // On failure, Execute tells the sender what is wrong, command by command.
            opened
                .inspect_err(|status| {
                    tracing::warn!(
                        plugin,
                        "cannot open a command session: {}",
                        status.message()
                    );
                })
                .ok()
        } else {
            None
        };
        Self {
            client: client.clone(),
            session,
        }
    }

    /// Starts `request`; its replies are read from the answer.
    pub async fn execute(&self, request: ExecuteRequest) -> Result<Replies, tonic::Status> {
        match &self.session {
            Some(session) => session.execute(request).map(Replies::Session),
            None => {
                let stream = self.client.clone().execute(request).await?;
                Ok(Replies::Call(stream.into_inner()))
            }
        }
    }
}

/// The replies of one command, in order.
pub enum Replies {
    /// On the session.
    Session(SessionCall),
    /// On an `Execute` call of its own.
    Call(Streaming<Reply>),
}

impl Replies {
    /// The next reply; `None` once the command ended well, the plugin's status when it failed.
    pub async fn message(&mut self) -> Result<Option<Reply>, tonic::Status> {
        match self {
            Self::Session(call) => call.message().await,
            Self::Call(stream) => stream.message().await,
        }
    }
}

/// An open session: frames go down an unbounded queue that tonic streams to the plugin; a task
/// reads the events and hands each to the command it belongs to.
struct Session {
    frames: mpsc::UnboundedSender<PluginSessionFrame>,
    waiting: Arc<Waiting>,
    next_call: AtomicU64,
}

impl Session {
    async fn open(client: &PluginServiceClient<Channel>) -> Result<Self, tonic::Status> {
        let (frames, rx) = mpsc::unbounded_channel();
        let events = client
            .clone()
            .session(UnboundedReceiverStream::new(rx))
            .await?
            .into_inner();
        let waiting = Arc::new(Mutex::new(Some(HashMap::new())));
        tokio::spawn(read_events(events, waiting.clone()));
        Ok(Self {
            frames,
            waiting,
            next_call: AtomicU64::new(1),
        })
    }

    fn execute(&self, request: ExecuteRequest) -> Result<SessionCall, tonic::Status> {
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let (tx, events) = mpsc::channel(CALL_QUEUE);
        {
            let mut waiting = lock(&self.waiting);
            let Some(waiting) = waiting.as_mut() else {
                return Err(ended());
            };
            waiting.insert(call, tx);
        }
        let frame = PluginSessionFrame {
            call,
            kind: Some(plugin_session_frame::Kind::Execute(request)),
        };
        let sent = SessionCall {
            call,
            events,
            frames: self.frames.clone(),
            waiting: self.waiting.clone(),
            ended: false,
        };
        if self.frames.send(frame).is_err() {
            return Err(ended());
        }
        Ok(sent)
    }
}

/// One command on a session. Dropped before its end (the deadline passed, or errbotd stopped
/// reading), it tells the plugin to cancel the command.
pub struct SessionCall {
    call: u64,
    events: mpsc::Receiver<CallEvent>,
    frames: mpsc::UnboundedSender<PluginSessionFrame>,
    waiting: Arc<Waiting>,
    ended: bool,
}

impl SessionCall {
    async fn message(&mut self) -> Result<Option<Reply>, tonic::Status> {
        if self.ended {
            return Ok(None);
        }
        let event = self.events.recv().await.unwrap_or_else(|| Err(ended()));
        if !matches!(event, Ok(Some(_))) {
            self.ended = true;
        }
        event
    }
}

impl Drop for SessionCall {
    fn drop(&mut self) {
        if let Some(waiting) = lock(&self.waiting).as_mut() {
            waiting.remove(&self.call);
        }
        if !self.ended {
            let cancel = PluginSessionFrame {
                call: self.call,
                kind: Some(plugin_session_frame::Kind::Cancel(CancelCall {})),
            };
            // A session that ended has no command left to cancel.
            let _ = self.frames.send(cancel);
        }
    }
}

/// Hands each event to its command until the session ends; then every command still waiting
/// fails, and so do later ones.
async fn read_events(mut events: Streaming<PluginSessionEvent>, waiting: Arc<Waiting>) {
    let broken = loop {
        let event = match events.message().await {
            Ok(Some(event)) => event,
            Ok(None) => break None,
            Err(status) => break Some(status),
        };
        let (taker, item) = {
            let mut waiting = lock(&waiting);
            let Some(waiting) = waiting.as_mut() else {
                break None;
            };
            match event.kind {
                Some(plugin_session_event::Kind::Reply(reply)) => {
                    (waiting.get(&event.call).cloned(), Ok(Some(reply)))
                }
                Some(plugin_session_event::Kind::End(end)) => {
                    let item = if end.code == 0 {
                        Ok(None)
                    } else {
                        Err(tonic::Status::new(end.code.into(), end.message))
                    };
                    (waiting.remove(&event.call), item)
                }
                // A newer plugin's event this errbotd does not know: nothing waits for it.
                None => continue,
            }
        };
        // A command nobody waits for any more (cancelled, or its reader gave up) is skipped.
        if let Some(taker) = taker {
            let _ = taker.send(item).await;
        }
    };
    let left = lock(&waiting).take();
    if let Some(status) = broken {
        for taker in left.into_iter().flat_map(HashMap::into_values) {
            let _ = taker.try_send(Err(status.clone()));
        }
    }
}

fn lock(
    waiting: &Waiting,
) -> std::sync::MutexGuard<'_, Option<HashMap<u64, mpsc::Sender<CallEvent>>>> {
    waiting.lock().unwrap_or_else(PoisonError::into_inner)
}

fn ended() -> tonic::Status {
    tonic::Status::unavailable("the plugin's command session ended before the command did")
}
