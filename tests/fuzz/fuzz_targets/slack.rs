//! The Slack gateway: message markup read back (plain text, mentions, a leading mention of the
//! bot as the prefix), message timestamps, users' and channels' JSON made identifiers,
//! identifiers people type, Events API signatures, and replies rendered to mrkdwn, cut into
//! parts, and cards as attachments.
//!
//! Invariants: a rendered reply never pings a channel (no `<!` in mrkdwn); every part is within
//! the limit and the parts hold the rendered text (fences and line breaks aside); a timestamp
//! is never negative; a request signed with the secret passes and a changed body does not.
#![no_main]

use errbot_fuzz::{Input, card};
use errbot_gateway::adapters::slack::fuzzing as slack;
use libfuzzer_sys::fuzz_target;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sign(secret: &[u8], message: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    hex(ring::hmac::sign(&key, message).as_ref())
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let text = input.text.clone();

    // What Slack sends.
    let bot = input.pick(&["U0BOT", "", "U1"]).to_string();
    let prefix = input.pick(&["!", "", "bot "]).to_string();
    let (_plain, mentions, body) = slack::read_markup(&text, &bot, &prefix);
    assert!(mentions.iter().all(|m| !m.is_empty()));
    if body != text {
        assert!(
            text.trim_start().starts_with(&format!("<@{bot}>")),
            "{body:?} from {text:?}"
        );
    }
    assert!(slack::ts_ms(&text) >= 0);
    let _ = slack::parse_identifier(&text);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        let empty = serde_json::Value::Null;
        let _ = slack::identifiers(
            v.get("user").unwrap_or(&v),
            v.get("channel").unwrap_or(&empty),
        );
        if let Some(map) = v.as_object() {
            let _ = errbot_gateway::adapters::check("slack", map);
        }
    }

    // Events API signatures.
    let now = 1_700_000_000;
    let stamp = text.lines().next().unwrap_or_default();
    let _ = slack::verify(b"secret", Some(stamp), Some(&text), text.as_bytes(), now);
    let age = i64::from(input.byte());
    let stamp = (now - age).to_string();
    let signature = format!(
        "v0={}",
        sign(b"secret", format!("v0:{stamp}:{text}").as_bytes())
    );
    assert!(slack::verify(
        b"secret",
        Some(&stamp),
        Some(&signature),
        text.as_bytes(),
        now
    ));
    let forged = format!("{text}!");
    assert!(!slack::verify(
        b"secret",
        Some(&stamp),
        Some(&signature),
        forged.as_bytes(),
        now
    ));

    // What the gateway posts.
    let mrkdwn = slack::mrkdwn(&text);
    assert!(!mrkdwn.contains("<!"), "a reply pings: {mrkdwn:?}");
    let escaped = slack::escape_keeping_mentions(&text);
    assert!(!escaped.contains("<!"), "escaped text pings: {escaped:?}");
    let limit = match input.byte() % 3 {
        0 => slack::TEXT_LIMIT,
        _ => usize::from(input.byte()),
    };
    let parts = slack::split(&mrkdwn, limit);
    let room = limit.max(9);
    let kept = |s: &str| {
        s.chars()
            .filter(|c| *c != '\n' && *c != '`')
            .collect::<String>()
    };
    let mut joined = String::new();
    for part in &parts {
        assert!(
            part.chars().count() <= room,
            "a part over {room}: {part:?} of {mrkdwn:?}"
        );
        joined.push_str(&kept(part));
    }
    assert_eq!(joined, kept(&mrkdwn), "the parts lost text");
    // A card's texts (not its addresses) never ping either.
    let attachment = slack::attachment(&card(&text));
    let fields = attachment["fields"].as_array().cloned().unwrap_or_default();
    let texts = ["fallback", "pretext", "title", "text"]
        .iter()
        .map(|k| &attachment[*k])
        .chain(fields.iter().flat_map(|f| [&f["title"], &f["value"]]));
    for t in texts {
        assert!(
            !t.as_str().unwrap_or("").contains("<!"),
            "a card pings: {attachment}"
        );
    }
});
