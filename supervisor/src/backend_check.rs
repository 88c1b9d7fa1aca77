//! Checking each backend's settings with `errbot-gateway check --kind KIND`, the only authority
//! on what a backend kind accepts, and reporting every problem at the file, line and column of
//! its key (`backends.NAME.KEY`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use crate::child;
use crate::config::Config;

/// What `errbot-gateway check` prints.
#[derive(Deserialize)]
struct Report {
    problems: Vec<Problem>,
}

/// One problem with one setting, as the gateway reports it.
#[derive(Deserialize)]
struct Problem {
    key: String,
    message: String,
}

/// Checks every backend of `config`; the error lists every problem, one per line, as
/// `FILE:LINE:COLUMN: key `backends.NAME.KEY`: what is wrong`.
pub fn check(config: &Config) -> Result<(), String> {
    let text = config
        .source
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let file = config.describe_source();
    let gateway = child::beside_errbotd("errbot-gateway");
    let mut lines = Vec::new();
    for (name, kind, backend) in config.backend_instances() {
        let settings = serde_json::to_string(&backend.settings)
            .map_err(|e| format!("backend {name}: cannot encode its settings: {e}"))?;
        let problems =
            run_check(&gateway, kind, &settings).map_err(|e| format!("backend {name}: {e}"))?;
        for p in problems {
            let key = if p.key.is_empty() {
                format!("backends.{name}")
            } else {
                format!("backends.{name}.{}", p.key)
            };
            let (line, column) = position(&text, &["backends", name, &p.key]);
            lines.push(format!(
                "{file}:{line}:{column}: key `{key}`: {}",
                p.message
            ));
        }
    }
    if lines.is_empty() {
        Ok(())
    } else {
        Err(lines.join("\n"))
    }
}

/// Runs the gateway's check for one backend.
fn run_check(gateway: &Path, kind: &str, settings: &str) -> Result<Vec<Problem>, String> {
    let mut process = Command::new(gateway)
        .args(["check", "--kind", kind])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {} to check it: {e}", gateway.display()))?;
    if let Some(mut stdin) = process.stdin.take() {
        // A gateway that exits early closes the pipe; its report says why.
        let _ = stdin.write_all(settings.as_bytes());
    }
    let output = process
        .wait_with_output()
        .map_err(|e| format!("checking with {} failed: {e}", gateway.display()))?;
    let report: Report = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "{} check gave no report ({}): {e}",
            gateway.display(),
            output.status
        )
    })?;
    Ok(report.problems)
}

/// 1-based line and column of the deepest key of `path` present in the TOML `text` (so a
/// missing key points at its table); (1, 1) when nothing is found.
pub fn position(text: &str, path: &[&str]) -> (usize, usize) {
    let Ok(root) = DeTable::parse(text) else {
        return (1, 1);
    };
    let mut table = root.get_ref();
    let mut found = None;
    for name in path.iter().filter(|n| !n.is_empty()) {
        let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref() == name) else {
            break;
        };
        found = Some(key.span().start);
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    found.map_or((1, 1), |offset| crate::config::line_column(text, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_falls_back_to_their_table() {
        let text = "[bot]\nprefix = \"!\"\n\n[backends.irc]\nkind = \"irc\"\n  port = 0\n\n[backends.other]\nx = 1\n";
        assert_eq!(position(text, &["backends", "irc", "port"]), (6, 3));
        assert_eq!(position(text, &["backends", "irc", "missing"]), (4, 11));
        assert_eq!(position(text, &["backends", "irc", ""]), (4, 11));
        assert_eq!(position(text, &["backends", "other", "x"]), (9, 1));
        assert_eq!(position("not toml [", &["a"]), (1, 1));
        let inline = "backends.irc.port = 3\n";
        assert_eq!(position(inline, &["backends", "irc", "port"]), (1, 14));
    }
}
