//! End-to-end: a new user's set-up. errbotd run from the parent directory of the bot
//! (`errbotd -c mybot/errbot.toml`, as README says); `errbotd init` and the example plugin that
//! errbotd builds; plugins built by errbotd (plugin.toml's `build`).

use std::process::Command;
use std::time::{Duration, Instant};

use errbot_tests::{Options, TestBot, bin_dir, binary, repo_root};

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

/// Waits (at most `within`) until plugin `name` is in state `want`, and returns its row of
/// `errbotctl plugin list --json`; also returns whether its note said "building" meanwhile. Fails
/// at once if it fails when it should not.
async fn wait_for_state(
    bot: &TestBot,
    name: &str,
    want: &str,
    within: Duration,
) -> (serde_json::Value, bool) {
    let deadline = Instant::now() + within;
    let mut saw_building = false;
    loop {
        let row = bot.plugin_entry(name);
        saw_building |= row["note"] == "building" && row["letter"] == "R";
        if row["state"] == want {
            return (row, saw_building);
        }
        assert!(
            row["state"] != "failed",
            "plugin {name} failed: {}\n{}",
            row["note"].as_str().unwrap_or_default(),
            bot.log()
        );
        assert!(
            Instant::now() < deadline,
            "plugin {name} is not {want} after {within:?}: {row}\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 12: `errbotd init` wrote an example plugin nothing built (and whose SDK path was the
/// build machine's). Now errbotd builds it before its first start, in the background (the bot
/// answers meanwhile, the plugin's note says "building"), and again when a source changed.
///
/// This compiles a small crate and its dependencies: the build gets a cargo target directory
/// kept between runs (beside the test binaries) through `CARGO_TARGET_DIR`, the workspace's
/// Cargo.lock (the same versions, no network needed) and no optimisation, so only the first run
/// takes minutes. Skipped when cargo is absent.
#[tokio::test(flavor = "multi_thread")]
async fn init_writes_a_plugin_errbotd_builds() {
    if !Command::new("cargo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIPPED: no cargo to build the example plugin with");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("errbot-init")
        .tempdir()
        .expect("temp dir");
    let out = Command::new(binary("errbotd"))
        .args(["init", "mybot"])
        .current_dir(dir.path())
        .output()
        .expect("errbotd init");
    assert!(out.status.success(), "{out:?}");
    let bot_dir = dir.path().join("mybot");
    let example = bot_dir.join("plugins/example");
    let cargo_toml = std::fs::read_to_string(example.join("Cargo.toml")).expect("Cargo.toml");
    let sdk = repo_root().join("plugin-sdk").canonicalize().expect("sdk");
    assert!(
        cargo_toml.contains(&format!(
            "errbot-plugin-sdk = {{ path = \"{}\" }}",
            sdk.display()
        )),
        "{cargo_toml}"
    );
    // The bot as written, with the test gateway for the console and without the bundled plugins
    // (python-hello would install its requirements from the network).
    let driver_socket = dir.path().join("driver.sock");
    let config = std::fs::read_to_string(bot_dir.join("errbot.toml")).expect("errbot.toml");
    let console = "[backends.console]\nkind = \"console\"\n";
    assert!(config.contains(console) && config.contains("bundled_plugins = true\n"));
    let config = config
        .replace(
            console,
            &format!("[backends.test]\nkind = \"test\"\ndriver_socket = {driver_socket:?}\n"),
        )
        .replace("bundled_plugins = true\n", "bundled_plugins = false\n");
    std::fs::write(bot_dir.join("errbot.toml"), config).expect("write errbot.toml");
    std::fs::copy(repo_root().join("Cargo.lock"), example.join("Cargo.lock")).expect("lock");
    let target = bin_dir().join("init-example-target");
    let env = vec![
        ("CARGO_TARGET_DIR".to_owned(), target.display().to_string()),
        ("CARGO_NET_OFFLINE".to_owned(), "true".to_owned()),
        ("CARGO_PROFILE_RELEASE_OPT_LEVEL".to_owned(), "0".to_owned()),
    ];
    let started = Instant::now();
    let mut bot = TestBot::start_on(dir, "mybot/errbot.toml".into(), &driver_socket, env).await;
    // The bot answers while the plugin builds.
    assert!(bot.one("!status").await.starts_with("Yes I am alive..."));
    let (_, saw_building) =
        wait_for_state(&bot, "example", "running", Duration::from_secs(1200)).await;
    eprintln!("example built and running after {:?}", started.elapsed());
    assert!(saw_building, "the note never said building:\n{}", bot.log());
    let reply = bot.one("!example").await;
    assert!(reply.ends_with(", this is the example plugin!"), "{reply}");
    assert_eq!(bot.one("!add 2 3").await, "5");
    let log = bot.log();
    assert!(
        log.contains("build: ") && log.contains("built in "),
        "{log}"
    );
    // A program younger than its sources is not rebuilt; an edited source is, on reload.
    assert_eq!(bot.ctl(&["plugin", "reload", "example"]).0, 0);
    assert_eq!(bot.log().matches("built in ").count(), 1);
    let main_rs = example.join("src/main.rs");
    let source = std::fs::read_to_string(&main_rs).expect("main.rs");
    let edited = source.replace("this is the example plugin!", "this is the edited plugin!");
    assert_ne!(source, edited);
    std::fs::write(&main_rs, edited).expect("edit main.rs");
    let started = Instant::now();
    let (code, out, err) = bot.ctl(&["plugin", "reload", "example"]);
    assert_eq!(code, 0, "{out}{err}\n{}", bot.log());
    eprintln!("rebuilt and reloaded in {:?}", started.elapsed());
    let reply = bot.one("!example").await;
    assert!(reply.ends_with(", this is the edited plugin!"), "{reply}");
    assert_eq!(bot.log().matches("built in ").count(), 2);
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
