//! The test driver (backend kind "test"): a chat service played by tests and benchmarks.
//!
//! It serves `TestDriverService` on the socket named by the `driver_socket` setting: tests
//! inject messages as anyone, anywhere, wait for the bot's replies, watch everything the bot
//! sends, and generate load. Identifiers are the text console's (`@person`, `#room`,
//! `#room/person`).

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use errbot_proto::transport::{self, Address};
use errbot_proto::v1::test_driver_service_server::{TestDriverService, TestDriverServiceServer};
use errbot_proto::v1::{
    BackendEvent, BackendInfo, ConverseResponse, EmitRequest, EmitResponse, FileHeader, Identifier,
    InjectRequest, InjectResponse, LoadRequest, LoadResponse, Message, OutboxRequest,
    ProcessedRequest, ReactRequest, SendRequest, SentFile, SentMessage, SetPresenceRequest,
    backend_event, emit_request,
};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::BroadcastStream;
use tonic::{Request, Response, Status};

use super::{Adapter, Context, Ids};
use crate::events::{EventQueue, PushError};
use crate::inflight::InFlight;
use crate::{render, text_ids};

mod load;

/// Sender name when an injected message names none.
pub const DEFAULT_SENDER: &str = "tester";
/// How long `Converse` waits when the request gives no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Sent messages kept for a slow `Outbox` reader before it skips some.
const OUTBOX_CAPACITY: usize = 4096;

const SETTINGS: &[&str] = &["driver_socket", "names"];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Settings {
    /// Absolute path of the socket `TestDriverService` is served on.
    driver_socket: Option<PathBuf>,
    /// How people and the bot are named.
    names: Names,
}

/// How the driver names people and the bot: errbotd's text identifiers (`text`: a person is
/// `@name`, the bot `@errbot`), or Errbot's Test backend's (`errbot`: a person is `name`, the
/// bot `Err`), which Errbot plugins' test suites expect (the compatibility testbot sets it).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Names {
    #[default]
    Text,
    Errbot,
}

impl Names {
    /// `id` in this naming: under Errbot's, a person's fields lose their `@`.
    fn style(self, mut id: Identifier) -> Identifier {
        if self == Names::Errbot {
            for field in [&mut id.person, &mut id.acl, &mut id.display] {
                if let Some(bare) = field.strip_prefix('@') {
                    *field = bare.to_owned();
                }
            }
        }
        id
    }

    fn person(self, backend: &str, name: &str) -> Identifier {
        self.style(text_ids::person(backend, name))
    }

    fn occupant(self, backend: &str, room: &str, name: &str) -> Identifier {
        self.style(text_ids::occupant(backend, room, name))
    }

    fn bot(self, backend: &str) -> Identifier {
        match self {
            Names::Text => text_ids::bot(backend),
            Names::Errbot => self.person(backend, "Err"),
        }
    }

    fn mentions(self, backend: &str, body: &str) -> Vec<Identifier> {
        text_ids::mentions(backend, body)
            .into_iter()
            .map(|id| self.style(id))
            .collect()
    }

    /// An identifier from its text; under Errbot's naming a bare name is a person.
    fn parse(self, backend: &str, text: &str) -> Result<Identifier, String> {
        let trimmed = text.trim();
        if self == Names::Errbot && !trimmed.starts_with(['@', '#']) {
            return text_ids::parse(backend, &format!("@{trimmed}")).map(|id| self.style(id));
        }
        text_ids::parse(backend, text).map(|id| self.style(id))
    }
}

/// Checks the test driver's settings for `errbot-gateway check`.
pub fn check(map: &serde_json::Map<String, serde_json::Value>) -> Vec<crate::settings::Problem> {
    let mut f = crate::settings::Fields::new(map);
    match f.string("driver_socket") {
        Some(p) if PathBuf::from(&p).is_absolute() => {}
        Some(p) => f.problem(
            "driver_socket",
            format!("expected an absolute path, found {p:?}"),
        ),
        None if !f.has("driver_socket") => f.problem(
            "driver_socket",
            "required: the absolute path of the driver's socket",
        ),
        None => {}
    }
    if let Some(names) = f.string("names")
        && !["text", "errbot"].contains(&names.as_str())
    {
        f.problem(
            "names",
            format!("expected \"text\" or \"errbot\", found {names:?}"),
        );
    }
    f.finish()
}

/// State shared by the adapter (errbotd's side) and the driver service (the tests' side).
struct Inner {
    backend: String,
    names: Names,
    socket: PathBuf,
    events: EventQueue,
    inflight: InFlight,
    ids: Ids,
    sent_ids: Ids,
    outbox: broadcast::Sender<SentMessage>,
    stopping: watch::Sender<bool>,
}

impl Inner {
    /// Records what the bot sent (for `Outbox` readers and the conversation it answers);
    /// returns the id the service gave it.
    fn record(&self, sent: SentMessage) -> String {
        if self.outbox.receiver_count() > 0 {
            let _ = self.outbox.send(sent.clone());
        }
        self.inflight.record_reply(sent);
        format!("out-{}", self.sent_ids.next())
    }

    /// Builds the message a test injects.
    fn message(&self, id: String, req: InjectRequest) -> Result<Message, Status> {
        let from = if req.from.is_empty() {
            DEFAULT_SENDER
        } else {
            req.from.as_str()
        };
        let name = text_ids::person_name(from).ok_or_else(|| {
            Status::invalid_argument(format!("invalid sender {from:?}: expected a name"))
        })?;
        let (from, to, direct) = if req.room.is_empty() {
            (
                self.names.person(&self.backend, name),
                self.names.bot(&self.backend),
                true,
            )
        } else {
            let room = text_ids::room_name(&req.room).ok_or_else(|| {
                Status::invalid_argument(format!("invalid room {:?}: expected #room", req.room))
            })?;
            (
                self.names.occupant(&self.backend, room, name),
                text_ids::room(&self.backend, room),
                false,
            )
        };
        Ok(Message {
            id,
            mentions: self.names.mentions(&self.backend, &req.body),
            from: Some(from),
            to: Some(to),
            body: req.body,
            direct,
            thread_id: req.thread_id,
            timestamp_ms: super::now_ms(),
            ..Default::default()
        })
    }

    /// Injects a message and waits (at most `timeout`) until errbotd has processed it.
    async fn converse(
        &self,
        req: InjectRequest,
        timeout: Duration,
    ) -> Result<(String, Vec<SentMessage>), Status> {
        let id = self.ids.next();
        let message = self.message(id.clone(), req)?;
        let done = self.inflight.register(&id, true);
        let outcome = tokio::time::timeout(timeout, async {
            self.events
                .push(super::message_event(message))
                .await
                .map_err(push_status)?;
            done.await
                .map_err(|_| Status::unavailable("the gateway is stopping"))
        })
        .await;
        match outcome {
            Ok(Ok(replies)) => Ok((id, replies)),
            Ok(Err(status)) => {
                self.inflight.cancel(&id);
                Err(status)
            }
            Err(_) => {
                self.inflight.cancel(&id);
                Err(Status::deadline_exceeded(format!(
                    "message {id} was not processed within {} ms",
                    timeout.as_millis()
                )))
            }
        }
    }
}

fn push_status(e: PushError) -> Status {
    match e {
        PushError::Full => Status::resource_exhausted(e.to_string()),
        PushError::Closed => Status::unavailable(e.to_string()),
    }
}

/// The test driver adapter.
pub struct TestDriver {
    inner: Arc<Inner>,
}

impl TestDriver {
    /// Starts serving `TestDriverService` on the `driver_socket` setting.
    pub async fn start(ctx: Context) -> Result<Arc<Self>, Status> {
        let settings: Settings = ctx.settings(SETTINGS)?;
        let socket = settings
            .driver_socket
            .filter(|p| p.is_absolute())
            .ok_or_else(|| {
                Status::invalid_argument(
                    "test backend: setting driver_socket (an absolute path) is required",
                )
            })?;
        let incoming = transport::bind(&Address::unix_uri(&socket)).map_err(|e| {
            Status::failed_precondition(format!(
                "test backend: cannot bind {}: {e}",
                socket.display()
            ))
        })?;
        let (stopping, mut stop_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            backend: ctx.backend.clone(),
            names: settings.names,
            socket: socket.clone(),
            events: ctx.events.clone(),
            inflight: InFlight::new(),
            ids: Ids::default(),
            sent_ids: Ids::default(),
            outbox: broadcast::channel(OUTBOX_CAPACITY).0,
            stopping,
        });
        let service = TestDriverServiceServer::new(Driver {
            inner: inner.clone(),
        });
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            };
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, stopped)
                .await;
            if let Err(e) = served {
                tracing::error!("test driver server failed: {e}");
            }
        });
        if let Err(e) = inner
            .events
            .push(super::connected_event(settings.names.bot(&ctx.backend)))
            .await
        {
            tracing::warn!("could not queue the connected event: {e}");
        }
        tracing::info!("test driver serving on {}", socket.display());
        Ok(Arc::new(Self { inner }))
    }
}

#[tonic::async_trait]
impl Adapter for TestDriver {
    fn kind(&self) -> &'static str {
        "test"
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            bot: Some(self.inner.names.bot(&self.inner.backend)),
            message_size_limit: 0,
            limit_in_bytes: false,
            description: format!("test driver on {}", self.inner.socket.display()),
            // As Errbot's text backend: "@name " (a person's id is "@name").
            nick_prefix: "{person} ".to_owned(),
        }
    }

    async fn send(&self, request: SendRequest) -> Result<String, Status> {
        if request
            .content
            .as_ref()
            .and_then(|c| c.kind.as_ref())
            .is_none()
        {
            return Err(Status::invalid_argument("content is required"));
        }
        if request.to.is_none() {
            return Err(Status::invalid_argument("`to` is required"));
        }
        let sent = SentMessage {
            text: render::text(request.content.as_ref()),
            to: request.to,
            content: request.content,
            in_reply_to: request.in_reply_to,
            thread_id: request.thread_id,
            ..Default::default()
        };
        Ok(self.inner.record(sent))
    }

    fn processed(&self, request: &ProcessedRequest) {
        self.inner.inflight.complete(&request.message_id);
    }

    async fn upload(&self, header: FileHeader, data: Vec<u8>) -> Result<String, Status> {
        let sent = SentMessage {
            text: header.comment.clone(),
            to: header.to,
            in_reply_to: header.in_reply_to,
            thread_id: header.thread_id,
            file: Some(SentFile {
                name: header.name,
                content_type: header.content_type,
                data,
            }),
            ..Default::default()
        };
        Ok(self.inner.record(sent))
    }

    async fn react(&self, request: ReactRequest) -> Result<(), Status> {
        let sent = SentMessage {
            to: request.to.clone(),
            reaction: Some(request),
            ..Default::default()
        };
        self.inner.record(sent);
        Ok(())
    }

    async fn set_presence(&self, status: &str, message: &str) -> Result<(), Status> {
        let sent = SentMessage {
            presence: Some(SetPresenceRequest {
                status: status.to_owned(),
                message: message.to_owned(),
            }),
            ..Default::default()
        };
        self.inner.record(sent);
        Ok(())
    }

    fn build_identifier(&self, text: &str) -> Result<Identifier, Status> {
        self.inner
            .names
            .parse(&self.inner.backend, text)
            .map_err(Status::invalid_argument)
    }

    async fn stop(&self) {
        self.inner.stopping.send_replace(true);
        let _ = std::fs::remove_file(&self.inner.socket);
    }
}

/// `TestDriverService`, as served to tests.
struct Driver {
    inner: Arc<Inner>,
}

type OutboxStream = Pin<Box<dyn Stream<Item = Result<SentMessage, Status>> + Send>>;

#[tonic::async_trait]
impl TestDriverService for Driver {
    async fn converse(
        &self,
        req: Request<InjectRequest>,
    ) -> Result<Response<ConverseResponse>, Status> {
        let req = req.into_inner();
        let timeout = match req.timeout_ms {
            0 => DEFAULT_TIMEOUT,
            ms => Duration::from_millis(u64::from(ms)),
        };
        let (message_id, replies) = self.inner.converse(req, timeout).await?;
        Ok(Response::new(ConverseResponse {
            message_id,
            replies,
        }))
    }

    async fn inject(
        &self,
        req: Request<InjectRequest>,
    ) -> Result<Response<InjectResponse>, Status> {
        let id = self.inner.ids.next();
        let message = self.inner.message(id.clone(), req.into_inner())?;
        self.inner
            .events
            .try_push(super::message_event(message))
            .map_err(push_status)?;
        Ok(Response::new(InjectResponse { message_id: id }))
    }

    type OutboxStream = OutboxStream;

    async fn outbox(&self, _req: Request<OutboxRequest>) -> Result<Response<OutboxStream>, Status> {
        let mut stopping = self.inner.stopping.subscribe();
        let stream = BroadcastStream::new(self.inner.outbox.subscribe())
            .filter_map(|item| async move {
                match item {
                    Ok(sent) => Some(Ok(sent)),
                    Err(e) => {
                        tracing::warn!("outbox reader too slow: {e}");
                        None
                    }
                }
            })
            .take_until(async move {
                let _ = stopping.wait_for(|s| *s).await;
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn emit(&self, req: Request<EmitRequest>) -> Result<Response<EmitResponse>, Status> {
        let backend = &self.inner.backend;
        let own = |id: Option<Identifier>| {
            id.map(|mut id| {
                if id.backend.is_empty() {
                    id.backend.clone_from(backend);
                }
                id
            })
        };
        let kind = match req.into_inner().kind {
            Some(emit_request::Kind::Presence(mut p)) => {
                p.who = own(p.who);
                backend_event::Kind::Presence(p)
            }
            Some(emit_request::Kind::Reaction(mut r)) => {
                r.who = own(r.who);
                backend_event::Kind::Reaction(r)
            }
            Some(emit_request::Kind::Room(mut r)) => {
                r.room = own(r.room);
                backend_event::Kind::Room(r)
            }
            Some(emit_request::Kind::Connected(mut c)) => {
                c.bot = own(c.bot).or_else(|| Some(self.inner.names.bot(backend)));
                backend_event::Kind::Connected(c)
            }
            None => return Err(Status::invalid_argument("an event is required")),
        };
        self.inner
            .events
            .try_push(BackendEvent { kind: Some(kind) })
            .map_err(push_status)?;
        Ok(Response::new(EmitResponse {}))
    }

    async fn load(&self, req: Request<LoadRequest>) -> Result<Response<LoadResponse>, Status> {
        load::run(self.inner.clone(), req.into_inner())
            .await
            .map(Response::new)
    }
}
