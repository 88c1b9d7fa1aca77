//! The XMPP gateway: identifiers people type (`user@host/resource`, rooms, occupants, `xmpp:`
//! URIs), and replies (Markdown with or without XHTML-IM beside it, cards) as the message
//! stanzas the stream writes.
//!
//! Invariants: every reply can be written (a stanza the stream refuses to write would be lost
//! without a word), and its body reads back as the body rendered; a Markdown reply holds what
//! the Markdown's text holds, emphasis markers aside (nothing of it is dropped but characters
//! XML cannot carry).
#![no_main]

use errbot_fuzz::{Input, card};
use errbot_gateway::adapters::xmpp::fuzzing as xmpp;
use errbot_proto::v1::{Content, content};
use libfuzzer_sys::fuzz_target;

fn check_reply(content: &Content, xhtml: bool) {
    let xml = match xmpp::reply(content, xhtml) {
        Ok(Some(xml)) => xml,
        Ok(None) => panic!("a reply made no stanza: {content:?}"),
        Err(e) => panic!("the stream cannot write the reply ({e}): {content:?}"),
    };
    let body = xmpp::body(content).expect("a reply has a body");
    let back = xmpp::body_of(&xml).unwrap_or_default();
    assert_eq!(back, body, "the body did not read back");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let text = input.text.clone();
    let xhtml = input.flag();

    let _ = xmpp::parse_identifier(&text);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(map) = v.as_object()
    {
        let _ = errbot_gateway::adapters::check("xmpp", map);
    }

    let markdown = Content {
        kind: Some(content::Kind::Markdown(text.clone())),
    };
    check_reply(&markdown, xhtml);
    // Plain words (no Markdown syntax, no character XML forbids) are the body as written.
    if text
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' && !text.starts_with(' '))
        && !text.ends_with(' ')
        && !text.contains("  ")
    {
        assert_eq!(xmpp::body(&markdown).as_deref(), Some(text.as_str()));
    }
    let card = Content {
        kind: Some(content::Kind::Card(card(&text))),
    };
    check_reply(&card, xhtml);
});
