//! Entry points for the fuzz targets of `tests/fuzz/`: what the XMPP gateway reads from the
//! server (stanzas, read from bytes as the stream reads them, through the gateway's own
//! handling), identifiers people type, and what it writes (replies as message stanzas). Thin
//! wrappers: no behaviour of their own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{BackendEvent, Content};
use tokio::sync::mpsc;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::stanza::Stanza;

use super::ids::{self, Ids};
use super::rooms::{Joined, Rooms};
use super::settings::{Room, Security, Settings};
use super::{ReplyOrder, Shared, State};

/// The bot's bound JID in [`Decoder`]'s world.
pub const BOT: &str = "bot@example.org/errbot";
/// The room the bot is in, as `bot`; `alice` shows her real JID there, `bob` does not.
pub const ROOM: &str = "room@conference.example.org";

/// The stanza the gateway sends for a reply to [`ROOM`], as the stream writes it; `Ok(None)`
/// for content that is not a reply, `Err` when it cannot be written.
pub fn reply(content: &Content, xhtml: bool) -> Result<Option<Vec<u8>>, String> {
    let Ok(room) = Jid::new(ROOM) else {
        return Err("the room's JID".into());
    };
    match super::format::message(room, MessageType::Groupchat, content, xhtml) {
        None => Ok(None),
        Some(message) => xso::to_vec(&message).map(Some).map_err(|e| e.to_string()),
    }
}

/// A message stanza's body, read back from its bytes as the stream reads it.
pub fn body_of(xml: &[u8]) -> Option<String> {
    let message: Message = xso::from_bytes(xml).ok()?;
    message.bodies.values().next().cloned()
}

/// The body of a reply for `content` (`None` for a template).
pub fn body(content: &Content) -> Option<String> {
    super::format::body(content)
}

/// What an identifier typed by a person names (its debug form), or why it names nothing.
pub fn parse_identifier(text: &str) -> Result<String, String> {
    let room = BareJid::new(ROOM).ok();
    ids::parse(text, |j| Some(j) == room.as_ref()).map(|t| format!("{t:?}"))
}

/// The XMPP gateway's stanza handling without a connection. The world is known in advance:
/// the bot is bound as [`BOT`] and in [`ROOM`] as `bot` with `alice` (real JID shown) and `bob`.
pub struct Decoder {
    shared: Arc<Shared>,
    sent: Mutex<mpsc::UnboundedReceiver<Stanza>>,
}

impl Decoder {
    /// A decoder; call within a tokio runtime (handling a stanza may start timers).
    pub fn new() -> Result<Self, String> {
        let jid = Jid::new(BOT).map_err(|e| e.to_string())?;
        let room = BareJid::new(ROOM).map_err(|e| e.to_string())?;
        let settings = Settings {
            jid,
            password: String::new(),
            server: "example.org".into(),
            port: 5222,
            security: Security::None,
            tls_ca_file: None,
            sasl_mechanisms: Vec::new(),
            keepalive: Duration::from_secs(60),
            nickname: "bot".into(),
            rooms: vec![Room {
                jid: room,
                password: None,
            }],
            rejoin_after_kick: Some(Duration::ZERO),
            reconnect_delay: Duration::ZERO,
            reconnect_max: Duration::ZERO,
            message_size_limit: 10_000,
            xhtml_im: true,
        };
        let tls = crate::tls::client_config(None)?;
        let (outbox, sent) = mpsc::unbounded_channel();
        let shared = Shared {
            ids: Ids {
                backend: "xmpp".into(),
            },
            events: crate::events::EventQueue::new(),
            tls: Arc::new(tls),
            state: std::sync::Mutex::new(known_world(&settings)?),
            outbox,
            order: ReplyOrder::default(),
            stop: tokio::sync::watch::channel(false).0,
            msg_ids: crate::adapters::Ids::default(),
            sent_ids: crate::adapters::Ids::default(),
            settings,
        };
        Ok(Self {
            shared: Arc::new(shared),
            sent: Mutex::new(sent),
        })
    }

    /// Forgets everything learnt since [`Decoder::new`] (rooms left or joined, occupants).
    pub fn reset(&self) {
        if let Ok(world) = known_world(&self.shared.settings) {
            self.shared.with_state(|st| *st = world);
        }
    }

    /// Reads `xml` as one stanza and handles it; `None` when it is not a stanza. Answers the
    /// events queued for errbotd and the stanzas sent (written as the stream writes them).
    pub async fn stanza(&self, xml: &[u8]) -> Option<(Vec<BackendEvent>, Vec<Vec<u8>>)> {
        let stanza: Stanza = xso::from_bytes(xml).ok()?;
        super::client::handle(&self.shared, stanza);
        // Timers started by the stanza (a rejoin) run now: their delays are zero.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let events = self.shared.events.take_queued().await;
        let mut sent = Vec::new();
        let mut outbox = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Ok(stanza) = outbox.try_recv() {
            sent.push(xso::to_vec(&stanza).unwrap_or_default());
        }
        Some((events, sent))
    }
}

/// What the bot knows before any stanza.
fn known_world(settings: &Settings) -> Result<State, String> {
    let bound = FullJid::new(BOT).map_err(|e| e.to_string())?;
    let room = BareJid::new(ROOM).map_err(|e| e.to_string())?;
    let alice = FullJid::new("alice@example.org/phone").map_err(|e| e.to_string())?;
    let mut rooms = Rooms::new(&settings.rooms);
    let mut joined = Joined {
        nick: "bot".into(),
        topic: Some(String::new()),
        complete: true,
        ..Default::default()
    };
    joined.occupants.insert("bot".into(), Some(bound.clone()));
    joined.occupants.insert("alice".into(), Some(alice));
    joined.occupants.insert("bob".into(), None);
    rooms.joined.insert(room, joined);
    Ok(State {
        bound: Some(bound),
        online: true,
        rooms,
        waiters: Vec::new(),
        first: None,
    })
}

#[cfg(test)]
mod tests {
    use errbot_proto::v1::backend_event;

    use super::*;

    async fn messages(decoder: &Decoder, xml: &str) -> Vec<String> {
        let (events, _) = decoder.stanza(xml.as_bytes()).await.expect("a stanza");
        events
            .into_iter()
            .filter_map(|e| match e.kind {
                Some(backend_event::Kind::Message(m)) => Some(m.body),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn unreadable_delays_and_corrections_never_run_a_command() {
        let decoder = Decoder::new().unwrap();
        let from = "from='room@conference.example.org/alice' type='groupchat'";
        let plain = format!("<message xmlns='jabber:client' {from}><body>!a</body></message>");
        assert_eq!(messages(&decoder, &plain).await, ["!a"]);
        // Found by fuzzing (xmpp_events): a delay whose stamp is no date was taken as none.
        let bad_delay = format!(
            "<message xmlns='jabber:client' {from}><body>!b</body>\
             <delay xmlns='urn:xmpp:delay' from='room@conference.example.org' stamp='2[20'/>\
             </message>"
        );
        assert!(messages(&decoder, &bad_delay).await.is_empty());
        let correction = format!(
            "<message xmlns='jabber:client' {from}><body>!c</body>\
             <replace xmlns='urn:xmpp:message-correct:0' id='m1'/></message>"
        );
        assert!(messages(&decoder, &correction).await.is_empty());
    }

    #[tokio::test]
    async fn every_iq_request_is_answered_once_to_its_sender() {
        let decoder = Decoder::new().unwrap();
        for (kind, payload) in [
            ("get", "<ping xmlns='urn:xmpp:ping'/>"),
            (
                "get",
                "<query xmlns='http://jabber.org/protocol/disco#info'/>",
            ),
            ("set", "<query xmlns='jabber:iq:version'/>"),
        ] {
            let xml = format!(
                "<iq xmlns='jabber:client' from='alice@example.org/phone' type='{kind}' \
                 id='q1'>{payload}</iq>"
            );
            let (_, sent) = decoder.stanza(xml.as_bytes()).await.expect("a stanza");
            assert_eq!(sent.len(), 1, "{xml}");
            let text = String::from_utf8(sent[0].clone()).unwrap();
            assert!(
                text.contains("id='q1'") || text.contains("id=\"q1\""),
                "{text}"
            );
            assert!(text.contains("alice@example.org/phone"), "{text}");
        }
    }
}
