//! The errbot-rs side: the release errbotd with the test gateway and five bench plugins, driven
//! through the gateway's `TestDriverService` (the load is generated inside the gateway).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use errbot_proto::v1::test_driver_service_client::TestDriverServiceClient;
use errbot_proto::v1::{InjectRequest, LoadRequest};
use tonic::transport::Channel;

use crate::Workloads;
use crate::procs;
use crate::results::{
    CpuShare, LoadResult, Measured, PLUGIN_CONCURRENCY, ProcessMemory, STORAGE_WRITERS,
    StorageRate, SystemResults,
};

/// Name of plugin instance `i` (1-based); its command has the same name.
pub fn plugin_name(i: u32) -> String {
    format!("bench{i}")
}

/// A running errbotd and the client of its test gateway.
struct Bot {
    process: Child,
    dir: tempfile::TempDir,
    driver: TestDriverServiceClient<Channel>,
    /// The web server's address (`http://127.0.0.1:PORT`).
    web: String,
}

/// The plugins a bench bot runs.
#[derive(Clone, Copy)]
enum Plugins<'a> {
    /// This many Rust bench plugins (`errbot-bench-plugin`, one process each).
    Rust(u32),
    /// Errbot's first bench plugin, its `.plug` and module as the Errbot driver writes them for
    /// Errbot, run unmodified on the compatibility host.
    Errbot {
        /// A Python that can import the driver (the Errbot virtualenv's).
        python: &'a Path,
        /// tests/bench/errbot_driver.py.
        driver: &'a Path,
    },
}

impl Plugins<'_> {
    /// Writes the plugins into `dir`; returns how many there are (`bench1` to `benchN`).
    fn write(self, dir: &Path) -> anyhow::Result<u32> {
        match self {
            Self::Rust(count) => {
                for i in 1..=count {
                    let name = plugin_name(i);
                    let d = dir.join(&name);
                    std::fs::create_dir_all(&d)?;
                    std::fs::write(
                        d.join("plugin.toml"),
                        format!(
                            "[plugin]\nname = \"{name}\"\ndescription = \"Benchmark plugin {i}.\"\n\
                             command = [\"errbot-bench-plugin\"]\n"
                        ),
                    )?;
                }
                Ok(count)
            }
            Self::Errbot { python, driver } => {
                let errbot_dir = dir.join("errbot");
                let script = "import sys; sys.path.insert(0, sys.argv[1]); \
                              import errbot_driver; errbot_driver.write_plugins(sys.argv[2], 1)";
                let status = Command::new(python)
                    .arg("-c")
                    .arg(script)
                    .arg(driver.parent().unwrap_or(Path::new(".")))
                    .arg(&errbot_dir)
                    .status()
                    .with_context(|| format!("running {}", python.display()))?;
                if !status.success() {
                    bail!("writing Errbot's bench plugin failed ({status})");
                }
                Ok(1)
            }
        }
    }
}

/// The compatibility host's directory in this source tree.
fn compat_host_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk/python"))
}

impl Bot {
    /// Writes the configuration and the plugins' directories, starts errbotd and waits until
    /// the last plugin answers its command; returns the bot and the time that took.
    async fn start(bin_dir: &Path, plugins: Plugins<'_>) -> anyhow::Result<(Self, Duration)> {
        let dir = tempfile::Builder::new()
            .prefix("errbot-bench")
            .tempdir()
            .context("creating a temporary directory")?;
        let plugin_dir = dir.path().join("plugins");
        let count = plugins.write(&plugin_dir)?;
        let socket = dir.path().join("driver.sock");
        let port = crate::webhook::free_port()?;
        let config = format!(
            "# Written by errbot-bench.\n[bot]\nadmins = [\"@admin\"]\n\n[paths]\n\
             data_dir = \"data\"\nplugin_dirs = [{plugins:?}]\nbundled_plugins = false\n\n\
             # The storage workload is one long command.\n[limits]\ncommand_timeout_secs = 600.0\n\n\
             [backends.test]\nkind = \"test\"\ndriver_socket = {socket:?}\n\n\
             # The webhook workload.\n[web]\nlisten = \"127.0.0.1:{port}\"\n\
             request_timeout_secs = 30.0\n",
            plugins = plugin_dir.display().to_string(),
            socket = socket.display().to_string(),
        );
        std::fs::write(dir.path().join("errbot.toml"), config)?;
        let log = std::fs::File::create(dir.path().join("errbotd.log"))?;
        let errbotd = bin_dir.join("errbotd");
        let t0 = Instant::now();
        let mut command = Command::new(&errbotd);
        if let Plugins::Errbot { .. } = plugins {
            // The host's virtualenv is filled once and kept beside the binaries.
            command
                .env("ERRBOT_VENV_DIR", bin_dir.join("errbot-bench-venvs"))
                .env("ERRBOT_PYTHON_COMPAT_DIR", compat_host_dir());
        }
        let process = command
            .arg("--config")
            .arg(dir.path().join("errbot.toml"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", errbotd.display()))?;
        let address = errbot_proto::transport::Address::unix_uri(&socket);
        let driver = TestDriverServiceClient::new(errbot_proto::transport::channel(&address)?);
        let mut bot = Self {
            process,
            dir,
            driver,
            web: format!("http://127.0.0.1:{port}"),
        };
        let probe = plugin_name(count.max(1));
        // A first start of the compatibility host fills its virtualenv (pip) meanwhile.
        let deadline = t0
            + Duration::from_secs(match plugins {
                Plugins::Rust(_) => 120,
                Plugins::Errbot { .. } => 600,
            });
        loop {
            if let Ok(Some(status)) = bot.process.try_wait() {
                bail!(
                    "errbotd exited ({status}) during start-up:\n{}",
                    bot.log_tail()
                );
            }
            if count == 0 {
                break;
            }
            match bot.converse(&probe, "ready").await {
                Ok(Ok(())) => break,
                // errbotd answered, wrongly: it is up, but the plugin is not there (a plugin
                // on the host may still be starting: errbotd says so).
                Ok(Err(wrong)) if matches!(plugins, Plugins::Rust(_)) => {
                    bail!("{wrong}:\n{}", bot.log_tail())
                }
                Ok(Err(_)) | Err(_) => {}
            }
            if Instant::now() > deadline {
                bail!("errbotd was not ready in time:\n{}", bot.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ready = t0.elapsed();
        for i in 1..=count {
            bot.ask(&plugin_name(i), "check")
                .await
                .with_context(|| format!("plugin {} does not answer", plugin_name(i)))?;
        }
        Ok((bot, ready))
    }

    /// Sends `!command text` and checks the plugin's answer.
    async fn ask(&mut self, command: &str, text: &str) -> anyhow::Result<()> {
        self.converse(command, text)
            .await?
            .map_err(anyhow::Error::msg)
    }

    /// Sends `!command text`: a transport error when errbotd did not process it, else whether
    /// the answer was the plugin's (`Err` says what came instead).
    async fn converse(
        &mut self,
        command: &str,
        text: &str,
    ) -> Result<Result<(), String>, tonic::Status> {
        let mut req = tonic::Request::new(InjectRequest {
            body: format!("!{command} {text}"),
            from: "bench".into(),
            timeout_ms: 5_000,
            ..Default::default()
        });
        req.set_timeout(Duration::from_secs(6));
        let replies = self.driver.converse(req).await?.into_inner().replies;
        let want = format!("{command}: {text}");
        Ok(match replies.as_slice() {
            [one] if one.text == want => Ok(()),
            other => {
                let texts: Vec<&str> = other.iter().map(|m| m.text.as_str()).collect();
                Err(format!(
                    "!{command} {text} got {texts:?}, expected [{want:?}]"
                ))
            }
        })
    }

    /// Runs the gateway's `Load`.
    async fn load(
        &mut self,
        body: &str,
        expect: &str,
        count: u32,
        concurrency: u32,
        timeout_ms: u32,
    ) -> anyhow::Result<LoadResult> {
        let req = LoadRequest {
            body: body.into(),
            expect: expect.into(),
            count,
            concurrency,
            timeout_ms,
        };
        let r = self.driver.load(req).await?.into_inner();
        Ok(LoadResult {
            sent: r.sent.into(),
            correct: r.correct.into(),
            wrong: r.wrong.into(),
            duplicated: r.duplicated.into(),
            lost: r.lost.into(),
            elapsed_us: r.elapsed_us,
            latencies_us: r.latencies_us,
            first_failure: r.first_failure,
        })
    }

    /// errbotd and its children, named.
    fn processes(&self) -> Vec<(String, u32)> {
        let me = self.process.id();
        let mut all = vec![("errbotd".to_owned(), me)];
        let mut children: Vec<(String, u32)> = procs::children(me)
            .into_iter()
            .map(|pid| {
                let env = procs::environ(pid);
                let name = env.get(errbot_proto::contract::ENV_NAME).cloned();
                let label = match env
                    .get(errbot_proto::contract::ENV_KIND)
                    .map(String::as_str)
                {
                    Some("backend") => format!("gateway {}", name.unwrap_or_default()),
                    Some(_) => format!("plugin {}", name.unwrap_or_default()),
                    None => procs::comm(pid),
                };
                (label, pid)
            })
            .collect();
        children.sort();
        all.extend(children);
        all
    }

    /// Memory of errbotd and every child.
    fn memory(&self) -> Vec<ProcessMemory> {
        self.processes()
            .into_iter()
            .filter_map(|(name, pid)| {
                Some(ProcessMemory {
                    name,
                    memory: procs::memory(pid)?,
                })
            })
            .collect()
    }

    /// CPU time of errbotd and every child so far.
    fn cpu(&self) -> Vec<(String, f64)> {
        self.processes()
            .into_iter()
            .filter_map(|(name, pid)| Some((name, procs::cpu_ms(pid)?)))
            .collect()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("errbotd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Stops errbotd with SIGTERM (SIGKILL after 10 s).
    fn stop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.process.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            self.stop();
        }
    }
}

/// CPU used by each process between two snapshots, per 1000 correct messages.
pub fn cpu_shares(
    before: &[(String, f64)],
    after: &[(String, f64)],
    correct: u64,
) -> Vec<CpuShare> {
    after
        .iter()
        .filter_map(|(name, ms)| {
            let start = before.iter().find(|(n, _)| n == name)?.1;
            Some(CpuShare {
                name: name.clone(),
                ms_per_1000: (ms - start) * 1000.0 / correct.max(1) as f64,
            })
        })
        .collect()
}

/// Starts errbotd [`crate::STARTS`] times, each in a fresh data directory, into
/// `results.start_ms` (the median) and `results.memory_start`; returns the last bot started,
/// which runs the workloads (`None` when a start failed: its error is the start's figure).
async fn start_measured(
    bin_dir: &Path,
    plugins: Plugins<'_>,
    results: &mut SystemResults,
) -> Option<Bot> {
    let mut starts = Vec::with_capacity(crate::STARTS);
    let bot = loop {
        let (mut bot, ready) = match Bot::start(bin_dir, plugins).await {
            Ok(started) => started,
            Err(e) => {
                results.start_ms = Measured::NotMeasured(format!("{e:#}"));
                return None;
            }
        };
        let ms = ready.as_secs_f64() * 1000.0;
        eprintln!("{}: ready in {ms:.1} ms", results.label);
        starts.push(ms);
        if starts.len() == crate::STARTS {
            break bot;
        }
        bot.stop();
    };
    results.start_ms = Measured::Value(crate::median(starts));
    results.memory_start = Measured::Value(bot.memory());
    Some(bot)
}

/// Runs every workload on errbot-rs.
pub async fn run(bin_dir: &Path, w: &Workloads) -> SystemResults {
    let mut results = SystemResults::new(
        "errbot-rs",
        "release build; errbotd + test gateway + 5 Rust plugin processes; log level info (the default)",
    );
    let Some(mut bot) = start_measured(bin_dir, Plugins::Rust(w.plugins), &mut results).await
    else {
        return results;
    };

    // Warm-up: connections, allocator, caches.
    if let Err(e) = bot
        .load("!echo w{n}", "w{n}", w.warmup, 16, w.timeout_ms)
        .await
    {
        eprintln!("errbot-rs: warm-up failed: {e:#}");
    }
    let t = w.timeout_ms;
    results.latency =
        Measured::from_result(bot.load("!echo lat{n}", "lat{n}", w.latency, 1, t).await);
    let mut cpu = Measured::NotMeasured("no load run".to_owned());
    for &c in &w.concurrency {
        let before = bot.cpu();
        let r = bot.load("!echo c{n}", "c{n}", w.messages, c, t).await;
        if let Ok(r) = &r {
            cpu = Measured::Value(cpu_shares(&before, &bot.cpu(), r.correct));
        }
        crate::rs_progress("errbot-rs", &format!("!echo x{c}"), &r);
        results.throughput.push((c, Measured::from_result(r)));
    }
    results.cpu = cpu;
    let plugin = plugin_name(1);
    let body = format!("!{plugin} p{{n}}");
    let expect = format!("{plugin}: p{{n}}");
    results.plugin_latency = Measured::from_result(bot.load(&body, &expect, w.latency, 1, t).await);
    for c in PLUGIN_CONCURRENCY {
        let r = bot.load(&body, &expect, w.messages, c, t).await;
        crate::rs_progress("errbot-rs", &format!("!{plugin} x{c}"), &r);
        results
            .plugin_throughput
            .push((c, Measured::from_result(r)));
    }
    results.webhook = Measured::from_result(webhook_load(&bot, w).await);
    results.memory_load = Measured::Value(bot.memory());
    results.storage = storage_rate(&mut bot, w).await;
    // Last: it kills a plugin.
    results.restart_ms = restart_after_sigkill(&mut bot, w).await;
    bot.stop();
    results
}

/// Errbot's bench plugin on the compatibility host: start (median of [`crate::STARTS`], after
/// a first start that fills the host's virtualenv when needed), the plugin command's latency
/// and throughput from the first level of [`PLUGIN_CONCURRENCY`], memory after that load.
pub async fn run_compat(
    bin_dir: &Path,
    w: &Workloads,
    python: &Path,
    driver: &Path,
) -> SystemResults {
    let mut results = SystemResults::new(
        "errbot-rs compat",
        "release errbotd + test gateway + Errbot's `bench1` plugin, unmodified, on the \
         compatibility host (one Python process)",
    );
    let plugins = Plugins::Errbot { python, driver };
    // The first start may fill the virtualenv: not measured.
    match Bot::start(bin_dir, plugins).await {
        Ok((mut bot, ready)) => {
            eprintln!(
                "errbot-rs compat: first start in {:.1} ms",
                ready.as_secs_f64() * 1000.0
            );
            bot.stop();
        }
        Err(e) => {
            results.start_ms = Measured::NotMeasured(format!("{e:#}"));
            return results;
        }
    }
    let Some(mut bot) = start_measured(bin_dir, plugins, &mut results).await else {
        return results;
    };
    let plugin = plugin_name(1);
    let body = format!("!{plugin} p{{n}}");
    let expect = format!("{plugin}: p{{n}}");
    let t = w.timeout_ms;
    if let Err(e) = bot.load(&body, &expect, w.warmup, 4, t).await {
        eprintln!("errbot-rs compat: warm-up failed: {e:#}");
    }
    results.plugin_latency = Measured::from_result(bot.load(&body, &expect, w.latency, 1, t).await);
    let c = PLUGIN_CONCURRENCY[0];
    let r = bot.load(&body, &expect, w.messages, c, t).await;
    crate::rs_progress("errbot-rs compat", &format!("!{plugin} x{c}"), &r);
    results
        .plugin_throughput
        .push((c, Measured::from_result(r)));
    results.memory_load = Measured::Value(bot.memory());
    bot.stop();
    results
}

/// Runs one throughput workload alone (`--only`), printing the pids to profile first.
pub async fn run_only(bin_dir: &Path, w: &Workloads) -> anyhow::Result<()> {
    let (mut bot, _) = Bot::start(bin_dir, Plugins::Rust(w.plugins)).await?;
    for (name, pid) in bot.processes() {
        eprintln!("errbot-rs: {name}: pid {pid}");
    }
    let plugin = plugin_name(1);
    let (body, expect, senders) = match w.only {
        Some(crate::Only::Plugin) => (
            format!("!{plugin} p{{n}}"),
            format!("{plugin}: p{{n}}"),
            PLUGIN_CONCURRENCY[0],
        ),
        _ => ("!echo c{n}".to_owned(), "c{n}".to_owned(), 64),
    };
    let before = bot.cpu();
    let r = bot
        .load(&body, &expect, w.messages, senders, w.timeout_ms)
        .await;
    if let Ok(r) = &r {
        for share in cpu_shares(&before, &bot.cpu(), r.correct) {
            eprintln!(
                "errbot-rs: {}: {:.1} ms CPU per 1000 correct replies",
                share.name, share.ms_per_1000
            );
        }
    }
    crate::rs_progress("errbot-rs", &format!("{body} x{senders}"), &r);
    bot.stop();
    r.map(|_| ())
}

/// Restart time after SIGKILL of a plugin: from the kill to the plugin's command answering
/// correctly again; meanwhile another plugin is asked continuously and must never fail.
///
/// errbotd's supervision restarts the killed plugin after its restart delay: the default
/// (`restart_delay_secs = 0.1`, no `[plugins.NAME.supervision]` table is written), so the
/// figure includes that 100 ms of backoff on purpose.
async fn restart_after_sigkill(bot: &mut Bot, w: &Workloads) -> Measured<f64> {
    const GIVE_UP: Duration = Duration::from_secs(5);
    let victim = plugin_name(2.min(w.plugins));
    let Some(pid) = bot
        .processes()
        .into_iter()
        .find(|(name, _)| *name == format!("plugin {victim}"))
        .map(|(_, pid)| pid)
    else {
        return Measured::NotMeasured(format!("no process for plugin {victim}"));
    };
    let other = plugin_name(1);
    let t0 = Instant::now();
    if let Err(e) = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    ) {
        return Measured::NotMeasured(format!("cannot kill plugin {victim}: {e}"));
    }
    let mut other_driver = bot.driver.clone();
    let other_body = format!("!{other} o{{n}}");
    let other_expect = format!("{other}: o{{n}}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut asked, mut failed) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let req = LoadRequest {
                    body: other_body.clone(),
                    expect: other_expect.clone(),
                    count: 1,
                    concurrency: 1,
                    timeout_ms: 5_000,
                };
                asked += 1;
                let correct = other_driver
                    .load(req)
                    .await
                    .is_ok_and(|r| r.get_ref().correct == 1);
                if !correct {
                    failed += 1;
                }
            }
            (asked, failed)
        })
    };
    let outcome = loop {
        if bot.ask(&victim, "back").await.is_ok() {
            break Ok(t0.elapsed());
        }
        if t0.elapsed() > GIVE_UP {
            break Err(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (asked, failed) = watch.await.unwrap_or((0, 0));
    match outcome {
        Ok(d) if failed == 0 => Measured::Value(d.as_secs_f64() * 1000.0),
        Ok(d) => Measured::NotMeasured(format!(
            "{victim} answered again after {:.0} ms, but {failed} of {asked} commands of {other} failed meanwhile",
            d.as_secs_f64() * 1000.0
        )),
        Err(()) => Measured::NotMeasured(format!(
            "errbotd did not restart plugin {victim} within {} s of its SIGKILL",
            GIVE_UP.as_secs()
        )),
    }
}

/// The webhook workload: `/bench1` of errbotd's web server, [`crate::webhook::CLIENTS`]
/// clients at once.
async fn webhook_load(bot: &Bot, w: &Workloads) -> anyhow::Result<LoadResult> {
    let plugin = plugin_name(1);
    crate::webhook::wait_ready(&bot.web, &plugin, Duration::from_secs(10)).await?;
    let r = crate::webhook::load(&bot.web, &plugin, w.webhook_requests, w.timeout_ms).await;
    crate::rs_progress(
        "errbot-rs",
        &format!("webhook x{}", crate::webhook::CLIENTS),
        &r,
    );
    r
}

/// Storage get/set per second through a plugin's own storage: `!bench1 storage COUNT` makes
/// the bench plugin time COUNT sets then COUNT gets of distinct keys through the SDK's typed
/// storage (`ctx.storage().set/get`, errbotd's `StorageService`, SQLite by default), one after
/// the other, like the Errbot side's `self[key] = value` then `self[key]`, then COUNT sets from
/// 16 concurrent writers.
async fn storage_rate(bot: &mut Bot, w: &Workloads) -> Measured<StorageRate> {
    Measured::from_result(storage_rate_of(bot, &plugin_name(1), w.storage).await)
}

async fn storage_rate_of(bot: &mut Bot, plugin: &str, count: u32) -> anyhow::Result<StorageRate> {
    // Durable writes are slow on a busy disk: give it all the time it needs.
    let timeout = Duration::from_secs(600);
    let mut req = tonic::Request::new(InjectRequest {
        body: format!("!{plugin} storage {count} {STORAGE_WRITERS}"),
        from: "bench".into(),
        timeout_ms: timeout.as_millis() as u32,
        ..Default::default()
    });
    req.set_timeout(timeout + Duration::from_secs(5));
    let replies = bot.driver.converse(req).await?.into_inner().replies;
    let [reply] = replies.as_slice() else {
        bail!(
            "!{plugin} storage {count}: expected one reply, got {}",
            replies.len()
        );
    };
    let answer = reply
        .text
        .strip_prefix(&format!("{plugin}: storage "))
        .with_context(|| {
            format!(
                "!{plugin} storage {count}: unexpected reply {:?}",
                reply.text
            )
        })?;
    let rates: Vec<f64> = answer
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("!{plugin} storage {count}: {answer}"))?;
    let [sets_per_s, gets_per_s, concurrent_sets_per_s] = rates[..] else {
        bail!("!{plugin} storage {count}: {answer}");
    };
    Ok(StorageRate {
        sets_per_s,
        gets_per_s,
        concurrent_sets_per_s,
    })
}

/// Where the release binaries are: beside this executable.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating errbot-bench")?;
    let dir = exe
        .parent()
        .context("errbot-bench has no directory")?
        .to_path_buf();
    for needed in ["errbotd", "errbot-gateway", "errbot-bench-plugin"] {
        if !dir.join(needed).is_file() {
            bail!(
                "{} is missing beside errbot-bench: run tests/bench/run.sh, which builds it",
                dir.join(needed).display()
            );
        }
    }
    Ok(dir)
}
