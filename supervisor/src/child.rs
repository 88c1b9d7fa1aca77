//! Child processes under the child contract: spawning with the contract's environment, their own
//! process group and a parent-death signal, forwarding their output into the log without ever
//! blocking them, waiting for their health check, and stopping or killing them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use errbot_proto::contract;
use errbot_proto::transport;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, watch};
use tonic::transport::Channel;

use crate::supervise::health;

/// What kind of child this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A plugin process.
    Plugin,
    /// A chat gateway process.
    Backend,
}

impl Kind {
    /// Name used in the environment and status output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Plugin => "plugin",
            Kind::Backend => "backend",
        }
    }
}

/// Everything needed to start a child.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Plugin or backend instance name.
    pub name: String,
    /// Plugin or backend.
    pub kind: Kind,
    /// Program to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// The child gets errbotd's terminal (stdin and stdout) and stays in errbotd's process group
    /// so that it may read the terminal; only the text console does.
    pub terminal: bool,
}

/// A started child that answers its health check.
pub struct Running {
    /// The spec it was started from.
    pub spec: Spec,
    /// Process id (also its process group id unless `terminal`).
    pub pid: u32,
    /// Secret token it uses on BotService.
    pub token: String,
    /// Channel to the child's socket.
    pub channel: Channel,
    /// When it started.
    pub started: Instant,
    /// Becomes `Some(reason)` when the process has exited ("exited with status 1", "killed by
    /// signal SIGKILL").
    pub exited: watch::Receiver<Option<String>>,
    /// Why errbotd killed it, if it did: replaces the bare signal in the exit reason.
    killed_for: Arc<Mutex<Option<String>>>,
}

/// Starts `spec`, serving on `socket_path`, and waits (at most `timeout`) for it to be healthy.
pub async fn start(
    spec: Spec,
    socket_path: &Path,
    bot_socket: &str,
    token: String,
    timeout: Duration,
) -> anyhow::Result<Running> {
    let address = transport::Address::unix_uri(socket_path);
    // The child runs in `cwd`: a relative program would be looked up there, not where errbotd
    // runs. Callers give absolute paths; this is the last guard (a bare name stays a PATH name).
    let program = if spec.program.components().count() > 1 {
        crate::config::absolute(&spec.program)
    } else {
        spec.program.clone()
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&spec.args)
        .current_dir(crate::config::absolute(&spec.cwd))
        .env(contract::ENV_SOCKET, &address)
        .env(contract::ENV_BOT_SOCKET, bot_socket)
        .env(contract::ENV_TOKEN, &token)
        .env(contract::ENV_NAME, &spec.name)
        .env(contract::ENV_KIND, spec.kind.as_str())
        .env(contract::ENV_PROTOCOL_VERSIONS, contract::PROTOCOL_VERSION)
        // systemd talks to errbotd only: a child must not notify or feed the watchdog for it.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if spec.terminal {
        cmd.stdin(Stdio::inherit()).stdout(Stdio::inherit());
    } else {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0);
    }
    die_with_errbotd(&mut cmd);
    let mut process = cmd
        .spawn()
        .with_context(|| format!("starting {} {:?}", spec.kind.as_str(), spec.program))?;
    let pid = process
        .id()
        .ok_or_else(|| anyhow!("{} exited at once", spec.name))?;
    if let Some(err) = process.stderr.take() {
        forward(spec.name.clone(), err);
    }
    if let Some(out) = process.stdout.take() {
        forward(spec.name.clone(), out);
    }
    let (exit_tx, exited) = watch::channel(None);
    let killed_for: Arc<Mutex<Option<String>>> = Arc::default();
    let why = killed_for.clone();
    let own_group = !spec.terminal;
    tokio::spawn(async move {
        let reason = match process.wait().await {
            Ok(status) => describe_exit(status),
            Err(e) => format!("wait failed: {e}"),
        };
        if own_group {
            // Whatever the child left behind in its process group goes with it.
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let reason = match why.lock().map(|mut w| w.take()) {
            Ok(Some(why)) => format!("killed by errbotd: {why}"),
            _ => reason,
        };
        let _ = exit_tx.send(Some(reason));
    });
    let channel = transport::channel(&address)?;
    let mut running = Running {
        spec,
        pid,
        token,
        channel,
        started: Instant::now(),
        exited,
        killed_for,
    };
    running.wait_healthy(timeout).await?;
    Ok(running)
}

/// Makes the process `cmd` starts die with errbotd (`PR_SET_PDEATHSIG(SIGKILL)`, checked
/// against errbotd dying between fork and prctl).
pub fn die_with_errbotd(cmd: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            // errbotd died between fork and prctl: do not outlive it.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Longest line forwarded as one log record; longer lines are cut into pieces.
const MAX_LINE: usize = 16 * 1024;
/// Output chunks waiting to be logged; beyond this, output is dropped (and counted), never
/// left in the pipe where it would block the child.
const QUEUED_CHUNKS: usize = 256;

/// Forwards a child's output into the log, one line at a time, tagged with its name.
///
/// One task only drains the pipe into a bounded queue; another turns the queue into log lines.
/// When logging falls behind, whole chunks are dropped and the loss is logged, so a child
/// writing flat out is never slowed by errbotd.
fn forward(name: String, mut stream: impl AsyncRead + Unpin + Send + 'static) {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUED_CHUNKS);
    let dropped = Arc::new(AtomicU64::new(0));
    let lost = dropped.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.try_send(buf[..n].to_vec()).is_err() {
                        lost.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut pending: Vec<u8> = Vec::with_capacity(1024);
        while let Some(chunk) = rx.recv().await {
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(nl) = pending[start..].iter().position(|b| *b == b'\n') {
                log_line(&name, &pending[start..start + nl]);
                start += nl + 1;
            }
            while pending.len() - start > MAX_LINE {
                log_line(&name, &pending[start..start + MAX_LINE]);
                start += MAX_LINE;
            }
            pending.drain(..start);
            let n = dropped.swap(0, Ordering::Relaxed);
            if n > 0 {
                tracing::warn!(child = %name, "{n} bytes of output dropped: the log could not keep up");
            }
        }
        log_line(&name, &pending);
    });
}

fn log_line(name: &str, raw: &[u8]) {
    let line = String::from_utf8_lossy(raw);
    let line = line.trim_end();
    if line.is_empty() {
        return;
    }
    match level_of(line) {
        tracing::Level::ERROR => tracing::error!(child = %name, "{line}"),
        tracing::Level::WARN => tracing::warn!(child = %name, "{line}"),
        tracing::Level::DEBUG | tracing::Level::TRACE => tracing::debug!(child = %name, "{line}"),
        tracing::Level::INFO => tracing::info!(child = %name, "{line}"),
    }
}

/// Guesses a line's level from the usual log formats (Rust tracing, Python logging).
fn level_of(line: &str) -> tracing::Level {
    let head: String = line.chars().take(48).collect();
    if head.contains("ERROR") || head.contains("CRITICAL") || head.starts_with("Traceback") {
        tracing::Level::ERROR
    } else if head.contains("WARN") {
        tracing::Level::WARN
    } else if head.contains("DEBUG") || head.contains("TRACE") {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    }
}

impl Running {
    async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(reason) = self.exit_reason() {
                bail!(
                    "{} {} {reason} before serving",
                    self.spec.kind.as_str(),
                    self.spec.name
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = left
                .min(Duration::from_secs(1))
                .max(Duration::from_millis(10));
            if health::check(self.channel.clone(), attempt).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} {} did not answer its health check within {:.1} s",
                    self.spec.kind.as_str(),
                    self.spec.name,
                    timeout.as_secs_f64()
                );
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Why the process ended, if it has.
    pub fn exit_reason(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    /// Waits until the process has exited and returns why.
    pub async fn wait_exit(&self) -> String {
        let mut rx = self.exited.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => "exited".to_owned(),
        }
    }

    /// Asks the child to stop (SIGTERM to its process group), then kills it after `grace`.
    pub async fn stop(&self, grace: Duration) {
        if self.exit_reason().is_some() {
            return;
        }
        self.signal(Signal::SIGTERM);
        if tokio::time::timeout(grace, self.wait_exit()).await.is_err() {
            tracing::warn!(child = %self.spec.name, "did not stop within {grace:?}; killing it");
            self.signal(Signal::SIGKILL);
            self.wait_exit().await;
        }
    }

    /// Kills the child (and its process group) at once; `why` becomes its exit reason.
    pub async fn kill(&self, why: &str) -> String {
        if self.exit_reason().is_none() {
            if let Ok(mut w) = self.killed_for.lock() {
                *w = Some(why.to_owned());
            }
            self.signal(Signal::SIGKILL);
        }
        self.wait_exit().await
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.pid as i32);
        let _ = if self.spec.terminal {
            kill(pid, signal)
        } else {
            killpg(pid, signal)
        };
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {s}"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => "exited".to_owned(),
    }
}

/// The program `name` beside errbotd's own executable (where cargo and installs put the
/// workspace's binaries), else found in PATH (an absolute path either way: a child runs in
/// another working directory), else the bare name (starting it then fails with that name).
pub fn beside_errbotd(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)))
        .filter(|p| p.is_file())
        .or_else(|| in_path(name))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The first executable file `name` in the directories of `$PATH`, made absolute.
pub fn in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| crate::config::absolute(&dir.join(name)))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A fresh random token for a child.
pub fn new_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
