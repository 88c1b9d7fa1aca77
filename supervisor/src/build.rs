//! Building a plugin before it starts (plugin.toml's `build`): the command runs in the plugin's
//! directory, in its own process group, with errbotd's environment (so `CARGO_TARGET_DIR` and
//! the like apply); every line it prints goes into errbotd's log; it is killed after its
//! timeout; a failure is described with its last lines, which is what the operator sees.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// How many of the build's last lines a failure reports.
const TAIL_LINES: usize = 12;

/// Runs `command` in `dir` for plugin `name`, at most `timeout`; then checks that it made
/// `program`. The error is the whole reason, ready for the plugin's status and the admins.
pub async fn run(
    name: &str,
    dir: &Path,
    command: &[String],
    program: &Path,
    timeout: Duration,
) -> Result<(), String> {
    let job = Job {
        name,
        kind: "build",
        timeout_hint: &format!(
            "`build_timeout_secs` in [limits] or [plugins.{name}] of errbot.toml"
        ),
        env: &[],
    };
    run_logged(&job, dir, command, timeout).await?;
    if !program.is_file() {
        return Err(format!(
            "the build `{}` succeeded but did not make {}: plugin.toml's `command` must name \
             the program the build makes",
            shell_words(command),
            program.display()
        ));
    }
    Ok(())
}

/// What a command run by [`run_logged`] is, for its log lines and its failure.
pub struct Job<'a> {
    /// Whose it is (the plugin, the repository): the `plugin` field of its log lines.
    pub name: &'a str,
    /// What it is ("build", "git"): the prefix of its log lines and of its failure.
    pub kind: &'a str,
    /// Which setting sets its deadline, for the failure of one killed for taking too long.
    pub timeout_hint: &'a str,
    /// Environment variables set for it on top of errbotd's.
    pub env: &'a [(&'a str, &'a str)],
}

/// Runs `command` in `dir` beside errbotd (its own process group, killed with errbotd and after
/// `timeout`), every line it prints logged; the error describes the failure with its last
/// lines.
pub async fn run_logged(
    job: &Job<'_>,
    dir: &Path,
    command: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let (name, kind) = (job.name, job.kind);
    let shown = shell_words(command);
    let (first, args) = command
        .split_first()
        .ok_or_else(|| format!("the {kind} command is empty"))?;
    let mut cmd = tokio::process::Command::new(first);
    cmd.args(args)
        .envs(job.env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    crate::child::die_with_errbotd(&mut cmd);
    let mut process = cmd
        .spawn()
        .map_err(|e| format!("the {kind} `{shown}` could not start: {e}"))?;
    let group = Group(process.id());
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let readers = [
        process
            .stdout
            .take()
            .map(|o| forward(name, kind, o, tail.clone())),
        process
            .stderr
            .take()
            .map(|e| forward(name, kind, e, tail.clone())),
    ];
    let status = match tokio::time::timeout(timeout, process.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(format!("the {kind} `{shown}` could not be waited for: {e}")),
        Err(_) => {
            drop(group);
            let _ = process.wait().await;
            return Err(failure(
                kind,
                &shown,
                &format!(
                    "did not finish within {} s ({}) and was killed",
                    timeout.as_secs_f64(),
                    job.timeout_hint
                ),
                &tail,
            ));
        }
    };
    // Whatever the command left running in its group goes with it; its output is read to the
    // end (bounded: a stray process elsewhere may hold the pipes).
    drop(group);
    for reader in readers.into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    }
    if !status.success() {
        let how = match status.code() {
            Some(code) => format!("failed (exit status {code})"),
            None => format!("failed ({status})"),
        };
        return Err(failure(kind, &shown, &how, &tail));
    }
    Ok(())
}

/// The process group of a running build, killed when dropped.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

fn failure(kind: &str, shown: &str, how: &str, tail: &Mutex<VecDeque<String>>) -> String {
    let lines: Vec<String> = tail
        .lock()
        .map(|t| t.iter().cloned().collect())
        .unwrap_or_default();
    if lines.is_empty() {
        format!("the {kind} `{shown}` {how} and printed nothing")
    } else {
        format!(
            "the {kind} `{shown}` {how}; its last lines:\n{}",
            lines.join("\n")
        )
    }
}

/// Logs every line of `stream` (tagged with the plugin) and keeps the last ones in `tail`.
fn forward(
    name: &str,
    kind: &str,
    stream: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
) -> tokio::task::JoinHandle<()> {
    let name = name.to_owned();
    let kind = kind.to_owned();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end();
            if line.trim().is_empty() {
                continue;
            }
            tracing::info!(plugin = %name, "{kind}: {line}");
            if let Ok(mut t) = tail.lock() {
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line.to_owned());
            }
        }
    })
}

/// A command as one would type it, for messages.
pub fn shell_words(command: &[String]) -> String {
    command
        .iter()
        .map(|w| {
            if !w.is_empty() && !w.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    /// A fresh empty directory for one test.
    fn temp_dir(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("errbot-build-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[tokio::test]
    async fn a_failed_build_reports_its_last_lines() {
        let dir = temp_dir("lines");
        let script =
            "for i in $(seq 1 20); do echo line $i; done; echo 'error: it broke' >&2; exit 3";
        let e = run(
            "p",
            dir.as_path(),
            &sh(script),
            &dir.as_path().join("p"),
            Duration::from_secs(30),
        )
        .await
        .expect_err("fails");
        assert!(e.starts_with("the build `sh -c 'for i in"), "{e}");
        assert!(
            e.contains("failed (exit status 3); its last lines:\n"),
            "{e}"
        );
        assert!(e.ends_with("error: it broke"), "{e}");
        assert!(e.contains("line 20") && !e.contains("line 9\n"), "{e}");
    }

    #[tokio::test]
    async fn a_build_is_killed_after_its_timeout() {
        let dir = temp_dir("timeout");
        let started = std::time::Instant::now();
        let script = "echo started; sleep 30 & sleep 30";
        let e = run(
            "p",
            dir.as_path(),
            &sh(script),
            &dir.as_path().join("p"),
            Duration::from_millis(500),
        )
        .await
        .expect_err("times out");
        assert!(started.elapsed() < Duration::from_secs(10), "{e}");
        assert!(e.contains("did not finish within 0.5 s"), "{e}");
        assert!(e.contains("build_timeout_secs"), "{e}");
        assert!(e.ends_with("its last lines:\nstarted"), "{e}");
    }

    #[tokio::test]
    async fn a_build_must_make_the_program() {
        let dir = temp_dir("program");
        let program = dir.as_path().join("bin/p");
        let e = run(
            "p",
            dir.as_path(),
            &sh("true"),
            &program,
            Duration::from_secs(30),
        )
        .await
        .expect_err("no program");
        assert!(e.contains("succeeded but did not make"), "{e}");
        run(
            "p",
            dir.as_path(),
            &sh("mkdir bin && touch bin/p"),
            &program,
            Duration::from_secs(30),
        )
        .await
        .expect("builds");
        let e = run(
            "p",
            dir.as_path(),
            &["no-such-builder".into()],
            &program,
            Duration::from_secs(30),
        )
        .await
        .expect_err("no builder");
        assert!(
            e.starts_with("the build `no-such-builder` could not start"),
            "{e}"
        );
    }
}
