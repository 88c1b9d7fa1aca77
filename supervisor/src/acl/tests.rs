//! Every rule and every reply of the access checks, as a table; and the property that no
//! ordering of the rules lets a refused person through.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn settings(toml_text: &str) -> AccessSettings {
    toml::from_str(toml_text).unwrap_or_else(|e| panic!("bad test settings: {e}\n{toml_text}"))
}

/// A base invocation: `!hello world` from `@alice` in private on backend `test`.
fn inv() -> Invocation<'static> {
    Invocation {
        plugin: "hello",
        command: "hello",
        args: Some("world"),
        sender: "@alice",
        sender_id: "",
        room: None,
        backend: "test",
        admin_only: false,
        sender_is_admin: false,
    }
}

const ARGS: Option<Denial> = Some(Denial::Arguments);
const USER: Option<Denial> = Some(Denial::User);
const MUC: Option<Denial> = Some(Denial::Chatroom);
const ROOM: Option<Denial> = Some(Denial::Room);
const PRIVATE: Option<Denial> = Some(Denial::Private);
const ADMIN: Option<Denial> = Some(Denial::AdminOnly);
const DIRECT: Option<Denial> = Some(Denial::DirectOnly);
const OK: Option<Denial> = None;

type Tweak = fn(&mut Invocation<'static>);

fn in_room(i: &mut Invocation<'static>) {
    i.room = Some("#ops");
}
fn none(_: &mut Invocation<'static>) {}

#[test]
fn every_rule_and_message() {
    let table: &[(&str, &str, Tweak, Option<Denial>)] = &[
        // No rule at all: everything runs.
        ("no rules", "", none, OK),
        // Arguments.
        (
            "allowargs hit",
            "[[rules]]\ncommand = \"hello\"\nallowargs = [\"wor*\"]",
            none,
            OK,
        ),
        (
            "allowargs miss",
            "[[rules]]\ncommand = \"hello\"\nallowargs = [\"x*\"]",
            none,
            ARGS,
        ),
        (
            "denyargs hit",
            "[[rules]]\ncommand = \"hello\"\ndenyargs = \"world\"",
            none,
            ARGS,
        ),
        (
            "denyargs miss",
            "[[rules]]\ncommand = \"hello\"\ndenyargs = [\"x\"]",
            none,
            OK,
        ),
        (
            "args are case-sensitive",
            "[[rules]]\ncommand = \"hello\"\ndenyargs = [\"WORLD\"]",
            none,
            OK,
        ),
        (
            "args unknown (help) skip",
            "[[rules]]\ncommand = \"hello\"\nallowargs = [\"x\"]",
            |i| i.args = None,
            OK,
        ),
        // Users.
        (
            "allowusers hit",
            "[[rules]]\ncommand = \"hello\"\nallowusers = [\"@al*\"]",
            none,
            OK,
        ),
        (
            "allowusers miss",
            "[[rules]]\ncommand = \"hello\"\nallowusers = [\"@bob\"]",
            none,
            USER,
        ),
        (
            "empty allowusers refuses all",
            "[[rules]]\ncommand = \"hello\"\nallowusers = []",
            none,
            USER,
        ),
        (
            "denyusers hit",
            "[[rules]]\ncommand = \"hello\"\ndenyusers = [\"@alice\"]",
            none,
            USER,
        ),
        (
            "users are case-sensitive",
            "[[rules]]\ncommand = \"hello\"\ndenyusers = [\"@Alice\"]",
            none,
            OK,
        ),
        (
            "args checked before users",
            "[[rules]]\ncommand = \"hello\"\ndenyusers = [\"*\"]\ndenyargs = [\"*\"]",
            none,
            ARGS,
        ),
        // Rooms.
        (
            "allowmuc false in a room",
            "[[rules]]\ncommand = \"hello\"\nallowmuc = false",
            in_room,
            MUC,
        ),
        (
            "allowmuc false in private",
            "[[rules]]\ncommand = \"hello\"\nallowmuc = false",
            none,
            OK,
        ),
        (
            "allowrooms hit",
            "[[rules]]\ncommand = \"hello\"\nallowrooms = [\"#o*\"]",
            in_room,
            OK,
        ),
        (
            "allowrooms miss",
            "[[rules]]\ncommand = \"hello\"\nallowrooms = [\"#dev\"]",
            in_room,
            ROOM,
        ),
        (
            "allowrooms ignored in private",
            "[[rules]]\ncommand = \"hello\"\nallowrooms = [\"#dev\"]",
            none,
            OK,
        ),
        (
            "denyrooms hit",
            "[[rules]]\ncommand = \"hello\"\ndenyrooms = [\"#ops\"]",
            in_room,
            ROOM,
        ),
        (
            "allowmuc before rooms",
            "[[rules]]\ncommand = \"hello\"\nallowmuc = false\ndenyrooms = [\"#ops\"]",
            in_room,
            MUC,
        ),
        (
            "users before rooms",
            "[[rules]]\ncommand = \"hello\"\ndenyusers = [\"@alice\"]\nallowmuc = false",
            in_room,
            USER,
        ),
        // Private.
        (
            "allowprivate false",
            "[[rules]]\ncommand = \"hello\"\nallowprivate = false",
            none,
            PRIVATE,
        ),
        (
            "allowprivate false in a room",
            "[[rules]]\ncommand = \"hello\"\nallowprivate = false",
            in_room,
            OK,
        ),
        // Admin-only.
        ("admin-only, not admin", "", |i| i.admin_only = true, ADMIN),
        (
            "admin-only, admin",
            "",
            |i| {
                i.admin_only = true;
                i.sender_is_admin = true;
            },
            OK,
        ),
        (
            "admin-only in a room",
            "",
            |i| {
                i.admin_only = true;
                i.sender_is_admin = true;
                in_room(i);
            },
            DIRECT,
        ),
        (
            "admin-only in a room, not admin",
            "",
            |i| {
                i.admin_only = true;
                in_room(i);
            },
            ADMIN,
        ),
        (
            "admin-only in a room with allowmuc",
            "[[rules]]\ncommand = \"hello\"\nallowmuc = true",
            |i| {
                i.admin_only = true;
                i.sender_is_admin = true;
                in_room(i);
            },
            OK,
        ),
        (
            "allowusers cannot lift admin-only",
            "[[rules]]\ncommand = \"hello\"\nallowusers = [\"*\"]",
            |i| i.admin_only = true,
            ADMIN,
        ),
        (
            "rules apply to admins too",
            "[[rules]]\ncommand = \"hello\"\ndenyusers = [\"@alice\"]",
            |i| i.sender_is_admin = true,
            USER,
        ),
        // Keys: globs, Plugin:command, case-insensitive, first match wins, defaults merged.
        (
            "bare command means any plugin",
            "[[rules]]\ncommand = \"hel*\"\ndenyusers = [\"*\"]",
            none,
            USER,
        ),
        (
            "Plugin:command",
            "[[rules]]\ncommand = \"hello:hello\"\ndenyusers = [\"*\"]",
            none,
            USER,
        ),
        (
            "other plugin",
            "[[rules]]\ncommand = \"Utils:hello\"\ndenyusers = [\"*\"]",
            none,
            OK,
        ),
        (
            "plugin glob",
            "[[rules]]\ncommand = \"h*:*\"\ndenyusers = [\"*\"]",
            none,
            USER,
        ),
        (
            "keys are case-insensitive",
            "[[rules]]\ncommand = \"HELLO:HeLLo\"\ndenyusers = [\"*\"]",
            none,
            USER,
        ),
        (
            "multi-word command with spaces",
            "[[rules]]\ncommand = \"Plugins:plugin activate\"\ndenyusers = [\"*\"]",
            |i| {
                i.plugin = "Plugins";
                i.command = "plugin_activate";
            },
            USER,
        ),
        (
            "first matching rule wins",
            "[[rules]]\ncommand = \"hello\"\nallowusers = [\"@alice\"]\n\
             [[rules]]\ncommand = \"*\"\ndenyusers = [\"*\"]",
            none,
            OK,
        ),
        (
            "first matching rule wins, the other way",
            "[[rules]]\ncommand = \"*\"\ndenyusers = [\"*\"]\n\
             [[rules]]\ncommand = \"hello\"\nallowusers = [\"@alice\"]",
            none,
            USER,
        ),
        (
            "default applies without a rule",
            "[default]\nallowprivate = false",
            none,
            PRIVATE,
        ),
        (
            "rule merged over default",
            "[default]\nallowprivate = false\ndenyusers = [\"@alice\"]\n\
             [[rules]]\ncommand = \"hello\"\nallowprivate = true",
            none,
            USER,
        ),
        (
            "rule key overrides default key",
            "[default]\ndenyusers = [\"@alice\"]\n[[rules]]\ncommand = \"hello\"\ndenyusers = []",
            none,
            OK,
        ),
        // Backends.
        (
            "rule for this backend",
            "[[rules]]\ncommand = \"hello\"\nbackends = [\"te*\"]\ndenyusers = [\"*\"]",
            none,
            USER,
        ),
        (
            "rule for another backend",
            "[[rules]]\ncommand = \"hello\"\nbackends = \"irc\"\ndenyusers = [\"*\"]",
            none,
            OK,
        ),
        (
            "backend rule falls through to the next",
            "[[rules]]\ncommand = \"hello\"\nbackends = [\"irc\"]\nallowusers = [\"*\"]\n\
             [[rules]]\ncommand = \"hello\"\ndenyusers = [\"@alice\"]",
            none,
            USER,
        ),
    ];
    for (name, rules, tweak, expected) in table {
        let s = settings(rules);
        let mut i = inv();
        tweak(&mut i);
        let got = check(&s, &i).err();
        assert_eq!(got, *expected, "case {name:?}");
        let reply = got.map(Denial::reply);
        let want = expected.map(Denial::reply);
        assert_eq!(reply, want, "case {name:?}");
    }
}

#[test]
fn replies_are_errbots() {
    let all = [
        (
            Denial::Arguments,
            "You're not allowed to access this command using the provided arguments",
        ),
        (
            Denial::User,
            "You're not allowed to access this command from this user",
        ),
        (
            Denial::Chatroom,
            "You're not allowed to access this command from a chatroom",
        ),
        (
            Denial::Room,
            "You're not allowed to access this command from this room",
        ),
        (
            Denial::Private,
            "You're not allowed to access this command via private message to me",
        ),
        (
            Denial::AdminOnly,
            "This command requires bot-admin privileges",
        ),
        (
            Denial::DirectOnly,
            "This command may only be issued through a direct message",
        ),
    ];
    for (d, text) in all {
        assert_eq!(d.reply(), text);
    }
}

#[test]
fn settings_problems_name_the_key() {
    let s = settings(
        "[default]\ncommand = \"x\"\n[[rules]]\nallowusers = [\"a\"]\n[[rules]]\ncommand = \"a:b:c\"\n",
    );
    let keys: Vec<String> = s.problems().into_iter().map(|p| p.key).collect();
    assert_eq!(
        keys,
        [
            "access.default.command",
            "access.rules[0].command",
            "access.rules[1].command"
        ]
    );
    assert!(
        toml::from_str::<AccessSettings>("[[rules]]\ncommand = \"a\"\nallowuser = [\"x\"]")
            .is_err()
    );
    assert!(
        toml::from_str::<AccessSettings>("[[rules]]\ncommand = \"a\"\nallowmuc = \"no\"").is_err()
    );
    assert!(
        toml::from_str::<AccessSettings>("[[rules]]\ncommand = \"a\"\ndenyusers = [1]").is_err()
    );
}

// ---- The property ----
//
// For random rule lists (random keys, backends and checks drawn from small alphabets, so that
// rules overlap) and random invocations, and for every permutation of each list:
// (a) the verdict is exactly that of the first rule, in that order, that matches the invocation,
//     merged over the defaults: no later rule can grant what the first matching one refuses;
// (b) a person refused by every rule that matches (and by the defaults when none does) is
//     refused whatever the order, with the same reply when all agree on it;
// (c) an admin-only command is refused to a non-admin whatever the rules and their order.

const PLUGINS: &[&str] = &["hello", "Utils", "Plugins"];
const COMMANDS: &[&str] = &["hello", "echo", "plugin_activate"];
const KEYS: &[&str] = &[
    "*",
    "hello",
    "hello:*",
    "*:echo",
    "utils:*",
    "Plugins:plugin_*",
    "e*",
];
const USERS: &[&str] = &["@alice", "@bob", "@boss1"];
const USER_GLOBS: &[&str] = &["@alice", "@b*", "*", "@nobody"];
const ROOMS: &[&str] = &["#ops", "#dev"];
const ROOM_GLOBS: &[&str] = &["#ops", "#*", "#x"];
const ARG_VALUES: &[&str] = &["", "world", "rm -rf"];
const ARG_GLOBS: &[&str] = &["", "w*", "rm*", "*"];
const BACKENDS: &[&str] = &["test", "irc"];

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

fn maybe_patterns(rng: &mut StdRng, from: &[&str]) -> Option<Patterns> {
    if rng.random_bool(0.6) {
        return None;
    }
    let n = rng.random_range(0..3);
    Some(Patterns(
        (0..n).map(|_| pick(rng, from).to_owned()).collect(),
    ))
}

fn maybe_bool(rng: &mut StdRng) -> Option<bool> {
    match rng.random_range(0..3) {
        0 => None,
        1 => Some(true),
        _ => Some(false),
    }
}

fn random_rule(rng: &mut StdRng, with_key: bool) -> Rule {
    Rule {
        command: with_key.then(|| pick(rng, KEYS).to_owned()),
        backends: if with_key && rng.random_bool(0.3) {
            Some(Patterns(vec![pick(rng, BACKENDS).to_owned()]))
        } else {
            None
        },
        allowusers: maybe_patterns(rng, USER_GLOBS),
        denyusers: maybe_patterns(rng, USER_GLOBS),
        allowrooms: maybe_patterns(rng, ROOM_GLOBS),
        denyrooms: maybe_patterns(rng, ROOM_GLOBS),
        allowargs: maybe_patterns(rng, ARG_GLOBS),
        denyargs: maybe_patterns(rng, ARG_GLOBS),
        allowprivate: maybe_bool(rng),
        allowmuc: maybe_bool(rng),
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

fn with_rules(default: &Rule, rules: &[Rule], order: &[usize]) -> AccessSettings {
    let text: String = String::new();
    let mut s: AccessSettings = toml::from_str(&text).expect("empty settings");
    s.default = default.clone();
    s.rules = order
        .iter()
        .map(|&i| toml::Spanned::new(0..0, rules[i].clone()))
        .collect();
    s
}

#[test]
fn no_ordering_of_rules_lets_a_refused_person_through() {
    let mut rng = StdRng::seed_from_u64(0x5eed_ac15);
    let mut refused_everywhere = 0;
    for _ in 0..400 {
        let default = random_rule(&mut rng, false);
        let n = rng.random_range(1..=5);
        let rules: Vec<Rule> = (0..n).map(|_| random_rule(&mut rng, true)).collect();
        let invocation = Invocation {
            plugin: pick(&mut rng, PLUGINS),
            command: pick(&mut rng, COMMANDS),
            args: Some(pick(&mut rng, ARG_VALUES)),
            sender: pick(&mut rng, USERS),
            sender_id: "",
            room: rng.random_bool(0.5).then(|| pick(&mut rng, ROOMS)),
            backend: pick(&mut rng, BACKENDS),
            admin_only: rng.random_bool(0.3),
            sender_is_admin: rng.random_bool(0.5),
        };
        let i = &invocation;
        // What each rule alone (merged over the defaults) says, for the rules that match.
        let alone: Vec<Result<(), Denial>> = rules
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
        if all_refuse {
            refused_everywhere += 1;
        }
        for order in permutations(n) {
            let s = with_rules(&default, &rules, &order);
            let got = check(&s, i);
            // (a) first match in this order decides.
            let first = order
                .iter()
                .map(|&k| &rules[k])
                .find(|r| rule_matches(r, i.plugin, i.command, i.backend));
            let expected = match first {
                Some(r) => check_rule(&r.over(&default), i),
                None => check_rule(&default, i),
            };
            assert_eq!(got, expected, "order {order:?} of {rules:#?} for {i:?}");
            // (b) refused by every applicable rule: refused in every order.
            if all_refuse {
                assert!(got.is_err(), "order {order:?} let {i:?} through {rules:#?}");
                if verdicts.windows(2).all(|w| w[0] == w[1]) {
                    assert_eq!(got, verdicts[0]);
                }
            }
            // (c) admin-only stays admin-only.
            if i.admin_only && !i.sender_is_admin {
                assert!(
                    got.is_err(),
                    "admin-only ran for a non-admin: {i:?} {rules:#?}"
                );
            }
        }
    }
    // The generator does produce the interesting cases.
    assert!(
        refused_everywhere > 50,
        "only {refused_everywhere} refused cases"
    );
}

#[test]
fn user_rules_match_the_id_as_well_as_the_name() {
    // On Mattermost the ACL string is `@name` and the person's id never changes: a rule that
    // names the id outlives a rename; one that names either form refuses.
    let renamed = |i: &mut Invocation<'static>| {
        i.sender = "@alice2";
        i.sender_id = "u0000000000000000000000002";
    };
    let allow_id = settings("[default]\nallowusers = [\"u0000000000000000000000002\"]\n");
    let mut i = inv();
    renamed(&mut i);
    assert_eq!(check(&allow_id, &i), Ok(()));
    let mut other = inv();
    other.sender_id = "u0000000000000000000000003";
    assert_eq!(check(&allow_id, &other), Err(Denial::User));
    let deny_id = settings("[default]\ndenyusers = [\"u0000000000000000000000002\"]\n");
    assert_eq!(check(&deny_id, &i), Err(Denial::User));
    let deny_name = settings("[default]\ndenyusers = [\"@alice2\"]\n");
    assert_eq!(check(&deny_name, &i), Err(Denial::User));
}
