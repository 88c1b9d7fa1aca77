//! errbot-bench: the same workloads on errbot-rs and on Errbot 6.2.1, side by side, as a
//! Markdown report (BENCHMARKS.md). Run it through `tests/bench/run.sh`, which builds the
//! release binaries and Errbot's virtualenv first.
//!
//! errbot-rs: the release errbotd with the test gateway, whose `Load` generates the messages
//! inside the gateway process and checks every reply. Errbot: its Test backend, driven inside
//! Errbot's own process by tests/bench/errbot_driver.py, in three configurations.
//! `--smoke` runs every workload with tiny counts, writes no file and fails only when something
//! does not work (never on a timing).

mod errbot;
mod procs;
mod report;
mod results;
mod rs;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use results::{LoadResult, Measured, SystemResults};

/// Command-line options.
#[derive(Parser)]
#[command(about = "Benchmarks errbot-rs side by side with Errbot 6.2.1")]
struct Cli {
    /// Tiny counts, no file written, fails only when a workload does not work.
    #[arg(long)]
    smoke: bool,
    /// Python of a virtualenv with Errbot 6.2.1 (tests/bench/run.sh makes it).
    #[arg(long)]
    errbot_python: Option<PathBuf>,
    /// The Errbot driver script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/errbot_driver.py"))]
    errbot_driver: PathBuf,
    /// Only measure errbot-rs.
    #[arg(long)]
    skip_errbot: bool,
    /// Run only this errbot-rs throughput workload, --messages long, at its highest
    /// concurrency, then stop (for profiling: attach perf to the processes meanwhile). Implies
    /// --skip-errbot and --no-write.
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Write the report into this Markdown file, between its markers (default: BENCHMARKS.md
    /// of the repository; never in smoke mode).
    #[arg(long)]
    write: Option<PathBuf>,
    /// Do not write any file, only print the report.
    #[arg(long)]
    no_write: bool,
    /// Messages per throughput run.
    #[arg(long)]
    messages: Option<u32>,
    /// Messages of the sequential latency runs.
    #[arg(long)]
    latency_messages: Option<u32>,
    /// Requests of the webhook run (64 concurrent clients).
    #[arg(long)]
    webhook_requests: Option<u32>,
    /// The command that reproduces this run, as printed in the report.
    #[arg(long, default_value = "tests/bench/run.sh")]
    command: String,
    /// Status of the figures, shown in the report's title.
    #[arg(long, default_value = "preliminary: shared, noisy machine")]
    status: String,
}

/// How many times each system is started; start to ready is the median (one start can be slowed
/// by the disk or the page cache).
pub const STARTS: usize = 3;

/// The median of `values` (the upper one of the two middle values for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A workload run alone (`--only`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Only {
    /// `!echo` (a built-in command) from 64 senders.
    Echo,
    /// A plugin's command from 16 senders.
    Plugin,
}

/// What each workload sends.
pub struct Workloads {
    /// Bench plugins loaded (start to ready is measured with them).
    pub plugins: u32,
    /// Messages sent before measuring.
    pub warmup: u32,
    /// Messages of the sequential latency runs.
    pub latency: u32,
    /// Messages per throughput run.
    pub messages: u32,
    /// Concurrent senders of the throughput runs.
    pub concurrency: Vec<u32>,
    /// Time after which a message counts as lost.
    pub timeout_ms: u32,
    /// Keys written then read by the storage workload.
    pub storage: u32,
    /// Requests of the webhook workload.
    pub webhook_requests: u32,
    /// Run only this workload (for profiling).
    pub only: Option<Only>,
}

impl Workloads {
    fn new(cli: &Cli) -> Self {
        let (latency, messages, warmup, storage, webhook_requests) = if cli.smoke {
            (20, 100, 10, 100, 200)
        } else {
            (2_000, 10_000, 500, 10_000, 10_000)
        };
        Self {
            plugins: 5,
            warmup,
            latency: cli.latency_messages.unwrap_or(latency),
            messages: cli.messages.unwrap_or(messages),
            concurrency: vec![1, 16, 64],
            timeout_ms: 10_000,
            storage,
            webhook_requests: cli.webhook_requests.unwrap_or(webhook_requests),
            only: cli.only,
        }
    }
}

/// Prints the outcome of a load run as it finishes.
pub fn rs_progress(system: &str, what: &str, r: &anyhow::Result<LoadResult>) {
    match r {
        Ok(r) => eprintln!(
            "{system}: {what}: {:.0} correct replies/s ({}/{} correct{}{})",
            r.throughput(),
            r.correct,
            r.sent,
            if r.is_clean() { "" } else { "; " },
            r.failures()
        ),
        Err(e) => eprintln!("{system}: {what}: failed: {e:#}"),
    }
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let text = if text.is_empty() {
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    } else {
        text
    };
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn machine(python: Option<&PathBuf>) -> Vec<String> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .map_or("unknown".to_owned(), |m| m.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kib: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let mut lines = vec![
        format!("CPU: {model}, {cores} cores available"),
        format!("memory: {:.1} GiB", mem_kib as f64 / 1024.0 / 1024.0),
        format!(
            "kernel: Linux {}",
            read("/proc/sys/kernel/osrelease").trim()
        ),
        format!(
            "load average before the run (1, 5, 15 min): {}",
            read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "Rust: {}",
            command_output("rustc", &["-V"]).unwrap_or_else(|| "unknown".into())
        ),
    ];
    if let Some(python) = python {
        let py = python.display().to_string();
        lines.push(format!(
            "Python: {}; Errbot {}",
            command_output(&py, &["-V"]).unwrap_or_else(|| "unknown".into()),
            command_output(
                &py,
                &[
                    "-c",
                    "import importlib.metadata as m; print(m.version('errbot'))"
                ]
            )
            .unwrap_or_else(|| "unknown".into())
        ));
    }
    lines
}

/// Whether the run worked: every errbot-rs workload gave only correct replies, and every
/// workload was measured on both systems in every configuration.
/// What went wrong in a run: a system that did not start, a workload without a figure, and a
/// reply lost, duplicated or wrong on errbot-rs's side (`all[0]`, and `compat`: Errbot's own
/// losses are a finding, not a harness failure).
fn problems(all: &[SystemResults], compat: Option<&SystemResults>) -> Vec<String> {
    let mut out = Vec::new();
    // (system, errbot-rs's, runs every workload)
    let systems = all
        .iter()
        .enumerate()
        .map(|(i, s)| (s, i == 0, true))
        .chain(compat.map(|s| (s, true, false)));
    for (s, ours, every_workload) in systems {
        if let Measured::NotMeasured(why) = &s.start_ms {
            out.push(format!("{}: did not start: {why}", s.label));
            continue;
        }
        for (name, m) in s.loads() {
            match m {
                // The compatibility host's column runs only the plugin workloads.
                Measured::NotMeasured(why) if why == results::NOT_RUN && !every_workload => {}
                Measured::NotMeasured(why) => out.push(format!("{}: {name}: {why}", s.label)),
                Measured::Value(r) if ours && !r.is_clean() => out.push(format!(
                    "{}: {name}: {} ({})",
                    s.label,
                    r.failures(),
                    r.first_failure
                )),
                Measured::Value(_) => {}
            }
        }
        if !every_workload {
            continue;
        }
        for (name, missing) in [
            ("memory", s.memory_load.value().is_none()),
            ("cpu", s.cpu.value().is_none()),
            ("restart", s.restart_ms.value().is_none()),
            ("storage", s.storage.value().is_none()),
        ] {
            if missing {
                out.push(format!("{}: {name} not measured", s.label));
            }
        }
    }
    out
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let w = Workloads::new(&cli);
    let bin_dir = match rs::bin_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("errbot-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    if w.only.is_some() {
        return match rs::run_only(&bin_dir, &w).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("errbot-bench: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let python = if cli.skip_errbot {
        None
    } else {
        match &cli.errbot_python {
            Some(p) if p.is_file() => Some(p.clone()),
            Some(p) => {
                eprintln!(
                    "errbot-bench: --errbot-python {} does not exist",
                    p.display()
                );
                return ExitCode::from(2);
            }
            None => {
                eprintln!(
                    "errbot-bench: --errbot-python is required (or --skip-errbot); tests/bench/run.sh passes it"
                );
                return ExitCode::from(2);
            }
        }
    };
    if python.is_some() && !cli.errbot_driver.is_file() {
        eprintln!(
            "errbot-bench: the driver {} does not exist",
            cli.errbot_driver.display()
        );
        return ExitCode::from(2);
    }
    let info = report::RunInfo {
        status: if cli.smoke {
            "smoke run: tiny counts, figures meaningless".to_owned()
        } else {
            cli.status.clone()
        },
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
            .unwrap_or_else(|| "unknown date".into()),
        command: cli.command.clone(),
        machine: machine(python.as_ref()),
    };

    let mut all = vec![rs::run(&bin_dir, &w).await];
    let mut compat = None;
    if let Some(python) = python {
        compat = Some(rs::run_compat(&bin_dir, &w, &python, &cli.errbot_driver).await);
        let setup = errbot::Setup {
            python,
            script: cli.errbot_driver.clone(),
        };
        for config in errbot::CONFIGS {
            all.push(errbot::run(&setup, config, &w).await);
        }
    }
    let text = report::render(&all, compat.as_ref(), &w, &info);
    println!("{text}");

    let target = if cli.smoke || cli.no_write {
        None
    } else {
        Some(cli.write.clone().unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md"))
        }))
    };
    if let Some(path) = target {
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, report::splice(&existing, &text)) {
            eprintln!("errbot-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("errbot-bench: wrote {}", path.display());
    }
    let problems = problems(&all, compat.as_ref());
    for p in &problems {
        eprintln!("errbot-bench: problem: {p}");
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
