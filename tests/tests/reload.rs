//! Reading errbot.toml again while errbotd runs: `errbotctl reload-config` and SIGHUP apply what
//! changed and only that (children whose settings did not change keep their process), refuse
//! an invalid file and keep the running configuration.

use std::collections::BTreeMap;

use errbot_tests::TestBot;

const REFUSED: &str = "You're not allowed to access this command from this user";

/// Pid of every child, by name.
fn pids(bot: &TestBot) -> BTreeMap<String, u64> {
    bot.status()["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| {
            let name = c["name"].as_str().expect("name").to_owned();
            let pid = c["pid"].as_u64().expect("pid");
            assert_ne!(pid, 0, "{name} does not run");
            (name, pid)
        })
        .collect()
}

/// The configuration the bot started with, plus `extra`.
fn rewrite(bot: &TestBot, original: &str, extra: &str) {
    std::fs::write(bot.config_path(), format!("{original}\n{extra}\n")).expect("write config");
}

fn sighup(bot: &TestBot) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bot.process.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("SIGHUP");
}

fn deny_echo() -> &'static str {
    "[[access.rules]]\ncommand = \"echo\"\ndenyusers = [\"*\"]\n"
}

#[tokio::test]
async fn an_access_rule_applies_to_the_next_command_and_no_child_restarts() {
    let mut bot = TestBot::start().await;
    let original = std::fs::read_to_string(bot.config_path()).expect("config");
    let before = pids(&bot);
    assert_eq!(bot.one("!echo hi").await, "hi");

    rewrite(&bot, &original, deny_echo());
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("reloaded "), "{out}");
    assert!(out.contains("\napplied: access rules\n"), "{out}");
    assert!(out.contains("plugin hello"), "{out}");
    assert!(out.contains("backend test"), "{out}");
    assert_eq!(bot.one("!echo hi").await, REFUSED);
    assert_eq!(pids(&bot), before);

    // SIGHUP does the same: the rule goes, echo is allowed again.
    rewrite(&bot, &original, "");
    sighup(&bot);
    bot.wait_for_log("configuration reloaded ", 2);
    assert_eq!(bot.one("!echo hi").await, "hi");
    assert_eq!(pids(&bot), before);

    // --json: the same report, parsed.
    rewrite(&bot, &original, "# a comment changes nothing\n");
    let (code, out, err) = bot.ctl(&["--json", "reload-config"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["applied"], serde_json::json!([]));
    assert!(
        report["unchanged"]
            .as_array()
            .expect("unchanged")
            .contains(&serde_json::json!("access")),
        "{report}"
    );
    assert_eq!(pids(&bot), before);
}

#[tokio::test]
async fn only_the_plugin_whose_settings_changed_is_reloaded() {
    let mut bot = TestBot::start().await;
    let original = std::fs::read_to_string(bot.config_path()).expect("config");
    let before = pids(&bot);
    rewrite(
        &bot,
        &original,
        "[plugins.hello]\ncommand_timeout_secs = 7\n",
    );
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied: plugin hello reloaded"), "{out}");
    let after = pids(&bot);
    for (name, pid) in &before {
        if name == "hello" {
            assert_ne!(after[name], *pid, "hello was not reloaded");
        } else {
            assert_eq!(after[name], *pid, "{name} was restarted");
        }
    }
    assert_eq!(bot.one("!hello").await, "Hello, world!");

    // Disabled: stopped and gone; enabled again: started.
    rewrite(&bot, &original, "[plugins.hello]\ndisabled = true\n");
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plugin hello stopped (disabled)"), "{out}");
    assert!(!pids(&bot).contains_key("hello"));
    assert!(
        bot.one("!hello")
            .await
            .starts_with("Command \"hello\" not found.")
    );
    rewrite(&bot, &original, "");
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plugin hello started"), "{out}");
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    let last = pids(&bot);
    assert_eq!(last["testplugin"], before["testplugin"]);
    assert_eq!(last["test"], before["test"]);
}

#[tokio::test]
async fn an_invalid_file_is_refused_and_the_running_configuration_stays() {
    let mut bot = TestBot::start().await;
    let original = std::fs::read_to_string(bot.config_path()).expect("config");
    rewrite(&bot, &original, deny_echo());
    let (code, _, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    let before = pids(&bot);

    // A typo in a key: errbotctl still finds errbotd, which refuses the file.
    let broken = format!(
        "{original}\n{}\n[limits]\ncommand_timeout = 3\n",
        deny_echo()
    );
    std::fs::write(bot.config_path(), &broken).expect("write");
    let line = broken
        .lines()
        .position(|l| l.starts_with("command_timeout ="))
        .expect("the line")
        + 1;
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("is refused, the running one stays:"), "{err}");
    let location = format!("errbot.toml:{line}:1: key `limits.command_timeout`");
    assert!(err.contains(&location), "{location} not in {err}");
    let (code, _, _) = bot.ctl(&["--json", "reload-config"]);
    assert_eq!(code, 1);
    // Not even TOML: errbotctl still finds errbotd, which names the line.
    let duplicate = format!("{original}\n[bot]\n");
    std::fs::write(bot.config_path(), &duplicate).expect("write");
    let (code, _, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 1, "{err}");
    let line = duplicate.lines().count();
    assert!(err.contains(&format!("errbot.toml:{line}:")), "{err}");
    assert!(err.contains("duplicate key"), "{err}");
    std::fs::write(bot.config_path(), &broken).expect("write");
    // Still the rule of the running configuration, still the same processes.
    assert_eq!(bot.one("!echo hi").await, REFUSED);
    assert_eq!(pids(&bot), before);

    // SIGHUP: the same refusal, in the log.
    sighup(&bot);
    let log = bot.wait_for_log("is refused, the running one stays", 4);
    assert!(log.contains(&location), "{log}");
    assert_eq!(bot.one("!echo hi").await, REFUSED);
    assert_eq!(pids(&bot), before);
}

#[tokio::test]
async fn backends_are_started_restarted_and_stopped_and_startup_settings_wait() {
    let mut bot = TestBot::start().await;
    let original = std::fs::read_to_string(bot.config_path()).expect("config");
    let before = pids(&bot);
    let driver = bot.dir.path().join("driver2.sock");
    let second = format!(
        "[backends.second]\nkind = \"test\"\ndriver_socket = {:?}\n",
        driver.display().to_string()
    );
    rewrite(&bot, &original, &second);
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backend second started"), "{out}");
    let with_second = pids(&bot);
    assert_eq!(with_second["test"], before["test"]);
    assert_eq!(with_second["hello"], before["hello"]);
    // The new backend serves.
    let address = errbot_proto::transport::Address::unix_uri(&driver);
    let mut client = errbot_proto::v1::test_driver_service_client::TestDriverServiceClient::new(
        errbot_proto::transport::channel(&address).expect("address"),
    );
    let reply = client
        .converse(errbot_tests::inject("!echo second", "tester", ""))
        .await
        .expect("converse on the new backend")
        .into_inner();
    assert_eq!(errbot_tests::texts(&reply.replies), ["second"]);

    // Its own settings change: it alone is restarted. A start-up setting waits for a restart.
    rewrite(
        &bot,
        &original.replace("level = \"info\"", "level = \"debug\""),
        &format!("{second}supervision = {{ max_restarts = 9 }}\n"),
    );
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backend second restarted"), "{out}");
    assert!(
        out.contains("needs a restart: log.level (keeps its running value)"),
        "{out}"
    );
    let restarted = pids(&bot);
    assert_ne!(restarted["second"], with_second["second"]);
    assert_eq!(restarted["test"], before["test"]);

    // Removed: stopped.
    rewrite(&bot, &original, "");
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backend second stopped"), "{out}");
    let after = pids(&bot);
    assert!(!after.contains_key("second"));
    assert_eq!(after, before);
    assert_eq!(bot.one("!echo still here").await, "still here");
}

#[tokio::test]
async fn new_prefixes_apply_to_the_next_message() {
    let mut bot = TestBot::start().await;
    let original = std::fs::read_to_string(bot.config_path()).expect("config");
    let before = pids(&bot);
    let changed = original.replacen("[bot]\n", "[bot]\nprefix = \"?\"\n", 1);
    std::fs::write(bot.config_path(), changed).expect("write");
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied: bot.prefix"), "{out}");
    assert_eq!(bot.one("?echo new").await, "new");
    assert!(bot.say("!echo old").await.is_empty());
    assert_eq!(pids(&bot), before);
}

/// A plugin directory added to `paths.plugin_dirs` is searched on a reload: its plugins start,
/// the others keep their process; taken out again, its plugins stop.
#[tokio::test]
async fn new_plugin_directories_are_searched_on_a_reload() {
    let mut bot = TestBot::start().await;
    let original = std::fs::read_to_string(bot.config_path()).expect("config");
    let before = pids(&bot);
    let plugins = errbot_tests::repo_root()
        .join("tests/plugins")
        .display()
        .to_string();
    let filters = errbot_tests::repo_root()
        .join("tests/filter-plugins")
        .display()
        .to_string();
    let old_dirs = format!("plugin_dirs = [{plugins:?}]");
    assert!(original.contains(&old_dirs), "{original}");
    let with_filters = original.replace(
        &old_dirs,
        &format!("plugin_dirs = [{plugins:?}, {filters:?}]"),
    );
    std::fs::write(bot.config_path(), &with_filters).expect("write config");
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("paths.plugin_dirs"), "{out}");
    assert!(out.contains("plugin filterplugin started"), "{out}");
    let after = pids(&bot);
    assert!(after.contains_key("filterplugin"), "{after:?}");
    assert_eq!(after["testplugin"], before["testplugin"]);
    assert_eq!(after["hello"], before["hello"]);

    std::fs::write(bot.config_path(), &original).expect("write config");
    let (code, out, err) = bot.ctl(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("plugin filterplugin stopped (no longer found)"),
        "{out}"
    );
    assert!(!pids(&bot).contains_key("filterplugin"));
    assert_eq!(bot.one("!echo still here").await, "still here");
}
