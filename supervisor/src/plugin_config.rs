//! Plugin configurations: where a plugin's configuration comes from, and whether it has the shape
//! of the plugin's template (Errbot's `check_configuration`).
//!
//! A plugin declares a configuration template in Describe (`config_template_json`). Its
//! configuration comes from, first match wins:
//! 1. `[plugins.NAME] config = {...}` in errbot.toml;
//! 2. `[plugins.NAME] config_env = "VAR"`: the variable holds the configuration as JSON (secrets);
//! 3. `!plugin config NAME {...}`, stored in the core namespace (key `configs`).
//!
//! The file wins so that what an operator wrote in errbot.toml is what runs after every restart;
//! `!plugin config NAME {...}` is then refused with a pointer to the file. A plugin with a
//! template and no configuration is not activated: `!status plugins` shows it as `C`.

use std::path::Path;

use serde_json::Value;

use crate::config::{Config, ConfigError, PluginSettings};

/// Where a configuration came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `[plugins.NAME] config` in errbot.toml.
    File,
    /// The environment variable named by `[plugins.NAME] config_env`.
    Env(String),
    /// `!plugin config`, stored in the core namespace.
    Stored,
}

impl Source {
    /// How to tell people where to change it; `None` when `!plugin config` may change it.
    pub fn fixed_by(&self, config: &Config, plugin: &str) -> Option<String> {
        let file = config.file_to_edit();
        match self {
            Source::File => Some(format!("`[plugins.{plugin}] config` in {file}")),
            Source::Env(var) => Some(format!(
                "the environment variable {var} (named by `[plugins.{plugin}] config_env` in {file})"
            )),
            Source::Stored => None,
        }
    }
}

/// The configuration given to a plugin in errbot.toml or its environment, if any.
pub fn from_settings(settings: Option<&PluginSettings>) -> Result<Option<(Value, Source)>, String> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    if let Some(value) = &settings.config {
        return toml_to_json(value).map(|v| Some((v, Source::File)));
    }
    if let Some(var) = &settings.config_env {
        let text = std::env::var(var)
            .map_err(|_| format!("the environment variable {var} (its config_env) is not set"))?;
        let value = serde_json::from_str(&text).map_err(|e| {
            format!("the environment variable {var} (its config_env) is not JSON: {e}")
        })?;
        return Ok(Some((value, Source::Env(var.clone()))));
    }
    Ok(None)
}

/// A TOML value as JSON. Dates and times become RFC 3339 strings.
pub fn toml_to_json(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} cannot be represented in JSON"))?,
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => {
            Value::Array(a.iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| toml_to_json(v).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Checks the `[plugins.NAME]` tables: not both `config` and `config_env`, values JSON can hold.
pub fn validate_settings(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    for (name, settings) in &config.plugins {
        let table = format!("plugins.{name}");
        let invalid = |key: &str, message: String| {
            let (line, column) = crate::storage::settings::locate(text, &table, key);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        if settings.config.is_some() && settings.config_env.is_some() {
            return Err(invalid(
                "config_env",
                format!("key `{table}.config_env`: give either `config` or `config_env`, not both"),
            ));
        }
        if let Some(value) = &settings.config {
            toml_to_json(value)
                .map_err(|e| invalid("config", format!("key `{table}.config`: {e}")))?;
        }
        if let Some(var) = &settings.config_env
            && (var.is_empty() || var.contains(['=', '\0']))
        {
            return Err(invalid(
                "config_env",
                format!(
                    "key `{table}.config_env`: expected the name of an environment variable, \
                     found {var:?}"
                ),
            ));
        }
    }
    Ok(())
}

/// The start of `!plugin config NAME`'s answer without a configuration: the template, as a
/// command to copy (Errbot's words).
pub fn template_text(prefix: &str, plugin: &str, template: &Value) -> String {
    format!(
        "Default configuration for this plugin (you can copy and paste this directly as a single \
         line command):\n\n```\n{prefix}plugin config {plugin} {template}\n```"
    )
}

/// The part of that answer that shows the configuration in force.
pub fn current_text(prefix: &str, plugin: &str, config: &Value) -> String {
    format!("\n\nCurrent configuration:\n\n```\n{prefix}plugin config {plugin} {config}\n```")
}

/// The configuration typed after `!plugin config NAME`: JSON, or a Python literal as Errbot
/// takes it (`{'KEY': 'value', 'ON': True}`); the error is the reply.
pub fn parse_text(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).or_else(|e| {
        crate::pyliteral::parse(text).map_err(|python| {
            format!(
                "Syntax error in the given configuration: {e} (as JSON); {python} (as a Python \
                 literal)."
            )
        })
    })
}

/// The template of a description, parsed; `None` when the plugin is not configurable.
pub fn template_of(template_json: &str) -> Result<Option<Value>, String> {
    if template_json.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(template_json)
        .map(Some)
        .map_err(|e| format!("its configuration template is not valid JSON: {e}"))
}

/// Short JSON type name, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// Whether `config` has the shape of `template`, as Errbot checks it: same types throughout
/// (an integer is accepted where the template has a float; a `null` in the template accepts
/// anything), every element of a list has the shape of the template list's first element (an
/// empty template list accepts any list), and an object has exactly the template's keys.
pub fn check_shape(template: &Value, config: &Value) -> Result<(), String> {
    let same_type = match (template, config) {
        (Value::Null, _) => return Ok(()),
        (Value::Number(t), Value::Number(c)) => t.is_f64() || !c.is_f64(),
        (t, c) => std::mem::discriminant(t) == std::mem::discriminant(c),
    };
    if !same_type {
        return Err(format!(
            "{config} [{}] is not the same type as {template} [{}]",
            kind(config),
            kind(template)
        ));
    }
    match (template, config) {
        (Value::Array(t), Value::Array(c)) => {
            if let Some(first) = t.first() {
                for element in c {
                    check_shape(first, element)?;
                }
            }
            Ok(())
        }
        (Value::Object(t), Value::Object(c)) => {
            if let Some(missing) = t.keys().find(|k| !c.contains_key(*k)) {
                return Err(format!("{config} doesn't contain the key {missing}"));
            }
            if let Some(unknown) = c.keys().find(|k| !t.contains_key(*k)) {
                return Err(format!("{config} contains an unknown key {unknown}"));
            }
            for (key, sample) in t {
                if let Some(value) = c.get(key) {
                    check_shape(sample, value)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_follow_errbots_rules() {
        let t = json!({"LOGIN": "me@example.com", "RETRIES": 3, "RATIO": 0.5, "ROOMS": ["#a"], "EXTRA": null});
        let ok = json!({"LOGIN": "x", "RETRIES": 5, "RATIO": 2, "ROOMS": [], "EXTRA": {"any": 1}});
        assert_eq!(check_shape(&t, &ok), Ok(()));
        let missing = json!({"LOGIN": "x", "RETRIES": 5, "RATIO": 2.0, "ROOMS": []});
        assert!(
            check_shape(&t, &missing)
                .unwrap_err()
                .contains("doesn't contain the key EXTRA")
        );
        let unknown =
            json!({"LOGIN": "x", "RETRIES": 5, "RATIO": 2.0, "ROOMS": [], "EXTRA": 1, "X": 1});
        assert!(
            check_shape(&t, &unknown)
                .unwrap_err()
                .contains("contains an unknown key X")
        );
        let wrong = json!({"LOGIN": "x", "RETRIES": "5", "RATIO": 2.0, "ROOMS": [], "EXTRA": 1});
        assert_eq!(
            check_shape(&t, &wrong).unwrap_err(),
            "\"5\" [string] is not the same type as 3 [integer]"
        );
        let float_for_int =
            json!({"LOGIN": "x", "RETRIES": 1.5, "RATIO": 2.0, "ROOMS": [], "EXTRA": 1});
        assert!(check_shape(&t, &float_for_int).is_err());
        let bad_element =
            json!({"LOGIN": "x", "RETRIES": 1, "RATIO": 2.0, "ROOMS": ["#b", 7], "EXTRA": 1});
        assert!(
            check_shape(&t, &bad_element)
                .unwrap_err()
                .starts_with("7 [integer]")
        );
        assert!(check_shape(&json!([]), &json!([1, "a"])).is_ok());
        assert!(check_shape(&json!({}), &json!([])).is_err());
    }

    #[test]
    fn toml_values_become_json() {
        let t: toml::Table = toml::from_str(
            "a = 1\nb = [true, 2.5]\nc = { d = \"e\" }\nwhen = 1979-05-27T07:32:00Z\n",
        )
        .expect("toml");
        assert_eq!(
            toml_to_json(&toml::Value::Table(t)).expect("json"),
            json!({"a": 1, "b": [true, 2.5], "c": {"d": "e"}, "when": "1979-05-27T07:32:00Z"})
        );
    }
}
