//! Harness for the end-to-end tests: runs the real built `errbotd` (which starts the real
//! gateway and plugin processes) in a temporary directory, and talks to it as a chat service
//! through the test gateway's driver socket.

pub mod mattermost;
pub mod postgres;
pub mod prosody;
pub mod proxy;
pub mod slack;
pub mod telegram;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use errbot_proto::v1::{
    ConverseResponse, InjectRequest, OutboxRequest, SentMessage,
    test_driver_service_client::TestDriverServiceClient,
};
use tonic::transport::Channel;

/// Directory holding the workspace's built binaries (errbotd, errbot-gateway, plugins).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ERRBOT_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // Test executables live in target/<profile>/deps; binaries in target/<profile>.
    let exe = std::env::current_exe().expect("test executable path");
    let mut dir = exe.parent().expect("deps dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Path of a built binary, with a clear message when the workspace was not built.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Runs errbotd on its text console through a pipe, as README's run command does: the plugins
/// of `plugin_dirs` (relative to the repository root) only, `input` written then closed.
/// Returns whether errbotd exited successfully, and its stdout (replies only).
pub fn console_pipe(plugin_dirs: &[&str], input: &str) -> (bool, String) {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("errbot.toml");
    let dirs: Vec<String> = plugin_dirs
        .iter()
        .map(|d| repo_root().join(d).display().to_string())
        .collect();
    let text = format!(
        "[bot]\nadmins = [\"@admin\"]\n\n[paths]\ndata_dir = \"data\"\nplugin_dirs = {dirs:?}\n\
         bundled_plugins = false\nvenv_dir = {:?}\n",
        shared_venv_dir().display().to_string()
    );
    std::fs::write(&config, text).expect("write config");
    let mut errbotd = Command::new(binary("errbotd"))
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start errbotd");
    let mut stdin = errbotd.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write");
    drop(stdin);
    let mut out = String::new();
    errbotd
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    let ok = errbotd.wait().expect("wait").success();
    (ok, out)
}

/// Where Python plugins' virtualenvs are kept between tests (created once, shared).
pub fn shared_venv_dir() -> PathBuf {
    bin_dir().join("test-venvs")
}

/// A running errbotd with one test gateway named "test".
pub struct TestBot {
    /// The errbotd process.
    pub process: Child,
    /// Temporary directory holding errbot.toml and the data directory.
    pub dir: tempfile::TempDir,
    /// Client of the test gateway's driver.
    pub driver: TestDriverServiceClient<Channel>,
    /// Extra environment of errbotd (kept for restarts).
    env: Vec<(String, String)>,
    /// The configuration file as errbotd is given it (relative to `dir`, errbotd's working
    /// directory).
    config: PathBuf,
}

/// Options for [`TestBot::start`].
#[derive(Default, Clone)]
pub struct Options {
    /// Extra TOML appended to the generated errbot.toml (tables only; `[bot]` keys go in `bot`).
    pub extra: String,
    /// Extra lines for the `[bot]` table.
    pub bot: String,
    /// Extra lines for the `[log]` table.
    pub log: String,
    /// Load the bundled plugins (hello, python-hello).
    pub bundled: bool,
    /// Also load the test plugin (tests/plugins).
    pub test_plugin: bool,
    /// More plugin directories (relative ones from the repository root).
    pub plugin_dirs: Vec<PathBuf>,
    /// Extra environment variables for errbotd.
    pub env: Vec<(String, String)>,
    /// Glob patterns of the admins, replacing the default `["@admin", "@boss*"]`.
    pub admins: Option<Vec<String>>,
    /// Write errbot.toml into this sub-directory of the bot's directory and start errbotd from
    /// the bot's directory with `-c SUBDIR/errbot.toml` (as README's `errbotd -c
    /// mybot/errbot.toml`), with relative paths only: the data directory is `SUBDIR/data` and
    /// the virtualenvs `SUBDIR/venvs` (a symbolic link to the shared ones).
    pub config_subdir: Option<String>,
}

impl TestBot {
    /// Starts errbotd with the bundled plugins and the test plugin.
    pub async fn start() -> Self {
        Self::start_with(Options {
            bundled: true,
            test_plugin: true,
            ..Default::default()
        })
        .await
    }

    /// Starts errbotd with `options`, and waits until the bot answers.
    pub async fn start_with(options: Options) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("errbot-e2e")
            .tempdir()
            .expect("temp dir");
        let driver_socket = dir.path().join("driver.sock");
        let config_dir = match &options.config_subdir {
            Some(sub) => {
                let config_dir = dir.path().join(sub);
                std::fs::create_dir_all(&config_dir).expect("config sub-directory");
                let shared = shared_venv_dir();
                std::fs::create_dir_all(&shared).expect("shared venv directory");
                std::os::unix::fs::symlink(&shared, config_dir.join("venvs")).expect("venvs link");
                config_dir
            }
            None => dir.path().to_path_buf(),
        };
        let venv_dir = match options.config_subdir {
            Some(_) => "venvs".to_owned(),
            None => shared_venv_dir().display().to_string(),
        };
        let mut dirs: Vec<String> = Vec::new();
        if options.test_plugin {
            dirs.push(repo_root().join("tests/plugins").display().to_string());
        }
        dirs.extend(
            options
                .plugin_dirs
                .iter()
                .map(|d| repo_root().join(d).display().to_string()),
        );
        let plugin_dirs = format!("{dirs:?}");
        let admins = options
            .admins
            .clone()
            .unwrap_or_else(|| vec!["@admin".into(), "@boss*".into()]);
        let config = format!(
            "[bot]\nadmins = {admins:?}\n{bot}\n\n[paths]\ndata_dir = \"data\"\n\
             plugin_dirs = {plugin_dirs}\nbundled_plugins = {bundled}\nvenv_dir = {venvs:?}\n\n\
             [log]\nlevel = \"info\"\n{log}\n\n[backends.test]\nkind = \"test\"\ndriver_socket = {socket:?}\n\n{extra}\n",
            bot = options.bot,
            log = options.log,
            bundled = options.bundled,
            venvs = venv_dir,
            socket = driver_socket.display().to_string(),
            extra = options.extra,
        );
        std::fs::write(config_dir.join("errbot.toml"), config).expect("write config");
        let config = match &options.config_subdir {
            Some(sub) => Path::new(sub).join("errbot.toml"),
            None => dir.path().join("errbot.toml"),
        };
        Self::start_on(dir, config, &driver_socket, options.env).await
    }

    /// Starts errbotd in `dir` on `config` (relative to `dir`, or absolute), a configuration
    /// with a test gateway on `driver_socket`, and waits until the bot answers.
    pub async fn start_on(
        dir: tempfile::TempDir,
        config: PathBuf,
        driver_socket: &Path,
        env: Vec<(String, String)>,
    ) -> Self {
        let bot = Self::start_answering(dir, config, driver_socket, env).await;
        bot.wait_for_python_requirements().await;
        bot
    }

    /// As [`TestBot::start_on`], but returns as soon as the bot answers, with plugins perhaps
    /// still starting in the background (building, installing their Python requirements).
    pub async fn start_answering(
        dir: tempfile::TempDir,
        config: PathBuf,
        driver_socket: &Path,
        env: Vec<(String, String)>,
    ) -> Self {
        let process = spawn_errbotd(dir.path(), &config, &env);
        let mut bot = Self {
            process,
            env,
            config,
            driver: lazy_driver(driver_socket),
            dir,
        };
        bot.wait_answering().await;
        bot
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join(&self.config)
    }

    /// Kills errbotd with SIGKILL (no clean-up at all) and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }

    /// Starts errbotd again on the same configuration and data directory (after [`stop`] or
    /// [`kill`]) and waits until it answers.
    ///
    /// [`stop`]: Self::stop
    /// [`kill`]: Self::kill
    pub async fn restart(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            self.stop();
        }
        self.process = spawn_errbotd(self.dir.path(), &self.config, &self.env);
        self.wait_answering().await;
        self.wait_for_python_requirements().await;
    }

    /// Runs `errbotctl --config <this bot's errbot.toml> ARGS` with `stdin`; returns its exit
    /// code, stdout and stderr.
    pub fn errbotctl(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        errbotctl(&self.config_path(), args, stdin)
    }

    /// Waits (at most 120 s) until the bot answers a message; fails if errbotd exited.
    pub async fn wait_answering(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!("errbotd exited ({status}) during start-up:\n{}", self.log());
            }
            // errbotd connects its gateways once every plugin it started is active (those built
            // or installing their requirements start in the background), so the first processed
            // message means the bot answers.
            let mut req = tonic::Request::new(inject("ready?", "startup-probe", ""));
            req.set_timeout(Duration::from_secs(5));
            if self.driver.converse(req).await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "errbotd did not become ready:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A Python plugin whose virtualenv is being filled starts in the background (its commands
    /// meanwhile get a "still starting" note first): the tests expect every plugin started, as
    /// it is once the shared virtualenvs exist.
    async fn wait_for_python_requirements(&self) {
        const NOTE: &str = "installing its Python requirements";
        if !self.log().contains(NOTE) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let status = self.status();
            let installing = status["children"].as_array().is_some_and(|children| {
                children
                    .iter()
                    .any(|c| c["state"] == "starting" && c["last_exit"] == NOTE)
            });
            if !installing {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "a plugin's Python requirements were still installing:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// errbotd's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("errbotd.log")).unwrap_or_default()
    }

    /// Waits (at most 30 s) until errbotd's log holds `needle` at least `count` times, and
    /// returns the log; fails with the log otherwise. errbotd writes its log behind (a lossy
    /// queue to a writer thread), so a line may appear a moment after what caused it.
    pub fn wait_for_log(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if log.matches(needle).count() >= count {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} did not appear {count} time(s) in errbotd's log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `body` privately as `@tester` and returns the reply texts.
    pub async fn say(&mut self, body: &str) -> Vec<String> {
        self.say_as("tester", "", body).await
    }

    /// Sends `body` as `from` in `room` ("" for a direct message) and returns the reply texts.
    pub async fn say_as(&mut self, from: &str, room: &str, body: &str) -> Vec<String> {
        self.converse(from, room, body)
            .await
            .replies
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    /// Sends `body` and returns the full replies (destination, thread...).
    pub async fn converse(&mut self, from: &str, room: &str, body: &str) -> ConverseResponse {
        match self.driver.converse(inject(body, from, room)).await {
            Ok(r) => r.into_inner(),
            Err(e) => panic!("converse {body:?} failed: {e}\n{}", self.log()),
        }
    }

    /// Sends `body` and returns the single reply's text, failing if there is not exactly one.
    pub async fn one(&mut self, body: &str) -> String {
        let mut replies = self.say(body).await;
        assert_eq!(
            replies.len(),
            1,
            "expected one reply to {body:?}, got {replies:?}"
        );
        replies.remove(0)
    }

    /// Runs errbotctl against this bot; returns its exit code, stdout and stderr.
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        errbotctl(&self.config_path(), args, "")
    }

    /// `errbotctl status --json`, parsed.
    pub fn status(&self) -> serde_json::Value {
        let (code, out, err) = self.ctl(&["status", "--json"]);
        assert_eq!(code, 0, "errbotctl status failed: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("status is not JSON ({e}): {out}"))
    }

    /// The row of plugin `name` in `errbotctl plugin list --json`.
    pub fn plugin_entry(&self, name: &str) -> serde_json::Value {
        let (code, out, err) = self.ctl(&["plugin", "list", "--json"]);
        assert_eq!(code, 0, "errbotctl plugin list failed: {err}");
        let list: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("plugin list is not JSON ({e}): {out}"));
        let rows = list["plugins"].as_array().cloned().unwrap_or_default();
        rows.into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no plugin {name} in {list}"))
    }

    /// The status entry of child `name`.
    pub fn child(&self, name: &str) -> serde_json::Value {
        let status = self.status();
        status["children"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no child {name} in {status}"))
    }

    /// Pid of child `name`'s serving process (0 when none serves).
    pub fn child_pid(&self, name: &str) -> u32 {
        self.child(name)["pid"].as_u64().unwrap_or(0) as u32
    }

    /// Sends `body` as `@tester` and returns the reply texts, or the error if the driver could
    /// not be reached (while the gateway restarts).
    pub async fn try_say(&mut self, body: &str) -> Result<Vec<String>, tonic::Status> {
        let r = self.driver.converse(inject(body, "tester", "")).await?;
        Ok(r.into_inner().replies.into_iter().map(|m| m.text).collect())
    }

    /// Every message the bot sends from now on (the test gateway's outbox).
    pub async fn outbox(&self) -> tonic::Streaming<SentMessage> {
        self.driver()
            .outbox(OutboxRequest {})
            .await
            .expect("outbox")
            .into_inner()
    }

    /// Sends `body` as `from` in `room` without waiting for errbotd to finish with it, and
    /// returns the first thing the bot sends afterwards (at most 30 s): for commands whose
    /// conversation may never end, such as `!restart` and `!shutdown`.
    pub async fn inject_and_watch(&self, from: &str, room: &str, body: &str) -> SentMessage {
        let mut outbox = self.outbox().await;
        self.driver()
            .inject(inject(body, from, room))
            .await
            .expect("inject");
        tokio::time::timeout(Duration::from_secs(30), outbox.message())
            .await
            .unwrap_or_else(|_| panic!("nothing was sent after {body:?}"))
            .expect("outbox")
            .expect("outbox open")
    }

    /// A second client of the driver, for concurrent senders.
    pub fn driver(&self) -> TestDriverServiceClient<Channel> {
        self.driver.clone()
    }

    /// Stops errbotd with SIGTERM and returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(self.process.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.process.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.process.kill();
                let _ = self.process.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestBot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- errbotd's log ----\n{}", self.log());
        }
        if let Ok(None) = self.process.try_wait() {
            self.stop();
        }
    }
}

/// Starts errbotd in `dir` on `config` (relative to `dir`, or absolute), appending its stderr to
/// `dir/errbotd.log`.
fn spawn_errbotd(dir: &Path, config: &Path, env: &[(String, String)]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("errbotd.log"))
        .expect("log file");
    Command::new(binary("errbotd"))
        .arg("--config")
        .arg(config)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start errbotd")
}

/// Runs `errbotctl --config CONFIG ARGS` with `stdin`; returns its exit code, stdout and stderr.
pub fn errbotctl(config: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(binary("errbotctl"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start errbotctl");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("errbotctl stdin");
    }
    let out = child.wait_with_output().expect("errbotctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes a self-signed certificate for `localhost` and 127.0.0.1 with openssl, valid two days:
/// `dir/cert.pem` (which a client may be told to trust) and `dir/key.pem`.
pub fn self_signed_certificate(dir: &Path) {
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A server certificate, not a CA (rustls refuses a CA as the server's).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl (.ci/run installs it)");
    assert!(made.success(), "openssl could not make a certificate");
}

/// An inject request.
pub fn inject(body: &str, from: &str, room: &str) -> InjectRequest {
    InjectRequest {
        body: body.to_owned(),
        from: from.to_owned(),
        room: room.to_owned(),
        thread_id: String::new(),
        timeout_ms: 30_000,
    }
}

fn lazy_driver(socket: &Path) -> TestDriverServiceClient<Channel> {
    let address = errbot_proto::transport::Address::unix_uri(socket);
    TestDriverServiceClient::new(errbot_proto::transport::channel(&address).expect("address"))
}

/// Texts of sent messages.
pub fn texts(messages: &[SentMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

/// Pids of the processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // Field 4 (ppid) follows the command name in parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.get(1).and_then(|f| f.parse::<u32>().ok()) == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .is_some_and(|i| !stat[i + 2..].starts_with('Z')),
        Err(_) => false,
    }
}
