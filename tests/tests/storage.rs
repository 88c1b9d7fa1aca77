//! End-to-end: plugin storage through the real errbotd, test gateway and plugin processes, on
//! SQLite and on PostgreSQL (each test body runs on both); kill -9 durability, concurrent
//! increments, namespace isolation, blacklist, backup and restore, errbotctl storage.

use std::collections::BTreeMap;

use errbot_tests::{Options, TestBot, postgres};

/// Which store a test bot uses.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// `[storage]` for `backend` (a fresh PostgreSQL database), or `None` when PostgreSQL is not
/// available outside CI (the test is then skipped, loudly).
async fn storage_toml(backend: Backend, test: &str) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(String::new()),
        Backend::Postgres => {
            let server = postgres::server_url(test)?;
            let url = postgres::fresh_database(&server).await;
            Some(format!("[storage]\nurl = {url:?}\n"))
        }
    }
}

/// Starts a bot with the test plugin on `backend`.
async fn bot_on(backend: Backend, test: &str, mut options: Options) -> Option<TestBot> {
    let storage = storage_toml(backend, test).await?;
    options.test_plugin = true;
    options.extra = format!("{storage}\n{}", options.extra);
    Some(TestBot::start_with(options).await)
}

macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                $body(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                $body(Backend::Postgres).await;
            }
        }
    };
}

async fn values_round_trip_through_the_plugin(backend: Backend) {
    let Some(mut bot) = bot_on(backend, "storage_commands", Options::default()).await else {
        return;
    };
    assert_eq!(bot.one("!store get greeting").await, "greeting is not set");
    assert_eq!(
        bot.one("!store set greeting {\"text\": \"héllo\", \"n\": [1, 2]}")
            .await,
        "stored greeting"
    );
    assert_eq!(
        bot.one("!store get greeting").await,
        "{\"n\":[1,2],\"text\":\"héllo\"}"
    );
    assert_eq!(bot.one("!store set a/1 true").await, "stored a/1");
    assert_eq!(bot.one("!store set a/2 null").await, "stored a/2");
    assert_eq!(bot.one("!store keys").await, "keys: a/1 a/2 greeting");
    assert_eq!(bot.one("!store keys a/").await, "keys: a/1 a/2");
    assert_eq!(bot.one("!store delete a/1").await, "deleted a/1");
    assert_eq!(bot.one("!store delete a/1").await, "a/1 was not set");
    assert_eq!(bot.one("!incr visits").await, "1");
    assert_eq!(bot.one("!incr visits").await, "2");
    // The plugin's values are in its namespace, as errbotctl sees them.
    let (code, out, err) = bot.errbotctl(&["storage", "get", "testplugin"], "");
    assert_eq!(code, 0, "{err}");
    let ns: serde_json::Value = serde_json::from_str(&out).expect("JSON object");
    assert_eq!(
        ns,
        serde_json::json!({"a/2": null, "greeting": {"text": "héllo", "n": [1, 2]}, "visits": 2})
    );
    // A storage error is the plugin's reply, not a crash.
    let long_key = "k".repeat(2000);
    let reply = bot.one(&format!("!store set {long_key} 1")).await;
    assert!(reply.starts_with("storage error:"), "{reply}");
    assert!(reply.contains("at most 1024 bytes"), "{reply}");
    assert_eq!(bot.one("!incr visits").await, "3");
    bot.stop();
}
on_both_backends!(plugin_storage, values_round_trip_through_the_plugin);

/// The plugin answers reads from its cache, and every other writer of its namespace (errbotctl's
/// merge and set, a second process of the plugin) is seen by its very next read.
async fn the_plugin_cache_follows_other_writers(backend: Backend) {
    let Some(mut bot) = bot_on(backend, "cache_coherence", Options::default()).await else {
        return;
    };
    assert_eq!(bot.one("!store set k 1").await, "stored k");
    assert_eq!(bot.one("!store get k").await, "1");
    assert_eq!(bot.one("!store get gone").await, "gone is not set");
    let merge = |bot: &TestBot, json: &str| {
        let (code, _, err) = bot.errbotctl(&["storage", "merge", "testplugin"], json);
        assert_eq!(code, 0, "{err}");
    };
    merge(&bot, "{\"k\": 2, \"gone\": \"here\"}");
    assert_eq!(bot.one("!store get k").await, "2");
    assert_eq!(bot.one("!store get gone").await, "\"here\"");
    let (code, _, err) = bot.errbotctl(&["storage", "set", "testplugin"], "{\"other\": 1}");
    assert_eq!(code, 0, "{err}");
    assert_eq!(bot.one("!store get k").await, "k is not set");
    assert_eq!(bot.one("!store get gone").await, "gone is not set");
    // Writes and deletions of its own, then another process of the same plugin (same token)
    // incrementing the counter the plugin has just read: the final read sees all of them.
    assert_eq!(bot.one("!store set k 5").await, "stored k");
    assert_eq!(bot.one("!store delete k").await, "deleted k");
    assert_eq!(bot.one("!store get k").await, "k is not set");
    assert_eq!(bot.one("!incr n").await, "1");
    assert_eq!(bot.one("!incr_race n 200").await, "n = 401");
    assert_eq!(bot.one("!store get n").await, "401");
    bot.stop();
}
on_both_backends!(plugin_cache, the_plugin_cache_follows_other_writers);

/// A plugin whose cache stops acknowledging changes is killed and restarted with an empty
/// cache: the writer is held a few seconds at most, and no stale value is read afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_cache_costs_its_plugin_a_restart_not_a_stale_read() {
    let mut bot = TestBot::start_with(Options {
        test_plugin: true,
        ..Default::default()
    })
    .await;
    assert_eq!(bot.one("!store set k 1").await, "stored k");
    assert_eq!(bot.one("!store get k").await, "1");
    let before = bot.one("!pid").await;
    assert_eq!(
        bot.one("!storage_deaf_watch").await,
        "watching without acknowledging"
    );
    let (code, _, err) = bot.errbotctl(&["storage", "merge", "testplugin"], "{\"k\": 2}");
    assert_eq!(code, 0, "the write must go through: {err}");
    // The plugin was killed before errbotctl got its answer; its supervision restarts it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let reply = bot.one("!pid").await;
        if reply != before && reply.parse::<u32>().is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the plugin was not restarted: {reply}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(bot.one("!store get k").await, "2");
    bot.stop();
}

/// Every acknowledged write survives SIGKILL of errbotd right after the acknowledgement, 50
/// times in a row, errbotd restarted each time.
async fn acknowledged_writes_survive_sigkill(backend: Backend) {
    const ROUNDS: usize = 50;
    let Some(mut bot) = bot_on(backend, "sigkill_durability", Options::default()).await else {
        return;
    };
    for round in 0..ROUNDS {
        let ack = bot.one(&format!("!store set k{round} {round}")).await;
        assert_eq!(ack, format!("stored k{round}"));
        bot.kill();
        bot.restart().await;
        // The write acknowledged just before the kill is there, and so are the earlier ones.
        assert_eq!(
            bot.one(&format!("!store get k{round}")).await,
            round.to_string()
        );
        if round > 0 {
            let earlier = round / 2;
            assert_eq!(
                bot.one(&format!("!store get k{earlier}")).await,
                earlier.to_string()
            );
        }
    }
    let (code, out, err) = bot.errbotctl(&["storage", "get", "testplugin"], "");
    assert_eq!(code, 0, "{err}");
    let ns: BTreeMap<String, serde_json::Value> = serde_json::from_str(&out).expect("object");
    assert_eq!(ns.len(), ROUNDS);
    for round in 0..ROUNDS {
        assert_eq!(
            ns[&format!("k{round}")],
            serde_json::json!(round),
            "k{round}"
        );
    }
    bot.stop();
}
on_both_backends!(sigkill, acknowledged_writes_survive_sigkill);

/// One counter, incremented at the same time by many concurrent commands of the plugin (each its
/// own Execute call, so its own storage calls) and by a second process of the same plugin
/// (same token, same namespace, its own connection): no increment is lost.
async fn concurrent_increments_lose_nothing(backend: Backend) {
    const SENDERS: usize = 8;
    const EACH: usize = 5;
    const RACE: u32 = 100;
    let Some(mut bot) = bot_on(backend, "concurrent_increments", Options::default()).await else {
        return;
    };
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let mut driver = bot.driver.clone();
        tasks.push(tokio::spawn(async move {
            let mut replies = Vec::new();
            for _ in 0..EACH {
                let req = errbot_tests::inject("!incr counter", &format!("sender{s}"), "");
                let r = driver.converse(req).await.expect("converse").into_inner();
                replies.extend(r.replies.into_iter().map(|m| m.text));
            }
            replies
        }));
    }
    let race = bot.one(&format!("!incr_race counter {RACE}")).await;
    let mut seen: Vec<u64> = Vec::new();
    for t in tasks {
        for reply in t.await.expect("sender") {
            seen.push(
                reply
                    .parse()
                    .unwrap_or_else(|_| panic!("not a count: {reply}")),
            );
        }
    }
    let total = SENDERS * EACH + 2 * RACE as usize;
    assert_eq!(
        bot.one("!store get counter").await,
        total.to_string(),
        "{race}"
    );
    // Each chat increment saw a value no other increment saw.
    let distinct: std::collections::BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), seen.len(), "{seen:?}");
    bot.stop();
}
on_both_backends!(concurrent_increments, concurrent_increments_lose_nothing);

/// A plugin cannot read or write another namespace, whatever it puts in its requests.
async fn namespaces_are_isolated(backend: Backend) {
    let Some(mut bot) = bot_on(backend, "namespace_isolation", Options::default()).await else {
        return;
    };
    let victim = "{\"secret\": \"victim-secret\"}";
    let (code, _, err) = bot.errbotctl(&["storage", "set", "python-hello"], victim);
    assert_eq!(code, 0, "{err}");
    let (code, core_before, err) = bot.errbotctl(&["storage", "get", "core"], "");
    assert_eq!(code, 0, "{err}");

    let report = bot.one("!storage probe python-hello secret").await;
    let lines: BTreeMap<&str, &str> = report
        .lines()
        .filter_map(|l| l.split_once(" => "))
        .collect();
    assert!(lines.len() >= 17, "{report}");
    assert!(!report.contains("victim-secret"), "{report}");
    for (attempt, outcome) in &lines {
        let ok = match *attempt {
            "no token" | "name as token" | "guessed token" => *outcome == "refused Unauthenticated",
            "forged set" => *outcome == "Ok(true)",
            "keys" => *outcome == "Ok([])",
            a if a.contains("\\0") => *outcome == "refused InvalidArgument",
            // Reads in its own namespace: nothing there but what the probe wrote itself.
            _ => *outcome == "not found" || *outcome == "found \"overwritten by the probe\"",
        };
        assert!(ok, "{attempt} => {outcome}\n{report}");
    }
    // The victim's namespace and the core namespace are unchanged; the forged write landed in
    // the prober's own namespace.
    let (_, victim_after, _) = bot.errbotctl(&["storage", "get", "python-hello"], "");
    let v: serde_json::Value = serde_json::from_str(&victim_after).expect("json");
    assert_eq!(v, serde_json::json!({"secret": "victim-secret"}));
    let (_, core_after, _) = bot.errbotctl(&["storage", "get", "core"], "");
    // Only errbotd itself wrote there: the command history, which now holds the probe.
    let without_history = |text: &str| {
        let mut v: serde_json::Value = serde_json::from_str(text).expect("json");
        v.as_object_mut().map(|o| o.remove("history"));
        v
    };
    assert_eq!(without_history(&core_after), without_history(&core_before));
    assert_eq!(
        bot.one("!store get secret").await,
        "\"overwritten by the probe\""
    );
    bot.stop();
}
on_both_backends!(isolation, namespaces_are_isolated);

/// `!plugin blacklist hello`, restart: `!hello` no longer answers; unblacklisting brings it back.
async fn blacklist_survives_restart(backend: Backend) {
    let options = Options {
        bundled: true,
        ..Default::default()
    };
    let Some(mut bot) = bot_on(backend, "blacklist", options).await else {
        return;
    };
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    assert_eq!(
        bot.say_as("tester", "", "!plugin blacklist hello").await,
        ["This command requires bot-admin privileges"]
    );
    assert_eq!(
        bot.say_as("admin", "", "!plugin blacklist hello").await,
        ["Plugin hello is now blacklisted."]
    );
    assert_eq!(
        bot.say_as("admin", "", "!plugin blacklist hello").await,
        ["Plugin hello is already blacklisted."]
    );
    let gone = bot.one("!hello").await;
    assert!(gone.starts_with("Command \"hello\" not found."), "{gone}");
    bot.stop();
    bot.restart().await;
    let gone = bot.one("!hello").await;
    assert!(gone.starts_with("Command \"hello\" not found."), "{gone}");
    let status = bot.one("!status plugins").await;
    assert!(status.contains("| B,D | hello |"), "{status}");
    assert!(status.contains("| A | testplugin |"), "{status}");
    let (_, core, _) = bot.errbotctl(&["storage", "get", "core"], "");
    let core: serde_json::Value = serde_json::from_str(&core).expect("json");
    assert_eq!(core["bl_plugins"], serde_json::json!(["hello"]));
    assert_eq!(
        bot.say_as("admin", "", "!plugin blacklist nosuch").await[0],
        "nosuch isn't a valid plugin name. The current plugins are:\n- Help\n- Health\n- Plugins\n\
         - Backup\n- Utils\n- ChatRoom\n- Flows\n- Webserver\n- hello\n- python-hello\n- testplugin"
    );
    assert_eq!(
        bot.say_as("admin", "", "!plugin unblacklist hello").await,
        ["Plugin hello removed from blacklist."]
    );
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    assert_eq!(
        bot.say_as("admin", "", "!plugin unblacklist hello").await,
        ["Plugin hello is not blacklisted."]
    );
    bot.stop();
    bot.restart().await;
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    bot.stop();
}
on_both_backends!(blacklist, blacklist_survives_restart);

/// Namespaces and keys in a backup document's namespaces.
fn counts(namespaces: &serde_json::Value) -> (usize, usize) {
    let all = namespaces.as_object().expect("namespaces object");
    let keys = all
        .values()
        .map(|ns| ns.as_object().map_or(0, serde_json::Map::len))
        .sum();
    (all.len(), keys)
}

/// Waits (at most 20 s) until python-hello's message callback has written its counts (key
/// `seen`): it writes them beside the commands, on each message; returns its namespace.
fn wait_for_python_counts(bot: &TestBot) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (code, out, err) = bot.errbotctl(&["storage", "get", "python-hello"], "");
        assert_eq!(code, 0, "{err}");
        let namespace: serde_json::Value = serde_json::from_str(&out).expect("json");
        if namespace.get("seen").is_some() {
            return namespace;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "python-hello counted no message: {namespace}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `namespaces` without python-hello's message counts, which change with every message.
fn without_python_counts(mut namespaces: serde_json::Value) -> serde_json::Value {
    if let Some(python) = namespaces
        .get_mut("python-hello")
        .and_then(serde_json::Value::as_object_mut)
    {
        python.remove("seen");
    }
    namespaces
}

fn backup_namespaces(text: &str) -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(text).expect("backup JSON");
    assert_eq!(doc["format"], "errbot-rs-backup");
    assert_eq!(doc["version"], 1);
    doc["namespaces"].clone()
}

/// Backup, then restore into an empty data directory: every namespace is reproduced exactly,
/// and the restored bot behaves as the old one (blacklist, configuration, plugin data, history).
async fn backup_then_restore_into_an_empty_data_dir(backend: Backend) {
    let options = Options {
        bundled: true,
        plugin_dirs: vec!["tests/plugins-configured".into()],
        ..Default::default()
    };
    let Some(mut bot) = bot_on(backend, "backup_restore", options.clone()).await else {
        return;
    };
    bot.one("!store set text \"exact  text\"").await;
    bot.one("!store set float 1.50").await;
    bot.one("!incr n").await;
    bot.say_as("admin", "", "!plugin blacklist hello").await;
    let done = bot
        .say_as(
            "admin",
            "",
            "!plugin config configured {\"GREETING\": \"Hi\", \"TIMES\": 2, \"ROOMS\": []}",
        )
        .await;
    assert_eq!(done, ["Plugin configuration done."]);
    bot.one("!echo remember me").await;
    let (code, _, err) = bot.errbotctl(
        &["storage", "merge", "python-hello"],
        "{\"k\": [1, {\"b\": 2.0}]}",
    );
    assert_eq!(code, 0, "{err}");
    wait_for_python_counts(&bot);

    // !backup writes backup.json in the data directory.
    let reply = bot.say_as("admin", "", "!backup").await;
    let path = bot.dir.path().join("data/backup.json");
    let chat_backup = std::fs::read_to_string(&path).expect("backup.json");
    let (n_namespaces, n_keys) = counts(&backup_namespaces(&chat_backup));
    assert_eq!(
        reply,
        [format!(
            "The backup file has been written in '{}' ({n_namespaces} namespaces, {n_keys} keys).",
            path.display()
        )]
    );
    // core (blacklist, configurations, history), testplugin (3 keys), python-hello (2 keys: the
    // one merged, and the messages its callback counted).
    assert_eq!((n_namespaces, n_keys), (3, 8), "{chat_backup}");
    // errbotctl backup FILE, through the running errbotd.
    let file = bot.dir.path().join("backup.json");
    let file_arg = file.display().to_string();
    let (code, _, err) = bot.errbotctl(&["backup", &file_arg], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3 namespaces (8 keys)"), "{err}");
    let ctl_backup = std::fs::read_to_string(&file).expect("backup file");
    // The same but for python-hello's counts: !backup's own message may be counted in between.
    assert_eq!(
        without_python_counts(backup_namespaces(&chat_backup)),
        without_python_counts(backup_namespaces(&ctl_backup))
    );
    let namespaces = backup_namespaces(&ctl_backup);
    // Values are kept exactly as written (errbotctl wrote this one as raw JSON text).
    assert!(
        ctl_backup.contains("\"k\": [1, {\"b\": 2.0}]"),
        "{ctl_backup}"
    );
    assert_eq!(
        namespaces["core"]["bl_plugins"],
        serde_json::json!(["hello"])
    );
    assert_eq!(
        namespaces["core"]["history"]["@admin"][0]["command"],
        "plugin_blacklist"
    );
    assert_eq!(
        namespaces["core"]["configs"]["configured"],
        serde_json::json!({"GREETING": "Hi", "TIMES": 2, "ROOMS": []})
    );
    bot.stop();

    // A new bot with an empty data directory (and, on PostgreSQL, an empty database).
    let Some(mut fresh) = bot_on(backend, "backup_restore target", options).await else {
        return;
    };
    fresh.stop();
    let (code, out, err) = fresh.errbotctl(&["backup"], "");
    assert_eq!(code, 0, "{err}");
    let empty = backup_namespaces(&out);
    assert!(
        without_python_counts(empty.clone())
            .as_object()
            .is_none_or(|o| o
                .iter()
                .all(|(k, v)| k == "core" || v == &serde_json::json!({}))),
        "the new bot's store should hold nothing of the old one: {empty}"
    );
    // python-hello counted the new bot's messages (the readiness probe): cleared, the store is
    // empty for errbotctl restore.
    let (code, _, err) = fresh.errbotctl(&["storage", "set", "python-hello"], "{}");
    assert_eq!(code, 0, "{err}");
    // errbotd stopped: errbotctl restores into the store itself, refusing a non-empty one.
    let (code, _, err) = fresh.errbotctl(&["storage", "merge", "scratch"], "{\"x\": 1}");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = fresh.errbotctl(&["restore", &file_arg], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not empty"), "{err}");
    let (code, _, err) = fresh.errbotctl(&["storage", "set", "scratch"], "{}");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = fresh.errbotctl(&["restore", &file_arg], "");
    assert_eq!(code, 0, "restore into the new, empty store: {err}");
    assert!(err.contains("Restored 3 namespaces (8 keys)"), "{err}");
    let (code, out, err) = fresh.errbotctl(&["backup"], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        backup_namespaces(&out),
        namespaces,
        "every namespace reproduced"
    );
    let restored_text = out;
    assert!(
        restored_text.contains("\"k\": [1, {\"b\": 2.0}]"),
        "{restored_text}"
    );

    fresh.restart().await;
    let gone = fresh.one("!hello").await;
    assert!(gone.starts_with("Command \"hello\" not found."), "{gone}");
    assert_eq!(fresh.one("!salute Ada").await, "Hi Ada! Hi Ada!");
    assert_eq!(fresh.one("!store get text").await, "\"exact  text\"");
    assert_eq!(fresh.one("!incr n").await, "2");
    let history = fresh.say_as("tester", "", "!history").await;
    assert!(history[0].contains("!echo remember me"), "{history:?}");
    fresh.stop();
}
on_both_backends!(backup_restore, backup_then_restore_into_an_empty_data_dir);

/// Sends `body` as the admin; returns the one reply.
async fn admin(bot: &mut TestBot, body: &str) -> String {
    let mut r = bot.say_as("admin", "", body).await;
    assert_eq!(r.len(), 1, "{body}: {r:?}");
    r.remove(0)
}

fn configured_options() -> Options {
    Options {
        test_plugin: true,
        plugin_dirs: vec!["tests/plugins-configured".into()],
        ..Default::default()
    }
}

/// `!plugin config`: Errbot's replies, the template's shape, the plugin's own check, storage of
/// the configuration, activation, reconfiguration, and the configuration after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn plugin_configuration() {
    let mut bot = TestBot::start_with(configured_options()).await;
    // Not activated until configured, and shown as such.
    let status = bot.one("!status plugins").await;
    assert!(
        status.contains("| C | configured (needs a configuration: `!plugin config configured` shows its template) |"),
        "{status}"
    );
    let unknown = bot.one("!salute Ada").await;
    assert!(
        unknown.starts_with("Command \"salute\" / \"salute ada\" not found."),
        "{unknown}"
    );
    let template = admin(&mut bot, "!plugin config configured").await;
    assert_eq!(
        template,
        "Default configuration for this plugin (you can copy and paste this directly as a single \
         line command):\n\n```\n!plugin config configured {\"GREETING\":\"Hello\",\"ROOMS\":[\"#general\"],\"TIMES\":1}\n```"
    );
    // Wrong shapes, each with Errbot's reply.
    assert_eq!(
        admin(&mut bot, "!plugin config configured {\"GREETING\": \"Hi\"}").await,
        "Incorrect plugin configuration: {\"GREETING\":\"Hi\"} doesn't contain the key ROOMS."
    );
    assert_eq!(
        admin(&mut bot, "!plugin config configured [1]").await,
        "It looks fishy, your config type is not the same as the template!"
    );
    assert!(
        admin(&mut bot, "!plugin config configured {\"GREETING\": ")
            .await
            .starts_with("Syntax error in the given configuration: ")
    );
    assert_eq!(
        admin(
            &mut bot,
            "!plugin config configured {\"GREETING\": \"Hi\", \"TIMES\": \"2\", \"ROOMS\": []}"
        )
        .await,
        "Incorrect plugin configuration: \"2\" [string] is not the same type as 1 [integer]."
    );
    // The plugin's own check (TIMES at most 5).
    assert_eq!(
        admin(
            &mut bot,
            "!plugin config configured {\"GREETING\": \"Hi\", \"TIMES\": 9, \"ROOMS\": []}"
        )
        .await,
        "Incorrect plugin configuration: TIMES must be at most 5."
    );
    assert!(bot.one("!salute Ada").await.contains("not found."));
    // Only admins.
    assert_eq!(
        bot.say("!plugin config configured").await,
        ["This command requires bot-admin privileges"]
    );
    assert_eq!(
        admin(
            &mut bot,
            "!plugin config configured {\"GREETING\": \"Hi\", \"TIMES\": 2, \"ROOMS\": [\"#a\"]}"
        )
        .await,
        "Plugin configuration done."
    );
    assert_eq!(bot.one("!salute Ada").await, "Hi Ada! Hi Ada!");
    let status = bot.one("!status plugins").await;
    assert!(status.contains("| A | configured |"), "{status}");
    let shown = admin(&mut bot, "!plugin config configured").await;
    assert!(
        shown.ends_with(
            "Current configuration:\n\n```\n!plugin config configured {\"GREETING\":\"Hi\",\"ROOMS\":[\"#a\"],\"TIMES\":2}\n```"
        ),
        "{shown}"
    );
    // Reconfiguring an active plugin.
    assert_eq!(
        admin(
            &mut bot,
            "!plugin config configured {\"GREETING\": \"Yo\", \"TIMES\": 1, \"ROOMS\": []}"
        )
        .await,
        "Plugin configuration done."
    );
    assert_eq!(bot.one("!salute Ada").await, "Yo Ada!");
    // Errbot's way: a Python literal (single quotes, a tuple).
    assert_eq!(
        admin(
            &mut bot,
            "!plugin config configured {'GREETING': 'Hey', 'TIMES': 1, 'ROOMS': ('#a',)}"
        )
        .await,
        "Plugin configuration done."
    );
    assert_eq!(bot.one("!salute Ada").await, "Hey Ada!");
    assert_eq!(
        admin(&mut bot, "!plugin config testplugin").await,
        "This plugin is not configurable."
    );
    assert_eq!(
        admin(&mut bot, "!plugin config nosuch").await,
        "Unknown plugin or the plugin could not load nosuch."
    );
    assert!(
        admin(&mut bot, "!plugin config")
            .await
            .contains("the following arguments are required: name")
    );
    // Configurations may be secrets: not in the command history.
    let history = bot.say_as("admin", "", "!history").await;
    assert!(!history[0].contains("GREETING"), "{history:?}");
    // After a restart the stored configuration is used at once.
    bot.stop();
    bot.restart().await;
    assert_eq!(bot.one("!salute Bob").await, "Hey Bob!");
    // Blacklisted plugins cannot be configured until unblacklisted.
    assert_eq!(
        admin(&mut bot, "!plugin blacklist configured").await,
        "Plugin configured is now blacklisted."
    );
    assert_eq!(
        admin(&mut bot, "!plugin config configured").await,
        "Plugin configured is blacklisted: `!plugin unblacklist configured` first."
    );
    assert_eq!(
        admin(&mut bot, "!plugin unblacklist configured").await,
        "Plugin configured removed from blacklist."
    );
    assert_eq!(bot.one("!salute Cy").await, "Hey Cy!");
    bot.stop();
}

/// A configuration in errbot.toml wins over `!plugin config`, and a wrong one is reported.
#[tokio::test(flavor = "multi_thread")]
async fn configuration_from_the_file() {
    let mut options = configured_options();
    options.extra =
        "[plugins.configured]\nconfig = { GREETING = \"Salut\", TIMES = 2, ROOMS = [\"#x\"] }\n"
            .into();
    let mut bot = TestBot::start_with(options).await;
    assert_eq!(bot.one("!salute Ada").await, "Salut Ada! Salut Ada!");
    let refused = bot
        .say_as(
            "admin",
            "",
            "!plugin config configured {\"GREETING\": \"Hi\", \"TIMES\": 1, \"ROOMS\": []}",
        )
        .await;
    let file = bot.config_path().display().to_string();
    assert_eq!(
        refused,
        [format!(
            "The configuration of configured is set by `[plugins.configured] config` in {file}; \
             change it there and restart the bot."
        )]
    );
    let shown = bot.say_as("admin", "", "!plugin config configured").await;
    assert!(
        shown[0].ends_with(&format!(
            "It is set by `[plugins.configured] config` in {file}."
        )),
        "{shown:?}"
    );
    bot.stop();

    // A file configuration of the wrong shape: the plugin fails to start, with the reason.
    let mut options = configured_options();
    options.extra = "[plugins.configured]\nconfig = { GREETING = \"Salut\" }\n".into();
    let mut bot = TestBot::start_with(options).await;
    let status = bot.one("!status plugins").await;
    assert!(
        status.contains(&format!(
            "| F | configured (Incorrect plugin configuration in `[plugins.configured] config` in {}: {{\"GREETING\":\"Salut\"}} doesn't contain the key ROOMS) |",
            bot.config_path().display()
        )),
        "{status}"
    );
    bot.stop();
}

/// `errbotctl storage get|set|merge`, through a running errbotd and directly on the store when
/// errbotd is stopped; bad input changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn errbotctl_storage_provisioning() {
    let mut bot = TestBot::start_with(Options {
        test_plugin: true,
        ..Default::default()
    })
    .await;
    let (code, out, err) = bot.errbotctl(&["storage", "get", "testplugin"], "");
    assert_eq!((code, out.as_str()), (0, "{}\n"), "{err}");
    let (code, _, err) = bot.errbotctl(
        &["storage", "set", "testplugin"],
        "{\"a\": 1, \"b\": {\"c\": [true, null]}}",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err.trim(),
        "namespace testplugin: 2 keys written, 0 deleted"
    );
    assert_eq!(bot.one("!store get b").await, "{\"c\":[true,null]}");
    let (code, _, err) = bot.errbotctl(
        &["storage", "merge", "testplugin"],
        "{\"a\": 2, \"d\": \"x\"}",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(bot.one("!store keys").await, "keys: a b d");
    assert_eq!(bot.one("!store get a").await, "2");
    // Set replaces the whole namespace.
    let (code, _, err) = bot.errbotctl(&["storage", "set", "testplugin"], "{\"only\": 0}");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err.trim(),
        "namespace testplugin: 1 keys written, 3 deleted"
    );
    assert_eq!(bot.one("!store keys").await, "keys: only");
    // Bad input: exit 2, nothing changed.
    for bad in ["[1, 2]", "{\"a\": ", "not json", ""] {
        let (code, _, err) = bot.errbotctl(&["storage", "merge", "testplugin"], bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("expected a JSON object"), "{err}");
    }
    let (code, _, err) = bot.errbotctl(&["restore", "-"], "{\"namespaces\": {}}");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an errbot-rs backup"), "{err}");
    assert_eq!(bot.one("!store keys").await, "keys: only");
    // Blacklisting through errbotctl while errbotd runs: errbotd's cached state follows.
    let (code, _, err) = bot.errbotctl(
        &["storage", "merge", "core"],
        "{\"bl_plugins\": [\"testplugin\"]}",
    );
    assert_eq!(code, 0, "{err}");
    let status = bot.one("!status plugins").await;
    assert!(status.contains("| B,D | testplugin |"), "{status}");

    // errbotd stopped: errbotctl works on the store directly (Errbot's provisioning).
    bot.stop();
    let (code, _, err) = bot.errbotctl(&["storage", "merge", "core"], "{\"bl_plugins\": []}");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = bot.errbotctl(
        &["storage", "merge", "testplugin"],
        "{\"offline\": \"yes\"}",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = bot.errbotctl(&["storage", "get", "testplugin"], "");
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v, serde_json::json!({"offline": "yes", "only": 0}));
    bot.restart().await;
    assert_eq!(bot.one("!store get offline").await, "\"yes\"");
    bot.stop();

    // A data directory where nothing was ever stored: reads say so instead of creating a store.
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("errbot.toml");
    std::fs::write(&config, "[paths]\ndata_dir = \"data\"\n").expect("config");
    let (code, _, err) = errbot_tests::errbotctl(&config, &["storage", "get", "core"], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing is stored yet"), "{err}");
    assert!(!dir.path().join("data/errbot.db").exists());
}

/// Command history survives a restart (`!!` and `!history` after it).
#[tokio::test(flavor = "multi_thread")]
async fn command_history_survives_a_restart() {
    let mut bot = TestBot::start_with(Options {
        test_plugin: true,
        ..Default::default()
    })
    .await;
    bot.one("!echo one").await;
    bot.one("!echo two").await;
    bot.stop();
    bot.restart().await;
    assert_eq!(bot.one("!!").await, "two");
    assert_eq!(
        bot.one("!history").await,
        " 3:!echo one\n 2:!echo two\n 1:!history"
    );
    bot.stop();
}

/// The Python plugin stores through the same RPCs: its values survive a restart and sit in its
/// own namespace.
#[tokio::test(flavor = "multi_thread")]
async fn python_plugin_storage() {
    let mut bot = TestBot::start_with(Options {
        bundled: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        bot.one("!pyrecall colour").await,
        "I know nothing about colour."
    );
    assert_eq!(
        bot.one("!pyremember colour deep blue").await,
        "I will remember colour."
    );
    assert_eq!(bot.one("!pyvisits").await, "Visit number 1.");
    bot.stop();
    bot.restart().await;
    assert_eq!(bot.one("!pyrecall colour").await, "colour: deep blue");
    assert_eq!(bot.one("!pyvisits").await, "Visit number 2.");
    let (code, out, err) = bot.errbotctl(&["storage", "get", "python-hello"], "");
    assert_eq!(code, 0, "{err}");
    let mut v: serde_json::Value = serde_json::from_str(&out).expect("json");
    // Beside what the commands stored, the messages counted by its callback (all direct ones).
    let seen = v
        .as_object_mut()
        .and_then(|o| o.remove("seen"))
        .unwrap_or_else(|| wait_for_python_counts(&bot)["seen"].clone());
    assert_eq!(seen["rooms"], serde_json::json!({}), "{seen}");
    assert!(seen["direct"].as_u64().is_some_and(|n| n > 0), "{seen}");
    assert_eq!(v, serde_json::json!({"colour": "deep blue", "visits": 2}));
    bot.stop();
}
