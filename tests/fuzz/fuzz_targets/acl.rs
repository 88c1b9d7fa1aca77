//! Access rules and globs: `[access]` defaults and ordered rules (commands with plugin and
//! backend globs, users, rooms, arguments, private and room switches) checked for one
//! invocation whose names, room and arguments come from the input; globs against the input.
//!
//! Invariants: the first matching rule in each order decides; an invocation refused by every
//! rule that applies to it is refused in every order of the rules (with the same reason when
//! they all give the same one); an admin-only command never runs for a non-admin; the glob
//! matcher agrees with a plain recursive definition of `fnmatch`.
#![no_main]

use errbot_fuzz::{Input, glob_oracle};
use errbotd::acl::settings::{AccessSettings, Patterns, Rule};
use errbotd::acl::{Invocation, check, check_rule, rule_matches};
use libfuzzer_sys::fuzz_target;

const KEYS: &[&str] = &[
    "echo",
    "T:echo",
    "*:e*",
    "t:*",
    "Other:echo",
    "status plugins",
    "*",
    "[et]*",
    "T:status_plugins",
];
const COMMANDS: &[&str] = &["echo", "status_plugins", "x"];
const PLUGINS: &[&str] = &["T", "Other"];
const USERS: &[&str] = &["@alice", "@b*", "*", "@nobody", "[!@]*", "?alice"];
const ROOMS: &[&str] = &["#ops", "#*", "#x", "[#]ops"];
const ARGS: &[&str] = &["", "w*", "rm*", "*", "*[", "?"];
const BACKENDS: &[&str] = &["test", "irc", "*"];

/// The free text gives up to four strings (lines) that the vocabularies may also pick.
fn vocabulary<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

fn patterns(input: &mut Input<'_>, from: &[&str]) -> Option<Patterns> {
    if input.byte().is_multiple_of(3) {
        return None;
    }
    Some(Patterns(
        input.some(from, 2).into_iter().map(str::to_owned).collect(),
    ))
}

fn switch(input: &mut Input<'_>) -> Option<bool> {
    match input.byte() % 3 {
        0 => None,
        1 => Some(true),
        _ => Some(false),
    }
}

fn rule(input: &mut Input<'_>, extra: &[&str], keyed: bool) -> Rule {
    Rule {
        command: keyed.then(|| input.pick(&vocabulary(KEYS, extra)).to_string()),
        backends: if keyed && input.flag() {
            patterns(input, BACKENDS)
        } else {
            None
        },
        allowusers: patterns(input, &vocabulary(USERS, extra)),
        denyusers: patterns(input, &vocabulary(USERS, extra)),
        allowrooms: patterns(input, &vocabulary(ROOMS, extra)),
        denyrooms: patterns(input, &vocabulary(ROOMS, extra)),
        allowargs: patterns(input, &vocabulary(ARGS, extra)),
        denyargs: patterns(input, &vocabulary(ARGS, extra)),
        allowprivate: switch(input),
        allowmuc: switch(input),
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let text = input.text.clone();
    let extra: Vec<&str> = text.split('\n').take(4).collect();

    // Globs against each other: the matcher and the oracle agree.
    for p in &extra {
        for t in &extra {
            assert_eq!(
                errbotd::glob::matches(p, t),
                glob_oracle(p, t),
                "glob {p:?} on {t:?}"
            );
        }
    }

    let default = rule(&mut input, &extra, false);
    let n = 1 + input.byte() as usize % 3;
    let rules: Vec<Rule> = (0..n).map(|_| rule(&mut input, &extra, true)).collect();
    let pool_users = vocabulary(&["@alice", "@bob"], &extra);
    let pool_rooms = vocabulary(&["#ops", "#dev"], &extra);
    let inv = Invocation {
        plugin: input.pick(PLUGINS),
        command: input.pick(COMMANDS),
        args: Some(input.pick(&vocabulary(&["", "world", "rm -rf"], &extra))),
        sender: input.pick(&pool_users),
        sender_id: if input.flag() {
            input.pick(&pool_users)
        } else {
            ""
        },
        room: if input.flag() {
            Some(input.pick(&pool_rooms))
        } else {
            None
        },
        backend: input.pick(&["test", "irc"]),
        admin_only: input.flag(),
        sender_is_admin: input.flag(),
    };
    let i = &inv;
    let alone: Vec<_> = rules
        .iter()
        .filter(|r| rule_matches(r, i.plugin, i.command, i.backend))
        .map(|r| check_rule(&r.over(&default), i))
        .collect();
    let verdicts = if alone.is_empty() {
        vec![check_rule(&default, i)]
    } else {
        alone
    };
    let all_refuse = verdicts.iter().all(Result::is_err);
    for order in permutations(n) {
        let settings = AccessSettings {
            default: default.clone(),
            rules: order
                .iter()
                .map(|&k| toml::Spanned::new(0..0, rules[k].clone()))
                .collect(),
            ..AccessSettings::default()
        };
        let got = check(&settings, i);
        let first = order
            .iter()
            .map(|&k| &rules[k])
            .find(|r| rule_matches(r, i.plugin, i.command, i.backend));
        let expected = match first {
            Some(r) => check_rule(&r.over(&default), i),
            None => check_rule(&default, i),
        };
        assert_eq!(got, expected, "order {order:?}");
        if all_refuse {
            assert!(got.is_err(), "order {order:?} let {i:?} through");
            if verdicts.windows(2).all(|w| w[0] == w[1]) {
                assert_eq!(got, verdicts[0]);
            }
        }
        if i.admin_only && !i.sender_is_admin {
            assert!(got.is_err(), "an admin-only command ran for a non-admin");
        }
    }
});
