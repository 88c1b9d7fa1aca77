//! The console on a terminal: a line editor with history and Tab completion of commands.
//! Messages go to the bot as they are typed; replies are printed above the prompt as they come.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Config, Editor, ExternalPrinter, Helper};

use super::Shared;
use super::session::{Session, Step};

/// How long Ctrl-D waits for replies still on their way before asking to shut down.
const DRAIN: Duration = Duration::from_secs(5);

/// Completes the command being typed at the start of the line.
pub struct CommandCompleter {
    candidates: Arc<RwLock<Vec<String>>>,
}

impl Completer for CommandCompleter {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let typed = line.get(..pos).unwrap_or(line);
        if typed.is_empty() {
            return Ok((0, Vec::new()));
        }
        let candidates = self
            .candidates
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Multi-word commands ("plugin config") complete from the start of the line.
        let found = candidates
            .iter()
            .filter(|c| c.starts_with(typed))
            .cloned()
            .collect();
        Ok((0, found))
    }
}

impl Hinter for CommandCompleter {
    type Hint = String;
}

impl Highlighter for CommandCompleter {}

impl Validator for CommandCompleter {}

impl Helper for CommandCompleter {}

/// The editor type the console uses.
pub type ConsoleEditor = Editor<CommandCompleter, DefaultHistory>;

/// Creates the line editor (loading the history file, if any) and its printer for replies.
pub fn editor(
    candidates: Arc<RwLock<Vec<String>>>,
    history: Option<&Path>,
) -> rustyline::Result<(ConsoleEditor, Box<dyn ExternalPrinter + Send>)> {
    let config = Config::builder()
        .max_history_size(1000)?
        .history_ignore_dups(true)?
        .history_ignore_space(true)
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut editor = ConsoleEditor::with_config(config)?;
    editor.set_helper(Some(CommandCompleter { candidates }));
    if let Some(path) = history {
        match editor.load_history(path) {
            Ok(()) => {}
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("console history {}: {e}", path.display()),
        }
    }
    let printer = editor.create_external_printer()?;
    Ok((editor, Box::new(printer)))
}

/// The editor loop (on its own thread): reads lines until Ctrl-D, then asks errbotd to stop.
pub fn run(
    mut editor: ConsoleEditor,
    mut session: Session,
    shared: Arc<Shared>,
    history: Option<PathBuf>,
    runtime: tokio::runtime::Handle,
) {
    let p = session.prefix();
    shared.say(&format!(
        "You are {}, in a one-on-one conversation with the bot. Console commands: {p}inroom [#room], \
         {p}inperson, {p}asuser [name], {p}asadmin, {p}ml (multi-line). Tab completes commands; \
         Ctrl-D quits.",
        session.user()
    ));
    let reason = loop {
        match editor.readline(&session.prompt()) {
            Ok(line) => {
                if !line.trim().is_empty()
                    && editor.add_history_entry(line.as_str()).unwrap_or(false)
                    && let Some(path) = &history
                    && let Err(e) = editor.append_history(path)
                {
                    tracing::warn!("console history {}: {e}", path.display());
                }
                match session.feed(&line) {
                    Step::Wait => {}
                    Step::Say(text) => shared.say(&text),
                    Step::Send(out) => {
                        if let Err(e) = runtime.block_on(shared.inject(*out)) {
                            shared.say(&format!("(not sent: {e})"));
                        }
                    }
                }
            }
            // Ctrl-C clears the line (and a multi-line message being typed).
            Err(ReadlineError::Interrupted) => session.discard(),
            Err(ReadlineError::Eof) => break "end of console input (Ctrl-D)".to_owned(),
            Err(e) => {
                tracing::error!("console input failed: {e}");
                break format!("console input failed: {e}");
            }
        }
    };
    runtime.block_on(async {
        if let Some(out) = session.finish()
            && let Err(e) = shared.inject(out).await
        {
            tracing::warn!("last message not sent: {e}");
        }
        if tokio::time::timeout(DRAIN, shared.inflight.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} message(s) still unanswered at exit",
                shared.inflight.len()
            );
        }
        shared.request_shutdown(&reason).await;
    });
}
