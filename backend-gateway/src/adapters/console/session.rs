//! The console's conversation state: who is talking, where, in which input mode, and the
//! console-only commands that change it (Errbot's `TextModeCmds`).

use errbot_proto::v1::Identifier;

use crate::text_ids;

/// The console-only commands, intercepted by the gateway (with the bot prefix).
pub const COMMANDS: &[&str] = &["inroom", "inperson", "asuser", "asadmin", "ml"];

/// The sender `!asuser` without a name switches to (as in Errbot).
pub const DEFAULT_USER: &str = "luser";

/// A message ready to go to the bot.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    /// The text typed.
    pub body: String,
    /// The sender: a person, or an occupant when in a room.
    pub from: Identifier,
    /// The bot (direct message) or the room.
    pub to: Identifier,
    /// True for a direct message.
    pub direct: bool,
}

/// What to do with a line of input.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Nothing yet (an empty line, or a line added to a multi-line message).
    Wait,
    /// A console command ran: print this confirmation.
    Say(String),
    /// Send this message to the bot.
    Send(Box<Outgoing>),
}

/// The console's state.
pub struct Session {
    backend: String,
    prefix: String,
    admin: String,
    default_room: String,
    user: String,
    room: Option<String>,
    multiline: bool,
    pending: Option<String>,
}

impl Session {
    /// A session talking one-on-one with the bot as `user`; `admin` is who `!asadmin` restores
    /// and `default_room` where `!inroom` without argument goes (bare names, no `@`/`#`).
    pub fn new(backend: &str, prefix: &str, admin: &str, user: &str, default_room: &str) -> Self {
        Self {
            backend: backend.to_owned(),
            prefix: prefix.to_owned(),
            admin: admin.to_owned(),
            default_room: default_room.to_owned(),
            user: user.to_owned(),
            room: None,
            multiline: false,
            pending: None,
        }
    }

    /// Takes one line of input (without its line ending).
    pub fn feed(&mut self, line: &str) -> Step {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if self.pending.is_none()
            && let Some(confirmation) = self.console_command(line)
        {
            return Step::Say(confirmation);
        }
        let blank = line.trim().is_empty();
        if !self.multiline {
            return if blank {
                Step::Wait
            } else {
                Step::Send(Box::new(self.outgoing(line.to_owned())))
            };
        }
        if blank {
            return match self.pending.take() {
                Some(body) => Step::Send(Box::new(self.outgoing(body))),
                None => Step::Wait,
            };
        }
        match &mut self.pending {
            Some(body) => {
                body.push('\n');
                body.push_str(line);
            }
            None => self.pending = Some(line.to_owned()),
        }
        Step::Wait
    }

    /// End of input: the multi-line message being typed, if any.
    pub fn finish(&mut self) -> Option<Outgoing> {
        self.pending.take().map(|body| self.outgoing(body))
    }

    /// Drops the multi-line message being typed (Ctrl-C).
    pub fn discard(&mut self) {
        self.pending = None;
    }

    /// The prompt: `[@admin ➡ @errbot] >>> `, or `... ` while a multi-line message goes on.
    pub fn prompt(&self) -> String {
        let (from, to) = self.parties();
        let mark = if self.pending.is_some() { "..." } else { ">>>" };
        format!("[{} ➡ {}] {mark} ", from.display, to.display)
    }

    /// The bot's command prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Who the current user is (display form).
    pub fn user(&self) -> String {
        format!("@{}", self.user)
    }

    fn parties(&self) -> (Identifier, Identifier) {
        match &self.room {
            Some(room) => (
                text_ids::occupant(&self.backend, room, &self.user),
                text_ids::room(&self.backend, room),
            ),
            None => (
                text_ids::person(&self.backend, &self.user),
                text_ids::bot(&self.backend),
            ),
        }
    }

    fn outgoing(&self, body: String) -> Outgoing {
        let (from, to) = self.parties();
        Outgoing {
            body,
            from,
            to,
            direct: self.room.is_none(),
        }
    }

    /// Runs a console command if `line` is one; returns its confirmation.
    fn console_command(&mut self, line: &str) -> Option<String> {
        let rest = line.trim().strip_prefix(self.prefix.as_str())?;
        let (command, args) = match rest.split_once(char::is_whitespace) {
            Some((c, a)) => (c, a.trim()),
            None => (rest, ""),
        };
        Some(match command {
            "inroom" => {
                let wanted = if args.is_empty() {
                    self.default_room.as_str()
                } else {
                    args
                };
                match text_ids::room_name(wanted) {
                    Some(room) => {
                        self.room = Some(room.to_owned());
                        format!("Joined Room #{room}.")
                    }
                    None => format!(
                        "Invalid room name {wanted:?}: use {}inroom #room.",
                        self.prefix
                    ),
                }
            }
            "inperson" => {
                self.room = None;
                "Now in one-on-one with the bot.".to_owned()
            }
            "asuser" => {
                let wanted = if args.is_empty() { DEFAULT_USER } else { args };
                match text_ids::person_name(wanted) {
                    Some(name) => {
                        self.user = name.to_owned();
                        format!("You are now: @{name}.")
                    }
                    None => format!(
                        "Invalid user name {wanted:?}: use {}asuser @name.",
                        self.prefix
                    ),
                }
            }
            "asadmin" => {
                self.user = self.admin.clone();
                format!("You are now an admin: @{}.", self.admin)
            }
            "ml" => {
                self.multiline = !self.multiline;
                if self.multiline {
                    "Multiline mode, press enter twice to end messages".to_owned()
                } else {
                    "Normal one line mode.".to_owned()
                }
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new("console", "!", "boss", "boss", "testroom")
    }

    fn sent(step: Step) -> Outgoing {
        match step {
            Step::Send(o) => *o,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn said(step: Step) -> String {
        match step {
            Step::Say(s) => s,
            other => panic!("expected a confirmation, got {other:?}"),
        }
    }

    #[test]
    fn direct_then_room_then_other_user() {
        let mut s = session();
        let m = sent(s.feed("!hello"));
        assert_eq!(
            (m.from.display.as_str(), m.to.display.as_str(), m.direct),
            ("@boss", "@errbot", true)
        );
        assert_eq!(s.prompt(), "[@boss ➡ @errbot] >>> ");
        assert_eq!(said(s.feed("!inroom")), "Joined Room #testroom.");
        assert_eq!(said(s.feed("!inroom #ops")), "Joined Room #ops.");
        let m = sent(s.feed("hi all\r"));
        assert_eq!(m.body, "hi all");
        assert_eq!(
            (m.from.display.as_str(), m.to.display.as_str(), m.direct),
            ("#ops/boss", "#ops", false)
        );
        assert_eq!(m.from.person, "@boss");
        assert_eq!(said(s.feed("!asuser bob")), "You are now: @bob.");
        assert_eq!(sent(s.feed("x")).from.display, "#ops/bob");
        assert_eq!(said(s.feed("!asuser")), "You are now: @luser.");
        assert_eq!(said(s.feed("!inperson")), "Now in one-on-one with the bot.");
        assert_eq!(sent(s.feed("y")).from.display, "@luser");
        assert_eq!(said(s.feed("!asadmin")), "You are now an admin: @boss.");
        assert_eq!(s.user(), "@boss");
        assert_eq!(s.feed("   "), Step::Wait);
        assert!(said(s.feed("!inroom #a/b")).starts_with("Invalid room name"));
        assert_eq!(
            sent(s.feed("!inroomx")).body,
            "!inroomx",
            "not a console command"
        );
    }

    #[test]
    fn multiline_mode_joins_lines_until_an_empty_one() {
        let mut s = session();
        assert_eq!(
            said(s.feed("!ml")),
            "Multiline mode, press enter twice to end messages"
        );
        assert_eq!(s.feed(""), Step::Wait);
        assert_eq!(s.feed("!echo one"), Step::Wait);
        assert_eq!(s.prompt(), "[@boss ➡ @errbot] ... ");
        assert_eq!(s.feed("!inroom"), Step::Wait, "inside a message it is text");
        assert_eq!(sent(s.feed("")).body, "!echo one\n!inroom");
        assert_eq!(s.feed("tail"), Step::Wait);
        assert_eq!(
            sent(
                s.finish()
                    .map(|o| Step::Send(Box::new(o)))
                    .unwrap_or(Step::Wait)
            )
            .body,
            "tail"
        );
        assert_eq!(said(s.feed("!ml")), "Normal one line mode.");
        s.feed("!ml");
        s.feed("dropped");
        s.discard();
        assert!(s.finish().is_none());
    }
}
