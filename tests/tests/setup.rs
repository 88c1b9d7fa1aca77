//! End-to-end: a new user's set-up. errbotd run from the parent directory of the bot
//! (`errbotd -c mybot/errbot.toml`, as README says); `errbotd init` and the example plugin that
//! errbotd builds; plugins built by errbotd (plugin.toml's `build`).

use std::time::{Duration, Instant};

use errbot_tests::{Options, TestBot, binary};

/// Issue 12: with `-c sub/errbot.toml` and relative paths in it, every path errbotd gives a
/// child must be absolute: python-hello's virtualenv interpreter was given as a relative path
/// and the plugin, running in its own directory, restarted forever.
#[tokio::test(flavor = "multi_thread")]
async fn relative_config_path_and_relative_data_dir() {
    let mut bot = TestBot::start_with(Options {
        bundled: true,
        config_subdir: Some("mybot".into()),
        ..Default::default()
    })
    .await;
    let hello = bot.one("!pyhello").await;
    assert!(hello.starts_with("Hello from Python "), "{hello}");
    assert_eq!(bot.one("!hello").await, "Hello, world!");
    // The data directory is the file's, not the working directory's.
    let data = bot.dir.path().join("mybot/data");
    assert!(
        data.join("errbotd.sock").exists(),
        "no control socket in {data:?}"
    );
    assert!(data.join("errbot.db").exists(), "no database in {data:?}");
    assert!(!bot.dir.path().join("data").exists());
    let python = bot.child("python-hello");
    assert_eq!(python["state"], "running", "{python}");
    assert_eq!(python["restarts"], 0, "{python}");
    bot.stop();
}

/// A build that fails marks its plugin failed, with the build's last lines as the reason, and
/// it is not restarted; once the build is mended, activating the plugin builds and starts it.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_build_fails_the_plugin_with_its_reason() {
    let plugins = tempfile::Builder::new()
        .prefix("errbot-build")
        .tempdir()
        .expect("temp dir");
    let plugin = plugins.path().join("testplugin");
    std::fs::create_dir_all(&plugin).expect("mkdir");
    std::fs::write(
        plugin.join("plugin.toml"),
        "[plugin]\nname = \"testplugin\"\nbuild = [\"sh\", \"build.sh\"]\n\
         command = [\"bin/testplugin\"]\n",
    )
    .expect("plugin.toml");
    std::fs::write(
        plugin.join("build.sh"),
        "echo compiling testplugin\nsleep 1\necho 'error: it broke' >&2\nexit 3\n",
    )
    .expect("build.sh");
    let mut bot = TestBot::start_with(Options {
        plugin_dirs: vec![plugins.path().to_path_buf()],
        ..Default::default()
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut saw_building = false;
    let row = loop {
        let row = bot.plugin_entry("testplugin");
        saw_building |= row["note"] == "building" && row["letter"] == "R";
        if row["state"] == "failed" {
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "not failed: {row}\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(saw_building, "the note never said building:\n{}", bot.log());
    assert_eq!(row["letter"], "F");
    assert_eq!(
        row["note"],
        "the build `sh build.sh` failed (exit status 3); its last lines:\n\
         compiling testplugin\nerror: it broke"
    );
    let child = bot.child("testplugin");
    assert_eq!(child["restarts"], 0, "{child}");
    bot.wait_for_log("build: compiling testplugin", 1);
    bot.wait_for_log("build: error: it broke", 1);
    let status = bot.one("!status plugins").await;
    assert!(
        status.contains("| F | testplugin (the build `sh build.sh` failed"),
        "{status}"
    );

    // Mended: activating builds and starts it.
    let program = binary("errbot-test-plugin");
    std::fs::write(
        plugin.join("build.sh"),
        format!(
            "mkdir -p bin && cp {:?} bin/testplugin\n",
            program.display().to_string()
        ),
    )
    .expect("build.sh");
    let (code, out, err) = bot.ctl(&["plugin", "activate", "testplugin"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(bot.plugin_entry("testplugin")["state"], "running");
    assert_eq!(bot.one("!sum 1 2").await, "3");
    bot.stop();
}
