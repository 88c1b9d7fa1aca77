//! The Slack gateway's event decoding: Socket Mode envelopes (or an event the input wraps in
//! one) through the gateway's own handler, with a known workspace and a Web API that knows nobody
//! else (`users.info` answers `user_not_found`).
//!
//! Invariants: an envelope delivered again yields nothing (each event runs once); the bot's own
//! messages, edits and deletions never become messages; a leading mention of the bot is
//! turned into the prefix.
#![no_main]

use std::sync::OnceLock;

use errbot_fuzz::{Input, refusing_api, runtime};
use errbot_gateway::adapters::slack::fuzzing::Decoder;
use errbot_proto::v1::backend_event;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    static DECODER: OnceLock<Decoder> = OnceLock::new();
    let rt = runtime();
    let decoder = DECODER.get_or_init(|| {
        let _guard = rt.enter();
        let api = refusing_api("200 OK", r#"{"ok":false,"error":"user_not_found"}"#)
            .expect("a local API");
        Decoder::new(&format!("{api}/api")).expect("a decoder")
    });
    decoder.reset();

    let mut input = Input::new(data);
    let wrap = input.byte() % 3;
    let Ok(v) = serde_json::from_str::<Value>(&input.text) else {
        return;
    };
    let envelope = match wrap {
        0 => v,
        1 => {
            json!({"type": "events_api", "envelope_id": "e1", "payload": {"event_id": "Ev1", "event": v}})
        }
        _ => json!({"type": "events_api", "envelope_id": "e1", "payload": {"event": v}}),
    };
    let event = envelope
        .pointer("/payload/event")
        .cloned()
        .unwrap_or(Value::Null);

    let field = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or("");
    let own = field("user") == "U0BOT" || field("bot_id") == "B0BOT";

    let first = rt.block_on(decoder.envelope(&envelope));
    for e in &first {
        if let Some(backend_event::Kind::Message(m)) = &e.kind {
            assert!(!own, "the bot's own message became a message");
            assert!(
                !matches!(field("subtype"), "message_changed" | "message_deleted"),
                "an edit or a deletion became a message"
            );
            assert!(!m.body.trim_start().starts_with("<@U0BOT>"), "{:?}", m.body);
        }
    }
    let again = rt.block_on(decoder.envelope(&envelope));
    assert!(
        again.is_empty(),
        "an envelope delivered again ran again: {again:?}"
    );
});
