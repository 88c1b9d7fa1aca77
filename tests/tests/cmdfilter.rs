//! End-to-end: command filters served by a plugin process (tests/filter-plugins): pass, block,
//! rewrite (with the access rules checked again), order, failures and deadlines.

use errbot_tests::{Options, TestBot, repo_root};

async fn filter_bot() -> TestBot {
    TestBot::start_with(Options {
        plugin_dirs: vec![repo_root().join("tests/filter-plugins")],
        extra: "[limits]\ncommand_filter_timeout_secs = 0.5\n\n\
                [[access.rules]]\ncommand = \"whoami\"\ndenyusers = [\"@mallory\"]\n"
            .into(),
        ..Default::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_pass_block_and_rewrite_commands() {
    let mut bot = filter_bot().await;
    assert_eq!(bot.say("!echo hi").await, ["hi"]);
    // Blocked, with or without a reason.
    assert_eq!(
        bot.say("!echo forbidden fruit").await,
        ["Filtered: that word is forbidden here."]
    );
    assert!(bot.say("!echo quietly").await.is_empty());
    // New arguments, with a notice; the second filter sees what the first one left.
    assert_eq!(bot.say("!echo shout hey").await, ["(shouting)", "HEY"]);
    assert_eq!(
        bot.say("!echo shout second").await,
        ["(shouting)", "second saw SECOND"]
    );
    // Another command: the access rules are checked again for it.
    let who = bot.say_as("admin", "", "!echo elsewhere").await.join("\n");
    assert!(who.contains("| person | `@admin` |"), "{who}");
    assert_eq!(
        bot.say_as("mallory", "", "!echo elsewhere").await,
        ["You're not allowed to access this command from this user"]
    );
    assert_eq!(
        bot.say("!echo escalate").await,
        ["This command requires bot-admin privileges"]
    );
    let nowhere = bot.say("!echo nowhere").await.join("\n");
    assert!(
        nowhere.contains("asked for \"no such command\", which is not a command"),
        "{nowhere}"
    );
    // `!plugin info` names the commands as access rules do, and lists the filters in order.
    let info = bot
        .say_as("admin", "", "!plugin info filterplugin")
        .await
        .join("\n");
    assert!(info.contains("`filterplugin:filtered`"), "{info}");
    let guard = info.find("command filter** `guard`").expect("guard listed");
    let second = info
        .find("command filter** `second`")
        .expect("second listed");
    assert!(guard < second, "{info}");
    let builtin = bot
        .say_as("admin", "", "!plugin info utils")
        .await
        .join("\n");
    assert!(
        builtin.contains("`Utils:echo`") && builtin.contains("built into errbotd"),
        "{builtin}"
    );
    let unknown = bot
        .say_as("admin", "", "!plugin info nosuch")
        .await
        .join("\n");
    assert!(
        unknown.starts_with("nosuch isn't a valid plugin name. The current plugins are:")
            && unknown.contains("\n- filterplugin"),
        "{unknown}"
    );
    assert_eq!(
        bot.say("!plugin info filterplugin").await,
        ["This command requires bot-admin privileges"]
    );
    // catch_unprocessed: messages naming no command become aliases, or are answered by the
    // filter, else get the usual reply.
    assert_eq!(bot.say("!hi there").await, ["hello there"]);
    assert_eq!(bot.say("!hush").await, ["Nothing to see here."]);
    assert_eq!(
        bot.say("!info filterplugin").await,
        ["This command requires bot-admin privileges"]
    );
    let info = bot
        .say_as("admin", "", "!info filterplugin")
        .await
        .join("\n");
    assert!(info.starts_with("### filterplugin"), "{info}");
    let unknown = bot.say("!nosuchthing").await.join("\n");
    assert!(
        unknown.starts_with("Command \"nosuchthing\" not found."),
        "{unknown}"
    );
    // A command refused by the access rules never reaches the filters.
    let before: u64 = bot.one("!filtered").await.parse().expect("a count");
    assert_eq!(
        bot.say_as("mallory", "", "!whoami").await,
        ["You're not allowed to access this command from this user"]
    );
    let after: u64 = bot.one("!filtered").await.parse().expect("a count");
    assert_eq!(after, before + 1, "only the second !filtered was filtered");
    bot.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_or_hanging_filter_blocks_with_a_reason() {
    let mut bot = filter_bot().await;
    let hang = bot.say("!echo hang").await.join("\n");
    assert!(
        hang.contains("command filter guard of plugin filterplugin blocked the command")
            && hang.contains("did not answer within 0.5 s"),
        "{hang}"
    );
    let panic = bot.say("!echo panic").await.join("\n");
    assert!(
        panic.contains("command filter guard of plugin filterplugin blocked the command"),
        "{panic}"
    );
    // The plugin keeps serving, and other commands go through.
    assert_eq!(bot.say("!echo still here").await, ["still here"]);
    // Deactivated, its filters no longer apply.
    assert_eq!(
        bot.ctl(&["plugin", "deactivate", "filterplugin"]).0,
        0,
        "errbotctl plugin deactivate"
    );
    assert_eq!(bot.say("!echo forbidden fruit").await, ["forbidden fruit"]);
    bot.stop();
}
