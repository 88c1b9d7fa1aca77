//! XMPP (backend kind "xmpp"): one account on one XMPP server, one-to-one chats and multi-user
//! chat rooms (XEP-0045).
//!
//! - `settings`: the `[backends.NAME]` keys, checked key by key (the password from the
//!   environment).
//! - `transport`: TCP, STARTTLS or direct TLS (rustls on ring, the gateway's `tls.rs`), SASL,
//!   the stream restart: an authenticated stream for the stanza stream.
//! - `client`: the connection task: tokio-xmpp's `StanzaStream` (resource binding, stream
//!   management when the server offers it, keepalive pings, reconnection through `dial` with
//!   backoff), the handling of every stanza, room joins and rejoins (after a reconnection, after
//!   a kick), and the outbox of stanzas to send.
//! - `rooms`: the rooms wanted and joined, their occupants (real JIDs when shown) and topics;
//!   mentions.
//! - `ids`: Errbot's identifiers (`user@host/resource`, `room@service`, `room@service/nick`).
//! - `format`: Markdown to the plain text of a message body (and XHTML-IM beside it).
//! - `fuzzing`: entry points for the fuzz targets of `tests/fuzz/`.
//!
//! Replies are split by errbotd at `message_size_limit` characters (`BackendInfo`).

mod client;
mod format;
pub mod fuzzing;
mod ids;
mod rooms;
pub mod settings;
mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{BackendInfo, Identifier, ProcessedRequest, RoomInfo, SendRequest};
use tokio::sync::{mpsc, oneshot, watch};
use tonic::Status;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::{Id, Lang, Message, MessageType};
use xmpp_parsers::presence::{Presence, Show};
use xmpp_parsers::stanza::Stanza;

use super::order::ReplyOrder;
use super::{Adapter, Context};
use crate::events::EventQueue;
use crate::settings::Problem;
use ids::{Ids, Target};
use rooms::Rooms;
use settings::{Room, Settings};

/// How long a room request (join, leave, topic) waits for the server's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Checks XMPP settings for `errbot-gateway check`.
pub fn check(map: &serde_json::Map<String, serde_json::Value>) -> Vec<Problem> {
    settings::check(map)
}

/// A server answer a room request waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Await {
    Join(BareJid),
    Leave(BareJid),
    Topic(BareJid),
}

struct Waiter {
    what: Await,
    tx: oneshot::Sender<Result<(), String>>,
}

/// What the connection knows, changed by the stanzas the server sends.
struct State {
    /// The JID the server bound (kept while reconnecting: a resumed stream keeps it).
    bound: Option<FullJid>,
    /// Whether a session is up (bound and not suspended).
    online: bool,
    rooms: Rooms,
    waiters: Vec<Waiter>,
    /// Where the outcome of the first connection goes (taken once reported).
    first: Option<oneshot::Sender<Result<(), String>>>,
}

/// Everything the adapter and the connection task share.
struct Shared {
    settings: Settings,
    ids: Ids,
    events: EventQueue,
    tls: Arc<rustls::ClientConfig>,
    state: Mutex<State>,
    /// Stanzas for the connection task to send.
    outbox: mpsc::UnboundedSender<Stanza>,
    order: ReplyOrder,
    stop: watch::Sender<bool>,
    msg_ids: super::Ids,
    sent_ids: super::Ids,
}

impl Shared {
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// `server:port`, for messages.
    fn target(&self) -> String {
        format!("{}:{}", self.settings.server, self.settings.port)
    }

    fn is_connected(&self) -> bool {
        self.with_state(|st| st.online)
    }

    /// The bot's identifier: the bound JID, or the configured one while not connected.
    fn bot(&self) -> Identifier {
        let jid = self.with_state(|st| st.bound.clone());
        match jid {
            Some(full) => self.ids.person(&Jid::from(full)),
            None => self.ids.person(&self.settings.jid),
        }
    }

    /// Queues a stanza for the connection (kept while disconnected, sent once connected).
    fn send_stanza(&self, stanza: impl Into<Stanza>) {
        if self.outbox.send(stanza.into()).is_err() {
            tracing::debug!("stanza dropped: the connection task has ended");
        }
    }

    fn not_connected(&self) -> Status {
        Status::unavailable(format!(
            "not connected to the XMPP server {} (reconnecting)",
            self.target()
        ))
    }

    /// Answers every request waiting for `what`.
    fn resolve(&self, what: &Await, result: Result<(), String>) {
        let done: Vec<Waiter> = self.with_state(|st| {
            let (done, keep) = std::mem::take(&mut st.waiters)
                .into_iter()
                .partition(|w| &w.what == what);
            st.waiters = keep;
            done
        });
        for w in done {
            let _ = w.tx.send(result.clone());
        }
    }

    /// Sends `stanza` and waits for the answer `what`.
    async fn request(&self, stanza: impl Into<Stanza>, what: Await) -> Result<(), Status> {
        let (tx, rx) = oneshot::channel();
        let connected = self.with_state(|st| {
            if st.online {
                st.waiters.push(Waiter {
                    what: what.clone(),
                    tx,
                });
            }
            st.online
        });
        if !connected {
            return Err(self.not_connected());
        }
        self.send_stanza(stanza);
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(why))) => Err(Status::failed_precondition(why)),
            Ok(Err(_)) => Err(Status::unavailable("the connection to the server ended")),
            Err(_) => {
                self.resolve(&what, Err("timed out".into()));
                Err(Status::deadline_exceeded(format!(
                    "the XMPP server did not answer within {} s",
                    REQUEST_TIMEOUT.as_secs()
                )))
            }
        }
    }

    /// A room JID from a request, checked.
    fn room_jid(&self, text: &str) -> Result<BareJid, Status> {
        let text = text.trim();
        let text = text.strip_prefix("xmpp:").unwrap_or(text);
        match BareJid::new(text) {
            Ok(jid) if jid.node().is_some() => Ok(jid),
            _ => Err(Status::invalid_argument(format!(
                "{text:?} is not a room (expected room@conference.example.org)"
            ))),
        }
    }

    /// What the bot knows of a room it is in.
    fn room_info(&self, room: &BareJid) -> Result<RoomInfo, Status> {
        self.with_state(|st| {
            let j = st
                .rooms
                .joined
                .get(room)
                .filter(|j| j.complete)
                .ok_or_else(|| Status::failed_precondition(format!("I'm not in {room}")))?;
            Ok(RoomInfo {
                room: Some(self.ids.room(room)),
                topic: j.topic.clone().unwrap_or_default(),
                has_topic: j.topic.as_deref().is_some_and(|t| !t.is_empty()),
                occupants: j
                    .occupants
                    .iter()
                    .map(|(nick, real)| self.ids.occupant(room, nick, real.as_ref()))
                    .collect(),
            })
        })
    }
}

/// The XMPP adapter.
pub struct Xmpp {
    shared: Arc<Shared>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Xmpp {
    /// Connects, logs in and binds; fails when the first connection fails.
    pub async fn start(ctx: Context) -> Result<Arc<Self>, Status> {
        let settings = ctx.checked_settings(Settings::read)?;
        let tls = match settings.security {
            settings::Security::None => crate::tls::client_config(None),
            _ => crate::tls::client_config(settings.tls_ca_file.as_deref()),
        }
        .map_err(|e| Status::invalid_argument(format!("backend {}: {e}", ctx.backend)))?;
        let (first_tx, first_rx) = oneshot::channel();
        let (outbox_tx, outbox_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            ids: Ids {
                backend: ctx.backend.clone(),
            },
            events: ctx.events.clone(),
            tls: Arc::new(tls),
            state: Mutex::new(State {
                bound: None,
                online: false,
                rooms: Rooms::new(&settings.rooms),
                waiters: Vec::new(),
                first: Some(first_tx),
            }),
            outbox: outbox_tx,
            order: ReplyOrder::default(),
            stop: watch::channel(false).0,
            msg_ids: super::Ids::default(),
            sent_ids: super::Ids::default(),
            settings,
        });
        let task = tokio::spawn(client::run(shared.clone(), outbox_rx));
        super::first_connection("xmpp", &ctx.backend, first_rx).await?;
        Ok(Arc::new(Self {
            shared,
            task: tokio::sync::Mutex::new(Some(task)),
        }))
    }

    /// Where a send goes: a room (groupchat) or a person or occupant (chat).
    fn destination(&self, to: &Identifier) -> Result<(Jid, MessageType), Status> {
        if !to.room.is_empty() {
            let room = self.shared.room_jid(&to.room)?;
            return Ok((Jid::from(room), MessageType::Groupchat));
        }
        let text = if to.person.is_empty() {
            to.display.as_str()
        } else {
            to.person.as_str()
        };
        let jid = Jid::new(text.trim()).map_err(|e| {
            Status::invalid_argument(format!("cannot send to {text:?}: not a JID ({e})"))
        })?;
        // A person written to from a given client (resource) is answered there, as Errbot does.
        let client = to.client.as_str();
        let jid = if jid.resource().is_none() && !client.is_empty() && !client.contains('@') {
            jid.to_bare()
                .with_resource_str(client)
                .map(Jid::from)
                .unwrap_or(jid)
        } else {
            jid
        };
        if jid.node().is_none() {
            return Err(Status::invalid_argument(format!(
                "cannot send to {text:?}: not a person or a room"
            )));
        }
        Ok((jid, MessageType::Chat))
    }
}

#[tonic::async_trait]
impl Adapter for Xmpp {
    fn kind(&self) -> &'static str {
        "xmpp"
    }

    fn info(&self) -> BackendInfo {
        let s = &self.shared.settings;
        BackendInfo {
            bot: Some(self.shared.bot()),
            message_size_limit: s.message_size_limit,
            limit_in_bytes: false,
            description: format!(
                "XMPP {} on {}{}",
                s.jid.to_bare(),
                self.shared.target(),
                match s.security {
                    settings::Security::StartTls => " (STARTTLS)",
                    settings::Security::Direct => " (TLS)",
                    settings::Security::None => " (no TLS)",
                }
            ),
            // Errbot's XMPP convention for addressing someone in a room: "@nick ".
            nick_prefix: "@{nick} ".to_owned(),
        }
    }

    async fn send(&self, request: SendRequest) -> Result<String, Status> {
        let content = request
            .content
            .as_ref()
            .filter(|c| c.kind.is_some())
            .ok_or_else(|| Status::invalid_argument("content is required"))?;
        let to = request
            .to
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        let (jid, type_) = self.destination(to)?;
        let mut message = format::message(jid, type_, content, self.shared.settings.xhtml_im)
            .ok_or_else(|| Status::invalid_argument("templates are rendered by errbotd"))?;
        let id = format!("errbot-{}", self.shared.sent_ids.next());
        message.id = Some(Id(id.clone()));
        if !request.in_reply_to.is_empty() {
            self.shared.order.wait_turn(&request.in_reply_to).await;
        }
        self.shared.send_stanza(message);
        Ok(id)
    }

    fn processed(&self, request: &ProcessedRequest) {
        self.shared.order.processed(&request.message_id);
    }

    fn build_identifier(&self, text: &str) -> Result<Identifier, Status> {
        let target = self
            .shared
            .with_state(|st| ids::parse(text, |jid| st.rooms.is_room(jid)))
            .map_err(Status::invalid_argument)?;
        Ok(match target {
            Target::Person(jid) => self.shared.ids.person(&jid),
            Target::Room(room) => self.shared.ids.room(&room),
            Target::Occupant(room, nick) => {
                let real = self.shared.with_state(|st| st.rooms.real_jid(&room, &nick));
                self.shared.ids.occupant(&room, &nick, real.as_ref())
            }
        })
    }

    async fn stop(&self) {
        self.shared.stop.send_replace(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }

    async fn list_rooms(&self) -> Result<Vec<RoomInfo>, Status> {
        Ok(self.shared.with_state(|st| {
            st.rooms
                .joined
                .iter()
                .filter(|(_, j)| j.complete)
                .map(|(room, j)| RoomInfo {
                    room: Some(self.shared.ids.room(room)),
                    topic: j.topic.clone().unwrap_or_default(),
                    has_topic: j.topic.as_deref().is_some_and(|t| !t.is_empty()),
                    occupants: Vec::new(),
                })
                .collect()
        }))
    }

    async fn join_room(&self, room: &str, password: &str) -> Result<RoomInfo, Status> {
        let jid = self.shared.room_jid(room)?;
        if let Ok(info) = self.shared.room_info(&jid) {
            return Ok(info);
        }
        let wanted = Room {
            jid: jid.clone(),
            password: Some(password.trim().to_owned()).filter(|p| !p.is_empty()),
        };
        let join = self.shared.with_state(|st| {
            st.rooms.wanted.insert(jid.clone(), wanted.clone());
            client::join_presence(&mut st.rooms, &wanted, &self.shared.settings.nickname)
        });
        if let Err(refused) = self.shared.request(join, Await::Join(jid.clone())).await {
            self.shared.with_state(|st| st.rooms.wanted.remove(&jid));
            return Err(refused);
        }
        self.shared.room_info(&jid)
    }

    async fn leave_room(&self, room: &str, reason: &str) -> Result<(), Status> {
        let jid = self.shared.room_jid(room)?;
        let nick = self.shared.with_state(|st| {
            st.rooms.wanted.remove(&jid);
            st.rooms.nick_in(&jid).map(str::to_owned)
        });
        let Some(nick) = nick else {
            return Err(Status::failed_precondition(format!("I'm not in {jid}")));
        };
        let mut leave = Presence::unavailable().with_to(client::occupant_jid(&jid, &nick)?);
        if !reason.trim().is_empty() {
            leave.set_status(String::new(), reason.trim().to_owned());
        }
        self.shared.request(leave, Await::Leave(jid)).await
    }

    async fn destroy_room(&self, room: &str) -> Result<(), Status> {
        let jid = self.shared.room_jid(room)?;
        self.shared.room_info(&jid)?;
        let destroy = client::destroy_room(&jid)
            .ok_or_else(|| Status::internal("cannot build the destroy request"))?;
        self.shared.with_state(|st| st.rooms.wanted.remove(&jid));
        self.shared.request(destroy, Await::Leave(jid)).await
    }

    async fn get_room(&self, room: &str) -> Result<RoomInfo, Status> {
        let jid = self.shared.room_jid(room)?;
        self.shared.room_info(&jid)
    }

    async fn set_room_topic(&self, room: &str, topic: &str) -> Result<RoomInfo, Status> {
        let jid = self.shared.room_jid(room)?;
        self.shared.room_info(&jid)?;
        let mut message = Message::groupchat(Some(Jid::from(jid.clone())));
        message
            .subjects
            .insert(Lang::default(), format::xml_text(topic.trim()));
        self.shared
            .request(message, Await::Topic(jid.clone()))
            .await?;
        self.shared.room_info(&jid)
    }

    async fn invite_to_room(&self, room: &str, people: &[String]) -> Result<(), Status> {
        let jid = self.shared.room_jid(room)?;
        self.shared.room_info(&jid)?;
        let mut invited = Vec::new();
        for p in people {
            match self.build_identifier(p)? {
                id if !id.person.is_empty() && id.room.is_empty() => {
                    let person = Jid::new(&id.person).map_err(|e| {
                        Status::invalid_argument(format!("{p:?} is not a JID: {e}"))
                    })?;
                    invited.push(person);
                }
                _ => return Err(Status::invalid_argument(format!("{p:?} is not a person"))),
            }
        }
        if invited.is_empty() {
            return Err(Status::invalid_argument("nobody to invite"));
        }
        if !self.shared.is_connected() {
            return Err(self.shared.not_connected());
        }
        for person in invited {
            self.shared.send_stanza(client::invitation(&jid, person));
        }
        Ok(())
    }

    async fn set_presence(&self, status: &str, message: &str) -> Result<(), Status> {
        if !self.shared.is_connected() {
            return Err(self.shared.not_connected());
        }
        let mut presence = match status {
            "offline" => Presence::unavailable(),
            "away" => Presence::available().with_show(Show::Away),
            "dnd" => Presence::available().with_show(Show::Dnd),
            _ => Presence::available(),
        };
        if !message.trim().is_empty() {
            presence.set_status(String::new(), format::xml_text(message.trim()));
        }
        // Rooms see only presence sent to them: the same, to each room the bot is in (an
        // `offline` there would leave the room, so rooms get `away` instead).
        let rooms: Vec<(BareJid, String)> = self.shared.with_state(|st| {
            st.rooms
                .joined
                .iter()
                .filter(|(_, j)| j.complete)
                .map(|(room, j)| (room.clone(), j.nick.clone()))
                .collect()
        });
        for (room, nick) in rooms {
            let mut directed = if status == "offline" {
                let mut away = Presence::available().with_show(Show::Away);
                away.statuses = presence.statuses.clone();
                away
            } else {
                presence.clone()
            };
            directed.to = Some(Jid::from(client::occupant_jid(&room, &nick)?));
            self.shared.send_stanza(directed);
        }
        self.shared.send_stanza(presence);
        Ok(())
    }
}
