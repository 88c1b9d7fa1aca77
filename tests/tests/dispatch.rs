//! End-to-end: every dispatch rule, through the real errbotd, gateway and plugin processes.

use errbot_tests::{Options, TestBot, texts};

#[tokio::test(flavor = "multi_thread")]
async fn plain_commands_builtins_and_arguments() {
    let mut bot = TestBot::start().await;
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    // Raw argument strings keep inner whitespace.
    assert_eq!(bot.one("!echo  hi   there").await, "hi   there");
    // Commands are case-insensitive.
    assert_eq!(bot.one("!HELLO").await, "Hello, world!");
    // Typed arguments, parsed by errbotd.
    assert!(bot.one("!roll 6").await.starts_with("You rolled "));
    let roll = bot.one("!roll 6 3").await;
    assert!(roll.contains("total"), "{roll}");
    assert_eq!(
        bot.one("!roll six").await,
        "I couldn't parse the arguments; argument sides: invalid integer value: 'six'\nUsage: !roll <sides> [count]"
    );
    assert!(
        bot.one("!roll")
            .await
            .contains("the following arguments are required: sides")
    );
    assert!(
        bot.one("!roll -h")
            .await
            .starts_with("Usage: !roll <sides> [count]\n  sides: sides of each die")
    );
    // A plugin's own validation error is its reply.
    assert_eq!(
        bot.one("!roll 6 1000").await,
        "I can roll between 1 and 100 dice."
    );
    assert_eq!(bot.one("!refuse").await, "I won't do that.");
    // Every argument mode.
    assert_eq!(
        bot.one("!raw  a  'b c' ").await,
        "raw=[a  'b c'] argv=[\"a\", \"'b\", \"c'\"]"
    );
    assert_eq!(bot.one("!csv a,,b,c,d").await, "[\"a\", \"\", \"b,c,d\"]");
    assert_eq!(bot.one("!words  a b   c").await, "[\"a\", \"b\", \"c\"]");
    assert_eq!(
        bot.one("!shellwords a 'b c' \"d e\"").await,
        "[\"a\", \"b c\", \"d e\"]"
    );
    assert_eq!(
        bot.one("!shellwords a 'b").await,
        "Sorry, I couldn't parse your arguments. No closing quotation"
    );
    assert_eq!(bot.one("!opts ada").await, "ada x1 color=none");
    assert_eq!(
        bot.one("!opts ada -t 3 --loud --color blue").await,
        "ADA X3 COLOR=BLUE"
    );
    assert!(
        bot.one("!opts ada --color green")
            .await
            .contains("invalid choice: 'green'")
    );
    assert_eq!(bot.one("!sum 1 2.5 3").await, "6.5");
    assert_eq!(
        bot.one("!greet  Ada   Lovelace").await,
        "Hello, Ada   Lovelace!"
    );
    // Multi-word commands: the longest run of words wins; the underscore form works too.
    let status = bot.one("!status plugins").await;
    assert!(status.contains("| A | hello |"), "{status}");
    assert_eq!(bot.one("!status_plugins").await, status);
    assert!(bot.one("!status").await.starts_with("Yes I am alive..."));
    assert!(
        bot.one("!uptime")
            .await
            .starts_with("I've been up for 0 days")
    );
    let whoami = bot.one("!whoami").await;
    assert!(
        whoami.contains("| person | `tester` |") || whoami.contains("| person | `@tester` |"),
        "{whoami}"
    );
    assert!(bot.one("!about").await.contains("errbot-rs"));
    bot.stop();
}

/// Issue 12: an option before a `Rest` parameter is an option (as argparse parses options
/// wherever they stand), so the showcase's own help (`!greet --shout Bob`) is true.
#[tokio::test(flavor = "multi_thread")]
async fn options_before_a_rest_parameter() {
    let mut bot = TestBot::start_with(Options {
        bundled: true,
        ..Default::default()
    })
    .await;
    let help = bot.one("!help greet").await;
    assert!(help.contains("`!greet --shout Bob`"), "{help}");
    assert_eq!(bot.one("!greet -s Bob").await, "HELLO, BOB!");
    assert_eq!(bot.one("!greet --shout Bob").await, "HELLO, BOB!");
    assert_eq!(bot.one("!greet Ada Lovelace").await, "Hello, Ada Lovelace!");
    // Once the rest has started, everything is the rest's; `--` ends the options early.
    assert_eq!(bot.one("!greet Bob -s").await, "Hello, Bob -s!");
    assert_eq!(bot.one("!greet -- -s Bob").await, "Hello, -s Bob!");
    assert_eq!(
        bot.one("!greet -h").await,
        "Usage: !greet [-s] <name>...\n  -s, --shout: shout it\n  name: who to greet"
    );
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn help_apropos_and_not_found() {
    let mut bot = TestBot::start().await;
    let help = bot.one("!help").await;
    for want in [
        "All commands",
        "**Help**",
        "**hello**",
        "!hello",
        "!roll <sides> [count]",
        "!pyhello",
    ] {
        assert!(help.contains(want), "help lacks {want:?}:\n{help}");
    }
    // Hidden commands are not listed.
    assert!(!help.contains("!crash"), "{help}");
    let plugin_help = bot.one("!help hello").await;
    assert!(plugin_help.starts_with("### hello\n"), "{plugin_help}");
    assert!(plugin_help.contains("!countdown"), "{plugin_help}");
    let command_help = bot.one("!help roll").await;
    assert!(
        command_help.starts_with("**!roll <sides> [count]**"),
        "{command_help}"
    );
    assert!(
        bot.one("!help status plugins")
            .await
            .starts_with("**!status plugins**")
    );
    assert_eq!(
        bot.one("!help nosuchthing").await,
        "That command is not defined."
    );
    // A regex command's help, by its name (Errbot takes `re_foo` and `re foo`).
    assert!(
        bot.one("!help weather").await.contains("Prefixed pattern"),
        "the regex command's help"
    );
    assert!(
        bot.one("!apropos dice")
            .await
            .contains("- !roll <sides> [count]: ")
    );
    // Regex commands are not typed by name: never suggested for a typo.
    let typo = bot.one("!weathr").await;
    assert!(!typo.contains("!weather"), "{typo}");
    assert_eq!(
        bot.one("!apropos zzzz").await,
        "Sorry, I could not find any command matching \"zzzz\"."
    );
    // Unknown commands, with the closest names.
    let nf = bot.one("!helo").await;
    assert!(
        nf.starts_with("Command \"helo\" not found.\n\nDid you mean \"!"),
        "{nf}"
    );
    assert!(
        nf.contains("\"!hello\"") && nf.contains("\"!help\""),
        "{nf}"
    );
    assert_eq!(
        bot.one("!xyzzy").await,
        "Command \"xyzzy\" not found.\n\nType \"!help\" for the list of commands."
    );
    assert_eq!(
        bot.one("!stauts plugins").await,
        "Command \"stauts\" / \"stauts plugins\" not found.\n\nDid you mean \"!status\" or \"!status gc\" or \"!webstatus\" or \"!status plugins\" ?"
    );
    // Unprefixed chatter is not a command.
    assert!(bot.say("hello there").await.is_empty());
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn alternate_prefixes_and_optional_prefix() {
    let mut bot = TestBot::start_with(Options {
        bot: "prefix = \"?\"\nalt_prefixes = [\"Err\", \"@errbot\"]\nalt_prefix_separators = [\",\", \":\"]\n\
              alt_prefix_case_insensitive = true\nprefix_optional_on_chat = true"
            .into(),
        bundled: true,
        test_plugin: false,
        ..Default::default()
    })
    .await;
    assert_eq!(bot.one("?hello").await, "Hello, world!");
    assert_eq!(bot.one("err, hello").await, "Hello, world!");
    assert_eq!(bot.one("ERR: echo a b").await, "a b");
    assert_eq!(bot.one("@errbot hello").await, "Hello, world!");
    // A direct message needs no prefix...
    assert_eq!(bot.one("hello").await, "Hello, world!");
    // ... but a room message does.
    assert!(bot.say_as("tester", "#room", "hello").await.is_empty());
    assert_eq!(
        bot.say_as("tester", "#room", "Err hello").await,
        ["Hello, world!"]
    );
    // "!" is no longer the prefix, and unknown words in a direct message are not "not found".
    assert!(bot.say("how are you").await.is_empty());
    let nf = bot.one("?nosuch").await;
    assert!(nf.starts_with("Command \"nosuch\" not found."), "{nf}");
    assert!(bot.one("?help").await.contains("?hello"));
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn regex_commands() {
    let mut bot = TestBot::start().await;
    // Not prefixed: seen in any message, and every matching pattern runs.
    let replies = bot
        .say_as("ana", "#kitchen", "cookies for #12 and #34?")
        .await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(
        replies.contains(&"ana mentioned cookies: have a cookie!".to_owned()),
        "{replies:?}"
    );
    assert!(
        replies.contains(&"tickets: 12, 34".to_owned()),
        "{replies:?}"
    );
    // Prefixed patterns need the prefix.
    assert!(bot.say("weather in Paris").await.is_empty());
    assert_eq!(bot.one("!weather in Paris").await, "sunny in Paris");
    // A plain command wins over patterns.
    assert_eq!(bot.one("!echo cookies").await, "cookies");
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn history_recall() {
    let mut bot = TestBot::start().await;
    // Nothing to repeat yet: no answer.
    assert!(bot.say("!!").await.is_empty());
    assert_eq!(bot.one("!echo one").await, "one");
    assert_eq!(bot.one("!echo two").await, "two");
    assert_eq!(bot.one("!!").await, "two");
    assert_eq!(bot.one("!2").await, "one");
    assert!(bot.say("!9").await.is_empty());
    let history = bot.one("!history").await;
    assert_eq!(history, " 3:!echo two\n 2:!echo one\n 1:!history");
    // Histories are per person.
    assert!(bot.say_as("someone", "", "!!").await.is_empty());
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn rooms_privacy_and_admins() {
    let mut bot = TestBot::start().await;
    let r = bot.converse("ana", "#ops", "!where am i").await;
    assert_eq!(texts(&r.replies), ["in #ops as @ana"]);
    assert_eq!(
        r.replies[0].to.as_ref().map(|t| t.room.as_str()),
        Some("#ops")
    );
    let r = bot.converse("ana", "", "!where am i").await;
    assert_eq!(texts(&r.replies), ["in private as @ana"]);
    // A private reply from a room goes to the person, not the room.
    let r = bot.converse("ana", "#ops", "!whisper").await;
    assert_eq!(texts(&r.replies), ["psst"]);
    let to = r.replies[0].to.clone().unwrap_or_default();
    assert_eq!((to.person.as_str(), to.room.as_str()), ("@ana", ""));
    // An ephemeral reply, on a service without ephemeral messages (the test gateway), is a
    // private one; in a direct conversation, an ordinary reply.
    let r = bot.converse("ana", "#ops", "!hush").await;
    assert_eq!(texts(&r.replies), ["only you"]);
    let to = r.replies[0].to.clone().unwrap_or_default();
    assert_eq!((to.person.as_str(), to.room.as_str()), ("@ana", ""));
    let r = bot.converse("ana", "", "!hush").await;
    assert_eq!(texts(&r.replies), ["only you"]);
    // Admin-only commands.
    assert_eq!(
        bot.say_as("ana", "", "!secret").await,
        ["This command requires bot-admin privileges"]
    );
    assert_eq!(
        bot.say_as("admin", "", "!secret").await,
        ["the secret is 42"]
    );
    assert_eq!(
        bot.say_as("bossy", "", "!secret").await,
        ["the secret is 42"]
    );
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_split_and_concurrent_replies() {
    let mut bot = TestBot::start_with(Options {
        bot: "message_size_limit = 100".into(),
        bundled: true,
        test_plugin: true,
        ..Default::default()
    })
    .await;
    assert_eq!(bot.say("!countdown 3").await, ["3", "2", "1", "Liftoff!"]);
    // A long reply is split at the size limit, on word boundaries.
    let parts = bot.say("!repeat 50 word").await;
    assert!(parts.len() >= 3, "{parts:?}");
    assert!(parts.iter().all(|p| p.chars().count() <= 100), "{parts:?}");
    assert_eq!(parts.join(" "), vec!["word"; 50].join(" "));
    // Commands run concurrently: a fast command is answered while a slow one is running.
    let mut slow_driver = bot.driver.clone();
    let slow = tokio::spawn(async move {
        slow_driver
            .converse(errbot_tests::inject("!slow 1500", "a", ""))
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(bot.one("!echo fast").await, "fast");
    assert!(
        !slow.is_finished(),
        "the slow command should still be running"
    );
    let slow = slow.await.expect("join").expect("converse").into_inner();
    assert_eq!(texts(&slow.replies), ["slept 1500 ms"]);
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_plugins_get_clear_replies() {
    let mut bot = TestBot::start().await;
    let crash = bot.one("!crash").await;
    assert!(
        crash.starts_with("Computer says nooo. See logs for details:\n")
            && crash.contains("the crash command always fails"),
        "{crash}"
    );
    let panic = bot.one("!panic").await;
    assert!(
        panic.starts_with("Computer says nooo. See logs for details:\n"),
        "{panic}"
    );
    assert!(panic.contains("panicked"), "{panic}");
    // The plugin survives both.
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    // A plugin process that dies in the middle of a command: a reply, not silence.
    // (Its own last reply may or may not have left the process before it died.)
    let replies = bot.say("!die").await;
    let last = replies.last().cloned().unwrap_or_default();
    assert_eq!(
        last,
        "Computer says nooo. See logs for details:\n\
         plugin testplugin stopped while running the command (exited with status 3)",
        "{replies:?}"
    );
    // Other plugins keep answering, and so does errbotd.
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    assert_eq!(bot.one("!echo still here").await, "still here");
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn python_plugin_speaks_the_same_protocol() {
    let mut bot = TestBot::start().await;
    let hello = bot.one("!pyhello").await;
    assert!(hello.starts_with("Hello from Python 3."), "{hello}");
    assert!(
        bot.one("!pyhello Ana")
            .await
            .starts_with("Hello Ana, from Python")
    );
    assert_eq!(bot.one("!pyadd 2 40").await, "42");
    assert!(
        bot.one("!pyadd 2 x")
            .await
            .contains("invalid integer value: 'x'")
    );
    assert_eq!(bot.say("!pycount 3").await, ["1", "2", "3"]);
    bot.stop();
}
