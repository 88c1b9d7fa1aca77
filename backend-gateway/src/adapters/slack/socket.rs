//! Socket Mode: the bot's identity (`auth.test`, where a legacy token is told apart by its
//! scopes and refused with what to create instead), then connections opened with
//! `apps.connections.open` (backoff on its errors), each a task that acknowledges every
//! envelope the moment it is read (before anything is done with it), pings Slack and takes a
//! silence for a dead connection. The manager hands envelopes to the event handler and acts on
//! `disconnect`: `warning` and `refresh_requested` open the new connection before closing the
//! old, `too_many_websockets` backs off, `link_disabled` stops and says why.

use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::Shared;
use super::transport::{self, ApiError, Frame, Socket, Token, text};

/// The scopes of a legacy token (Errbot's rule: a token whose scopes are all among these is a
/// legacy bot's or a classic app's, which only RTM served).
const LEGACY_SCOPES: &[&str] = &[
    "apps",
    "bot",
    "bot:basic",
    "client",
    "files:write:user",
    "identify",
    "post",
    "read",
];

/// The bot scopes the gateway uses; a missing one is warned about at start.
pub const NEEDED_SCOPES: &[&str] = &[
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "chat:write",
    "users:read",
    "channels:read",
    "im:write",
];

/// Whether these scopes are a legacy token's.
pub fn is_legacy(scopes: &[String]) -> bool {
    !scopes.is_empty() && scopes.iter().all(|s| LEGACY_SCOPES.contains(&s.as_str()))
}

/// What to tell the operator of a legacy token.
pub fn legacy_message(scopes: &[String]) -> String {
    format!(
        "the bot token is a legacy token (its scopes: {}): it only worked with Slack's RTM API, \
         which Slack switched off for legacy bots (2025-03-31) and classic apps (2026-05-25). \
         Create a Slack app instead (https://api.slack.com/apps, \"Create New App\"), turn on \
         Socket Mode, give its bot the scopes {}, subscribe to the events app_mention and \
         message.channels, message.groups, message.im, message.mpim, install it, and give the \
         Bot User OAuth Token (xoxb-) with bot_token_env and an app-level token (xapp-, scope \
         connections:write) with app_token_env",
        scopes.join(","),
        NEEDED_SCOPES.join(", ")
    )
}

/// What the bot says when Slack turned Socket Mode off for the app (`link_disabled`).
const LINK_DISABLED: &str = "Slack turned this app's Socket Mode off (disconnect reason \
     link_disabled), so the bot hears nothing: turn Socket Mode on again in the app's settings \
     (Settings > Socket Mode), then restart the backend";

/// Why a connection could not be opened.
enum OpenError {
    /// Trying again cannot help (a refused token, Socket Mode turned off).
    Fatal(String),
    /// Try again after at least this delay.
    Retry(String, Duration),
}

/// What a connection's task tells the manager.
enum Note {
    /// An envelope (already acknowledged).
    Envelope(Value),
    /// Slack's `disconnect` message, with its reason.
    Disconnect(String),
    /// The connection ended (closed, failed, or silent too long).
    Closed(String),
}

/// A running connection.
struct Conn {
    id: u64,
    close: Option<oneshot::Sender<()>>,
}

impl Conn {
    fn close(mut self) {
        if let Some(tx) = self.close.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs Socket Mode until the adapter stops. `first` is told how the first connection went.
pub(super) async fn run(shared: Arc<Shared>, first: oneshot::Sender<Result<(), String>>) {
    let mut first = Some(first);
    let mut stop = shared.stop.subscribe();
    let started = Instant::now();
    let s = shared.settings.clone();
    if !identified(&shared, &mut first, &mut stop).await {
        return;
    }
    let mut delay = s.reconnect_delay;
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Note)>();
    let mut next_id = 0u64;
    let mut current: Option<Conn> = None;
    loop {
        if current.is_none() {
            match shared.open().await {
                Ok(socket) => {
                    next_id += 1;
                    current = Some(spawn(&shared, next_id, socket, tx.clone()));
                    delay = s.reconnect_delay;
                    shared.set_connected(true);
                    tracing::info!("connected to Slack (Socket Mode, connection {next_id})");
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(()));
                    }
                    shared
                        .push(crate::adapters::connected_event(shared.bot()))
                        .await;
                }
                Err(OpenError::Fatal(e)) => {
                    fail(&shared, &mut first, &e);
                    return;
                }
                Err(OpenError::Retry(e, at_least)) => {
                    if first.is_some() && started.elapsed() > s.timeout {
                        fail(&shared, &mut first, &e);
                        return;
                    }
                    let wait = delay.max(at_least);
                    tracing::warn!(
                        "cannot open a Slack connection ({e}); trying again in {wait:?}"
                    );
                    if pause(&mut stop, wait).await {
                        return;
                    }
                    delay = (delay * 2).min(s.reconnect_max);
                    continue;
                }
            }
        }
        let note = tokio::select! {
            note = rx.recv() => note,
            _ = stop.changed() => None,
        };
        let Some((cid, note)) = note else {
            if let Some(c) = current.take() {
                c.close();
            }
            return;
        };
        let is_current = current.as_ref().is_some_and(|c| c.id == cid);
        match note {
            // Envelopes of every connection count: an old one's last events too.
            Note::Envelope(v) => shared.envelope(&v).await,
            Note::Disconnect(reason) if is_current => match reason.as_str() {
                "link_disabled" => {
                    if let Some(c) = current.take() {
                        c.close();
                    }
                    shared.set_connected(false);
                    tracing::error!("{LINK_DISABLED}");
                    let _ = stop.changed().await;
                    return;
                }
                "too_many_websockets" => {
                    if let Some(c) = current.take() {
                        c.close();
                    }
                    tracing::warn!(
                        "Slack refused the connection: too many websockets for this app (at \
                         most 10; is the bot running elsewhere too?); trying again in {delay:?}"
                    );
                    if pause(&mut stop, delay).await {
                        return;
                    }
                    delay = (delay * 2).min(s.reconnect_max);
                }
                _ => {
                    // `warning`, `refresh_requested` or a reason of the future: the new
                    // connection first, then the old one is closed. Its unacknowledged
                    // envelopes Slack sends again on the new one.
                    tracing::info!("Slack asks for a new connection ({reason})");
                    match shared.open().await {
                        Ok(socket) => {
                            next_id += 1;
                            let new = spawn(&shared, next_id, socket, tx.clone());
                            if let Some(old) = current.replace(new) {
                                old.close();
                            }
                            tracing::info!("switched to Slack connection {next_id}");
                        }
                        Err(OpenError::Fatal(e) | OpenError::Retry(e, _)) => {
                            // The old connection serves until it ends; then the usual
                            // reconnection takes over.
                            tracing::warn!("cannot open the new Slack connection yet: {e}");
                        }
                    }
                }
            },
            Note::Closed(reason) if is_current => {
                current = None;
                shared.set_connected(false);
                tracing::warn!(
                    "Slack connection lost ({reason}); reconnecting in {:.1} s",
                    delay.as_secs_f64()
                );
                if pause(&mut stop, delay).await {
                    return;
                }
                delay = (delay * 2).min(s.reconnect_max);
            }
            Note::Disconnect(_) | Note::Closed(_) => {}
        }
    }
}

/// Asks Slack who the bot is (`auth.test`), again with backoff while it fails on Slack's side
/// (within `timeout` at start); false when the task must end (a refused or legacy token, or
/// the adapter stopped).
pub(super) async fn identified(
    shared: &Shared,
    first: &mut Option<oneshot::Sender<Result<(), String>>>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    let s = &shared.settings;
    let started = Instant::now();
    let mut delay = s.reconnect_delay;
    loop {
        match shared.identify().await {
            Ok(()) => return true,
            Err(OpenError::Fatal(e)) => {
                fail(shared, first, &e);
                return false;
            }
            Err(OpenError::Retry(e, at_least)) => {
                if first.is_some() && started.elapsed() > s.timeout {
                    fail(shared, first, &e);
                    return false;
                }
                tracing::warn!("auth.test failed ({e}); trying again in {delay:?}");
                if pause(stop, delay.max(at_least)).await {
                    return false;
                }
                delay = (delay * 2).min(s.reconnect_max);
            }
        }
    }
}

/// Reports a failure that ends the connection task: to `Start` if it is still waiting, else
/// to the log.
pub(super) fn fail(
    shared: &Shared,
    first: &mut Option<oneshot::Sender<Result<(), String>>>,
    why: &str,
) {
    shared.set_connected(false);
    match first.take() {
        Some(f) => {
            let _ = f.send(Err(format!("cannot connect to Slack: {why}")));
        }
        None => tracing::error!("Slack: {why}; the bot stops listening"),
    }
}

/// Sleeps `delay`; true when the adapter stopped meanwhile.
async fn pause(stop: &mut tokio::sync::watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Starts the task of an open connection.
fn spawn(shared: &Shared, id: u64, socket: Socket, tx: mpsc::UnboundedSender<(u64, Note)>) -> Conn {
    let (close_tx, close_rx) = oneshot::channel();
    let s = &shared.settings;
    tokio::spawn(serve(
        id,
        socket,
        tx,
        close_rx,
        s.ping_interval,
        s.silence_timeout,
    ));
    Conn {
        id,
        close: Some(close_tx),
    }
}

/// One connection: every envelope acknowledged as soon as it is read, then handed over;
/// pings every `ping_interval`; nothing heard for `silence` (not even a pong) ends it.
async fn serve(
    id: u64,
    mut socket: Socket,
    tx: mpsc::UnboundedSender<(u64, Note)>,
    mut close: oneshot::Receiver<()>,
    ping_interval: Duration,
    silence: Duration,
) {
    let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    let end = loop {
        tokio::select! {
            frame = transport::next_frame(&mut socket) => {
                heard = Instant::now();
                let v = match frame {
                    Err(e) => break e,
                    Ok(Frame::Other) => continue,
                    Ok(Frame::Json(v)) => v,
                };
                let envelope_id = text(&v, "envelope_id");
                if !envelope_id.is_empty() {
                    let ack = json!({"envelope_id": envelope_id}).to_string();
                    if let Err(e) = socket.send(WsMessage::text(ack)).await {
                        break format!("cannot acknowledge an envelope: {e}");
                    }
                    let _ = tx.send((id, Note::Envelope(v)));
                } else if text(&v, "type") == "disconnect" {
                    let _ = tx.send((id, Note::Disconnect(text(&v, "reason"))));
                }
            }
            _ = ping.tick() => {
                if let Err(e) = socket.send(WsMessage::Ping(b"errbot".to_vec().into())).await {
                    break format!("websocket ping: {e}");
                }
            }
            () = tokio::time::sleep_until(heard + silence) => {
                break format!("nothing heard for {:.1} s", silence.as_secs_f64());
            }
            _ = &mut close => {
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                return;
            }
        }
    };
    let _ = tx.send((id, Note::Closed(end)));
}

impl Shared {
    /// `auth.test`: the bot's user and bot ids; a legacy token is refused.
    async fn identify(&self) -> Result<(), OpenError> {
        let answer = match self.api.call("auth.test", Token::Bot, &[]).await {
            Ok(a) => a,
            Err(ApiError::Slack(code)) if is_token_refusal(&code) => {
                return Err(OpenError::Fatal(format!(
                    "auth.test refused the bot token ({code}): check bot_token_env"
                )));
            }
            Err(ApiError::RateLimited(d)) => {
                return Err(OpenError::Retry("auth.test: rate limited".into(), d));
            }
            Err(e) => return Err(OpenError::Retry(format!("auth.test: {e}"), Duration::ZERO)),
        };
        let scopes = answer.scopes.unwrap_or_default();
        if is_legacy(&scopes) {
            return Err(OpenError::Fatal(legacy_message(&scopes)));
        }
        let missing: Vec<&str> = NEEDED_SCOPES
            .iter()
            .copied()
            .filter(|n| !scopes.is_empty() && !scopes.iter().any(|s| s == n))
            .collect();
        if !missing.is_empty() {
            tracing::warn!(
                "the bot token lacks the scopes {}: add them (OAuth & Permissions) and \
                 reinstall the app, or some messages will not be heard or answered",
                missing.join(", ")
            );
        }
        let b = &answer.body;
        let user_id = text(b, "user_id");
        if user_id.is_empty() {
            return Err(OpenError::Retry(
                "auth.test has no user_id".into(),
                Duration::ZERO,
            ));
        }
        let me = super::ids::User {
            id: user_id,
            name: text(b, "user"),
            ..Default::default()
        };
        tracing::info!(
            "Slack: the bot is @{} ({}) in {} ({})",
            me.name,
            me.id,
            text(b, "team"),
            text(b, "url")
        );
        self.with_state(|st| {
            st.me = me;
            st.bot_id = text(b, "bot_id");
        });
        Ok(())
    }

    /// Opens a connection: `apps.connections.open`, the websocket, and its `hello`.
    async fn open(&self) -> Result<Socket, OpenError> {
        let answer = match self
            .api
            .call("apps.connections.open", Token::App, &[])
            .await
        {
            Ok(a) => a,
            Err(ApiError::Slack(code)) if is_token_refusal(&code) => {
                return Err(OpenError::Fatal(format!(
                    "apps.connections.open refused the app-level token ({code}): check \
                     app_token_env (an xapp- token with the connections:write scope) and that \
                     Socket Mode is on"
                )));
            }
            Err(ApiError::RateLimited(d)) => {
                return Err(OpenError::Retry(
                    "apps.connections.open: rate limited".into(),
                    d,
                ));
            }
            Err(e) => {
                return Err(OpenError::Retry(
                    format!("apps.connections.open: {e}"),
                    Duration::ZERO,
                ));
            }
        };
        let url = text(&answer.body, "url");
        if url.is_empty() {
            return Err(OpenError::Retry(
                "apps.connections.open gave no url".into(),
                Duration::ZERO,
            ));
        }
        let timeout = self.settings.timeout;
        let mut socket = transport::open_websocket(&url, timeout, self.settings.proxy.as_ref())
            .await
            .map_err(|e| OpenError::Retry(e, Duration::ZERO))?;
        let deadline = Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, transport::next_frame(&mut socket))
                .await
                .map_err(|_| {
                    OpenError::Retry("no hello on the new connection".into(), Duration::ZERO)
                })?
                .map_err(|e| OpenError::Retry(e, Duration::ZERO))?;
            let Frame::Json(v) = frame else { continue };
            match text(&v, "type").as_str() {
                "hello" => return Ok(socket),
                "disconnect" => {
                    let reason = text(&v, "reason");
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                    return Err(match reason.as_str() {
                        "link_disabled" => OpenError::Fatal(LINK_DISABLED.into()),
                        "too_many_websockets" => OpenError::Retry(
                            "too many websockets for this app (at most 10; is the bot running \
                             elsewhere too?)"
                                .into(),
                            self.settings.reconnect_delay * 4,
                        ),
                        other => OpenError::Retry(
                            format!("disconnected before hello ({other})"),
                            Duration::ZERO,
                        ),
                    });
                }
                _ => {}
            }
        }
    }
}

/// Whether a Web API error says the token itself is refused (trying again cannot help).
fn is_token_refusal(code: &str) -> bool {
    matches!(
        code,
        "invalid_auth"
            | "not_authed"
            | "account_inactive"
            | "token_revoked"
            | "token_expired"
            | "not_allowed_token_type"
            | "no_permission"
            | "missing_scope"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn legacy_tokens_are_told_by_their_scopes() {
        assert!(is_legacy(&scopes("bot")));
        assert!(is_legacy(&scopes("identify,bot,read,post")));
        assert!(!is_legacy(&scopes("chat:write,app_mentions:read")));
        assert!(!is_legacy(&scopes("bot,chat:write")));
        assert!(!is_legacy(&[]));
        let m = legacy_message(&scopes("bot"));
        assert!(m.contains("legacy token") && m.contains("xapp-") && m.contains("Socket Mode"));
    }
}
