//! The XMPP gateway's stanza handling: stanzas read from bytes as the stream reads them (or the
//! input's text wrapped in a room message, a private message or an iq), through the gateway's
//! own handler, in a known world (the bot in a room with two people).
//!
//! Invariants: every iq request is answered once, with its id, to its sender; every stanza sent
//! can be written; the bot's own messages are marked as its own; history replayed by a room
//! and corrections (edits) never become messages; a message's body is the stanza's.
#![no_main]

use std::sync::OnceLock;

use errbot_fuzz::{Input, runtime};
use errbot_gateway::adapters::xmpp::fuzzing::{Decoder, ROOM};
use errbot_proto::v1::backend_event;
use libfuzzer_sys::fuzz_target;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::message::MessageType;
use xmpp_parsers::stanza::Stanza;

/// `text` as XML character data.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

const SENDERS: [&str; 5] = [
    "room@conference.example.org/alice",
    "room@conference.example.org/bot",
    "alice@example.org/phone",
    "bot@example.org/errbot",
    "room@conference.example.org/bob",
];
const EXTRAS: [&str; 4] = [
    "",
    "<delay xmlns='urn:xmpp:delay' from='room@conference.example.org' stamp='2020-01-01T00:00:00Z'/>",
    "<replace xmlns='urn:xmpp:message-correct:0' id='m0'/>",
    "<delay xmlns='urn:xmpp:delay' stamp='2999-01-01T00:00:00Z'/>",
];

fuzz_target!(|data: &[u8]| {
    static DECODER: OnceLock<Decoder> = OnceLock::new();
    let rt = runtime();
    let decoder = DECODER.get_or_init(|| {
        let _guard = rt.enter();
        Decoder::new().expect("a decoder")
    });
    decoder.reset();

    let mut input = Input::new(data);
    let wrap = input.byte() % 4;
    let from = *input.pick(&SENDERS);
    let extra = *input.pick(&EXTRAS);
    let kind = *input.pick(&["groupchat", "chat", "normal", "error"]);
    let xml = match wrap {
        0 => input.text.clone(),
        1 | 2 => format!(
            "<message xmlns='jabber:client' from='{from}' to='bot@example.org/errbot' \
             type='{kind}' id='m1'><body>{}</body>{extra}</message>",
            escape(&input.text)
        ),
        _ => format!(
            "<iq xmlns='jabber:client' from='{from}' to='bot@example.org/errbot' \
             type='{}' id='{}'>{}</iq>",
            if input.flag() { "get" } else { "set" },
            escape(input.text.lines().next().unwrap_or("")),
            input.text.split_once('\n').map_or("", |(_, rest)| rest)
        ),
    };
    let Ok(stanza) = xso::from_bytes::<Stanza>(xml.as_bytes()) else {
        return;
    };
    let Some((events, sent)) = rt.block_on(decoder.stanza(xml.as_bytes())) else {
        panic!("a stanza the stream reads was not handled: {xml}");
    };

    let sent: Vec<Stanza> = sent
        .iter()
        .map(|bytes| {
            assert!(!bytes.is_empty(), "a stanza sent cannot be written");
            xso::from_bytes::<Stanza>(bytes).expect("a stanza sent reads back")
        })
        .collect();
    let messages: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(backend_event::Kind::Message(m)) => Some(m),
            _ => None,
        })
        .collect();

    match stanza {
        Stanza::Iq(Iq::Get { id, from, .. } | Iq::Set { id, from, .. }) => {
            let answers: Vec<_> = sent
                .iter()
                .filter_map(|s| match s {
                    Stanza::Iq(
                        iq @ (Iq::Result { id: answer, to, .. } | Iq::Error { id: answer, to, .. }),
                    ) if *answer == id => Some((iq, to.clone())),
                    _ => None,
                })
                .collect();
            assert_eq!(
                answers.len(),
                1,
                "iq {id:?} answered {} times",
                answers.len()
            );
            assert_eq!(answers[0].1, from, "the answer to iq {id:?} went elsewhere");
            assert!(messages.is_empty());
        }
        Stanza::Iq(_) => assert!(sent.is_empty(), "an answer was answered"),
        Stanza::Message(m) => {
            let correction = m
                .payloads
                .iter()
                .any(|p| p.is("replace", "urn:xmpp:message-correct:0"));
            // History replayed by the room, or a delay that does not read (no age to go by).
            let history = m.payloads.iter().any(|p| {
                p.is("delay", "urn:xmpp:delay")
                    && (p.attr("from").is_some_and(|f| f == ROOM)
                        || xmpp_parsers::delay::Delay::try_from(p.clone()).is_err())
            });
            let body = m.get_best_body_cloned(vec![]).map(|(_, b)| b);
            assert!(messages.len() <= 1);
            if let Some(message) = messages.first() {
                assert!(!correction, "a correction became a message: {xml}");
                assert!(
                    !history,
                    "history replayed by the room became a message: {xml}"
                );
                let body = body.expect("a message has a body");
                assert!(!body.trim().is_empty());
                assert_eq!(message.body, body);
                let from = m.from.as_ref().expect("a message has a sender");
                let own = if m.type_ == MessageType::Groupchat {
                    from.to_bare().as_str() == ROOM
                        && from.resource().is_some_and(|r| r.as_str() == "bot")
                } else {
                    from.to_bare().as_str() == "bot@example.org"
                };
                assert_eq!(message.from_self, own, "from {from}");
            }
        }
        Stanza::Presence(_) => assert!(messages.is_empty()),
    }
});
