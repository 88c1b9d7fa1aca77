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
    assert_eq!(
        refused,
        "Incorrect plugin configuration: MAX_NOTES must be at least 1."
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
    // The plugin's cmdfilter: a rewrite, and a block (nothing said).
    assert_eq!(bot.say("!greet everyone").await, ["Hi, world!"]);
    assert!(bot.say("!shout NOW please").await.is_empty());

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
    assert_eq!(
        bot.say("!crash").await,
        ["Computer says nooo. See logs for details:\nthe notebook fell off the table"]
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
        stats.starts_with("Manual stats:\n\n🕒 Uptime: 0d 0h 0m\n💡 Health: Healthy ✅\n📅 Time: "),
        "{stats}"
    );
    // Its health line reads the plugin manager, answered from errbotd's BotService.Status.
    assert!(!bot.log().contains("Health check failed"), "{}", bot.log());

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

/// The conversation compared with Errbot: replies that do not depend on who asks (Errbot's Test
/// backend has its own sender), sent privately by an admin, in order.
const CONVERSATION: &[&str] = &[
    r#"!plugin config Notebook {"GREETING": "Hi", "MAX_NOTES": 0}"#,
    r#"!plugin config Notebook {"GREETING": "Hi", "MAX_NOTES": 2}"#,
    "!greet Ana Maria",
    "!greet everyone",
    "!note add",
    "!note add buy  milk",
    "!note_add call mum",
    "!note add more",
    "!note clear",
    "!note list",
    "!split a, b,,c",
    "!roll 6 --count 3",
    "!roll 2 -c 3 --total",
    "!roll six",
    "!roll -h",
    "!shout ana 'bob jr'",
    "!shout 'open",
    "!Remember Colour is deep blue",
    "what is nothing",
    "1+2 and 30 + 4",
    "!stash",
    "!stored",
    "!flows list",
    "!trip date tomorrow",
    "!trip to Lisbon",
    "!trip date 2027-01-02",
    "!trip book",
    "!flows stop",
    "!crash",
];

/// Python in Errbot 6.2.1's virtualenv: `$ERRBOT_ORACLE_PYTHON`, else the one tests/bench/run.sh
/// makes in the target directory.
fn errbot_python() -> Option<std::path::PathBuf> {
    if let Some(python) = std::env::var_os("ERRBOT_ORACLE_PYTHON") {
        return Some(python.into());
    }
    let bench = errbot_tests::bin_dir()
        .parent()?
        .join("bench/errbot-6.2.1-venv/bin/python");
    bench.is_file().then_some(bench)
}

/// A reply as Errbot's Test backend shows it: Errbot renders Markdown to text, which trims each
/// line, drops blank ones and strong emphasis, and bullets list items; errbot-rs hands the
/// Markdown over as it is.
fn as_text(reply: &str) -> String {
    reply
        .lines()
        .map(|l| {
            let l = l.trim().replace("**", "");
            match l.strip_prefix("- ") {
                Some(item) => format!("• {item}"),
                None => l,
            }
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The oracle: the same plugins and conversation on Errbot 6.2.1 itself
/// (tests/errbot_oracle.py), and errbot-rs must answer every message as Errbot did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errbot_itself_gives_the_same_replies() {
    let Some(python) = errbot_python() else {
        eprintln!(
            "WARNING: no Errbot 6.2.1 virtualenv (tests/bench/run.sh makes it, or set \
             ERRBOT_ORACLE_PYTHON): the comparison with Errbot is SKIPPED"
        );
        return;
    };
    let data = tempfile::tempdir().expect("temp dir");
    let mut oracle = std::process::Command::new(&python)
        .arg(errbot_tests::repo_root().join("tests/errbot_oracle.py"))
        .arg(data.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start Errbot");
    let input = serde_json::to_vec(CONVERSATION).expect("JSON");
    std::io::Write::write_all(&mut oracle.stdin.take().expect("stdin"), &input).expect("write");
    let mut bot = notebook_bot().await;
    let mut ours = Vec::new();
    for body in CONVERSATION {
        let replies = bot.say_as("admin", "", body).await;
        ours.push(replies.iter().map(|r| as_text(r)).collect::<Vec<_>>());
    }
    let output = oracle.wait_with_output().expect("Errbot's answers");
    assert!(output.status.success(), "Errbot failed: {}", output.status);
    let errbots: Vec<Vec<String>> = serde_json::from_slice(&output.stdout).expect("JSON");
    for ((body, ours), errbots) in CONVERSATION.iter().zip(&ours).zip(&errbots) {
        let errbots: Vec<String> = errbots.iter().map(|r| as_text(r)).collect();
        assert_eq!(ours, &errbots, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_errbot_plugins_webhooks_are_served() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut bot = TestBot::start_with(Options {
        plugin_dirs: vec!["tests/errbot-plugins".into()],
        extra: format!(
            "[web]\nlisten = \"127.0.0.1:{port}\"\n\n[plugins.Notebook]\n\
             config = {{ GREETING = \"Hi\", MAX_NOTES = 5 }}\n"
        ),
        ..Default::default()
    })
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Errbot's decoding: a JSON body, the rule's <kind> as a keyword argument; a dict answered
    // as JSON.
    let r = http
        .post(format!("{base}/notebook/api"))
        .header("content-type", "application/json")
        .body(r#"{"text": "from the API"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let answer: serde_json::Value =
        serde_json::from_str(&r.text().await.expect("body")).expect("JSON, as Flask answers");
    assert_eq!(answer, serde_json::json!({"noted": 1}));
    // A form's fields when the body is not JSON; GET is one of Errbot's default methods.
    let r = http
        .post(format!("{base}/notebook/form"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("text=a+form")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let notes = one(&mut bot, "admin", "", "!note list").await;
    assert!(
        notes.contains("api: from the API") && notes.contains("form: a form"),
        "{notes}"
    );
    // raw=True: a Flask-like request; a (body, status) tuple.
    let r = http
        .put(format!("{base}/notebook-raw"))
        .header("X-Test", "yes")
        .body("12345")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.expect("body"), "PUT 5 yes");
    let routes = one(&mut bot, "admin", "", "!webstatus").await;
    assert!(
        routes.contains("| /notebook/<kind> | POST, GET | raw | Notebook | note_hook |"),
        "{routes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_errbot_plugins_flows_run_and_survive_a_restart() {
    let mut bot = notebook_bot().await;
    // tests/errbot-plugins/trip: `trip_to` starts the trip flow; each step keeps its choice in
    // msg.ctx.
    let replies = bot.say_as("admin", "", "!trip to Lisbon").await;
    assert_eq!(replies[0], "Going to Lisbon.", "{replies:?}");
    assert_eq!(
        replies.get(1).map(String::as_str),
        Some("You are in the flow **trip**, you can continue with:\n\n- !trip date")
    );
    // errbotd keeps the flow and its context: a SIGKILL loses nothing.
    bot.kill();
    bot.restart().await;
    let replies = bot.say_as("admin", "", "!trip date 2027-01-02").await;
    assert_eq!(
        replies[0], "Lisbon on 2027-01-02: say !trip book to book it.",
        "{replies:?}"
    );
    assert_eq!(
        one(&mut bot, "admin", "", "!trip book").await,
        "Booked Lisbon on 2027-01-02."
    );
    assert_eq!(
        one(&mut bot, "admin", "", "!flows status").await,
        "No Flow started."
    );
    // The express flow's predicate is the plugin's lambda, asked through FlowPredicate: the
    // booking runs by itself, and sees msg.flow.
    let replies = bot.say_as("admin", "", "!flows start express").await;
    assert_eq!(replies[0], "Flow **express** started ...", "{replies:?}");
    assert_eq!(
        bot.say_as("admin", "", "!trip to Porto").await,
        ["Going to Porto.", "Express booking for Porto (express)."]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_errbot_command_not_found_filter_answers_or_aliases() {
    let mut bot = notebook_bot().await;
    // Errbot calls a catch_unprocessed filter with emptycmd=True for a command that does not
    // exist: its text replaces the "not found" reply...
    let answer = one(&mut bot, "admin", "", "!tirp to Rome").await;
    assert_eq!(
        answer,
        "Did you mean !trip? Try !trip to <somewhere>.",
        "{}",
        bot.log()
    );
    // ... (msg, cmd, args) runs that command instead (an alias: here it starts the trip flow)...
    let replies = bot.say_as("admin", "", "!voyage Rome").await;
    assert_eq!(replies[0], "Going to Rome.", "{replies:?}");
    assert!(
        replies[1].starts_with("You are in the flow **trip**"),
        "{replies:?}"
    );
    // ... and None leaves errbotd's own reply.
    let not_found = one(&mut bot, "admin", "", "!nothing here").await;
    assert!(
        not_found.starts_with("Command \"nothing\" / \"nothing here\" not found."),
        "{not_found}"
    );
}
