//! End-to-end: a new user's set-up. errbotd run from the parent directory of the bot
//! (`errbotd -c mybot/errbot.toml`, as README says).

use errbot_tests::{Options, TestBot};

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
