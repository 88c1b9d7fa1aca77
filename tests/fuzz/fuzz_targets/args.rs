//! Argument parsing in every mode: raw, split (Python's `str.split` with a separator and
//! `maxsplit`), shell (shlex with `#` kept), and typed parameters (positionals, options, flags,
//! a `rest`, choices, defaults, `-h`).
//!
//! Invariants: raw mode is whitespace splitting; split mode with a separator and no limit joins
//! back to the input, and with a limit never gives more than `maxsplit + 1` fields; parsed
//! typed values have their declared type and are among the choices; every error has a reply
//! text and the usage line names the command.
#![no_main]

use errbot_fuzz::Input;
use errbot_proto::v1::{ArgMode, ParamKind, ParamSpec, ParamType, PlainCommand};
use errbotd::dispatch::args::{self, ArgError};
use libfuzzer_sys::fuzz_target;

const SEPARATORS: &[&str] = &["", " ", ",", "::", "é", "  "];
const NAMES: &[&str] = &["sides", "count", "times", "name", "é", "dry_run"];
const SHORTS: &[&str] = &["", "s", "t", "é", "h"];
const LONGS: &[&str] = &["", "times", "dry-run", "help", "x"];
const CHOICES: &[&[&str]] = &[&[], &["a", "b"], &["1", "2"], &["true"], &[""]];
const DEFAULTS: &[&str] = &["", "3", "x", "yes", "1.5", "inf"];
const TYPES: &[ParamType] = &[
    ParamType::String,
    ParamType::Integer,
    ParamType::Float,
    ParamType::Boolean,
];
const KINDS: &[ParamKind] = &[ParamKind::Positional, ParamKind::Option, ParamKind::Flag];

fn param(input: &mut Input<'_>) -> ParamSpec {
    let mut p = ParamSpec {
        name: input.pick(NAMES).to_string(),
        help: "help".into(),
        required: input.flag(),
        multiple: input.flag(),
        long: input.pick(LONGS).to_string(),
        short: input.pick(SHORTS).to_string(),
        choices: input.pick(CHOICES).iter().map(|c| c.to_string()).collect(),
        default_value: input.pick(DEFAULTS).to_string(),
        rest: input.flag(),
        ..Default::default()
    };
    p.set_type(*input.pick(TYPES));
    p.set_kind(*input.pick(KINDS));
    p
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mut spec = PlainCommand {
        separator: input.pick(SEPARATORS).to_string(),
        max_split: u32::from(input.byte() % 4),
        ..Default::default()
    };
    spec.set_arg_mode(*input.pick(&[ArgMode::Raw, ArgMode::Split, ArgMode::Shell]));
    let typed = input.byte() % 4;
    for _ in 0..typed {
        let p = param(&mut input);
        spec.params.push(p);
    }
    let text = input.text.clone();

    match args::split(&spec, &text) {
        Ok(argv) => match spec.arg_mode() {
            ArgMode::Raw => {
                let words: Vec<&str> = text.split_whitespace().collect();
                assert_eq!(argv, words);
            }
            ArgMode::Split => {
                if spec.max_split > 0 {
                    assert!(argv.len() <= spec.max_split as usize + 1, "{argv:?}");
                }
                if spec.separator.is_empty() {
                    assert!(argv.iter().all(|a| !a.is_empty()));
                    if spec.max_split == 0 {
                        let words: Vec<&str> = text.split_whitespace().collect();
                        assert_eq!(argv, words);
                    }
                } else if spec.max_split == 0 {
                    assert_eq!(argv.join(&spec.separator), text);
                }
            }
            ArgMode::Shell => {}
        },
        Err(e) => assert!(matches!(e, ArgError::Split(_)) && !e.reply().is_empty()),
    }

    let usage = args::usage("!roll", &spec.params, "");
    assert!(usage.contains("!roll"), "{usage:?}");
    match args::parse(&spec, "!roll", &text) {
        Ok(parsed) => {
            for p in &spec.params {
                let Some(values) = parsed.params.get(&p.name) else {
                    continue;
                };
                // Several declarations may share a name: check only an unambiguous one.
                if spec.params.iter().filter(|q| q.name == p.name).count() > 1 {
                    continue;
                }
                for v in &values.values {
                    match p.r#type() {
                        ParamType::Integer => assert!(v.parse::<i64>().is_ok(), "{v:?}"),
                        ParamType::Float => {
                            assert!(v.parse::<f64>().is_ok_and(f64::is_finite), "{v:?}")
                        }
                        ParamType::Boolean => assert!(v == "true" || v == "false", "{v:?}"),
                        ParamType::String => {}
                    }
                    if !p.choices.is_empty() {
                        assert!(p.choices.contains(v), "{v:?} not in {:?}", p.choices);
                    }
                }
            }
        }
        Err(e) => {
            assert!(!e.reply().is_empty());
            if let ArgError::Params { usage: u, .. } = &e {
                assert_eq!(u, &usage);
            }
        }
    }
});
