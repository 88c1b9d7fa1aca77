//! End-to-end tests of the errbot-gateway binary: each test plays errbotd (child contract,
//! health, Start, and the Session with its send and processed frames) against the real process
//! over its Unix socket.
//! Set ERRBOT_TEST_LOGS=1 to see the gateway's logs.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use errbot_proto::tonic_health::pb::health_check_response::ServingStatus;
use errbot_proto::tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use errbot_proto::transport;
use errbot_proto::v1::backend_service_client::BackendServiceClient;
use errbot_proto::v1::test_driver_service_client::TestDriverServiceClient;
use errbot_proto::v1::{
    BackendEvent, BackendInfo, BuildIdentifierRequest, Card, Content, Identifier, InjectRequest,
    LoadRequest, LoadResponse, Message, OutboxRequest, ProcessedRequest, SendRequest, SendResult,
    SessionFrame, StartRequest, backend_event, content, session_frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Code;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(10);

/// A running gateway process and errbotd's view of it.
struct Gateway {
    process: Child,
    dir: tempfile::TempDir,
    client: BackendServiceClient<Channel>,
}

impl Gateway {
    /// Starts the binary with the contract environment and waits for SERVING.
    async fn spawn(name: &str, piped_stdin: bool) -> Self {
        let stdin = if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        Self::spawn_with(name, stdin, Stdio::piped()).await
    }

    /// Starts the binary with the given stdin and stdout.
    async fn spawn_with(name: &str, stdin: Stdio, stdout: Stdio) -> Self {
        Self::spawn_env(name, stdin, stdout, &[("TERM", "xterm")]).await
    }

    /// Starts the binary with the given stdin, stdout and environment (besides the contract).
    async fn spawn_env(name: &str, stdin: Stdio, stdout: Stdio, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = transport::Address::unix_uri(&dir.path().join("gateway.sock"));
        let logs = if std::env::var_os("ERRBOT_TEST_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let process = Command::new(env!("CARGO_BIN_EXE_errbot-gateway"))
            .env_clear()
            .env("ERRBOT_SOCKET", &socket)
            .env(
                "ERRBOT_BOT_SOCKET",
                transport::Address::unix_uri(&dir.path().join("bot.sock")),
            )
            .env("ERRBOT_TOKEN", "secret")
            .env("ERRBOT_NAME", name)
            .env("ERRBOT_PROTOCOL_VERSIONS", "errbot.v1")
            .env("ERRBOT_CHILD_KIND", "backend")
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdin(stdin)
            .stdout(stdout)
            .stderr(logs)
            .kill_on_drop(true)
            .spawn()
            .expect("the gateway starts");
        let channel = transport::channel(&socket).expect("channel");
        let mut gateway = Self {
            process,
            dir,
            client: BackendServiceClient::new(channel.clone()),
        };
        let mut health = HealthClient::new(channel);
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            if answer.is_ok_and(|r| r.get_ref().status == ServingStatus::Serving as i32) {
                break;
            }
            assert!(
                gateway.process.try_wait().expect("wait").is_none(),
                "the gateway exited at start"
            );
            assert!(
                Instant::now() < deadline,
                "no SERVING health status within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        gateway
    }

    async fn start(&mut self, request: StartRequest) -> BackendInfo {
        self.client
            .start(request)
            .await
            .expect("Start")
            .into_inner()
    }

    /// Starts a test backend and connects to its driver socket.
    async fn start_test(&mut self) -> TestDriverServiceClient<Channel> {
        let driver = self.dir.path().join("driver.sock");
        let settings = serde_json::json!({ "driver_socket": driver }).to_string();
        let info = self
            .start(StartRequest {
                name: "work".into(),
                kind: "test".into(),
                settings_json: settings,
                bot_prefix: "!".into(),
                ..Default::default()
            })
            .await;
        let bot = info.bot.expect("bot identifier");
        assert_eq!(
            (bot.display.as_str(), bot.backend.as_str()),
            ("@errbot", "work")
        );
        assert_eq!(info.message_size_limit, 0);
        let channel = transport::channel(&transport::Address::unix_uri(&driver)).expect("channel");
        TestDriverServiceClient::new(channel)
    }

    /// Opens a session, as errbotd does after Start.
    async fn session(&mut self) -> Session {
        let (frames, rx) = mpsc::unbounded_channel();
        let mut inbound = self
            .client
            .session(UnboundedReceiverStream::new(rx))
            .await
            .expect("Session")
            .into_inner();
        let out = Outbound {
            frames,
            pending: Arc::default(),
            next: Arc::new(AtomicU64::new(1)),
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let pending = out.pending.clone();
        tokio::spawn(async move {
            // Sent events go to the send waiting for them, the others to the test.
            while let Ok(Some(event)) = inbound.message().await {
                match event.kind {
                    Some(backend_event::Kind::Sent(result)) => {
                        let waiting = pending.lock().expect("pending").remove(&result.id);
                        let _ = waiting.expect("a sent event answers a send").send(result);
                    }
                    _ => {
                        let _ = events_tx.send(event);
                    }
                }
            }
        });
        Session { out, events }
    }
}

/// errbotd's end of a session, as the tests play it: the frames it sends and the events it reads
/// (sent events are matched to their sends).
struct Session {
    out: Outbound,
    events: mpsc::UnboundedReceiver<BackendEvent>,
}

impl Session {
    /// The next event; `None` once the session ended.
    async fn message(&mut self) -> Option<BackendEvent> {
        self.events.recv().await
    }

    async fn reply(&self, to: &Message, content: Content) {
        let result = self.out.reply(to, content).await;
        assert_eq!(result.code, 0, "send failed: {}", result.error);
    }

    fn processed(&self, message: &Message) {
        self.out.processed(message, 0);
    }
}

/// The sending half of a test session.
#[derive(Clone)]
struct Outbound {
    frames: mpsc::UnboundedSender<SessionFrame>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<SendResult>>>>,
    next: Arc<AtomicU64>,
}

impl Outbound {
    async fn send(&self, mut request: SendRequest) -> SendResult {
        request.id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending").insert(request.id, tx);
        let frame = SessionFrame {
            kind: Some(session_frame::Kind::Send(request)),
        };
        self.frames.send(frame).expect("session open");
        tokio::time::timeout(WAIT, rx)
            .await
            .expect("a sent event in time")
            .expect("the session is open")
    }

    async fn reply(&self, to: &Message, content: Content) -> SendResult {
        let request = SendRequest {
            to: to.from.clone(),
            content: Some(content),
            in_reply_to: to.id.clone(),
            ..Default::default()
        };
        self.send(request).await
    }

    fn processed(&self, message: &Message, replies: u32) {
        let frame = SessionFrame {
            kind: Some(session_frame::Kind::Processed(ProcessedRequest {
                message_id: message.id.clone(),
                replies,
            })),
        };
        self.frames.send(frame).expect("session open");
    }
}

impl Gateway {
    /// Sends SIGTERM and checks that the gateway exits cleanly and in time.
    async fn terminate(mut self) {
        let pid = self.process.id().expect("pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::SIGTERM,
        )
        .expect("kill");
        let status = tokio::time::timeout(WAIT, self.process.wait())
            .await
            .expect("the gateway exits after SIGTERM")
            .expect("wait");
        assert!(status.success(), "exit status {status}");
    }
}

fn markdown(text: &str) -> Content {
    Content {
        kind: Some(content::Kind::Markdown(text.into())),
    }
}

async fn next_event(events: &mut Session) -> backend_event::Kind {
    tokio::time::timeout(WAIT, events.message())
        .await
        .expect("an event in time")
        .expect("the session is open")
        .kind
        .expect("an event kind")
}

async fn next_message(events: &mut Session) -> Message {
    match next_event(events).await {
        backend_event::Kind::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn expect_connected(events: &mut Session) {
    match next_event(events).await {
        backend_event::Kind::Connected(c) => {
            assert_eq!(c.bot.map(|b| b.display).as_deref(), Some("@errbot"))
        }
        other => panic!("expected connected, got {other:?}"),
    }
}

fn display(identifier: &Option<Identifier>) -> &str {
    identifier.as_ref().map_or("", |i| i.display.as_str())
}

fn displays(m: &Message) -> (&str, &str, bool) {
    (display(&m.from), display(&m.to), m.direct)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converse_returns_every_reply_once_processed() {
    let mut gw = Gateway::spawn("work", false).await;
    let mut driver = gw.start_test().await;

    let build = |text: &str| BuildIdentifierRequest { text: text.into() };
    let bob = gw
        .client
        .build_identifier(build("@bob"))
        .await
        .expect("person")
        .into_inner();
    assert_eq!(
        (bob.person.as_str(), bob.nick.as_str(), bob.acl.as_str()),
        ("@bob", "bob", "@bob")
    );
    let ops = gw
        .client
        .build_identifier(build("#ops"))
        .await
        .expect("room")
        .into_inner();
    assert_eq!(
        (ops.room.as_str(), ops.display.as_str(), ops.person.as_str()),
        ("#ops", "#ops", "")
    );
    let occ = gw
        .client
        .build_identifier(build("#ops/bob"))
        .await
        .expect("occupant")
        .into_inner();
    assert_eq!(
        (occ.room.as_str(), occ.person.as_str(), occ.display.as_str()),
        ("#ops", "@bob", "#ops/bob")
    );
    let bad = gw
        .client
        .build_identifier(build("bob"))
        .await
        .expect_err("no sigil");
    assert_eq!(bad.code(), Code::InvalidArgument);

    let mut events = gw.session().await;
    expect_connected(&mut events).await;
    // A send the service refuses is answered with its status, on the session.
    let refused = events
        .out
        .send(SendRequest {
            content: Some(markdown("to nobody")),
            ..Default::default()
        })
        .await;
    assert_eq!(refused.code, Code::InvalidArgument as i32);
    assert_eq!(refused.error, "`to` is required");
    let mut outbox = driver
        .outbox(OutboxRequest {})
        .await
        .expect("Outbox")
        .into_inner();

    let mut asking = driver.clone();
    let conversation = tokio::spawn(async move {
        let request = InjectRequest {
            body: "!hello @bob".into(),
            from: "alice".into(),
            ..Default::default()
        };
        asking.converse(request).await
    });
    let message = next_message(&mut events).await;
    assert_eq!(message.body, "!hello @bob");
    assert_eq!(displays(&message), ("@alice", "@errbot", true));
    assert_eq!(
        message.from.as_ref().map(|f| f.backend.as_str()),
        Some("work")
    );
    let mentioned: Vec<_> = message
        .mentions
        .iter()
        .map(|m| m.display.as_str())
        .collect();
    assert_eq!(mentioned, ["@bob"]);
    events.reply(&message, markdown("Hello, alice!")).await;
    let card = Card {
        title: "Card".into(),
        body: "with a body".into(),
        ..Default::default()
    };
    events
        .reply(
            &message,
            Content {
                kind: Some(content::Kind::Card(card)),
            },
        )
        .await;
    events.processed(&message);
    let answer = conversation
        .await
        .expect("task")
        .expect("Converse")
        .into_inner();
    assert_eq!(answer.message_id, message.id);
    let texts: Vec<_> = answer.replies.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["Hello, alice!", "Card\nwith a body"]);
    assert!(answer.replies.iter().all(|r| r.in_reply_to == message.id));
    for expected in texts {
        let sent = tokio::time::timeout(WAIT, outbox.message())
            .await
            .expect("in time")
            .expect("ok")
            .expect("open");
        assert_eq!(sent.text, expected);
    }

    // A message in a room, processed without replies.
    let mut asking = driver.clone();
    let conversation = tokio::spawn(async move {
        let request = InjectRequest {
            body: "hi".into(),
            from: "bob".into(),
            room: "#ops".into(),
            ..Default::default()
        };
        asking.converse(request).await
    });
    let message = next_message(&mut events).await;
    assert_eq!(displays(&message), ("#ops/bob", "#ops", false));
    assert_eq!(
        message.from.as_ref().map(|f| f.person.as_str()),
        Some("@bob")
    );
    events.processed(&message);
    let answer = conversation
        .await
        .expect("task")
        .expect("Converse")
        .into_inner();
    assert!(answer.replies.is_empty());

    // No Processed notice: Converse gives up at its deadline.
    let request = InjectRequest {
        body: "slow".into(),
        timeout_ms: 200,
        ..Default::default()
    };
    let late = driver.converse(request).await.expect_err("times out");
    assert_eq!(late.code(), Code::DeadlineExceeded);
    let message = next_message(&mut events).await;
    assert_eq!(
        (message.body.as_str(), displays(&message).0),
        ("slow", "@tester")
    );

    gw.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_for_a_stream_and_a_new_stream_replaces_the_old_one() {
    let mut gw = Gateway::spawn("work", false).await;
    let mut driver = gw.start_test().await;
    let inject = |body: &str| InjectRequest {
        body: body.into(),
        ..Default::default()
    };
    let one = driver
        .inject(inject("one"))
        .await
        .expect("Inject")
        .into_inner()
        .message_id;
    let two = driver
        .inject(inject("two"))
        .await
        .expect("Inject")
        .into_inner()
        .message_id;
    assert_ne!(one, two);

    let mut first = gw.session().await;
    expect_connected(&mut first).await;
    let m = next_message(&mut first).await;
    assert_eq!((m.id.as_str(), m.body.as_str()), (one.as_str(), "one"));
    let m = next_message(&mut first).await;
    assert_eq!((m.id.as_str(), m.body.as_str()), (two.as_str(), "two"));

    let mut second = gw.session().await;
    let ended = tokio::time::timeout(WAIT, first.message())
        .await
        .expect("the old stream ends");
    assert!(ended.is_none(), "old session: {ended:?}");
    driver.inject(inject("three")).await.expect("Inject");
    assert_eq!(next_message(&mut second).await.body, "three");

    gw.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_checks_every_reply() {
    let mut gw = Gateway::spawn("work", false).await;
    let mut driver = gw.start_test().await;
    let mut events = gw.session().await;
    expect_connected(&mut events).await;
    // Play errbotd's echo: one reply per message, then Processed. "!echo twice X" answers
    // twice, "!echo silent" not at all, "!echo slow" after the load's timeout.
    let bot = events.out.clone();
    let echo = tokio::spawn(async move {
        while let Some(event) = events.message().await {
            let Some(backend_event::Kind::Message(m)) = event.kind else {
                continue;
            };
            let bot = bot.clone();
            tokio::spawn(async move {
                let text = m.body.strip_prefix("!echo ").unwrap_or("?").to_owned();
                let (text, times) = match text.strip_prefix("twice ") {
                    Some(t) => (t.to_owned(), 2),
                    None if text == "silent" => (text, 0),
                    None => (text, 1),
                };
                if text == "slow" {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                for _ in 0..times {
                    let sent = bot.reply(&m, markdown(&text)).await;
                    assert_eq!(sent.code, 0, "{}", sent.error);
                }
                bot.processed(&m, times);
            });
        }
    });
    let load = |body: &str, expect: &str, count| LoadRequest {
        body: body.into(),
        expect: expect.into(),
        count,
        concurrency: 8,
        timeout_ms: 200,
    };
    let outcome = |r: &LoadResponse| (r.sent, r.correct, r.wrong, r.duplicated, r.lost);
    // Every message asks for its own reply, and each reply is checked against its message.
    let report = driver
        .load(load("!echo ok {n}", "ok {n}", 300))
        .await
        .expect("Load")
        .into_inner();
    assert_eq!(outcome(&report), (300, 300, 0, 0, 0), "{report:?}");
    assert_eq!(report.latencies_us.len(), 300);
    assert!(report.elapsed_us > 0);
    assert!(report.first_failure.is_empty());
    let report = driver
        .load(load("!echo ko", "ok", 5))
        .await
        .expect("Load")
        .into_inner();
    assert_eq!(outcome(&report), (5, 0, 5, 0, 0));
    assert!(
        report.latencies_us.is_empty(),
        "only correct replies are timed"
    );
    assert!(
        report
            .first_failure
            .contains(r#"got ["ko"], expected ["ok"]"#),
        "{}",
        report.first_failure
    );
    let report = driver
        .load(load("!echo twice {n}", "{n}", 4))
        .await
        .expect("Load")
        .into_inner();
    assert_eq!(outcome(&report), (4, 0, 0, 4, 0));
    let report = driver
        .load(load("!echo silent", "silent", 3))
        .await
        .expect("Load")
        .into_inner();
    assert_eq!(outcome(&report), (3, 0, 0, 0, 3));
    let report = driver
        .load(load("!echo slow", "slow", 2))
        .await
        .expect("Load")
        .into_inner();
    assert_eq!(outcome(&report), (2, 0, 0, 0, 2));
    assert!(
        report.first_failure.contains("not processed within 200 ms"),
        "{}",
        report.first_failure
    );
    let empty = driver.load(load(" ", "", 1)).await.expect_err("empty body");
    assert_eq!(empty.code(), Code::InvalidArgument);

    gw.terminate().await;
    echo.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_with_piped_input_processes_one_line_at_a_time() {
    let mut gw = Gateway::spawn("console", true).await;
    let mut stdout = gw.process.stdout.take().expect("stdout");
    let printed = tokio::spawn(async move {
        let mut all = String::new();
        stdout
            .read_to_string(&mut all)
            .await
            .expect("stdout is UTF-8");
        all
    });
    let info = gw
        .start(StartRequest {
            name: "console".into(),
            kind: "console".into(),
            settings_json: "{}".into(),
            bot_prefix: "!".into(),
            bot_admins: vec!["*@corp".into(), "@boss".into()],
            command_names: vec!["hello".into()],
        })
        .await;
    assert_eq!(info.bot.map(|b| b.display).as_deref(), Some("@errbot"));
    let mut events = gw.session().await;
    expect_connected(&mut events).await;

    let mut input: Vec<u8> =
        b"!hello\n!inroom #ops\nin the room\n!asuser bob\nas bob\n!inperson\n\n".to_vec();
    input.extend_from_slice(b"bad \xff bytes\r\n!ml\nline one\nline two\n\n!ml\n!asadmin\nlast");
    let mut stdin = gw.process.stdin.take().expect("stdin");
    stdin.write_all(&input).await.expect("write stdin");
    drop(stdin);

    let m = next_message(&mut events).await;
    assert_eq!(
        (m.body.as_str(), displays(&m)),
        ("!hello", ("@boss", "@errbot", true))
    );
    events.reply(&m, markdown("Hello!")).await;
    // Piped output is the Markdown as it came, byte for byte: no styles, no boxes, no wrapping.
    events.reply(&m, markdown(RICH)).await;
    let card = Card {
        title: "Card".into(),
        body: "body".into(),
        ..Default::default()
    };
    events
        .reply(
            &m,
            Content {
                kind: Some(content::Kind::Card(card)),
            },
        )
        .await;
    events.processed(&m);

    let m = next_message(&mut events).await;
    assert_eq!(
        (m.body.as_str(), displays(&m)),
        ("in the room", ("#ops/boss", "#ops", false))
    );
    events.reply(&m, markdown("room reply")).await;
    events.processed(&m);

    let m = next_message(&mut events).await;
    assert_eq!(
        (m.body.as_str(), displays(&m)),
        ("as bob", ("#ops/bob", "#ops", false))
    );
    events.processed(&m);

    let m = next_message(&mut events).await;
    assert_eq!(
        (m.body.as_str(), displays(&m)),
        ("bad \u{FFFD} bytes", ("@bob", "@errbot", true))
    );
    events.reply(&m, markdown("still here")).await;
    events.processed(&m);

    let m = next_message(&mut events).await;
    assert_eq!(
        (m.body.as_str(), displays(&m)),
        ("line one\nline two", ("@bob", "@errbot", true))
    );
    events.processed(&m);

    let m = next_message(&mut events).await;
    assert_eq!(
        (m.body.as_str(), displays(&m)),
        ("last", ("@boss", "@errbot", true))
    );
    events.reply(&m, markdown("bye")).await;
    events.processed(&m);

    match next_event(&mut events).await {
        backend_event::Kind::Shutdown(s) => assert_eq!(s.reason, "end of console input"),
        other => panic!("expected shutdown, got {other:?}"),
    }
    gw.terminate().await;
    let printed = printed.await.expect("stdout reader");
    let expected = [
        "Hello!",
        RICH,
        "Card",
        "body",
        "Joined Room #ops.",
        "room reply",
        "You are now: @bob.",
        "Now in one-on-one with the bot.",
        "still here",
        "Multiline mode, press enter twice to end messages",
        "Normal one line mode.",
        "You are now an admin: @boss.",
        "bye",
    ];
    assert_eq!(printed, expected.map(|l| format!("{l}\n")).concat());
}

/// What the gateway wrote on its terminal, read by a thread from the pty's master side.
#[derive(Clone, Default)]
struct Screen(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Screen {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("screen")).into_owned()
    }

    /// The next message event; on failure, shows what the terminal showed.
    async fn message(&self, events: &mut Session) -> Message {
        match tokio::time::timeout(WAIT, events.message()).await {
            Ok(Some(BackendEvent {
                kind: Some(backend_event::Kind::Message(m)),
            })) => m,
            other => panic!(
                "expected a message, got {other:?}; screen: {:?}",
                self.text()
            ),
        }
    }

    /// Waits until the screen shows `text` (after `from` bytes); returns where it ends.
    async fn wait_for(&self, text: &str, from: usize) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.text();
            if let Some(at) = screen.get(from..).and_then(|s| s.find(text)) {
                return from + at + text.len();
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} not shown; screen: {screen:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_on_a_terminal_edits_completes_and_keeps_history() {
    use std::io::{Read, Write};
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let stdin = Stdio::from(pty.slave.try_clone().expect("dup"));
    let stdout = Stdio::from(pty.slave);
    let mut gw = Gateway::spawn_with("console", stdin, stdout).await;
    let mut keyboard = std::fs::File::from(pty.master);
    let mut display = keyboard.try_clone().expect("dup");
    let screen = Screen::default();
    let shown = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with an error (EIO) once the gateway closed the terminal.
        while let Ok(n @ 1..) = display.read(&mut buf) {
            shown.0.lock().expect("screen").extend_from_slice(&buf[..n]);
        }
    });
    let mut type_keys = |keys: &str| {
        keyboard.write_all(keys.as_bytes()).expect("type");
        keyboard.flush().expect("flush");
    };

    let history = gw.dir.path().join("history");
    std::fs::write(&history, "#V2\n!earlier command\n").expect("history file");
    let settings = serde_json::json!({ "history_file": history, "user": "@carol" }).to_string();
    gw.start(StartRequest {
        name: "console".into(),
        kind: "console".into(),
        settings_json: settings,
        bot_prefix: "!".into(),
        bot_admins: vec!["@boss".into()],
        command_names: vec!["hello world".into(), "status".into()],
    })
    .await;
    let mut events = gw.session().await;
    expect_connected(&mut events).await;
    let at = screen.wait_for("[@carol ➡ @errbot] >>> ", 0).await;

    // Tab completes the multi-word command; the message goes as soon as Enter is pressed.
    type_keys("!hel\t\r");
    let m = screen.message(&mut events).await;
    assert_eq!(
        (m.body.as_str(), displays(&m)),
        ("!hello world", ("@carol", "@errbot", true))
    );
    events.reply(&m, markdown("Hi carol")).await;
    let at = screen.wait_for("Hi carol", at).await;
    // Keys are typed only once the editor shows its prompt again (as a person would).
    let at = screen.wait_for("[@carol ➡ @errbot] >>> ", at).await;

    // Replies may come while the next line is being typed; the line survives them.
    type_keys("!sta");
    screen.wait_for("!sta", at).await;
    events.reply(&m, markdown("a late reply")).await;
    let at = screen.wait_for("a late reply", at).await;
    type_keys("tus\r");
    let m2 = screen.message(&mut events).await;
    assert_eq!(m2.body, "!status");
    events.processed(&m);
    let at = screen.wait_for("tus", at).await;
    let at = screen.wait_for("[@carol ➡ @errbot] >>> ", at).await;

    // Ctrl-C drops the line being typed; console commands answer at once.
    type_keys("dropped\x03");
    let at = screen.wait_for("dropped", at).await;
    let at = screen.wait_for("[@carol ➡ @errbot] >>> ", at).await;
    type_keys("!inroom #ops\r");
    let at = screen.wait_for("Joined Room #ops.", at).await;
    let at = screen.wait_for("[#ops/carol ➡ #ops] >>> ", at).await;
    // Up arrow twice recalls "!status" (the console command is the latest entry).
    type_keys("\x1b[A\x1b[A\r");
    let m3 = screen.message(&mut events).await;
    assert_eq!(
        (m3.body.as_str(), displays(&m3)),
        ("!status", ("#ops/carol", "#ops", false))
    );
    let at = screen.wait_for("!status", at).await;
    screen.wait_for("[#ops/carol ➡ #ops] >>> ", at).await;

    // Ctrl-D on an empty line: once every message was processed, the console asks to stop.
    type_keys("\x04");
    events.processed(&m2);
    events.processed(&m3);
    match next_event(&mut events).await {
        backend_event::Kind::Shutdown(s) => assert_eq!(s.reason, "end of console input (Ctrl-D)"),
        other => panic!("expected shutdown, got {other:?}"),
    }
    let kept = std::fs::read_to_string(&history).expect("history kept");
    for line in [
        "!earlier command",
        "!hello world",
        "!status",
        "!inroom #ops",
    ] {
        assert!(
            kept.lines().any(|l| l == line),
            "{line:?} not in history {kept:?}"
        );
    }
    assert!(!kept.contains("dropped"));
    gw.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_editing_gives_the_terminal_back() {
    use nix::sys::termios::{LocalFlags, tcgetattr};
    use std::io::Read;
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let before = tcgetattr(&pty.master).expect("termios").local_flags;
    assert!(before.contains(LocalFlags::ICANON | LocalFlags::ECHO));
    let stdin = Stdio::from(pty.slave.try_clone().expect("dup"));
    let stdout = Stdio::from(pty.slave);
    let mut gw = Gateway::spawn_with("console", stdin, stdout).await;
    let master = std::fs::File::from(pty.master);
    let mut display = master.try_clone().expect("dup");
    let screen = Screen::default();
    let shown = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = display.read(&mut buf) {
            shown.0.lock().expect("screen").extend_from_slice(&buf[..n]);
        }
    });
    gw.start(StartRequest {
        name: "console".into(),
        kind: "console".into(),
        ..Default::default()
    })
    .await;
    screen.wait_for("[@admin ➡ @errbot] >>> ", 0).await;
    let raw = tcgetattr(&master).expect("termios").local_flags;
    assert!(
        !raw.contains(LocalFlags::ICANON),
        "the editor runs in raw mode"
    );
    gw.terminate().await;
    let after = tcgetattr(&master).expect("termios").local_flags;
    assert!(
        after.contains(LocalFlags::ICANON | LocalFlags::ECHO),
        "terminal restored: {after:?}"
    );
}

/// A reply using every Markdown feature the terminal draws.
const RICH: &str = "# Report\n\n**bold**, _italic_ and `code`; see [the docs](https://docs.example).\n\n| key | value |\n|-----|-------|\n| a | 1 |\n\n- one\n- two\n\n```\nlet x = 1;\n```";

/// A card with every part.
fn rich_card() -> Content {
    let field = |key: &str, value: &str| errbot_proto::v1::CardField {
        key: key.into(),
        value: value.into(),
    };
    Content {
        kind: Some(content::Kind::Card(Card {
            title: "Deploy".into(),
            body: "Version **2.1** went out to every server in the fleet, one region after \
                   the other."
                .into(),
            link: "https://ci.example/7".into(),
            image: "https://ci.example/7.png".into(),
            color: "red".into(),
            fields: vec![field("env", "prod"), field("duration", "3 min")],
            ..Default::default()
        })),
    }
}

/// The screen without escape sequences (CSI and OSC), as a person reads it.
fn visible(screen: &str) -> String {
    let mut out = String::new();
    let mut chars = screen.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    for c in chars.by_ref() {
                        if c == '\x07' {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether SGR sequences on the screen set a foreground or background colour.
fn has_colour(screen: &str) -> bool {
    screen.split("\x1b[").skip(1).any(|seq| {
        let params: String = seq
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ';')
            .collect();
        seq[params.len()..].starts_with('m')
            && params.split(';').any(|p| {
                matches!(p.len(), 2 | 3) && ["3", "4", "9", "10"].iter().any(|d| p.starts_with(d))
            })
    })
}

/// The console on a pseudo-terminal `columns` wide with this environment: answers one message
/// with [`RICH`] and [`rich_card`], and returns what the terminal showed.
async fn console_draws(columns: u16, env: &[(&str, &str)]) -> String {
    use std::io::{Read, Write};
    let size = nix::pty::Winsize {
        ws_row: 50,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
    let stdin = Stdio::from(pty.slave.try_clone().expect("dup"));
    let stdout = Stdio::from(pty.slave);
    let mut gw = Gateway::spawn_env("console", stdin, stdout, env).await;
    let mut keyboard = std::fs::File::from(pty.master);
    let mut display = keyboard.try_clone().expect("dup");
    let screen = Screen::default();
    let shown = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = display.read(&mut buf) {
            shown.0.lock().expect("screen").extend_from_slice(&buf[..n]);
        }
    });
    gw.start(StartRequest {
        name: "console".into(),
        kind: "console".into(),
        bot_prefix: "!".into(),
        ..Default::default()
    })
    .await;
    let mut events = gw.session().await;
    expect_connected(&mut events).await;
    // On a dumb terminal there is no line editor, hence no prompt: lines are read as they come.
    let editor = !env.contains(&("TERM", "dumb"));
    let at = if editor {
        screen.wait_for(">>> ", 0).await
    } else {
        0
    };
    keyboard.write_all(b"!report\r").expect("type");
    let m = screen.message(&mut events).await;
    assert_eq!(m.body, "!report");
    events.reply(&m, markdown(RICH)).await;
    events.reply(&m, rich_card()).await;
    events.processed(&m);
    let at = screen.wait_for("3 min", at).await;
    if editor {
        screen.wait_for(">>> ", at).await;
    }
    keyboard.write_all(b"\x04").expect("Ctrl-D");
    match next_event(&mut events).await {
        backend_event::Kind::Shutdown(_) => {}
        other => panic!("expected shutdown, got {other:?}"),
    }
    gw.terminate().await;
    screen.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_on_a_terminal_draws_markdown_and_cards() {
    let screen = console_draws(70, &[("TERM", "xterm-256color")]).await;
    let text = visible(&screen);
    // Markdown: styles instead of marks, links written out, a table in a box, bullets.
    for shown in [
        "Report\n",
        "bold, italic and code; see the docs (https://docs.example).",
        "┌───┬─────┐\n│key│value│\n├───┼─────┤\n│a  │1    │\n└───┴─────┘",
        "• one\n• two",
        "let x = 1;",
    ] {
        assert!(text.contains(shown), "{shown:?} not shown: {text}");
    }
    assert!(!text.contains("**") && !text.contains('`'), "{text}");
    assert!(screen.contains("\x1b[1mbold"), "bold: {screen:?}");
    assert!(screen.contains("\x1b[3mitalic"), "italics: {screen:?}");
    // The card: a frame in its colour (bright red), its body wrapped within the terminal's width.
    assert!(screen.contains("\x1b[38;5;9m╭─ "), "{screen:?}");
    let mut card: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("╭─ Deploy ─"))
        .map(|l| &l[l.find('╭').unwrap_or(0)..])
        .collect();
    let bottom = card
        .iter()
        .position(|l| l.starts_with('╰'))
        .expect("bottom");
    card.truncate(bottom + 1);
    assert_eq!(
        card[1..],
        [
            "│ Version 2.1 went out to every server in the fleet, one region  │",
            "│ after the other.                                               │",
            "│                                                                │",
            "│ env       prod                                                 │",
            "│ duration  3 min                                                │",
            "│                                                                │",
            "│ link      https://ci.example/7                                 │",
            "│ image     https://ci.example/7.png                             │",
            "╰────────────────────────────────────────────────────────────────╯",
        ],
        "{text}"
    );
    assert_eq!(card[0].chars().count(), 66, "{:?}", card[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_on_a_terminal_has_no_colour_under_no_color_nor_escapes_when_dumb() {
    let screen = console_draws(50, &[("TERM", "xterm-256color"), ("NO_COLOR", "1")]).await;
    assert!(!has_colour(&screen), "{screen:?}");
    assert!(screen.contains("\x1b[1mbold"), "styles stay: {screen:?}");
    assert!(visible(&screen).contains("╭─ Deploy ─"), "{screen:?}");

    let screen = console_draws(50, &[("TERM", "dumb")]).await;
    let reply = screen
        .split_once("!report")
        .map(|(_, r)| r)
        .expect("the message echoed");
    assert!(!reply.contains('\x1b'), "{reply:?}");
    assert!(reply.contains("bold, italic and code"), "{reply:?}");
    assert!(reply.contains("╭─ Deploy ─"), "{reply:?}");
}
