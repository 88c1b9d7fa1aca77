//! The text console (backend kind "console"), Errbot's text backend.
//!
//! On a terminal it is a line editor (history, Tab completion, replies printed above the prompt,
//! messages sent as they are typed). With piped input (or on a terminal the line editor cannot
//! drive, `TERM=dumb`) it reads one message per line, waits for
//! each to be processed before reading the next, prints only the replies on stdout, and asks
//! errbotd to shut down at the end of the input.
//!
//! When stdout is a terminal, replies are drawn for it (styles, colours when it has them, tables
//! and cards in boxes, lines fitted to its width); otherwise they are printed as they came,
//! byte for byte, so that scripts reading the output keep working.

mod card;
mod draw;
pub mod fuzzing;
mod markdown;
mod piped;
pub mod session;
mod term;
mod terminal;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use errbot_proto::v1::{
    BackendInfo, Identifier, Message, ProcessedRequest, SendRequest, StartRequest,
};
use serde::Deserialize;
use tonic::Status;

use super::{Adapter, Context, Ids};
use crate::events::{EventQueue, PushError};
use crate::inflight::{Completion, InFlight};
use crate::{render, text_ids};
use session::{Outgoing, Session};

/// The room `!inroom` joins when none is given and no `room` setting exists.
pub const DEFAULT_ROOM: &str = "testroom";
/// The sender when no admin is a plain name and no `user` setting exists.
pub const DEFAULT_ADMIN: &str = "admin";

const SETTINGS: &[&str] = &["user", "room", "history_file"];

/// The console's settings (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Settings {
    /// Who the console starts as (`@name`); default: the first plain-name admin.
    user: Option<String>,
    /// The room `!inroom` joins without argument (`#room`); default `#testroom`.
    room: Option<String>,
    /// Line-editor history file; no history is kept without it.
    history_file: Option<PathBuf>,
}

/// Checks the console's settings for `errbot-gateway check`.
pub fn check(map: &serde_json::Map<String, serde_json::Value>) -> Vec<crate::settings::Problem> {
    let mut f = crate::settings::Fields::new(map);
    if let Some(u) = f.string("user")
        && text_ids::person_name(&u).is_none()
    {
        f.problem("user", format!("expected @name, found {u:?}"));
    }
    if let Some(r) = f.string("room")
        && text_ids::room_name(&r).is_none()
    {
        f.problem("room", format!("expected #room, found {r:?}"));
    }
    let _ = f.string("history_file");
    f.finish()
}

/// Where replies are printed.
enum Output {
    /// stdout, one reply per line, flushed (piped mode).
    Stdout,
    /// Above the line editor's prompt.
    Terminal(Mutex<Box<dyn rustyline::ExternalPrinter + Send>>),
}

/// What the input loop and errbotd's calls share.
struct Shared {
    backend: String,
    events: EventQueue,
    inflight: InFlight,
    ids: Ids,
    output: Output,
    /// Draws replies when stdout is a terminal; `None` prints them as they came.
    painter: Option<draw::Painter>,
}

impl Shared {
    /// Prints a reply or a confirmation.
    fn print(&self, text: &str) -> std::io::Result<()> {
        match &self.output {
            Output::Stdout => tokio::task::block_in_place(|| {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.write_all(b"\n")?;
                out.flush()
            }),
            Output::Terminal(printer) => {
                let mut printer = printer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                printer
                    .print(text.to_owned())
                    .map_err(std::io::Error::other)
            }
        }
    }

    /// Prints, logging a failure instead of returning it.
    fn say(&self, text: &str) {
        if let Err(e) = self.print(text) {
            tracing::warn!("console output failed: {e}");
        }
    }

    /// Queues a message for the bot; the completion fires when errbotd has processed it.
    async fn inject(&self, out: Outgoing) -> Result<Completion, PushError> {
        let id = self.ids.next();
        let done = self.inflight.register(&id, false);
        let mentions = text_ids::mentions(&self.backend, &out.body);
        let message = Message {
            id: id.clone(),
            from: Some(out.from),
            to: Some(out.to),
            body: out.body,
            direct: out.direct,
            timestamp_ms: super::now_ms(),
            mentions,
            ..Default::default()
        };
        if let Err(e) = self.events.push(super::message_event(message)).await {
            self.inflight.cancel(&id);
            return Err(e);
        }
        Ok(done)
    }

    /// Asks errbotd to shut the bot down.
    async fn request_shutdown(&self, reason: &str) {
        if let Err(e) = self.events.push(super::shutdown_event(reason)).await {
            tracing::warn!("could not request shutdown: {e}");
        }
    }
}

/// The console adapter.
pub struct Console {
    shared: Arc<Shared>,
    sent: Ids,
    prefix: String,
    completions: Arc<RwLock<Vec<String>>>,
    /// The terminal's settings before the line editor ran, restored at stop.
    saved_terminal: Mutex<Option<nix::sys::termios::Termios>>,
}

impl Console {
    /// Starts reading the terminal or stdin.
    pub async fn start(ctx: Context) -> Result<Arc<Self>, Status> {
        let settings: Settings = ctx.settings(SETTINGS)?;
        let request = &ctx.request;
        let prefix = if request.bot_prefix.is_empty() {
            "!"
        } else {
            request.bot_prefix.as_str()
        };
        let admin = request
            .bot_admins
            .iter()
            .filter(|a| !a.contains(['*', '?', '[']))
            .find_map(|a| text_ids::person_name(a))
            .unwrap_or(DEFAULT_ADMIN)
            .to_owned();
        let user = match &settings.user {
            Some(u) => text_ids::person_name(u)
                .ok_or_else(|| {
                    Status::invalid_argument(format!("console setting user {u:?}: expected @name"))
                })?
                .to_owned(),
            None => admin.clone(),
        };
        let room = match &settings.room {
            Some(r) => text_ids::room_name(r).ok_or_else(|| {
                Status::invalid_argument(format!("console setting room {r:?}: expected #room"))
            })?,
            None => DEFAULT_ROOM,
        };
        let session = Session::new(&ctx.backend, prefix, &admin, &user, room);
        let completions = Arc::new(RwLock::new(completions(prefix, &request.command_names)));

        let saved = nix::sys::termios::tcgetattr(std::io::stdin()).ok();
        let editor = if std::io::stdin().is_terminal() {
            match terminal::editor(completions.clone(), settings.history_file.as_deref()) {
                Ok(editor) => Some(editor),
                // The line editor refuses terminals it cannot drive (TERM=dumb): lines are then
                // read as from a pipe, which the terminal itself lets the user edit.
                Err(e) => {
                    tracing::warn!("console: no line editor on this terminal ({e})");
                    None
                }
            }
        } else {
            None
        };
        let interactive = editor.is_some();
        let (output, editor, saved_terminal) = match editor {
            Some((editor, printer)) => (Output::Terminal(Mutex::new(printer)), Some(editor), saved),
            None => (Output::Stdout, None, None),
        };
        let shared = Arc::new(Shared {
            backend: ctx.backend.clone(),
            events: ctx.events.clone(),
            inflight: InFlight::new(),
            ids: Ids::default(),
            output,
            painter: std::io::stdout()
                .is_terminal()
                .then(|| draw::Painter::new(term::Look::detect())),
        });
        let bot = text_ids::bot(&ctx.backend);
        if let Err(e) = shared.events.push(super::connected_event(bot)).await {
            tracing::warn!("could not queue the connected event: {e}");
        }
        match editor {
            Some(editor) => {
                let handle = tokio::runtime::Handle::current();
                let history = settings.history_file.clone();
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name("console-editor".into())
                    .spawn(move || terminal::run(editor, session, shared, history, handle))
                    .map_err(|e| {
                        Status::internal(format!("console: cannot start the editor: {e}"))
                    })?;
            }
            None => {
                tokio::spawn(piped::run(session, shared.clone()));
            }
        }
        tracing::info!(
            "text console ready ({}), talking as @{user}",
            if interactive {
                "terminal"
            } else {
                "piped input"
            }
        );
        Ok(Arc::new(Self {
            shared,
            sent: Ids::default(),
            prefix: prefix.to_owned(),
            completions,
            saved_terminal: Mutex::new(saved_terminal),
        }))
    }
}

/// Tab completion candidates: the bot's commands and the console commands, with the prefix.
fn completions(prefix: &str, names: &[String]) -> Vec<String> {
    let mut all: Vec<String> = names
        .iter()
        .map(String::as_str)
        .chain(session::COMMANDS.iter().copied())
        .map(|n| format!("{prefix}{n}"))
        .collect();
    all.sort();
    all.dedup();
    all
}

#[tonic::async_trait]
impl Adapter for Console {
    fn kind(&self) -> &'static str {
        "console"
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            bot: Some(text_ids::bot(&self.shared.backend)),
            message_size_limit: 0,
            limit_in_bytes: false,
            description: "text console".to_owned(),
            // As Errbot's text backend: "@name " (a person's id is "@name").
            nick_prefix: "{person} ".to_owned(),
        }
    }

    fn update(&self, request: &StartRequest) {
        let prefix = if request.bot_prefix.is_empty() {
            &self.prefix
        } else {
            &request.bot_prefix
        };
        let fresh = completions(prefix, &request.command_names);
        *self
            .completions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
    }

    async fn send(&self, request: SendRequest) -> Result<String, Status> {
        if request
            .content
            .as_ref()
            .and_then(|c| c.kind.as_ref())
            .is_none()
        {
            return Err(Status::invalid_argument("content is required"));
        }
        let text = match &self.shared.painter {
            Some(painter) => painter.draw_now(request.content.as_ref()),
            None => render::text(request.content.as_ref()),
        };
        self.shared
            .print(&text)
            .map_err(|e| Status::unavailable(format!("console output failed: {e}")))?;
        Ok(format!("out-{}", self.sent.next()))
    }

    fn processed(&self, request: &ProcessedRequest) {
        self.shared.inflight.complete(&request.message_id);
    }

    fn build_identifier(&self, text: &str) -> Result<Identifier, Status> {
        text_ids::parse(&self.shared.backend, text).map_err(Status::invalid_argument)
    }

    async fn stop(&self) {
        let saved = self
            .saved_terminal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(termios) = saved {
            // The editor may be waiting for a key in raw mode: give the terminal back as it was.
            let stdin = std::io::stdin();
            if let Err(e) =
                nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &termios)
            {
                tracing::warn!("could not restore the terminal: {e}");
            }
            let _ = std::io::stdout().write_all(b"\n");
            let _ = std::io::stdout().flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_have_the_prefix_and_the_console_commands() {
        let all = completions("!", &["help".into(), "plugin config".into(), "help".into()]);
        assert!(all.contains(&"!help".to_owned()));
        assert!(all.contains(&"!plugin config".to_owned()));
        assert!(all.contains(&"!inroom".to_owned()));
        assert_eq!(all.iter().filter(|c| *c == "!help").count(), 1);
    }
}
