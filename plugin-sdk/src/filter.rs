//! Command filters (Errbot's `@cmdfilter`): a plugin method errbotd calls before any command
//! runs, which may let it through, rewrite it or block it.

use errbot_proto::v1;

use crate::message::{Identifier, Message};

/// A command about to run, as a `#[cmd_filter]` method sees it.
#[derive(Clone, Debug)]
pub struct CommandCall {
    request: v1::FilterRequest,
    message: Message,
}

impl CommandCall {
    /// From the protocol's request.
    pub fn new(request: v1::FilterRequest) -> Self {
        let message = Message::from(request.message.clone().unwrap_or_default());
        Self { request, message }
    }

    /// Plugin that owns the command (`Help`, `hello`...).
    pub fn plugin(&self) -> &str {
        &self.request.plugin
    }

    /// The command's registered name (words joined by `_`: `plugin_activate`).
    pub fn command(&self) -> &str {
        &self.request.command
    }

    /// The argument string (for a regex command, the whole text after the prefix).
    pub fn args(&self) -> &str {
        &self.request.args
    }

    /// True when the message named no command (filters declared with `catch_unprocessed`):
    /// [`command`](Self::command) is then the first word as typed and [`args`](Self::args) the
    /// rest. Rewrite it into a real command ([`Filter::rewrite`]) for an alias, or answer it
    /// ([`Filter::deny`]) instead of the "not found" reply; [`Filter::pass`] leaves it alone.
    pub fn is_unprocessed(&self) -> bool {
        self.request.unprocessed
    }

    /// Whether it is a regex command (rewriting its arguments has no effect).
    pub fn is_regex(&self) -> bool {
        self.request.regex
    }

    /// The message that asked for the command.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Who asked.
    pub fn sender(&self) -> &Identifier {
        self.message.sender()
    }

    /// Whether the sender is a bot admin.
    pub fn sender_is_admin(&self) -> bool {
        self.request.sender_is_admin
    }

    /// Which filter of the plugin is asked (the method's name).
    pub fn filter(&self) -> &str {
        &self.request.filter
    }
}

/// What a command filter decides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Filter {
    block: bool,
    command: Option<String>,
    args: Option<String>,
    reply: Option<String>,
}

impl Filter {
    /// Let the command run as it is.
    pub fn pass() -> Self {
        Self::default()
    }

    /// Do not run the command, and say nothing.
    pub fn block() -> Self {
        Self {
            block: true,
            ..Self::default()
        }
    }

    /// Do not run the command, and tell the sender why.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::block().reply(reason)
    }

    /// Run another command instead (registered name or the words people type); the access
    /// rules are checked again for it.
    pub fn rewrite(command: impl Into<String>, args: impl Into<String>) -> Self {
        Self {
            command: Some(command.into()),
            args: Some(args.into()),
            ..Self::default()
        }
    }

    /// Run the same command with other arguments.
    pub fn with_args(args: impl Into<String>) -> Self {
        Self {
            args: Some(args.into()),
            ..Self::default()
        }
    }

    /// Also send `text` to the sender.
    pub fn reply(mut self, text: impl Into<String>) -> Self {
        self.reply = Some(text.into());
        self
    }

    /// The protocol's response.
    pub fn into_proto(self) -> v1::FilterResponse {
        let action = if self.block {
            v1::filter_response::Action::Block
        } else {
            v1::filter_response::Action::Continue
        };
        v1::FilterResponse {
            action: action as i32,
            command: self.command.unwrap_or_default(),
            args: self.args,
            reply: self.reply.unwrap_or_default(),
        }
    }
}

/// What a `#[cmd_filter]` method may return: a [`Filter`], or `Option<Filter>` (`None` passes).
pub trait IntoFilter {
    /// The decision.
    fn into_filter(self) -> Filter;
}

impl IntoFilter for Filter {
    fn into_filter(self) -> Filter {
        self
    }
}

impl IntoFilter for Option<Filter> {
    fn into_filter(self) -> Filter {
        self.unwrap_or_default()
    }
}
