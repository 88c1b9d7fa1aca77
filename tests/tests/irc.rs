//! End-to-end: the IRC gateway against a real IRC server, ngircd from Debian. Each test starts
//! its own ngircd on a free 127.0.0.1 port (so tests run in parallel and a test can restart its
//! server), runs errbotd with an `irc` backend (beside the test backend, which tells when the bot
//! is ready), and talks to the bot with the small IRC client below.
//!
//! ngircd's flood protection: every command a client sends costs it "penalty" time, and a client
//! whose unread input passes 2048 bytes is disconnected. The servers here set
//! `MaxPenaltyTime = 0` (no penalty time), so the flood test measures the bot's own pacing, not
//! the server's; the test client still writes its flood a line at a time so as not to overrun
//! the server's read buffer.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use errbot_tests::{Options, TestBot, binary};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

const NGIRCD: &str = "/usr/sbin/ngircd";
/// How long any expected line may take to arrive.
const WAIT: Duration = Duration::from_secs(30);
const BOT: &str = "errbot";

/// A private ngircd on a free port.
struct Ngircd {
    dir: tempfile::TempDir,
    port: u16,
    /// The TLS port, when the server has one.
    tls_port: Option<u16>,
    process: Option<Child>,
}

impl Ngircd {
    /// Starts a server, or returns `None` (after saying so loudly) when ngircd is not installed
    /// and this is not CI. In CI a missing ngircd fails the test.
    fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// Starts a server that also listens with TLS, with a self-signed certificate for
    /// 127.0.0.1 (`cert.pem` in its directory), made by openssl.
    fn start_tls() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Self> {
        if !Path::new(NGIRCD).is_file() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "{NGIRCD} is missing: .ci/run installs it (apt-get install ngircd)"
            );
            eprintln!(
                "\n*** SKIPPED: {NGIRCD} is not installed; `apt-get install ngircd` (or .ci/run) \
                 runs the IRC end-to-end tests ***\n"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("errbot-ngircd")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        std::fs::create_dir(dir.path().join("conf.d")).expect("conf.d");
        let mut tls_port = None;
        let mut ssl = String::new();
        if tls {
            errbot_tests::self_signed_certificate(dir.path());
            let port = free_port();
            tls_port = Some(port);
            ssl = format!(
                "[SSL]\nCertFile = {}\nKeyFile = {}\nPorts = {port}\n",
                dir.path().join("cert.pem").display(),
                dir.path().join("key.pem").display()
            );
        }
        let conf = format!(
            "[Global]\nName = irc.errbot.test\nInfo = errbot-rs test server\n\
             Listen = 127.0.0.1\nPorts = {port}\nMotdPhrase = \"errbot-rs tests\"\n\n\
             [Limits]\nMaxPenaltyTime = 0\nMaxConnectionsIP = 0\nMaxNickLength = 30\n\
             MaxJoins = 0\nPingTimeout = 120\nPongTimeout = 20\n\n\
             [Options]\nDNS = no\nIdent = no\nPAM = no\nIncludeDir = {}\n\n{ssl}",
            dir.path().join("conf.d").display()
        );
        std::fs::write(dir.path().join("ngircd.conf"), conf).expect("write ngircd.conf");
        let mut server = Self {
            dir,
            port,
            tls_port,
            process: None,
        };
        server.spawn();
        Some(server)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("ngircd.log"))
            .expect("ngircd log");
        let child = Command::new(NGIRCD)
            .arg("-n")
            .arg("-f")
            .arg(self.dir.path().join("ngircd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start ngircd");
        self.process = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "ngircd did not listen on {}:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM, as a restart would).
    fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() {
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ngircd.log")).unwrap_or_default()
    }

    /// The `[backends.irc]` table for this server.
    fn backend(&self, rooms: &[&str], extra: &str) -> String {
        format!(
            "[backends.irc]\nkind = \"irc\"\nserver = \"127.0.0.1\"\nport = {}\nnickname = \"{BOT}\"\n\
             rooms = {rooms:?}\nchannel_rate = 0.05\nprivate_rate = 0.05\nreconnect_on_kick = 0.2\n\
             reconnect_on_disconnect = 0.1\nreconnect_max = 1\n{extra}\n",
            self.port
        )
    }
}

impl Drop for Ngircd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts errbotd with the test plugin and `backend` (an `[backends.irc]` table).
async fn bot(backend: String, admins: &[&str]) -> TestBot {
    TestBot::start_with(Options {
        extra: backend,
        test_plugin: true,
        admins: Some(admins.iter().map(|a| a.to_string()).collect()),
        ..Default::default()
    })
    .await
}

/// One line from the server, split into its parts.
#[derive(Clone, Debug)]
struct Line {
    raw: String,
    nick: String,
    command: String,
    params: Vec<String>,
}

impl Line {
    fn parse(raw: &str) -> Self {
        let mut rest = raw;
        let mut nick = String::new();
        if let Some(r) = rest.strip_prefix(':') {
            let (prefix, after) = r.split_once(' ').unwrap_or((r, ""));
            nick = prefix.split('!').next().unwrap_or("").to_owned();
            rest = after;
        }
        let (head, trailing) = match rest.split_once(" :") {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        let mut words = head.split_whitespace().map(str::to_owned);
        let command = words.next().unwrap_or_default();
        let mut params: Vec<String> = words.collect();
        params.extend(trailing.map(str::to_owned));
        Self {
            raw: raw.to_owned(),
            nick,
            command,
            params,
        }
    }

    fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }

    /// A PRIVMSG (or NOTICE) from `nick` to `target`.
    fn is_message(&self, verb: &str, nick: &str, target: &str) -> bool {
        self.command == verb && self.nick == nick && self.param(0).eq_ignore_ascii_case(target)
    }
}

/// A plain IRC client.
struct Client {
    nick: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    seen: Vec<String>,
}

impl Client {
    /// Connects as `nick` (user name `user`) and waits for the welcome.
    async fn connect(port: u16, nick: &str, user: &str) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to ngircd");
        let (r, w) = stream.into_split();
        let mut client = Self {
            nick: nick.to_owned(),
            reader: BufReader::new(r),
            writer: w,
            seen: Vec::new(),
        };
        client.send(&format!("NICK {nick}")).await;
        client.send(&format!("USER {user} 0 * :Test {nick}")).await;
        client.expect(|l| l.command == "001").await;
        client
    }

    async fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\r\n").as_bytes()).await;
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("write to ngircd");
    }

    async fn say(&mut self, target: &str, text: &str) {
        self.send(&format!("PRIVMSG {target} :{text}")).await;
    }

    /// Joins a channel and waits for the end of its names list.
    async fn join(&mut self, channel: &str) -> Line {
        self.send(&format!("JOIN {channel}")).await;
        self.expect(|l| l.command == "353" && l.param(2).eq_ignore_ascii_case(channel))
            .await
    }

    /// The next line, answering PINGs; `None` at the deadline or the end of the stream.
    async fn next(&mut self, deadline: Instant) -> Option<Line> {
        loop {
            let mut raw = Vec::new();
            let read = tokio::time::timeout_at(deadline, self.reader.read_until(b'\n', &mut raw));
            match read.await {
                Ok(Ok(0)) | Err(_) => return None,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("{}: read failed: {e}", self.nick),
            }
            let text = String::from_utf8(raw)
                .unwrap_or_else(|e| panic!("{}: the server relayed invalid UTF-8: {e}", self.nick));
            let text = text.trim_end_matches(['\r', '\n']);
            let line = Line::parse(text);
            self.seen.push(text.to_owned());
            if line.command == "PING" {
                let token = line.param(0).to_owned();
                self.send(&format!("PONG :{token}")).await;
                continue;
            }
            return Some(line);
        }
    }

    /// Waits for a line matching `want`.
    async fn expect(&mut self, want: impl Fn(&Line) -> bool) -> Line {
        let deadline = Instant::now() + WAIT;
        while let Some(line) = self.next(deadline).await {
            if want(&line) {
                return line;
            }
        }
        panic!(
            "{}: the expected line did not come within {WAIT:?}; last lines:\n{}",
            self.nick,
            self.seen[self.seen.len().saturating_sub(30)..].join("\n")
        );
    }

    /// Waits for the bot's next message to `target` and returns its text.
    async fn reply(&mut self, target: &str) -> String {
        let line = self.expect(|l| l.is_message("PRIVMSG", BOT, target)).await;
        line.param(1).to_owned()
    }
}

/// Waits until the bot is in `channel` (its JOIN, or its nick in the names list).
async fn wait_for_bot_in(client: &mut Client, channel: &str, names: &Line) {
    let listed = names
        .param(3)
        .split_whitespace()
        .any(|n| n.trim_start_matches(['@', '+']) == BOT);
    if !listed {
        client
            .expect(|l| l.command == "JOIN" && l.nick == BOT && l.param(0) == channel)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_in_a_channel_in_private_and_as_notices() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    let mut bot = bot(server.backend(&["#errbot"], ""), &["@admin"]).await;
    let mut alice = Client::connect(server.port, "alice", "alice").await;
    let names = alice.join("#errbot").await;
    wait_for_bot_in(&mut alice, "#errbot", &names).await;

    // In a channel: the reply goes to the channel, Markdown rendered as IRC formatting.
    alice.say("#errbot", "!echo hi **there** and `code`").await;
    assert_eq!(
        alice.reply("#errbot").await,
        "hi \x02there\x02 and \x11code\x11"
    );
    // Formatting in the command itself is ignored.
    alice.say("#errbot", "\x02!echo\x02 bold command").await;
    assert_eq!(alice.reply("#errbot").await, "bold command");

    // In private: the reply comes privately, and the bot knows the sender's mask.
    alice.say(BOT, "!whoami").await;
    let mut whoami = Vec::new();
    while !whoami.iter().any(|l: &String| l.contains("backend")) {
        whoami.push(alice.reply("alice").await);
    }
    let whoami = whoami.join("\n");
    assert!(
        whoami.contains("alice!~alice@127.0.0.1"),
        "whoami: {whoami}"
    );

    // A notice is answered with a notice (never with a message: RFC 2812 §3.3.2).
    alice.send(&format!("NOTICE {BOT} :!echo quietly")).await;
    let notice = alice.expect(|l| l.is_message("NOTICE", BOT, "alice")).await;
    assert_eq!(notice.param(1), "quietly");

    // Invalid UTF-8 is replaced, and the bot goes on.
    alice
        .send_bytes(b"PRIVMSG #errbot :!echo caf\xe9 \xff ok\r\n")
        .await;
    assert_eq!(alice.reply("#errbot").await, "caf\u{fffd} \u{fffd} ok");
    alice.say("#errbot", "!echo still here").await;
    assert_eq!(alice.reply("#errbot").await, "still here");

    // An unknown command gets Errbot's answer.
    alice.say("#errbot", "!nosuchcommand").await;
    assert!(alice.reply("#errbot").await.contains("not found"));
    assert_eq!(bot.stop(), Some(0), "{}", bot.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_only_commands_follow_the_hostmask() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    let _bot = bot(server.backend(&["#errbot"], ""), &["boss!~boss@127.0.0.*"]).await;

    let mut boss = Client::connect(server.port, "boss", "boss").await;
    boss.say(BOT, "!secret").await;
    assert_eq!(boss.reply("boss").await, "the secret is 42");

    let mut mallory = Client::connect(server.port, "mallory", "mallory").await;
    mallory.say(BOT, "!secret").await;
    assert_eq!(
        mallory.reply("mallory").await,
        "This command requires bot-admin privileges"
    );
    // The same in a channel.
    let names = mallory.join("#errbot").await;
    wait_for_bot_in(&mut mallory, "#errbot", &names).await;
    mallory.say("#errbot", "!secret").await;
    assert_eq!(
        mallory.reply("#errbot").await,
        "This command requires bot-admin privileges"
    );

    // The nick alone is not enough: the same nick with another user name is refused.
    boss.send("QUIT :bye").await;
    boss.expect(|l| l.command == "ERROR").await;
    let mut impostor = Client::connect(server.port, "boss", "impostor").await;
    impostor.say(BOT, "!secret").await;
    assert_eq!(
        impostor.reply("boss").await,
        "This command requires bot-admin privileges"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn warnings_reach_the_notification_target_when_admins_are_hostmasks() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    let bot = TestBot::start_with(Options {
        extra: server.backend(&["#errbot"], ""),
        bot: "admin_notifications = [\"boss\"]\n".into(),
        admins: Some(vec!["boss!~boss@127.0.0.*".into()]),
        plugin_dirs: vec![errbot_tests::repo_root().join("tests/callback-plugins")],
        ..Default::default()
    })
    .await;
    // The admin is a hostmask pattern, which cannot be sent a message; the notification
    // target, the nick, can.
    let mut boss = Client::connect(server.port, "boss", "boss").await;
    let mut mallory = Client::connect(server.port, "mallory", "mallory").await;
    mallory.say(BOT, "!alarm the disk is full").await;
    assert_eq!(mallory.reply("mallory").await, "The admins were warned.");
    assert_eq!(boss.reply("boss").await, "the disk is full");
    assert!(!bot.log().contains("reached nobody"), "{}", bot.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_acl_pattern_setting_chooses_what_admin_globs_match() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    // Admins by nick only (an Errbot IRC_ACL_PATTERN of "{nick}"), whatever the user and host.
    let _bot = bot(
        server.backend(&["#errbot"], "acl_pattern = \"{nick}\""),
        &["boss"],
    )
    .await;
    let mut boss = Client::connect(server.port, "boss", "anyone").await;
    boss.say(BOT, "!secret").await;
    assert_eq!(boss.reply("boss").await, "the secret is 42");
    let mut mallory = Client::connect(server.port, "mallory", "boss").await;
    mallory.say(BOT, "!secret").await;
    assert_eq!(
        mallory.reply("mallory").await,
        "This command requires bot-admin privileges"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn long_replies_are_split_into_lines_that_fit_512_bytes() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    let _bot = bot(server.backend(&["#errbot"], ""), &["@admin"]).await;
    let mut alice = Client::connect(server.port, "alice", "alice").await;
    let names = alice.join("#errbot").await;
    wait_for_bot_in(&mut alice, "#errbot", &names).await;

    for word in ["word", "héllo✓"] {
        let count = 300;
        let expected = vec![word; count].join(" ");
        alice
            .say("#errbot", &format!("!repeat {count} {word}"))
            .await;
        let mut got = Vec::new();
        let mut lines = 0;
        while got.join(" ").len() < expected.len() {
            let line = alice
                .expect(|l| l.is_message("PRIVMSG", BOT, "#errbot"))
                .await;
            // As relayed to other clients, with the bot's prefix, within 510 bytes + CR LF.
            assert!(
                line.raw.len() <= 510,
                "{} bytes: {}",
                line.raw.len(),
                line.raw
            );
            got.push(line.param(1).to_owned());
            lines += 1;
        }
        assert!(lines >= 3, "{lines} lines");
        assert_eq!(got.join(" "), expected);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cards_are_compact_lines_within_512_bytes() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    let _bot = bot(server.backend(&["#errbot"], ""), &["@admin"]).await;
    let mut alice = Client::connect(server.port, "alice", "alice").await;
    let names = alice.join("#errbot").await;
    wait_for_bot_in(&mut alice, "#errbot", &names).await;

    // Title in bold and in the card's colour (green: 03), body rendered, fields on one line.
    alice.say("#errbot", "!card 2").await;
    let field = "v".repeat(40);
    let expected = [
        "\x02\x0303Build #42\x03\x02".to_owned(),
        "All \x02green\x02".to_owned(),
        "• unit".to_owned(),
        "• e2e".to_owned(),
        format!("\x02key0:\x02 {field} · \x02key1:\x02 {field}"),
        "https://ci.example/42".to_owned(),
    ];
    for line in expected {
        assert_eq!(alice.reply("#errbot").await, line);
    }

    // Many fields take several lines, each within 510 bytes as relayed, none cut inside a field.
    alice.say("#errbot", "!card 40").await;
    let mut fields = Vec::new();
    loop {
        let line = alice
            .expect(|l| l.is_message("PRIVMSG", BOT, "#errbot"))
            .await;
        assert!(
            line.raw.len() <= 510,
            "{} bytes: {}",
            line.raw.len(),
            line.raw
        );
        if line.param(1) == "https://ci.example/42" {
            break;
        }
        if line.param(1).contains("key") {
            fields.push(line.param(1).to_owned());
        }
    }
    assert!(fields.len() >= 5, "{fields:?}");
    let items: Vec<&str> = fields.iter().flat_map(|l| l.split(" · ")).collect();
    assert_eq!(items.len(), 40, "{fields:?}");
    for (i, item) in items.iter().enumerate() {
        assert_eq!(*item, format!("\x02key{i}:\x02 {field}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_reconnects_and_rejoins_after_a_server_restart() {
    let Some(mut server) = Ngircd::start() else {
        return;
    };
    let mut bot = bot(server.backend(&["#errbot"], ""), &["@admin"]).await;
    let mut alice = Client::connect(server.port, "alice", "alice").await;
    let names = alice.join("#errbot").await;
    wait_for_bot_in(&mut alice, "#errbot", &names).await;
    alice.say("#errbot", "!echo before").await;
    assert_eq!(alice.reply("#errbot").await, "before");

    server.stop();
    server.spawn();

    let mut alice = Client::connect(server.port, "alice", "alice").await;
    let names = alice.join("#errbot").await;
    wait_for_bot_in(&mut alice, "#errbot", &names).await;
    alice.say("#errbot", "!echo after").await;
    assert_eq!(alice.reply("#errbot").await, "after");
    assert!(
        bot.log().contains("disconnected from 127.0.0.1"),
        "{}",
        bot.log()
    );
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_rejoins_after_a_kick() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    // The first to join a channel is its operator: alice, so that she can kick the bot.
    let mut alice = Client::connect(server.port, "alice", "alice").await;
    alice.join("#kick").await;
    let _bot = bot(server.backend(&["#kick"], ""), &["@admin"]).await;
    alice.expect(|l| l.command == "JOIN" && l.nick == BOT).await;

    alice.send(&format!("KICK #kick {BOT} :out")).await;
    alice
        .expect(|l| l.command == "KICK" && l.param(1) == BOT)
        .await;
    alice
        .expect(|l| l.command == "JOIN" && l.nick == BOT && l.param(0) == "#kick")
        .await;
    alice.say("#kick", "!echo welcome back").await;
    assert_eq!(alice.reply("#kick").await, "welcome back");
}

#[tokio::test(flavor = "multi_thread")]
async fn room_commands_join_list_topic_invite_occupants_and_leave() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    let _bot = bot(server.backend(&["#errbot"], ""), &["boss!~boss@127.0.0.1"]).await;
    let mut boss = Client::connect(server.port, "boss", "boss").await;
    let names = boss.join("#errbot").await;
    wait_for_bot_in(&mut boss, "#errbot", &names).await;
    let mut alice = Client::connect(server.port, "alice", "alice").await;

    boss.say(BOT, "!room join #other").await;
    assert_eq!(boss.reply("boss").await, "Joined the room #other.");
    boss.say(BOT, "!room list").await;
    assert_eq!(boss.reply("boss").await, "I'm currently in these rooms:");
    let mut rooms = vec![boss.reply("boss").await, boss.reply("boss").await];
    rooms.sort();
    assert_eq!(rooms, ["• #errbot", "• #other"]);

    boss.say(BOT, "!room occupants #errbot").await;
    assert_eq!(boss.reply("boss").await, "Occupants in #errbot:");
    let mut occupants = vec![boss.reply("boss").await, boss.reply("boss").await];
    occupants.sort();
    assert_eq!(
        occupants,
        ["• boss!~boss@127.0.0.1", "• errbot!~errbot@127.0.0.1"]
    );
    boss.say(BOT, "!room occupants #nowhere").await;
    assert_eq!(
        boss.reply("boss").await,
        "Cannot list occupants in #nowhere: I'm not in #nowhere."
    );

    // The bot created #other, so it is its operator and may set the topic.
    boss.say(BOT, "!room topic #other").await;
    assert_eq!(boss.reply("boss").await, "No topic is set for #other.");
    boss.say(BOT, "!room topic #other \"Errbot rocks\"").await;
    assert_eq!(boss.reply("boss").await, "Topic for #other set.");
    boss.say(BOT, "!room topic #other").await;
    assert_eq!(boss.reply("boss").await, "Topic for #other: Errbot rocks.");

    boss.say(BOT, "!room invite #other alice").await;
    assert_eq!(
        boss.reply("boss").await,
        "Invited alice into the room #other."
    );
    let invite = alice
        .expect(|l| l.command == "INVITE" && l.nick == BOT)
        .await;
    assert_eq!((invite.param(0), invite.param(1)), ("alice", "#other"));

    // Joining, leaving and inviting are for admins.
    alice.say(BOT, "!room leave #other").await;
    assert_eq!(
        alice.reply("alice").await,
        "This command requires bot-admin privileges"
    );
    boss.say(BOT, "!room leave #other").await;
    assert_eq!(boss.reply("boss").await, "Left the room #other.");
    boss.say(BOT, "!room list").await;
    assert_eq!(boss.reply("boss").await, "I'm currently in these rooms:");
    assert_eq!(boss.reply("boss").await, "• #errbot");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_commands_is_answered_in_order_at_the_configured_rate() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    let rate = 0.05;
    let _bot = bot(server.backend(&["#errbot"], ""), &["@admin"]).await;
    let mut alice = Client::connect(server.port, "alice", "alice").await;
    let names = alice.join("#errbot").await;
    wait_for_bot_in(&mut alice, "#errbot", &names).await;

    let count = 200;
    let started = Instant::now();
    for i in 0..count {
        alice.say("#errbot", &format!("!echo {i}")).await;
        // One line at a time: ngircd drops clients with more than 2048 unread bytes.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut replies = Vec::with_capacity(count);
    while replies.len() < count {
        replies.push(alice.reply("#errbot").await);
    }
    let elapsed = started.elapsed();
    let expected: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    assert_eq!(replies, expected, "replies out of order or missing");
    // The bot never sends to one channel faster than channel_rate: 200 replies cannot all have
    // left (and arrived) in less than 199 intervals after the first command.
    let least = Duration::from_secs_f64(rate * (count - 1) as f64);
    assert!(
        elapsed >= least,
        "{count} replies in {elapsed:?}, faster than one per {rate} s"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_trusted_certificate_and_refused_without() {
    let Some(server) = Ngircd::start_tls() else {
        return;
    };
    let tls_port = server.tls_port.expect("TLS port");
    let cert = server.dir.path().join("cert.pem");
    let tls_backend = |ca: &str| {
        format!(
            "[backends.irc]\nkind = \"irc\"\nserver = \"127.0.0.1\"\nport = {tls_port}\ntls = true\n\
             {ca}nickname = \"{BOT}\"\nrooms = [\"#secure\"]\nchannel_rate = 0.05\n"
        )
    };

    // Without the server's certificate among the trusted ones, the first connection fails and
    // errbotd stops, saying why.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("errbot.toml");
    std::fs::write(
        &config,
        format!(
            "[bot]\nadmins = []\n[paths]\ndata_dir = \"data\"\nplugin_dirs = []\n\
             bundled_plugins = false\n\n{}",
            tls_backend("")
        ),
    )
    .expect("write config");
    let out = Command::new(binary("errbotd"))
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run errbotd");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "errbotd accepted an unknown certificate: {err}"
    );
    assert!(err.contains("TLS with 127.0.0.1"), "{err}");

    // With it, the bot connects over TLS (the client below uses the plain port).
    let _bot = bot(
        tls_backend(&format!("tls_ca_file = {:?}\n", cert.display().to_string())),
        &["@admin"],
    )
    .await;
    let mut alice = Client::connect(server.port, "alice", "alice").await;
    let names = alice.join("#secure").await;
    wait_for_bot_in(&mut alice, "#secure", &names).await;
    alice.say("#secure", "!echo over TLS").await;
    assert_eq!(alice.reply("#secure").await, "over TLS");
}

#[test]
fn check_config_names_file_line_and_key_of_a_bad_irc_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errbot.toml");
    let mut file = std::fs::File::create(&path).expect("create");
    write!(
        file,
        "[bot]\nadmins = [\"*!*@localhost\"]\n\n[backends.irc]\nkind = \"irc\"\nserver = \"irc.example\"\n\
         nickname = \"errbot\"\nport = 99999\nrooms = [\"general\"]\n"
    )
    .expect("write");
    for args in [vec!["check-config"], vec![]] {
        let out = Command::new(binary("errbotd"))
            .arg("--config")
            .arg(&path)
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run errbotd");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "errbotd {args:?} accepted it: {err}");
        let file = path.display();
        assert!(
            err.contains(&format!(
                "{file}:8:1: key `backends.irc.port`: expected an integer from 1 to 65535, found 99999"
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("{file}:9:1: key `backends.irc.rooms`")),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_rules_match_hostmasks_and_room_replies_address_the_sender() {
    let Some(server) = Ngircd::start() else {
        return;
    };
    // Rules for the IRC backend only, on the `nick!user@host` ACL string; replies in channels
    // start with "nick: " (GROUPCHAT_NICK_PREFIXED in IRC's convention).
    let extra = format!(
        "{}\n[[access.rules]]\ncommand = \"Utils:echo\"\nbackends = [\"irc\"]\n\
         allowusers = [\"alice!~alice@*\"]\n\n[[access.rules]]\ncommand = \"testplugin:*\"\n\
         denyrooms = [\"#quiet\"]\n",
        server.backend(&["#errbot", "#quiet"], "")
    );
    let _bot = TestBot::start_with(Options {
        extra,
        test_plugin: true,
        bot: "groupchat_nick_prefixed = true".into(),
        admins: Some(vec!["@admin".into()]),
        ..Default::default()
    })
    .await;
    let mut alice = Client::connect(server.port, "alice", "alice").await;
    let names = alice.join("#errbot").await;
    wait_for_bot_in(&mut alice, "#errbot", &names).await;
    alice.say("#errbot", "!echo hi").await;
    assert_eq!(alice.reply("#errbot").await, "alice: hi");
    alice.say(BOT, "!echo hi").await;
    assert_eq!(alice.reply("alice").await, "hi");

    let mut bob = Client::connect(server.port, "bob", "bob").await;
    bob.say(BOT, "!echo hi").await;
    assert_eq!(
        bob.reply("bob").await,
        "You're not allowed to access this command from this user"
    );
    let names = bob.join("#quiet").await;
    wait_for_bot_in(&mut bob, "#quiet", &names).await;
    bob.say("#quiet", "!where am i").await;
    assert_eq!(
        bob.reply("#quiet").await,
        "bob: You're not allowed to access this command from this room"
    );
    bob.say(BOT, "!where am i").await;
    assert!(bob.reply("bob").await.starts_with("in private as bob!"));
}
