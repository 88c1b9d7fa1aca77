//! End-to-end: an Errbot plugin written for Errbot (tests/errbot-plugins/notebook: a `.plug`, its
//! module, a template, no plugin.toml) run unmodified by the real errbotd on the Python
//! compatibility host (plugin-sdk/python), talked to through the test gateway. errbotd finds it
//! by its `.plug`, installs the host's requirements into its virtualenv, checks and applies its
//! configuration with the plugin's own check, and every command kind answers as Errbot does.

use std::time::Duration;

use errbot_tests::{Options, TestBot};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

async fn notebook_bot() -> TestBot {
    TestBot::start_with(Options {
        plugin_dirs: vec!["tests/errbot-plugins".into()],
        ..Default::default()
    })
    .await
}

/// The one reply of `body` from `from` in `room` ("" for a direct message).
async fn one(bot: &mut TestBot, from: &str, room: &str, body: &str) -> String {
    let mut replies = bot.say_as(from, room, body).await;
    assert_eq!(replies.len(), 1, "{body}: {replies:?}\n{}", bot.log());
    replies.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodified_errbot_plugin_runs_on_the_compatibility_host() {
    let mut bot = notebook_bot().await;

    // Discovered from its .plug: its name and description; it has a configuration template
    // and no configuration yet, so it waits for one (C).
    let plugins = one(&mut bot, "admin", "", "!status plugins").await;
    assert!(plugins.contains("| C | Notebook"), "{plugins}");
    let template = one(&mut bot, "admin", "", "!plugin config Notebook").await;
    assert!(
        template.contains(r#"{"GREETING":"Hello","MAX_NOTES":3}"#),
        "{template}"
    );
    // The plugin's own check_configuration refuses, through CheckConfig.
    let refused = one(
        &mut bot,
        "admin",
        "",
        r#"!plugin config Notebook {"GREETING": "Hi", "MAX_NOTES": 0}"#,
    )
    .await;
    assert!(
        refused.contains("MAX_NOTES must be at least 1"),
        "{refused}"
    );
    assert_eq!(
        one(
            &mut bot,
            "admin",
            "",
            r#"!plugin config Notebook {"GREETING": "Hi", "MAX_NOTES": 2}"#
        )
        .await,
        "Plugin configuration done."
    );

    // botcmd: the configuration, the sender's nick, the raw argument string.
    assert_eq!(bot.say("!greet").await, ["Hi, tester!"]);
    assert_eq!(bot.say("!greet Ana Maria").await, ["Hi, Ana Maria!"]);
    // Multi-word commands, split_args_with=None, storage through mutable(), CommandError.
    assert_eq!(bot.say("!note add").await, ["What should I write down?"]);
    assert_eq!(bot.say("!note add buy  milk").await, ["Noted (1)."]);
    assert_eq!(bot.say("!note_add call mum").await, ["Noted (2)."]);
    assert_eq!(
        bot.say("!note add more").await,
        ["The notebook is full (2 notes)."]
    );
    // template=: the dict the command returns, rendered by errbotd from templates/notes.md.
    assert_eq!(
        bot.say_as("ana", "#ops", "!note list").await,
        ["Notes for #ops/ana:\n1. buy milk\n2. call mum"]
    );
    // admin_only, checked by errbotd before the plugin is called.
    assert_eq!(
        bot.say("!note clear").await,
        ["This command requires bot-admin privileges"]
    );
    assert_eq!(
        bot.say_as("admin", "", "!note clear").await,
        ["Notebook cleared."]
    );
    assert_eq!(bot.say("!note list").await, ["No notes."]);
    // name= and split_args_with=",": str.split's rules.
    assert_eq!(bot.say("!split a, b,,c").await, ["'a' | ' b' | '' | 'c'"]);

    // arg_botcmd: Python's argparse, a generator streaming one reply per yield, Errbot's
    // replies to bad arguments.
    assert_eq!(
        bot.say("!roll 6 --count 3").await,
        ["die shows 1", "die shows 2", "die shows 3"]
    );
    assert_eq!(bot.say("!roll 2 -c 3 --total").await, ["total 4"]);
    assert_eq!(
        bot.say("!roll six").await,
        [
            "I couldn't parse the arguments; argument sides: invalid int value: 'six'",
            "usage: roll [-h] [--total] [--count COUNT] sides\n"
        ]
    );
    assert_eq!(bot.say("!shout ana 'bob jr'").await, ["ANA BOB JR!"]);

    // re_botcmd (prefixed, re.IGNORECASE) with Python's match groups; storage of a dict.
    assert_eq!(
        bot.say("!Remember Colour is deep blue").await,
        ["I will remember colour."]
    );
    // Unprefixed regexes (prefixed=False, botmatch) see every message; a None says nothing.
    assert_eq!(
        bot.say_as("bob", "#ops", "so what is colour?").await,
        ["colour is deep blue (said @tester)"]
    );
    assert!(
        bot.say_as("bob", "#ops", "what is nothing")
            .await
            .is_empty()
    );
    assert_eq!(
        bot.say_as("bob", "#ops", "1+2 and 30 + 4").await,
        ["1+2=3, 30+4=34"]
    );

    // Message and identifiers.
    assert_eq!(
        bot.say("!whereami").await,
        ["direct, from @tester (tester)"]
    );
    assert_eq!(
        bot.say_as("bob", "#ops", "!whereami").await,
        ["room #ops, from bob, group=True"]
    );
    // A value JSON cannot hold round-trips (pickled); JSON values stay JSON in errbotd's store.
    assert_eq!(bot.say("!stash").await, ["tuple [1, 2]"]);
    assert_eq!(
        bot.say("!stored").await,
        ["activations, fact:colour, stash"]
    );
    let (code, out, err) = bot.ctl(&["storage", "get", "Notebook"]);
    assert_eq!(code, 0, "{err}");
    let stored: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        stored["fact:colour"],
        serde_json::json!({"value": "deep blue", "by": "@tester"})
    );
    assert!(stored["stash"]["py/pickle"].is_string(), "{stored}");

    // An exception is Errbot's "Computer says nooo", and the plugin serves on.
    let crash = bot.say("!crash").await;
    assert_eq!(crash.len(), 1, "{crash:?}");
    assert!(
        crash[0].starts_with("Computer says nooo. See logs for details:")
            && crash[0].contains("RuntimeError: the notebook fell off the table"),
        "{crash:?}"
    );
    assert_eq!(
        bot.say("!about me").await,
        ["Notebook activated 1 time(s), prefix !"]
    );
    // Its commands are in !help, with their docstrings.
    let help = one(&mut bot, "tester", "", "!help Notebook").await;
    assert!(help.contains("Roll dice"), "{help}");
}

/// The seed's DailyMessage plugin (tests/errbot-plugins/daily-message, copied as it is from
/// the Mattermost team's post): `!daily stats` answers; its health check reaches for Errbot's
/// plugin manager, which a plugin process cannot see, and the plugin's own fallback answers.
/// Killed, its host is restarted like any plugin process, and the other plugin never notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_daily_message_plugin_answers_and_its_host_is_supervised() {
    let mut bot = notebook_bot().await;
    let stats = one(&mut bot, "tester", "", "!daily stats").await;
    assert!(
        stats.starts_with("Manual stats:\n\n🕒 Uptime: 0d 0h 0m\n💡 Health: Unknown ❓\n📅 Time: "),
        "{stats}"
    );
    bot.wait_for_log(
        "Health check failed: errbot-rs: a plugin cannot list the other plugins",
        1,
    );

    let victim = bot.child_pid("DailyMessage");
    assert!(victim > 0);
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).expect("kill the host");
    // errbotd notices the death and starts a new process, which answers as the first did.
    let mut pid = bot.child_pid("DailyMessage");
    for _ in 0..100 {
        if pid != 0 && pid != victim {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        pid = bot.child_pid("DailyMessage");
    }
    assert_ne!(pid, victim);
    let again = one(&mut bot, "tester", "", "!daily stats").await;
    assert!(again.starts_with("Manual stats:"), "{again}");
    let child = bot.child("DailyMessage");
    assert_eq!(child["restarts"], 1, "{child}");
    assert!(
        child["last_exit"]
            .as_str()
            .is_some_and(|e| e.contains("SIGKILL")),
        "{child}"
    );
    // The other Errbot plugin never stopped serving.
    assert!(
        one(&mut bot, "admin", "", "!status plugins")
            .await
            .contains("| C | Notebook")
    );
}
