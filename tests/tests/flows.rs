//! End-to-end flows (tests/flow-plugins): Errbot's own flow tests (tests/flow_e2e_test.py and
//! its flow_plugin, replayed with the same graphs w1 to w4, whose commands live in one plugin
//! and flows in another), a flow whose steps share a context and whose predicates are asked of
//! the plugin, flows that survive a SIGKILL of errbotd and of the plugin, and idle flows that
//! time out.

use std::time::{Duration, Instant};

use errbot_tests::{Options, TestBot, postgres};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn options(extra: &str) -> Options {
    Options {
        plugin_dirs: vec!["tests/flow-plugins".into()],
        extra: extra.to_owned(),
        ..Default::default()
    }
}

async fn start() -> TestBot {
    TestBot::start_with(options("[flows]\npredicate_timeout_secs = 0.5\n")).await
}

/// Whether `reply` is the hint of flow `name` offering exactly `steps`.
fn is_hint(reply: &str, name: &str, steps: &[&str]) -> bool {
    let head = format!("You are in the flow **{name}**, you can continue with:\n");
    let Some(list) = reply.strip_prefix(&head) else {
        return false;
    };
    let offered: Vec<&str> = list.lines().filter_map(|l| l.strip_prefix("- ")).collect();
    offered == steps
}

#[track_caller]
fn assert_hint(replies: &[String], at: usize, name: &str, steps: &[&str]) {
    let reply = replies.get(at).map(String::as_str).unwrap_or("(none)");
    assert!(
        is_hint(reply, name, steps),
        "reply {at} should hint {steps:?} of {name}: {replies:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errbots_flow_tests_replayed() {
    let mut bot = start().await;

    // test_list_flows
    let list = bot.one("!flows list").await;
    for name in ["w1", "w2", "w3", "w4"] {
        let doc = format!("documentation of {}", name.to_uppercase());
        assert!(list.contains(&format!("- **{name}** {doc}")), "{list}");
    }
    assert!(list.contains("- **pizza** Order a pizza"), "{list}");

    // test_no_autotrigger
    assert_eq!(bot.say("!a").await, ["a"]);
    assert_eq!(bot.one("!flows status").await, "No Flow started.");

    // test_autotrigger: c starts w2 and hints b.
    let replies = bot.say("!c").await;
    assert_eq!(replies[0], "c");
    assert_hint(&replies, 1, "w2", &["!b"]);
    assert_eq!(replies.len(), 2, "{replies:?}");
    let status = bot.one("!flows status").await;
    assert!(
        status.contains("@tester is using flow **w2** on step **c**"),
        "{status}"
    );
    assert!(status.contains("Next Step(s): !b"), "{status}");
    assert!(
        status.starts_with("\\>>> "),
        "Errbot's mark, escaped: {status}"
    );
    // The operator sees the same through errbotctl.
    let (code, out, err) = bot.ctl(&["flows", "--json"]);
    assert_eq!(code, 0, "{err}");
    let flows: serde_json::Value = serde_json::from_str(&out).expect("errbotctl flows --json");
    let names: Vec<&str> = flows["declared"]
        .as_array()
        .expect("declared")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(names.contains(&"w2") && names.contains(&"w1"), "{flows}");
    let live = flows["in_progress"].as_array().expect("in_progress");
    assert_eq!(live.len(), 1, "{flows}");
    assert_eq!(live[0]["flow"], "w2", "{flows}");
    assert_eq!(live[0]["step"], "c", "{flows}");
    assert_eq!(live[0]["started_by"], "@tester", "{flows}");
    let (code, text, _) = bot.ctl(&["flows"]);
    assert_eq!(code, 0);
    assert!(text.contains("w2") && text.contains("(direct)"), "{text}");

    // test_no_duplicate_autotrigger: c again neither starts nor hints anything.
    assert_eq!(bot.say("!c").await, ["c"]);
    let status = bot.one("!flows status").await;
    assert!(status.contains("on step **c**"), "{status}");

    // test_flows_stop
    assert_eq!(bot.say("!flows stop w2").await, ["w2 stopped."]);
    assert_eq!(bot.one("!flows status").await, "No Flow started.");
    assert_eq!(bot.say("!flows stop w2").await, ["Flow not found."]);
    assert_eq!(bot.say("!flows stop").await, ["No Flow found."]);

    // test_secondary_autotrigger: e starts w2 too, and d (flow only) may follow.
    let replies = bot.say("!e").await;
    assert_eq!(replies[0], "e");
    assert_hint(&replies, 1, "w2", &["!d"]);
    // d ends the flow: nothing follows it, so no hint.
    assert_eq!(bot.say("!d").await, ["d"]);
    assert_eq!(bot.one("!flows status").await, "No Flow started.");

    // test_flow_only: outside its flow, d is ignored (as Errbot does), and not in the help.
    assert!(bot.say("!d").await.is_empty());
    let help = bot.one("!help flowtest").await;
    assert!(help.contains("!a") && !help.contains("!d"), "{help}");

    // test_manual_flow
    let replies = bot.say("!flows start w1").await;
    assert_eq!(replies[0], "Flow **w1** started ...");
    assert_hint(&replies, 1, "w1", &["!a"]);
    let replies = bot.say("!a").await;
    assert_eq!(replies[0], "a");
    assert_hint(&replies, 1, "w1", &["!b", "!c"]);
    // test_no_flyby_trigger_flow: c is w2's trigger, but the person is in w1.
    let replies = bot.say("!c").await;
    assert_eq!(replies[0], "c");
    assert_hint(&replies, 1, "w1", &["!d"]);
    let status = bot.one("!flows status w1").await;
    assert!(
        status.contains("**c**") && status.contains("← @tester"),
        "{status}"
    );
    // A command that does not exist shows where the person is.
    let lost = bot.one("!dd").await;
    let at = lost
        .find("\n\nYou are in the flow")
        .expect("the hint follows");
    let (not_found, hint) = (&lost[..at], &lost[at + 2..]);
    assert!(not_found.starts_with("Command \"dd\" not found."), "{lost}");
    assert!(is_hint(hint, "w1", &["!d"]), "{lost}");
    assert_eq!(
        bot.say("!flows start w2").await.len(),
        1,
        "one flow per person"
    );
    assert_eq!(bot.say("!d").await, ["d"]);

    // test_manual_flow_with_or_without_hinting: w4 hints only after b.
    assert_eq!(
        bot.say("!flows start w4").await,
        ["Flow **w4** started ..."]
    );
    assert_eq!(bot.say("!a").await, ["a"]);
    let replies = bot.say("!b").await;
    assert_eq!(replies[0], "b");
    assert_hint(&replies, 1, "w4", &["!c"]);
    assert_eq!(bot.say("!flows stop").await, ["w4 stopped."]);

    // test_flows_kill: admins only (Errbot lets anyone).
    bot.say("!c").await;
    let refused = bot.one("!flows kill @tester w2").await;
    assert!(refused.contains("admin"), "{refused}");
    assert_eq!(
        bot.say_as("admin", "", "!flows kill @tester w2").await,
        ["w2 killed."]
    );
    assert_eq!(
        bot.say_as("admin", "", "!flows kill @tester w2").await,
        ["Flow not found."]
    );

    // test_flows_show, and its errors.
    let tree = bot.one("!flows show w1").await;
    assert!(
        tree.starts_with("Flow **w1**: documentation of W1\n- **a**: Step a.\n  - **b**: Step b."),
        "{tree}"
    );
    assert_eq!(
        bot.one("!flows show").await,
        "You need to specify a flow name."
    );
    assert_eq!(bot.one("!flows show w9").await, "Flow w9 doesn't exist.");
    assert_eq!(bot.one("!flows start w9").await, "Flow w9 doesn't exist.");
    assert_eq!(
        bot.one("!flows start").await,
        "You need to specify a flow to manually start"
    );
    let bad = bot.one("!flows start w1 {nope").await;
    assert!(bad.starts_with("Cannot parse json {nope: "), "{bad}");
}

#[tokio::test(flavor = "multi_thread")]
async fn room_flows_and_people_side_by_side() {
    let mut bot = start().await;

    // test_room_flow: the room's flow moves on whoever types the step.
    let replies = bot.say_as("alice", "#ops", "!flows start w3").await;
    assert_hint(&replies, 1, "w3", &["!a"]);
    let replies = bot.say_as("bob", "#ops", "!a").await;
    assert_eq!(replies[0], "a");
    assert_hint(&replies, 1, "w3", &["!b"]);
    let status = bot.say_as("carol", "#ops", "!flows status").await;
    assert!(
        status[0].contains("the room #ops is using flow **w3** on step **a**"),
        "{status:?}"
    );

    // Two people in one room run the same flow independently.
    bot.say_as("alice", "#dev", "!flows start w1").await;
    bot.say_as("bob", "#dev", "!flows start w1").await;
    let replies = bot.say_as("alice", "#dev", "!a").await;
    assert_hint(&replies, 1, "w1", &["!b", "!c"]);
    let bobs = bot.say_as("bob", "#dev", "!flows status").await;
    assert!(
        bobs[0].contains("@bob is using flow **w1** on step **w1**"),
        "{bobs:?}"
    );
    assert!(!bobs[0].contains("@alice"), "{bobs:?}");
    let replies = bot.say_as("bob", "#dev", "!c").await;
    assert_eq!(
        replies,
        ["c"],
        "c is not a step of bob's flow yet, and w2 cannot start beside it"
    );
    let replies = bot.say_as("bob", "#dev", "!a").await;
    assert_hint(&replies, 1, "w1", &["!b", "!c"]);
    let replies = bot.say_as("alice", "#dev", "!b").await;
    assert_eq!(replies, ["b"], "alice's flow ended at b");
    let bobs = bot.say_as("bob", "#dev", "!flows status").await;
    assert!(bobs[0].contains("on step **a**"), "{bobs:?}");
    // An admin sees every flow.
    let all = bot.say_as("admin", "", "!flows status").await;
    assert!(
        all[0].contains("@bob") && all[0].contains("#ops"),
        "{all:?}"
    );
    let none = bot.say_as("dave", "", "!flows status").await;
    assert_eq!(none, ["No Flow started for current user: @dave."]);
}

#[tokio::test(flavor = "multi_thread")]
async fn context_and_predicates() {
    let mut bot = start().await;

    // The size starts the flow and is kept in its context; the topping makes the predicate of
    // the confirmation hold, so it runs by itself, and the flow ends.
    let replies = bot.say("!pizza size large").await;
    assert_eq!(replies[0], "size large (flow pizza)");
    assert_hint(&replies, 1, "pizza", &["!pizza topping <topping>", "!boom"]);
    assert_eq!(
        bot.one("!flow context").await,
        "not in a flow",
        "flow_context is not a step of pizza"
    );
    let replies = bot.say("!pizza topping olives").await;
    assert_eq!(
        replies,
        ["topping olives", "Pizza large with olives, confirmed."]
    );
    assert_eq!(bot.one("!flows status").await, "No Flow started.");

    // A predicate that does not answer in time counts as false: the hint comes.
    let started = bot
        .say(r#"!flows start pizza {"slow": true, "size": "seed"}"#)
        .await;
    assert_eq!(started[0], "Flow **pizza** started ...");
    let replies = bot.say("!pizza size small").await;
    assert_eq!(replies[0], "size small (flow pizza)");
    assert_hint(&replies, 1, "pizza", &["!pizza topping <topping>", "!boom"]);
    bot.wait_for_log("predicate did not answer within 0.5 s", 1);
    assert_eq!(bot.say("!flows stop pizza").await, ["pizza stopped."]);

    // A step that runs by itself and fails leaves the flow where it was.
    bot.say(r#"!flows start pizza {"explode": 1}"#).await;
    let replies = bot.say("!pizza size tiny").await;
    assert_eq!(replies, ["size tiny (flow pizza)", "boom refused"]);
    let status = bot.one("!flows status").await;
    assert!(status.contains("on step **pizza_size**"), "{status}");
    let replies = bot.say("!pizza topping ham").await;
    assert_eq!(replies, ["topping ham", "Pizza tiny with ham, confirmed."]);
}

/// Waits until child `name` is served by a process other than `old`.
async fn wait_replaced(bot: &mut TestBot, name: &str, old: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pid = bot.child_pid(name);
        if pid != 0 && pid != old && bot.child(name)["state"] == "running" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not come back:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_survive_sigkill_of_errbotd_and_of_the_plugin() {
    flows_survive_sigkills("").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_survive_sigkill_on_postgresql() {
    let Some(server) = postgres::server_url("flows_survive_sigkill_on_postgresql") else {
        return;
    };
    let url = postgres::fresh_database(&server).await;
    flows_survive_sigkills(&format!("[storage]\nurl = {url:?}\n")).await;
}

/// Kills errbotd, then the plugins, half-way through two flows, on the store `storage` sets.
async fn flows_survive_sigkills(storage: &str) {
    let mut bot = TestBot::start_with(options(storage)).await;
    let replies = bot.say_as("alice", "#ops", "!pizza size large").await;
    assert_hint(&replies, 1, "pizza", &["!pizza topping <topping>", "!boom"]);
    bot.say("!flows start w1").await;

    bot.kill();
    bot.restart().await;
    let status = bot.say_as("alice", "#ops", "!flows status").await;
    assert!(
        status[0].contains("@alice is using flow **pizza** on step **pizza_size**"),
        "{status:?}"
    );

    // The plugin serving the steps dies too; its replacement continues the flow.
    let old = bot.child_pid("flowtest");
    kill(Pid::from_raw(old as i32), Signal::SIGKILL).expect("kill flowtest");
    wait_replaced(&mut bot, "flowtest", old).await;
    let old = bot.child_pid("flowdefs");
    kill(Pid::from_raw(old as i32), Signal::SIGKILL).expect("kill flowdefs");
    wait_replaced(&mut bot, "flowdefs", old).await;

    let replies = bot.say_as("alice", "#ops", "!pizza topping olives").await;
    assert_eq!(
        replies,
        ["topping olives", "Pizza large with olives, confirmed."]
    );
    let replies = bot.say("!a").await;
    assert_hint(&replies, 1, "w1", &["!b", "!c"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_flows_is_said_and_flows_in_progress_are_measured() {
    let mut bare = TestBot::start_with(Options::default()).await;
    assert_eq!(
        bare.one("!flows list").await,
        "No flows: no active plugin declares one."
    );
    drop(bare);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut bot =
        TestBot::start_with(options(&format!("[web]\nlisten = \"127.0.0.1:{port}\"\n"))).await;
    let gauge = || async {
        let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        text.lines()
            .find_map(|l| l.strip_prefix("errbot_flows_in_progress "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    bot.say_as("alice", "", "!flows start w1").await;
    bot.say_as("bob", "#ops", "!c").await;
    assert_eq!(gauge().await, Some(2.0));
    bot.say_as("bob", "#ops", "!flows stop").await;
    assert_eq!(gauge().await, Some(1.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn hints_can_be_turned_off() {
    let mut bot = TestBot::start_with(options("[flows]\nhints = false\n")).await;
    // The flow still starts and moves on; nothing is said about what may follow.
    assert_eq!(bot.say("!c").await, ["c"]);
    let status = bot.one("!flows status").await;
    assert!(status.contains("on step **c**"), "{status}");
    assert_eq!(bot.say("!b").await, ["b"]);
    assert_eq!(bot.one("!flows status").await, "No Flow started.");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_flows_time_out() {
    let mut bot = TestBot::start_with(options("[flows]\nidle_timeout_secs = 1\n")).await;
    let mut outbox = bot.outbox().await;
    bot.say_as("alice", "#ops", "!flows start w1").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let sent = tokio::time::timeout(left, outbox.message())
            .await
            .expect("the timeout notice")
            .expect("outbox")
            .expect("outbox open");
        if sent.text.contains("stopped") {
            assert_eq!(
                sent.text,
                "The flow **w1** was stopped: nothing happened in it for 1 second."
            );
            assert_eq!(sent.to.as_ref().map(|t| t.room.as_str()), Some("#ops"));
            break;
        }
    }
    assert_eq!(
        bot.say_as("alice", "#ops", "!flows status").await,
        ["No Flow started."]
    );
}
