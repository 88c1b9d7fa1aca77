//! End-to-end: callbacks (tests/callback-plugins). Each callback reaches the plugin that
//! declared it and no other, in order, without holding up commands; a failing or hanging
//! callback is logged and changes nothing else.

use std::time::{Duration, Instant};

use errbot_proto::v1::{
    Connected, EmitRequest, Identifier, PresenceEvent, ReactionEvent, RoomEvent, emit_request,
    room_event,
};
use errbot_tests::{Options, TestBot, repo_root};

async fn callback_bot() -> TestBot {
    TestBot::start_with(Options {
        plugin_dirs: vec![repo_root().join("tests/callback-plugins")],
        extra: "[limits]\ncallback_timeout_secs = 5.0\n".into(),
        bot: "callback_order = [\"quiet\", \"*\"]\n".into(),
        ..Default::default()
    })
    .await
}

/// The events `command` lists, once `done` holds for them (polled: callbacks are delivered
/// beside the commands, never before their replies).
async fn events_until(
    bot: &mut TestBot,
    command: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = bot.say_as("observer", "#cbtest", command).await.join("\n");
        // The poll itself is a message: keep only the other events.
        let events: Vec<String> = reply
            .lines()
            .filter(|l| !l.ends_with(command) && *l != "(none)")
            .map(str::to_owned)
            .collect();
        if done(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting; {command} lists:\n{}",
            events.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn has(events: &[String], prefix: &str) -> bool {
    events.iter().any(|e| e.starts_with(prefix))
}

async fn emit(bot: &TestBot, kind: emit_request::Kind) {
    bot.driver()
        .emit(EmitRequest { kind: Some(kind) })
        .await
        .expect("emit");
}

fn person(name: &str) -> Identifier {
    Identifier {
        person: format!("@{name}"),
        nick: name.into(),
        display: format!("@{name}"),
        ..Default::default()
    }
}

fn room(name: &str) -> Identifier {
    Identifier {
        room: format!("#{name}"),
        display: format!("#{name}"),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_callback_reaches_the_plugins_that_declared_it_and_no_other() {
    let mut bot = callback_bot().await;
    // A command, chatter, an unknown command, a mention.
    assert_eq!(bot.say_as("alice", "#cbtest", "!echo hi").await, ["hi"]);
    assert!(
        bot.say_as("alice", "#cbtest", "just chatting")
            .await
            .is_empty()
    );
    let unknown = bot.say_as("alice", "", "!nosuchcommand").await;
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    bot.say_as("alice", "#cbtest", "hello @bob").await;
    emit(
        &bot,
        emit_request::Kind::Presence(PresenceEvent {
            who: Some(person("carol")),
            status: "away".into(),
            message: "lunch".into(),
        }),
    )
    .await;
    emit(
        &bot,
        emit_request::Kind::Reaction(ReactionEvent {
            who: Some(person("dave")),
            message_id: "m42".into(),
            reaction: "thumbsup".into(),
            added: true,
        }),
    )
    .await;
    for (kind, topic) in [
        (room_event::Kind::Joined, ""),
        (room_event::Kind::Topic, "new topic"),
        (room_event::Kind::Left, ""),
    ] {
        emit(
            &bot,
            emit_request::Kind::Room(RoomEvent {
                kind: kind as i32,
                room: Some(room("lounge")),
                topic: topic.into(),
                ..Default::default()
            }),
        )
        .await;
    }
    emit(&bot, emit_request::Kind::Connected(Connected { bot: None })).await;

    // The first connection was at start-up; the emitted one is the last event.
    let events = events_until(&mut bot, "!events", |e| {
        e.iter().filter(|l| l.starts_with("connect|")).count() >= 2
    })
    .await;
    let text = events.join("\n");
    for want in [
        "message|test|#cbtest/alice||!echo hi",
        "message|test|#cbtest/alice||just chatting",
        "unhandled|test|#cbtest/alice||just chatting",
        "unhandled|test|@alice||!nosuchcommand",
        "mention|test|#cbtest/alice||hello @bob",
        "presence|test|@carol|away:lunch|",
        "reaction|test|@dave|thumbsup:m42:true|",
        "room_joined|test|#lounge|- by -|",
        "room_topic|test|#lounge|new topic|",
        "room_left|test|#lounge|- by -|",
        "connect|test|",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // The bot's own replies reach the plugins that want them; a command is not unhandled.
    assert!(
        has(&events, "bot_message|test|#cbtest/alice||hi")
            || has(&events, "bot_message|test|#cbtest||hi"),
        "{text}"
    );
    assert!(
        !text.contains("unhandled|test|#cbtest/alice||!echo hi"),
        "{text}"
    );
    // Events keep their order: the room callbacks came in the order they happened.
    let pos = |p: &str| {
        events
            .iter()
            .position(|e| e.starts_with(p))
            .unwrap_or(usize::MAX)
    };
    assert!(pos("room_joined") < pos("room_topic") && pos("room_topic") < pos("room_left"));

    // The quiet plugin declared `message` only: it got the messages and nothing else.
    let quiet = events_until(&mut bot, "!quietevents", |e| {
        e.iter().any(|l| l.ends_with("hello @bob"))
    })
    .await;
    assert!(
        quiet.iter().all(|e| e.starts_with("message|")),
        "{}",
        quiet.join("\n")
    );
    assert!(quiet.iter().any(|e| e.ends_with("just chatting")));

    // `!plugin info` names the callbacks a plugin declared.
    let info = bot
        .say_as("admin", "", "!plugin info quiet")
        .await
        .join("\n");
    assert!(info.contains("- **callbacks**: message"), "{info}");
    let info = bot
        .say_as("admin", "", "!plugin info listener")
        .await
        .join("\n");
    assert!(
        info.contains("- **callbacks**: connect, message, mention,"),
        "{info}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn callbacks_never_hold_up_commands_and_failures_stay_in_the_log() {
    let mut bot = callback_bot().await;
    // The listener's message callback takes 3 s for this message; the command answers at once
    // (its reply comes back while the callback still runs: it has not recorded it yet).
    assert_eq!(bot.say("!echo slowcb").await, ["slowcb"]);
    let now = bot
        .say_as("observer", "#cbtest", "!events")
        .await
        .join("\n");
    assert!(!now.contains("||!echo slowcb"), "{now}");
    // Then it is delivered, in order, before the later events.
    let events = events_until(&mut bot, "!events", |e| {
        e.iter().any(|l| l.ends_with("!echo slowcb"))
    })
    .await;
    assert!(events.iter().any(|l| l.ends_with("!echo slowcb")));

    // A failing callback: logged, silent in the chat, the next ones still delivered.
    assert_eq!(bot.say("!echo failcb").await, ["failcb"]);
    // A callback past its deadline (5 s here) is abandoned and logged; the queue moves on.
    assert_eq!(bot.say("!echo hangcb").await, ["hangcb"]);
    assert_eq!(bot.say("!echo after").await, ["after"]);
    events_until(&mut bot, "!events", |e| {
        e.iter().any(|l| l.ends_with("!echo after"))
    })
    .await;
    bot.wait_for_log("callback failed: this callback fails on purpose", 1);
    bot.wait_for_log("callback did not finish within 5 s", 1);
}
