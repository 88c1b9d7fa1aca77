//! End-to-end: rich output reaches the test gateway with its structure: a card, a template
//! rendered by errbotd (in a reply and in a send), a file, a reaction, a reply in a thread and
//! the bot's presence (tests/callback-plugins/listener and the test plugin's `!card`).

use std::time::Duration;

use errbot_proto::v1::{SentMessage, content};
use errbot_tests::{Options, TestBot, inject, repo_root};

async fn rich_bot() -> TestBot {
    TestBot::start_with(Options {
        plugin_dirs: vec![repo_root().join("tests/callback-plugins")],
        test_plugin: true,
        ..Default::default()
    })
    .await
}

/// Everything the bot sends in answer to `body` (from `from` in `room`), until it said `last`.
async fn outbox_until(
    bot: &mut TestBot,
    from: &str,
    room: &str,
    body: &str,
    done: impl Fn(&[SentMessage]) -> bool,
) -> Vec<SentMessage> {
    let mut outbox = bot.outbox().await;
    bot.driver()
        .inject(inject(body, from, room))
        .await
        .expect("inject");
    let mut seen = Vec::new();
    while !done(&seen) {
        let next = tokio::time::timeout(Duration::from_secs(20), outbox.message())
            .await
            .unwrap_or_else(|_| panic!("waiting for the answers to {body:?}; got {seen:#?}"))
            .expect("outbox")
            .expect("outbox open");
        seen.push(next);
    }
    seen
}

fn markdown(m: &SentMessage) -> Option<&str> {
    match m.content.as_ref()?.kind.as_ref()? {
        content::Kind::Markdown(t) => Some(t),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cards_templates_files_reactions_threads_and_presence_keep_their_structure() {
    let mut bot = rich_bot().await;

    // A card arrives as a card.
    let card = bot.converse("tester", "", "!card 2").await.replies;
    let Some(content::Kind::Card(c)) = card[0].content.as_ref().and_then(|c| c.kind.clone()) else {
        panic!("not a card: {card:?}")
    };
    assert!(!c.title.is_empty() && c.fields.len() == 2, "{c:?}");

    // A command's template, rendered by errbotd: the gateway gets Markdown.
    let forecast = bot.converse("tester", "", "!forecast Paris").await.replies;
    assert_eq!(
        markdown(&forecast[0]),
        Some("**Paris** · 21 °C · 23 °C\nWarm.")
    );
    let missing = bot.one("!badtemplate").await;
    assert!(
        missing.starts_with("Computer says nooo.")
            && missing.contains("template missing: no such template"),
        "{missing}"
    );
    // A template sent with BotService.Send (send_templated).
    let sent = outbox_until(&mut bot, "tester", "", "!sendforecast", |s| s.len() >= 2).await;
    let texts: Vec<&str> = sent.iter().filter_map(markdown).collect();
    assert!(texts.contains(&"**Lyon** · 18 °C"), "{texts:?}");
    assert!(texts.contains(&"sent"), "{texts:?}");

    // A reply in a thread: started from the message when it was in none, kept otherwise.
    let threaded = bot.converse("tester", "#dev", "!threaded").await;
    assert_eq!(threaded.replies[0].thread_id, threaded.message_id);
    let mut req = inject("!threaded", "tester", "#dev");
    req.thread_id = "t-9".into();
    let in_thread = bot
        .driver()
        .converse(req)
        .await
        .expect("converse")
        .into_inner();
    assert_eq!(in_thread.replies[0].thread_id, "t-9");

    // A file, with its bytes, name and type, to the room the command came from.
    let upload = outbox_until(&mut bot, "tester", "#dev", "!upload", |s| {
        s.iter().any(|m| m.file.is_some()) && s.iter().any(|m| m.text.starts_with("uploaded"))
    })
    .await;
    let file = upload.iter().find_map(|m| m.file.as_ref().map(|f| (m, f)));
    let (message, file) = file.expect("a file");
    assert_eq!(file.name, "report.txt");
    assert_eq!(file.content_type, "text/plain");
    assert_eq!(file.data, b"hello file");
    assert_eq!(message.to.as_ref().map(|t| t.room.as_str()), Some("#dev"));

    // A reaction on the command's own message (colons trimmed).
    let mut outbox = bot.outbox().await;
    let asked = bot.converse("tester", "#dev", "!thumbs").await;
    assert_eq!(markdown(&asked.replies[0]), Some("reacted"));
    let reaction = loop {
        let m = tokio::time::timeout(Duration::from_secs(20), outbox.message())
            .await
            .expect("a reaction")
            .expect("outbox")
            .expect("open");
        if let Some(r) = m.reaction {
            break r;
        }
    };
    assert_eq!(reaction.reaction, "thumbsup");
    assert_eq!(reaction.message_id, asked.message_id);
    assert!(!reaction.remove);

    // The bot's presence, on every backend that can show it.
    let presence = outbox_until(&mut bot, "tester", "", "!away", |s| {
        s.iter().any(|m| m.presence.is_some()) && s.iter().any(|m| m.text.starts_with("presence"))
    })
    .await;
    let p = presence
        .iter()
        .find_map(|m| m.presence.clone())
        .expect("presence");
    assert_eq!(
        (p.status.as_str(), p.message.as_str()),
        ("away", "out for lunch")
    );
    assert!(
        presence
            .iter()
            .any(|m| m.text == "presence set; unsupported: []"),
        "{presence:?}"
    );
}
