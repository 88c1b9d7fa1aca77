//! End-to-end: the Telegram gateway against the fake Bot API of `errbot_tests::telegram`
//! (real HTTP on 127.0.0.1, long polling with offsets), with the real errbotd and the test
//! plugin. People write on the fake; the tests read what the bot sent there.

use std::time::Duration;

use errbot_tests::telegram::{
    ALICE, BOB, BOT_TOKEN, BOT_USERNAME, FORUM, Fake, GROUP, TEXT_LIMIT, TOPIC, other_poller,
};
use errbot_tests::{Options, TestBot};
use serde_json::Value;

/// How long any expected message may take to arrive.
const WAIT: Duration = Duration::from_secs(30);

/// errbotd with a `telegram` backend named `tg` on `fake` and the test plugin, once it polls.
async fn bot(fake: &Fake) -> TestBot {
    bot_with(fake, Vec::new()).await
}

/// Like [`bot`], with the plugins of `plugin_dirs` too.
async fn bot_with(fake: &Fake, plugin_dirs: Vec<std::path::PathBuf>) -> TestBot {
    let bot = start(fake, plugin_dirs, "").await;
    fake.wait_until(WAIT, |f| f.requests().iter().any(|r| r == "getupdates"))
        .await;
    bot
}

/// errbotd with a `telegram` backend named `tg` on `fake`, its settings plus `more`.
async fn start(fake: &Fake, plugin_dirs: Vec<std::path::PathBuf>, more: &str) -> TestBot {
    let extra = format!(
        "[backends.tg]\nkind = \"telegram\"\ntoken_env = \"ERRBOT_TG_TOKEN\"\napi_url = {url:?}\n\
         poll_timeout = 2\ntimeout = 2\nbusy_poll_interval = 0.05\nreconnect_delay = 0.05\nreconnect_max = 0.5\n\
         chat_interval = 0.1\ngroup_interval = 0.2\nusername = \"@{BOT_USERNAME}\"\n{more}",
        url = fake.url(),
    );
    TestBot::start_with(Options {
        extra,
        test_plugin: true,
        env: vec![
            ("ERRBOT_TG_TOKEN".into(), BOT_TOKEN.into()),
            ("ERRBOT_TG_SECRET".into(), SECRET.into()),
        ],
        admins: Some(vec![ALICE.to_string()]),
        plugin_dirs,
        ..Default::default()
    })
    .await
}

/// The webhook's secret token.
const SECRET: &str = "s3cret-token_for_the-hook";

fn says(m: &Value, text: &str) -> bool {
    m["text"] == text
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_in_private_chats_groups_and_topics() {
    let fake = Fake::start().await;
    // A webhook set by another deployment: long polling removes it (else every poll is a 409).
    fake.set_webhook("https://example.org/hook");
    let _bot = bot(&fake).await;
    assert!(fake.requests().contains(&"deletewebhook".to_owned()));

    fake.say(ALICE, ALICE, "!echo privately");
    let m = fake.wait_sent(WAIT, |m| says(m, "privately")).await;
    assert_eq!(m["chat"]["id"], ALICE);

    // `/cmd@ThisBot` in a group is the bot's command; `/cmd@OtherBot` is not.
    fake.say(BOB, GROUP, "/echo@OtherBot not for us");
    fake.say(BOB, GROUP, &format!("/echo@{BOT_USERNAME} in the group"));
    let m = fake.wait_sent(WAIT, |m| says(m, "in the group")).await;
    assert_eq!(m["chat"]["id"], GROUP);
    // A bare `/cmd` stands for the prefix too, and a leading mention of the bot.
    fake.say(BOB, GROUP, "/echo slashed");
    fake.wait_sent(WAIT, |m| says(m, "slashed")).await;
    fake.say(BOB, GROUP, &format!("@{BOT_USERNAME} echo mentioned"));
    fake.wait_sent(WAIT, |m| says(m, "mentioned")).await;

    // A topic of a forum: the answer in the same topic.
    fake.say_in(ALICE, FORUM, Some(TOPIC), "!echo topical");
    let m = fake.wait_sent(WAIT, |m| says(m, "topical")).await;
    assert_eq!(m["chat"]["id"], FORUM);
    assert_eq!(m["message_thread_id"], TOPIC);

    // Markdown is sent as Telegram's HTML.
    fake.say(ALICE, ALICE, "!echo **bold** and `a<b`");
    let m = fake.wait_sent(WAIT, |m| says(m, "bold and a<b")).await;
    assert_eq!(m["_parse_mode"], "HTML");
    assert_eq!(m["_raw"], "<b>bold</b> and <code>a&lt;b</code>");
    let kinds: Vec<&str> = m["entities"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kinds, ["bold", "code"]);

    // Who is who: the sender's string form and the ACL id.
    fake.say(BOB, GROUP, "!whoami");
    let m = fake
        .wait_sent(WAIT, |m| {
            m["chat"]["id"] == GROUP && m["text"].as_str().is_some_and(|t| t.contains("-4001/1002"))
        })
        .await;
    assert!(m["text"].as_str().is_some_and(|t| t.contains("bob")), "{m}");
    assert_eq!(fake.count("not for us"), 0);
    // Every update was confirmed once processed.
    fake.wait_until(WAIT, |f| f.pending_updates() == 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_keep_the_order_of_the_messages() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    // errbotd runs both at once; the quick reply waits for the slow one (at most 2 s).
    fake.say(ALICE, ALICE, "!slow 800");
    fake.say(ALICE, ALICE, "!echo quick");
    fake.wait_sent(WAIT, |m| says(m, "quick")).await;
    assert_eq!(fake.texts_in(ALICE), ["slept 800 ms", "quick"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn errbots_markdown_showcase_is_valid_telegram_html() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    // `!render test`: headings, emphasis, lists, code blocks, tables, links, quotes.
    fake.say(ALICE, ALICE, "!render test");
    fake.wait_until(WAIT, |f| !f.texts_in(ALICE).is_empty())
        .await;
    fake.say(ALICE, ALICE, "!echo done");
    fake.wait_sent(WAIT, |m| says(m, "done")).await;
    let sent = fake.sent();
    assert!(sent.len() >= 2);
    for m in &sent {
        // Telegram parsed each one's HTML: no plain-text fallback was needed.
        assert_eq!(m["_parse_mode"], "HTML", "{m}");
    }
    let kinds: std::collections::BTreeSet<&str> = sent
        .iter()
        .flat_map(|m| m["entities"].as_array().into_iter().flatten())
        .filter_map(|e| e["type"].as_str())
        .collect();
    for kind in ["bold", "italic", "code", "pre"] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    assert!(fake.errors().is_empty(), "{:?}", fake.errors());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_message_does_not_run_again() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    let id = fake.say(ALICE, ALICE, "!incr edits");
    fake.wait_sent(WAIT, |m| says(m, "1")).await;
    fake.edit(ALICE, id, "!incr edits");
    fake.say(ALICE, ALICE, "!echo after the edit");
    fake.wait_sent(WAIT, |m| says(m, "after the edit")).await;
    fake.say(ALICE, ALICE, "!incr edits");
    fake.wait_sent(WAIT, |m| says(m, "2")).await;
    assert_eq!(fake.texts_in(ALICE), ["1", "after the edit", "2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_loses_nothing_and_runs_nothing_twice() {
    let fake = Fake::start().await;
    let mut bot = bot(&fake).await;
    fake.say(ALICE, ALICE, "!incr restarts");
    fake.wait_sent(WAIT, |m| says(m, "1")).await;
    let offset_file = bot.dir.path().join("data/telegram-tg.offset.json");
    fake.wait_until(WAIT, |_| offset_file.is_file()).await;

    // errbotd stops; a message written meanwhile waits at Telegram.
    bot.stop();
    fake.say(ALICE, ALICE, "!incr restarts");
    bot.restart().await;
    fake.wait_sent(WAIT, |m| says(m, "2")).await;

    // errbotd is killed while a command runs: its update was not confirmed, so it comes
    // again after the restart and runs (once).
    let slow = fake.say(ALICE, ALICE, "!slow 3000");
    fake.wait_until(WAIT, |f| f.delivered().contains(&slow))
        .await;
    bot.kill();
    bot.restart().await;
    fake.wait_sent(WAIT, |m| says(m, "slept 3000 ms")).await;
    fake.say(ALICE, ALICE, "!incr restarts");
    fake.wait_sent(WAIT, |m| says(m, "3")).await;
    assert_eq!(fake.texts_in(ALICE), ["1", "2", "slept 3000 ms", "3"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_poller_meets_conflicts_and_the_bot_carries_on() {
    let fake = Fake::start().await;
    let bot = bot(&fake).await;
    let pid = bot.child_pid("tg");
    let theirs = other_poller(&fake.url(), 6).await;
    assert!(
        theirs > 0,
        "the two pollers terminate each other's requests"
    );
    fake.say(ALICE, ALICE, "!echo still here");
    fake.wait_sent(WAIT, |m| says(m, "still here")).await;
    assert!(fake.conflicts() > theirs, "the bot met conflicts too");
    bot.wait_for_log("another program is receiving this bot's updates", 1);
    assert_eq!(bot.child_pid("tg"), pid, "a conflict is no crash");
    assert_eq!(fake.count("still here"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_of_the_service() {
    let fake = Fake::start().await;
    let bot = bot(&fake).await;

    // 429: the reply waits for retry_after and is sent once, never earlier.
    fake.rate_limit(1, 1);
    fake.say(ALICE, ALICE, "!echo patience");
    fake.wait_sent(WAIT, |m| says(m, "patience")).await;
    assert_eq!(fake.rate_limited(), (1, 0));

    // A broken long poll: the bot polls again and is not deaf.
    fake.break_polls();
    fake.break_polls();
    fake.say(ALICE, ALICE, "!echo not deaf");
    fake.wait_sent(WAIT, |m| says(m, "not deaf")).await;

    // A long poll that never answers (a half-open connection): the request's time limit
    // ends it and the bot polls again.
    fake.freeze_polls(1);
    fake.wait_until(WAIT, |f| f.frozen() == 1).await;
    fake.say(ALICE, ALICE, "!echo thawed");
    fake.wait_sent(WAIT, |m| says(m, "thawed")).await;

    // Telegram refuses the entities: the same text goes as plain text.
    fake.refuse_entities(1);
    fake.say(ALICE, ALICE, "!echo **plain** after all");
    let m = fake.wait_sent(WAIT, |m| says(m, "plain after all")).await;
    assert_eq!(m["_parse_mode"], "");

    // A person who blocked the bot: the error is logged, nothing is lost for others.
    fake.block(BOB);
    fake.say(BOB, BOB, "!echo to bob");
    fake.say(ALICE, ALICE, "!echo to alice");
    fake.wait_sent(WAIT, |m| says(m, "to alice")).await;
    bot.wait_for_log("bot was blocked by the user", 1);
    fake.wait_until(WAIT, |f| f.pending_updates() == 0).await;

    // A group upgraded to a supergroup: a message to the old id follows migrate_to_chat_id.
    let supergroup = fake.upgrade(GROUP, false);
    let (code, _, err) = bot.ctl(&["send", "--backend", "tg", "--to=-4001", "moved on"]);
    assert_eq!(code, 0, "{err}");
    let m = fake.wait_sent(WAIT, |m| says(m, "moved on")).await;
    assert_eq!(m["chat"]["id"], supergroup);
    assert_eq!(fake.count("to bob"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_replies_are_split_at_4096_utf16_units() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    // 3,000 emoji: 3,000 characters for errbotd, 6,000 UTF-16 code units for Telegram.
    fake.say(ALICE, ALICE, "!repeat 1500 😀😀");
    fake.wait_until(WAIT, |f| {
        f.texts_in(ALICE)
            .concat()
            .chars()
            .filter(|c| *c == '😀')
            .count()
            == 3000
    })
    .await;
    let texts = fake.texts_in(ALICE);
    assert!(texts.len() >= 2, "{}", texts.len());
    for t in &texts {
        assert!(t.encode_utf16().count() <= TEXT_LIMIT);
    }
    assert!(fake.errors().is_empty(), "{:?}", fake.errors());
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_files_and_reactions() {
    let fake = Fake::start().await;
    let _bot = bot_with(
        &fake,
        vec![errbot_tests::repo_root().join("tests/callback-plugins")],
    )
    .await;

    // A reply a plugin puts in a thread answers the command's message.
    let command = fake.say(ALICE, GROUP, "!threaded");
    let m = fake.wait_sent(WAIT, |m| says(m, "in a thread")).await;
    assert_eq!(m["reply_to_message"]["message_id"], command);

    // A file is a document in the chat.
    fake.say(ALICE, GROUP, "!upload");
    let m = fake
        .wait_sent(WAIT, |m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("uploaded as"))
        })
        .await;
    let documents = fake.documents();
    assert_eq!(documents.len(), 1);
    let (message, file) = &documents[0];
    assert_eq!(
        (file.name.as_str(), file.data.as_slice()),
        ("report.txt", &b"hello file"[..])
    );
    assert_eq!(message["chat"]["id"], GROUP);
    let id = format!("uploaded as {GROUP}:{}", message["message_id"]);
    assert_eq!(m["text"], id.as_str());

    // A reaction on the command's message, as Telegram's emoji.
    let command = fake.say(ALICE, GROUP, "!thumbs");
    fake.wait_sent(WAIT, |m| says(m, "reacted")).await;
    let reactions = fake.reactions();
    assert_eq!(reactions.len(), 1, "{reactions:?}");
    assert_eq!(reactions[0]["message_id"], command);
    assert_eq!(reactions[0]["chat_id"], GROUP);
    assert_eq!(reactions[0]["reaction"][0]["emoji"], "👍");

    // People's reactions reach the plugins' reaction callbacks, by name.
    fake.react(BOB, GROUP, command, "🎉");
    let expected = format!("reaction|tg|{GROUP}/{BOB}|tada:{GROUP}:{command}:true");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let before = fake.sent().len();
        fake.say(ALICE, GROUP, "!events");
        fake.wait_until(WAIT, |f| f.sent().len() > before).await;
        let text = fake
            .sent()
            .last()
            .map(|m| m["text"].to_string())
            .unwrap_or_default();
        if text.contains(&expected) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{expected} not in {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_mode_checks_the_secret_and_answers_once_processed() {
    let fake = Fake::start().await;
    fake.allow_http_webhooks();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/telegram/hook");
    let more = format!(
        "webhook_url = {url:?}\nwebhook_listen = \"127.0.0.1:{port}\"\n\
         webhook_secret_env = \"ERRBOT_TG_SECRET\"\n"
    );
    let mut bot = start(&fake, Vec::new(), &more).await;
    fake.wait_until(WAIT, |f| f.webhook().is_some()).await;
    let hook = fake.webhook().expect("the webhook is set");
    assert_eq!(hook["url"], url.as_str());
    assert_eq!(hook["secret_token"], SECRET);

    fake.say(ALICE, ALICE, "!echo hooked");
    fake.wait_sent(WAIT, |m| says(m, "hooked")).await;

    // Requests without the secret are refused and run nothing.
    let forged = serde_json::json!({"update_id": 1, "message": {"message_id": 900,
        "from": {"id": ALICE, "is_bot": false, "first_name": "Alice"},
        "chat": {"id": ALICE, "type": "private"}, "date": 0, "text": "!echo forged"}});
    let http = reqwest::Client::new();
    for secret in [None, Some("wrong")] {
        let mut request = http.post(&url).body(forged.to_string());
        if let Some(s) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        let status = request.send().await.expect("the webhook answers").status();
        assert_eq!(status.as_u16(), 401);
    }

    // An update is confirmed only once processed: errbotd killed while a command runs gets
    // it again after the restart, and runs it once.
    fake.say(ALICE, ALICE, "!slow 3000");
    fake.wait_until(WAIT, |f| f.posting() == 1).await;
    bot.kill();
    bot.restart().await;
    fake.wait_sent(WAIT, |m| says(m, "slept 3000 ms")).await;
    fake.say(ALICE, ALICE, "!echo after");
    fake.wait_sent(WAIT, |m| says(m, "after")).await;
    assert_eq!(fake.texts_in(ALICE), ["hooked", "slept 3000 ms", "after"]);
    // Each update was answered 2xx once processed; the one held when errbotd died failed.
    fake.wait_until(WAIT, |f| f.webhook_posts().0 == 3).await;
    assert!(fake.webhook_posts().1 >= 1);
    assert_eq!(fake.pending_updates(), 0);
    // Long polling is refused while the webhook is set.
    assert!(!fake.requests().iter().any(|r| r == "getupdates"));
}

#[test]
fn errbotd_check_config_names_the_telegram_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("errbot.toml");
    std::fs::write(
        &config,
        "[backends.tg]\nkind = \"telegram\"\ntoken_env = \"ERRBOT_TG_SURELY_UNSET\"\n\
         api_url = \"ftp://api.example\"\nwebhook_url = \"https://bot.example/hook\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(errbot_tests::binary("errbotd"))
        .arg("check-config")
        .arg(&config)
        .output()
        .expect("errbotd check-config");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // Each problem at its key's line (a missing key: the table's).
    for (line, key) in [
        (3, "token_env"),
        (4, "api_url"),
        (1, "webhook_listen"),
        (1, "webhook_secret_env"),
    ] {
        let want = format!("errbot.toml:{line}:");
        let found = text
            .lines()
            .any(|l| l.contains(&want) && l.contains(&format!("`backends.tg.{key}`")));
        assert!(found, "{key} at line {line}: {text}");
    }
    assert!(text.contains("ERRBOT_TG_SURELY_UNSET is not set"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_killed_while_a_command_runs_runs_it_once() {
    let fake = Fake::start().await;
    let bot = bot(&fake).await;
    let pid = bot.child_pid("tg");
    let slow = fake.say(ALICE, ALICE, "!slow 3000");
    fake.wait_until(WAIT, |f| f.delivered().contains(&slow))
        .await;
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    fake.wait_until(WAIT, |_| {
        let now = bot.child_pid("tg");
        now != 0 && now != pid
    })
    .await;
    fake.wait_sent(WAIT, |m| says(m, "slept 3000 ms")).await;
    fake.say(ALICE, ALICE, "!echo after");
    fake.wait_sent(WAIT, |m| says(m, "after")).await;
    // errbotd, which outlived its gateway, ran the command; the new gateway did not hand the
    // same update over again.
    // Every update confirmed: each was processed (a second run would have answered first).
    fake.wait_until(WAIT, |f| f.pending_updates() == 0).await;
    // The reply of the run errbotd kept arrives through the new gateway; give a second run,
    // if there were one, the time to answer too.
    fake.say(ALICE, ALICE, "!slow 3500");
    fake.wait_sent(WAIT, |m| says(m, "slept 3500 ms")).await;
    assert_eq!(fake.count("slept 3000 ms"), 1, "{:?}", fake.texts_in(ALICE));
}
