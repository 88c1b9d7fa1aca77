//! End-to-end: access control, reply diversion and nick prefixes through the real errbotd, test
//! gateway and test plugin; and the text console's `!asuser` / `!asadmin` against an admin-only
//! command.

use std::process::{Command, Stdio};

use errbot_tests::{Options, TestBot, binary, texts};

const USER: &str = "You're not allowed to access this command from this user";
const ARGS: &str = "You're not allowed to access this command using the provided arguments";
const MUC: &str = "You're not allowed to access this command from a chatroom";
const ROOM: &str = "You're not allowed to access this command from this room";
const PRIVATE: &str = "You're not allowed to access this command via private message to me";
const ADMIN: &str = "This command requires bot-admin privileges";
const DIRECT: &str = "This command may only be issued through a direct message";

/// One rule per check, on the test plugin's commands.
const RULES: &str = r##"
[access]
hide_restricted_commands = true

[[access.rules]]
command = "testplugin:raw"
allowargs = ["ok*"]

[[access.rules]]
command = "testplugin:csv"
denyargs = ["*secret*"]

[[access.rules]]
command = "WORDS"                     # keys are case-insensitive; bare names mean *:words
allowusers = ["@ana", "@boss*"]

[[access.rules]]
command = "testplugin:shell*"
denyusers = ["@mallory"]

[[access.rules]]
command = "sum"
allowmuc = false

[[access.rules]]
command = "testplugin:pid"
allowrooms = ["#ops"]

[[access.rules]]
command = "where am i"               # spaces or underscores
denyrooms = ["#random"]

[[access.rules]]
command = "opts"
allowprivate = false

[[access.rules]]
command = "testplugin:secret"
allowmuc = true
allowrooms = ["#admins"]

[[access.rules]]
command = "Utils:echo"
backends = ["other"]                 # only for messages from the second gateway
denyusers = ["*"]

[[access.rules]]
command = "Utils:*"
backends = ["te*"]
denyusers = ["@mallory"]
"##;

/// A bot with the rules above and a second test gateway, `other`, driven on `other_socket`.
async fn rules_bot(other_socket: &std::path::Path) -> TestBot {
    let other = format!(
        "[backends.other]\nkind = \"test\"\ndriver_socket = {:?}\n",
        other_socket.display().to_string()
    );
    TestBot::start_with(Options {
        test_plugin: true,
        extra: format!("{other}\n{RULES}"),
        ..Default::default()
    })
    .await
}

/// Sends `body` as `from` in private through the gateway whose driver listens on `socket`.
async fn say_on(socket: &std::path::Path, from: &str, body: &str) -> Vec<String> {
    let address = errbot_proto::transport::Address::unix_uri(socket);
    let channel = errbot_proto::transport::channel(&address).expect("driver address");
    let mut driver =
        errbot_proto::v1::test_driver_service_client::TestDriverServiceClient::new(channel);
    let reply = driver
        .converse(errbot_tests::inject(body, from, ""))
        .await
        .expect("converse on the second gateway");
    reply
        .into_inner()
        .replies
        .into_iter()
        .map(|m| m.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_access_check_with_its_reply() {
    let sockets = tempfile::tempdir().expect("temp dir");
    let other = sockets.path().join("other.sock");
    let mut bot = rules_bot(&other).await;
    // Arguments.
    assert_eq!(
        bot.say_as("ana", "", "!raw ok go").await,
        ["raw=[ok go] argv=[\"ok\", \"go\"]"]
    );
    assert_eq!(bot.say_as("ana", "", "!raw nope").await, [ARGS]);
    assert_eq!(bot.say_as("ana", "", "!csv a,b").await, ["[\"a\", \"b\"]"]);
    assert_eq!(bot.say_as("ana", "", "!csv my secret,b").await, [ARGS]);
    // Users (case-sensitive globs on the ACL string `@name`).
    assert_eq!(
        bot.say_as("ana", "", "!words a b").await,
        ["[\"a\", \"b\"]"]
    );
    assert_eq!(bot.say_as("bossy", "", "!words a").await, ["[\"a\"]"]);
    assert_eq!(bot.say_as("bob", "", "!words a").await, [USER]);
    assert_eq!(bot.say_as("Ana", "", "!words a").await, [USER]);
    assert_eq!(bot.say_as("mallory", "", "!shellwords a").await, [USER]);
    assert_eq!(
        bot.say_as("bob", "", "!shellwords 'a b'").await,
        ["[\"a b\"]"]
    );
    // Rooms.
    assert_eq!(bot.say_as("ana", "#ops", "!sum 1 2").await, [MUC]);
    assert_eq!(bot.say_as("ana", "", "!sum 1 2").await, ["3"]);
    let pid = bot.say_as("ana", "#ops", "!pid").await;
    assert!(pid.len() == 1 && pid[0].parse::<u32>().is_ok(), "{pid:?}");
    assert_eq!(bot.say_as("ana", "#dev", "!pid").await, [ROOM]);
    assert_eq!(bot.say_as("ana", "#random", "!where am i").await, [ROOM]);
    assert_eq!(
        bot.say_as("ana", "#ops", "!where am i").await,
        ["in #ops as @ana"]
    );
    // Private.
    assert_eq!(bot.say_as("ana", "", "!opts x").await, [PRIVATE]);
    assert_eq!(
        bot.say_as("ana", "#ops", "!opts x").await,
        ["x x1 color=none"]
    );
    // Admin-only: admins only, and in rooms only where a rule says allowmuc = true.
    assert_eq!(bot.say_as("ana", "", "!secret").await, [ADMIN]);
    assert_eq!(
        bot.say_as("admin", "", "!secret").await,
        ["the secret is 42"]
    );
    assert_eq!(
        bot.say_as("admin", "#admins", "!secret").await,
        ["the secret is 42"]
    );
    assert_eq!(bot.say_as("admin", "#ops", "!secret").await, [ROOM]);
    assert_eq!(bot.say_as("ana", "#admins", "!secret").await, [ADMIN]);
    assert_eq!(
        bot.say_as("admin", "#ops", "!plugin deactivate testplugin")
            .await,
        [DIRECT]
    );
    // Rules per backend: the `other` rule applies on that gateway only, the `te*` one here.
    assert_eq!(bot.say_as("bob", "", "!echo hi").await, ["hi"]);
    assert_eq!(say_on(&other, "bob", "!echo hi").await, [USER]);
    assert_eq!(bot.say_as("mallory", "", "!echo hi").await, [USER]);
    assert_eq!(say_on(&other, "mallory", "!whoami").await.len(), 1);
    assert_eq!(bot.say_as("mallory", "", "!whoami").await, [USER]);
    // A refused command is not recorded in the history.
    assert_eq!(bot.say_as("Ana", "", "!!").await, Vec::<String>::new());
    // hide_restricted_commands: !help lists only what the sender may run.
    let ana = bot.say_as("ana", "", "!help").await.join("\n");
    let bob = bot.say_as("bob", "", "!help").await.join("\n");
    let admin = bot.say_as("admin", "", "!help").await.join("\n");
    assert!(ana.contains("!words") && !ana.contains("!secret"), "{ana}");
    assert!(
        !bob.contains("!words") && !bob.contains("!plugin activate"),
        "{bob}"
    );
    assert!(
        admin.contains("!secret") && admin.contains("!plugin activate"),
        "{admin}"
    );
    assert!(
        !ana.contains("!opts")
            && bot
                .say_as("ana", "#ops", "!help")
                .await
                .join("\n")
                .contains("!opts")
    );
    let apropos = bot.say_as("bob", "", "!apropos split").await.join("\n");
    assert!(
        apropos.contains("!shellwords") && !apropos.contains("!words"),
        "{apropos}"
    );
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_refusals_diverted_replies_and_nick_prefixes() {
    let mut bot = TestBot::start_with(Options {
        test_plugin: true,
        bot: "divert_to_private = [\"where am i\"]\ndivert_to_thread = [\"echo\"]\n\
              groupchat_nick_prefixed = true"
            .into(),
        extra: "[access]\nhide_restricted_access = true\n\n[[access.rules]]\n\
                command = \"raw\"\ndenyusers = [\"@mallory\"]\n"
            .into(),
        ..Default::default()
    })
    .await;
    // hide_restricted_access: no reply at all, but the message is processed.
    let r = bot.converse("mallory", "#ops", "!raw x").await;
    assert!(r.replies.is_empty(), "{:?}", texts(&r.replies));
    assert!(bot.say_as("mallory", "", "!secret").await.is_empty());
    assert_eq!(
        bot.say_as("ana", "", "!raw x").await,
        ["raw=[x] argv=[\"x\"]"]
    );
    // groupchat_nick_prefixed: replies in rooms address the sender, private ones do not.
    let r = bot.converse("ana", "#ops", "!raw x").await;
    assert_eq!(texts(&r.replies), ["@ana raw=[x] argv=[\"x\"]"]);
    assert_eq!(
        bot.say_as("ana", "", "!raw x").await,
        ["raw=[x] argv=[\"x\"]"]
    );
    let r = bot.converse("ana", "#ops", "!whisper").await;
    assert_eq!(texts(&r.replies), ["psst"]);
    // divert_to_private: the reply goes to the person, not the room, without prefix.
    let r = bot.converse("ana", "#ops", "!where am i").await;
    assert_eq!(texts(&r.replies), ["in #ops as @ana"]);
    let to = r.replies[0].to.clone().unwrap_or_default();
    assert_eq!((to.person.as_str(), to.room.as_str()), ("@ana", ""));
    // divert_to_thread: a thread started from the command's message...
    let r = bot.converse("ana", "#ops", "!echo threaded").await;
    assert_eq!(texts(&r.replies), ["@ana threaded"]);
    assert_eq!(r.replies[0].thread_id, r.message_id);
    // ...and not for other commands.
    let r = bot.converse("ana", "#ops", "!raw y").await;
    assert_eq!(r.replies[0].thread_id, "");
    bot.stop();
}

/// The issue's acceptance check, in the text console through a pipe.
#[test]
fn console_asuser_then_asadmin_against_an_admin_only_command() {
    let (ok, out) = errbot_tests::console_pipe(
        &["tests/plugins"],
        "!asuser nobody\n!secret\n!plugin deactivate testplugin\n!asadmin\n!secret\n",
    );
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines,
        [
            "You are now: @nobody.",
            ADMIN,
            ADMIN,
            "You are now an admin: @admin.",
            "the secret is 42",
        ],
        "{out}"
    );
}

/// The issue's acceptance check for configuration errors, on an access rule.
#[test]
fn malformed_access_rules_stop_check_config_and_errbotd_with_file_line_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errbot.toml");
    std::fs::write(
        &path,
        "[bot]\nadmins = [\"@admin\"]\n\n[[access.rules]]\ncommand = \"hello\"\n\
         allowusers = [\"@ana\"]\n\n[[access.rules]]\ncommand = \"echo\"\nalowrooms = [\"#ops\"]\n",
    )
    .expect("write config");
    let where_ = format!("{}:10:1: key `access.rules[1].alowrooms`", path.display());
    let check = Command::new(binary("errbotd"))
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run check-config");
    let err = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{err}");
    assert!(err.starts_with(&where_), "{err}");
    assert!(err.contains("unknown field `alowrooms`"), "{err}");
    let run = Command::new(binary("errbotd"))
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run errbotd");
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.starts_with(&where_), "{err}");
}
