//! IRC (backend kind "irc"): one connection to one IRC server.
//!
//! - `settings`: the `[backends.NAME]` keys, checked key by key (secrets from the environment).
//! - `transport`: TCP or TLS (rustls on ring), line reading that survives any bytes.
//! - `client`: registration (server password, SASL PLAIN, nick collisions), NickServ, joins,
//!   the handling of every line, reconnection with backoff, rejoin after a kick.
//! - `channels`: members and topics of the channels the bot is in (mentions, occupants).
//! - `ids`: `nick!user@host`, `#chan`, `#chan/nick` identifiers and the ACL pattern.
//! - `format`, `split`: Markdown to IRC formatting, lines cut to fit 512 bytes.
//! - `outbox`, `order` (`adapters::order`, shared with Slack): pacing per channel and for
//!   private messages; replies kept in the order of the messages they answer.
//!
//! The protocol model (parsing and serialising lines) is the irc crate's own, `irc-proto`. Its
//! client half is not used: it brings a second TLS provider (aws-lc-rs) through tokio-rustls's
//! default features, ends its stream on a line it cannot decode, and has no reconnection,
//! per-channel pacing or SASL, which this backend needs anyway.

mod card;
mod channels;
mod client;
pub mod format;
pub mod fuzzing;
mod ids;
mod outbox;
pub mod settings;
mod split;
mod transport;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{BackendInfo, Identifier, ProcessedRequest, RoomInfo, SendRequest};
use irc_proto::Command;
use tokio::sync::{oneshot, watch};
use tonic::Status;

use super::order::ReplyOrder;
use super::{Adapter, Context};
use crate::events::EventQueue;
use crate::settings::Problem;
use channels::Channels;
use ids::{Ids, Mask, fold, is_channel, valid_nick};
use outbox::Outbox;
use settings::{Room, Settings};

/// How long a room request (join, part, topic, invite) waits for the server's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Checks IRC settings for `errbot-gateway check`.
pub fn check(map: &serde_json::Map<String, serde_json::Value>) -> Vec<Problem> {
    settings::check(map)
}

/// A server answer a room request waits for. Names are folded.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Await {
    Join(String),
    Part(String),
    Topic(String),
    Invite(String, String),
}

struct Waiter {
    what: Await,
    tx: oneshot::Sender<Result<(), String>>,
}

/// What the connection knows, changed by the lines the server sends.
struct State {
    /// The bot's current nickname.
    nick: String,
    /// The bot's own mask, once the server showed it (our JOIN).
    own: Mask,
    connected: bool,
    channels: Channels,
    /// Channels the bot should be in (configured, joined on request), rejoined at reconnection.
    wanted: BTreeMap<String, Room>,
    /// Ids of inbound notices not processed yet: their replies are notices too.
    notices: HashSet<String>,
    waiters: Vec<Waiter>,
}

/// Everything the adapter and the connection task share.
struct Shared {
    settings: Settings,
    ids: Ids,
    events: EventQueue,
    outbox: Outbox,
    order: ReplyOrder,
    state: Mutex<State>,
    stop: watch::Sender<bool>,
    msg_ids: super::Ids,
    sent_ids: super::Ids,
}

impl Shared {
    fn new(settings: Settings, backend: &str, events: EventQueue) -> Self {
        let wanted = settings
            .rooms
            .iter()
            .map(|r| (fold(&r.name), r.clone()))
            .collect();
        Self {
            ids: Ids {
                backend: backend.to_owned(),
                acl: settings.acl_pattern.clone(),
            },
            events,
            outbox: Outbox::new(),
            order: ReplyOrder::default(),
            state: Mutex::new(State {
                nick: settings.nickname.clone(),
                own: Mask::nick(&settings.nickname),
                connected: false,
                channels: Channels::default(),
                wanted,
                notices: HashSet::new(),
                waiters: Vec::new(),
            }),
            stop: watch::channel(false).0,
            msg_ids: super::Ids::default(),
            sent_ids: super::Ids::default(),
            settings,
        }
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    fn nick(&self) -> String {
        self.with_state(|st| st.nick.clone())
    }

    fn is_connected(&self) -> bool {
        self.with_state(|st| st.connected)
    }

    /// `server:port`, for messages.
    fn target(&self) -> String {
        format!("{}:{}", self.settings.server, self.settings.port)
    }

    /// The bot's identifier.
    fn bot(&self) -> Identifier {
        self.with_state(|st| self.ids.person(&st.own))
    }

    /// Registration succeeded under `nick`.
    fn registered(&self, nick: &str) {
        self.with_state(|st| {
            st.nick = nick.to_owned();
            st.own = Mask::nick(nick);
            st.connected = true;
        });
        tracing::info!("connected to {} as {nick}", self.target());
    }

    /// The server showed the bot's full mask.
    fn own_mask(&self, mask: &Mask) {
        if mask.is_full() {
            self.with_state(|st| st.own = mask.clone());
        }
    }

    /// First steps of a registered connection: NickServ, the rooms, the connected event.
    fn after_registration(&self) {
        if let Some(password) = &self.settings.nickserv_password {
            self.outbox.urgent(client::line(Command::PRIVMSG(
                "NickServ".into(),
                format!("IDENTIFY {password}"),
            )));
        }
        let rooms: Vec<Room> = self.with_state(|st| st.wanted.values().cloned().collect());
        for room in rooms {
            self.outbox
                .urgent(client::join_line(&room.name, room.key.as_deref()));
        }
        self.push(super::connected_event(self.bot()));
    }

    /// The connection ended.
    fn disconnected(&self, reason: &str) {
        let waiters = self.with_state(|st| {
            st.connected = false;
            st.channels.clear();
            std::mem::take(&mut st.waiters)
        });
        for w in waiters {
            let _ =
                w.tx.send(Err(format!("disconnected from the server: {reason}")));
        }
    }

    /// Answers every request waiting for `what`.
    fn resolve(&self, what: &Await, result: Result<(), String>) {
        self.resolve_where(|w| w == what, result);
    }

    /// Fails every invitation into `channel` (folded).
    fn resolve_invites(&self, channel: &str, why: &str) {
        self.resolve_where(
            |w| matches!(w, Await::Invite(_, c) if c == channel),
            Err(why.to_owned()),
        );
    }

    /// Fails every invitation of `nick` (folded).
    fn resolve_invites_of(&self, nick: &str, why: &str) {
        self.resolve_where(
            |w| matches!(w, Await::Invite(n, _) if n == nick),
            Err(why.to_owned()),
        );
    }

    fn resolve_where(&self, matches: impl Fn(&Await) -> bool, result: Result<(), String>) {
        let done: Vec<Waiter> = self.with_state(|st| {
            let (done, keep) = std::mem::take(&mut st.waiters)
                .into_iter()
                .partition(|w| matches(&w.what));
            st.waiters = keep;
            done
        });
        for w in done {
            let _ = w.tx.send(result.clone());
        }
    }

    /// Sends a protocol line and waits for the server's answer.
    async fn request(&self, line: String, what: Await) -> Result<(), Status> {
        let (tx, rx) = oneshot::channel();
        let connected = self.with_state(|st| {
            if st.connected {
                st.waiters.push(Waiter {
                    what: what.clone(),
                    tx,
                });
            }
            st.connected
        });
        if !connected {
            return Err(self.not_connected());
        }
        self.outbox.urgent(line);
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(why))) => Err(Status::failed_precondition(why)),
            Ok(Err(_)) => Err(Status::unavailable("the connection to the server ended")),
            Err(_) => {
                self.resolve(&what, Err("timed out".into()));
                Err(Status::deadline_exceeded(format!(
                    "the IRC server did not answer within {} s",
                    REQUEST_TIMEOUT.as_secs()
                )))
            }
        }
    }

    fn not_connected(&self) -> Status {
        Status::unavailable(format!(
            "not connected to the IRC server {} (reconnecting)",
            self.target()
        ))
    }

    /// Bytes left for the text of a `command` to `target` once the server prefixes it with the
    /// bot's mask for the other clients (512 bytes per line, CR LF included).
    fn budget(&self, command: &str, target: &str) -> usize {
        let own = self.with_state(|st| {
            if st.own.is_full() {
                st.own.full().len()
            } else {
                // user (at most 10 bytes and a ~) and host (at most 63 bytes) not known yet.
                st.nick.len() + 1 + 11 + 1 + 63
            }
        });
        510usize.saturating_sub(1 + own + 1 + command.len() + 1 + target.len() + 2)
    }

    /// A channel name from a request, checked.
    fn channel(&self, text: &str) -> Result<String, Status> {
        let name = text.trim();
        if is_channel(name) {
            Ok(name.to_owned())
        } else {
            Err(Status::invalid_argument(format!(
                "{name:?} is not an IRC channel (expected #channel)"
            )))
        }
    }

    /// What the bot knows of a channel it is in.
    fn room_info(&self, channel: &str) -> Result<RoomInfo, Status> {
        self.with_state(|st| {
            let c = st
                .channels
                .get(channel)
                .ok_or_else(|| Status::failed_precondition(format!("I'm not in {channel}")))?;
            Ok(RoomInfo {
                room: Some(self.ids.room(&c.name)),
                topic: c.topic.clone().unwrap_or_default(),
                has_topic: c.topic.is_some(),
                occupants: c
                    .members
                    .values()
                    .map(|m| self.ids.occupant(&c.name, m))
                    .collect(),
            })
        })
    }
}

/// Removes what could end an IRC line early from text a person gave.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, '\r' | '\n') { ' ' } else { c })
        .filter(|c| *c != '\0')
        .collect()
}

/// The IRC adapter.
pub struct Irc {
    shared: Arc<Shared>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Irc {
    /// Connects and registers; fails when the first connection fails.
    pub async fn start(ctx: Context) -> Result<Arc<Self>, Status> {
        let settings = ctx.checked_settings(Settings::read)?;
        let shared = Arc::new(Shared::new(settings, &ctx.backend, ctx.events.clone()));
        let (first_tx, first_rx) = oneshot::channel();
        let task = tokio::spawn(client::run(shared.clone(), first_tx));
        super::first_connection("irc", &ctx.backend, first_rx).await?;
        Ok(Arc::new(Self {
            shared,
            task: tokio::sync::Mutex::new(Some(task)),
        }))
    }
}

#[tonic::async_trait]
impl Adapter for Irc {
    fn kind(&self) -> &'static str {
        "irc"
    }

    fn info(&self) -> BackendInfo {
        let s = &self.shared.settings;
        BackendInfo {
            bot: Some(self.shared.bot()),
            // Replies are cut into lines that fit the 512-byte limit here, after rendering.
            message_size_limit: 0,
            limit_in_bytes: true,
            description: format!(
                "IRC {}:{}{}",
                s.server,
                s.port,
                if s.tls { " (TLS)" } else { "" }
            ),
            // IRC's convention (and Errbot's) for addressing someone in a channel: "nick: ".
            nick_prefix: "{nick}: ".to_owned(),
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
        let s = &self.shared.settings;
        let (target, queue, interval) = if !to.room.is_empty() {
            (
                self.shared.channel(&to.room)?,
                fold(&to.room),
                s.channel_rate,
            )
        } else {
            let nick = if to.nick.is_empty() {
                Mask::parse(&to.person).map(|m| m.nick).unwrap_or_default()
            } else {
                to.nick.clone()
            };
            if !valid_nick(&nick) {
                return Err(Status::invalid_argument(format!(
                    "cannot send to {:?}: not an IRC nick or channel",
                    to.display
                )));
            }
            (nick, outbox::PRIVATE.to_owned(), s.private_rate)
        };
        let notice = self
            .shared
            .with_state(|st| st.notices.contains(&request.in_reply_to));
        let verb = if notice { "NOTICE" } else { "PRIVMSG" };
        let budget = self.shared.budget(verb, &target);
        let lines: Vec<String> = format::content(content)
            .iter()
            .flat_map(|l| split::split(l, budget))
            .map(|piece| {
                client::line(if notice {
                    Command::NOTICE(target.clone(), piece)
                } else {
                    Command::PRIVMSG(target.clone(), piece)
                })
            })
            .collect();
        if !request.in_reply_to.is_empty() {
            self.shared.order.wait_turn(&request.in_reply_to).await;
        }
        self.shared
            .outbox
            .push(&queue, interval, lines)
            .map_err(|_| {
                Status::resource_exhausted(format!(
                    "too many lines wait to be sent to {target} ({} at most)",
                    outbox::QUEUE_LIMIT
                ))
            })?;
        Ok(format!("irc-out-{}", self.shared.sent_ids.next()))
    }

    fn processed(&self, request: &ProcessedRequest) {
        self.shared.order.processed(&request.message_id);
        self.shared
            .with_state(|st| st.notices.remove(&request.message_id));
    }

    fn build_identifier(&self, text: &str) -> Result<Identifier, Status> {
        self.shared
            .ids
            .parse(text, |nick| {
                self.shared.with_state(|st| st.channels.mask_of(nick))
            })
            .map_err(Status::invalid_argument)
    }

    async fn stop(&self) {
        self.shared.stop.send_replace(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }

    async fn list_rooms(&self) -> Result<Vec<RoomInfo>, Status> {
        Ok(self.shared.with_state(|st| {
            st.channels
                .all()
                .map(|c| RoomInfo {
                    room: Some(self.shared.ids.room(&c.name)),
                    topic: c.topic.clone().unwrap_or_default(),
                    has_topic: c.topic.is_some(),
                    occupants: Vec::new(),
                })
                .collect()
        }))
    }

    async fn join_room(&self, room: &str, password: &str) -> Result<RoomInfo, Status> {
        let channel = self.shared.channel(room)?;
        let key = Some(password.trim())
            .filter(|k| !k.is_empty())
            .map(|k| k.split_whitespace().collect::<String>());
        if self
            .shared
            .with_state(|st| st.channels.get(&channel).is_some())
        {
            return self.shared.room_info(&channel);
        }
        self.shared
            .request(
                client::join_line(&channel, key.as_deref()),
                Await::Join(fold(&channel)),
            )
            .await?;
        self.shared.with_state(|st| {
            st.wanted.insert(
                fold(&channel),
                Room {
                    name: channel.clone(),
                    key,
                },
            )
        });
        self.shared.room_info(&channel)
    }

    async fn leave_room(&self, room: &str, reason: &str) -> Result<(), Status> {
        let channel = self.shared.channel(room)?;
        self.shared
            .with_state(|st| st.wanted.remove(&fold(&channel)));
        if self
            .shared
            .with_state(|st| st.channels.get(&channel).is_none())
        {
            return Err(Status::failed_precondition(format!("I'm not in {channel}")));
        }
        let reason = Some(one_line(reason)).filter(|r| !r.trim().is_empty());
        self.shared
            .request(
                client::line(Command::PART(channel.clone(), reason)),
                Await::Part(fold(&channel)),
            )
            .await
    }

    async fn get_room(&self, room: &str) -> Result<RoomInfo, Status> {
        let channel = self.shared.channel(room)?;
        self.shared.room_info(&channel)
    }

    async fn set_room_topic(&self, room: &str, topic: &str) -> Result<RoomInfo, Status> {
        let channel = self.shared.channel(room)?;
        self.shared.room_info(&channel)?;
        self.shared
            .request(
                client::line(Command::TOPIC(channel.clone(), Some(one_line(topic)))),
                Await::Topic(fold(&channel)),
            )
            .await?;
        self.shared.room_info(&channel)
    }

    async fn set_presence(&self, status: &str, message: &str) -> Result<(), Status> {
        if !self.shared.with_state(|st| st.connected) {
            return Err(self.shared.not_connected());
        }
        // IRC knows one thing: away (with a message) or back.
        let away = match status {
            "online" => None,
            _ if !message.trim().is_empty() => Some(one_line(message)),
            other => Some(other.to_owned()),
        };
        self.shared.outbox.urgent(client::line(Command::AWAY(away)));
        Ok(())
    }

    async fn invite_to_room(&self, room: &str, people: &[String]) -> Result<(), Status> {
        let channel = self.shared.channel(room)?;
        let mut nicks = Vec::new();
        for p in people {
            let id = self.build_identifier(p)?;
            if id.nick.is_empty() {
                return Err(Status::invalid_argument(format!("{p:?} is not a person")));
            }
            nicks.push(id.nick);
        }
        if nicks.is_empty() {
            return Err(Status::invalid_argument("nobody to invite"));
        }
        for nick in nicks {
            self.shared
                .request(
                    client::line(Command::INVITE(nick.clone(), channel.clone())),
                    Await::Invite(fold(&nick), fold(&channel)),
                )
                .await?;
        }
        Ok(())
    }
}
