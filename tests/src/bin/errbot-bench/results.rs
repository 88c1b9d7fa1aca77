//! What one run of a workload measured, for either system, and the statistics drawn from it.

use crate::procs::Memory;

/// A figure, or why it could not be measured.
#[derive(Clone, Debug)]
pub enum Measured<T> {
    /// The figure.
    Value(T),
    /// Why there is none (a missing feature, a failure).
    NotMeasured(String),
}

impl<T> Measured<T> {
    /// The figure, if measured.
    pub fn value(&self) -> Option<&T> {
        match self {
            Measured::Value(v) => Some(v),
            Measured::NotMeasured(_) => None,
        }
    }

    /// Turns an error into "not measured" with its reason.
    pub fn from_result(r: anyhow::Result<T>) -> Self {
        match r {
            Ok(v) => Measured::Value(v),
            Err(e) => Measured::NotMeasured(format!("{e:#}")),
        }
    }
}

/// The outcome of one load run (the test gateway's `Load`, or the Errbot driver's `load`):
/// `correct + wrong + duplicated + lost == sent`.
#[derive(Clone, Debug, Default)]
pub struct LoadResult {
    /// Messages sent.
    pub sent: u64,
    /// Messages answered exactly once with the expected text.
    pub correct: u64,
    /// Messages (errbot-rs) or unattributable replies (Errbot) with an unexpected text.
    pub wrong: u64,
    /// Messages answered more than once.
    pub duplicated: u64,
    /// Messages never answered within the timeout.
    pub lost: u64,
    /// Wall-clock time of the run, in microseconds.
    pub elapsed_us: u64,
    /// Latency of each correct message, in microseconds.
    pub latencies_us: Vec<u64>,
    /// What went wrong first, if anything.
    pub first_failure: String,
}

impl LoadResult {
    /// Correct replies per second.
    pub fn throughput(&self) -> f64 {
        if self.elapsed_us == 0 {
            return 0.0;
        }
        self.correct as f64 * 1e6 / self.elapsed_us as f64
    }

    /// Whether every message got exactly its one expected reply.
    pub fn is_clean(&self) -> bool {
        self.sent > 0
            && self.correct == self.sent
            && self.wrong == 0
            && self.duplicated == 0
            && self.lost == 0
    }

    /// Latency percentile `p` (0-100) of the correct messages, in milliseconds (nearest rank).
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies_us, p).map(|us| us as f64 / 1000.0)
    }

    /// "lost 3, duplicated 2" or "" when clean.
    pub fn failures(&self) -> String {
        let mut parts = Vec::new();
        for (n, what) in [
            (self.lost, "lost"),
            (self.duplicated, "duplicated"),
            (self.wrong, "wrong"),
        ] {
            if n > 0 {
                parts.push(format!("{what} {n}"));
            }
        }
        parts.join(", ")
    }
}

/// Nearest-rank percentile of `values` (need not be sorted).
pub fn percentile(values: &[u64], p: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// One process and its memory.
#[derive(Clone, Debug)]
pub struct ProcessMemory {
    /// What the process is ("errbotd", "gateway", "plugin bench1", "python (Errbot)").
    pub name: String,
    /// Its memory.
    pub memory: Memory,
}

/// Sum of the memory of `processes`.
pub fn total(processes: &[ProcessMemory]) -> Memory {
    processes
        .iter()
        .fold(Memory::default(), |acc, p| acc + p.memory)
}

/// CPU time a process used during a load run, per 1000 correct messages.
#[derive(Clone, Debug)]
pub struct CpuShare {
    /// What the process is.
    pub name: String,
    /// Milliseconds of CPU per 1000 correct messages.
    pub ms_per_1000: f64,
}

/// Storage operations per second.
#[derive(Clone, Copy, Debug)]
pub struct StorageRate {
    /// Sets (writes) per second.
    pub sets_per_s: f64,
    /// Gets (reads) per second.
    pub gets_per_s: f64,
    /// Sets per second from [`STORAGE_WRITERS`] concurrent writers.
    pub concurrent_sets_per_s: f64,
}

/// Concurrent writers of the storage workload's last part.
pub const STORAGE_WRITERS: u32 = 16;

/// Everything measured for one system in one configuration.
#[derive(Clone, Debug)]
pub struct SystemResults {
    /// Column title ("errbot-rs", "Errbot default"...).
    pub label: String,
    /// One line saying what this configuration is.
    pub description: String,
    /// Process start to the first answered plugin command, with 5 plugins (ms).
    pub start_ms: Measured<f64>,
    /// `!echo`, one sender, one message at a time.
    pub latency: Measured<LoadResult>,
    /// `!echo` with 1, 16, 64... concurrent senders.
    pub throughput: Vec<(u32, Measured<LoadResult>)>,
    /// A plugin's command, one sender, one message at a time.
    pub plugin_latency: Measured<LoadResult>,
    /// A plugin's command with each of [`PLUGIN_CONCURRENCY`] senders.
    pub plugin_throughput: Vec<(u32, Measured<LoadResult>)>,
    /// Memory of every process once ready.
    pub memory_start: Measured<Vec<ProcessMemory>>,
    /// Memory of every process after the load runs.
    pub memory_load: Measured<Vec<ProcessMemory>>,
    /// CPU per process during the `!echo` run with the most senders.
    pub cpu: Measured<Vec<CpuShare>>,
    /// Time until a killed plugin (errbot-rs) or the killed bot (Errbot) answers again (ms).
    pub restart_ms: Measured<f64>,
    /// Storage get/set per second through a plugin.
    pub storage: Measured<StorageRate>,
    /// A plugin's JSON webhook under [`crate::webhook::CLIENTS`] concurrent HTTP clients.
    pub webhook: Measured<LoadResult>,
}

/// "1 sender", "16 senders".
pub fn senders(n: u32) -> String {
    if n == 1 {
        "1 sender".to_owned()
    } else {
        format!("{n} senders")
    }
}

/// Why a workload has no figure when it was never run.
pub const NOT_RUN: &str = "not run";

/// Senders of the plugin-command throughput runs (`--only plugin` uses the first).
pub const PLUGIN_CONCURRENCY: [u32; 2] = [16, 64];

impl SystemResults {
    /// Results with nothing measured yet.
    pub fn new(label: &str, description: &str) -> Self {
        fn none<T>() -> Measured<T> {
            Measured::NotMeasured(NOT_RUN.to_owned())
        }
        Self {
            label: label.to_owned(),
            description: description.to_owned(),
            start_ms: none(),
            latency: none(),
            throughput: Vec::new(),
            plugin_latency: none(),
            plugin_throughput: Vec::new(),
            memory_start: none(),
            memory_load: none(),
            cpu: none(),
            restart_ms: none(),
            storage: none(),
            webhook: none(),
        }
    }

    /// Every load run, with a name, for the reliability report.
    pub fn loads(&self) -> Vec<(String, &Measured<LoadResult>)> {
        let mut all = vec![("`!echo` sequential".to_owned(), &self.latency)];
        for (c, r) in &self.throughput {
            all.push((format!("`!echo` {}", senders(*c)), r));
        }
        all.push(("plugin command sequential".to_owned(), &self.plugin_latency));
        for (c, r) in &self.plugin_throughput {
            all.push((format!("plugin command {}", senders(*c)), r));
        }
        all.push((
            format!("webhook {} clients", crate::webhook::CLIENTS),
            &self.webhook,
        ));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn throughput_counts_correct_replies_only() {
        let r = LoadResult {
            sent: 100,
            correct: 50,
            lost: 30,
            duplicated: 20,
            elapsed_us: 1_000_000,
            ..Default::default()
        };
        assert_eq!(r.throughput(), 50.0);
        assert!(!r.is_clean());
        assert_eq!(r.failures(), "lost 30, duplicated 20");
    }
}
