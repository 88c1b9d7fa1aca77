//! errbotctl end to end: every command against a real errbotd (text and --json), what it says
//! and how it exits when errbotd is not running, and who may use the control socket.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use errbot_tests::{TestBot, binary, errbotctl};
use nix::sys::signal::Signal;

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A configuration whose data directory holds no control socket.
fn idle_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("errbot.toml");
    std::fs::write(&path, "[paths]\ndata_dir = \"data\"\n").expect("write config");
    path
}

#[test]
fn every_command_says_when_errbotd_is_not_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = idle_config(dir.path());
    let commands: &[&[&str]] = &[
        &["status"],
        &["shutdown"],
        &["plugin", "list"],
        &["plugin", "info", "hello"],
        &["plugin", "activate", "hello"],
        &["plugin", "blacklist", "hello"],
        &["reload-config"],
        &["logs", "-n", "3"],
        &["logs", "--follow"],
        &["send", "--to", "@alice", "hi"],
    ];
    for args in commands {
        for json_flag in [false, true] {
            let mut all: Vec<&str> = args.to_vec();
            if json_flag {
                all.push("--json");
            }
            let (code, out, err) = errbotctl(&config, &all, "");
            assert_eq!(code, 3, "{all:?}: {out}{err}");
            assert!(
                err.contains("errbotd is not running (no control socket at"),
                "{all:?}: {err}"
            );
            assert!(out.is_empty(), "{all:?} printed {out:?}");
        }
    }
    // A socket left behind by an errbotd that died: nothing answers on it.
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    let stale =
        std::os::unix::net::UnixListener::bind(dir.path().join("data/errbotd.sock")).expect("bind");
    drop(stale);
    let (code, _, err) = errbotctl(&config, &["status"], "");
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("errbotd is not running (cannot connect to"),
        "{err}"
    );
}

#[tokio::test]
async fn plugin_list_and_info_show_what_the_chat_commands_show() {
    let mut bot = TestBot::start().await;
    let (code, out, err) = bot.ctl(&["plugin", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("A hello"), "{out}");
    assert!(out.contains("A Help"), "{out}");
    assert!(out.contains("A = Activated"), "{out}");

    let (code, out, _) = bot.ctl(&["plugin", "list", "--json"]);
    assert_eq!(code, 0);
    let list = json(&out);
    let plugins = list["plugins"].as_array().expect("plugins");
    let chat = bot.one("!status plugins").await;
    for p in plugins {
        let row = format!(
            "| {} | {} |",
            p["letter"].as_str().unwrap_or("?"),
            p["name"].as_str().unwrap_or("?")
        );
        assert!(chat.contains(&row), "{row} not in !status plugins:\n{chat}");
    }
    let hello = plugins
        .iter()
        .find(|p| p["name"] == "hello")
        .expect("hello is listed");
    assert_eq!(hello["state"], "running");
    assert!(
        plugins
            .iter()
            .any(|p| p["name"] == "Help" && p["state"] == "builtin")
    );

    let pid = bot.child_pid("hello");
    let (code, out, err) = bot.ctl(&["plugin", "info", "hello"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("hello\n"), "{out}");
    assert!(
        out.contains(&format!("running (pid {pid}, 0 restarts)")),
        "{out}"
    );
    assert!(out.contains("hello:hello"), "{out}");

    let (code, out, _) = bot.ctl(&["--json", "plugin", "info", "HELLO"]);
    assert_eq!(code, 0);
    let info = json(&out);
    assert_eq!(info["name"], "hello");
    assert_eq!(info["pid"], pid);
    let chat = bot
        .say_as("admin", "", "!plugin info hello")
        .await
        .join("\n");
    let commands = info["commands"].as_array().expect("commands");
    assert!(!commands.is_empty());
    for c in commands {
        let c = c.as_str().expect("a name");
        assert!(
            chat.contains(&format!("`{c}`")),
            "{c} not in !plugin info:\n{chat}"
        );
    }

    let (code, out, err) = bot.ctl(&["plugin", "info", "nosuch"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.contains("nosuch isn't a valid plugin name. The current plugins are:"),
        "{err}"
    );
    assert!(err.contains("- hello"), "{err}");
}

#[tokio::test]
async fn blacklist_and_unblacklist_from_errbotctl() {
    let mut bot = TestBot::start().await;
    let (code, out, err) = bot.ctl(&["plugin", "blacklist", "hello"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Plugin hello is now blacklisted.");
    assert!(
        bot.one("!hello")
            .await
            .starts_with("Command \"hello\" not found.")
    );
    assert_eq!(bot.child("hello")["state"], "blacklisted");
    let (code, _, err) = bot.ctl(&["plugin", "blacklist", "hello"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "errbotctl: Plugin hello is already blacklisted."
    );
    // Built-in plugins too, as in Errbot, but the one holding `!plugin`.
    let (code, out, err) = bot.ctl(&["plugin", "blacklist", "ChatRoom"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Plugin ChatRoom is now blacklisted.");
    assert!(bot.one("!room list").await.contains("not found"));
    assert!(
        bot.one("!status plugins")
            .await
            .contains("| B,D | ChatRoom |")
    );
    let (code, out, err) = bot.ctl(&["plugin", "unblacklist", "ChatRoom"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Plugin ChatRoom removed from blacklist.");
    assert!(!bot.one("!room list").await.contains("not found"));
    let (code, _, err) = bot.ctl(&["plugin", "blacklist", "Plugins"]);
    assert_eq!(code, 1);
    assert!(err.contains("Plugins holds `!plugin` itself"), "{err}");
    let (code, out, err) = bot.ctl(&["plugin", "deactivate", "Utils"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Plugin Utils deactivated.");
    assert!(bot.one("!echo hi").await.contains("not found"));
    assert!(bot.one("!status plugins").await.contains("| D | Utils |"));
    let (code, out, err) = bot.ctl(&["plugin", "activate", "Utils"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Plugin Utils activated.");
    assert_eq!(bot.one("!echo hi").await, "hi");

    let (code, out, err) = bot.ctl(&["--json", "plugin", "unblacklist", "hello"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json(&out)["message"],
        "Plugin hello removed from blacklist."
    );
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    let (code, _, err) = bot.ctl(&["plugin", "unblacklist", "hello"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "errbotctl: Plugin hello is not blacklisted.");
}

#[test]
fn config_check_names_the_file_line_and_key_without_errbotd() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = idle_config(dir.path());
    let (code, out, err) = errbotctl(&good, &["config", "check"], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!("{}: configuration is valid", good.display())
    );
    let (code, out, _) = errbotctl(&good, &["config", "check", "--json"], "");
    assert_eq!(code, 0);
    assert_eq!(json(&out)["valid"], true);

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[bot]\nprefix = \"!\"\nprefx = \"?\"\n").expect("write");
    let want = format!(
        "{}:3:1: key `bot.prefx`: unknown field `prefx`",
        bad.display()
    );
    // FILE given on the command line: errbotctl's own --config (valid) is not what is checked.
    let (code, out, err) = errbotctl(
        &good,
        &["config", "check", bad.to_str().expect("utf-8")],
        "",
    );
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.starts_with(&format!("errbotctl: {want}")), "{err}");
    let (code, out, _) = errbotctl(&bad, &["--json", "config", "check"], "");
    assert_eq!(code, 1);
    let report = json(&out);
    assert_eq!(report["valid"], false);
    let first = report["errors"][0].as_str().expect("an error");
    assert!(first.starts_with(&want), "{first}");

    // The same words as errbotd check-config.
    let errbotd = Command::new(binary("errbotd"))
        .args(["check-config"])
        .arg(&bad)
        .output()
        .expect("errbotd check-config");
    assert!(!errbotd.status.success());
    assert_eq!(String::from_utf8_lossy(&errbotd.stderr).trim(), first);
}

#[tokio::test]
async fn logs_print_the_tail_and_follow_new_lines() {
    let mut bot = TestBot::start().await;
    let (code, out, err) = bot.ctl(&["logs", "-n", "2000"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("errbotd ready in"), "{out}");
    // Children's output is in it too.
    assert!(out.contains("child=hello"), "{out}");
    let (code, out, _) = bot.ctl(&["logs", "-n", "3"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    let (code, out, _) = bot.ctl(&["logs", "-n", "4", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4, "{out}");
    for line in out.lines() {
        assert!(json(line)["line"].is_string(), "{line}");
    }

    // Follow, then make errbotd log something new.
    let (mut follower, lines) = follow(&bot, &[]);
    let seen = until_marker(&bot, &lines, "followme");
    let last = seen.last().map(String::as_str).unwrap_or_default();
    assert!(
        last.contains("INFO errbotd::control: errbotctl send to @followme"),
        "{last}"
    );
    // Ctrl-C ends it cleanly.
    signal(&follower, Signal::SIGINT);
    let status = follower.wait().expect("wait");
    assert_eq!(status.code(), Some(0));

    // The admins' chat command reads the same ring.
    let reply = bot.say_as("admin", "", "!log tail 3").await;
    assert_eq!(reply.len(), 1, "{reply:?}");
    let body = reply[0]
        .strip_prefix("```\n")
        .and_then(|r| r.strip_suffix("\n```"))
        .unwrap_or_else(|| panic!("a code block: {}", reply[0]));
    assert_eq!(body.lines().count(), 3, "{body}");
    assert_eq!(
        bot.say_as("tester", "", "!log tail").await,
        ["This command requires bot-admin privileges"]
    );
}

/// `errbotctl logs -n 0 --follow [ARGS]` for `bot`, and the lines it prints.
fn follow(bot: &TestBot, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut follower = Command::new(binary("errbotctl"))
        .arg("--config")
        .arg(bot.config_path())
        .args(["logs", "-n", "0", "--follow"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("errbotctl logs --follow");
    let stdout = follower.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (follower, rx)
}

/// Makes errbotd log lines naming `@<marker><n>` (errbotctl send), until the follower prints
/// one; returns what it printed up to that line. The first ones may be logged before the
/// follower subscribed.
fn until_marker(bot: &TestBot, lines: &mpsc::Receiver<String>, marker: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for attempt in 0..100 {
        let to = format!("@{marker}{attempt}");
        let (code, _, err) = bot.ctl(&["send", "--to", &to, "hi"]);
        assert_eq!(code, 0, "{err}");
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(300)) {
            let found = line.contains(&format!("@{marker}"));
            seen.push(line);
            if found {
                return seen;
            }
        }
    }
    panic!("the follower printed no line naming @{marker}: {seen:?}");
}

fn signal(child: &Child, signal: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).expect("signal");
}

#[tokio::test]
async fn a_stalled_follower_holds_nothing_back_and_is_told_what_it_missed() {
    let mut bot = TestBot::start().await;
    let (mut follower, lines) = follow(&bot, &["--json"]);
    until_marker(&bot, &lines, "connected");
    signal(&follower, Signal::SIGSTOP);
    // A plugin's stderr floods errbotd's log while the follower reads nothing: errbotd keeps
    // answering. Under load, errbotd drops some of a child's output before it reaches the log,
    // so the flood goes on until the ring (2000 lines) holds at least 1800 flood lines: more
    // than the follower's backlog (1024) and the socket buffers together, so it must lag.
    let mut floods = 0;
    loop {
        let replies = bot.say("!spew 8").await;
        assert!(replies[0].starts_with("wrote 8 MB in "), "{replies:?}");
        floods += 1;
        let (code, out, err) = bot.ctl(&["logs", "-n", "2000"]);
        assert_eq!(code, 0, "{err}");
        let flood_lines = out.lines().filter(|l| l.contains("xxxxxxxxxx")).count();
        if flood_lines >= 1800 {
            break;
        }
        assert!(floods < 20, "only {flood_lines} flood lines in the ring");
    }
    assert_eq!(bot.one("!echo still here").await, "still here");
    signal(&follower, Signal::SIGCONT);
    let seen = until_marker(&bot, &lines, "resumed");
    let dropped: u64 = seen
        .iter()
        .filter_map(|l| json(l)["dropped"].as_u64())
        .sum();
    assert!(dropped > 0, "no dropped count among {} lines", seen.len());
    println!(
        "the stalled follower missed {dropped} lines, then got {} more",
        seen.len()
    );
    signal(&follower, Signal::SIGINT);
    assert_eq!(follower.wait().expect("wait").code(), Some(0));
}

#[tokio::test]
async fn send_says_something_as_the_bot() {
    let bot = TestBot::start().await;
    let mut outbox = bot.outbox().await;
    let (code, out, err) = bot.ctl(&["send", "--to", "@alice", "hello", "from", "the", "shell"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "sent to @alice on test");
    let sent = outbox.message().await.expect("outbox").expect("a message");
    assert_eq!(sent.text, "hello from the shell");
    let to = sent.to.expect("a recipient");
    assert_eq!((to.person.as_str(), to.room.as_str()), ("@alice", ""));

    // Text on stdin, to a room, through a named backend, with --json.
    let (code, out, err) = bot.errbotctl(
        &["--json", "send", "--backend", "test", "--to", "#ops"],
        "line one\nline two\n",
    );
    assert_eq!(code, 0, "{err}");
    let answer = json(&out);
    assert_eq!(answer["backend"], "test");
    assert_eq!(answer["to"], "#ops");
    assert!(
        answer["message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let sent = outbox.message().await.expect("outbox").expect("a message");
    assert_eq!(sent.text, "line one\nline two");
    assert_eq!(sent.to.expect("a recipient").room, "#ops");

    let (code, _, err) = bot.ctl(&["send", "--backend", "nosuch", "--to", "@alice", "hi"]);
    assert_eq!(code, 1);
    assert!(err.contains("no backend named \"nosuch\""), "{err}");
    let (code, _, err) = bot.ctl(&["send", "--to", "not an id", "hi"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = bot.errbotctl(&["send", "--to", "@alice"], "  \n");
    assert_eq!(code, 2);
    assert!(err.contains("nothing to send"), "{err}");
}

#[test]
fn completions_man_page_and_help_come_from_the_cli_definition() {
    let run = |args: &[&str]| {
        let out = Command::new(binary("errbotctl"))
            .args(args)
            .output()
            .expect("errbotctl");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        assert!(script.contains("errbotctl"), "{shell}");
        assert!(script.contains("reload-config"), "{shell}: {script}");
    }
    let man = run(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH errbotctl"),
        "{man}"
    );
    assert!(man.contains("reload\\-config"), "{man}");
    let help = run(&["--help"]);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("3  errbotd is not running"), "{help}");
}

#[tokio::test]
async fn the_control_socket_refuses_other_users() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: needs root to run errbotctl as another user");
        return;
    }
    let setpriv = Path::new("/usr/bin/setpriv");
    if !setpriv.is_file() {
        eprintln!("SKIPPED: setpriv (util-linux) is not installed");
        return;
    }
    let bot = TestBot::start_with(errbot_tests::Options::default()).await;
    let socket = bot.dir.path().join("data/errbotd.sock");
    // Let `nobody` reach the socket and run errbotctl: only the peer check stands in its way.
    let place = tempfile::tempdir().expect("temp dir");
    let ctl = place.path().join("errbotctl");
    std::fs::copy(binary("errbotctl"), &ctl).expect("copy errbotctl");
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [
        (place.path(), 0o755),
        (ctl.as_path(), 0o755),
        (bot.dir.path(), 0o711),
        (&bot.dir.path().join("data"), 0o711),
        (socket.as_path(), 0o666),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&ctl)
        .arg("--socket")
        .arg(&socket)
        .arg("status")
        .current_dir(place.path())
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("errbotd refused the connection"), "{err}");
    bot.wait_for_log("refused a control connection from uid 65534", 1);
    // errbotd's own user (root here) still gets in.
    let (code, _, err) = bot.ctl(&["status"]);
    assert_eq!(code, 0, "{err}");
}
