//! End-to-end: the text console on a pipe, as README's run command uses it, and the process tree.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use errbot_tests::{alive, binary, children_of, shared_venv_dir};

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("errbot.toml");
    let text = format!(
        "[bot]\nadmins = [\"@admin\"]\n\n[paths]\ndata_dir = \"data\"\nplugin_dirs = []\nvenv_dir = {:?}\n",
        shared_venv_dir().display().to_string()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn piped_console_answers_every_line_in_order_and_exits_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut errbotd = Command::new(binary("errbotd"))
        .arg("--config")
        .arg(config(dir.path()))
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start errbotd");
    let pid = errbotd.id();
    let mut stdin = errbotd.stdin.take().expect("stdin");
    // While errbotd runs: one gateway and one process per plugin (hello, python-hello), all
    // children of errbotd. The bot is started once its first reply is printed.
    stdin.write_all(b"!echo started\n").expect("write");
    let mut stdout = errbotd.stdout.take().expect("stdout");
    let mut first = [0u8; 8];
    stdout.read_exact(&mut first).expect("first reply");
    assert_eq!(&first, b"started\n");
    let children = children_of(pid);
    let names: Vec<String> = children
        .iter()
        .filter_map(|c| std::fs::read_to_string(format!("/proc/{c}/comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect();
    assert_eq!(children.len(), 3, "children of errbotd: {names:?}");
    assert!(names.iter().any(|n| n == "errbot-gateway"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("errbot-plugin-h")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("python")), "{names:?}");

    stdin
        .write_all(b"!help\n!hello\n!echo hi there\n!pyhello\n!nosuchcmd\n!inroom #ops\n!whoami\n")
        .expect("write");
    drop(stdin);
    let mut out = String::new();
    stdout.read_to_string(&mut out).expect("read stdout");
    let status = errbotd.wait().expect("wait");
    let mut err = String::new();
    errbotd
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    assert!(
        status.success(),
        "errbotd exited with {status}\nstdout:\n{out}\nstderr:\n{err}"
    );

    // Replies come in input order, and stdout holds replies only (logs go to stderr).
    let help_at = out.find("### All commands").expect("help listing");
    let hello_at = out.find("\nHello, world!\n").expect("hello");
    let echo_at = out.find("\nhi there\n").expect("echo");
    let py_at = out.find("Hello from Python 3.").expect("python plugin");
    let nf_at = out
        .find("Command \"nosuchcmd\" not found.")
        .expect("not found");
    assert!(
        help_at < hello_at && hello_at < echo_at && echo_at < py_at && py_at < nf_at,
        "{out}"
    );
    assert!(out.contains("Joined Room #ops."), "{out}");
    assert!(out.contains("| room | `#ops` |"), "{out}");
    assert!(
        !out.contains("INFO") && !out.contains("errbotd ready"),
        "logs on stdout:\n{out}"
    );
    assert!(err.contains("errbotd ready in"), "{err}");

    // Afterwards no process of the tree remains.
    let deadline = Instant::now() + Duration::from_secs(2);
    while children.iter().any(|&c| alive(c)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<u32> = children.iter().copied().filter(|&c| alive(c)).collect();
    assert!(left.is_empty(), "children still alive after exit: {left:?}");
}

#[test]
fn embedded_defaults_run_the_bundled_plugins() {
    // No errbot.toml at all: text console, data in ./data, the bundled plugins.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    let mut errbotd = Command::new(binary("errbotd"))
        .current_dir(dir.path())
        .env("ERRBOT_VENV_DIR", shared_venv_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start errbotd");
    errbotd
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"!hello\n!status plugins\n")
        .expect("write");
    let out = errbotd.wait_with_output().expect("output");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Hello, world!\n"), "{text}");
    assert!(text.contains("| A | hello |"), "{text}");
    assert!(dir.path().join("data").is_dir());
}

/// Rich output on the console's pipe: a template arrives rendered, a card as lines, and what a
/// console cannot do (files, reactions, presence) is refused with a sentence saying so.
#[test]
fn piped_console_renders_templates_and_says_what_it_cannot_do() {
    let (ok, out) = errbot_tests::console_pipe(
        &["tests/callback-plugins"],
        "!forecast Paris\n!upload\n!thumbs\n!away\n",
    );
    assert!(ok, "{out}");
    for want in [
        "**Paris** · 21 °C · 23 °C\nWarm.",
        "the console backend cannot send files",
        "the console backend has no reactions",
        "presence set; unsupported: [\"console: the console backend cannot show the bot's presence\"]",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}
