//! errbot.toml loading and checking: TOML syntax, the schema, every semantic check (prefix,
//! supervision, timeouts, `[access]` rules and their `backends`, web, repos, storage, plugin
//! settings), and the file:line:column of each error; then what errbotd derives from a valid
//! file (prefixes, notification targets, backends, a reload plan against the defaults).
//!
//! Invariants: an error's line and column point inside the file (1-based, the column within
//! that line, counted in bytes, or just past its end); a valid file parses the same twice.
#![no_main]

use std::path::Path;

use errbotd::config::{Config, ConfigError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/errbot.toml");
    match Config::parse(text, path) {
        Ok(config) => {
            let _ = config.prefixes();
            let _ = config.bot.notification_targets();
            let _ = config.bot.notification_warnings();
            let _ = config.backend_instances().count();
            let _ = config.access.problems();
            for name in config.plugins.keys() {
                let _ = config.plugin_supervision(name);
                let _ = config.command_timeout(Some(name));
                let _ = config.build_timeout(name);
            }
            for name in config.backends.keys() {
                let _ = config.backend_supervision(name);
            }
            let plugins: Vec<String> = config.plugins.keys().cloned().collect();
            let _ = errbotd::reload::plan(&Config::embedded_default(), &config, &plugins);
            let _ = errbotd::reload::plan(&config, &config, &plugins);
            assert!(
                Config::parse(text, path).is_ok(),
                "a valid file became invalid"
            );
        }
        Err(ConfigError::Invalid {
            line,
            column,
            message,
            ..
        }) => {
            assert!(!message.is_empty());
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(
                line >= 1 && line <= lines.len(),
                "line {line} of {} in {text:?}",
                lines.len()
            );
            let width = lines[line - 1].len();
            assert!(
                column >= 1 && column <= width + 1,
                "column {column} of {width} at line {line}: {message}"
            );
        }
        Err(ConfigError::Io { .. }) => panic!("parsing read a file"),
    }
});
