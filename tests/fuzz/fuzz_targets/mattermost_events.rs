//! The Mattermost gateway's event decoding: websocket events (or a post the input wraps in a
//! `posted` event, as JSON in a string as the server sends it) through the gateway's own
//! handler, with a known server and an API that knows nobody else (404).
//!
//! Invariants: a post delivered again yields nothing (each post runs once); the bot's own
//! posts, system posts and edits never become messages.
#![no_main]

use std::sync::OnceLock;

use errbot_fuzz::{Input, refusing_api, runtime};
use errbot_gateway::adapters::mattermost::fuzzing::Decoder;
use errbot_proto::v1::backend_event;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    static DECODER: OnceLock<Decoder> = OnceLock::new();
    let rt = runtime();
    let decoder = DECODER.get_or_init(|| {
        let _guard = rt.enter();
        let api = refusing_api(
            "404 Not Found",
            r#"{"id":"api.context.404","message":"not found","status_code":404}"#,
        )
        .expect("a local API");
        Decoder::new(&api).expect("a decoder")
    });
    decoder.reset();

    let mut input = Input::new(data);
    let wrap = input.byte() % 3;
    let Ok(v) = serde_json::from_str::<Value>(&input.text) else {
        return;
    };
    let event = match wrap {
        0 => v,
        1 => {
            json!({"event": "posted", "data": {"post": v.to_string(), "channel_type": "O"}, "seq": 1})
        }
        _ => json!({"event": "posted", "data": {"post": v}, "seq": 1}),
    };
    let post = match event.pointer("/data/post") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(p) => p.clone(),
        None => Value::Null,
    };
    let field = |k: &str| post.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let kind = event.get("event").and_then(Value::as_str).unwrap_or("");
    let quiet = field("user_id") == "bot0" || !field("type").is_empty() || kind == "post_edited";

    let first = rt.block_on(decoder.event(&event));
    for e in &first {
        if let Some(backend_event::Kind::Message(m)) = &e.kind {
            assert!(
                !quiet,
                "the bot's own, a system or an edited post became a message: {m:?}"
            );
        }
    }
    if kind == "posted" {
        let again = rt.block_on(decoder.event(&event));
        let messages = again
            .iter()
            .filter(|e| matches!(e.kind, Some(backend_event::Kind::Message(_))))
            .count();
        assert_eq!(messages, 0, "a post delivered again ran again");
    }
});
