//! The `[access]` table of errbot.toml: Errbot's ACCESS_CONTROLS_DEFAULT, ACCESS_CONTROLS (an
//! ordered array here, since the first matching rule wins), HIDE_RESTRICTED_COMMANDS and
//! HIDE_RESTRICTED_ACCESS.
//!
//! Errbot silently blocks a command whose rule holds `None`. TOML has no null, so here every
//! rule value must have its documented type (a glob or an array of globs for `*users`, `*rooms`,
//! `*args` and `backends`; a boolean for `allowmuc` and `allowprivate`); anything else, a key
//! Errbot does not know (a typo such as `allowuser`), a missing or malformed `command`, is a
//! configuration error naming the file, the line and the key. There is no value meaning "block
//! silently": to refuse everyone, write `denyusers = ["*"]`, which answers with the reason.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, SeqAccess, Visitor};

/// Settings of `[access]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessSettings {
    /// Checks applied to every command, under whichever rule matches
    /// (ACCESS_CONTROLS_DEFAULT). `command` and `backends` are not allowed here.
    pub default: Rule,
    /// Rules in order (ACCESS_CONTROLS); the first whose `command` (and `backends`, when set)
    /// match is merged over `default`, key by key.
    pub rules: Vec<toml::Spanned<Rule>>,
    /// `!help` and `!apropos` list only the commands the sender may run
    /// (HIDE_RESTRICTED_COMMANDS).
    pub hide_restricted_commands: bool,
    /// A refused command gets no reply at all (HIDE_RESTRICTED_ACCESS).
    pub hide_restricted_access: bool,
}

/// One access rule (an entry of ACCESS_CONTROLS), or the defaults.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Which commands the rule is for: `Plugin:command` with globs (`*`, `?`, `[a-z]`), matched
    /// case-insensitively; a bare `command` means `*:command`. Words of a multi-word command
    /// are joined by `_` (`Plugins:plugin_activate`); spaces are accepted too.
    #[serde(default)]
    pub command: Option<String>,
    /// Only for messages that came from these backend instances (names from `[backends]`,
    /// globs). Absent: every backend.
    #[serde(default)]
    pub backends: Option<Patterns>,
    /// Only these people may run the command (globs on the ACL string, case-sensitive).
    #[serde(default)]
    pub allowusers: Option<Patterns>,
    /// These people may not run the command.
    #[serde(default)]
    pub denyusers: Option<Patterns>,
    /// In a room, only these rooms (globs on the room id, such as `#ops`).
    #[serde(default)]
    pub allowrooms: Option<Patterns>,
    /// Never in these rooms.
    #[serde(default)]
    pub denyrooms: Option<Patterns>,
    /// Only when the argument string matches one of these globs.
    #[serde(default)]
    pub allowargs: Option<Patterns>,
    /// Never when the argument string matches one of these globs.
    #[serde(default)]
    pub denyargs: Option<Patterns>,
    /// `false`: refused in direct messages.
    #[serde(default)]
    pub allowprivate: Option<bool>,
    /// `false`: refused in rooms. `true` lets admin-only commands run in rooms too.
    #[serde(default)]
    pub allowmuc: Option<bool>,
}

impl Rule {
    /// `self` with the keys it does not set taken from `base` (Errbot's `dict.update`).
    pub fn over(&self, base: &Rule) -> Rule {
        let pick = |own: &Option<Patterns>, b: &Option<Patterns>| own.clone().or_else(|| b.clone());
        Rule {
            command: self.command.clone(),
            backends: self.backends.clone(),
            allowusers: pick(&self.allowusers, &base.allowusers),
            denyusers: pick(&self.denyusers, &base.denyusers),
            allowrooms: pick(&self.allowrooms, &base.allowrooms),
            denyrooms: pick(&self.denyrooms, &base.denyrooms),
            allowargs: pick(&self.allowargs, &base.allowargs),
            denyargs: pick(&self.denyargs, &base.denyargs),
            allowprivate: self.allowprivate.or(base.allowprivate),
            allowmuc: self.allowmuc.or(base.allowmuc),
        }
    }
}

/// Glob patterns: one string or an array of strings in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Patterns(pub Vec<String>);

impl Patterns {
    /// Whether `text` matches one of the patterns (case-sensitive, as Errbot's `fnmatchcase`).
    pub fn matches(&self, text: &str) -> bool {
        crate::glob::matches_any(&self.0, text)
    }
}

impl<'de> Deserialize<'de> for Patterns {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PatternsVisitor;
        impl<'de> Visitor<'de> for PatternsVisitor {
            type Value = Patterns;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a glob pattern or an array of glob patterns")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Patterns, A::Error> {
                let mut out = Vec::new();
                while let Some(p) = seq.next_element::<String>()? {
                    out.push(p);
                }
                Ok(Patterns(out))
            }
        }
        deserializer.deserialize_any(PatternsVisitor)
    }
}

/// A problem in `[access]`: the key path, the byte offset to report and the message.
pub struct Problem {
    /// Full key path, such as `access.rules[2].command`.
    pub key: String,
    /// Byte offset in the file of the array entry holding the key (its lines are searched for
    /// `leaf`); `None` for `[access.default]`.
    pub table_start: Option<usize>,
    /// The key's own name, to find its line.
    pub leaf: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
}

impl AccessSettings {
    /// Checks what serde cannot: required and forbidden keys, the shape of `command`.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (leaf, set) in [
            ("command", self.default.command.is_some()),
            ("backends", self.default.backends.is_some()),
        ] {
            if set {
                out.push(Problem {
                    key: format!("access.default.{leaf}"),
                    table_start: None,
                    leaf,
                    message: "not allowed in the defaults, which apply to every command: put it \
                              in an [[access.rules]] entry"
                        .into(),
                });
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let span = rule.span();
            let problem = |message: String| Problem {
                key: format!("access.rules[{i}].command"),
                table_start: Some(span.start),
                leaf: "command",
                message,
            };
            match rule.get_ref().command.as_deref() {
                None => out.push(problem(
                    "missing: expected `command = \"Plugin:command\"` (globs allowed)".into(),
                )),
                Some(c) if c.trim().is_empty() || c.matches(':').count() > 1 => out.push(problem(
                    format!("expected `Plugin:command` or `command` (globs allowed), found {c:?}"),
                )),
                Some(c) if c.split(':').any(|part| part.trim().is_empty()) => {
                    out.push(problem(format!(
                        "expected a plugin and a command on both sides of `:` (use `*` for any), \
                         found {c:?}"
                    )))
                }
                Some(_) => {}
            }
        }
        out
    }
}
