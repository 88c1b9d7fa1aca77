//! End-to-end: the Mattermost gateway against the fake Mattermost server of
//! `errbot_tests::mattermost` (API v4 over HTTP and the real websocket on 127.0.0.1), with the
//! real errbotd and its built-in commands. People post on the fake server; the tests read what
//! the bot posted there.

use std::time::Duration;

use errbot_tests::mattermost::{BOT_PASSWORD, BOT_TOKEN, Fake, TEAM};
use errbot_tests::{Options, TestBot};
use serde_json::Value;

/// How long any expected post may take to arrive.
const WAIT: Duration = Duration::from_secs(30);

/// errbotd with a `mattermost` backend on `fake`, joined to town-square, once connected.
async fn bot_on(fake: &Fake, auth: &str) -> TestBot {
    bot_with(fake, auth, Options::default()).await
}

/// Like [`bot_on`], with more `options` (their `extra` TOML goes after the backend's table;
/// their admins replace `@alice`).
async fn bot_with(fake: &Fake, auth: &str, options: Options) -> TestBot {
    let extra = format!(
        "[backends.mm]\nkind = \"mattermost\"\nurl = {url:?}\nteam = {TEAM:?}\n{auth}\n\
         rooms = [\"~town-square\"]\nping_interval = 0.3\nsilence_timeout = 1.5\n\
         reconnect_delay = 0.1\nreconnect_max = 1\n{more}",
        url = fake.url(),
        more = options.extra,
    );
    let bot = TestBot::start_with(Options {
        extra,
        env: vec![
            ("ERRBOT_MM_TOKEN".into(), BOT_TOKEN.into()),
            ("ERRBOT_MM_PASSWORD".into(), BOT_PASSWORD.into()),
        ],
        admins: options.admins.or_else(|| Some(vec!["@alice".into()])),
        ..options
    })
    .await;
    fake.wait_until(WAIT, |f| f.connections() == 1).await;
    bot
}

async fn bot(fake: &Fake) -> TestBot {
    bot_on(fake, "token_env = \"ERRBOT_MM_TOKEN\"").await
}

fn says(post: &Value, text: &str) -> bool {
    post["message"] == text
}

/// How many posts of the bot say `text`.
fn count(fake: &Fake, text: &str) -> usize {
    fake.posts_by(&fake.bot.id)
        .iter()
        .filter(|p| says(p, text))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_are_answered_in_their_channel_thread_and_dm() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    let town = fake.channel_id("town-square");

    // A command in a channel: the reply in the same channel, not in a thread.
    fake.post_as(&fake.alice, "town-square", "!echo hello there", "");
    let reply = fake.wait_post(WAIT, |p| says(p, "hello there")).await;
    assert_eq!(reply["channel_id"], town.as_str());
    assert_eq!(reply["root_id"], "");

    // A command in a thread: the reply in the thread, under its root.
    let root = fake.post_as(&fake.bob, "town-square", "a question", "");
    let root_id = root["id"].as_str().unwrap().to_owned();
    fake.post_as(&fake.alice, "town-square", "an answer", &root_id);
    fake.post_as(&fake.alice, "town-square", "!echo threaded", &root_id);
    let reply = fake.wait_post(WAIT, |p| says(p, "threaded")).await;
    assert_eq!(reply["root_id"], root_id.as_str());
    assert_eq!(reply["channel_id"], town.as_str());

    // A mention of the bot stands for the prefix.
    fake.post_as(&fake.alice, "town-square", "@errbot echo mentioned", "");
    fake.wait_post(WAIT, |p| says(p, "mentioned")).await;

    // A direct message: the answer in the direct channel.
    let dm = fake.dm_as(&fake.bob, "!echo privately");
    let reply = fake.wait_post(WAIT, |p| says(p, "privately")).await;
    assert_eq!(reply["channel_id"], dm["channel_id"]);

    // The bot's own posts never run a command (here one it "wrote" elsewhere).
    let bot_user = fake.bot.clone();
    fake.post_as(&bot_user, "town-square", "!echo myself", "");
    fake.post_as(&fake.alice, "town-square", "!echo after myself", "");
    fake.wait_post(WAIT, |p| says(p, "after myself")).await;
    assert_eq!(count(&fake, "myself"), 0);

    // The bot joined its room, and its websocket pinged the server.
    assert!(
        fake.requests()
            .iter()
            .any(|r| r == "POST /channels/{id}/members")
    );
    assert!(fake.pings_received() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_connection_comes_back_without_losing_or_repeating_a_post() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    fake.post_as(&fake.alice, "town-square", "!echo before", "");
    fake.wait_post(WAIT, |p| says(p, "before")).await;

    // The connection is reset; a post written meanwhile is caught up after the reconnection.
    fake.reset_connections();
    fake.post_as(&fake.alice, "town-square", "!echo meanwhile", "");
    fake.wait_until(WAIT, |f| f.connections() == 1).await;
    fake.wait_post(WAIT, |p| says(p, "meanwhile")).await;

    // The reconnection asked to resume the first connection after the events it had.
    let resumes = fake.resumes();
    assert_eq!(resumes.len(), 1, "{resumes:?}");
    assert!(resumes[0].0.starts_with('w'), "{resumes:?}");
    assert!(
        resumes[0].1.parse::<i64>().is_ok_and(|n| n >= 2),
        "{resumes:?}"
    );

    // Not deaf: a post on the new connection is answered.
    let after = fake.post_as(&fake.alice, "town-square", "!echo after the reset", "");
    fake.wait_post(WAIT, |p| says(p, "after the reset")).await;

    // A post delivered twice runs once.
    fake.redeliver(after["id"].as_str().unwrap());
    fake.post_as(&fake.alice, "town-square", "!echo last", "");
    fake.wait_post(WAIT, |p| says(p, "last")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for text in ["before", "meanwhile", "after the reset", "last"] {
        assert_eq!(count(&fake, text), 1, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_connection_is_taken_for_dead() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    fake.freeze_connections();
    fake.post_as(&fake.alice, "town-square", "!echo through the silence", "");
    // The bot notices the silence (1.5 s), reconnects, and catches up.
    fake.wait_until(WAIT, |f| f.connections() == 1).await;
    fake.wait_post(WAIT, |p| says(p, "through the silence"))
        .await;
    assert_eq!(count(&fake, "through the silence"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_reply_waits_and_is_not_lost() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    fake.rate_limit_posts(2);
    let start = std::time::Instant::now();
    fake.post_as(&fake.alice, "town-square", "!echo patience", "");
    fake.wait_post(WAIT, |p| says(p, "patience")).await;
    assert_eq!(fake.rate_limited(), 2);
    // Retry-After: 1, twice.
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    fake.post_as(&fake.alice, "town-square", "!echo next", "");
    fake.wait_post(WAIT, |p| says(p, "next")).await;
    assert_eq!(count(&fake, "patience"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_post_does_not_run_again() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    let first = fake.post_as(&fake.alice, "town-square", "!echo first", "");
    fake.wait_post(WAIT, |p| says(p, "first")).await;
    fake.edit(first["id"].as_str().unwrap(), "!echo edited");
    fake.post_as(&fake.alice, "town-square", "!echo later", "");
    fake.wait_post(WAIT, |p| says(p, "later")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&fake, "edited"), 0);
    assert_eq!(count(&fake, "first"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_login_is_renewed_when_the_session_expires() {
    let fake = Fake::start().await;
    let _bot = bot_on(
        &fake,
        "login = \"errbot\"\npassword_env = \"ERRBOT_MM_PASSWORD\"",
    )
    .await;
    fake.post_as(&fake.alice, "town-square", "!echo logged in", "");
    fake.wait_post(WAIT, |p| says(p, "logged in")).await;
    fake.expire_sessions();
    fake.post_as(&fake.alice, "town-square", "!echo again", "");
    fake.wait_post(WAIT, |p| says(p, "again")).await;
    let logins = fake
        .requests()
        .iter()
        .filter(|r| *r == "POST /users/login")
        .count();
    assert_eq!(logins, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn people_and_channels_have_errbots_mattermost_identifiers() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    fake.post_as(&fake.bob, "town-square", "!whoami", "");
    let reply = fake
        .wait_post(WAIT, |p| {
            p["message"].as_str().is_some_and(|m| m.contains("acl"))
        })
        .await;
    let text = reply["message"].as_str().unwrap();
    assert!(text.contains("`@bob`"), "{text}");
    assert!(text.contains("`~town-square/bob`"), "{text}");
    assert!(text.contains(&fake.bob.id), "{text}");

    // Admins match `@username`: alice is one, bob is not.
    fake.post_as(&fake.bob, "town-square", "!plugin list", "");
    let refused = fake
        .wait_post(WAIT, |p| {
            p["message"].as_str().is_some_and(|m| m.contains("admin"))
        })
        .await;
    assert_eq!(refused["root_id"], "");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_writes_to_people_and_channels_by_their_names() {
    let fake = Fake::start().await;
    let bot = bot(&fake).await;
    let (code, out, err) = bot.ctl(&["send", "--backend", "mm", "--to", "@alice", "hi", "alice"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sent to @alice on mm"), "{out}");
    let dm = fake.wait_post(WAIT, |p| says(p, "hi alice")).await;
    // The direct channel the server made for the two, named `id1__id2` (ids sorted).
    let mut pair = [fake.bot.id.clone(), fake.alice.id.clone()];
    pair.sort();
    let channel = fake.channel_id(&format!("{}__{}", pair[0], pair[1]));
    assert_eq!(dm["channel_id"], channel.as_str());

    let (code, _, err) = bot.ctl(&[
        "send",
        "--backend",
        "mm",
        "--to",
        "~town-square",
        "hello all",
    ]);
    assert_eq!(code, 0, "{err}");
    let post = fake.wait_post(WAIT, |p| says(p, "hello all")).await;
    assert_eq!(post["channel_id"], fake.channel_id("town-square").as_str());

    // A malformed identifier is refused with the forms that exist.
    let (code, _, err) = bot.ctl(&["send", "--backend", "mm", "--to", "#chan", "x"]);
    assert_ne!(code, 0);
    assert!(err.contains("~channel"), "{err}");
}

#[test]
fn check_config_names_each_wrong_mattermost_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errbot.toml");
    std::fs::write(
        &path,
        "[bot]\nadmins = [\"@admin\"]\n\n[backends.mm]\nkind = \"mattermost\"\n\
         url = \"ftp://chat\"\nteam = \"t\"\ntoken_env = \"ERRBOT_SURELY_UNSET_VARIABLE\"\n",
    )
    .expect("write config");
    let check = std::process::Command::new(errbot_tests::binary("errbotd"))
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run check-config");
    let err = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{err}");
    assert!(err.contains(":6:"), "{err}");
    assert!(
        err.contains("`url`") || err.contains("backends.mm.url"),
        "{err}"
    );
    assert!(err.contains("http:// or https://"), "{err}");
    assert!(
        err.contains("ERRBOT_SURELY_UNSET_VARIABLE is not set"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_files_reactions_presence_and_cards() {
    let fake = Fake::start().await;
    let extra = format!(
        "[backends.mm]\nkind = \"mattermost\"\nurl = {url:?}\nteam = {TEAM:?}\n\
         token_env = \"ERRBOT_MM_TOKEN\"\nrooms = [\"~town-square\"]\n",
        url = fake.url(),
    );
    let _bot = TestBot::start_with(Options {
        extra,
        env: vec![("ERRBOT_MM_TOKEN".into(), BOT_TOKEN.into())],
        admins: Some(vec!["@alice".into()]),
        test_plugin: true,
        plugin_dirs: vec![errbot_tests::repo_root().join("tests/callback-plugins")],
        ..Default::default()
    })
    .await;
    fake.wait_until(WAIT, |f| f.connections() == 1).await;

    // A reply a plugin puts in a thread starts one under the command's post.
    let command = fake.post_as(&fake.alice, "town-square", "!threaded", "");
    let reply = fake.wait_post(WAIT, |p| says(p, "in a thread")).await;
    assert_eq!(reply["root_id"], command["id"]);

    // A file: uploaded, then posted with its id.
    fake.post_as(&fake.alice, "town-square", "!upload", "");
    let with_file = fake
        .wait_post(WAIT, |p| {
            p["file_ids"].as_array().is_some_and(|ids| !ids.is_empty())
        })
        .await;
    let file_id = with_file["file_ids"][0].as_str().unwrap();
    assert_eq!(
        fake.file(file_id),
        Some(("report.txt".to_owned(), b"hello file".to_vec()))
    );
    let said = format!("uploaded as {}", with_file["id"].as_str().unwrap());
    fake.wait_post(WAIT, |p| says(p, &said)).await;

    // A reaction by the bot on the command's post.
    let thumbs = fake.post_as(&fake.alice, "town-square", "!thumbs", "");
    fake.wait_post(WAIT, |p| says(p, "reacted")).await;
    assert!(fake.reactions().iter().any(|r| r["post_id"] == thumbs["id"]
        && r["user_id"] == fake.bot.id.as_str()
        && r["emoji_name"] == "thumbsup"));

    // A reaction by someone reaches the plugins' reaction callbacks.
    fake.react_as(&fake.bob, thumbs["id"].as_str().unwrap(), "tada");
    let expected = format!("tada:{}:true", thumbs["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let before = fake.posts_by(&fake.bot.id).len();
        fake.post_as(&fake.alice, "town-square", "!events", "");
        fake.wait_until(WAIT, |f| f.posts_by(&f.bot.id).len() > before)
            .await;
        let last = fake.posts_by(&fake.bot.id).pop().unwrap();
        let text = last["message"].as_str().unwrap_or("").to_owned();
        if text.contains(&expected) {
            assert!(text.contains("reaction|mm|@bob|"), "{text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The bot's presence.
    fake.post_as(&fake.alice, "town-square", "!away", "");
    fake.wait_post(WAIT, |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("presence set"))
    })
    .await;
    assert_eq!(fake.status_of(&fake.bot.id).as_deref(), Some("away"));

    // A card is a message attachment.
    fake.post_as(&fake.alice, "town-square", "!card 2", "");
    let card = fake
        .wait_post(WAIT, |p| p["props"]["attachments"].is_array())
        .await;
    let a = &card["props"]["attachments"][0];
    assert_eq!(a["title"], "Build #42");
    assert_eq!(a["title_link"], "https://ci.example/42");
    assert_eq!(a["fields"][1]["title"], "key1");
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_a_trusted_certificate_or_verify_false() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = Fake::start_tls(dir.path()).await;
    assert!(fake.url().starts_with("https://"));
    let ca = format!(
        "tls_ca_file = {:?}",
        dir.path().join("cert.pem").display().to_string()
    );
    let bot = bot_on(&fake, &format!("token_env = \"ERRBOT_MM_TOKEN\"\n{ca}")).await;
    fake.post_as(&fake.alice, "town-square", "!echo over tls", "");
    fake.wait_post(WAIT, |p| says(p, "over tls")).await;
    drop(bot);
    fake.wait_until(WAIT, |f| f.connections() == 0).await;

    let bot = bot_on(&fake, "token_env = \"ERRBOT_MM_TOKEN\"\nverify = false").await;
    fake.post_as(&fake.alice, "town-square", "!echo unverified", "");
    fake.wait_post(WAIT, |p| says(p, "unverified")).await;
    assert!(bot.log().contains("verify = false"), "{}", bot.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_stops_the_bot_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = Fake::start_tls(dir.path()).await;
    let path = dir.path().join("errbot.toml");
    std::fs::write(
        &path,
        format!(
            "[bot]\nadmins = [\"@alice\"]\n\n[paths]\ndata_dir = \"data\"\n\n\
             [backends.mm]\nkind = \"mattermost\"\nurl = {url:?}\nteam = {TEAM:?}\n\
             token_env = \"ERRBOT_MM_TOKEN\"\n",
            url = fake.url()
        ),
    )
    .expect("write config");
    let run = tokio::process::Command::new(errbot_tests::binary("errbotd"))
        .arg("-c")
        .arg(&path)
        .env("ERRBOT_MM_TOKEN", BOT_TOKEN)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let run = tokio::time::timeout(WAIT, run)
        .await
        .expect("errbotd stops")
        .expect("run errbotd");
    let err = String::from_utf8_lossy(&run.stderr);
    assert_ne!(run.status.code(), Some(0), "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(fake.connections(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn room_commands_manage_channels() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    // Room commands are for admins, in a direct message.
    let ask = |text: &'static str, answer: &'static str| {
        let fake = fake.clone();
        async move {
            fake.dm_as(&fake.alice, text);
            fake.wait_post(WAIT, |p| {
                p["message"].as_str().is_some_and(|m| m.contains(answer))
            })
            .await
        }
    };
    ask("!room join ~dev", "Joined the room ~dev.").await;
    assert!(fake.is_member("dev", &fake.bot.id));
    let list = ask("!room list", "I'm currently in these rooms").await;
    let text = list["message"].as_str().unwrap();
    assert!(
        text.contains("- ~dev") && text.contains("- ~town-square"),
        "{text}"
    );

    ask("!room topic ~dev Release on Friday", "Topic for ~dev set.").await;
    assert_eq!(fake.channel("dev")["header"], "Release on Friday");
    ask("!room topic ~dev", "Topic for ~dev: Release on Friday.").await;

    let occupants = ask("!room occupants ~dev", "Occupants in ~dev").await;
    let text = occupants["message"].as_str().unwrap();
    assert!(
        text.contains(&fake.alice.id) && text.contains(&fake.bot.id),
        "{text}"
    );

    ask("!room create ~new-room", "Created the room ~new-room.").await;
    assert!(fake.is_member("new-room", &fake.bot.id));
    ask(
        "!room invite ~new-room @bob",
        "Invited @bob into the room ~new-room.",
    )
    .await;
    assert!(fake.is_member("new-room", &fake.bob.id));
    ask("!room destroy ~new-room", "Destroyed the room ~new-room.").await;
    assert_ne!(fake.channel("new-room")["delete_at"], 0);

    ask("!room leave ~dev", "Left the room ~dev.").await;
    assert!(!fake.is_member("dev", &fake.bot.id));
    ask("!room join ~No_Such", "Cannot join ~No_Such").await;
}

/// What the `listener` test plugin recorded (tests/callback-plugins), asked by alice in a
/// direct message until `done` holds.
async fn events_until(fake: &Fake, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let before = fake.posts_by(&fake.bot.id).len();
        fake.dm_as(&fake.alice, "!events");
        fake.wait_until(WAIT, |f| f.posts_by(&f.bot.id).len() > before)
            .await;
        let events: Vec<String> = fake
            .posts_by(&fake.bot.id)
            .last()
            .and_then(|p| p["message"].as_str())
            .unwrap_or("")
            .lines()
            .filter(|l| !l.ends_with("!events"))
            .map(str::to_owned)
            .collect();
        if done(&events) {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting; the listener has:\n{}",
            events.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn members_presence_and_deletions_reach_the_plugins() {
    let fake = Fake::start().await;
    let _bot = bot_with(
        &fake,
        "token_env = \"ERRBOT_MM_TOKEN\"",
        Options {
            plugin_dirs: vec!["tests/callback-plugins".into()],
            ..Default::default()
        },
    )
    .await;
    let (alice, bob) = (fake.alice.clone(), fake.bob.clone());
    fake.remove_from_channel(&bob, "town-square", &alice);
    fake.add_to_channel(&bob, "town-square");
    fake.set_status_as(&bob, "away");
    // A deleted post is not a message, and is never caught up later.
    let doomed = fake.post_as(&alice, "dev", "!echo never", "");
    fake.delete_post(doomed["id"].as_str().unwrap_or_default());
    let has = |events: &[String], want: &str| events.iter().any(|e| e.starts_with(want));
    let events = events_until(&fake, |e| {
        has(
            e,
            "room_left|mm|~town-square|~town-square/bob by ~town-square/alice",
        ) && has(e, "room_joined|mm|~town-square|~town-square/bob by -")
            && has(e, "presence|mm|@bob|away:")
    })
    .await;
    // In that order, and the bot's own presence changes are not events.
    let left = events.iter().position(|e| e.starts_with("room_left|"));
    let joined = events.iter().position(|e| e.starts_with("room_joined|"));
    assert!(left < joined, "{events:#?}");

    // The bot removed from its channel: an event for the bot itself (no one joined), and it
    // stays out after a reconnection instead of joining again.
    let bot_user = fake.bot.clone();
    fake.remove_from_channel(&bot_user, "town-square", &alice);
    events_until(&fake, |e| {
        has(e, "room_left|mm|~town-square|- by ~town-square/alice")
    })
    .await;
    fake.reset_connections();
    fake.wait_until(WAIT, |f| f.connections() == 1).await;
    fake.dm_as(&alice, "!echo still here");
    fake.wait_post(WAIT, |p| says(p, "still here")).await;
    assert!(!fake.is_member("town-square", &bot_user.id));
    assert_eq!(count(&fake, "never"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_and_access_rules_by_id_survive_a_rename() {
    let fake = Fake::start().await;
    let alice_id = fake.alice.id.clone();
    let _bot = bot_with(
        &fake,
        "token_env = \"ERRBOT_MM_TOKEN\"",
        Options {
            // The seed's setup: one admin, and every command for the admins only; here the
            // admin is named by id as well as by name.
            admins: Some(vec!["@alice".into(), alice_id.clone()]),
            extra: format!("[access.default]\nallowusers = [\"@alice\", {alice_id:?}]\n"),
            ..Default::default()
        },
    )
    .await;
    fake.post_as(&fake.alice, "town-square", "!echo as alice", "");
    fake.wait_post(WAIT, |p| says(p, "as alice")).await;
    fake.post_as(&fake.bob, "town-square", "!echo as bob", "");
    fake.wait_post(WAIT, |p| {
        says(
            p,
            "You're not allowed to access this command from this user",
        )
    })
    .await;

    // alice becomes alice2: the rules that name her id still let her in, and she is still
    // an admin (`!log tail` is for admins, in private).
    let renamed = fake.rename(&fake.alice, "alice2");
    fake.post_as(&renamed, "town-square", "!echo renamed", "");
    fake.wait_post(WAIT, |p| says(p, "renamed")).await;
    let before = fake.posts_by(&fake.bot.id).len();
    fake.dm_as(&renamed, "!whoami");
    fake.wait_until(WAIT, |f| f.posts_by(&f.bot.id).len() > before)
        .await;
    let whoami = fake
        .posts_by(&fake.bot.id)
        .last()
        .cloned()
        .unwrap_or_default();
    let text = whoami["message"].as_str().unwrap_or_default();
    assert!(text.contains("@alice2"), "{text}");
    let before = fake.posts_by(&fake.bot.id).len();
    fake.dm_as(&renamed, "!log tail 2");
    fake.wait_until(WAIT, |f| f.posts_by(&f.bot.id).len() > before)
        .await;
    let tail = fake
        .posts_by(&fake.bot.id)
        .last()
        .cloned()
        .unwrap_or_default();
    let text = tail["message"].as_str().unwrap_or_default();
    assert!(
        !text.starts_with("You're not allowed") && !text.starts_with("This command requires"),
        "{text}"
    );
    assert_eq!(count(&fake, "as bob"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_message_is_answered_in_the_group() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    let bob = fake.bob.clone();
    let post = fake.group_post_as(&fake.alice, &[&bob], "!echo to the group");
    let reply = fake.wait_post(WAIT, |p| says(p, "to the group")).await;
    assert_eq!(reply["channel_id"], post["channel_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_window_is_followed_without_meeting_429s() {
    let fake = Fake::start().await;
    let _bot = bot(&fake).await;
    // Five requests a second. Once the bot has seen the window (any answer tells), a burst of
    // 12 replies written at once goes out five a second: the bot counts what is left of the
    // window itself and waits for its reset instead of running into the limit.
    fake.rate_window(5);
    fake.post_as(&fake.alice, "town-square", "!echo first", "");
    fake.wait_post(WAIT, |p| says(p, "first")).await;
    for i in 0..12 {
        fake.post_as(&fake.alice, "town-square", &format!("!echo paced {i}"), "");
    }
    for i in 0..12 {
        fake.wait_post(WAIT, |p| says(p, &format!("paced {i}")))
            .await;
    }
    assert_eq!(fake.rate_limited(), 0, "the bot met the limit");
}

/// `HH:MM:SS` in UTC, `ahead` from now (waiting out the last seconds of a day first, so that
/// the time is today's).
async fn utc_time_in(ahead: Duration) -> String {
    let day_secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() % 86_400)
    };
    if day_secs(std::time::SystemTime::now()) + ahead.as_secs() + 5 >= 86_400 {
        tokio::time::sleep(ahead + Duration::from_secs(10)).await;
    }
    let s = day_secs(std::time::SystemTime::now() + ahead);
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seeds_setup_works_end_to_end() {
    // Seed 003: one admin who alone may run commands, the bot in chosen channels, everything
    // in a log file, and DailyMessage sending the admin a status message at a set time (here
    // two seconds from now).
    let fake = Fake::start().await;
    let at = utc_time_in(Duration::from_secs(2)).await;
    let bot = bot_with(
        &fake,
        "token_env = \"ERRBOT_MM_TOKEN\"",
        Options {
            bundled: true,
            log: "file = \"errbot.log\"\n".into(),
            extra: format!(
                "[access.default]\nallowusers = [\"@alice\"]\n\n\
                 [plugins.daily-message]\nconfig = {{ TO = [\"@alice\"], AT = {at:?}, \
                 UTC_OFFSET = \"+00:00\", BACKEND = \"mm\", CHECK_SECS = 0.2 }}\n"
            ),
            ..Default::default()
        },
    )
    .await;
    let town = fake.channel_id("town-square");
    let answer = async |who: &errbot_tests::mattermost::User, text: &str| -> String {
        let before = fake.posts_by(&fake.bot.id).len();
        fake.post_as(who, "town-square", text, "");
        fake.wait_until(WAIT, |f| {
            f.posts_by(&f.bot.id)[before..]
                .iter()
                .any(|p| p["channel_id"] == town.as_str())
        })
        .await;
        let posts = fake.posts_by(&fake.bot.id);
        posts[before..]
            .iter()
            .find(|p| p["channel_id"] == town.as_str())
            .and_then(|p| p["message"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let alice = fake.alice.clone();
    let bob = fake.bob.clone();
    let help = answer(&alice, "!help").await;
    assert!(help.contains("daily stats"), "{help}");
    let status = answer(&alice, "!status").await;
    assert!(status.starts_with("Yes I am alive..."), "{status}");
    assert!(status.contains("daily-message"), "{status}");
    let list = answer(&alice, "!plugin list").await;
    assert!(list.contains("daily-message"), "{list}");
    let refused = answer(&bob, "!status").await;
    assert_eq!(
        refused,
        "You're not allowed to access this command from this user"
    );
    let stats = answer(&alice, "!daily stats").await;
    assert!(stats.starts_with("Manual stats:"), "{stats}");

    // The daily message, in alice's direct channel.
    let daily = fake
        .wait_post(WAIT, |p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Good morning! I'm alive and well."))
        })
        .await;
    let text = daily["message"].as_str().unwrap_or_default();
    assert!(text.contains("🕒 Uptime: 0d 0h"), "{text}");
    assert!(text.contains("💡 Health: Healthy ✅"), "{text}");
    assert_ne!(daily["channel_id"], town.as_str());
    // Once.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let dailies = fake
        .posts_by(&fake.bot.id)
        .iter()
        .filter(|p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Good morning"))
        })
        .count();
    assert_eq!(dailies, 1);

    // Everything in the log file, with an audit line per command.
    let log = std::fs::read_to_string(bot.dir.path().join("errbot.log")).unwrap_or_default();
    // The ACL form and the person's id (which survives a rename).
    let (alice_id, bob_id) = (&fake.alice.id, &fake.bob.id);
    for line in [
        format!("audit: @alice ({alice_id}) in ~town-square on mm: status -> done"),
        format!("audit: @bob ({bob_id}) in ~town-square on mm: status -> refused"),
        "connected to Mattermost".to_owned(),
    ] {
        assert!(
            log.contains(&line),
            "missing {line:?} in the log file:\n{log}"
        );
    }
}
