//! End-to-end pollers: the test plugin's `record` poller (tests/src/bin/errbot-test-plugin/
//! pollers.rs) counts its ticks in storage; errbotd schedules it. Counts are asserted with
//! generous bounds: at least a few ticks in a long window, never more than the schedule allows,
//! never two ticks at once.

use std::time::{Duration, Instant};

use errbot_tests::{Options, TestBot, inject};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn options(extra: &str) -> Options {
    Options {
        test_plugin: true,
        extra: extra.to_owned(),
        ..Default::default()
    }
}

/// What `!poll_count NAME` says.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stats {
    ticks: u64,
    overlaps: u64,
    last: u64,
}

async fn stats(bot: &mut TestBot, name: &str) -> Stats {
    let text = bot.one(&format!("!poll_count {name}")).await;
    let field = |key: &str| -> u64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text:?}"))
    };
    Stats {
        ticks: field("ticks"),
        overlaps: field("overlaps"),
        last: field("last"),
    }
}

/// Waits (at most `within`) until poller `name` ran at least `ticks` ticks.
async fn wait_ticks(bot: &mut TestBot, name: &str, ticks: u64, within: Duration) -> Stats {
    let deadline = Instant::now() + within;
    loop {
        let s = stats(bot, name).await;
        if s.ticks >= ticks {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{name} ran {} ticks, not {ticks}, within {within:?}:\n{}",
            s.ticks,
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The most ticks a fixed-rate schedule of `interval` (ticks taking at least `each`) can run in
/// `elapsed`.
fn at_most(elapsed: Duration, interval: Duration, each: Duration) -> u64 {
    (elapsed.as_secs_f64() / interval.max(each).as_secs_f64()).floor() as u64 + 1
}

/// Sends `!pid` until a process other than `old` answers; returns the new pid.
async fn wait_new_pid(bot: &TestBot, old: u32) -> u32 {
    let since = Instant::now();
    let mut driver = bot.driver();
    loop {
        if let Ok(r) = driver.converse(inject("!pid", "tester", "")).await
            && let Some(pid) = r
                .into_inner()
                .replies
                .first()
                .and_then(|m| m.text.parse::<u32>().ok())
            && pid != old
        {
            return pid;
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "the plugin did not serve again:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_ticks_on_schedule_and_its_ticks_never_overlap() {
    let mut bot = TestBot::start_with(options("")).await;

    // errbotd checks what it is given.
    let refused = bot.one("!poll_start bad 0").await;
    assert!(refused.contains("interval must be > 0"), "{refused}");

    let t0 = Instant::now();
    assert_eq!(bot.one("!poll_start steady 200").await, "started");
    // Ticks that take longer than the interval: never two at once, missed ones dropped.
    assert_eq!(
        bot.one("!poll_start slow 100 --sleep-ms 350").await,
        "started"
    );
    // Starting it again keeps it (and its schedule): what an activation hook does.
    assert_eq!(bot.one("!poll_start steady 200").await, "already running");

    tokio::time::sleep(Duration::from_secs(3)).await;
    let steady = stats(&mut bot, "steady").await;
    let slow = stats(&mut bot, "slow").await;
    let elapsed = t0.elapsed();
    assert!(steady.ticks >= 4, "steady ran {steady:?} in {elapsed:?}");
    assert!(
        steady.ticks <= at_most(elapsed, Duration::from_millis(200), Duration::ZERO),
        "steady ran more than its schedule allows: {steady:?} in {elapsed:?}"
    );
    // Read apart from the count: a tick may run in between.
    assert!(
        steady.last.abs_diff(steady.ticks) <= 1,
        "errbotd numbers the ticks from 1: {steady:?}"
    );
    assert!(slow.ticks >= 2, "slow ran {slow:?} in {elapsed:?}");
    assert!(
        slow.ticks
            <= at_most(
                elapsed,
                Duration::from_millis(100),
                Duration::from_millis(350)
            ),
        "slow ticks were not dropped: {slow:?} in {elapsed:?}"
    );
    assert_eq!(steady.overlaps + slow.overlaps, 0, "{steady:?} {slow:?}");
    bot.wait_for_log("poller record", 2);
    // The operator sees them in `!plugin info`.
    let info = bot
        .say_as("admin", "", "!plugin info testplugin")
        .await
        .join("\n");
    assert!(info.contains("- **poller** record"), "{info}");
    assert!(info.contains("every 0.2 s"), "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_is_respected_and_stop_stops() {
    let mut bot = TestBot::start_with(options("")).await;
    assert_eq!(bot.one("!poll_start thrice 100 --times 3").await, "started");
    assert_eq!(bot.one("!poll_start forever 100").await, "started");
    let listed = bot.one("!poll_list").await;
    assert!(
        listed.contains(
            r#"record {"fail":false,"name":"thrice","sleep_ms":0} interval=100ms times=Some(3)"#
        ),
        "{listed}"
    );
    wait_ticks(&mut bot, "thrice", 3, Duration::from_secs(20)).await;
    bot.wait_for_log("done after 3 ticks", 1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let thrice = stats(&mut bot, "thrice").await;
    assert_eq!((thrice.ticks, thrice.last), (3, 3), "{thrice:?}");
    // Done means gone: it can be started anew.
    assert_eq!(bot.one("!poll_stop thrice").await, "not running");

    wait_ticks(&mut bot, "forever", 3, Duration::from_secs(20)).await;
    // Started again with other settings: they replace the old ones, the count goes on.
    assert_eq!(
        bot.one("!poll_start forever 150 --times 1000").await,
        "already running"
    );
    bot.wait_for_log("now every 150ms, 1000 times", 1);
    let listed = bot.one("!poll_list").await;
    assert!(
        listed.contains(r#""name":"forever","sleep_ms":0} interval=150ms times=Some(1000) ticks="#),
        "{listed}"
    );
    assert!(
        !listed.contains("thrice"),
        "a poller done is gone: {listed}"
    );
    assert_eq!(bot.one("!poll_stop forever").await, "stopped");
    assert_eq!(bot.one("!poll_stop forever").await, "not running");
    // A tick cancelled by the stop may still land; then nothing more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = stats(&mut bot, "forever").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stats(&mut bot, "forever").await, stopped);
    assert_eq!(bot.one("!poll_list").await, "no pollers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_late_poller_keeps_its_schedule() {
    // Ticks past the plugin's command deadline are cancelled and logged.
    let mut bot = TestBot::start_with(options(
        "[plugins.testplugin]\ncommand_timeout_secs = 0.5\n",
    ))
    .await;
    assert_eq!(bot.one("!poll_start failing 100 --fail").await, "started");
    assert_eq!(
        bot.one("!poll_start late 100 --sleep-ms 2000").await,
        "started"
    );
    let failing = wait_ticks(&mut bot, "failing", 5, Duration::from_secs(20)).await;
    let late = wait_ticks(&mut bot, "late", 3, Duration::from_secs(20)).await;
    assert_eq!(failing.overlaps + late.overlaps, 0, "{failing:?} {late:?}");
    let log = bot.wait_for_log("failing fails on purpose", 1);
    assert!(log.contains("keeps its schedule"), "{log}");
    bot.wait_for_log("no answer within the command deadline (0.5 s)", 1);
    let listed = bot.one("!poll_list").await;
    assert!(
        listed.contains(r#"last_error="failing fails on purpose (tick "#),
        "{listed}"
    );
    assert!(
        listed.contains(r#"last_error="no answer within the command deadline (0.5 s)""#),
        "{listed}"
    );
    assert!(!listed.contains("failures=0 "), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_survives_a_sigkill_and_a_reload_of_its_plugin() {
    let mut bot = TestBot::start_with(options("")).await;
    assert_eq!(bot.one("!poll_start survivor 150").await, "started");
    let before = wait_ticks(&mut bot, "survivor", 2, Duration::from_secs(20)).await;

    // SIGKILL: the plugin does not start its poller again (the test plugin starts none in
    // activation); errbotd's schedule goes on with the new process.
    let pid = bot.child_pid("testplugin");
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill the plugin");
    let new_pid = wait_new_pid(&bot, pid).await;
    let after_kill = wait_ticks(
        &mut bot,
        "survivor",
        before.ticks + 3,
        Duration::from_secs(30),
    )
    .await;
    assert!(after_kill.last > before.last, "{before:?} {after_kill:?}");

    // A zero-downtime reload keeps it too.
    let reloaded = bot.say_as("admin", "", "!plugin reload testplugin").await;
    assert!(
        reloaded.iter().any(|r| r.contains("reloaded")),
        "{reloaded:?}"
    );
    assert_ne!(wait_new_pid(&bot, new_pid).await, new_pid);
    let after_reload = wait_ticks(
        &mut bot,
        "survivor",
        after_kill.ticks + 3,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(after_reload.overlaps, 0, "{after_reload:?}");
    assert_eq!(bot.one("!poll_start survivor 150").await, "already running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_the_plugin_stops_its_pollers() {
    let mut bot = TestBot::start_with(options("")).await;
    assert_eq!(bot.one("!poll_start parked 100").await, "started");
    wait_ticks(&mut bot, "parked", 2, Duration::from_secs(20)).await;
    let off = bot
        .say_as("admin", "", "!plugin deactivate testplugin")
        .await;
    assert!(off.iter().any(|r| r.contains("deactivated")), "{off:?}");
    bot.wait_for_log("pollers stopped (deactivated): record", 1);
    let on = bot.say_as("admin", "", "!plugin activate testplugin").await;
    assert!(on.iter().any(|r| r.contains("activated")), "{on:?}");
    let stopped = stats(&mut bot, "parked").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        stats(&mut bot, "parked").await,
        stopped,
        "no tick after deactivation"
    );
    // Not running any more: starting it is a new start.
    assert_eq!(bot.one("!poll_start parked 100").await, "started");
}

/// The Python example starts its heartbeat poller in Activate; the process that replaces a killed
/// one starts it again, and errbotd answers that it runs already (its schedule kept).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_finds_its_poller_running_after_a_restart() {
    let mut bot = TestBot::start_with(Options {
        bundled: true,
        ..Default::default()
    })
    .await;
    bot.wait_for_log("poller heartbeat started: every 60s", 1);
    bot.wait_for_log("heartbeat poller started: every 60 s", 1);
    let pid = bot.child_pid("python-hello");
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill the plugin");
    bot.wait_for_log("heartbeat poller already running", 1);
    assert_eq!(
        bot.one("!pyheartbeats").await,
        "0 heartbeats, one every 60 s."
    );
    let log = bot.log();
    assert_eq!(
        log.matches("poller heartbeat started").count(),
        1,
        "started once only:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_disabled_by_a_configuration_reload_loses_its_pollers() {
    let mut bot = TestBot::start_with(options("")).await;
    let original = std::fs::read_to_string(bot.config_path()).expect("errbot.toml");
    assert_eq!(bot.one("!poll_start removed 100").await, "started");
    wait_ticks(&mut bot, "removed", 2, Duration::from_secs(20)).await;

    let disabled = format!("{original}\n[plugins.testplugin]\ndisabled = true\n");
    std::fs::write(bot.config_path(), disabled).expect("write errbot.toml");
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{out}{err}");
    bot.wait_for_log("pollers stopped", 1);

    std::fs::write(bot.config_path(), &original).expect("write errbot.toml");
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(bot.one("!poll_list").await, "no pollers");
    let stopped = stats(&mut bot, "removed").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stats(&mut bot, "removed").await, stopped);
}
