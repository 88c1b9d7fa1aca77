//! Reading a backend's settings (the JSON of its `[backends.NAME]` table) key by key, so that
//! every problem names the key it is about and says what was expected.
//!
//! The same reader serves `errbot-gateway check` (which errbotd runs to report problems with the
//! file and line of the key) and `Start` (which refuses settings it cannot use).

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// One problem with one setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The key, as written in the backend's table ("port"); empty for the table as a whole.
    pub key: String,
    /// What is wrong and what was expected ("expected an integer from 1 to 65535, found 0").
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "setting `{}`: {}", self.key, self.message)
        }
    }
}

/// Joins problems into one sentence per line.
pub fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parses the settings JSON errbotd sends (an object; empty text means no settings).
pub fn parse_json(text: &str) -> Result<Map<String, Value>, Problem> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Problem {
            key: String::new(),
            message: format!("expected a table of settings, found {}", kind_of(&other)),
        }),
        Err(e) => Err(Problem {
            key: String::new(),
            message: format!("the settings are not valid JSON: {e}"),
        }),
    }
}

/// A reader over one settings table that records every problem it meets.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    read: BTreeSet<&'static str>,
    problems: Vec<Problem>,
}

impl<'a> Fields<'a> {
    /// A reader over `map`.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            read: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    /// Records a problem with `key`.
    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_owned(),
            message: message.into(),
        });
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.insert(key);
        self.map.get(key)
    }

    fn wrong(&mut self, key: &str, expected: &str, found: &Value) {
        self.problem(key, format!("expected {expected}, found {}", shown(found)));
    }

    /// A string, if present.
    pub fn string(&mut self, key: &'static str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong(key, "a string", other);
                None
            }
        }
    }

    /// A non-empty string without spaces or control characters, if present.
    pub fn word(&mut self, key: &'static str) -> Option<String> {
        let s = self.string(key)?;
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.problem(
                key,
                format!("expected a non-empty word without spaces, found {s:?}"),
            );
            return None;
        }
        Some(s)
    }

    /// A boolean, if present.
    pub fn boolean(&mut self, key: &'static str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.wrong(key, "true or false", other);
                None
            }
        }
    }

    /// An integer from `min` to `max`, if present.
    pub fn integer(&mut self, key: &'static str, min: i64, max: i64) -> Option<i64> {
        let value = self.get(key)?;
        match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.wrong(key, &format!("an integer from {min} to {max}"), value);
                None
            }
        }
    }

    /// A number of seconds from `min` to `max` (integers and decimals), if present.
    pub fn seconds(&mut self, key: &'static str, min: f64, max: f64) -> Option<f64> {
        let value = self.get(key)?;
        match value.as_f64() {
            Some(n) if n.is_finite() && (min..=max).contains(&n) => Some(n),
            _ => {
                self.wrong(
                    key,
                    &format!("a number of seconds from {min} to {max}"),
                    value,
                );
                None
            }
        }
    }

    /// A list of strings, if present.
    pub fn strings(&mut self, key: &'static str) -> Option<Vec<String>> {
        let value = self.get(key)?;
        let list = value.as_array().and_then(|items| {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        });
        if list.is_none() {
            self.wrong(key, "a list of strings", value);
        }
        list
    }

    /// A secret read from the environment variable named by `key` (a `*_env` key), if present.
    /// The variable must be set and not empty.
    pub fn secret_env(&mut self, key: &'static str) -> Option<String> {
        let var = self.word(key)?;
        match std::env::var(&var) {
            Ok(value) if !value.is_empty() => Some(value),
            Ok(_) => {
                self.problem(key, format!("the environment variable {var} is empty"));
                None
            }
            Err(std::env::VarError::NotPresent) => {
                self.problem(key, format!("the environment variable {var} is not set"));
                None
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                self.problem(
                    key,
                    format!("the environment variable {var} is not valid UTF-8"),
                );
                None
            }
        }
    }

    /// Ends reading: unknown keys become problems. Returns every problem met, in key order for
    /// unknown keys after the others.
    pub fn finish(mut self) -> Vec<Problem> {
        let known: Vec<&str> = self.read.iter().copied().collect();
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !self.read.contains(k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            self.problem(
                &key,
                format!("unknown setting (known: {})", known.join(", ")),
            );
        }
        self.problems
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => kind_of(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_problem_names_its_key() {
        let Value::Object(map) = json!({
            "server": 3,
            "port": 70000,
            "tls": "yes",
            "rate": 0.5,
            "rooms": ["#a", 1],
            "nick": "a b",
            "typo": true,
        }) else {
            unreachable!()
        };
        let mut f = Fields::new(&map);
        assert_eq!(f.string("server"), None);
        assert_eq!(f.integer("port", 1, 65535), None);
        assert_eq!(f.boolean("tls"), None);
        assert_eq!(f.seconds("rate", 0.0, 60.0), Some(0.5));
        assert_eq!(f.strings("rooms"), None);
        assert_eq!(f.word("nick"), None);
        assert_eq!(f.string("absent"), None);
        let problems = f.finish();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["server", "port", "tls", "rooms", "nick", "typo"]);
        assert_eq!(
            problems[1].to_string(),
            "setting `port`: expected an integer from 1 to 65535, found 70000"
        );
        assert!(problems[5].message.starts_with("unknown setting (known: "));
    }

    #[test]
    fn secrets_come_from_the_environment() {
        let Value::Object(map) =
            json!({"a_env": "ERRBOT_TEST_SURELY_UNSET_VARIABLE", "b_env": "PATH"})
        else {
            unreachable!()
        };
        let mut f = Fields::new(&map);
        assert_eq!(f.secret_env("a_env"), None);
        assert!(f.secret_env("b_env").is_some());
        let problems = f.finish();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("is not set"), "{problems:?}");
    }

    #[test]
    fn parses_only_tables() {
        assert!(parse_json("").unwrap().is_empty());
        assert!(parse_json("[1]").is_err());
        assert!(parse_json("{").is_err());
    }
}
