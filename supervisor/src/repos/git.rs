//! The `git` program, run beside errbotd: in its own process group, never prompting, with only
//! the https, http, ssh, git and file transports (no `ext::`), output into the log, killed after
//! `[repos] git_timeout_secs`.

use std::path::Path;
use std::time::Duration;

use crate::build::{Job, run_logged};

/// Transports git may use: nothing that runs a command of the URL's choosing.
const PROTOCOLS: &[&str] = &[
    "protocol.allow=never",
    "protocol.https.allow=always",
    "protocol.http.allow=always",
    "protocol.ssh.allow=always",
    "protocol.git.allow=always",
    "protocol.file.allow=always",
];

/// Never ask for a password or a host key on a terminal: fail instead.
const ENV: &[(&str, &str)] = &[
    ("GIT_TERMINAL_PROMPT", "0"),
    ("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
    ("GIT_ASKPASS", "true"),
    ("LC_ALL", "C"),
];

fn command(args: &[&str]) -> Vec<String> {
    let git = crate::child::beside_errbotd("git");
    let mut out = vec![git.display().to_string()];
    for p in PROTOCOLS {
        out.push("-c".into());
        out.push((*p).into());
    }
    out.extend(args.iter().map(|a| (*a).to_owned()));
    out
}

async fn git(repo: &str, dir: &Path, args: &[&str], timeout: Duration) -> Result<(), String> {
    let job = Job {
        name: repo,
        kind: "git",
        timeout_hint: "`git_timeout_secs` in [repos] of errbot.toml",
        env: ENV,
    };
    run_logged(&job, dir, &command(args), timeout).await
}

/// Clones `url` into `dest` (which must not exist), checking out `reference` (a branch or tag)
/// when given.
pub async fn clone(
    repo: &str,
    url: &str,
    reference: Option<&str>,
    dest: &Path,
    timeout: Duration,
) -> Result<(), String> {
    let parent = dest.parent().unwrap_or(Path::new("/"));
    let dest = dest.display().to_string();
    let mut args = vec!["clone", "--quiet", "--no-recurse-submodules"];
    if let Some(r) = reference {
        args.extend(["--branch", r]);
    }
    args.extend(["--", url, &dest]);
    git(repo, parent, &args, timeout).await
}

/// Brings the clone in `dir` up to date with its remote (fast-forward only).
pub async fn pull(repo: &str, dir: &Path, timeout: Duration) -> Result<(), String> {
    git(
        repo,
        dir,
        &["pull", "--quiet", "--ff-only", "--no-recurse-submodules"],
        timeout,
    )
    .await
}

/// Puts the clone in `dir` back on `commit` (an update whose plugins did not start).
pub async fn reset(repo: &str, dir: &Path, commit: &str, timeout: Duration) -> Result<(), String> {
    git(repo, dir, &["reset", "--quiet", "--hard", commit], timeout).await
}

/// The commit checked out in `dir`.
pub async fn head(dir: &Path) -> Result<String, String> {
    output(dir, &["rev-parse", "HEAD"]).await
}

/// The branch checked out in `dir`; `None` when the clone is pinned to a tag or a commit.
pub async fn branch(dir: &Path) -> Option<String> {
    output(dir, &["symbolic-ref", "-q", "--short", "HEAD"])
        .await
        .ok()
        .filter(|b| !b.is_empty())
}

/// What a quick git command prints (bounded in time).
async fn output(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(crate::child::beside_errbotd("git"));
    cmd.args(args)
        .current_dir(dir)
        .envs(ENV.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .map_err(|_| format!("git {} did not answer in time", args.join(" ")))?
        .map_err(|e| format!("git could not start: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
