//! The `[storage]` table of errbot.toml: where the store is.
//!
//! ```toml
//! [storage]
//! # SQLite file (relative paths are resolved against errbot.toml's directory)...
//! url = "sqlite:data/errbot.db"
//! # ... or a PostgreSQL database:
//! # url = "postgres://errbot@db.example.com/errbot"
//! # ... or the name of an environment variable holding the URL (for passwords):
//! # url_env = "ERRBOT_STORAGE_URL"
//! ```
//!
//! With neither key, the store is SQLite at `<data_dir>/errbot.db`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{Config, ConfigError};

/// Settings of `[storage]` (Errbot's STORAGE and STORAGE_CONFIG).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// `sqlite:PATH` or `postgres://...` (`postgresql://...`).
    pub url: Option<String>,
    /// Name of an environment variable holding the URL, so that a password stays out of the file.
    pub url_env: Option<String>,
}

/// Where a store is.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (may hold a password: see [`Location::describe`]).
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Location {
    /// Parses a URL; relative SQLite paths are resolved against `base`.
    pub fn parse(url: &str, base: &Path) -> Result<Self, String> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(format!(
                    "expected sqlite:PATH with the path of a database file, found {url:?}"
                ));
            }
            let path = Path::new(path);
            return Ok(Self::Sqlite(if path.is_absolute() {
                path.to_owned()
            } else {
                base.join(path)
            }));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        Err(format!(
            "expected a URL starting with sqlite: or postgres://, found {:?}",
            redact(url)
        ))
    }

    /// Where the store is, with any password replaced by `***`.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => redact(url),
        }
    }
}

/// `url` with the password of its user-info part (`user:password@`) and any `password=`
/// parameter replaced by `***`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

/// Checks what can be checked without the environment: not both keys, a known URL scheme, a
/// valid variable name. `text` is the file's content, for line numbers.
pub fn validate(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let s = &config.storage;
    let invalid = |key: &str, message: String| {
        let (line, column) = locate(text, "storage", key);
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    if s.url.is_some() && s.url_env.is_some() {
        return Err(invalid(
            "url_env",
            "key `storage.url_env`: give either `url` or `url_env`, not both".into(),
        ));
    }
    if let Some(url) = &s.url {
        Location::parse(url, &config.base_dir())
            .map_err(|e| invalid("url", format!("key `storage.url`: {e}")))?;
    }
    if let Some(var) = &s.url_env
        && (var.is_empty() || var.contains(['=', '\0']))
    {
        return Err(invalid(
            "url_env",
            format!(
                "key `storage.url_env`: expected the name of an environment variable, found {var:?}"
            ),
        ));
    }
    Ok(())
}

/// Where the store of `config` is, reading the variable named by `url_env` now. Errors name the
/// file, line and key.
pub fn location(config: &Config) -> Result<Location, ConfigError> {
    let s = &config.storage;
    let url = match (&s.url, &s.url_env) {
        (Some(url), _) => Some((url.clone(), "url")),
        (None, Some(var)) => match std::env::var(var) {
            Ok(url) if !url.trim().is_empty() => Some((url, "url_env")),
            _ => {
                return Err(error_at(
                    config,
                    "url_env",
                    format!(
                        "key `storage.url_env`: the environment variable {var} is not set (it \
                         should hold the storage URL)"
                    ),
                ));
            }
        },
        (None, None) => None,
    };
    match url {
        None => Ok(Location::Sqlite(config.data_dir().join("errbot.db"))),
        Some((url, key)) => Location::parse(&url, &config.base_dir()).map_err(|e| {
            let what = if key == "url" {
                "key `storage.url`".to_owned()
            } else {
                format!(
                    "key `storage.url_env` (variable {})",
                    s.url_env.as_deref().unwrap_or_default()
                )
            };
            error_at(config, key, format!("{what}: {e}"))
        }),
    }
}

fn error_at(config: &Config, key: &str, message: String) -> ConfigError {
    let path = config
        .source
        .clone()
        .unwrap_or_else(|| PathBuf::from("(embedded defaults)"));
    let text = config
        .source
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let (line, column) = locate(&text, "storage", key);
    ConfigError::Invalid {
        path,
        line,
        column,
        message,
    }
}

/// 1-based line and column of `key = ...` inside `[table]` (or a dotted `table.key = ...`);
/// the table header, or (1, 1), when not found.
pub fn locate(text: &str, table: &str, key: &str) -> (usize, usize) {
    let mut in_table = false;
    let mut header = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        let column = raw.len() - line.len() + 1;
        if line.starts_with('[') {
            let name = line
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim();
            in_table = name == table;
            if in_table {
                header = Some((i + 1, column));
            }
            continue;
        }
        let assigns = |k: &str| {
            line.strip_prefix(k)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        };
        if (in_table && assigns(key)) || assigns(&format!("{table}.{key}")) {
            return (i + 1, column);
        }
    }
    header.unwrap_or((1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_passwords_are_hidden() {
        let base = Path::new("/srv/bot");
        assert_eq!(
            Location::parse("sqlite:data/x.db", base),
            Ok(Location::Sqlite(PathBuf::from("/srv/bot/data/x.db")))
        );
        assert_eq!(
            Location::parse("sqlite:///var/lib/x.db", base),
            Ok(Location::Sqlite(PathBuf::from("/var/lib/x.db")))
        );
        assert!(Location::parse("sqlite::memory:", base).is_err());
        assert!(Location::parse("mysql://x", base).is_err());
        let pg = Location::parse("postgres://bot:s3cret@db:5432/errbot?sslmode=disable", base)
            .expect("valid");
        assert_eq!(
            pg.describe(),
            "postgres://bot:***@db:5432/errbot?sslmode=disable"
        );
        assert_eq!(
            redact("postgresql://db/errbot?user=bot&password=s3cret"),
            "postgresql://db/errbot?user=bot&password=***"
        );
        assert_eq!(redact("postgres://bot@db/x"), "postgres://bot@db/x");
    }

    #[test]
    fn bad_storage_tables_name_file_line_and_key() {
        let err = |text: &str| {
            Config::parse(text, Path::new("/etc/errbot.toml"))
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            err("[bot]\n\n[storage]\nurl = \"mysql://db\"\n"),
            "/etc/errbot.toml:4:1: key `storage.url`: expected a URL starting with sqlite: or \
             postgres://, found \"mysql://db\""
        );
        assert!(
            err("[storage]\nurl = \"sqlite:x.db\"\nurl_env = \"X\"\n")
                .starts_with("/etc/errbot.toml:3:1: key `storage.url_env`: give either")
        );
        assert!(err("[storage]\nurl = 5\n").starts_with("/etc/errbot.toml:2:"));
        assert!(err("[storage]\nuri = \"x\"\n").contains("uri"));
        let c = Config::parse("[paths]\ndata_dir = \"/srv/d\"\n", Path::new("/etc/e.toml"))
            .expect("valid");
        assert_eq!(
            location(&c).expect("default"),
            Location::Sqlite(PathBuf::from("/srv/d/errbot.db"))
        );
        let c = Config::parse(
            "[storage]\nurl_env = \"ERRBOT_TEST_SURELY_UNSET_VAR\"\n",
            Path::new("/nonexistent/e.toml"),
        )
        .expect("valid");
        let e = location(&c).expect_err("unset").to_string();
        assert!(e.starts_with("/nonexistent/e.toml:"), "{e}");
        assert!(e.contains("ERRBOT_TEST_SURELY_UNSET_VAR is not set"), "{e}");
    }

    #[test]
    fn keys_are_located_in_their_table() {
        let text = "[paths]\nurl = 1\n\n[storage]\n  url = \"x\"\n";
        assert_eq!(locate(text, "storage", "url"), (5, 3));
        assert_eq!(locate(text, "storage", "url_env"), (4, 1));
        assert_eq!(locate("storage.url = 1\n", "storage", "url"), (1, 1));
    }
}
