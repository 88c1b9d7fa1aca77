//! End-to-end: the Python example (plugins/python-hello) through the real errbotd and the test
//! gateway, beside what the other tests show of it (commands, storage, its heartbeat poller):
//! its callbacks count the messages errbotd delivers, quietly, and its template command arrives
//! rendered into Markdown, as a reply and through send_templated (BotService.Send).

use std::time::{Duration, Instant};

use errbot_proto::v1::{SentMessage, content};
use errbot_tests::{Options, TestBot, inject};

async fn python_bot() -> TestBot {
    TestBot::start_with(Options {
        bundled: true,
        ..Default::default()
    })
    .await
}

/// Asks `!pyseen ROOM` privately until it says `want` messages were seen in ROOM (callbacks
/// are delivered beside the commands: a reply may come before the events of earlier messages
/// were counted); returns the reply's (messages in all, messages no command handled).
async fn seen_in(bot: &mut TestBot, room: &str, want: u64) -> (u64, u64) {
    let prefix = format!(
        "I have seen {want} message{} in {room} and ",
        if want == 1 { "" } else { "s" }
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = bot.one(&format!("!pyseen {room}")).await;
        if let Some(rest) = reply.strip_prefix(&prefix) {
            // "T in all; no command handled U of them."
            let numbers: Vec<u64> = rest
                .split(' ')
                .filter_map(|word| word.parse().ok())
                .collect();
            let [total, unhandled] = numbers[..] else {
                panic!("unexpected reply: {reply}")
            };
            return (total, unhandled);
        }
        assert!(
            reply.starts_with("I have seen "),
            "unexpected reply: {reply}"
        );
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {want} messages in {room}: {reply}\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Markdown of a message the bot sent, failing when it is anything else (a template never
/// reaches a gateway).
fn markdown(message: &SentMessage) -> &str {
    match message.content.as_ref().and_then(|c| c.kind.as_ref()) {
        Some(content::Kind::Markdown(text)) => text,
        other => panic!("not Markdown: {other:?}"),
    }
}

/// Every message the bot sent to `room` in `outbox` until none came for a second.
async fn drain_to(outbox: &mut tonic::Streaming<SentMessage>, room: &str) -> Vec<String> {
    let mut texts = Vec::new();
    while let Ok(next) = tokio::time::timeout(Duration::from_secs(1), outbox.message()).await {
        let message = next.expect("outbox").expect("outbox open");
        if message.to.as_ref().is_some_and(|to| to.room == room) {
            texts.push(message.text);
        }
    }
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_counts_messages_with_its_callbacks_quietly() {
    let mut bot = python_bot().await;
    let mut outbox = bot.outbox().await;
    // Chatter, an unknown command and a command: four messages in #pychat, the first three
    // handled by no command. The last one is a command so that, once its message is counted, the
    // unhandled events of the others (queued before it) are counted too.
    for (from, body) in [("ana", "hello"), ("bob", "hi ana")] {
        assert_eq!(
            bot.say_as(from, "#pychat", body).await,
            Vec::<String>::new()
        );
    }
    let unknown = bot.say_as("ana", "#pychat", "!nosuchcmd").await;
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].contains("not found"), "{unknown:?}");
    let hello = bot.say_as("bob", "#pychat", "!pyhello").await;
    assert!(hello[0].starts_with("Hello from Python "), "{hello:?}");
    let (total, unhandled) = seen_in(&mut bot, "#pychat", 4).await;
    // The private messages (errbotd's readiness probe, the polls) count in all too.
    assert!(total > 4, "{total}");
    assert!((3..total).contains(&unhandled), "{unhandled} of {total}");
    // Without an argument: the room it is asked in (its own message counted, or not yet).
    let here = bot.say_as("ana", "#other", "!pyseen").await;
    assert!(
        here.len() == 1
            && (here[0].starts_with("I have seen 0 messages in #other and ")
                || here[0].starts_with("I have seen 1 message in #other and ")),
        "{here:?}"
    );

    // One more message no command handles, then a command: exactly one more unhandled.
    assert!(bot.say_as("bob", "#pychat", "bye").await.is_empty());
    bot.say_as("ana", "#pychat", "!pyhello Bob").await;
    let (_, unhandled_after) = seen_in(&mut bot, "#pychat", 6).await;
    assert_eq!(unhandled_after, unhandled + 1);

    // Quiet: what the bot said in #pychat is the replies to the two commands it knows and to the
    // unknown one; the callbacks said nothing.
    let said = drain_to(&mut outbox, "#pychat").await;
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(said[0].contains("not found"), "{said:?}");
    assert!(said[1].starts_with("Hello from Python "), "{said:?}");
    assert!(said[2].starts_with("Hello Bob, from Python "), "{said:?}");
    let log = bot.log();
    assert!(!log.contains("callback_message failed"), "{log}");
    assert!(!log.contains("callback_unhandled failed"), "{log}");
    bot.stop();
}

/// `!pyreport`'s counters as errbotd renders templates/report.md: the lines that do not depend on
/// the private messages' count exactly (the totals and the direct messages are checked against
/// each other; the heartbeats are 0 unless the test took a minute).
fn check_report(text: &str, rooms: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..2], ["**python-hello's counters**", ""], "{text}");
    let heartbeats = lines[2]
        .strip_prefix("- heartbeats: ")
        .and_then(|rest| rest.strip_suffix(" (one every 60 s)"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(heartbeats.parse::<u64>().is_ok(), "{text}");
    assert_eq!(lines[3], "- visits: 2", "{text}");
    // "- messages seen: T, U of them handled by no command"
    let seen = lines[4]
        .strip_prefix("- messages seen: ")
        .and_then(|rest| rest.strip_suffix(" of them handled by no command"))
        .unwrap_or_else(|| panic!("{text}"));
    let (total, _unhandled) = seen.split_once(", ").unwrap_or_else(|| panic!("{text}"));
    let total: u64 = total.parse().expect("total");
    assert_eq!(lines[5..5 + rooms.len()], *rooms, "{text}");
    let direct: u64 = lines[5 + rooms.len()]
        .strip_prefix("  - direct messages: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(lines.len(), 6 + rooms.len(), "{text}");
    let in_rooms: u64 = rooms
        .iter()
        .map(|line| line.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
        .map(|n| n.expect("count"))
        .sum();
    assert_eq!(total, in_rooms + direct, "{text}");
    assert!(!text.contains("{{") && !text.contains("{%"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_answers_with_a_template_rendered_by_errbotd() {
    let mut bot = python_bot().await;
    assert_eq!(bot.one("!pyvisits").await, "Visit number 1.");
    assert_eq!(bot.one("!pyvisits").await, "Visit number 2.");
    for (room, body) in [("#dev", "hi"), ("#dev", "!pyhello"), ("#ops", "hi")] {
        bot.say_as("ana", room, body).await;
    }
    seen_in(&mut bot, "#dev", 2).await;
    seen_in(&mut bot, "#ops", 1).await;

    // A reply: the command's template, rendered into Markdown before the gateway gets it.
    let replies = bot.converse("tester", "", "!pyreport").await.replies;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let text = markdown(&replies[0]);
    assert_eq!(replies[0].text, text);
    check_report(text, &["  - #dev: 2", "  - #ops: 1"]);

    // send_templated: BotService.Send with a template, rendered likewise, where it was asked.
    let mut outbox = bot.outbox().await;
    assert_eq!(
        bot.one("!pyreport --to #report").await,
        "Sent the counters to #report."
    );
    let sent = loop {
        let message = tokio::time::timeout(Duration::from_secs(20), outbox.message())
            .await
            .expect("the counters sent to #report")
            .expect("outbox")
            .expect("outbox open");
        if message.to.as_ref().is_some_and(|to| to.room == "#report") {
            break message;
        }
    };
    assert!(sent.in_reply_to.is_empty(), "{sent:?}");
    check_report(markdown(&sent), &["  - #dev: 2", "  - #ops: 1"]);
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_example_runs_its_coffee_flow() {
    let mut bot = python_bot().await;
    // The size starts the flow (an auto-trigger) and goes into its context.
    let replies = bot.say("!pycoffee large").await;
    assert_eq!(
        replies,
        [
            "A large coffee. Milk?",
            "You are in the flow **coffee**, you can continue with:\n\n- !pycoffee milk <yes|no>"
        ]
    );
    // The milk makes the predicate (Python, asked through FlowPredicate) hold: serving runs by
    // itself, with the context both steps left, and the flow ends.
    assert_eq!(
        bot.say("!pycoffee milk yes").await,
        ["With milk.", "Here is your large coffee, with milk."]
    );
    assert_eq!(bot.one("!flows status").await, "No Flow started.");
    // Outside the flow, its steps are ignored.
    assert!(bot.say("!pycoffee milk no").await.is_empty());
}

/// In a fresh directory the Python example's first start fills its virtualenv (venv, pip):
/// errbotd does not wait for it. The bot answers at once, the plugin's status says what it is
/// doing, and a command of the plugin is told it waits, then runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_python_plugin_installing_its_requirements_does_not_hold_up_the_bot() {
    let dir = tempfile::Builder::new()
        .prefix("errbot-e2e")
        .tempdir()
        .expect("temp dir");
    let socket = dir.path().join("driver.sock");
    let config = format!(
        "[bot]\nadmins = [\"@admin\"]\n\n[paths]\ndata_dir = \"data\"\nbundled_plugins = true\n\
         venv_dir = \"venvs\"\n\n[log]\nlevel = \"info\"\n\n[backends.test]\nkind = \"test\"\n\
         driver_socket = {:?}\n",
        socket.display().to_string()
    );
    std::fs::write(dir.path().join("errbot.toml"), config).expect("write config");
    let mut bot = TestBot::start_answering(dir, "errbot.toml".into(), &socket, Vec::new()).await;
    assert_eq!(bot.one("!echo hi").await, "hi");
    let child = bot.child("python-hello");
    assert_eq!(
        (child["state"].as_str(), child["last_exit"].as_str()),
        (Some("starting"), Some("installing its Python requirements")),
        "{child}"
    );
    let mut request = inject("!pyhello", "tester", "");
    request.timeout_ms = 300_000;
    let replies = bot
        .driver
        .converse(request)
        .await
        .expect("converse")
        .into_inner()
        .replies;
    let texts: Vec<&str> = replies.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        texts.first().copied(),
        Some(
            "Still starting: python-hello (installing its Python requirements). \
             Your command waits for it."
        ),
        "{texts:?}"
    );
    assert!(
        texts.len() == 2 && texts[1].contains("Python"),
        "{texts:?}\n{}",
        bot.log()
    );
    assert_eq!(bot.child("python-hello")["state"], "running");
    bot.wait_for_log("Still starting in the background: python-hello", 1);
}
