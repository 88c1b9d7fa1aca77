//! The life of the connection: tokio-xmpp's stanza stream (resource binding, stream management
//! when the server offers it, keepalive) fed by [`dial`], which logs in (`transport`) and, after
//! a lost connection, tries again with exponential backoff. One task owns the stream: it sends
//! what the outbox holds and handles every stanza the server sends (messages to events for
//! errbotd, room presences to the room state, pings answered). Each new session (not a resumed
//! one) sends the bot's presence and joins the wanted rooms again; a kick is followed by a
//! rejoin after the configured delay.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use errbot_proto::v1::{
    BackendEvent, Message as ChatMessage, PresenceEvent, RoomEvent, backend_event, room_event,
};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::stanzastream::{Connection, Event, StanzaStage, StanzaStream, StreamEvent};
use xmpp_parsers::delay::Delay;
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult, Identity};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::muc::Muc;
use xmpp_parsers::muc::muc::History;
use xmpp_parsers::muc::user::{Invite, MucUser, Status};
use xmpp_parsers::presence::{self, Presence};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use super::rooms::Rooms;
use super::settings::Room;
use super::{Await, Shared, transport};
use crate::adapters;

/// Stanzas queued in the stanza stream before a send waits.
const QUEUE_DEPTH: usize = 64;
/// The oldest a delayed private message may be and still be a command.
const MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(60);
/// How long the bot's first presence of a session may take to be written.
const PRESENCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the connection until the gateway stops.
pub async fn run(shared: Arc<Shared>, mut outbox: mpsc::UnboundedReceiver<Stanza>) {
    let weak = Arc::downgrade(&shared);
    let mut stream = StanzaStream::new(
        Box::new(move |_, slot| {
            tokio::spawn(dial(weak.clone(), slot));
        }),
        QUEUE_DEPTH,
    );
    let mut stop = shared.stop.subscribe();
    loop {
        tokio::select! {
            event = stream.next() => match event {
                Some(Event::Stream(StreamEvent::Reset { bound_jid, .. })) => {
                    // The bot's presence goes out before anything else, and before errbotd
                    // hears the bot is connected: a message to the bare JID reaching the server
                    // earlier would be kept for later (and then be a delayed one, ignored).
                    let mut token = stream.send(Box::new(Presence::available().into())).await;
                    let sent = token.wait_for(StanzaStage::Sent);
                    let _ = tokio::time::timeout(PRESENCE_TIMEOUT, sent).await;
                    online(&shared, bound_jid);
                }
                Some(Event::Stream(StreamEvent::Resumed)) => {
                    // Nothing was lost: the session, its rooms and the stanzas in flight.
                    tracing::info!("stream resumed with {}", shared.target());
                    shared.with_state(|st| st.online = true);
                }
                Some(Event::Stream(StreamEvent::Suspended)) => {
                    tracing::debug!("stream with {} suspended", shared.target());
                }
                Some(Event::Stanza(stanza)) => handle(&shared, stanza),
                None => break,
            },
            Some(stanza) = outbox.recv() => {
                drop(stream.send(Box::new(stanza)).await);
            }
            () = stopped(&mut stop) => break,
        }
    }
    if shared.is_connected() {
        drop(stream.send(Box::new(Presence::unavailable().into())).await);
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), stream.close()).await;
}

/// Returns once the gateway stops.
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Makes a connection for the stanza stream: at once the first time (its failure is the
/// gateway's start failure), else after a lost connection, with backoff until it works.
async fn dial(weak: Weak<Shared>, slot: oneshot::Sender<Connection>) {
    let Some(shared) = weak.upgrade() else {
        return;
    };
    let first = shared.with_state(|st| st.first.is_some());
    if !first {
        disconnected(&shared);
    }
    let mut delay = shared.settings.reconnect_delay;
    let mut stop = shared.stop.subscribe();
    let mut attempt = 0u32;
    loop {
        if !first || attempt > 0 {
            if attempt == 0 {
                tracing::warn!(
                    "disconnected from {}; reconnecting in {:.1} s",
                    shared.target(),
                    delay.as_secs_f64()
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                () = stopped(&mut stop) => break,
            }
            delay = (delay * 2).min(shared.settings.reconnect_max);
        }
        attempt += 1;
        let result = tokio::select! {
            r = transport::login(&shared.settings, &shared.tls) => r,
            () = stopped(&mut stop) => break,
        };
        match result {
            Ok(connection) => {
                let _ = slot.send(connection);
                return;
            }
            Err(e) => {
                let reported = shared.with_state(|st| st.first.take());
                if let Some(tx) = reported {
                    let _ = tx.send(Err(e));
                    break;
                }
                tracing::warn!(
                    "cannot connect to {}: {e}; retrying in {:.1} s",
                    shared.target(),
                    delay.as_secs_f64()
                );
            }
        }
    }
    // Stopping (or the first connection failed): the stanza stream must not be told that no
    // connection will ever come (it takes that for a bug), so the slot is kept until the end.
    drop(shared);
    let _slot = slot;
    std::future::pending::<()>().await;
}

/// A session began (after binding): presence, rooms, and errbotd told.
fn online(shared: &Arc<Shared>, bound: Jid) {
    let Ok(full) = bound.clone().try_into_full() else {
        tracing::warn!("the server bound a JID without resource: {bound}");
        return;
    };
    tracing::info!("connected to {} as {full}", shared.target());
    let (joins, first) = shared.with_state(|st| {
        st.bound = Some(full);
        st.online = true;
        st.rooms.disconnected();
        let wanted: Vec<Room> = st.rooms.wanted.values().cloned().collect();
        let joins: Vec<Presence> = wanted
            .iter()
            .map(|room| join_presence(&mut st.rooms, room, &shared.settings.nickname))
            .collect();
        (joins, st.first.take())
    });
    for join in joins {
        shared.send_stanza(join);
    }
    if let Some(tx) = first {
        let _ = tx.send(Ok(()));
    }
    shared.push(adapters::connected_event(shared.bot()));
}

/// The connection ended: requests in flight fail. The rooms are kept until it is known
/// whether the stream resumes (rooms kept) or a new session begins (rooms joined again).
fn disconnected(shared: &Shared) {
    let waiters = shared.with_state(|st| {
        st.online = false;
        std::mem::take(&mut st.waiters)
    });
    for w in waiters {
        let _ = w.tx.send(Err("disconnected from the server".into()));
    }
}

/// `room/nick` as a full JID.
pub fn occupant_jid(room: &BareJid, nick: &str) -> Result<FullJid, tonic::Status> {
    room.with_resource_str(nick).map_err(|e| {
        tonic::Status::invalid_argument(format!("{nick:?} cannot be a nickname in {room}: {e}"))
    })
}

/// The presence that joins `room` as `nick` (no history: old messages are not commands), noted
/// in the room state.
pub fn join_presence(rooms: &mut Rooms, room: &Room, nick: &str) -> Presence {
    rooms.joining(&room.jid, nick);
    let mut muc = Muc::new().with_history(History::new().with_maxstanzas(0));
    if let Some(password) = &room.password {
        muc = muc.with_password(password.clone());
    }
    let to = room
        .jid
        .with_resource_str(nick)
        .map(Jid::from)
        .unwrap_or_else(|_| Jid::from(room.jid.clone()));
    Presence::available().with_to(to).with_payload(muc)
}

/// The request that accepts the default configuration of a room just created.
fn instant_room(room: &BareJid) -> Option<Iq> {
    let query: xmpp_parsers::minidom::Element =
        "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>"
            .parse()
            .ok()?;
    Some(Iq::Set {
        from: None,
        to: Some(Jid::from(room.clone())),
        id: format!("errbot-instant-{room}"),
        payload: query,
    })
}

/// The id prefix of a request destroying a room (the room's JID follows).
const DESTROY_ID: &str = "errbot-destroy-";

/// The request that destroys `room` (XEP-0045 §10.9; the bot must own it).
pub fn destroy_room(room: &BareJid) -> Option<Iq> {
    let query: xmpp_parsers::minidom::Element =
        "<query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query>"
            .parse()
            .ok()?;
    Some(Iq::Set {
        from: None,
        to: Some(Jid::from(room.clone())),
        id: format!("{DESTROY_ID}{room}"),
        payload: query,
    })
}

/// A mediated invitation (XEP-0045 §7.8.2) of `person` into `room`.
pub fn invitation(room: &BareJid, person: Jid) -> Message {
    let invite = MucUser {
        invite: Some(Invite {
            from: None,
            to: Some(person),
            reason: None,
        }),
        ..MucUser::new()
    };
    Message::new_with_type(MessageType::Normal, Some(Jid::from(room.clone()))).with_payload(invite)
}

/// Handles one stanza from the server.
pub(super) fn handle(shared: &Arc<Shared>, stanza: Stanza) {
    match stanza {
        Stanza::Message(m) => shared.message(m),
        Stanza::Presence(p) => shared.presence(p),
        Stanza::Iq(iq) => shared.iq(iq),
    }
}

/// Whether a refused join may work later: the room service is missing or failing for now.
fn transient(why: &str) -> bool {
    [
        "ItemNotFound",
        "RemoteServerNotFound",
        "RemoteServerTimeout",
        "ServiceUnavailable",
        "InternalServerError",
        "ResourceConstraint",
    ]
    .iter()
    .any(|c| why.starts_with(c))
}

/// A stanza error as words.
fn error_text(error: &StanzaError) -> String {
    let condition = format!("{:?}", error.defined_condition);
    match error.texts.values().next() {
        Some(text) if !text.is_empty() => format!("{condition}: {text}"),
        _ => condition,
    }
}

impl Shared {
    /// Queues an event for errbotd.
    pub(super) fn push(&self, event: BackendEvent) {
        if let Err(e) = self.events.try_push(event) {
            tracing::warn!("event dropped: {e}");
        }
    }

    /// Tells errbotd about a room change.
    fn room_event(&self, kind: room_event::Kind, room: &BareJid, topic: String) {
        self.push(BackendEvent {
            kind: Some(backend_event::Kind::Room(RoomEvent {
                kind: kind as i32,
                room: Some(self.ids.room(room)),
                topic,
                ..Default::default()
            })),
        });
    }

    fn iq(&self, iq: Iq) {
        let (from, id, payload) = match iq {
            Iq::Get {
                from, id, payload, ..
            } => (from, id, payload),
            Iq::Set { from, id, .. } => {
                self.refuse_iq(from, id);
                return;
            }
            Iq::Error { id, error, .. } => {
                // A room the bot asked to destroy refused.
                if let Some(room) = id.strip_prefix(DESTROY_ID)
                    && let Ok(room) = BareJid::new(room)
                {
                    self.resolve(&Await::Leave(room), Err(error_text(&error)));
                }
                return;
            }
            Iq::Result { .. } => return,
        };
        let reply = if payload.is("ping", xmpp_parsers::ns::PING) {
            Iq::Result {
                from: None,
                to: None,
                id,
                payload: None,
            }
        } else if DiscoInfoQuery::try_from(payload).is_ok() {
            let info = DiscoInfoResult {
                node: None,
                identities: vec![Identity::new("client", "bot", "en", "errbot-rs")],
                features: [
                    xmpp_parsers::ns::DISCO_INFO,
                    xmpp_parsers::ns::PING,
                    xmpp_parsers::ns::MUC,
                ]
                .into_iter()
                .map(str::to_owned)
                .collect(),
                extensions: Vec::new(),
            };
            Iq::from_result(id, Some(info))
        } else {
            self.refuse_iq(from, id);
            return;
        };
        let reply = match from {
            Some(to) => reply.with_to(to),
            None => reply,
        };
        self.send_stanza(reply);
    }

    fn refuse_iq(&self, from: Option<Jid>, id: String) {
        let error = StanzaError::new(
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            "en",
            "not supported by errbot-rs",
        );
        let reply = Iq::from_error(id, error);
        self.send_stanza(match from {
            Some(to) => reply.with_to(to),
            None => reply,
        });
    }

    /// Tells errbotd that someone's presence changed (Errbot's callback_presence).
    fn presence_event(&self, who: errbot_proto::v1::Identifier, p: &Presence) {
        let status = match (&p.type_, &p.show) {
            (presence::Type::Unavailable, _) => "offline",
            (_, Some(presence::Show::Away | presence::Show::Xa)) => "away",
            (_, Some(presence::Show::Dnd)) => "dnd",
            _ => "online",
        };
        let message = p.statuses.values().next().cloned().unwrap_or_default();
        self.push(BackendEvent {
            kind: Some(backend_event::Kind::Presence(PresenceEvent {
                who: Some(who),
                status: status.to_owned(),
                message,
            })),
        });
    }

    fn presence(self: &Arc<Self>, p: Presence) {
        let Some(from) = p.from.clone() else { return };
        let room = from.to_bare();
        let Some(nick) = from.resource().map(|r| r.to_string()) else {
            return;
        };
        let Some(own) = self.with_state(|st| st.rooms.nick_in(&room).map(str::to_owned)) else {
            // A contact's presence (people who share theirs with the bot), not the bot's own.
            let own = self.with_state(|st| st.bound.as_ref().map(|b| b.to_bare()));
            if matches!(p.type_, presence::Type::None | presence::Type::Unavailable)
                && own.as_ref() != Some(&room)
            {
                self.presence_event(self.ids.person(&from), &p);
            }
            return;
        };
        let muc = p
            .payloads
            .iter()
            .find_map(|e| MucUser::try_from(e.clone()).ok());
        let statuses = muc.as_ref().map(|m| m.status.clone()).unwrap_or_default();
        let real = muc
            .as_ref()
            .and_then(|m| m.items.first())
            .and_then(|i| i.jid.clone());
        let is_self = statuses.contains(&Status::SelfPresence) || nick == own;
        match p.type_ {
            presence::Type::Error => {
                let why = p
                    .payloads
                    .iter()
                    .find_map(|e| StanzaError::try_from(e.clone()).ok())
                    .map_or_else(|| "refused".to_owned(), |e| error_text(&e));
                tracing::warn!("cannot join {room}: {why}");
                let conflict = why.starts_with("Conflict");
                self.with_state(|st| st.rooms.joined.remove(&room));
                if transient(&why) {
                    self.retry_join(&room);
                }
                if conflict && own.matches('_').count() < 3 {
                    // The nickname is taken in this room: try again with a `_` more.
                    let wanted = self.with_state(|st| st.rooms.wanted.get(&room).cloned());
                    if let Some(wanted) = wanted {
                        let join = self.with_state(|st| {
                            join_presence(&mut st.rooms, &wanted, &format!("{own}_"))
                        });
                        self.send_stanza(join);
                        return;
                    }
                }
                self.resolve(&Await::Join(room.clone()), Err(format!("{room}: {why}")));
            }
            presence::Type::Unavailable if is_self => {
                let kicked = statuses.contains(&Status::Kicked);
                let banned = statuses.contains(&Status::Banned);
                if statuses.contains(&Status::NewNick) {
                    return;
                }
                self.with_state(|st| st.rooms.joined.remove(&room));
                self.resolve(&Await::Leave(room.clone()), Ok(()));
                self.room_event(room_event::Kind::Left, &room, String::new());
                if kicked || banned {
                    tracing::warn!("{} from {room}", if banned { "banned" } else { "kicked" });
                    self.kicked(&room, banned);
                } else {
                    tracing::info!("left {room}");
                }
            }
            presence::Type::Unavailable => {
                let real = self.with_state(|st| {
                    let real = st.rooms.real_jid(&room, &nick);
                    st.rooms.absent(&room, &nick);
                    real
                });
                self.presence_event(self.ids.occupant(&room, &nick, real.as_ref()), &p);
            }
            presence::Type::None if is_self => {
                let newly = self.with_state(|st| {
                    st.rooms.present(&room, &nick, real);
                    match st.rooms.joined.get_mut(&room) {
                        Some(j) if !j.complete => {
                            j.complete = true;
                            j.nick = nick.clone();
                            true
                        }
                        _ => false,
                    }
                });
                if statuses.contains(&Status::RoomHasBeenCreated) {
                    // A room the bot created stays locked until its owner accepts a
                    // configuration: the default one (an instant room, XEP-0045 §10.1.2).
                    if let Some(iq) = instant_room(&room) {
                        self.send_stanza(iq);
                    }
                }
                if newly {
                    self.with_state(|st| st.rooms.joined_ok(&room));
                    tracing::info!("joined {room} as {nick}");
                    self.resolve(&Await::Join(room.clone()), Ok(()));
                    self.room_event(room_event::Kind::Joined, &room, String::new());
                }
            }
            presence::Type::None => {
                let who = self.ids.occupant(&room, &nick, real.as_ref());
                self.with_state(|st| st.rooms.present(&room, &nick, real));
                self.presence_event(who, &p);
            }
            _ => {}
        }
    }

    /// Joins a wanted room again after a failure the room may get over (a service that is
    /// starting, a server that is busy): after the reconnection delay, doubled at each failure.
    fn retry_join(self: &Arc<Self>, room: &BareJid) {
        let Some(attempt) = self.with_state(|st| {
            st.rooms
                .wanted
                .contains_key(room)
                .then(|| st.rooms.failed(room))
        }) else {
            return;
        };
        let delay = self
            .settings
            .reconnect_delay
            .saturating_mul(1 << attempt.min(16))
            .min(self.settings.reconnect_max);
        tracing::info!("joining {room} again in {:.1} s", delay.as_secs_f64());
        self.rejoin_later(room, delay);
    }

    /// Joins `room` after `delay`, if it is still wanted, not joined, and the bot connected.
    fn rejoin_later(self: &Arc<Self>, room: &BareJid, delay: std::time::Duration) {
        let shared = self.clone();
        let room = room.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let join = shared.with_state(|st| {
                let wanted = st.rooms.wanted.get(&room).cloned()?;
                if !st.online || st.rooms.joined.contains_key(&room) {
                    return None;
                }
                Some(join_presence(
                    &mut st.rooms,
                    &wanted,
                    &shared.settings.nickname,
                ))
            });
            if let Some(join) = join {
                tracing::info!("joining {room} again");
                shared.send_stanza(join);
            }
        });
    }

    /// The bot was kicked (or banned) from a room: rejoin after the configured delay, unless
    /// banned or told not to.
    fn kicked(self: &Arc<Self>, room: &BareJid, banned: bool) {
        let Some(delay) = self.settings.rejoin_after_kick.filter(|_| !banned) else {
            self.with_state(|st| st.rooms.wanted.remove(room));
            return;
        };
        self.rejoin_later(room, delay);
    }

    /// A message: a topic change, or chat for errbotd.
    fn message(&self, mut m: Message) {
        let Some(from) = m.from.clone() else { return };
        if m.type_ == MessageType::Error {
            tracing::warn!("error message from {from}: {:?}", m.payloads);
            if let Some(waiting) = self.topic_waiter(&from) {
                self.resolve(&waiting, Err("the room refused the topic".into()));
            }
            return;
        }
        let body = m.get_best_body_cloned(vec![]).map(|(_, b)| b);
        let subject = m.get_best_subject_cloned(vec![]).map(|(_, s)| s);
        let room = from.to_bare();
        let in_room = m.type_ == MessageType::Groupchat;
        if in_room && body.is_none() {
            if let Some(topic) = subject {
                self.topic(&room, topic);
            }
            return;
        }
        let Some(body) = body.filter(|b| !b.trim().is_empty()) else {
            return;
        };
        // A correction of a message sent before (XEP-0308) is an edit: it never runs a command
        // again, as edits do not on the other chat services.
        if m.payloads
            .iter()
            .any(|p| p.is("replace", xmpp_parsers::ns::MESSAGE_CORRECT))
        {
            tracing::debug!("correction from {from} ignored");
            return;
        }
        // History replayed by a room (delayed by the room itself), or a message kept by the
        // server while the bot was away for long, is not a command (Errbot drops every delayed
        // message); one held back only briefly (a stream resumed after a short outage) still is.
        // A delay that does not read (a stamp that is no date) cannot tell how old the message
        // is: it is taken as old, as Errbot takes every delayed message.
        let delay = match m.extract_payload::<Delay>() {
            Ok(delay) => delay,
            Err(e) => {
                tracing::info!("delayed message from {from} ignored (unreadable delay: {e})");
                return;
            }
        };
        if let Some(delay) = delay {
            let age_ms = adapters::now_ms().saturating_sub(delay.stamp.0.timestamp_millis());
            let history = delay.from.as_ref().is_some_and(|by| by.to_bare() == room);
            if history || age_ms > MAX_DELAY.as_millis() as i64 {
                tracing::info!(
                    "delayed message from {from} ignored (sent {} s ago)",
                    age_ms / 1000
                );
                return;
            }
        }
        let id = format!("xmpp-{}", self.msg_ids.next());
        let event = self.with_state(|st| {
            let bot = st.bound.clone()?;
            if in_room {
                let nick = from.resource()?.to_string();
                let own = st.rooms.nick_in(&room)?.to_owned();
                let real = st.rooms.real_jid(&room, &nick);
                let mentions = st
                    .rooms
                    .mentions(&room, &body)
                    .iter()
                    .map(|n| {
                        let real = st.rooms.real_jid(&room, n);
                        self.ids.occupant(&room, n, real.as_ref())
                    })
                    .collect();
                Some((
                    self.ids.occupant(&room, &nick, real.as_ref()),
                    self.ids.room(&room),
                    mentions,
                    nick == own,
                    format!("{room}\0{nick}"),
                ))
            } else {
                let from_id = match from.resource() {
                    // A private message from someone in a room the bot is in: answered
                    // there, privately.
                    Some(nick) if st.rooms.joined.contains_key(&room) => {
                        let real = st.rooms.real_jid(&room, nick.as_str());
                        let mut id = self.ids.occupant(&room, nick.as_str(), real.as_ref());
                        id.room.clear();
                        id.room_name.clear();
                        id
                    }
                    _ => self.ids.person(&from),
                };
                let from_me = from.to_bare() == bot.to_bare();
                Some((
                    from_id,
                    self.ids.person(&Jid::from(bot)),
                    Vec::new(),
                    from_me,
                    format!("\0{from}"),
                ))
            }
        });
        let Some((from_id, to_id, mentions, from_me, conversation)) = event else {
            return;
        };
        if !from_me {
            self.order.arrived(&id, &conversation);
        }
        let message = ChatMessage {
            id,
            from: Some(from_id),
            to: Some(to_id),
            body,
            direct: !in_room,
            from_self: from_me,
            timestamp_ms: adapters::now_ms(),
            mentions,
            extras: HashMap::new(),
            ..Default::default()
        };
        self.push(adapters::message_event(message));
    }

    /// The room a topic request waits on, when `from` is such a room.
    fn topic_waiter(&self, from: &Jid) -> Option<Await> {
        let what = Await::Topic(from.to_bare());
        self.with_state(|st| st.waiters.iter().any(|w| w.what == what))
            .then_some(what)
    }

    /// A room's subject changed (or was sent at join).
    fn topic(&self, room: &BareJid, topic: String) {
        let changed = self.with_state(|st| {
            let j = st.rooms.joined.get_mut(room)?;
            let changed = j.topic.as_deref() != Some(topic.as_str());
            j.topic = Some(topic.clone());
            Some(changed)
        });
        if changed == Some(true) {
            self.room_event(room_event::Kind::Topic, room, topic);
        }
        self.resolve(&Await::Topic(room.clone()), Ok(()));
    }
}
