//! Dispatch: deciding what a chat message asks for (Errbot's `process_message`).
//!
//! [`route`] is a pure function of the message text, the command table and the sender's history,
//! so every rule is unit-tested here; executing the decision is the daemon's job.

pub mod args;
pub mod history;
pub mod suggest;

use std::sync::Arc;

use errbot_proto::v1::RegexMatch;

use crate::config::BotSettings;
use crate::registry::{Command, Registry};
use history::History;

/// How a message may address the bot.
#[derive(Clone, Debug)]
pub struct Prefixes {
    prefix: String,
    alt: Vec<String>,
    separators: Vec<String>,
    case_insensitive: bool,
    optional_on_chat: bool,
    suppress_not_found: bool,
}

impl Prefixes {
    /// From the `[bot]` settings.
    pub fn new(bot: &BotSettings) -> Self {
        let mut alt: Vec<String> = bot
            .alt_prefixes
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| {
                if bot.alt_prefix_case_insensitive {
                    p.to_lowercase()
                } else {
                    p.clone()
                }
            })
            .collect();
        // Longest first, so that "errbot" wins over "err".
        alt.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Self {
            prefix: bot.prefix.clone(),
            alt,
            separators: bot.alt_prefix_separators.clone(),
            case_insensitive: bot.alt_prefix_case_insensitive,
            optional_on_chat: bot.prefix_optional_on_chat,
            suppress_not_found: bot.suppress_cmd_not_found,
        }
    }

    /// The main prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The text of `body` after whichever prefix addresses the bot (what regex commands see).
    pub fn command_text<'a>(&self, body: &'a str) -> &'a str {
        self.strip(body).0
    }

    /// Strips whichever prefix addresses the bot. Returns the remaining text and whether the
    /// message was prefixed.
    fn strip<'a>(&self, body: &'a str) -> (&'a str, bool) {
        let mut text = body.trim_start();
        let mut prefixed = false;
        for alt in &self.alt {
            let head = text.get(..alt.len());
            let hit = match head {
                Some(h) if self.case_insensitive => h.to_lowercase() == *alt,
                Some(h) => h == alt,
                None => false,
            };
            if !hit {
                continue;
            }
            let after = &text[alt.len()..];
            let sep = self
                .separators
                .iter()
                .find(|s| !s.is_empty() && after.starts_with(s.as_str()));
            // Improvement over Errbot: an alternate prefix that is a word must end at a word
            // boundary, so that "Errands" does not call the "ands" command of a bot with the
            // prefix "Err". One that ends with a symbol ("!", "bot:") is a prefix like the main
            // one: "!echo".
            let word = alt.chars().last().is_some_and(char::is_alphanumeric);
            if word && sep.is_none() && !after.is_empty() && !after.starts_with(char::is_whitespace)
            {
                continue;
            }
            text = sep.map_or(after, |s| &after[s.len()..]).trim_start();
            prefixed = true;
            break;
        }
        if let Some(rest) = text.strip_prefix(self.prefix.as_str()) {
            text = rest;
            prefixed = true;
        }
        (text.trim(), prefixed)
    }
}

/// What to do with a message.
#[derive(Debug)]
pub enum Route {
    /// Not for the bot, or nothing to recall.
    Ignore,
    /// Run a plain command with this argument string.
    Plain {
        /// The command.
        command: Arc<Command>,
        /// Everything after the command's words, inner whitespace kept.
        args: String,
    },
    /// Run every regex command that matched, with its matches.
    Regex(Vec<(Arc<Command>, Vec<RegexMatch>)>),
    /// The message was a command for the bot but none matched; the reply, unless suppressed.
    NotFound(Option<String>),
}

/// Decides what `body`, written by `person` (directly to the bot when `direct`), asks for.
pub fn route(
    prefixes: &Prefixes,
    registry: &Registry,
    history: &History,
    body: &str,
    direct: bool,
    person: &str,
) -> Route {
    let (text, prefixed) = prefixes.strip(body);
    let optional = direct && prefixes.optional_on_chat;
    let commanded = prefixed || optional;

    if commanded {
        // One word more than the longest command, to find where its arguments start.
        let words = leading_words(text, registry.max_words() + 1);
        let plain_words: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
        if let Some((command, n)) = registry.lookup(&plain_words) {
            let args = words
                .get(n)
                .map_or("", |(_, start)| &text[*start..])
                .to_owned();
            return Route::Plain { command, args };
        }
        if let Some(first) = plain_words.first() {
            // `!!` repeats the last command, `!N` the Nth previous one.
            let recall = if *first == prefixes.prefix && plain_words.len() == 1 {
                Some(1)
            } else if plain_words.len() == 1 && first.bytes().all(|b| b.is_ascii_digit()) {
                first.parse::<usize>().ok()
            } else {
                None
            };
            if let Some(n) = recall {
                return match history
                    .recall(person, n)
                    .and_then(|e| registry.get(&e.command).map(|c| (c.clone(), e.args)))
                {
                    Some((command, args)) if !command.is_regex() => Route::Plain { command, args },
                    _ => Route::Ignore,
                };
            }
        }
    }

    // No plain command: every matching regex command runs. Prefixed ones only when the message
    // addressed the bot.
    let hits: Vec<_> = registry
        .regex_commands()
        .iter()
        .filter(|c| commanded || !regex_prefixed(c))
        .filter_map(|c| {
            let matches = regex_matches(c, text);
            (!matches.is_empty()).then(|| (c.clone(), matches))
        })
        .collect();
    if !hits.is_empty() {
        return Route::Regex(hits);
    }
    if !prefixed {
        // Unprefixed chatter, or a direct message without prefix: never answered as unknown.
        return Route::Ignore;
    }
    if prefixes.suppress_not_found || text.is_empty() {
        return Route::NotFound(None);
    }
    Route::NotFound(Some(not_found_reply(prefixes, registry, text)))
}

fn regex_prefixed(c: &Command) -> bool {
    match &c.spec.kind {
        Some(errbot_proto::v1::command_spec::Kind::Regex(r)) => r.prefixed,
        _ => true,
    }
}

fn regex_matches(c: &Command, text: &str) -> Vec<RegexMatch> {
    let Some(re) = &c.regex else {
        return Vec::new();
    };
    let all =
        matches!(&c.spec.kind, Some(errbot_proto::v1::command_spec::Kind::Regex(r)) if r.match_all);
    let convert = |caps: regex::Captures<'_>| RegexMatch {
        text: caps.get(0).map_or("", |m| m.as_str()).to_owned(),
        groups: caps
            .iter()
            .skip(1)
            .map(|g| g.map_or("", |m| m.as_str()).to_owned())
            .collect(),
        named: re
            .capture_names()
            .flatten()
            .filter_map(|n| caps.name(n).map(|m| (n.to_owned(), m.as_str().to_owned())))
            .collect(),
    };
    if all {
        re.captures_iter(text).map(convert).collect()
    } else {
        re.captures(text).map(convert).into_iter().collect()
    }
}

/// The first `max` whitespace-separated words of `text` with their byte offsets.
fn leading_words(text: &str, max: usize) -> Vec<(&str, usize)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, ch) in text.char_indices() {
        match (ch.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                words.push((&text[s..i], s));
                start = None;
                if words.len() == max {
                    return words;
                }
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((&text[s..], s));
    }
    words
}

/// `Command "foo" not found.` with the closest command names, as Errbot words it.
fn not_found_reply(prefixes: &Prefixes, registry: &Registry, text: &str) -> String {
    let mut words = text.split_whitespace();
    let cmd = words.next().unwrap_or_default().to_lowercase();
    let full = words.next().map(|w| format!("{cmd} {}", w.to_lowercase()));
    let mut reply = match &full {
        Some(full) => format!("Command \"{cmd}\" / \"{full}\" not found."),
        None => format!("Command \"{cmd}\" not found."),
    };
    let names: Vec<String> = registry
        .commands()
        .iter()
        // Regex commands are not typed by name: suggesting one would mislead (Errbot neither).
        .filter(|c| c.listed() && !c.is_regex())
        .map(|c| c.display_name())
        .collect();
    let mut found: Vec<&str> =
        suggest::close_matches(&cmd, names.iter().map(String::as_str), 3, 0.6);
    if let Some(full) = &full {
        for m in suggest::close_matches(full, names.iter().map(String::as_str), 3, 0.6) {
            if !found.contains(&m) {
                found.push(m);
            }
        }
    }
    let p = &prefixes.prefix;
    if found.is_empty() {
        // Nothing close: point to the list rather than leaving the person without a lead.
        reply.push_str(&format!("\n\nType \"{p}help\" for the list of commands."));
    } else {
        let list: Vec<String> = found.iter().map(|m| format!("{p}{m}")).collect();
        reply.push_str(&format!("\n\nDid you mean \"{}\" ?", list.join("\" or \"")));
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Owner;
    use errbot_proto::v1::{
        CommandSpec, PlainCommand, PluginDescription, RegexCommand, command_spec,
    };
    use history::Entry;

    fn registry() -> Registry {
        let plain = |n: &str| CommandSpec {
            name: n.into(),
            kind: Some(command_spec::Kind::Plain(PlainCommand::default())),
            ..Default::default()
        };
        let re = |n: &str, p: &str, prefixed: bool, all: bool| CommandSpec {
            name: n.into(),
            kind: Some(command_spec::Kind::Regex(RegexCommand {
                pattern: p.into(),
                prefixed,
                match_all: all,
                ..Default::default()
            })),
            ..Default::default()
        };
        let d = PluginDescription {
            name: "T".into(),
            commands: vec![
                plain("echo"),
                plain("status"),
                plain("status_plugins"),
                plain("restart"),
                re("cookie", r"cookies?", false, false),
                re("weather", r"^weather in (?P<city>\w+)", true, false),
                re("numbers", r"\d+", false, true),
            ],
            ..Default::default()
        };
        Registry::build([(&d, Owner::Builtin)]).0
    }

    fn bot(f: impl FnOnce(&mut BotSettings)) -> Prefixes {
        let mut b = BotSettings::default();
        f(&mut b);
        Prefixes::new(&b)
    }

    fn plain(r: Route) -> (String, String) {
        match r {
            Route::Plain { command, args } => (command.name.clone(), args),
            other => panic!("expected a plain command, got {other:?}"),
        }
    }

    fn run(p: &Prefixes, body: &str, direct: bool) -> Route {
        route(p, &registry(), &History::default(), body, direct, "@u")
    }

    #[test]
    fn prefix_and_args_keep_whitespace() {
        let p = bot(|_| {});
        assert_eq!(
            plain(run(&p, "!echo  hi   there ", false)),
            ("echo".into(), "hi   there".into())
        );
        assert_eq!(plain(run(&p, "!ECHO x", false)).0, "echo");
        assert!(matches!(run(&p, "echo hi", false), Route::Ignore));
        assert!(matches!(run(&p, "echo hi", true), Route::Ignore));
    }

    #[test]
    fn a_prefix_may_end_with_a_space() {
        // Errbot's BOT_PREFIX = "! ".
        let p = bot(|b| b.prefix = "! ".into());
        assert_eq!(
            plain(run(&p, "! echo  a b", false)),
            ("echo".into(), "a b".into())
        );
        assert!(matches!(run(&p, "!echo a", false), Route::Ignore));
        match run(&p, "! blah toto", false) {
            Route::NotFound(Some(reply)) => {
                assert!(
                    reply.starts_with("Command \"blah\" / \"blah toto\" not found."),
                    "{reply}"
                );
            }
            other => panic!("expected not found, got {other:?}"),
        }
    }

    #[test]
    fn multi_word_commands() {
        let p = bot(|_| {});
        assert_eq!(
            plain(run(&p, "!status plugins", false)),
            ("status_plugins".into(), String::new())
        );
        assert_eq!(
            plain(run(&p, "!status_plugins x", false)),
            ("status_plugins".into(), "x".into())
        );
        assert_eq!(
            plain(run(&p, "!status load", false)),
            ("status".into(), "load".into())
        );
        // Arguments after the longest command keep their whitespace.
        assert_eq!(
            plain(run(&p, "!status plugins  x  y", false)),
            ("status_plugins".into(), "x  y".into())
        );
    }

    #[test]
    fn alternate_prefixes_longest_first_with_separators() {
        let p = bot(|b| {
            b.alt_prefixes = vec!["err".into(), "errbot".into(), "@bot".into()];
            b.alt_prefix_separators = vec![",".into(), ":".into(), ";".into()];
            b.alt_prefix_case_insensitive = true;
        });
        assert_eq!(plain(run(&p, "Errbot, echo a", false)).1, "a");
        assert_eq!(plain(run(&p, "err: echo b", false)).1, "b");
        assert_eq!(plain(run(&p, "@bot echo c", false)).1, "c");
        assert!(matches!(run(&p, "errands echo", false), Route::Ignore));
        let strict = bot(|b| b.alt_prefixes = vec!["Err".into()]);
        assert!(matches!(run(&strict, "err echo", false), Route::Ignore));
        // A symbol needs no boundary (Errbot's BOT_ALT_PREFIXES = ("!",) beside BOT_PREFIX "$").
        let symbol = bot(|b| {
            b.prefix = "$".into();
            b.alt_prefixes = vec!["!".into()];
        });
        assert_eq!(plain(run(&symbol, "!echo d", false)).1, "d");
        assert_eq!(plain(run(&symbol, "$echo e", false)).1, "e");
    }

    #[test]
    fn prefix_optional_in_direct_messages_only() {
        let p = bot(|b| b.prefix_optional_on_chat = true);
        assert_eq!(plain(run(&p, "echo hi", true)).1, "hi");
        assert!(matches!(run(&p, "echo hi", false), Route::Ignore));
        // Unknown text in a direct message is not answered as an unknown command.
        assert!(matches!(run(&p, "how are you", true), Route::Ignore));
    }

    #[test]
    fn regex_commands_when_no_plain_command() {
        let p = bot(|_| {});
        // botmatch-style (not prefixed) patterns see every message.
        match run(&p, "I like cookies and 3 or 4 cakes", false) {
            Route::Regex(hits) => {
                let names: Vec<_> = hits
                    .iter()
                    .map(|(c, m)| (c.name.as_str(), m.len()))
                    .collect();
                assert_eq!(names, [("cookie", 1), ("numbers", 2)]);
            }
            other => panic!("{other:?}"),
        }
        // Prefixed patterns only with the prefix; named groups are passed.
        assert!(matches!(run(&p, "weather in Paris", false), Route::Ignore));
        match run(&p, "!weather in Paris", false) {
            Route::Regex(hits) => {
                assert_eq!(
                    hits[0].1[0].named.get("city").map(String::as_str),
                    Some("Paris")
                );
                assert_eq!(hits[0].1[0].groups, ["Paris"]);
            }
            other => panic!("{other:?}"),
        }
        // A plain command wins over patterns.
        assert_eq!(plain(run(&p, "!echo cookies", false)).0, "echo");
    }

    #[test]
    fn history_recall() {
        let p = bot(|_| {});
        let reg = registry();
        let h = History::default();
        assert!(matches!(
            route(&p, &reg, &h, "!!", false, "@u"),
            Route::Ignore
        ));
        h.push(
            "@u",
            Entry {
                command: "echo".into(),
                args: "one".into(),
            },
        );
        h.push(
            "@u",
            Entry {
                command: "status".into(),
                args: String::new(),
            },
        );
        assert_eq!(plain(route(&p, &reg, &h, "!!", false, "@u")).0, "status");
        assert_eq!(
            plain(route(&p, &reg, &h, "!2", false, "@u")),
            ("echo".into(), "one".into())
        );
        assert!(matches!(
            route(&p, &reg, &h, "!3", false, "@u"),
            Route::Ignore
        ));
        // `!!` followed by more text is not a recall.
        assert!(!matches!(
            route(&p, &reg, &h, "!! status", false, "@u"),
            Route::Plain { .. }
        ));
        assert!(matches!(
            route(&p, &reg, &h, "!!", false, "@other"),
            Route::Ignore
        ));
    }

    #[test]
    fn not_found_with_suggestions() {
        let p = bot(|_| {});
        match run(&p, "!stauts", false) {
            Route::NotFound(Some(r)) => {
                assert_eq!(
                    r,
                    "Command \"stauts\" not found.\n\nDid you mean \"!status\" or \"!restart\" ?"
                )
            }
            other => panic!("{other:?}"),
        }
        match run(&p, "!statu plugin", false) {
            Route::NotFound(Some(r)) => {
                assert!(
                    r.starts_with("Command \"statu\" / \"statu plugin\" not found."),
                    "{r}"
                );
                assert!(r.contains("\"!status plugins\""), "{r}");
            }
            other => panic!("{other:?}"),
        }
        match run(&p, "!zzzzzz", false) {
            Route::NotFound(Some(r)) => assert_eq!(
                r,
                "Command \"zzzzzz\" not found.\n\nType \"!help\" for the list of commands."
            ),
            other => panic!("{other:?}"),
        }
        let quiet = bot(|b| b.suppress_cmd_not_found = true);
        assert!(matches!(run(&quiet, "!zzzz", false), Route::NotFound(None)));
    }
}
