//! The Telegram gateway's update handling: updates (as JSON, or the input's text as a message
//! in a private chat or a group, with a leading command or mention entity) taken as the poller
//! takes them, then delivered again, processed by errbotd, and delivered again after a restart
//! of the gateway.
//!
//! Invariants: an update delivered again never runs again (in flight, processed, or after a
//! restart); edits and the bot's own messages never become messages; a command for another bot
//! is dropped; a message's id is `CHAT:MESSAGE`; the offset confirmed never goes back.
#![no_main]

use std::sync::OnceLock;

use errbot_fuzz::{Input, runtime};
use errbot_gateway::adapters::telegram::fuzzing::{self as telegram, BOT_ID, Decoder};
use errbot_proto::v1::backend_event;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const CHATS: [(i64, &str); 3] = [(5, "private"), (-100_200, "supergroup"), (-300, "group")];
const SENDERS: [(i64, &str); 3] = [(5, "alice"), (BOT_ID, "ErrBot"), (6, "bob")];
const ENTITIES: [&str; 4] = ["bot_command", "mention", "text_mention", "bold"];

fn messages(events: &[errbot_proto::v1::BackendEvent]) -> Vec<&errbot_proto::v1::Message> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(backend_event::Kind::Message(m)) => Some(m),
            _ => None,
        })
        .collect()
}

/// The command of a message's leading `bot_command` entity (after its `/`), as the gateway
/// finds it: the first entity at offset 0 whose range is inside the text.
fn leading_command(message: &Value) -> Option<&str> {
    let text = message["text"].as_str()?;
    let entity = message["entities"].as_array()?.iter().find(|e| {
        e["offset"].as_u64() == Some(0)
            && e["type"].as_str().is_some()
            && e["length"]
                .as_u64()
                .and_then(|l| telegram::utf16_range(text, 0, l as usize))
                .is_some()
    })?;
    if entity["type"] != "bot_command" {
        return None;
    }
    let length = entity["length"].as_u64()? as usize;
    let (_, end) = telegram::utf16_range(text, 0, length)?;
    text.get(..end)?.strip_prefix('/')
}

fuzz_target!(|data: &[u8]| {
    static DECODER: OnceLock<Decoder> = OnceLock::new();
    let rt = runtime();
    let decoder = DECODER.get_or_init(|| {
        let _guard = rt.enter();
        let dir = std::env::temp_dir().join(format!("errbot-fuzz-telegram-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for the offset file");
        Decoder::new(&dir).expect("a decoder")
    });
    decoder.reset();

    let mut input = Input::new(data);
    let wrap = input.byte() % 3;
    let update_id = i64::from(input.byte());
    let update = match wrap {
        0 => match serde_json::from_str::<Value>(&input.text) {
            Ok(v) => v,
            Err(_) => return,
        },
        1 => match serde_json::from_str::<Value>(&input.text) {
            Ok(v) => json!({"update_id": update_id, "message": v}),
            Err(_) => return,
        },
        _ => {
            let (chat, kind) = *input.pick(&CHATS);
            let (sender, name) = *input.pick(&SENDERS);
            let entity = *input.pick(&ENTITIES);
            let length: usize = input.byte().into();
            let edit = input.byte() % 8 == 0;
            let message = json!({
                "message_id": i64::from(input.byte()),
                "date": 1_700_000_000,
                "from": {"id": sender, "is_bot": sender == BOT_ID, "first_name": name, "username": name},
                "chat": {"id": chat, "type": kind, "title": "g"},
                "text": input.text,
                "entities": [{"type": entity, "offset": 0, "length": length,
                              "user": {"id": BOT_ID, "is_bot": true, "first_name": "ErrBot"}}],
            });
            let key = if edit { "edited_message" } else { "message" };
            json!({"update_id": update_id, key: message})
        }
    };

    let offset = decoder.offset();
    let first = rt.block_on(decoder.update(&update));
    let first = messages(&first);
    assert!(first.len() <= 1);
    if let Some(m) = first.first() {
        let message = &update["message"];
        assert!(
            !message.is_null(),
            "an update without a message ran: {update}"
        );
        assert_ne!(
            message["from"]["id"].as_i64(),
            Some(BOT_ID),
            "the bot's own message ran"
        );
        let chat = message["chat"]["id"].as_i64().unwrap_or(0);
        let id = message["message_id"].as_i64().unwrap_or(0);
        assert_eq!(m.id, format!("{chat}:{id}"));
        if let Some(command) = leading_command(message) {
            let (_, bot) = command.split_once('@').unwrap_or(("", ""));
            assert!(
                bot.is_empty() || bot.eq_ignore_ascii_case("ErrBot"),
                "a command for @{bot} ran: {update}"
            );
        }
    }
    assert!(decoder.offset() >= offset, "the offset went back");

    let again = rt.block_on(decoder.update(&update));
    assert!(messages(&again).is_empty(), "an update in flight ran again");
    let ids: Vec<String> = first.iter().map(|m| m.id.clone()).collect();
    for id in &ids {
        decoder.processed(id);
    }
    let offset = decoder.offset();
    let again = rt.block_on(decoder.update(&update));
    assert!(messages(&again).is_empty(), "a processed update ran again");
    decoder.restart();
    assert!(
        decoder.offset() >= offset,
        "the offset went back after a restart"
    );
    let again = rt.block_on(decoder.update(&update));
    assert!(
        messages(&again).is_empty(),
        "a processed update ran again after a restart"
    );
});
