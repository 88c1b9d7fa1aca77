//! The Mattermost gateway: websocket events' JSON (with JSON embedded in strings) made users,
//! channels and identifiers, identifiers people type, replies as posts (Markdown as it is,
//! cards as attachments) and the cut of over-long posts.
//!
//! Invariants: a Markdown reply is posted as it is; every piece of a cut is within the limit
//! and the pieces hold the text (line breaks at the cuts aside).
#![no_main]

use errbot_fuzz::{Input, card};
use errbot_gateway::adapters::mattermost::fuzzing as mattermost;
use errbot_proto::v1::{Content, content};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let text = input.text.clone();

    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        let _ = mattermost::decode(&v);
        if let Some(map) = v.as_object() {
            let _ = errbot_gateway::adapters::check("mattermost", map);
        }
    }
    let _ = mattermost::parse_identifier(&text);

    let markdown = Content {
        kind: Some(content::Kind::Markdown(text.clone())),
    };
    let (message, _props) = mattermost::post_parts(&markdown).expect("Markdown is a post");
    assert_eq!(message, text);
    let card = Content {
        kind: Some(content::Kind::Card(card(&text))),
    };
    let (message, props) = mattermost::post_parts(&card).expect("a card is a post");
    assert!(message.is_empty() && props.get("attachments").is_some());

    let limit = match input.byte() % 3 {
        0 => mattermost::POST_LIMIT,
        _ => usize::from(input.byte()),
    };
    let pieces = mattermost::split(&text, limit);
    let mut joined = String::new();
    for piece in &pieces {
        assert!(
            piece.chars().count() <= limit.max(1),
            "a piece over {limit}: {piece:?}"
        );
        joined.push_str(&piece.replace('\n', ""));
    }
    assert_eq!(joined, text.replace('\n', ""), "the cut lost text");
});
