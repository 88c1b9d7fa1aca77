//! End-to-end: the core commands of Errbot's Health, Plugins, Utils and ChatRoom plugins that
//! the others do not cover: `!plugin list`, `!status load`, `!status gc`, `!render test`,
//! `!room destroy`, `!shutdown` and `!restart`.

use std::time::Duration;

use errbot_tests::{Options, TestBot};

#[tokio::test(flavor = "multi_thread")]
async fn status_commands_and_plugin_list() {
    let mut bot = TestBot::start().await;
    // People type `!plugin list` (seed 003): it answers as `!status plugins`.
    let list = bot.say("!plugin list").await.join("\n");
    assert_eq!(list, bot.say("!status plugins").await.join("\n"));
    assert!(list.contains("| A | hello |"), "{list}");
    assert!(list.contains("| A | testplugin |"), "{list}");

    let load = bot.one("!status load").await;
    assert!(load.contains("**Load** (1, 5, 15 min): "), "{load}");
    assert!(load.contains("**CPU** (errbotd): "), "{load}");

    let memory = bot.one("!status gc").await;
    assert!(memory.contains("| errbotd | "), "{memory}");
    assert!(memory.contains("| test (backend) | "), "{memory}");
    assert!(memory.contains("| hello (plugin) | "), "{memory}");
    assert!(memory.contains(" MiB |"), "{memory}");
    assert!(memory.contains("**Total**: "), "{memory}");

    let render = bot.one("!render test").await;
    for part in [
        "# Header 1",
        "**bold**",
        "`inline code`",
        "| Column | Another |",
        "```",
    ] {
        assert!(render.contains(part), "{render}");
    }

    // Rooms: the test service cannot destroy one, and says so; only admins may try.
    assert_eq!(
        bot.say_as("admin", "", "!room destroy #lounge").await,
        ["Cannot destroy #lounge: the test backend cannot destroy rooms."]
    );
    assert_eq!(
        bot.say("!room destroy #lounge").await,
        ["This command requires bot-admin privileges"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_needs_confirmation_and_admins() {
    let mut bot = TestBot::start().await;
    assert_eq!(
        bot.say("!shutdown --confirm").await,
        ["This command requires bot-admin privileges"]
    );
    assert_eq!(
        bot.say_as("admin", "", "!shutdown").await,
        ["Please provide `--confirm` to confirm you really want me to shut down."]
    );
    let unknown = bot.say_as("admin", "", "!shutdown --now").await.join("\n");
    assert!(
        unknown.starts_with("I couldn't parse the arguments; unrecognized argument: --now")
            && unknown.contains("Usage: !shutdown [--confirm] [--kill]"),
        "{unknown}"
    );
    let reply = bot
        .inject_and_watch("admin", "", "!shutdown --confirm")
        .await;
    assert_eq!(reply.text, "Roger that. I am shutting down.");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = bot.process.try_wait() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "errbotd did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_comes_back_with_every_plugin_active() {
    let mut bot = TestBot::start_with(Options {
        bundled: true,
        test_plugin: true,
        ..Default::default()
    })
    .await;
    let pid = bot.process.id();
    let before = bot.status();
    let old_children: Vec<u64> = before["children"]
        .as_array()
        .expect("children")
        .iter()
        .filter_map(|c| c["pid"].as_u64())
        .collect();
    assert_eq!(
        bot.say("!restart").await,
        ["This command requires bot-admin privileges"]
    );
    // The reply arrives before the gateway stops (the conversation itself may not end: the
    // gateway that carried it is replaced).
    let reply = bot.inject_and_watch("admin", "", "!restart").await;
    assert_eq!(reply.text, "Deactivating all the plugins and restarting...");
    bot.wait_for_log("errbotd ready in", 2);
    bot.wait_answering().await;
    // The same process (a service manager sees no exit), every child new, every plugin active.
    assert_eq!(bot.process.id(), pid);
    assert!(bot.process.try_wait().expect("wait").is_none());
    let list = bot.say("!plugin list").await.join("\n");
    for plugin in ["hello", "python-hello", "testplugin"] {
        assert!(list.contains(&format!("| A | {plugin} |")), "{list}");
    }
    assert_eq!(bot.say("!hello").await, ["Hello, world!"]);
    let after = bot.status();
    for child in after["children"].as_array().expect("children") {
        let pid = child["pid"].as_u64().unwrap_or(0);
        assert!(pid != 0 && !old_children.contains(&pid), "{child}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_leaves_an_audit_line_in_the_log_file() {
    let mut bot = TestBot::start_with(Options {
        test_plugin: true,
        log: "file = \"logs/errbot.log\"\nrotate = \"daily\"\nkeep = 3\n".into(),
        ..Default::default()
    })
    .await;
    bot.say_as("alice", "#ops", "!echo hi there").await;
    bot.say_as("alice", "#ops", "!secret").await;
    bot.say_as(
        "boss1",
        "",
        "!plugin config testplugin {\"token\": \"s3cr3t\"}",
    )
    .await;
    bot.say_as("alice", "", "!refuse").await;
    let link = bot.dir.path().join("logs/errbot.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let wanted = [
        "audit: @alice in #ops on test: echo hi there -> done",
        "audit: @alice in #ops on test: secret -> refused: This command requires bot-admin privileges",
        "audit: @boss1 in direct on test: plugin config (configuration not logged) -> ",
        "audit: @alice in direct on test: refuse -> ",
    ];
    loop {
        let log = std::fs::read_to_string(&link).unwrap_or_default();
        if wanted.iter().all(|w| log.contains(w)) {
            assert!(!log.contains("s3cr3t"), "a secret reached the log:\n{log}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing audit lines in {}:\n{log}",
            link.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The file is today's, dated; errbot.log links to it.
    let dated: Vec<String> = std::fs::read_dir(bot.dir.path().join("logs"))
        .expect("logs")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("errbot.") && n.ends_with(".log") && n != "errbot.log")
        .collect();
    assert_eq!(dated.len(), 1, "{dated:?}");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("errbot.log")
            .file_type()
            .is_symlink()
    );
}
