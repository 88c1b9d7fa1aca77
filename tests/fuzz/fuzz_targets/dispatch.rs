//! Dispatch of a chat message: prefixes, alternate prefixes with separators and case, multi-word
//! commands, regex commands (with a pattern from the input), `!!` and `!N`, not found.
//!
//! Invariants: routing is a pure function (the same answer twice); a plain command's words are
//! the leading words of the text and its argument string is the end of the message as written;
//! every regex match is text of the message; `!!`/`!N` only ever run a plain command from the
//! sender's history.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use errbot_fuzz::Input;
use errbot_proto::v1::{CommandSpec, PlainCommand, PluginDescription, RegexCommand, command_spec};
use errbotd::config::BotSettings;
use errbotd::dispatch::history::{Entry, History};
use errbotd::dispatch::{Prefixes, Route, route};
use errbotd::registry::{Owner, Registry};
use libfuzzer_sys::fuzz_target;

const PREFIXES: &[&str] = &["!", "/", ".", "bot", "ü", "!!", "🤖"];
const ALTS: &[&str] = &["Err", "errbot", "@bot", "", "İ", "ß", "bot"];
const SEPARATORS: &[&str] = &[",", ":", ";", " ", "", ", "];
const COMMANDS: &[&str] = &[
    "echo",
    "status",
    "status_plugins",
    "status plugins",
    "help",
    "plugin_activate",
    "a_b_c_d",
    "É",
    "1",
    "ß_x",
];
const PATTERNS: &[&str] = &[
    r"cookies?",
    r"^weather in (?P<city>\w+)",
    r"\d+",
    r"(a)|(b)",
    r"^$",
    r"\b",
];
const HISTORY: &[&str] = &["echo", "status_plugins", "numbers", "gone", "cookie"];

fn plain(name: &str) -> CommandSpec {
    CommandSpec {
        name: name.into(),
        kind: Some(command_spec::Kind::Plain(PlainCommand::default())),
        ..Default::default()
    }
}

fn regex(name: &str, pattern: &str, flags: u8) -> CommandSpec {
    CommandSpec {
        name: name.into(),
        kind: Some(command_spec::Kind::Regex(RegexCommand {
            pattern: pattern.into(),
            case_insensitive: flags & 1 != 0,
            dot_all: flags & 2 != 0,
            multi_line: flags & 4 != 0,
            match_all: flags & 8 != 0,
            prefixed: flags & 16 != 0,
        })),
        ..Default::default()
    }
}

/// The command table of `commands`: built once per set of declarations (compiling the
/// patterns is most of the work, and a table is immutable, as errbotd's).
fn registry(commands: Vec<CommandSpec>) -> Arc<Registry> {
    thread_local! {
        static BUILT: RefCell<HashMap<String, Arc<Registry>>> = RefCell::new(HashMap::new());
    }
    let key = format!("{commands:?}");
    BUILT.with(|built| {
        let mut built = built.borrow_mut();
        // Compiled patterns take memory: a few hundred tables at most.
        if built.len() > 256 {
            built.clear();
        }
        built
            .entry(key)
            .or_insert_with(|| {
                let description = PluginDescription {
                    name: "T".into(),
                    commands,
                    ..Default::default()
                };
                Arc::new(Registry::build([(&description, Owner::Builtin)]).0)
            })
            .clone()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let bot = BotSettings {
        prefix: input.pick(PREFIXES).to_string(),
        alt_prefixes: input.some(ALTS, 3).into_iter().map(str::to_owned).collect(),
        alt_prefix_separators: input
            .some(SEPARATORS, 3)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        alt_prefix_case_insensitive: input.flag(),
        prefix_optional_on_chat: input.flag(),
        suppress_cmd_not_found: input.flag(),
        ..BotSettings::default()
    };
    let direct = input.flag();
    let mut commands: Vec<CommandSpec> = input.some(COMMANDS, 4).iter().map(|n| plain(n)).collect();
    for (i, pattern) in input.some(PATTERNS, 2).iter().enumerate() {
        let flags = input.byte();
        commands.push(regex(&format!("re{i}"), pattern, flags));
    }
    let history = History::default();
    for command in input.some(HISTORY, 4) {
        history.push(
            "@p",
            Entry {
                command: command.to_owned(),
                args: "x y".into(),
            },
        );
    }
    // The first line of the text may be a plugin's own pattern.
    let text = input.text.clone();
    let mut body = text.as_str();
    if input.byte() % 4 == 0
        && let Some((pattern, rest)) = body.split_once('\n')
    {
        let flags = input.byte();
        commands.push(regex("theirs", pattern, flags));
        body = rest;
    }
    let registry = registry(commands);
    let prefixes = Prefixes::new(&bot);

    let first = route(&prefixes, &registry, &history, body, direct, "@p");
    let again = route(&prefixes, &registry, &history, body, direct, "@p");
    assert_eq!(
        format!("{first:?}"),
        format!("{again:?}"),
        "routing is not pure"
    );
    let _ = prefixes.command_text(body);

    match &first {
        Route::Plain { command, args } => {
            assert!(!command.is_regex());
            let text = prefixes.command_text(body);
            let recalled = history
                .list("@p")
                .iter()
                .any(|e| &e.args == args && e.command == command.name);
            if !recalled {
                assert!(
                    text.ends_with(args.as_str()),
                    "arguments {args:?} do not end {text:?}"
                );
                // The words before the arguments name the command.
                let named: Vec<String> = text[..text.len() - args.len()]
                    .split_whitespace()
                    .map(str::to_lowercase)
                    .collect();
                assert_eq!(named.join("_"), command.name, "in {text:?}");
            }
        }
        Route::Regex(hits) => {
            for (command, matches) in hits {
                assert!(command.is_regex());
                for m in matches {
                    assert!(
                        body.contains(m.text.as_str()),
                        "{:?} is not in {body:?}",
                        m.text
                    );
                }
            }
        }
        Route::NotFound(Some(reply)) => assert!(reply.starts_with("Command \"")),
        Route::NotFound(None) | Route::Ignore => {}
    }
});
