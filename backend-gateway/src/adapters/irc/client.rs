//! The life of the connection: connect, register (server password, SASL PLAIN, nick collisions),
//! identify with NickServ, join the rooms, then read the server's lines until the connection
//! ends, and reconnect with exponential backoff. Lines received are turned into events for
//! errbotd; the state of channels follows what the server says.

use std::sync::Arc;
use std::time::Duration;

use errbot_proto::v1::{
    BackendEvent, Message as ChatMessage, RoomEvent, backend_event, room_event,
};
use irc_proto::{Command, Message, Prefix, Response};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::ids::{Mask, fold, is_channel};
use super::transport::{self, LineReader, Stream};
use super::{Await, Shared, format, outbox};
use crate::adapters;

/// How long registration may take.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);
/// Silence after which the server is pinged.
const PING_AFTER: Duration = Duration::from_secs(90);
/// Silence after the ping after which the connection is considered dead.
const PING_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the QUIT may take to leave at shutdown.
const QUIT_GRACE: Duration = Duration::from_secs(2);

type Reader = LineReader<ReadHalf<std::pin::Pin<Box<dyn Stream>>>>;
type Writer = WriteHalf<std::pin::Pin<Box<dyn Stream>>>;

/// Serialises a command as a wire line ending with CR LF; CR, LF and NUL inside are dropped, so
/// that no text can end a line early and smuggle in another command.
pub fn line(command: Command) -> String {
    let mut text: String = String::from(&command)
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
        .collect();
    text.push_str("\r\n");
    text
}

/// Parses a line; a line the parser refuses (or panics on) is `None`.
pub(super) fn parse(text: &str) -> Option<Message> {
    match std::panic::catch_unwind(|| text.parse::<Message>()) {
        Ok(Ok(m)) => Some(m),
        Ok(Err(e)) => {
            tracing::debug!("unparsable line from the server ({e}): {text:?}");
            None
        }
        Err(_) => {
            tracing::warn!("the IRC parser failed on a line from the server: {text:?}");
            None
        }
    }
}

/// Connects and stays connected until the gateway stops. The outcome of the first attempt is
/// reported on `first`; if it failed, nothing more is tried (errbotd reports the error).
pub async fn run(shared: Arc<Shared>, first: oneshot::Sender<Result<(), String>>) {
    let mut first = Some(first);
    let mut delay = shared.settings.reconnect_delay;
    let mut stop = shared.stop.subscribe();
    loop {
        let attempt = tokio::select! {
            r = connect(&shared) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match attempt {
            Ok((reader, writer)) => {
                if let Some(tx) = first.take() {
                    let _ = tx.send(Ok(()));
                }
                delay = shared.settings.reconnect_delay;
                let started = Instant::now();
                let reason = session(&shared, reader, writer).await;
                shared.disconnected(&reason);
                if *shared.stop.borrow() {
                    return;
                }
                // A connection that lasted does not count as a failure.
                if started.elapsed() > shared.settings.reconnect_max {
                    delay = shared.settings.reconnect_delay;
                }
                tracing::warn!(
                    "disconnected from {}: {reason}; reconnecting in {:.1} s",
                    shared.target(),
                    delay.as_secs_f64()
                );
            }
            Err(e) => {
                if let Some(tx) = first.take() {
                    let _ = tx.send(Err(e));
                    return;
                }
                tracing::warn!(
                    "cannot connect to {}: {e}; retrying in {:.1} s",
                    shared.target(),
                    delay.as_secs_f64()
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        delay = (delay * 2).min(shared.settings.reconnect_max);
    }
}

/// Opens the connection and registers.
async fn connect(shared: &Shared) -> Result<(Reader, Writer), String> {
    let stream = transport::open(&shared.settings).await?;
    let (r, mut w) = tokio::io::split(stream);
    let mut reader = LineReader::new(r);
    match tokio::time::timeout(REGISTER_TIMEOUT, register(shared, &mut reader, &mut w)).await {
        Ok(Ok(())) => Ok((reader, w)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!(
            "the server did not complete registration within {} s",
            REGISTER_TIMEOUT.as_secs()
        )),
    }
}

async fn send(w: &mut Writer, command: Command) -> Result<(), String> {
    w.write_all(line(command).as_bytes())
        .await
        .map_err(|e| format!("write failed: {e}"))
}

/// Nicknames tried when the configured one is taken: `nick_`, `nick__`, `nick___`, then `nick1`...
fn alternative_nick(base: &str, attempt: usize) -> String {
    if attempt <= 3 {
        format!("{base}{}", "_".repeat(attempt))
    } else {
        format!("{base}{}", attempt - 3)
    }
}

/// Registration: PASS, CAP/SASL, NICK, USER, until the welcome (001).
async fn register(shared: &Shared, reader: &mut Reader, w: &mut Writer) -> Result<(), String> {
    let s = &shared.settings;
    if let Some(password) = &s.password {
        send(w, Command::PASS(password.clone())).await?;
    }
    if s.sasl.is_some() {
        send(
            w,
            Command::Raw("CAP".into(), vec!["LS".into(), "302".into()]),
        )
        .await?;
    }
    let mut attempt = 0;
    let mut nick = s.nickname.clone();
    send(w, Command::NICK(nick.clone())).await?;
    send(
        w,
        Command::USER(s.username.clone(), "0".into(), s.realname.clone()),
    )
    .await?;
    let mut caps_offered = String::new();
    loop {
        let Some(text) = reader
            .next_line()
            .await
            .map_err(|e| format!("read failed: {e}"))?
        else {
            return Err("the server closed the connection during registration".into());
        };
        let Some(msg) = parse(&text) else { continue };
        let args = |m: &Message| -> Vec<String> {
            match &m.command {
                Command::Response(_, a) | Command::Raw(_, a) => a.clone(),
                _ => Vec::new(),
            }
        };
        let last = |m: &Message| args(m).last().cloned().unwrap_or_default();
        match &msg.command {
            Command::PING(a, b) => send(w, Command::PONG(a.clone(), b.clone())).await?,
            Command::ERROR(e) => return Err(format!("the server refused the connection: {e}")),
            Command::Response(Response::RPL_WELCOME, a) => {
                let me = a.first().cloned().unwrap_or(nick);
                shared.registered(&me);
                return Ok(());
            }
            Command::Response(Response::ERR_NICKNAMEINUSE | Response::ERR_UNAVAILRESOURCE, _) => {
                attempt += 1;
                if attempt > 12 {
                    return Err(format!("the nicknames {}... are all taken", s.nickname));
                }
                nick = alternative_nick(&s.nickname, attempt);
                tracing::warn!("nickname taken, trying {nick}");
                send(w, Command::NICK(nick.clone())).await?;
            }
            Command::Response(Response::ERR_ERRONEOUSNICKNAME, _) => {
                return Err(format!(
                    "the server refuses the nickname {nick}: {}",
                    last(&msg)
                ));
            }
            Command::Response(Response::ERR_PASSWDMISMATCH, _) => {
                return Err(format!("wrong server password: {}", last(&msg)));
            }
            Command::Response(Response::ERR_YOUREBANNEDCREEP, _) => {
                return Err(format!("banned from the server: {}", last(&msg)));
            }
            Command::Response(
                Response::ERR_SASLFAIL
                | Response::ERR_SASLTOOLONG
                | Response::ERR_SASLABORT
                | Response::ERR_NICKLOCKED,
                _,
            ) => {
                return Err(format!("SASL authentication failed: {}", last(&msg)));
            }
            Command::Response(Response::RPL_SASLSUCCESS, _) => {
                send(w, Command::Raw("CAP".into(), vec!["END".into()])).await?;
            }
            Command::AUTHENTICATE(challenge) if challenge == "+" => {
                if let Some(sasl) = &s.sasl {
                    let payload = format!("{0}\0{0}\0{1}", sasl.username, sasl.password);
                    for chunk in sasl_chunks(&crate::encode::base64(payload.as_bytes())) {
                        send(w, Command::AUTHENTICATE(chunk)).await?;
                    }
                }
            }
            _ => {
                // CAP replies: irc-proto keeps them typed or raw depending on their shape, so
                // read them from the wire text.
                if let Some(cap) = cap_reply(&text) {
                    match cap.sub.as_str() {
                        "LS" => {
                            caps_offered.push(' ');
                            caps_offered.push_str(&cap.list);
                            if !cap.more {
                                let has_sasl = caps_offered
                                    .split_whitespace()
                                    .any(|c| c == "sasl" || c.starts_with("sasl="));
                                if !has_sasl {
                                    return Err("the server does not offer SASL".into());
                                }
                                send(
                                    w,
                                    Command::Raw("CAP".into(), vec!["REQ".into(), "sasl".into()]),
                                )
                                .await?;
                            }
                        }
                        "ACK" if cap.list.split_whitespace().any(|c| c == "sasl") => {
                            send(w, Command::AUTHENTICATE("PLAIN".into())).await?;
                        }
                        "NAK" => return Err("the server refused the SASL capability".into()),
                        _ => {}
                    }
                }
            }
        }
    }
}

/// A `CAP <me> <sub> [*] :<list>` reply.
struct CapReply {
    sub: String,
    list: String,
    more: bool,
}

fn cap_reply(text: &str) -> Option<CapReply> {
    let rest = text
        .strip_prefix(':')
        .map_or(text, |t| t.split_once(' ').map_or("", |x| x.1));
    let (head, list) = rest.split_once(" :").unwrap_or((rest, ""));
    let words: Vec<&str> = head.split_whitespace().collect();
    if words.first().map(|w| w.eq_ignore_ascii_case("CAP")) != Some(true) || words.len() < 3 {
        return None;
    }
    Some(CapReply {
        sub: words[2].to_ascii_uppercase(),
        list: list.to_owned(),
        more: words.get(3) == Some(&"*"),
    })
}

/// SASL payloads go in 400-byte pieces; a payload that is a multiple of 400 ends with `+`.
fn sasl_chunks(encoded: &str) -> Vec<String> {
    let mut chunks: Vec<String> = encoded
        .as_bytes()
        .chunks(400)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    if encoded.is_empty() || encoded.len().is_multiple_of(400) {
        chunks.push("+".into());
    }
    chunks
}

/// A registered connection: writes the outbox, reads and handles lines, pings when silent.
/// Returns why it ended.
async fn session(shared: &Arc<Shared>, mut reader: Reader, mut writer: Writer) -> String {
    shared.outbox.clear_urgent();
    shared.after_registration();
    let writer_shared = shared.clone();
    let (drained_tx, mut drained_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut write_task = tokio::spawn(async move {
        loop {
            let line = writer_shared.outbox.next().await;
            let quitting = line.starts_with("QUIT");
            if let Err(e) = writer.write_all(line.as_bytes()).await {
                writer_shared.outbox.put_back(line);
                return format!("write failed: {e}");
            }
            if quitting {
                let _ = writer.flush().await;
                let _ = writer.shutdown().await;
                let _ = drained_tx.send(()).await;
                return "quit".to_owned();
            }
        }
    });
    let mut stop = shared.stop.subscribe();
    let mut pinged: Option<Instant> = None;
    let reason = loop {
        let silence = match pinged {
            None => PING_AFTER,
            Some(_) => PING_TIMEOUT,
        };
        tokio::select! {
            read = tokio::time::timeout(silence, reader.next_line()) => match read {
                Ok(Ok(Some(text))) => {
                    pinged = None;
                    if let Some(msg) = parse(&text) {
                        handle(shared, msg);
                    }
                }
                Ok(Ok(None)) => break "the server closed the connection".to_owned(),
                Ok(Err(e)) => break format!("read failed: {e}"),
                Err(_) if pinged.is_some() => {
                    break format!("no answer from the server for {} s", (PING_AFTER + PING_TIMEOUT).as_secs());
                }
                Err(_) => {
                    pinged = Some(Instant::now());
                    shared.outbox.urgent(line(Command::PING(shared.settings.server.clone(), None)));
                }
            },
            written = &mut write_task => {
                break written.unwrap_or_else(|e| format!("writer failed: {e}"));
            }
            _ = stop.wait_for(|s| *s) => break String::new(),
        }
    };
    if reason.is_empty() {
        shared
            .outbox
            .urgent(line(Command::QUIT(Some("errbot-rs is stopping".into()))));
        let _ = tokio::time::timeout(QUIT_GRACE, drained_rx.recv()).await;
        write_task.abort();
        return "stopping".to_owned();
    }
    write_task.abort();
    reason
}

/// Handles one line from a registered connection.
fn handle(shared: &Arc<Shared>, msg: Message) {
    let source = match &msg.prefix {
        Some(Prefix::Nickname(nick, user, host)) => Some(Mask {
            nick: nick.clone(),
            user: user.clone(),
            host: host.clone(),
        }),
        _ => None,
    };
    let from_me = source
        .as_ref()
        .is_some_and(|m| fold(&m.nick) == fold(&shared.nick()));
    match msg.command {
        Command::PING(a, b) => shared.outbox.urgent(line(Command::PONG(a, b))),
        Command::ERROR(e) => tracing::warn!("server error: {e}"),
        Command::PRIVMSG(target, text) => {
            if let Some(from) = source
                && let Some(text) = shared.ctcp(&from, &text)
            {
                shared.message(from, &target, &text, false, from_me);
            }
        }
        Command::NOTICE(target, text) => {
            // Notices from the server itself (no nick) are not chat.
            if let Some(from) = source
                && !text.starts_with('\x01')
            {
                shared.message(from, &target, &text, true, from_me);
            }
        }
        Command::JOIN(channels, _, _) => {
            let Some(who) = source else { return };
            for channel in channels.split(',').filter(|c| !c.is_empty()) {
                if from_me {
                    shared.own_mask(&who);
                    shared.joined(channel);
                } else {
                    shared.with_state(|st| st.channels.add_member(channel, who.clone()));
                }
            }
        }
        Command::PART(channels, _) => {
            let Some(who) = source else { return };
            for channel in channels.split(',').filter(|c| !c.is_empty()) {
                if from_me {
                    shared.left(channel, Await::Part(fold(channel)));
                } else {
                    shared.with_state(|st| st.channels.remove_member(channel, &who.nick));
                }
            }
        }
        Command::KICK(channel, victim, reason) => {
            if fold(&victim) == fold(&shared.nick()) {
                shared.kicked(&channel, reason.as_deref().unwrap_or(""));
            } else {
                shared.with_state(|st| st.channels.remove_member(&channel, &victim));
            }
        }
        Command::QUIT(_) => {
            if let Some(who) = source {
                shared.with_state(|st| st.channels.quit(&who.nick));
            }
        }
        Command::NICK(new) => {
            if let Some(who) = source {
                if from_me {
                    shared.with_state(|st| st.nick = new.clone());
                }
                shared.with_state(|st| st.channels.rename(&who.nick, &new));
            }
        }
        Command::TOPIC(channel, topic) => {
            let topic = topic.filter(|t| !t.is_empty());
            shared.with_state(|st| st.channels.set_topic(&channel, topic.clone()));
            if from_me {
                shared.resolve(&Await::Topic(fold(&channel)), Ok(()));
            }
            shared.room_event(room_event::Kind::Topic, &channel, topic.unwrap_or_default());
        }
        Command::INVITE(_, channel) => {
            tracing::info!(
                "invited to {channel} by {}",
                source.map(|m| m.full()).unwrap_or_default()
            );
        }
        Command::Response(response, args) => numeric(shared, response, &args),
        _ => {}
    }
}

/// Handles a numeric reply.
fn numeric(shared: &Arc<Shared>, response: Response, args: &[String]) {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let last = args.last().map(String::as_str).unwrap_or("");
    match response {
        Response::RPL_TOPIC => {
            shared.with_state(|st| st.channels.set_topic(arg(1), Some(last.to_owned())));
        }
        Response::RPL_NOTOPIC => shared.with_state(|st| st.channels.set_topic(arg(1), None)),
        Response::RPL_NAMREPLY => {
            // <me> <type> <channel> :<prefixed nicks>
            let channel = arg(2).to_owned();
            shared.with_state(|st| {
                for entry in last.split_whitespace() {
                    let name = entry.trim_start_matches(['@', '+', '%', '&', '~', '!']);
                    if let Some(mask) = Mask::parse(name) {
                        st.channels.add_member(&channel, mask);
                    }
                }
            });
        }
        Response::RPL_WHOREPLY => {
            // <me> <channel> <user> <host> <server> <nick> <flags> :<hops> <realname>
            if let Some(mask) = Mask::parse(&format!("{}!{}@{}", arg(5), arg(2), arg(3))) {
                shared.with_state(|st| st.channels.learn(&mask));
            }
        }
        Response::RPL_INVITING => {
            // <me> <nick> <channel>
            shared.resolve(&Await::Invite(fold(arg(1)), fold(arg(2))), Ok(()));
        }
        Response::ERR_NOSUCHCHANNEL
        | Response::ERR_TOOMANYCHANNELS
        | Response::ERR_CHANNELISFULL
        | Response::ERR_INVITEONLYCHAN
        | Response::ERR_BANNEDFROMCHAN
        | Response::ERR_BADCHANNELKEY
        | Response::ERR_BADCHANMASK => {
            let channel = fold(arg(1));
            let why = format!("{}: {last}", arg(1));
            tracing::warn!("cannot join {why}");
            shared.resolve(&Await::Join(channel.clone()), Err(why.clone()));
            shared.resolve(&Await::Part(channel.clone()), Err(why.clone()));
            shared.resolve(&Await::Topic(channel), Err(why));
        }
        Response::ERR_NOTONCHANNEL | Response::ERR_CHANOPRIVSNEEDED => {
            let channel = fold(arg(1));
            let why = format!("{}: {last}", arg(1));
            shared.resolve(&Await::Part(channel.clone()), Err(why.clone()));
            shared.resolve(&Await::Topic(channel.clone()), Err(why.clone()));
            shared.resolve_invites(&channel, &why);
        }
        Response::ERR_NOSUCHNICK => {
            let why = format!("{}: {last}", arg(1));
            shared.resolve_invites_of(&fold(arg(1)), &why);
        }
        Response::ERR_USERONCHANNEL => {
            // <me> <nick> <channel> :is already on channel
            let why = format!("{} {}: {last}", arg(1), arg(2));
            shared.resolve(&Await::Invite(fold(arg(1)), fold(arg(2))), Err(why));
        }
        _ => {}
    }
}

impl Shared {
    /// Turns a PRIVMSG or NOTICE into a message for errbotd.
    fn message(&self, from: Mask, target: &str, text: &str, notice: bool, from_me: bool) {
        let id = format!("irc-{}", self.msg_ids.next());
        let body = format::strip(text);
        let in_channel = is_channel(target);
        let (from_id, to_id, mentions, conversation) = self.with_state(|st| {
            st.channels.learn(&from);
            if in_channel {
                let mentions = st
                    .channels
                    .mentions(target, &body)
                    .iter()
                    .map(|m| self.ids.person(m))
                    .collect();
                (
                    self.ids.occupant(target, &from),
                    self.ids.room(target),
                    mentions,
                    format!("{}\0{}", fold(target), fold(&from.nick)),
                )
            } else {
                (
                    self.ids.person(&from),
                    self.ids.person(&st.own),
                    Vec::new(),
                    format!("\0{}", fold(&from.nick)),
                )
            }
        });
        let mut extras = std::collections::HashMap::new();
        if notice {
            extras.insert("notice".to_owned(), "true".to_owned());
            self.with_state(|st| st.notices.insert(id.clone()));
        }
        if !from_me {
            self.order.arrived(&id, &conversation);
        }
        let message = ChatMessage {
            id,
            from: Some(from_id),
            to: Some(to_id),
            body,
            direct: !in_channel,
            from_self: from_me,
            timestamp_ms: adapters::now_ms(),
            mentions,
            extras,
            ..Default::default()
        };
        self.push(adapters::message_event(message));
    }

    /// Answers CTCP queries; returns the text to deliver as a message (plain text, or the action
    /// of `/me`), `None` for CTCP that is not chat.
    fn ctcp(&self, from: &Mask, text: &str) -> Option<String> {
        let Some(inner) = text.strip_prefix('\x01') else {
            return Some(text.to_owned());
        };
        let inner = inner.strip_suffix('\x01').unwrap_or(inner);
        let (verb, rest) = inner.split_once(' ').unwrap_or((inner, ""));
        let reply = match verb.to_ascii_uppercase().as_str() {
            "ACTION" => return Some(rest.to_owned()),
            "VERSION" => format!("VERSION errbot-rs {}", env!("CARGO_PKG_VERSION")),
            "PING" => format!("PING {rest}"),
            "CLIENTINFO" => "CLIENTINFO ACTION CLIENTINFO PING VERSION".to_owned(),
            _ => return None,
        };
        let reply = line(Command::NOTICE(
            from.nick.clone(),
            format!("\x01{reply}\x01"),
        ));
        let _ = self
            .outbox
            .push(outbox::PRIVATE, self.settings.private_rate, vec![reply]);
        None
    }

    /// Queues an event for errbotd.
    pub(super) fn push(&self, event: BackendEvent) {
        if let Err(e) = self.events.try_push(event) {
            tracing::warn!("event dropped: {e}");
        }
    }

    /// Tells errbotd about a room change.
    fn room_event(&self, kind: room_event::Kind, channel: &str, topic: String) {
        self.push(BackendEvent {
            kind: Some(backend_event::Kind::Room(RoomEvent {
                kind: kind as i32,
                room: Some(self.ids.room(channel)),
                topic,
                ..Default::default()
            })),
        });
    }

    /// The bot joined a channel.
    fn joined(&self, channel: &str) {
        self.with_state(|st| st.channels.joined(channel));
        self.outbox
            .urgent(line(Command::WHO(Some(channel.to_owned()), None)));
        self.resolve(&Await::Join(fold(channel)), Ok(()));
        tracing::info!("joined {channel}");
        self.room_event(room_event::Kind::Joined, channel, String::new());
    }

    /// The bot left a channel (part or kick).
    fn left(&self, channel: &str, done: Await) {
        self.with_state(|st| st.channels.left(channel));
        self.resolve(&done, Ok(()));
        self.room_event(room_event::Kind::Left, channel, String::new());
    }

    /// The bot was kicked: rejoin after the configured delay, unless told not to.
    fn kicked(self: &Arc<Self>, channel: &str, reason: &str) {
        tracing::warn!("kicked from {channel}: {reason}");
        self.left(channel, Await::Part(fold(channel)));
        let Some(delay) = self.settings.rejoin_after_kick else {
            self.with_state(|st| st.wanted.remove(&fold(channel)));
            return;
        };
        let shared = self.clone();
        let channel = channel.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let room = shared.with_state(|st| st.wanted.get(&fold(&channel)).cloned());
            if let (Some(room), true) = (room, shared.is_connected()) {
                tracing::info!("rejoining {} after the kick", room.name);
                shared
                    .outbox
                    .urgent(join_line(&room.name, room.key.as_deref()));
            }
        });
    }
}

/// A JOIN line for one channel.
pub fn join_line(channel: &str, key: Option<&str>) -> String {
    line(Command::JOIN(
        channel.to_owned(),
        key.map(str::to_owned),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::events::EventQueue;
    use tokio::io::AsyncBufReadExt;

    /// A scripted server: what it expects from the bot and what it answers.
    struct Peer {
        lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>>,
        w: tokio::net::tcp::OwnedWriteHalf,
    }

    impl Peer {
        async fn expect(&mut self, want: &str) {
            let got = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
                .await
                .expect("the bot is silent")
                .expect("read")
                .expect("the bot closed the connection");
            assert_eq!(got, want);
        }

        async fn say(&mut self, line: &str) {
            self.w
                .write_all(format!("{line}\r\n").as_bytes())
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn registers_with_sasl_around_a_taken_nick_then_identifies_and_joins() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let serde_json::Value::Object(map) = serde_json::json!({
            "server": "127.0.0.1", "port": port, "nickname": "bot", "rooms": ["#room key"],
        }) else {
            unreachable!()
        };
        let mut settings = super::super::settings::Settings::read(&map).unwrap();
        settings.sasl = Some(super::super::settings::Sasl {
            username: "acct".into(),
            password: "secret".into(),
        });
        settings.nickserv_password = Some("pw".into());
        let shared = Arc::new(Shared::new(settings, "irc", EventQueue::new()));
        let (first_tx, first_rx) = oneshot::channel();
        let task = tokio::spawn(run(shared.clone(), first_tx));

        let (socket, _) = listener.accept().await.unwrap();
        let (r, w) = socket.into_split();
        let mut peer = Peer {
            lines: tokio::io::BufReader::new(r).lines(),
            w,
        };
        peer.expect("CAP LS 302").await;
        peer.expect("NICK bot").await;
        peer.expect("USER bot 0 * errbot-rs").await;
        peer.say(":srv CAP * LS * :multi-prefix").await;
        peer.say(":srv CAP * LS :sasl=PLAIN,EXTERNAL").await;
        peer.expect("CAP REQ sasl").await;
        peer.say(":srv CAP * ACK :sasl").await;
        peer.expect("AUTHENTICATE PLAIN").await;
        peer.say("AUTHENTICATE +").await;
        peer.expect(&format!(
            "AUTHENTICATE {}",
            crate::encode::base64(b"acct\0acct\0secret")
        ))
        .await;
        peer.say(":srv 433 * bot :Nickname is already in use").await;
        peer.expect("NICK bot_").await;
        peer.say(":srv 903 * :SASL authentication successful").await;
        peer.expect("CAP END").await;
        peer.say(":srv 001 bot_ :Welcome").await;
        assert_eq!(first_rx.await.unwrap(), Ok(()));
        peer.expect("PRIVMSG NickServ :IDENTIFY pw").await;
        peer.expect("JOIN #room key").await;
        peer.say(":bot_!~bot@host.example JOIN #room").await;
        peer.expect("WHO #room").await;
        assert_eq!(shared.nick(), "bot_");
        assert_eq!(shared.bot().person, "bot_!~bot@host.example");
        assert!(shared.with_state(|st| st.channels.get("#ROOM").is_some()));
        // A PING is answered even while nothing else happens.
        peer.say("PING :abc").await;
        peer.expect("PONG abc").await;
        shared.stop.send_replace(true);
        peer.expect("QUIT :errbot-rs is stopping").await;
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_failed_sasl_fails_the_first_connection_with_the_reason() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let serde_json::Value::Object(map) =
            serde_json::json!({"server": "127.0.0.1", "port": port, "nickname": "bot"})
        else {
            unreachable!()
        };
        let mut settings = super::super::settings::Settings::read(&map).unwrap();
        settings.sasl = Some(super::super::settings::Sasl {
            username: "bot".into(),
            password: "wrong".into(),
        });
        let shared = Arc::new(Shared::new(settings, "irc", EventQueue::new()));
        let (first_tx, first_rx) = oneshot::channel();
        let task = tokio::spawn(run(shared, first_tx));
        let (socket, _) = listener.accept().await.unwrap();
        let (r, w) = socket.into_split();
        let mut peer = Peer {
            lines: tokio::io::BufReader::new(r).lines(),
            w,
        };
        peer.expect("CAP LS 302").await;
        peer.say(":srv CAP * LS :sasl").await;
        peer.expect("NICK bot").await;
        peer.expect("USER bot 0 * errbot-rs").await;
        peer.expect("CAP REQ sasl").await;
        peer.say(":srv CAP * ACK :sasl").await;
        peer.expect("AUTHENTICATE PLAIN").await;
        peer.say("AUTHENTICATE +").await;
        peer.expect(&format!(
            "AUTHENTICATE {}",
            crate::encode::base64(b"bot\0bot\0wrong")
        ))
        .await;
        peer.say(":srv 904 bot :SASL authentication failed").await;
        let outcome = first_rx.await.unwrap();
        assert_eq!(
            outcome,
            Err("SASL authentication failed: SASL authentication failed".into())
        );
        task.await.unwrap();
    }

    #[test]
    fn base64_and_sasl_chunks() {
        assert_eq!(crate::encode::base64(b""), "");
        assert_eq!(crate::encode::base64(b"f"), "Zg==");
        assert_eq!(crate::encode::base64(b"fo"), "Zm8=");
        assert_eq!(crate::encode::base64(b"foo"), "Zm9v");
        assert_eq!(crate::encode::base64(b"bot\0bot\0pw"), "Ym90AGJvdABwdw==");
        assert_eq!(sasl_chunks("abc"), ["abc"]);
        let exact = "a".repeat(400);
        assert_eq!(sasl_chunks(&exact), [exact.clone(), "+".to_owned()]);
        assert_eq!(sasl_chunks(&"a".repeat(401)).len(), 2);
    }

    #[test]
    fn cap_replies() {
        let c = cap_reply(":srv CAP * LS * :multi-prefix sasl=PLAIN").unwrap();
        assert_eq!(
            (c.sub.as_str(), c.list.as_str(), c.more),
            ("LS", "multi-prefix sasl=PLAIN", true)
        );
        let c = cap_reply(":srv CAP bot ACK :sasl").unwrap();
        assert_eq!((c.sub.as_str(), c.more), ("ACK", false));
        assert!(cap_reply(":srv PRIVMSG x :CAP").is_none());
    }

    #[test]
    fn alternative_nicks() {
        let tried: Vec<String> = (1..=5).map(|i| alternative_nick("bot", i)).collect();
        assert_eq!(tried, ["bot_", "bot__", "bot___", "bot1", "bot2"]);
    }

    #[test]
    fn lines_are_wire_lines() {
        assert_eq!(
            line(Command::PRIVMSG("#a".into(), "hi there".into())),
            "PRIVMSG #a :hi there\r\n"
        );
        assert_eq!(join_line("#a", Some("k")), "JOIN #a k\r\n");
        assert_eq!(
            line(Command::PRIVMSG("#a".into(), "x\r\nQUIT :bye\0".into())),
            "PRIVMSG #a :xQUIT :bye\r\n"
        );
        assert!(parse("").is_none());
        assert!(parse(":n!u@h PRIVMSG #a :x").is_some());
    }
}
