//! The built `errbot-plugin-hello` program, started like errbotd starts it (child contract
//! environment, Unix socket), driven over gRPC.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use errbot_proto::contract::{
    ENV_BOT_SOCKET, ENV_KIND, ENV_NAME, ENV_PROTOCOL_VERSIONS, ENV_SOCKET, ENV_TOKEN,
};
use errbot_proto::tonic_health::pb::health_check_response::ServingStatus;
use errbot_proto::tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use errbot_proto::v1::plugin_service_client::PluginServiceClient;
use errbot_proto::v1::{self, command_spec::Kind};
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_errbot-plugin-hello");

struct Plugin {
    child: tokio::process::Child,
    client: PluginServiceClient<Channel>,
    dir: PathBuf,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("errbot-hello-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

async fn start(tag: &str) -> Plugin {
    let dir = temp_dir(tag);
    let socket = format!("unix:{}", dir.join("hello.sock").display());
    let child = tokio::process::Command::new(BIN)
        .env(ENV_SOCKET, &socket)
        .env(
            ENV_BOT_SOCKET,
            format!("unix:{}", dir.join("no-errbotd.sock").display()),
        )
        .env(ENV_TOKEN, "test-token")
        .env(ENV_NAME, "hello")
        .env(ENV_PROTOCOL_VERSIONS, "errbot.v1")
        .env(ENV_KIND, "plugin")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the hello plugin");
    let channel = errbot_proto::transport::channel(&socket).expect("address");
    let mut health = HealthClient::new(channel.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let request = HealthCheckRequest {
            service: String::new(),
        };
        if let Ok(response) = health.check(request).await
            && response.get_ref().status() == ServingStatus::Serving
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the plugin did not become SERVING within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Plugin {
        child,
        client: PluginServiceClient::new(channel),
        dir,
    }
}

fn request(command: &str, params: &[(&str, &str)]) -> v1::ExecuteRequest {
    v1::ExecuteRequest {
        command: command.into(),
        message: Some(v1::Message {
            id: "m1".into(),
            from: Some(v1::Identifier {
                backend: "test".into(),
                person: "@ada".into(),
                nick: "ada".into(),
                ..Default::default()
            }),
            body: format!("!{command}"),
            direct: true,
            ..Default::default()
        }),
        params: params
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v1::ParamValues {
                        values: vec![v.to_string()],
                    },
                )
            })
            .collect(),
        ..Default::default()
    }
}

/// The replies of one command as (text, error flag).
async fn execute(
    client: &mut PluginServiceClient<Channel>,
    request: v1::ExecuteRequest,
) -> Result<Vec<(String, bool)>, tonic::Status> {
    let mut stream = client.execute(request).await?.into_inner();
    let mut replies = Vec::new();
    while let Some(reply) = stream.message().await? {
        let text = match reply.content.and_then(|c| c.kind) {
            Some(v1::content::Kind::Markdown(text)) => text,
            other => panic!("expected a text reply, got {other:?}"),
        };
        replies.push((text, reply.error));
    }
    Ok(replies)
}

fn ok(text: &str) -> (String, bool) {
    (text.to_owned(), false)
}

fn err(text: &str) -> (String, bool) {
    (text.to_owned(), true)
}

/// The numbers in "You rolled 3, 5, 1 (total 9)." or "You rolled 4.".
fn rolled(text: &str) -> (Vec<u32>, Option<u32>) {
    let rest = text
        .strip_prefix("You rolled ")
        .expect("roll reply")
        .trim_end_matches('.');
    let (list, total) = match rest.split_once(" (total ") {
        Some((list, total)) => (
            list,
            Some(total.trim_end_matches(')').parse().expect("total")),
        ),
        None => (rest, None),
    };
    (
        list.split(", ")
            .map(|n| n.parse().expect("number"))
            .collect(),
        total,
    )
}

#[tokio::test]
async fn serves_commands_and_survives_failures() {
    let mut plugin = start("main").await;
    let c = &mut plugin.client;

    let d = c
        .describe(v1::DescribeRequest {
            protocol_versions: vec!["errbot.v1".into()],
        })
        .await
        .expect("describe")
        .into_inner();
    assert_eq!(d.name, "hello");
    assert_eq!(d.protocol_version, "errbot.v1");
    let names: Vec<&str> = d.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "hello",
            "greet",
            "roll",
            "countdown",
            "cookie",
            "crash",
            "panic"
        ]
    );
    assert_eq!(d.commands[2].help, "Roll dice: `!roll 6` or `!roll 20 3`.");
    let Some(Kind::Plain(roll)) = &d.commands[2].kind else {
        panic!("roll is a plain command")
    };
    assert_eq!(
        roll.params
            .iter()
            .map(|p| (p.name.as_str(), p.required))
            .collect::<Vec<_>>(),
        [("sides", true), ("count", false)]
    );

    c.activate(v1::ActivateRequest {
        config_json: String::new(),
        bot_prefix: "!".into(),
    })
    .await
    .expect("activate");

    assert_eq!(
        execute(c, request("hello", &[])).await.expect("hello"),
        [ok("Hello, world!")]
    );

    // Typed arguments.
    for _ in 0..20 {
        let replies = execute(c, request("roll", &[("sides", "6")]))
            .await
            .expect("roll");
        assert_eq!(replies.len(), 1);
        assert!(!replies[0].1);
        let (dice, total) = rolled(&replies[0].0);
        assert_eq!(dice.len(), 1);
        assert!((1..=6).contains(&dice[0]), "{dice:?}");
        assert_eq!(total, None);
    }
    let replies = execute(c, request("roll", &[("sides", "20"), ("count", "3")]))
        .await
        .expect("roll");
    let (dice, total) = rolled(&replies[0].0);
    assert_eq!(dice.len(), 3);
    assert!(dice.iter().all(|d| (1..=20).contains(d)), "{dice:?}");
    assert_eq!(total, Some(dice.iter().sum()));
    assert_eq!(
        execute(c, request("roll", &[("sides", "0")]))
            .await
            .expect("roll"),
        [err("A die needs at least 1 side.")]
    );
    assert_eq!(
        execute(c, request("roll", &[("sides", "6"), ("count", "101")]))
            .await
            .expect("roll"),
        [err("I can roll between 1 and 100 dice.")]
    );
    assert_eq!(
        execute(c, request("roll", &[("sides", "-6")]))
            .await
            .expect("roll"),
        [err(
            "I couldn't parse the arguments; argument sides: invalid value: '-6' (invalid digit found in string)"
        )]
    );

    // Streaming.
    assert_eq!(
        execute(c, request("countdown", &[("from", "3")]))
            .await
            .expect("countdown"),
        [ok("3"), ok("2"), ok("1"), ok("Liftoff!")]
    );
    assert_eq!(
        execute(c, request("countdown", &[("from", "11")]))
            .await
            .expect("countdown"),
        [err("I only count down from 10 or less.")]
    );

    // Options, flags and the rest of the line.
    assert_eq!(
        execute(c, request("greet", &[("name", "Ada  Lovelace")]))
            .await
            .expect("greet"),
        [ok("Hello, Ada  Lovelace!")]
    );
    assert_eq!(
        execute(c, request("greet", &[("name", "Bob"), ("shout", "true")]))
            .await
            .expect("greet"),
        [ok("HELLO, BOB!")]
    );

    // A regex command.
    let mut cookie = request("cookie", &[]);
    cookie.matches.push(v1::RegexMatch {
        text: "Cookies".into(),
        ..Default::default()
    });
    assert_eq!(
        execute(c, cookie).await.expect("cookie"),
        [ok("ada mentioned Cookies: have a cookie!")]
    );

    // Failures: a gRPC status, and the process keeps serving.
    let status = execute(c, request("crash", &[]))
        .await
        .expect_err("crash fails");
    assert_eq!(status.code(), tonic::Code::Internal);
    assert_eq!(status.message(), "the crash command always fails");
    let status = execute(c, request("panic", &[]))
        .await
        .expect_err("panic fails");
    assert_eq!(status.code(), tonic::Code::Internal);
    assert_eq!(
        status.message(),
        "the command panicked: the panic command always panics"
    );
    let status = execute(c, request("nope", &[]))
        .await
        .expect_err("unknown command");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(
        execute(c, request("hello", &[])).await.expect("hello"),
        [ok("Hello, world!")]
    );
    assert!(
        plugin.child.try_wait().expect("wait").is_none(),
        "the plugin is still running"
    );

    // Many concurrent commands.
    let mut calls = Vec::new();
    for i in 0..200 {
        let mut client = c.clone();
        calls.push(tokio::spawn(async move {
            if i % 2 == 0 {
                execute(&mut client, request("hello", &[])).await
            } else {
                execute(&mut client, request("countdown", &[("from", "2")])).await
            }
        }));
    }
    for (i, call) in calls.into_iter().enumerate() {
        let replies = call.await.expect("task").expect("command");
        if i % 2 == 0 {
            assert_eq!(replies, [ok("Hello, world!")]);
        } else {
            assert_eq!(replies, [ok("2"), ok("1"), ok("Liftoff!")]);
        }
    }

    c.deactivate(v1::DeactivateRequest {})
        .await
        .expect("deactivate");

    // SIGTERM: a clean exit, socket removed.
    let pid = plugin.child.id().expect("pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let status = tokio::time::timeout(Duration::from_secs(10), plugin.child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    assert!(!plugin.dir.join("hello.sock").exists());
}

#[tokio::test]
async fn refuses_to_start_outside_errbotd() {
    let output = tokio::process::Command::new(BIN)
        .env_remove(ENV_SOCKET)
        .env_remove(ENV_BOT_SOCKET)
        .env_remove(ENV_TOKEN)
        .env_remove(ENV_NAME)
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ERRBOT_SOCKET is not set"), "{stderr}");
    assert!(stderr.contains("started by errbotd"), "{stderr}");
}
