//! End-to-end: the XMPP gateway against a real XMPP server, prosody from Debian
//! (`errbot_tests::prosody`). Each test starts its own prosody on a free 127.0.0.1 port (so
//! tests run in parallel and a test can restart its server), with accounts registered by
//! `prosodyctl` and a multi-user chat service, runs errbotd with an `xmpp` backend (beside the
//! test backend, which tells when the bot is ready), and talks to the bot as people with
//! tokio-xmpp clients.

use std::time::Duration;

use errbot_tests::prosody::{MUC, Prosody};
use errbot_tests::{Options, TestBot};
use futures::StreamExt;
use tokio::time::Instant;
use tokio_xmpp::connect::{DnsConfig, TcpServerConnector};
use tokio_xmpp::stanzastream::{Event, StanzaStage, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::Timeouts;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Id, Lang, Message, MessageType};
use xmpp_parsers::message_correct::Replace;
use xmpp_parsers::muc::Muc;
use xmpp_parsers::muc::user::{MucUser, Status};
use xmpp_parsers::presence::{self, Presence};
use xmpp_parsers::stanza::Stanza;

/// How long any expected stanza may take to arrive.
const WAIT: Duration = Duration::from_secs(30);
/// Every account's password.
const PASSWORD: &str = "s3cret pass";
/// The bot's account and its resource.
const BOT: &str = "errbot@localhost";
const BOT_RESOURCE: &str = "bot";

/// Starts a plain prosody with the bot's account and `people`'s.
fn server(people: &[&str]) -> Option<Prosody> {
    let server = Prosody::start()?;
    server.register("errbot", PASSWORD);
    for p in people {
        server.register(p, PASSWORD);
    }
    Some(server)
}

/// The `[backends.xmpp]` table for `server` joining `rooms`.
fn backend(server: &Prosody, rooms: &[&str], extra: &str) -> String {
    backend_on(server.port, rooms, extra)
}

/// The `[backends.xmpp]` table for a server on `port` joining `rooms`.
fn backend_on(port: u16, rooms: &[&str], extra: &str) -> String {
    // "name" or "name password".
    let rooms: Vec<String> = rooms
        .iter()
        .map(|r| match r.split_once(' ') {
            Some((name, password)) => format!("{name}@{MUC} {password}"),
            None => format!("{r}@{MUC}"),
        })
        .collect();
    format!(
        "[backends.xmpp]\nkind = \"xmpp\"\njid = \"{BOT}/{BOT_RESOURCE}\"\n\
         password_env = \"ERRBOT_TEST_XMPP_PASSWORD\"\nserver = \"127.0.0.1\"\nport = {port}\n\
         tls = \"none\"\nrooms = {rooms:?}\nreconnect_on_kick = 0.2\n\
         reconnect_on_disconnect = 0.1\nreconnect_max = 1\n{extra}\n"
    )
}

/// Starts errbotd with the test plugin and `backend` (an `[backends.xmpp]` table), and waits
/// until the XMPP backend is connected (errbotd is ready once its test backend answers): a
/// message to the bot's bare JID before its presence would wait on the server, and come as a
/// delayed one, which the bot ignores.
async fn bot(backend: String, admins: &[&str]) -> TestBot {
    let bot = TestBot::start_with(Options {
        extra: backend,
        test_plugin: true,
        admins: Some(admins.iter().map(|a| a.to_string()).collect()),
        env: vec![("ERRBOT_TEST_XMPP_PASSWORD".into(), PASSWORD.into())],
        ..Default::default()
    })
    .await;
    bot.wait_for_log("connected: XMPP", 1);
    bot
}

/// A room's JID.
fn room(name: &str) -> String {
    format!("{name}@{MUC}")
}

/// A TCP relay to a local port whose connections the test can cut (both sockets closed, no
/// stream end sent: what a network failure looks like to both sides).
struct Relay {
    port: u16,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay port");
        let port = listener.local_addr().expect("relay address").port();
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = links.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                kept.lock().expect("relay links").push(link);
            }
        });
        Self { port, links }
    }

    /// Cuts every connection made so far.
    fn cut(&self) {
        for link in self.links.lock().expect("relay links").drain(..) {
            link.abort();
        }
    }
}

/// Someone on the server: a tokio-xmpp stanza stream over plain TCP, owned by the test (its
/// `Client` shares the stream behind a lock that its reading side only tries, which can leave
/// it waiting for a wake-up that never comes while the test sends).
struct Person {
    name: String,
    client: StanzaStream,
    seen: Vec<String>,
    /// `room/nick` of everyone present in the rooms this person is in, from the presences seen.
    present: std::collections::BTreeSet<String>,
}

impl Person {
    /// Logs in as `name@localhost/test` and says it is available.
    async fn connect(server: &Prosody, name: &str) -> Self {
        let jid = Jid::new(&format!("{name}@localhost/test")).expect("jid");
        let mut client = StanzaStream::new_c2s(
            TcpServerConnector::from(DnsConfig::addr(&format!("127.0.0.1:{}", server.port))),
            jid,
            PASSWORD.to_owned(),
            Timeouts::tight(),
            16,
        );
        let deadline = Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, client.next()).await {
                Ok(Some(Event::Stream(StreamEvent::Reset { .. }))) => break,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{name} could not log in:\n{}", server.log()),
            }
        }
        let mut person = Self {
            name: name.to_owned(),
            client,
            seen: Vec::new(),
            present: Default::default(),
        };
        person.send(Presence::available()).await;
        person
    }

    /// Logs out (a client that is only dropped would log in again by itself).
    async fn leave(self) {
        let _ = tokio::time::timeout(WAIT, self.client.close()).await;
    }

    async fn send(&mut self, stanza: impl Into<Stanza>) {
        let mut token = self.client.send(Box::new(stanza.into())).await;
        let sent = tokio::time::timeout(WAIT, token.wait_for(StanzaStage::Sent)).await;
        assert!(sent.is_ok(), "{}: send did not complete", self.name);
    }

    /// Says `body` privately to `to`.
    async fn say(&mut self, to: &str, body: &str) {
        let message = Message::chat(Some(Jid::new(to).expect("jid")))
            .with_body(Lang::default(), body.to_owned());
        self.send(message).await;
    }

    /// Says `body` in `room`.
    async fn say_in(&mut self, room: &str, body: &str) {
        let message = Message::groupchat(Some(Jid::new(room).expect("jid")))
            .with_body(Lang::default(), body.to_owned());
        self.send(message).await;
    }

    /// The next stanza; `None` at the deadline.
    async fn next(&mut self, deadline: Instant) -> Option<Stanza> {
        loop {
            match tokio::time::timeout_at(deadline, self.client.next()).await {
                Ok(Some(Event::Stanza(stanza))) => {
                    self.seen.push(format!("{stanza:?}"));
                    if let Stanza::Presence(p) = &stanza
                        && let Some(from) = p.from.as_ref().filter(|f| f.resource().is_some())
                    {
                        match p.type_ {
                            presence::Type::None => self.present.insert(from.to_string()),
                            _ => self.present.remove(&from.to_string()),
                        };
                    }
                    return Some(stanza);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Waits for a stanza that `want` picks.
    async fn expect<T>(&mut self, mut want: impl FnMut(&Stanza) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        while let Some(stanza) = self.next(deadline).await {
            if let Some(found) = want(&stanza) {
                return found;
            }
        }
        panic!(
            "{}: the expected stanza did not come within {WAIT:?}; last ones:\n{}",
            self.name,
            self.seen[self.seen.len().saturating_sub(20)..].join("\n")
        );
    }

    /// The body of the next message from `from` (a full JID, or a bare one for any resource).
    async fn reply_from(&mut self, from: &str) -> String {
        self.expect(|s| message_from(s, from)).await
    }

    /// Joins `room` as `nick` and waits until the room says so; accepts the default
    /// configuration of a room it created.
    async fn join(&mut self, room: &str, nick: &str) {
        let to = Jid::new(&format!("{room}/{nick}")).expect("jid");
        self.send(Presence::available().with_to(to).with_payload(Muc::new()))
            .await;
        let created = self
            .expect(|s| {
                let statuses = muc_statuses(s, room, nick, presence::Type::None)?;
                statuses
                    .contains(&Status::SelfPresence)
                    .then(|| statuses.contains(&Status::RoomHasBeenCreated))
            })
            .await;
        if created {
            let query: xmpp_parsers::minidom::Element =
                "<query xmlns='http://jabber.org/protocol/muc#owner'>\
                 <x xmlns='jabber:x:data' type='submit'/></query>"
                    .parse()
                    .expect("query");
            let iq = xmpp_parsers::iq::Iq::Set {
                from: None,
                to: Some(Jid::new(room).expect("jid")),
                id: format!("instant-{room}"),
                payload: query,
            };
            self.send(iq).await;
            let id = format!("instant-{room}");
            self.expect(|s| match s {
                Stanza::Iq(xmpp_parsers::iq::Iq::Result { id: got, .. }) if *got == id => Some(()),
                _ => None,
            })
            .await;
        }
    }

    /// Changes the configuration of a room this person owns (`fields`: the form's `<field>`s).
    async fn configure(&mut self, room: &str, fields: &str) {
        let query: xmpp_parsers::minidom::Element = format!(
            "<query xmlns='http://jabber.org/protocol/muc#owner'>\
             <x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>\
             <value>http://jabber.org/protocol/muc#roomconfig</value></field>{fields}</x></query>"
        )
        .parse()
        .expect("query");
        let id = format!("configure-{room}");
        self.send(xmpp_parsers::iq::Iq::Set {
            from: None,
            to: Some(Jid::new(room).expect("jid")),
            id: id.clone(),
            payload: query,
        })
        .await;
        self.expect(|s| match s {
            Stanza::Iq(xmpp_parsers::iq::Iq::Result { id: got, .. }) if *got == id => Some(()),
            Stanza::Iq(xmpp_parsers::iq::Iq::Error { id: got, error, .. }) if *got == id => {
                panic!("{room} refused the configuration: {error:?}")
            }
            _ => None,
        })
        .await;
    }

    /// Waits until `nick` is present in `room` (their presence, as the room relays it).
    async fn wait_for_presence_of(&mut self, room: &str, nick: &str) {
        let who = format!("{room}/{nick}");
        if self.present.contains(&who) {
            return;
        }
        self.expect(|s| muc_statuses(s, room, nick, presence::Type::None))
            .await;
    }
}

/// A message's body, when `stanza` is a message with a body from `from` and not a delayed one.
fn message_from(stanza: &Stanza, from: &str) -> Option<String> {
    let Stanza::Message(m) = stanza else {
        return None;
    };
    let sender = m.from.as_ref()?;
    let matches =
        sender.to_string() == from || (!from.contains('/') && sender.to_bare().to_string() == from);
    if !matches || m.type_ == MessageType::Error {
        return None;
    }
    if m.payloads.iter().any(|p| p.name() == "delay") {
        return None;
    }
    m.get_best_body_cloned(vec![]).map(|(_, b)| b)
}

/// The MUC status codes of a presence of `type_` from `room/nick`.
fn muc_statuses(
    stanza: &Stanza,
    room: &str,
    nick: &str,
    type_: presence::Type,
) -> Option<Vec<Status>> {
    let Stanza::Presence(p) = stanza else {
        return None;
    };
    let from = p.from.as_ref()?;
    if from.to_string() != format!("{room}/{nick}") || p.type_ != type_ {
        return None;
    }
    Some(
        p.payloads
            .iter()
            .find_map(|e| MucUser::try_from(e.clone()).ok())
            .map(|m| m.status)
            .unwrap_or_default(),
    )
}

/// The bot's full JID.
fn bot_jid() -> String {
    format!("{BOT}/{BOT_RESOURCE}")
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_in_private_and_in_a_room() {
    let Some(server) = server(&["alice"]) else {
        return;
    };
    let mut bot = bot(backend(&server, &["errbot"], ""), &["admin@localhost"]).await;
    let mut alice = Person::connect(&server, "alice").await;

    // In private: the reply comes privately, from the bot's own JID, Markdown as plain text.
    alice.say(BOT, "!echo hi **there** and `code`").await;
    assert_eq!(alice.reply_from(&bot_jid()).await, "hi there and code");
    alice.say(BOT, "!whoami").await;
    let whoami = alice.reply_from(&bot_jid()).await;
    assert!(whoami.contains("alice@localhost/test"), "whoami: {whoami}");

    // In a room the bot joined at start: the reply goes to the room, from the bot's nick.
    let errbot_room = room("errbot");
    alice.join(&errbot_room, "alice").await;
    alice.wait_for_presence_of(&errbot_room, "errbot").await;
    alice.say_in(&errbot_room, "!echo in the room").await;
    assert_eq!(
        alice.reply_from(&format!("{errbot_room}/errbot")).await,
        "in the room"
    );
    // The bot sees her as Errbot writes room occupants: room/nick.
    alice.say_in(&errbot_room, "!whoami").await;
    let whoami = alice.reply_from(&format!("{errbot_room}/errbot")).await;
    assert!(
        whoami.contains(&format!("{errbot_room}/alice")),
        "whoami: {whoami}"
    );

    // An unknown command gets Errbot's answer.
    alice.say(BOT, "!nosuchcommand").await;
    assert!(alice.reply_from(&bot_jid()).await.contains("not found"));
    assert_eq!(bot.stop(), Some(0), "{}", bot.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn access_rules_and_admins_follow_the_jid_in_private_and_in_rooms() {
    let Some(server) = server(&["boss", "mallory"]) else {
        return;
    };
    // `echo` for boss only, wherever he writes from.
    let rules = "[[access.rules]]\ncommand = \"echo\"\nallowusers = [\"boss@localhost\"]\n";
    let _bot = bot(
        format!("{}{rules}", backend(&server, &["acl"], "")),
        &["boss@localhost"],
    )
    .await;
    let acl_room = room("acl");
    let from_bot = format!("{acl_room}/errbot");

    let mut boss = Person::connect(&server, "boss").await;
    boss.say(BOT, "!secret").await;
    assert_eq!(boss.reply_from(&bot_jid()).await, "the secret is 42");
    let mut mallory = Person::connect(&server, "mallory").await;
    mallory.say(BOT, "!secret").await;
    assert_eq!(
        mallory.reply_from(&bot_jid()).await,
        "This command requires bot-admin privileges"
    );

    // In the room the bot created (so it moderates it and sees real JIDs), the real JID
    // decides, whatever the nickname: mallory calling herself "boss" is still mallory.
    boss.join(&acl_room, "the-boss").await;
    mallory.join(&acl_room, "boss").await;
    boss.say_in(&acl_room, "!echo from the boss").await;
    assert_eq!(boss.reply_from(&from_bot).await, "from the boss");
    assert_eq!(mallory.reply_from(&from_bot).await, "from the boss");
    mallory.say_in(&acl_room, "!echo from the boss").await;
    assert_eq!(
        mallory.reply_from(&from_bot).await,
        "You're not allowed to access this command from this user"
    );
    mallory.say(BOT, "!echo from the boss").await;
    assert_eq!(
        mallory.reply_from(&bot_jid()).await,
        "You're not allowed to access this command from this user"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_reply_is_split_into_several_messages() {
    let Some(server) = server(&["alice"]) else {
        return;
    };
    let _bot = bot(
        backend(&server, &[], "message_size_limit = 1000"),
        &["admin@localhost"],
    )
    .await;
    let mut alice = Person::connect(&server, "alice").await;
    for word in ["word", "héllo✓"] {
        let count = 500;
        let expected = vec![word; count].join(" ");
        alice.say(BOT, &format!("!repeat {count} {word}")).await;
        let mut got: Vec<String> = Vec::new();
        while got.join(" ").chars().count() < expected.chars().count() {
            let part = alice.reply_from(&bot_jid()).await;
            assert!(
                part.chars().count() <= 1000,
                "{} chars",
                part.chars().count()
            );
            got.push(part);
        }
        assert!(got.len() >= 3, "{} messages", got.len());
        assert_eq!(got.join(" "), expected);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_reconnects_and_rejoins_after_a_server_restart() {
    let Some(mut server) = server(&["alice"]) else {
        return;
    };
    let mut bot = bot(backend(&server, &["restart"], ""), &["admin@localhost"]).await;
    let restart_room = room("restart");
    let mut alice = Person::connect(&server, "alice").await;
    alice.join(&restart_room, "alice").await;
    alice.wait_for_presence_of(&restart_room, "errbot").await;
    alice.say_in(&restart_room, "!echo before").await;
    assert_eq!(
        alice.reply_from(&format!("{restart_room}/errbot")).await,
        "before"
    );

    alice.leave().await;
    server.stop();
    server.spawn();

    // The room was not persistent: it is made again by whoever joins first, and the bot is
    // back in it (only then may alice write to it privately: earlier, the server would keep
    // her message for later, and the bot ignores delayed messages).
    let mut alice = Person::connect(&server, "alice").await;
    alice.join(&restart_room, "alice").await;
    alice.wait_for_presence_of(&restart_room, "errbot").await;
    alice.say(BOT, "!echo back in private").await;
    assert_eq!(alice.reply_from(&bot_jid()).await, "back in private");
    alice.say_in(&restart_room, "!echo after").await;
    assert_eq!(
        alice.reply_from(&format!("{restart_room}/errbot")).await,
        "after"
    );
    assert!(
        bot.log().contains("disconnected from 127.0.0.1"),
        "{}",
        bot.log()
    );
    assert_eq!(bot.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_rejoins_after_a_kick() {
    let Some(server) = server(&["alice"]) else {
        return;
    };
    // The first to join a room owns it: alice, so that she can kick the bot.
    let kick_room = room("kick");
    let mut alice = Person::connect(&server, "alice").await;
    alice.join(&kick_room, "alice").await;
    let _bot = bot(backend(&server, &["kick"], ""), &["admin@localhost"]).await;
    alice.wait_for_presence_of(&kick_room, "errbot").await;

    let kick: xmpp_parsers::minidom::Element =
        "<query xmlns='http://jabber.org/protocol/muc#admin'>\
         <item nick='errbot' role='none'><reason>out</reason></item></query>"
            .parse()
            .expect("query");
    alice
        .send(xmpp_parsers::iq::Iq::Set {
            from: None,
            to: Some(Jid::new(&kick_room).expect("jid")),
            id: "kick-1".into(),
            payload: kick,
        })
        .await;
    alice
        .expect(|s| {
            muc_statuses(s, &kick_room, "errbot", presence::Type::Unavailable)
                .filter(|st| st.contains(&Status::Kicked))
        })
        .await;
    alice.wait_for_presence_of(&kick_room, "errbot").await;
    alice.say_in(&kick_room, "!echo welcome back").await;
    assert_eq!(
        alice.reply_from(&format!("{kick_room}/errbot")).await,
        "welcome back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_trusted_certificate_and_refused_without() {
    let Some(server) = Prosody::start_tls() else {
        return;
    };
    server.register("errbot", PASSWORD);
    server.register("alice", PASSWORD);
    let cert = server.certificate();
    // PLAIN only: the server offers it over TLS only, so logging in proves the encryption.
    let table = |tls: &str, port: u16, ca: bool| {
        let ca = if ca {
            format!("tls_ca_file = {:?}\n", cert.display().to_string())
        } else {
            String::new()
        };
        format!(
            "[backends.xmpp]\nkind = \"xmpp\"\njid = \"{BOT}/{BOT_RESOURCE}\"\n\
             password_env = \"ERRBOT_TEST_XMPP_PASSWORD\"\nserver = \"127.0.0.1\"\n\
             port = {port}\ntls = \"{tls}\"\nsasl_mechanisms = [\"PLAIN\"]\n{ca}"
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
            table("starttls", server.port, false)
        ),
    )
    .expect("write config");
    let out = std::process::Command::new(errbot_tests::binary("errbotd"))
        .arg("--config")
        .arg(&config)
        .env("ERRBOT_TEST_XMPP_PASSWORD", PASSWORD)
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run errbotd");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "errbotd accepted an unknown certificate: {err}"
    );
    assert!(err.contains("TLS handshake with localhost failed"), "{err}");

    // With it: STARTTLS, then TLS from the first byte; a command goes through each.
    for (tls, port) in [
        ("starttls", server.port),
        ("direct", server.tls_port.expect("tls port")),
    ] {
        let mut bot = bot(table(tls, port, true), &["admin@localhost"]).await;
        let mut alice = Person::connect(&server, "alice").await;
        alice.say(BOT, &format!("!echo over {tls}")).await;
        assert_eq!(alice.reply_from(&bot_jid()).await, format!("over {tls}"));
        assert_eq!(bot.stop(), Some(0), "{}", bot.log());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn room_commands_join_topic_occupants_invite_leave_and_destroy() {
    let Some(server) = server(&["alice", "bob"]) else {
        return;
    };
    let _bot = bot(backend(&server, &["lobby"], ""), &["alice@localhost"]).await;
    let lobby = room("lobby");
    let from_bot = format!("{lobby}/errbot");
    let mut alice = Person::connect(&server, "alice").await;
    alice.join(&lobby, "alice").await;
    alice.wait_for_presence_of(&lobby, "errbot").await;

    alice
        .say_in(&lobby, &format!("!room occupants {lobby}"))
        .await;
    let occupants = alice.reply_from(&from_bot).await;
    assert!(
        occupants.contains(&format!("- {lobby}/alice")),
        "{occupants}"
    );
    assert!(
        occupants.contains(&format!("- {lobby}/errbot")),
        "{occupants}"
    );

    alice
        .say_in(&lobby, &format!("!room topic {lobby} Release day"))
        .await;
    assert_eq!(
        alice.reply_from(&from_bot).await,
        format!("Topic for {lobby} set.")
    );
    alice.say_in(&lobby, &format!("!room topic {lobby}")).await;
    assert_eq!(
        alice.reply_from(&from_bot).await,
        format!("Topic for {lobby}: Release day.")
    );

    // An invitation reaches bob from the room (a mediated invitation).
    let mut bob = Person::connect(&server, "bob").await;
    // (Inviting is for admins, who must ask privately.)
    alice
        .say(BOT, &format!("!room invite {lobby} bob@localhost"))
        .await;
    assert_eq!(
        alice.reply_from(&bot_jid()).await,
        format!("Invited bob@localhost into the room {lobby}.")
    );
    bob.expect(|s| match s {
        Stanza::Message(m) if m.from.as_ref().is_some_and(|f| f.to_string() == lobby) => m
            .payloads
            .iter()
            .find_map(|e| MucUser::try_from(e.clone()).ok())
            .and_then(|u| u.invite),
        _ => None,
    })
    .await;

    // Another room, joined on request, listed, then left.
    let side = room("side");
    alice.say(BOT, &format!("!room join {side}")).await;
    assert_eq!(
        alice.reply_from(&bot_jid()).await,
        format!("Joined the room {side}.")
    );
    alice.say(BOT, "!room list").await;
    let list = alice.reply_from(&bot_jid()).await;
    assert!(
        list.contains(&format!("- {side}")) && list.contains(&format!("- {lobby}")),
        "{list}"
    );
    alice.say(BOT, &format!("!room leave {side}")).await;
    assert_eq!(
        alice.reply_from(&bot_jid()).await,
        format!("Left the room {side}.")
    );
    alice.say(BOT, "!room list").await;
    let list = alice.reply_from(&bot_jid()).await;
    assert!(!list.contains(&side), "{list}");

    // A room the bot made (so it owns it) can be destroyed; it is gone from the list.
    let doomed = room("doomed");
    alice.say(BOT, &format!("!room create {doomed}")).await;
    let created = alice.reply_from(&bot_jid()).await;
    assert!(created.contains(&doomed), "{created}");
    alice.say(BOT, &format!("!room destroy {doomed}")).await;
    assert_eq!(
        alice.reply_from(&bot_jid()).await,
        format!("Destroyed the room {doomed}.")
    );
    alice.say(BOT, "!room list").await;
    let list = alice.reply_from(&bot_jid()).await;
    assert!(!list.contains(&doomed), "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_connection_resumes_the_stream_and_keeps_the_rooms() {
    let Some(server) = server(&["alice"]) else {
        return;
    };
    let relay = Relay::start(server.port).await;
    let bot = bot(
        backend_on(relay.port, &["resume"], ""),
        &["admin@localhost"],
    )
    .await;
    let resume_room = room("resume");
    let from_bot = format!("{resume_room}/errbot");
    let mut alice = Person::connect(&server, "alice").await;
    alice.join(&resume_room, "alice").await;
    alice.wait_for_presence_of(&resume_room, "errbot").await;
    alice.say_in(&resume_room, "!echo before").await;
    assert_eq!(alice.reply_from(&from_bot).await, "before");

    // The server keeps the bot's session (stream management): the bot comes back into it,
    // still in the room, without joining again.
    relay.cut();
    bot.wait_for_log("stream resumed with", 1);
    alice.say_in(&resume_room, "!echo after").await;
    assert_eq!(alice.reply_from(&from_bot).await, "after");
    let log = bot.log();
    assert_eq!(log.matches("joined resume@").count(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keepalive_pings_find_a_server_that_stopped_answering() {
    let Some(server) = server(&["alice"]) else {
        return;
    };
    let bot = bot(
        backend(&server, &["alive"], "keepalive_interval = 1"),
        &["admin@localhost"],
    )
    .await;
    let alive = room("alive");
    let from_bot = format!("{alive}/errbot");
    let mut alice = Person::connect(&server, "alice").await;
    alice.join(&alive, "alice").await;
    alice.wait_for_presence_of(&alive, "errbot").await;

    // A frozen server keeps the TCP connection open: only the unanswered ping tells.
    server.pause();
    bot.wait_for_log("disconnected from 127.0.0.1", 1);
    server.resume();
    alice.say_in(&alive, "!echo still alive").await;
    assert_eq!(alice.reply_from(&from_bot).await, "still alive");
}

#[tokio::test(flavor = "multi_thread")]
async fn mentions_topics_joins_and_presences_reach_the_plugins() {
    let Some(server) = server(&["alice", "bob"]) else {
        return;
    };
    // alice makes the room, so that she owns it and may set its topic.
    let cb = room("cb");
    let mut alice = Person::connect(&server, "alice").await;
    alice.join(&cb, "alice").await;
    let mut bob = Person::connect(&server, "bob").await;
    bob.join(&cb, "bob").await;
    let bot = TestBot::start_with(Options {
        extra: backend(&server, &["cb"], ""),
        plugin_dirs: vec![errbot_tests::repo_root().join("tests/callback-plugins")],
        env: vec![("ERRBOT_TEST_XMPP_PASSWORD".into(), PASSWORD.into())],
        ..Default::default()
    })
    .await;
    bot.wait_for_log("connected: XMPP", 1);
    alice.wait_for_presence_of(&cb, "errbot").await;

    let mut topic = Message::groupchat(Some(Jid::new(&cb).expect("jid")));
    topic
        .subjects
        .insert(Lang::default(), "Release day".to_owned());
    alice.send(topic).await;
    alice.say_in(&cb, "hello bob, look").await;
    // The room has relayed it (to everyone, the bot too) before bob leaves.
    alice.reply_from(&format!("{cb}/alice")).await;

    // bob leaves: his presence goes offline.
    bob.send(Presence::unavailable().with_to(Jid::new(&format!("{cb}/bob")).expect("jid")))
        .await;

    let wanted = [
        format!("presence|xmpp|{cb}/bob|online:|"),
        format!("presence|xmpp|{cb}/bob|offline:|"),
        format!("room_joined|xmpp|{cb}|"),
        format!("room_topic|xmpp|{cb}|Release day|"),
        format!("mention|xmpp|{cb}/alice||hello bob, look"),
    ];
    let deadline = Instant::now() + WAIT;
    loop {
        alice.say(BOT, "!events").await;
        let events = alice.reply_from(&bot_jid()).await;
        if wanted.iter().all(|w| events.contains(w.as_str())) {
            break;
        }
        assert!(Instant::now() < deadline, "missing events in:\n{events}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The bot's own presence, set by a plugin, shows in its rooms.
    alice.say(BOT, "!away").await;
    alice
        .expect(|s| match s {
            Stanza::Presence(p)
                if p.from
                    .as_ref()
                    .is_some_and(|f| f.to_string() == format!("{cb}/errbot"))
                    && p.show == Some(presence::Show::Away) =>
            {
                p.statuses
                    .values()
                    .any(|t| t == "out for lunch")
                    .then_some(())
            }
            _ => None,
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn xhtml_im_replies_carry_the_markup_beside_the_plain_body() {
    let Some(server) = server(&["alice"]) else {
        return;
    };
    let _bot = bot(
        backend(&server, &[], "xhtml_im = true"),
        &["admin@localhost"],
    )
    .await;
    let mut alice = Person::connect(&server, "alice").await;
    alice.say(BOT, "!echo hi **there**").await;
    let from = bot_jid();
    let (body, html) = alice
        .expect(|s| match s {
            Stanza::Message(m) if m.from.as_ref().is_some_and(|f| f.to_string() == from) => {
                let body = m.get_best_body_cloned(vec![])?.1;
                let html = m
                    .payloads
                    .iter()
                    .find(|p| p.is("html", "http://jabber.org/protocol/xhtml-im"))
                    .map(String::from)?;
                Some((body, html))
            }
            _ => None,
        })
        .await;
    assert_eq!(body, "hi there");
    assert!(html.contains("<strong>there</strong>"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn corrections_never_run_again_and_no_reply_is_lost_to_characters_xml_cannot_carry() {
    let Some(server) = server(&["alice"]) else {
        return;
    };
    let _bot = bot(backend(&server, &[], ""), &["admin@localhost"]).await;
    let mut alice = Person::connect(&server, "alice").await;
    let from = bot_jid();

    // A correction (XEP-0308) of a command is an edit: the command does not run again.
    let mut first = Message::chat(Some(Jid::new(BOT).expect("jid")))
        .with_body(Lang::default(), "!echo one".to_owned());
    first.id = Some(Id("c1".into()));
    alice.send(first).await;
    assert_eq!(alice.reply_from(&from).await, "one");
    let corrected = Message::chat(Some(Jid::new(BOT).expect("jid")))
        .with_body(Lang::default(), "!echo two".to_owned())
        .with_payload(Replace {
            id: Id("c1".into()),
        });
    alice.send(corrected).await;
    alice.say(BOT, "!echo three").await;
    assert_eq!(alice.reply_from(&from).await, "three", "the correction ran");

    // A plugin's reply with terminal escapes and a bell (forbidden in XML): the stream would
    // refuse the stanza and the reply would be lost; it comes without those characters.
    alice.say(BOT, "!ansi alert").await;
    assert_eq!(alice.reply_from(&from).await, "[31malert[0m");
}

#[tokio::test(flavor = "multi_thread")]
async fn rooms_with_a_password_and_with_the_nickname_taken() {
    let Some(server) = server(&["alice"]) else {
        return;
    };
    let (vault, busy) = (room("vault"), room("busy"));
    let mut alice = Person::connect(&server, "alice").await;
    alice.join(&vault, "alice").await;
    alice
        .configure(
            &vault,
            "<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>\
             <field var='muc#roomconfig_roomsecret'><value>open sesame</value></field>",
        )
        .await;
    // Someone already answers to "errbot" in this one.
    alice.join(&busy, "errbot").await;
    // And this one's password is not the one the bot has.
    let locked = room("locked");
    alice.join(&locked, "alice").await;
    alice
        .configure(
            &locked,
            "<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>\
             <field var='muc#roomconfig_roomsecret'><value>right</value></field>",
        )
        .await;

    let bot = bot(
        backend(&server, &["vault open sesame", "busy", "locked wrong"], ""),
        &["admin@localhost"],
    )
    .await;
    let log = bot.wait_for_log(&format!("cannot join {locked}: NotAuthorized"), 1);
    assert!(!log.contains("joined locked@"), "{log}");
    alice.wait_for_presence_of(&vault, "errbot").await;
    alice.say_in(&vault, "!echo inside").await;
    assert_eq!(alice.reply_from(&format!("{vault}/errbot")).await, "inside");

    alice.wait_for_presence_of(&busy, "errbot_").await;
    alice.say_in(&busy, "!echo under another name").await;
    assert_eq!(
        alice.reply_from(&format!("{busy}/errbot_")).await,
        "under another name"
    );
}

#[test]
fn check_config_names_file_line_and_key_of_a_bad_xmpp_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errbot.toml");
    std::fs::write(
        &path,
        "[bot]\nadmins = [\"boss@example.org\"]\n\n[backends.xmpp]\nkind = \"xmpp\"\n\
         jid = \"errbot@example.org\"\npassword_env = \"PATH\"\ntls = \"sometimes\"\n\
         rooms = [\"conference.example.org\"]\n",
    )
    .expect("write");
    let out = std::process::Command::new(errbot_tests::binary("errbotd"))
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run errbotd");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "errbotd accepted it: {err}");
    let file = path.display();
    assert!(
        err.contains(&format!(
            "{file}:8:1: key `backends.xmpp.tls`: expected \"starttls\", \"direct\" or \"none\", found \"sometimes\""
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:9:1: key `backends.xmpp.rooms`")),
        "{err}"
    );
}
