//! End-to-end: the Slack gateway in Socket Mode against the fake Slack of
//! `errbot_tests::slack` (the Web API over HTTP and a real Socket Mode websocket on
//! 127.0.0.1), with the real errbotd and its built-in commands. People write on the fake; the
//! tests read what the bot posted there, and what reached the fake (acknowledgements, pings,
//! connections).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use errbot_tests::slack::{ALICE, APP_TOKEN, BOB, BOT_TOKEN, Fake};
use errbot_tests::{Options, TestBot};
use serde_json::Value;

/// How long any expected message may take to arrive.
const WAIT: Duration = Duration::from_secs(20);

const GENERAL: &str = "C0GENERAL";

/// The `[backends.slack]` table for `fake` (short timeouts: a silent socket is dead after 1 s).
fn table(fake: &Fake, post_interval: f64) -> String {
    format!(
        "[backends.slack]\nkind = \"slack\"\nbot_token_env = \"ERRBOT_SLACK_BOT\"\n\
         app_token_env = \"ERRBOT_SLACK_APP\"\napi_url = {url:?}\ntimeout = 5\n\
         ping_interval = 0.2\nsilence_timeout = 1\nreconnect_delay = 0.05\nreconnect_max = 0.5\n\
         post_interval = {post_interval:?}\n",
        url = fake.api_url(),
    )
}

fn tokens() -> Vec<(String, String)> {
    vec![
        ("ERRBOT_SLACK_BOT".into(), BOT_TOKEN.into()),
        ("ERRBOT_SLACK_APP".into(), APP_TOKEN.into()),
    ]
}

/// errbotd with a `slack` backend on `fake` (and `more`'s plugins), once connected; alice is
/// the admin (by id).
async fn start(fake: &Fake, post_interval: f64, more: Options) -> TestBot {
    let bot = TestBot::start_with(Options {
        extra: table(fake, post_interval),
        env: tokens(),
        admins: Some(vec![ALICE.into()]),
        ..more
    })
    .await;
    fake.wait_until(WAIT, |f| f.connections() == 1).await;
    bot
}

async fn bot_paced(fake: &Fake, post_interval: f64) -> TestBot {
    start(fake, post_interval, Options::default()).await
}

async fn bot(fake: &Fake) -> TestBot {
    bot_paced(fake, 0.0).await
}

fn says(post: &Value, text: &str) -> bool {
    post["text"] == text
}

/// Slack's escapes of `&`, `<` and `>`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn ts(message: &Value) -> String {
    message["ts"].as_str().unwrap_or_default().to_owned()
}

/// Waits a little for anything that should not happen, then checks each text was said once.
async fn once_each(fake: &Fake, texts: &[&str]) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    for text in texts {
        assert_eq!(fake.count(text), 1, "{text:?} in {:#?}", fake.posts());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_in_channels_private_channels_dms_threads_and_mentions() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;

    // A channel: the reply in the channel, not in a thread.
    fake.say(ALICE, GENERAL, "!echo hello there", "");
    let reply = fake.wait_post(WAIT, |p| says(p, "hello there")).await;
    assert_eq!(reply["channel"], GENERAL);
    assert!(reply.get("thread_ts").is_none(), "{reply}");

    // A private channel and a multi-person DM.
    fake.say(BOB, "G0SECRET", "!echo in secret", "");
    let reply = fake.wait_post(WAIT, |p| says(p, "in secret")).await;
    assert_eq!(reply["channel"], "G0SECRET");
    fake.say(ALICE, "G0MPIM", "!echo in a group", "");
    let reply = fake.wait_post(WAIT, |p| says(p, "in a group")).await;
    assert_eq!(reply["channel"], "G0MPIM");

    // A thread: the reply stays in it.
    let root = fake.say(BOB, GENERAL, "a question", "");
    fake.say(ALICE, GENERAL, "an answer", &ts(&root));
    fake.say(ALICE, GENERAL, "!echo threaded", &ts(&root));
    let reply = fake.wait_post(WAIT, |p| says(p, "threaded")).await;
    assert_eq!(reply["thread_ts"], ts(&root).as_str());

    // A mention of the bot is the prefix; it arrives as `message` and as `app_mention` and
    // runs once.
    let mention = fake.say(ALICE, GENERAL, "<@U0ERRBOT> echo mentioned", "");
    assert_eq!(fake.envelopes_of(&ts(&mention)).len(), 2);
    fake.wait_post(WAIT, |p| says(p, "mentioned")).await;

    // A direct message: answered in the DM.
    let dm = fake.dm(BOB, "!echo privately");
    let reply = fake.wait_post(WAIT, |p| says(p, "privately")).await;
    assert_eq!(reply["channel"], dm["channel"]);

    // The bot's own messages come back as events and never run: `!echo !echo loop` makes the
    // bot say `!echo loop`, which must not make it say `loop`.
    fake.say(ALICE, GENERAL, "!echo !echo loop", "");
    fake.wait_post(WAIT, |p| says(p, "!echo loop")).await;

    // Another app's bot (a B id, looked up with bots.info).
    fake.bot_says(GENERAL, "!echo from a bot");
    fake.wait_post(WAIT, |p| says(p, "from a bot")).await;
    assert!(fake.calls("bots.info") >= 1);

    fake.say(ALICE, GENERAL, "!echo last", "");
    fake.wait_post(WAIT, |p| says(p, "last")).await;
    once_each(
        &fake,
        &[
            "hello there",
            "threaded",
            "mentioned",
            "privately",
            "!echo loop",
            "last",
        ],
    )
    .await;
    assert_eq!(fake.count("loop"), 0);

    // Every envelope was acknowledged, promptly; pings went both ways.
    fake.wait_until(WAIT, |f| f.unacked() == 0).await;
    let (acks, slowest) = fake.acks();
    assert!(acks >= 10, "{acks}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    assert!(fake.pings_received() > 0);
    // People were looked up one by one, never the whole workspace.
    assert_eq!(fake.calls("users.list"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_unfurls_deletions_and_redeliveries_run_nothing_twice() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    let first = fake.say(ALICE, GENERAL, "!echo first", "");
    fake.wait_post(WAIT, |p| says(p, "first")).await;

    fake.edit(GENERAL, &ts(&first), "!echo edited");
    fake.unfurl(GENERAL, &ts(&first));
    // Slack sends an envelope again when its acknowledgement was late.
    for envelope in fake.envelopes_of(&ts(&first)) {
        fake.redeliver(&envelope);
    }
    fake.delete(GENERAL, &ts(&first));

    fake.say(ALICE, GENERAL, "!echo later", "");
    fake.wait_post(WAIT, |p| says(p, "later")).await;
    once_each(&fake, &["first", "later"]).await;
    assert_eq!(fake.count("edited"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_requested_opens_the_new_connection_first_and_loses_nothing() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    fake.say(ALICE, GENERAL, "!echo before", "");
    fake.wait_post(WAIT, |p| says(p, "before")).await;

    let started = Instant::now();
    fake.disconnect("refresh_requested");
    let texts: Vec<String> = (0..10).map(|i| format!("during {i}")).collect();
    for text in &texts {
        fake.say(ALICE, GENERAL, &format!("!echo {text}"), "");
    }
    fake.wait_until(WAIT, |f| f.opened() == 2 && f.connections() == 1)
        .await;
    let switched = started.elapsed();
    for text in &texts {
        fake.wait_post(WAIT, |p| says(p, text)).await;
    }
    let answered = started.elapsed();
    // Both were open at once: the new connection before the old one closed.
    assert_eq!(fake.peak(), 2);
    eprintln!(
        "refresh_requested: new connection in {:.0} ms, the 10 messages sent meanwhile \
         answered in {:.0} ms",
        switched.as_secs_f64() * 1000.0,
        answered.as_secs_f64() * 1000.0
    );

    // `warning` does the same.
    fake.disconnect("warning");
    fake.say(ALICE, GENERAL, "!echo after the warning", "");
    fake.wait_until(WAIT, |f| f.opened() == 3 && f.connections() == 1)
        .await;
    fake.wait_post(WAIT, |p| says(p, "after the warning")).await;
    let mut all: Vec<&str> = texts.iter().map(String::as_str).collect();
    all.extend(["before", "after the warning"]);
    once_each(&fake, &all).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_connection_comes_back_and_what_was_said_meanwhile_is_answered_once() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    fake.say(ALICE, GENERAL, "!echo before", "");
    fake.wait_post(WAIT, |p| says(p, "before")).await;
    fake.reset();
    fake.say(ALICE, GENERAL, "!echo meanwhile", "");
    fake.dm(BOB, "!echo privately meanwhile");
    fake.wait_until(WAIT, |f| f.opened() == 2 && f.connections() == 1)
        .await;
    fake.wait_post(WAIT, |p| says(p, "meanwhile")).await;
    fake.wait_post(WAIT, |p| says(p, "privately meanwhile"))
        .await;
    fake.say(ALICE, GENERAL, "!echo after", "");
    fake.wait_post(WAIT, |p| says(p, "after")).await;
    once_each(
        &fake,
        &["before", "meanwhile", "privately meanwhile", "after"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_open_connection_is_taken_for_dead_and_replaced() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    fake.freeze();
    let frozen = Instant::now();
    fake.say(ALICE, GENERAL, "!echo through the silence", "");
    // Nothing heard for 1 s (silence_timeout): a new connection, and the envelope left
    // unacknowledged on the silent one comes again there.
    fake.wait_until(WAIT, |f| f.opened() == 2).await;
    fake.wait_post(WAIT, |p| says(p, "through the silence"))
        .await;
    assert!(frozen.elapsed() >= Duration::from_millis(900));
    once_each(&fake, &["through the silence"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn open_failures_back_off_too_many_websockets_waits_link_disabled_stops() {
    let fake = Fake::start().await;
    // apps.connections.open fails three times at start: the bot tries again.
    fake.fail_opens(3);
    let bot = bot(&fake).await;
    assert_eq!(fake.calls("apps.connections.open"), 4);

    // Too many websockets: refused, the bot waits and tries again.
    fake.max_connections(0);
    fake.reset();
    fake.wait_until(WAIT, |f| f.calls("apps.connections.open") >= 6)
        .await;
    fake.max_connections(10);
    fake.wait_until(WAIT, |f| f.connections() == 1).await;
    fake.say(ALICE, GENERAL, "!echo back", "");
    fake.wait_post(WAIT, |p| says(p, "back")).await;
    assert!(bot.log().contains("too many websockets"), "{}", bot.log());

    // Socket Mode turned off: the bot says why and stops trying.
    fake.disconnect("link_disabled");
    fake.wait_until(WAIT, |f| f.connections() == 0).await;
    let _ = bot.wait_for_log("link_disabled", 1);
    let opens = fake.calls("apps.connections.open");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.calls("apps.connections.open"), opens);
    assert!(bot.log().contains("Socket Mode on"), "{}", bot.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_storm_is_waited_out_and_nothing_is_lost() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    fake.rate_limit("chat.postMessage", 3, 1);
    let started = Instant::now();
    let texts: Vec<String> = (0..5).map(|i| format!("storm {i}")).collect();
    for text in &texts {
        fake.say(ALICE, GENERAL, &format!("!echo {text}"), "");
    }
    for text in &texts {
        fake.wait_post(WAIT, |p| says(p, text)).await;
    }
    assert_eq!(fake.rate_limited(), 3);
    // Retry-After: 1, three times in a row.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    once_each(&fake, &texts).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_to_one_channel_are_paced() {
    let fake = Fake::start().await;
    let _bot = bot_paced(&fake, 0.2).await;
    let started = Instant::now();
    for i in 0..6 {
        fake.say(ALICE, GENERAL, &format!("!echo paced {i}"), "");
    }
    fake.wait_until(WAIT, |f| {
        f.posts()
            .iter()
            .filter(|p| p["text"].as_str().is_some_and(|t| t.starts_with("paced")))
            .count()
            == 6
    })
    .await;
    // Three at once (post_burst), then one each 0.2 s.
    let spent = started.elapsed();
    assert!(spent >= Duration::from_millis(550), "{spent:?}");
    eprintln!(
        "6 replies to one channel with post_interval 0.2 s: {:.0} ms",
        spent.as_secs_f64() * 1000.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_reply_is_split_with_code_blocks_balanced() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    let lines: Vec<String> = (0..400)
        .map(|i| format!("line {i:03} of a long code block & <more>"))
        .collect();
    // Slack escapes `&`, `<` and `>` in the text of events.
    let escaped: Vec<String> = lines.iter().map(|l| escape(l)).collect();
    fake.say(
        ALICE,
        GENERAL,
        &format!("!echo ```\n{}\n```", escaped.join("\n")),
        "",
    );
    fake.wait_post(WAIT, |p| {
        p["text"].as_str().is_some_and(|t| t.contains("line 399"))
    })
    .await;
    let parts: Vec<String> = fake
        .posts()
        .iter()
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .filter(|t| t.contains("of a long code block"))
        .collect();
    assert!(parts.len() >= 3, "{}", parts.len());
    let mut seen = Vec::new();
    for part in &parts {
        assert!(part.chars().count() <= 4000, "{}", part.chars().count());
        assert!(part.starts_with("```"), "{part:.40}");
        assert_eq!(part.matches("```").count() % 2, 0, "{part}");
        seen.extend(
            part.lines()
                .filter(|l| l.starts_with("line "))
                .map(str::to_owned),
        );
    }
    // Every line once, in order, with Slack's escapes.
    assert_eq!(seen, escaped);
}

#[tokio::test(flavor = "multi_thread")]
async fn identifiers_are_errbots_and_the_bot_finds_people_and_channels_by_name() {
    let fake = Fake::start().await;
    let bot = bot(&fake).await;
    fake.say(BOB, GENERAL, "!whoami", "");
    let reply = fake
        .wait_post(WAIT, |p| {
            p["text"]
                .as_str()
                .is_some_and(|m| m.contains("#general/bob"))
        })
        .await;
    let text = reply["text"].as_str().unwrap_or_default();
    for needle in [
        "person   | U0BOB",
        "acl      | @bob",
        "room     | #general",
        "`#general/bob`",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    // In a DM the person is `<@U0BOB>` (escaped by Slack's rules inside the code span).
    fake.dm(BOB, "!whoami");
    fake.wait_post(WAIT, |p| {
        p["text"]
            .as_str()
            .is_some_and(|m| m.contains("`&lt;@U0BOB&gt;`"))
    })
    .await;

    // Admins match the person's id: bob is not one.
    fake.say(BOB, GENERAL, "!plugin list", "");
    fake.wait_post(WAIT, |p| {
        p["text"].as_str().is_some_and(|m| m.contains("admin"))
    })
    .await;

    // `@name` and `#name`, resolved when first used.
    let (code, _, err) = bot.ctl(&["send", "--backend", "slack", "--to", "@alice", "hi alice"]);
    assert_eq!(code, 0, "{err}");
    let dm = fake.wait_post(WAIT, |p| says(p, "hi alice")).await;
    assert!(
        dm["channel"].as_str().is_some_and(|c| c.starts_with('D')),
        "{dm}"
    );
    let (code, _, err) = bot.ctl(&[
        "send",
        "--backend",
        "slack",
        "--to",
        "#general",
        "hello all",
    ]);
    assert_eq!(code, 0, "{err}");
    let post = fake.wait_post(WAIT, |p| says(p, "hello all")).await;
    assert_eq!(post["channel"], GENERAL);
    let (code, _, err) = bot.ctl(&["send", "--backend", "slack", "--to", "~town", "x"]);
    assert_ne!(code, 0);
    assert!(err.contains("#channel"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_token_stops_errbotd_saying_what_to_create() {
    let fake = Fake::start().await;
    fake.legacy_token();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errbot.toml");
    std::fs::write(
        &path,
        format!(
            "[bot]\nadmins = [\"U0ALICE\"]\n\n[paths]\ndata_dir = \"data\"\n\n{}",
            table(&fake, 0.0)
        ),
    )
    .expect("write config");
    let mut command = tokio::process::Command::new(errbot_tests::binary("errbotd"));
    command
        .arg("-c")
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in tokens() {
        command.env(k, v);
    }
    let run = tokio::time::timeout(WAIT, command.output())
        .await
        .expect("errbotd stops")
        .expect("run errbotd");
    let err = String::from_utf8_lossy(&run.stderr);
    assert_ne!(run.status.code(), Some(0), "{err}");
    assert!(err.contains("legacy token"), "{err}");
    assert!(
        err.contains("xapp-") && err.contains("Socket Mode"),
        "{err}"
    );
    assert_eq!(fake.opened(), 0);
}

#[test]
fn check_config_names_each_wrong_slack_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errbot.toml");
    std::fs::write(
        &path,
        "[bot]\nadmins = [\"U0ALICE\"]\n\n[backends.slack]\nkind = \"slack\"\n\
         token = \"xoxb-in-the-file\"\nbot_token_env = \"ERRBOT_SURELY_UNSET_VARIABLE\"\n\
         api_url = \"ftp://slack\"\nproxy = \"socks5://proxy:1080\"\n",
    )
    .expect("write config");
    let check = std::process::Command::new(errbot_tests::binary("errbotd"))
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run check-config");
    let err = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{err}");
    for needle in [
        ":6:",
        "bot_token_env",
        "ERRBOT_SURELY_UNSET_VARIABLE is not set",
        "app_token_env",
        "api_url",
        "http:// or https://",
        ":9:",
        "an HTTP proxy's address",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_files_reactions_presence_and_cards() {
    let fake = Fake::start().await;
    let plugins = Options {
        test_plugin: true,
        plugin_dirs: vec![errbot_tests::repo_root().join("tests/callback-plugins")],
        ..Default::default()
    };
    let _bot = start(&fake, 0.0, plugins).await;

    // A reply a plugin puts in a thread starts one under the command's message.
    let command = fake.say(ALICE, GENERAL, "!threaded", "");
    let reply = fake.wait_post(WAIT, |p| says(p, "in a thread")).await;
    assert_eq!(reply["thread_ts"], command["ts"]);

    // A file, through Slack's upload flow: the URL, the bytes, the completion.
    fake.say(ALICE, GENERAL, "!upload", "");
    fake.wait_until(WAIT, |f| !f.file_shares().is_empty()).await;
    let share = fake.file_shares().remove(0);
    assert_eq!(share["channel"], GENERAL);
    let file_id = share["files"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        fake.file(&file_id),
        Some(("report.txt".to_owned(), b"hello file".to_vec()))
    );
    let said = format!("uploaded as {file_id}");
    fake.wait_post(WAIT, |p| says(p, &said)).await;

    // A reaction by the bot on the command's message.
    let thumbs = fake.say(ALICE, GENERAL, "!thumbs", "");
    fake.wait_post(WAIT, |p| says(p, "reacted")).await;
    assert!(
        fake.reactions()
            .iter()
            .any(|r| r["timestamp"] == thumbs["ts"]
                && r["channel"] == GENERAL
                && r["name"] == "thumbsup"),
        "{:?}",
        fake.reactions()
    );

    // A reaction by someone reaches the plugins' reaction callbacks.
    fake.react_as(BOB, GENERAL, &ts(&thumbs), "tada");
    let expected = format!("tada:{}:true", ts(&thumbs));
    let deadline = Instant::now() + WAIT;
    loop {
        let before = fake.posts().len();
        fake.say(ALICE, GENERAL, "!events", "");
        fake.wait_until(WAIT, |f| f.posts().len() > before).await;
        let last = fake.posts().pop().unwrap_or_default();
        let text = last["text"].as_str().unwrap_or("").to_owned();
        if text.contains(&expected) {
            assert!(text.contains("reaction|slack|<@U0BOB>|"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The bot's presence.
    fake.say(ALICE, GENERAL, "!away", "");
    fake.wait_post(WAIT, |p| {
        p["text"]
            .as_str()
            .is_some_and(|m| m.starts_with("presence set"))
    })
    .await;
    assert_eq!(fake.presence(), "away");

    // A card is a message attachment, as Errbot sends it.
    fake.say(ALICE, GENERAL, "!card 2", "");
    let card = fake.wait_post(WAIT, |p| p["attachments"].is_array()).await;
    let a = &card["attachments"][0];
    assert_eq!(a["title"], "Build #42");
    assert_eq!(a["title_link"], "https://ci.example/42");
    assert_eq!(a["color"], "#008000");
    assert_eq!(a["fields"][1]["title"], "key1");
    assert!(
        a["text"].as_str().is_some_and(|t| t.contains("*green*")),
        "{a}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn room_commands_manage_channels() {
    let fake = Fake::start().await;
    let plugins = Options {
        plugin_dirs: vec![errbot_tests::repo_root().join("tests/callback-plugins")],
        ..Default::default()
    };
    let _bot = start(&fake, 0.0, plugins).await;
    // Room commands are for admins, in a direct message.
    let ask = |text: &'static str, answer: &'static str| {
        let fake = fake.clone();
        async move {
            fake.dm(ALICE, text);
            fake.wait_post(WAIT, |p| {
                p["text"].as_str().is_some_and(|m| m.contains(answer))
            })
            .await
        }
    };
    ask("!room join #random", "Joined the room #random.").await;
    assert!(fake.is_member("random", "U0ERRBOT"));
    let list = ask("!room list", "I'm currently in these rooms").await;
    let text = list["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("#random") && text.contains("#general") && text.contains("#secret"),
        "{text}"
    );
    assert!(!text.contains("mpdm"), "{text}");

    ask(
        "!room topic #random Release on Friday",
        "Topic for #random set.",
    )
    .await;
    assert_eq!(
        fake.channel("random")["topic"]["value"],
        "Release on Friday"
    );
    ask(
        "!room topic #random",
        "Topic for #random: Release on Friday.",
    )
    .await;

    let occupants = ask("!room occupants #random", "Occupants in #random").await;
    let text = occupants["text"].as_str().unwrap_or_default();
    assert!(text.contains(ALICE) && text.contains("U0ERRBOT"), "{text}");

    ask("!room create #new-room", "Created the room #new-room.").await;
    assert!(fake.is_member("new-room", "U0ERRBOT"));
    ask(
        "!room invite #new-room @bob",
        "Invited @bob into the room #new-room.",
    )
    .await;
    assert!(fake.is_member("new-room", BOB));
    ask("!room destroy #new-room", "Destroyed the room #new-room.").await;
    assert_eq!(fake.channel("new-room")["is_archived"], true);

    ask("!room leave #random", "Left the room #random.").await;
    assert!(!fake.is_member("random", "U0ERRBOT"));
    ask("!room join #No_Such", "Cannot join #No_Such").await;

    // The plugins heard the bot join and leave, and the topic change (callbacks are delivered
    // on their own queue: asked again until they are all there).
    let needles = [
        "room_joined|slack|#random",
        "room_topic|slack|#random|Release on Friday",
        "room_joined|slack|#new-room",
        "room_left|slack|#random",
    ];
    let deadline = Instant::now() + WAIT;
    loop {
        let before = fake.posts().len();
        fake.dm(ALICE, "!events");
        fake.wait_until(WAIT, |f| f.posts().len() > before).await;
        let text = fake.posts().pop().unwrap_or_default()["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if needles.iter().all(|n| text.contains(n)) {
            break;
        }
        assert!(Instant::now() < deadline, "{needles:?} in {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_to_one_person_in_one_place_keep_their_order() {
    let fake = Fake::start().await;
    let plugins = Options {
        test_plugin: true,
        ..Default::default()
    };
    let _bot = start(&fake, 0.0, plugins).await;
    // A slow command, then a quick one: the quick answer waits for the slow one.
    fake.say(ALICE, GENERAL, "!slow 500", "");
    fake.say(ALICE, GENERAL, "!echo quick", "");
    // Someone else is not held up.
    fake.say(BOB, GENERAL, "!echo bob is quick", "");
    fake.wait_post(WAIT, |p| says(p, "quick")).await;
    let texts: Vec<String> = fake
        .posts()
        .iter()
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect();
    let at = |t: &str| texts.iter().position(|x| x == t);
    assert!(at("slept 500 ms") < at("quick"), "{texts:?}");
    assert!(at("bob is quick") < at("slept 500 ms"), "{texts:?}");
}

/// The signing secret of the Events API tests.
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

#[tokio::test(flavor = "multi_thread")]
async fn the_events_api_runs_signed_events_once_and_refuses_forged_ones() {
    let fake = Fake::start().await;
    // A free port for the gateway's request URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    fake.events_to(&format!("http://127.0.0.1:{port}/slack/events"), SECRET);
    let extra = format!(
        "[backends.slack]\nkind = \"slack\"\nbot_token_env = \"ERRBOT_SLACK_BOT\"\n\
         signing_secret_env = \"ERRBOT_SLACK_SECRET\"\nevents_listen = \"127.0.0.1:{port}\"\n\
         api_url = {url:?}\ntimeout = 5\npost_interval = 0\n",
        url = fake.api_url(),
    );
    let _bot = TestBot::start_with(Options {
        extra,
        env: vec![
            ("ERRBOT_SLACK_BOT".into(), BOT_TOKEN.into()),
            ("ERRBOT_SLACK_SECRET".into(), SECRET.into()),
        ],
        admins: Some(vec![ALICE.into()]),
        ..Default::default()
    })
    .await;

    // Slack checks the URL first.
    let (status, body) = fake
        .post_signed(r#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#)
        .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
        "{body}"
    );

    // Events: a command, a mention (message and app_mention), a DM.
    let first = fake.say(ALICE, GENERAL, "!echo over http", "");
    fake.wait_post(WAIT, |p| says(p, "over http")).await;
    fake.say(ALICE, GENERAL, "<@U0ERRBOT> echo mentioned over http", "");
    fake.wait_post(WAIT, |p| says(p, "mentioned over http"))
        .await;
    fake.dm(BOB, "!echo privately over http");
    fake.wait_post(WAIT, |p| says(p, "privately over http"))
        .await;

    // Slack's retries of an event it had are acknowledged and dropped.
    for envelope in fake.envelopes_of(&ts(&first)) {
        assert_eq!(fake.retry_event(&envelope, 1).await, 200);
    }

    // Forged and replayed requests are refused and never run.
    let forged = fake.message_payload(ALICE, GENERAL, "!echo forged");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let bad = errbot_tests::slack::sign("not the secret", &now.to_string(), forged.as_bytes());
    assert_eq!(fake.post_raw(&forged, &now.to_string(), &bad).await.0, 401);
    let old = (now - 600).to_string();
    let stale = errbot_tests::slack::sign(SECRET, &old, forged.as_bytes());
    assert_eq!(fake.post_raw(&forged, &old, &stale).await.0, 401);
    assert_eq!(fake.post_raw(&forged, &now.to_string(), "").await.0, 401);
    let tampered = forged.replace("forged", "tampered");
    let good = errbot_tests::slack::sign(SECRET, &now.to_string(), forged.as_bytes());
    assert_eq!(
        fake.post_raw(&tampered, &now.to_string(), &good).await.0,
        401
    );

    fake.say(ALICE, GENERAL, "!echo last over http", "");
    fake.wait_post(WAIT, |p| says(p, "last over http")).await;
    once_each(
        &fake,
        &[
            "over http",
            "mentioned over http",
            "privately over http",
            "last over http",
        ],
    )
    .await;
    assert_eq!(fake.count("forged"), 0);
    assert_eq!(fake.count("tampered"), 0);
    // Every event was acknowledged at the first attempt.
    assert!(
        fake.answers().iter().all(|(_, s)| *s == 200),
        "{:?}",
        fake.answers()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn divert_to_thread_starts_a_thread_and_never_threads_twice() {
    let fake = Fake::start().await;
    let config = Options {
        bot: "divert_to_thread = [\"echo\"]".into(),
        ..Default::default()
    };
    let _bot = start(&fake, 0.0, config).await;
    // At the top of the channel: the reply starts a thread under the command.
    let command = fake.say(ALICE, GENERAL, "!echo diverted", "");
    let reply = fake.wait_post(WAIT, |p| says(p, "diverted")).await;
    assert_eq!(reply["thread_ts"], command["ts"]);
    // In a thread already: the reply stays in that thread, under its root.
    let root = fake.say(BOB, GENERAL, "a thread", "");
    fake.say(ALICE, GENERAL, "!echo in the thread", &ts(&root));
    let reply = fake.wait_post(WAIT, |p| says(p, "in the thread")).await;
    assert_eq!(reply["thread_ts"], root["ts"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_never_pings_a_channel() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    // `<!channel>` typed as text arrives escaped; `<!here>` as Slack's markup: neither comes
    // back as a ping.
    fake.say(
        ALICE,
        GENERAL,
        "!echo hi &lt;!channel&gt; and <!here> **now**",
        "",
    );
    let reply = fake
        .wait_post(WAIT, |p| {
            p["text"].as_str().is_some_and(|t| t.ends_with("*now*"))
        })
        .await;
    assert_eq!(reply["text"], "hi &lt;!channel&gt; and @here *now*");
    assert!(reply.get("link_names").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_and_admins_name_people_by_id_or_by_name() {
    let fake = Fake::start().await;
    // The default rule names alice by her handle and bob by his id; carol is not there.
    let bot = TestBot::start_with(Options {
        extra: format!(
            "{}\n[access.default]\nallowusers = [\"@alice\", \"{BOB}\"]\n",
            table(&fake, 0.0)
        ),
        env: tokens(),
        admins: Some(vec!["@alice".into()]),
        ..Default::default()
    })
    .await;
    fake.wait_until(WAIT, |f| f.connections() == 1).await;
    fake.say(ALICE, GENERAL, "!echo by name", "");
    fake.wait_post(WAIT, |p| says(p, "by name")).await;
    fake.say(BOB, GENERAL, "!echo by id", "");
    fake.wait_post(WAIT, |p| says(p, "by id")).await;
    // alice is an admin by name: `!log tail` (admins only) answers her in private.
    fake.dm(ALICE, "!log tail 1");
    fake.wait_post(WAIT, |p| {
        p["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("```") && t.contains("audit: @bob"))
    })
    .await;
    drop(bot);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_goes_into_a_thread_and_an_ephemeral_reply_is_for_the_sender_only() {
    let fake = Fake::start().await;
    let plugins = Options {
        test_plugin: true,
        plugin_dirs: vec![errbot_tests::repo_root().join("tests/callback-plugins")],
        ..Default::default()
    };
    let _bot = start(&fake, 0.0, plugins).await;

    // A file for a command in a channel starts a thread from the command: the upload flow
    // completes with its `thread_ts`.
    let command = fake.say(ALICE, GENERAL, "!upthread", "");
    fake.wait_until(WAIT, |f| !f.file_shares().is_empty()).await;
    let share = fake.file_shares().remove(0);
    assert_eq!(share["channel"], GENERAL);
    assert_eq!(share["thread_ts"], command["ts"], "{share}");
    let file_id = share["files"][0]["id"].as_str().unwrap_or_default();
    assert_eq!(
        fake.file(file_id),
        Some(("notes.txt".to_owned(), b"in a thread".to_vec()))
    );
    fake.wait_post(WAIT, |p| {
        says(p, &format!("uploaded {file_id} in the thread"))
    })
    .await;
    // A command already in a thread gets its file in that thread.
    let root = fake.say(BOB, GENERAL, "a topic", "");
    fake.say(ALICE, GENERAL, "!upthread", &ts(&root));
    fake.wait_until(WAIT, |f| f.file_shares().len() == 2).await;
    assert_eq!(fake.file_shares()[1]["thread_ts"], root["ts"]);
    assert_eq!(fake.calls("files.completeUploadExternal"), 2);

    // An ephemeral reply: chat.postEphemeral to the sender in the channel, nothing posted.
    fake.say(ALICE, GENERAL, "!hush", "");
    fake.wait_until(WAIT, |f| !f.ephemerals().is_empty()).await;
    let hushed = fake.ephemerals().remove(0);
    assert_eq!(
        (&hushed["channel"], &hushed["user"], &hushed["text"]),
        (
            &Value::from(GENERAL),
            &Value::from(ALICE),
            &Value::from("only you")
        ),
    );
    assert!(hushed["thread_ts"].is_null(), "{hushed}");
    // In a thread, it stays in the thread.
    fake.say(ALICE, GENERAL, "!hush", &ts(&root));
    fake.wait_until(WAIT, |f| f.ephemerals().len() == 2).await;
    assert_eq!(fake.ephemerals()[1]["thread_ts"], root["ts"]);
    // In a DM it is an ordinary message.
    fake.dm(ALICE, "!hush");
    fake.wait_post(WAIT, |p| says(p, "only you")).await;
    once_each(&fake, &["only you"]).await;
    assert_eq!(fake.ephemerals().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn file_shares_me_messages_and_thread_broadcasts_run_their_command_once() {
    let fake = Fake::start().await;
    let plugins = Options {
        plugin_dirs: vec![errbot_tests::repo_root().join("tests/callback-plugins")],
        ..Default::default()
    };
    let _bot = start(&fake, 0.0, plugins).await;

    // A file shared with a command as its comment: the command runs once and sees the file.
    fake.share_file(ALICE, GENERAL, "!attached", "report.csv");
    fake.wait_post(WAIT, |p| says(p, "files: report.csv")).await;
    // `/me !echo waves`.
    fake.me_says(ALICE, GENERAL, "!echo waves");
    fake.wait_post(WAIT, |p| says(p, "waves")).await;
    // A reply in a thread also sent to the channel is a message in the thread: answered there.
    let root = fake.say(BOB, GENERAL, "release?", "");
    fake.broadcast(ALICE, GENERAL, "!echo broadcast", &ts(&root));
    let reply = fake.wait_post(WAIT, |p| says(p, "broadcast")).await;
    assert_eq!(reply["thread_ts"], root["ts"]);
    once_each(&fake, &["files: report.csv", "waves", "broadcast"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_api_and_the_websocket_go_through_the_proxy() {
    let fake = Fake::start().await;
    let proxy = errbot_tests::proxy::Proxy::start().await;
    let _bot = TestBot::start_with(Options {
        // The last table of the configuration is `[backends.slack]`.
        extra: format!(
            "{}proxy = {:?}\n",
            table(&fake, 0.0),
            proxy.url(Some("bot:p%40ss"))
        ),
        env: tokens(),
        ..Default::default()
    })
    .await;
    fake.wait_until(WAIT, |f| f.connections() == 1).await;
    fake.say(ALICE, GENERAL, "!echo through the proxy", "");
    fake.wait_post(WAIT, |p| says(p, "through the proxy")).await;
    let seen = proxy.seen();
    let host = fake.api_url();
    let host = host.trim_start_matches("http://").trim_end_matches("/api");
    // The websocket: a tunnel to the fake; the Web API: requests in absolute form (the proxy
    // records the first of each connection, which is kept alive).
    assert!(
        seen.iter()
            .any(|s| s.line == format!("CONNECT {host} HTTP/1.1")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.line.starts_with(&format!("POST http://{host}/api/"))),
        "{seen:#?}"
    );
    // Basic credentials, decoded from the address ("bot:p@ss").
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Basic Ym90OnBAc3M=")),
        "{seen:#?}"
    );
}
