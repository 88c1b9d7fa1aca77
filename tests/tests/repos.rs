//! Plugin repositories end to end: real git repositories made by the test, served over `file:`
//! and over git's "dumb" HTTP on loopback (a static file server), a local plugin index; errbotd
//! installs, answers, updates (while a sender keeps asking), uninstalls, refuses and reports
//! from chat and errbotctl.

use std::path::{Path, PathBuf};
use std::process::Command;

use errbot_proto::v1::InjectRequest;
use errbot_proto::v1::test_driver_service_client::TestDriverServiceClient;
use errbot_tests::{Options, TestBot, binary};
use tonic::transport::Channel;

/// Runs git in `dir`; panics with its output when it fails.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.org")
        .env("GIT_COMMITTER_NAME", "tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.org")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A git repository at `dir` holding `files`, committed on branch `main`.
fn repo(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).expect("repo dir");
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    commit(dir, files, "first");
}

fn commit(dir: &Path, files: &[(&str, &str)], message: &str) {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dirs");
        }
        std::fs::write(path, text).expect("write file");
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "--quiet", "-m", message]);
}

/// An errbot-rs plugin whose build is cheap: a script that runs the already built benchmark
/// plugin, which answers `!NAME TEXT` with `NAME: TEXT`.
fn rust_plugin(name: &str) -> Vec<(String, String)> {
    let program = binary("errbot-bench-plugin");
    vec![
        (
            "plugin.toml".into(),
            format!(
                "[plugin]\nname = \"{name}\"\ndescription = \"Greets people\"\n\
                 command = [\"bin/{name}\"]\nbuild = [\"sh\", \"build.sh\"]\n"
            ),
        ),
        (
            "build.sh".into(),
            format!(
                "set -e\necho building {name}\nmkdir -p bin\n\
                 printf '#!/bin/sh\\nexec %s \"$@\"\\n' '{}' > bin/{name}\nchmod +x bin/{name}\n",
                program.display()
            ),
        ),
        (".gitignore".into(), "bin/\n".into()),
    ]
}

/// An Errbot plugin (a `.plug` and its module), answering `!repohello` with `repohello VERSION`.
fn errbot_plugin(version: &str) -> Vec<(String, String)> {
    vec![
        (
            "repohello.plug".into(),
            "[Core]\nName = RepoHello\nModule = repohello\n\n[Documentation]\n\
             Description = Says hello from a git repository.\n\n[Python]\nVersion = 3\n"
                .into(),
        ),
        (
            "repohello.py".into(),
            format!(
                "from errbot import BotPlugin, botcmd\n\n\nclass RepoHello(BotPlugin):\n    \
                 \"\"\"Says hello from a git repository.\"\"\"\n\n    @botcmd\n    \
                 def repohello(self, msg, args):\n        \"\"\"Say which version answers.\"\"\"\n        \
                 return \"repohello {version}\"\n"
            ),
        ),
    ]
}

fn refs(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

/// Serves the files under `root` over HTTP on 127.0.0.1 (what git's dumb HTTP needs); returns
/// the base URL.
async fn serve_files(root: PathBuf) -> String {
    use axum::http::{StatusCode, Uri};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let root = root.clone();
        async move {
            let path = uri.path().trim_start_matches('/');
            if path.split('/').any(|p| p == ".." || p.is_empty()) {
                return Err(StatusCode::NOT_FOUND);
            }
            tokio::fs::read(root.join(path))
                .await
                .map_err(|_| StatusCode::NOT_FOUND)
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}

/// Publishes the work tree `work` as the bare repository `bare` for dumb HTTP.
fn publish(work: &Path, bare: &Path) {
    if !bare.exists() {
        let parent = bare.parent().expect("parent");
        std::fs::create_dir_all(parent).expect("dirs");
        git(
            parent,
            &[
                "clone",
                "--quiet",
                "--bare",
                &work.display().to_string(),
                &bare.display().to_string(),
            ],
        );
    } else {
        git(
            work,
            &["push", "--quiet", &bare.display().to_string(), "main"],
        );
    }
    git(bare, &["update-server-info"]);
}

/// Sends `body` as `from` and waits for every reply (installations build and make virtualenvs:
/// a long deadline).
async fn converse(
    driver: &mut TestDriverServiceClient<Channel>,
    from: &str,
    body: &str,
) -> Vec<String> {
    let req = InjectRequest {
        body: body.to_owned(),
        from: from.to_owned(),
        room: String::new(),
        thread_id: String::new(),
        timeout_ms: 600_000,
    };
    match driver.converse(req).await {
        Ok(r) => r
            .into_inner()
            .replies
            .into_iter()
            .map(|m| m.text.trim_end().to_owned())
            .collect(),
        Err(e) => panic!("converse {body:?} failed: {e}"),
    }
}

struct World {
    dir: tempfile::TempDir,
    git_root: PathBuf,
    index: PathBuf,
    http: String,
}

/// The repositories and the index: `tester/rs-greeter` (errbot-rs, over file:),
/// `tester/py-hello` (Errbot, over http), `tester/broken` (its build fails, over file:).
async fn world() -> World {
    let dir = tempfile::Builder::new()
        .prefix("errbot-repos")
        .tempdir()
        .expect("temp dir");
    let git_root = dir.path().join("git");
    let served = dir.path().join("served");
    repo(
        &git_root.join("tester/rs-greeter"),
        &refs(&rust_plugin("greeter")),
    );
    git(&git_root.join("tester/rs-greeter"), &["tag", "v1.0"]);
    let py = git_root.join("work/py-hello");
    repo(&py, &refs(&errbot_plugin("v1")));
    publish(&py, &served.join("tester/py-hello.git"));
    repo(
        &git_root.join("tester/broken"),
        &[(
            "plugin.toml",
            "[plugin]\nname = \"broken\"\ncommand = [\"bin/broken\"]\n\
                 build = [\"sh\", \"-c\", \"echo 'error: it does not compile' >&2; exit 1\"]\n",
        )],
    );
    let http = serve_files(served).await;
    let index = dir.path().join("index.json");
    let doc = serde_json::json!({
        "last_update": 1.0,
        "tester/rs-greeter": {"greeter": {
            "name": "greeter", "repo": format!("file://{}", git_root.join("tester/rs-greeter").display()),
            "documentation": "Greets people in Rust", "python": null, "avatar_url": null, "path": "/"}},
        "tester/py-hello": {"RepoHello": {
            "name": "RepoHello", "repo": format!("{http}/tester/py-hello.git"),
            "documentation": "Says hello from Python", "python": "3", "avatar_url": null,
            "path": "/repohello.plug"}},
    });
    std::fs::write(&index, doc.to_string()).expect("index");
    // The same index over http.
    std::fs::write(dir.path().join("served/index.json"), doc.to_string()).expect("index");
    World {
        dir,
        git_root,
        index,
        http,
    }
}

async fn bot(index: &str, allowed: &str) -> TestBot {
    TestBot::start_with(Options {
        extra: format!(
            "[limits]\ncommand_timeout_secs = 600\n\n[repos]\nindexes = [{index:?}]\n{allowed}\n"
        ),
        ..Default::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn install_answer_update_and_uninstall_from_chat() {
    let world = world().await;
    let mut bot = bot(&world.index.display().to_string(), "").await;
    let mut driver = bot.driver();

    // The index is searched by name and by description.
    let found = bot.one("!repos search greets").await;
    assert!(found.contains("**tester/rs-greeter**"), "{found}");
    assert!(!found.contains("py-hello"), "{found}");
    let found = bot.one("!repos search python").await;
    assert!(found.contains("**tester/py-hello**"), "{found}");
    let found = bot.one("!repos search rs-greeter").await;
    assert!(found.contains("Greets people in Rust"), "{found}");

    // Admins only.
    assert_eq!(
        bot.say("!repos install tester/rs-greeter").await,
        ["This command requires bot-admin privileges"]
    );

    // An errbot-rs plugin, by its name in the index (a file: URL), built by its build command.
    let replies = converse(&mut driver, "admin", "!repos install tester/rs-greeter").await;
    assert_eq!(
        replies,
        [
            "Installing tester/rs-greeter...",
            "A new plugin repository has been installed correctly from tester/rs-greeter. \
             Refreshing the plugins commands...",
            "Plugins reloaded."
        ],
        "{}",
        bot.log()
    );
    bot.wait_for_log("build: building greeter", 1);
    assert_eq!(bot.one("!greeter hi").await, "greeter: hi");

    // An Errbot plugin over http, by URL, on the compatibility host.
    let url = format!("{}/tester/py-hello.git", world.http);
    let replies = converse(&mut driver, "admin", &format!("!repos install {url}")).await;
    assert_eq!(
        replies.last().map(String::as_str),
        Some("Plugins reloaded."),
        "{replies:?}\n{}",
        bot.log()
    );
    assert_eq!(bot.one("!repohello").await, "repohello v1");

    let listed = bot.one("!repos").await;
    assert!(
        listed.contains("**tester/rs-greeter**") && listed.contains("**tester/py-hello**"),
        "{listed}"
    );
    let (code, out, err) = bot.ctl(&["--json", "repos", "list"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let plugins: Vec<String> = v["repos"]
        .as_array()
        .expect("repos")
        .iter()
        .map(|r| format!("{}={}", r["name"], r["plugins"]))
        .collect();
    assert_eq!(
        plugins,
        [
            r#""tester/py-hello"=["RepoHello"]"#,
            r#""tester/rs-greeter"=["greeter"]"#
        ]
    );

    // A new commit, pulled while someone keeps using the plugin: no command fails.
    let py = world.git_root.join("work/py-hello");
    commit(&py, &refs(&errbot_plugin("v2")), "second");
    publish(&py, &world.dir.path().join("served/tester/py-hello.git"));
    let old_pid = bot.child_pid("RepoHello");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let mut driver = bot.driver();
        let done = done.clone();
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let req = InjectRequest {
                    body: "!repohello".into(),
                    from: "tester".into(),
                    room: String::new(),
                    thread_id: String::new(),
                    timeout_ms: 60_000,
                };
                let replies: Vec<String> = match driver.converse(req).await {
                    Ok(r) => r.into_inner().replies.into_iter().map(|m| m.text).collect(),
                    Err(e) => vec![format!("converse failed: {e}")],
                };
                answers.push(replies);
            }
            answers
        })
    };
    let replies = converse(&mut driver, "admin", "!repos update tester/py-hello").await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let answers = sender.await.expect("sender");
    assert_eq!(
        replies,
        [
            "Start updating ...".to_owned(),
            format!(
                "Update of {} succeeded...\n\nPulled remote",
                bot.dir.path().join("data/repos/tester/py-hello").display()
            ),
            "/me is reloading plugin RepoHello".to_owned(),
            "Plugin RepoHello reloaded.".to_owned(),
            "Done.".to_owned()
        ],
        "{}",
        bot.log()
    );
    let failed: Vec<&Vec<String>> = answers
        .iter()
        .filter(|a| !(a.len() == 1 && (a[0] == "repohello v1" || a[0] == "repohello v2")))
        .collect();
    assert!(!answers.is_empty());
    assert!(
        failed.is_empty(),
        "{} of {} failed during the update: {failed:?}",
        failed.len(),
        answers.len()
    );
    assert_eq!(bot.one("!repohello").await, "repohello v2");
    assert_ne!(bot.child_pid("RepoHello"), old_pid);

    // errbotctl: a new commit of the errbot-rs plugin is pulled, rebuilt and reloaded; the
    // Errbot plugin has nothing new.
    let greeter_pid = bot.child_pid("greeter");
    commit(
        &world.git_root.join("tester/rs-greeter"),
        &[("NEWS", "a change\n")],
        "news",
    );
    let (code, out, err) = bot.ctl(&["repos", "update", "all"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Plugin greeter reloaded."), "{out}");
    assert!(!out.contains("Plugin RepoHello reloaded."), "{out}");
    assert!(out.trim_end().ends_with("Done."), "{out}");
    bot.wait_for_log("build: building greeter", 2);
    assert_ne!(bot.child_pid("greeter"), greeter_pid);
    assert_eq!(bot.one("!greeter again").await, "greeter: again");

    // Uninstall: the plugin goes, the others stay.
    assert_eq!(
        bot.say_as("admin", "", "!repos uninstall tester/rs-greeter")
            .await,
        ["Repo tester/rs-greeter removed."]
    );
    let gone = bot.one("!greeter hi").await;
    assert!(
        gone.starts_with("Command \"greeter\"") && gone.contains("not found"),
        "{gone}"
    );
    assert!(!bot.dir.path().join("data/repos/tester/rs-greeter").exists());
    let listed = bot.one("!repos").await;
    assert!(!listed.contains("rs-greeter"), "{listed}");

    // Installed repositories come back with errbotd.
    bot.restart().await;
    assert_eq!(bot.one("!repohello").await, "repohello v2");
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_and_a_plugin_that_does_not_build() {
    let world = world().await;
    let allowed = format!(
        "allowed = [{:?}]",
        format!("file://{}/*", world.git_root.display())
    );
    // The index over http this time.
    let mut bot = bot(&format!("{}/index.json", world.http), &allowed).await;
    let mut driver = bot.driver();

    // A URL outside `[repos] allowed`.
    let url = format!("{}/tester/py-hello.git", world.http);
    let replies = converse(&mut driver, "admin", &format!("!repos install {url}")).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].starts_with(&format!("The repository {url} is not allowed here")),
        "{replies:?}"
    );
    let (code, _, err) = bot.ctl(&["repos", "install", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not allowed here"), "{err}");
    assert!(!bot.dir.path().join("data/repos/tester/py-hello").exists());

    // A repository that cannot be cloned.
    let missing = format!("file://{}", world.git_root.join("tester/missing").display());
    let replies = converse(&mut driver, "admin", &format!("!repos install {missing}")).await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[0], format!("Installing {missing}..."));
    assert!(
        replies[1].starts_with(&format!(
            "Error installing the repo: Could not load this plugin: \n\n{missing}\n\n---\n\nthe git `"
        )),
        "{replies:?}"
    );
    assert!(!bot.dir.path().join("data/repos/tester/missing").exists());

    // A plugin whose build fails: reported with the reason, nothing left installed.
    let broken = format!("file://{}", world.git_root.join("tester/broken").display());
    let replies = converse(&mut driver, "admin", &format!("!repos install {broken}")).await;
    let all = replies.join("\n");
    assert_eq!(replies[0], format!("Installing {broken}..."), "{all}");
    assert!(all.contains("Some plugins are generating errors:"), "{all}");
    assert!(all.contains("error: it does not compile"), "{all}");
    assert!(all.contains("as it did not load correctly."), "{all}");
    assert!(!bot.dir.path().join("data/repos/tester/broken").exists());
    let listed = bot.one("!repos").await;
    assert!(!listed.contains("broken"), "{listed}");
    let plugins = bot.ctl(&["plugin", "list"]).1;
    assert!(!plugins.contains("broken"), "{plugins}");
    let (code, _, err) = bot.ctl(&["repos", "install", &broken]);
    assert_eq!(code, 1);
    assert!(err.contains("it does not compile"), "{err}");

    // A good one still installs afterwards, pinned to a tag, which has nothing to pull.
    let replies = converse(
        &mut driver,
        "admin",
        "!repos install tester/rs-greeter v1.0",
    )
    .await;
    assert_eq!(
        replies.last().map(String::as_str),
        Some("Plugins reloaded."),
        "{replies:?}"
    );
    assert_eq!(bot.one("!greeter pinned").await, "greeter: pinned");
    let clone = bot.dir.path().join("data/repos/tester/rs-greeter");
    let described = Command::new("git")
        .args(["describe", "--tags", "--exact-match"])
        .current_dir(&clone)
        .output()
        .expect("git describe");
    assert_eq!(String::from_utf8_lossy(&described.stdout).trim(), "v1.0");
    let replies = converse(&mut driver, "admin", "!repos update tester/rs-greeter").await;
    assert!(
        replies.iter().any(|r| r.ends_with(": nothing to pull")),
        "{replies:?}"
    );
    assert_eq!(
        bot.say_as("admin", "", "!repos install tester/rs-greeter")
            .await,
        [
            "The repository tester/rs-greeter is already installed: `!repos update \
          tester/rs-greeter` updates it."
        ]
    );
    assert_eq!(
        bot.say_as("admin", "", "!repos uninstall nothing").await,
        ["This repo is not installed check with !repos the list of installed ones"]
    );
    assert_eq!(
        bot.say_as("admin", "", "!repos install").await,
        [
            "Please specify a repository listed in \"!repos\" or \"give me the URL to a git \
          repository that I should clone for you.\""
        ]
    );
    assert_eq!(bot.stop(), Some(0));
}
