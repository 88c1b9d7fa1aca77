//! The Errbot side: Errbot 6.2.1 from PyPI, in the virtualenv made by tests/bench/run.sh,
//! driven through its Test backend by tests/bench/errbot_driver.py (the load is generated
//! inside Errbot's own process).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::Workloads;
use crate::procs;
use crate::results::{
    LoadResult, Measured, PLUGIN_CONCURRENCY, ProcessMemory, StorageRate, SystemResults,
};
use crate::rs::{cpu_shares, plugin_name};

/// One Errbot configuration measured.
pub struct Config {
    /// The driver's `--config` value.
    pub name: &'static str,
    /// Column title.
    pub label: &'static str,
    /// What it is.
    pub description: &'static str,
}

/// The configurations measured, in table order.
pub const CONFIGS: &[Config] = &[
    Config {
        name: "default",
        label: "Errbot default",
        description: "Errbot's defaults: BOT_LOG_LEVEL INFO (its config template), BOT_ASYNC with a pool of 10 threads",
    },
    Config {
        name: "warning",
        label: "Errbot WARNING",
        description: "logging at WARNING, BOT_ASYNC with a pool of 10 threads",
    },
    Config {
        name: "sync",
        label: "Errbot WARNING sync",
        description: "logging at WARNING and BOT_ASYNC=False (commands run one at a time in the backend thread)",
    },
];

/// How long one driver request may take (a whole load run).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(900);

/// A running driver process (Errbot and its Test backend).
struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    log: PathBuf,
}

impl Driver {
    /// Starts the driver and waits for its first answered plugin command.
    async fn start(
        python: &Path,
        script: &Path,
        config: &str,
        data: &Path,
        plugins: u32,
    ) -> anyhow::Result<(Self, Duration)> {
        let tmp = data.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let log = data.join("driver.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let t0 = Instant::now();
        let mut child = Command::new(python)
            .arg(script)
            .arg("--config")
            .arg(config)
            .arg("--data")
            .arg(data)
            .arg("--plugins")
            .arg(plugins.to_string())
            // TestBot makes a temporary directory of its own: keep it inside ours.
            .env("TMPDIR", &tmp)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} {}", python.display(), script.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("the driver's pipes are missing");
        };
        let mut driver = Self {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            log,
        };
        let first = driver.read(Duration::from_secs(180)).await?;
        if first.get("event").and_then(Value::as_str) != Some("ready") {
            bail!("the driver said {first} instead of being ready");
        }
        Ok((driver, t0.elapsed()))
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn read(&mut self, timeout: Duration) -> anyhow::Result<Value> {
        let line = tokio::time::timeout(timeout, self.stdout.next_line()).await;
        match line {
            Ok(Ok(Some(line))) => serde_json::from_str(&line)
                .with_context(|| format!("the driver wrote {line:?}, not JSON")),
            Ok(Ok(None)) => bail!("the driver exited:\n{}", self.log_tail()),
            Ok(Err(e)) => bail!("reading the driver: {e}"),
            Err(_) => bail!("the driver did not answer within {timeout:?}"),
        }
    }

    /// Sends one request and returns its answer.
    async fn request(&mut self, req: Value) -> anyhow::Result<Value> {
        let mut line = req.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let answer = self.read(REQUEST_TIMEOUT).await?;
        if let Some(e) = answer.get("error") {
            bail!("the driver failed: {e}");
        }
        Ok(answer)
    }

    async fn load(
        &mut self,
        body: &str,
        expect: &str,
        count: u32,
        concurrency: u32,
        timeout_ms: u32,
    ) -> anyhow::Result<LoadResult> {
        let a = self
            .request(json!({
                "cmd": "load", "body": body, "expect": expect, "count": count,
                "concurrency": concurrency, "timeout_ms": timeout_ms,
            }))
            .await?;
        let n = |k: &str| a.get(k).and_then(Value::as_u64).unwrap_or(0);
        Ok(LoadResult {
            sent: n("sent"),
            correct: n("correct"),
            wrong: n("wrong"),
            duplicated: n("duplicated"),
            lost: n("lost"),
            elapsed_us: n("elapsed_us"),
            latencies_us: a
                .get("latencies_us")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
            first_failure: a
                .get("first_failure")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }

    fn memory(&self) -> Measured<Vec<ProcessMemory>> {
        match self.pid().and_then(procs::memory) {
            Some(memory) => Measured::Value(vec![ProcessMemory {
                name: "python (Errbot)".to_owned(),
                memory,
            }]),
            None => Measured::NotMeasured("the driver process is gone".to_owned()),
        }
    }

    fn cpu(&self) -> Vec<(String, f64)> {
        self.pid()
            .and_then(procs::cpu_ms)
            .map(|ms| vec![("python (Errbot)".to_owned(), ms)])
            .unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn quit(mut self) {
        if self.request(json!({"cmd": "quit"})).await.is_err() {
            let _ = self.child.start_kill();
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

/// Where to find Python with Errbot and the driver script.
pub struct Setup {
    /// The virtualenv's python.
    pub python: PathBuf,
    /// tests/bench/errbot_driver.py.
    pub script: PathBuf,
}

/// Runs every workload on Errbot in one configuration.
pub async fn run(setup: &Setup, config: &Config, w: &Workloads) -> SystemResults {
    let mut results = SystemResults::new(config.label, config.description);
    match run_into(setup, config, w, &mut results).await {
        Ok(()) => {}
        Err(e) => {
            eprintln!("{}: failed: {e:#}", config.label);
            if results.start_ms.value().is_none() {
                results.start_ms = Measured::NotMeasured(format!("{e:#}"));
            }
        }
    }
    results
}

async fn run_into(
    setup: &Setup,
    config: &Config,
    w: &Workloads,
    results: &mut SystemResults,
) -> anyhow::Result<()> {
    let label = config.label;
    // Every start in a fresh data directory; the last one runs the workloads.
    let mut starts = Vec::with_capacity(crate::STARTS);
    let (dir, mut driver) = loop {
        let dir = tempfile::Builder::new()
            .prefix("errbot-bench-py")
            .tempdir()
            .context("creating a temporary directory")?;
        let data = dir.path().join("data");
        let (driver, ready) =
            Driver::start(&setup.python, &setup.script, config.name, &data, w.plugins).await?;
        eprintln!("{label}: ready in {:.1} ms", ready.as_secs_f64() * 1000.0);
        starts.push(ready.as_secs_f64() * 1000.0);
        if starts.len() == crate::STARTS {
            break (dir, driver);
        }
        driver.quit().await;
    };
    results.start_ms = Measured::Value(crate::median(starts));
    let data = dir.path().join("data");
    let check = driver.request(json!({"cmd": "check"})).await?;
    if check.get("ok").and_then(Value::as_bool) != Some(true) {
        bail!("not every bench plugin answers: {check}");
    }
    results.memory_start = driver.memory();

    let t = w.timeout_ms;
    if let Err(e) = driver.load("!echo w{n}", "w{n}", w.warmup, 16, t).await {
        eprintln!("{label}: warm-up failed: {e:#}");
    }
    results.latency =
        Measured::from_result(driver.load("!echo lat{n}", "lat{n}", w.latency, 1, t).await);
    let mut cpu = Measured::NotMeasured("no load run".to_owned());
    for &c in &w.concurrency {
        let before = driver.cpu();
        let r = driver.load("!echo c{n}", "c{n}", w.messages, c, t).await;
        if let Ok(r) = &r {
            cpu = Measured::Value(cpu_shares(&before, &driver.cpu(), r.correct));
        }
        crate::rs_progress(label, &format!("!echo x{c}"), &r);
        results.throughput.push((c, Measured::from_result(r)));
    }
    results.cpu = cpu;
    let plugin = plugin_name(1);
    let body = format!("!{plugin} p{{n}}");
    let expect = format!("{plugin}: p{{n}}");
    results.plugin_latency =
        Measured::from_result(driver.load(&body, &expect, w.latency, 1, t).await);
    for c in PLUGIN_CONCURRENCY {
        let r = driver.load(&body, &expect, w.messages, c, t).await;
        crate::rs_progress(label, &format!("!{plugin} x{c}"), &r);
        results
            .plugin_throughput
            .push((c, Measured::from_result(r)));
    }
    results.webhook = Measured::from_result(webhook_load(&mut driver, label, w).await);
    results.memory_load = driver.memory();
    results.storage = Measured::from_result(storage_rate(&mut driver, w.storage).await);
    results.restart_ms =
        Measured::from_result(restart_after_sigkill(driver, setup, config, &data, w.plugins).await);
    Ok(())
}

/// The webhook workload on Errbot's own web server: its Webserver plugin started on a free
/// port (with the configuration `!plugin config Webserver` gives it), then `/bench1`, the
/// `@webhook` of the first bench plugin, under [`crate::webhook::CLIENTS`] clients.
async fn webhook_load(
    driver: &mut Driver,
    label: &str,
    w: &Workloads,
) -> anyhow::Result<LoadResult> {
    let port = crate::webhook::free_port()?;
    driver
        .request(json!({"cmd": "webserver", "port": port}))
        .await?;
    let base = format!("http://127.0.0.1:{port}");
    let plugin = plugin_name(1);
    crate::webhook::wait_ready(&base, &plugin, Duration::from_secs(30)).await?;
    let r = crate::webhook::load(&base, &plugin, w.webhook_requests, w.timeout_ms).await;
    crate::rs_progress(label, &format!("webhook x{}", crate::webhook::CLIENTS), &r);
    r
}

/// Errbot's storage: a plugin's `self[key] = value` then `self[key]` through the shelf.
async fn storage_rate(driver: &mut Driver, count: u32) -> anyhow::Result<StorageRate> {
    let a = driver
        .request(json!({"cmd": "storage", "count": count}))
        .await?;
    let rate = |k: &str| a.get(k).and_then(Value::as_f64).context("missing rate");
    Ok(StorageRate {
        sets_per_s: rate("sets_per_s")?,
        gets_per_s: rate("gets_per_s")?,
        concurrent_sets_per_s: rate("concurrent_sets_per_s")?,
    })
}

/// Errbot cannot restart one plugin: what is measured is the whole bot killed with SIGKILL and
/// started again (same data directory, warm caches), from the new process's start to its first
/// answered plugin command.
async fn restart_after_sigkill(
    mut driver: Driver,
    setup: &Setup,
    config: &Config,
    data: &Path,
    plugins: u32,
) -> anyhow::Result<f64> {
    driver.child.start_kill()?;
    let _ = driver.child.wait().await;
    let (again, ready) = Driver::start(&setup.python, &setup.script, config.name, data, plugins)
        .await
        .context("starting Errbot again")?;
    again.quit().await;
    Ok(ready.as_secs_f64() * 1000.0)
}
