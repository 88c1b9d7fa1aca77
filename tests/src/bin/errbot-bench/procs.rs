//! What the kernel knows about a process: resident memory (RSS and PSS), CPU time, children,
//! environment. Read from /proc, so Linux only.

use std::collections::HashMap;

/// Memory of one process, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident set size (VmRSS): shared pages count in every process that maps them.
    pub rss_kib: u64,
    /// Proportional set size: shared pages divided between the processes sharing them, so that
    /// the PSS of several processes adds up to what they really occupy together.
    pub pss_kib: u64,
}

impl std::ops::Add for Memory {
    type Output = Memory;
    fn add(self, other: Memory) -> Memory {
        Memory {
            rss_kib: self.rss_kib + other.rss_kib,
            pss_kib: self.pss_kib + other.pss_kib,
        }
    }
}

/// Value in KiB of a `Name:   123 kB` line of a /proc file.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Memory of process `pid`, or `None` if it is gone.
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = kib_field(&status, "VmRSS")?;
    // smaps_rollup needs Linux 4.14; without it PSS is reported as RSS.
    let pss_kib = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|t| kib_field(&t, "Pss"))
        .unwrap_or(rss_kib);
    Some(Memory { rss_kib, pss_kib })
}

/// The fields of /proc/PID/stat after the command name.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 2..)?;
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// CPU time (user + system) used by process `pid` so far, in milliseconds.
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let fields = stat_fields(pid)?;
    // After the name: state(0) ppid(1) ... utime(11) stime(12), in clock ticks.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100);
    Some((utime + stime) as f64 * 1000.0 / ticks as f64)
}

/// Pids of the live children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    errbot_tests::children_of(pid)
        .into_iter()
        .filter(|p| errbot_tests::alive(*p))
        .collect()
}

/// The environment of process `pid` (empty when it cannot be read).
pub fn environ(pid: u32) -> HashMap<String, String> {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return HashMap::new();
    };
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The program name of process `pid` (its `comm`, at most 15 bytes).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let m = memory(me).expect("own memory");
        assert!(m.rss_kib > 0 && m.pss_kib > 0);
        assert!(cpu_ms(me).is_some());
        assert!(environ(me).contains_key("PATH") || std::env::var_os("PATH").is_none());
        assert!(!comm(me).is_empty());
    }

    #[test]
    fn parses_kib_lines() {
        let text = "Name:\tx\nVmRSS:\t    1234 kB\nPss:  77 kB\n";
        assert_eq!(kib_field(text, "VmRSS"), Some(1234));
        assert_eq!(kib_field(text, "Pss"), Some(77));
        assert_eq!(kib_field(text, "VmHWM"), None);
    }
}
