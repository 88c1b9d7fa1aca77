//! End-to-end fault injection: real processes killed, stopped and reloaded under load, and what
//! the bot's users see meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use errbot_tests::{Options, TestBot, alive, children_of, inject};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn signal(pid: u32, sig: Signal) {
    kill(Pid::from_raw(pid as i32), sig).expect("signal the process");
}

const SOME_ERROR: &str = "Computer says nooo. See logs for details:\n";

fn options(extra: &str) -> Options {
    Options {
        bundled: true,
        test_plugin: true,
        extra: extra.to_owned(),
        ..Default::default()
    }
}

/// Sends `!pid` until a process other than `old` answers; returns the new pid and how long it
/// took since `since`.
async fn wait_new_pid(bot: &TestBot, old: u32, since: Instant) -> (u32, Duration) {
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
            return (pid, since.elapsed());
        }
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "the plugin did not serve again:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// What one command of the load expects.
#[derive(Clone, Copy)]
struct Job {
    body: &'static str,
    expect: &'static str,
    /// An error reply is acceptable (the command went to the plugin that was killed).
    may_fail: bool,
}

/// Runs `total` jobs (cycling through `jobs`) from `senders` concurrent senders; returns
/// (job, replies) for every command.
async fn load(
    bot: &TestBot,
    jobs: &'static [Job],
    total: usize,
    senders: usize,
) -> Vec<(Job, Vec<String>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (next, mut driver) = (next.clone(), bot.driver());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return out;
                }
                let job = jobs[i % jobs.len()];
                let replies = match driver.converse(inject(job.body, "tester", "")).await {
                    Ok(r) => r.into_inner().replies.into_iter().map(|m| m.text).collect(),
                    Err(e) => vec![format!("<driver error: {e}>")],
                };
                out.push((job, replies));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("sender task"));
    }
    all
}

static THREE_PLUGINS: [Job; 3] = [
    Job {
        body: "!hello",
        expect: "Hello, world!",
        may_fail: false,
    },
    Job {
        body: "!pyadd 2 40",
        expect: "42",
        may_fail: false,
    },
    Job {
        body: "!raw x",
        expect: "raw=[x] argv=[\"x\"]",
        may_fail: true,
    },
];

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_under_load_spares_other_plugins_and_every_command_is_answered() {
    let mut bot = TestBot::start_with(options(
        "[plugins.testplugin.supervision]\nmax_restarts = 50\n",
    ))
    .await;
    let victim = bot.child_pid("testplugin");
    assert!(victim > 0);
    let runner = load(&bot, &THREE_PLUGINS, 1000, 16);
    let killer = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        signal(victim, Signal::SIGKILL);
        wait_new_pid(&bot, victim, Instant::now()).await
    };
    let (results, (new_pid, back_after)) = tokio::join!(runner, killer);
    assert_eq!(results.len(), 1000);
    let (mut answered, mut errors) = (0, 0);
    for (job, replies) in &results {
        assert_eq!(replies.len(), 1, "{}: {replies:?}", job.body);
        let reply = &replies[0];
        if reply == job.expect {
            answered += 1;
        } else {
            assert!(
                job.may_fail && reply.starts_with(SOME_ERROR),
                "{} got {reply:?}",
                job.body
            );
            errors += 1;
        }
    }
    println!(
        "1000 commands: {answered} answered, {errors} clear errors (all for the killed plugin); \
         serving again {:.0} ms after the kill",
        back_after.as_secs_f64() * 1000.0
    );
    assert_ne!(new_pid, victim);
    let child = bot.child("testplugin");
    assert_eq!(child["state"], "running", "{child}");
    assert_eq!(child["restarts"], 1, "{child}");
    assert!(
        child["last_exit"]
            .as_str()
            .is_some_and(|e| e.contains("SIGKILL")),
        "{child}"
    );
    assert_eq!(bot.child("hello")["restarts"], 0);
    let status = bot.one("!status").await;
    let row = format!("| testplugin (plugin) | running | {new_pid} | ");
    assert!(status.contains(&row), "{status}");
    assert!(
        status.contains(" | 1 | killed by signal SIGKILL |"),
        "{status}"
    );
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_time_after_sigkill_over_20_kills() {
    // A constant restart delay, so that every kill measures the same thing: the delay (about
    // 100 ms) plus starting, describing and activating the new process.
    let mut bot = TestBot::start_with(options(
        "[plugins.testplugin.supervision]\nmax_restarts = 100\nrestart_delay_max_secs = 0.1\n",
    ))
    .await;
    let mut times = Vec::new();
    for _ in 0..20 {
        let pid = bot.child_pid("testplugin");
        signal(pid, Signal::SIGKILL);
        let (_, took) = wait_new_pid(&bot, pid, Instant::now()).await;
        times.push(took);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "restart after SIGKILL over 20 kills: p50 {:.0} ms, max {:.0} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    assert_eq!(bot.child("testplugin")["restarts"], 20);
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_crashing_at_start_is_marked_failed_and_admins_are_warned() {
    let plugins = tempfile::tempdir().expect("temp dir");
    let dir = plugins.path().join("crasher");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("plugin.toml"),
        "[plugin]\nname = \"crasher\"\ncommand = [\"sh\", \"-c\", \"echo boom >&2; exit 7\"]\n",
    )
    .expect("write manifest");
    let mut bot = TestBot::start_with(Options {
        plugin_dirs: vec![plugins.path().to_owned()],
        extra: "[plugins.crasher.supervision]\nmax_restarts = 3\nrestart_delay_secs = 0.4\n".into(),
        ..options("")
    })
    .await;
    let mut outbox = bot.outbox().await;
    let warning = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(m)) = outbox.message().await {
            if m.text.contains("crasher") {
                return Some(m);
            }
        }
        None
    })
    .await
    .expect("a warning within 20 s")
    .expect("outbox open");
    assert_eq!(
        warning.to.as_ref().map(|t| t.person.as_str()),
        Some("@admin")
    );
    assert!(
        warning
            .text
            .starts_with("Plugin crasher has failed and will not be restarted:"),
        "{}",
        warning.text
    );
    assert!(
        warning.text.contains("exited with status 7"),
        "{}",
        warning.text
    );
    assert!(
        warning.text.contains("gave up after 3 restarts"),
        "{}",
        warning.text
    );
    let child = bot.child("crasher");
    assert_eq!(child["state"], "failed", "{child}");
    assert_eq!(child["restarts"], 3, "{child}");
    assert!(bot.log().contains("boom"), "its stderr reaches the log");
    // The rest of the bot is unaffected, and status says what happened.
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    let status = bot.say_as("admin", "", "!status plugins").await.join("\n");
    assert!(status.contains("| F | crasher ("), "{status}");
    // Activating it again tries again (and fails again, with the reason).
    let (code, _, err) = bot.ctl(&["plugin", "activate", "crasher"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Error activating plugin:"), "{err}");
    assert!(err.contains("exited with status 7"), "{err}");
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn stopped_plugin_is_killed_and_replaced_and_its_pending_command_answered() {
    let mut bot = TestBot::start_with(options(
        "[plugins.testplugin.supervision]\nhealth_interval_secs = 0.5\n\
         health_timeout_secs = 0.5\nhealth_failures = 2\n",
    ))
    .await;
    let pid = bot.child_pid("testplugin");
    let mut driver = bot.driver();
    let pending = tokio::spawn(async move {
        let r = driver.converse(inject("!slow 10000", "tester", "")).await;
        (r.map(|r| r.into_inner().replies), Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(pid, Signal::SIGSTOP);
    let stopped_at = Instant::now();
    let (replies, answered_at) = pending.await.expect("task");
    let replies = replies.expect("converse");
    assert_eq!(replies.len(), 1, "{replies:?}");
    let text = &replies[0].text;
    assert!(text.starts_with(SOME_ERROR), "{text}");
    assert!(
        text.contains("stopped while running the command (killed by errbotd: it did not answer its health check"),
        "{text}"
    );
    let (new_pid, back_after) = wait_new_pid(&bot, pid, stopped_at).await;
    println!(
        "SIGSTOP: pending command answered after {:.0} ms, new process serving after {:.0} ms",
        (answered_at - stopped_at).as_secs_f64() * 1000.0,
        back_after.as_secs_f64() * 1000.0
    );
    assert_ne!(new_pid, pid);
    assert!(!alive(pid), "the stopped process was killed");
    assert!(
        bot.child("testplugin")["last_exit"]
            .as_str()
            .is_some_and(|e| e.contains("health check")),
    );
    assert_eq!(bot.stop(), Some(0));
}

static TO_TESTPLUGIN: [Job; 2] = [
    Job {
        body: "!raw a",
        expect: "raw=[a] argv=[\"a\"]",
        may_fail: false,
    },
    Job {
        body: "!slow 30",
        expect: "slept 30 ms",
        may_fail: false,
    },
];

#[tokio::test(flavor = "multi_thread")]
async fn reload_under_continuous_load_fails_no_command() {
    let mut bot = TestBot::start_with(options("")).await;
    let first = bot.child_pid("testplugin");
    let runner = load(&bot, &TO_TESTPLUGIN, 1500, 8);
    let reloader = async {
        let mut pids = Vec::new();
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let (code, out, err) = bot.ctl(&["plugin", "reload", "testplugin"]);
            assert_eq!(
                (code, out.trim()),
                (0, "Plugin testplugin reloaded."),
                "{err}"
            );
            pids.push(bot.child_pid("testplugin"));
        }
        pids
    };
    let (results, pids) = tokio::join!(runner, reloader);
    let failed: Vec<_> = results
        .iter()
        .filter(|(job, replies)| replies.len() != 1 || replies[0] != job.expect)
        .map(|(job, replies)| format!("{} -> {replies:?}", job.body))
        .collect();
    assert!(failed.is_empty(), "{} failed: {failed:?}", failed.len());
    assert!(
        !pids.contains(&first) && pids.iter().all(|p| *p > 0),
        "{pids:?}"
    );
    // Reload from chat too, as an admin.
    assert_eq!(
        bot.say_as("admin", "", "!plugin reload testplugin").await,
        ["Plugin testplugin reloaded."]
    );
    // Old processes are gone once drained; the slot counts no restart for a reload.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!alive(first));
    assert_eq!(bot.child("testplugin")["restarts"], 0);
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_activate_deactivate_and_reload_from_chat_and_errbotctl() {
    let mut bot = TestBot::start_with(options("")).await;
    assert_eq!(
        bot.one("!plugin deactivate hello").await,
        "This command requires bot-admin privileges"
    );
    assert_eq!(
        bot.say_as("admin", "", "!plugin deactivate hello").await,
        ["Plugin hello deactivated."]
    );
    let gone = bot.one("!hello").await;
    assert!(gone.starts_with("Command \"hello\" not found."), "{gone}");
    assert_eq!(bot.child("hello")["state"], "deactivated");
    assert_eq!(bot.child_pid("hello"), 0);
    let (code, _, err) = bot.ctl(&["plugin", "deactivate", "hello"]);
    assert_eq!(
        (code, err.trim()),
        (1, "errbotctl: hello is already deactivated.")
    );
    let reload = bot.say_as("admin", "", "!plugin reload hello").await;
    assert_eq!(
        reload,
        [
            "Warning: plugin hello is currently not activated. Use `!plugin activate hello` to \
             activate it.",
            "Plugin hello reloaded."
        ]
    );
    let (code, out, _) = bot.ctl(&["plugin", "activate", "hello"]);
    assert_eq!((code, out.trim()), (0, "Plugin hello activated."));
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    let (code, _, err) = bot.ctl(&["--json", "plugin", "activate", "hello"]);
    assert_eq!(
        (code, err.trim()),
        (1, "errbotctl: hello is already activated.")
    );
    let unknown = bot.say_as("admin", "", "!plugin reload nosuch").await;
    assert!(
        unknown[0].starts_with("nosuch isn't a valid plugin name. The current plugins are:\n- "),
        "{unknown:?}"
    );
    assert!(unknown[0].contains("\n- testplugin"), "{unknown:?}");
    let usage = bot.say_as("admin", "", "!plugin activate").await;
    assert!(
        usage[0].starts_with("Please tell me which of the following plugins to activate:\n- "),
        "{usage:?}"
    );
    let (code, out, _) = bot.ctl(&["plugin", "reload", "nosuch"]);
    assert_eq!(code, 1, "{out}");
    // The human status lists every child with its state and pid.
    let (code, out, _) = bot.ctl(&["status"]);
    assert_eq!(code, 0);
    for name in ["test", "hello", "python-hello", "testplugin"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(name) && l.contains("running")),
            "{name}: {out}"
        );
    }
    assert_eq!(bot.stop(), Some(0));
}

/// Every descendant of `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in children_of(p) {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_of_errbotd_leaves_no_process_behind() {
    let mut bot = TestBot::start_with(options("")).await;
    let tree = descendants(bot.process.id());
    assert_eq!(tree.len(), 4, "gateway and three plugins: {tree:?}");
    let _ = bot.process.kill();
    let _ = bot.process.wait();
    let killed = Instant::now();
    while tree.iter().any(|p| alive(*p)) && killed.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let left: Vec<u32> = tree.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        left.is_empty(),
        "still alive 1 s after errbotd's SIGKILL: {left:?}"
    );
    println!(
        "every child gone {:.1} ms after SIGKILL of errbotd",
        killed.elapsed().as_secs_f64() * 1000.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_deactivates_the_plugins_and_exits_zero() {
    let mut bot = TestBot::start_with(options("")).await;
    let tree = descendants(bot.process.id());
    assert_eq!(bot.stop(), Some(0));
    assert!(tree.iter().all(|p| !alive(*p)), "{tree:?}");
    let log = bot.log();
    assert!(log.contains("python-hello: deactivated"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_flooding_stderr_is_not_slowed_and_the_bot_keeps_answering() {
    let mut bot = TestBot::start_with(options("")).await;
    let mut driver = bot.driver();
    let spew = tokio::spawn(async move {
        driver
            .converse(inject("!spew 100", "tester", ""))
            .await
            .map(|r| r.into_inner().replies)
    });
    // errbotd answers while the flood goes on.
    assert_eq!(bot.one("!echo still here").await, "still here");
    let replies = spew.await.expect("task").expect("converse");
    let text = &replies[0].text;
    assert!(text.starts_with("wrote 100 MB in "), "{text}");
    println!("stderr flood through errbotd: {text}");
    assert_eq!(bot.one("!raw ok").await, "raw=[ok] argv=[\"ok\"]");
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn gateway_restart_delivers_pending_replies_and_later_messages() {
    let mut bot = TestBot::start_with(options("")).await;
    let gateway = bot.child_pid("test");
    // A reply still being computed when the gateway dies...
    bot.driver()
        .inject(inject("!slow 1500", "tester", ""))
        .await
        .expect("inject");
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(gateway, Signal::SIGKILL);
    let killed = Instant::now();
    // ...and a message sent while it is down, retried by its sender as a chat service does.
    let during = loop {
        match bot.try_say("!echo sent meanwhile").await {
            Ok(replies) => break replies,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
        assert!(killed.elapsed() < Duration::from_secs(20), "{}", bot.log());
    };
    println!(
        "gateway serving again after {:.0} ms",
        killed.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(during, ["sent meanwhile"]);
    let mut outbox = bot.outbox().await;
    let late = tokio::time::timeout(Duration::from_secs(10), outbox.message())
        .await
        .expect("the pending reply arrives")
        .expect("outbox")
        .expect("a message");
    assert_eq!(late.text, "slept 1500 ms");
    let child = bot.child("test");
    assert_eq!(child["restarts"], 1, "{child}");
    assert_ne!(child["pid"], gateway);
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_command_deadline_is_answered_in_time_and_others_keep_theirs() {
    let mut bot = TestBot::start_with(options(
        "[plugins.testplugin]\ncommand_timeout_secs = 0.3\n",
    ))
    .await;
    let sent = Instant::now();
    let text = bot.one("!slow 3000").await;
    let took = sent.elapsed();
    assert_eq!(
        text,
        format!("{SOME_ERROR}!slow did not finish within 0.3 s"),
        "after {took:?}"
    );
    // The plugin was told: the command stops there, it does not run on unseen.
    bot.wait_for_log("slow 3000 ms: cancelled", 1);
    assert_eq!(bot.one("!slow 10").await, "slept 10 ms");
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    assert_eq!(bot.stop(), Some(0));
}
