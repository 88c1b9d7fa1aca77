//! Plugins for the callback tests (one binary, two plugins, chosen by the child contract's
//! name): `listener` declares every callback, `quiet` only `message`. Each records the events
//! it gets in its storage, one line per event, and answers `!events` / `!quietevents` with them.
//! A message containing `slowcb` makes the listener's message callback take 3 s, one containing
//! `hangcb` makes it take 60 s (past any deadline the tests set).

use std::time::Duration;

use errbot_plugin_sdk::prelude::*;
use errbot_plugin_sdk::{CallbackKind, Event, Reply};

/// One line describing `event`.
fn line(event: &Event) -> String {
    let kind = match event.kind() {
        CallbackKind::Connect => "connect",
        CallbackKind::Message => "message",
        CallbackKind::Mention => "mention",
        CallbackKind::Presence => "presence",
        CallbackKind::Reaction => "reaction",
        CallbackKind::RoomJoined => "room_joined",
        CallbackKind::RoomLeft => "room_left",
        CallbackKind::RoomTopic => "room_topic",
        CallbackKind::BotMessage => "bot_message",
        CallbackKind::Unhandled => "unhandled",
        _ => "other",
    };
    let subject = event.subject().map(|s| s.to_string()).unwrap_or_default();
    // The first line only: the bot's replies to `!events` list every event.
    let body: String = event
        .message()
        .and_then(|m| m.body().lines().next())
        .unwrap_or_default()
        .chars()
        .take(80)
        .collect();
    let extra = if let Some(r) = event.reaction() {
        format!("{}:{}:{}", r.reaction, r.message_id, r.added)
    } else if let Some(p) = event.presence() {
        format!("{}:{}", p.status, p.message)
    } else if let Some(m) = event.membership() {
        let name = |who: &Option<errbot_plugin_sdk::Identifier>| {
            who.as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string)
        };
        format!("{} by {}", name(&m.who), name(&m.by))
    } else {
        event.detail().to_owned()
    };
    format!("{kind}|{}|{subject}|{extra}|{body}", event.backend())
}

async fn record(event: &Event) -> Result<(), String> {
    let entry = line(event);
    event
        .storage()
        .update("events", |old: Option<Vec<String>>| {
            let mut all = old.unwrap_or_default();
            all.push(entry.clone());
            all
        })
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

async fn events(ctx: &Context) -> String {
    let all: Vec<String> = ctx
        .storage()
        .get("events")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    if all.is_empty() {
        "(none)".to_owned()
    } else {
        all.join("\n")
    }
}

/// Declares every callback.
pub struct Listener;

/// Records every callback it gets.
#[plugin(name = "listener")]
impl Listener {
    #[callback(
        connect,
        message,
        mention,
        presence,
        reaction,
        room_joined,
        room_left,
        room_topic,
        bot_message,
        unhandled
    )]
    async fn on_event(&self, event: &Event) -> Result<(), String> {
        let body = event
            .message()
            .map(|m| m.body().to_owned())
            .unwrap_or_default();
        if event.kind() == CallbackKind::Message && body.contains("hangcb") {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        if event.kind() == CallbackKind::Message && body.contains("slowcb") {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        if event.kind() == CallbackKind::Message && body.contains("failcb") {
            return Err("this callback fails on purpose".into());
        }
        record(event).await
    }

    /// Warn the admins: `!alarm TEXT` (Errbot's warn_admins).
    #[command]
    async fn alarm(&self, ctx: &Context, text: Rest) -> Result<String, String> {
        ctx.warn_admins(text.to_string())
            .await
            .map_err(|e| e.to_string())?;
        Ok("The admins were warned.".to_owned())
    }

    /// The forecast for a city, through templates/forecast.md.
    #[command(template = "forecast")]
    async fn forecast(&self, city: String) -> Reply {
        Reply::template("", serde_json::json!({"city": city, "temps": [21, 23]}))
    }

    /// A template that does not exist: a failure the sender is told about.
    #[command]
    async fn badtemplate(&self) -> Reply {
        Reply::template("missing", serde_json::json!({}))
    }

    /// The forecast sent with BotService.Send (Errbot's send_templated) to the sender.
    #[command]
    async fn sendforecast(&self, ctx: &Context) -> Result<String, String> {
        let params = serde_json::json!({"city": "Lyon", "temps": [18]});
        ctx.bot()
            .send_to(ctx.sender(), Reply::template("forecast", params))
            .await
            .map_err(|e| e.to_string())?;
        Ok("sent".to_owned())
    }

    /// A reply in the message's thread.
    #[command]
    async fn threaded(&self) -> Reply {
        Reply::text("in a thread").in_thread()
    }

    /// A file to where the command came from.
    #[command]
    async fn upload(&self, ctx: &Context) -> Result<String, String> {
        let to = ctx.room().unwrap_or(ctx.sender()).clone();
        let id = ctx
            .bot()
            .send_file(&to, "report.txt", "text/plain", b"hello file".to_vec())
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("uploaded as {id}"))
    }

    /// A file into the command's thread (one is started from the command if it was in none).
    #[command]
    async fn upthread(&self, ctx: &Context) -> Result<String, String> {
        let id = ctx
            .bot()
            .send_file_in_thread(
                ctx.message(),
                "notes.txt",
                "text/plain",
                b"in a thread".to_vec(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("uploaded {id} in the thread"))
    }

    /// The names of the files shared with the command (from Slack's raw event).
    #[command]
    async fn attached(&self, ctx: &Context) -> String {
        let event: serde_json::Value = ctx
            .message()
            .extras()
            .get("slack_event")
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or_default();
        let names: Vec<&str> = event["files"]
            .as_array()
            .map(|files| files.iter().filter_map(|f| f["name"].as_str()).collect())
            .unwrap_or_default();
        format!("files: {}", names.join(", "))
    }

    /// A reaction on the command's own message.
    #[command]
    async fn thumbs(&self, ctx: &Context) -> Result<String, String> {
        ctx.bot()
            .react(ctx.message(), ":thumbsup:")
            .await
            .map_err(|e| e.to_string())?;
        Ok("reacted".to_owned())
    }

    /// The bot's presence: away, with a status text.
    #[command]
    async fn away(&self, ctx: &Context) -> Result<String, String> {
        let unsupported = ctx
            .bot()
            .set_presence("away", "out for lunch", "")
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("presence set; unsupported: {unsupported:?}"))
    }

    /// The events the listener got, one per line.
    #[command]
    async fn events(&self, ctx: &Context) -> String {
        events(ctx).await
    }
}

/// Declares the message callback only.
pub struct Quiet;

/// Records the messages it gets.
#[plugin(name = "quiet")]
impl Quiet {
    #[callback(message)]
    async fn on_message(&self, event: &Event) -> Result<(), String> {
        record(event).await
    }

    /// The events the quiet plugin got, one per line.
    #[command]
    async fn quietevents(&self, ctx: &Context) -> String {
        events(ctx).await
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match std::env::var(errbot_proto::contract::ENV_NAME).as_deref() {
        Ok("quiet") => errbot_plugin_sdk::serve(Quiet).await,
        _ => errbot_plugin_sdk::serve(Listener).await,
    }
}
