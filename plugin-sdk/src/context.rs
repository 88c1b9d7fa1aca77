//! The invocation of a command: who asked, what they wrote, and how to answer.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};

use errbot_proto::v1;

use crate::bot::{Bot, BotError};
use crate::flow::FlowContext;
use crate::message::{Identifier, Message};
use crate::reply::{Card, Reply, ReplySink};

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What every handler of one plugin process shares.
#[derive(Debug)]
pub(crate) struct Runtime {
    pub(crate) bot: Bot,
    pub(crate) prefix: OnceLock<String>,
}

impl Runtime {
    pub(crate) fn prefix(&self) -> &str {
        self.prefix.get().map_or("!", String::as_str)
    }
}

/// One invocation of a command: the message, its arguments, and ways to answer.
///
/// Handlers receive `&Context`; it is cheap to clone (for example into a spawned task that
/// calls [`reply`](Self::reply) later, as long as the command has not returned yet).
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    command: String,
    message: Message,
    args: String,
    argv: Vec<String>,
    params: HashMap<String, v1::ParamValues>,
    matches: Vec<Match>,
    invocation_id: String,
    is_admin: bool,
    runtime: Arc<Runtime>,
    sink: ReplySink,
    flow: Option<FlowState>,
}

/// The flow a command runs in as a step, and its context as the command leaves it.
struct FlowState {
    name: String,
    context: std::sync::Mutex<(FlowContext, bool)>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("command", &self.inner.command)
            .field("args", &self.inner.args)
            .field("sender", &self.inner.message.sender().display())
            .finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn new(request: v1::ExecuteRequest, runtime: Arc<Runtime>) -> Self {
        Self {
            inner: Arc::new(Inner {
                command: request.command,
                message: request.message.map(Message::from).unwrap_or_default(),
                args: request.args,
                argv: request.argv,
                params: request.params,
                // Same layout: collected in place, no new allocation.
                matches: request.matches.into_iter().map(Match).collect(),
                invocation_id: request.invocation_id,
                is_admin: request.sender_is_admin,
                runtime,
                sink: ReplySink::default(),
                flow: request.flow.map(|f| FlowState {
                    context: std::sync::Mutex::new((
                        FlowContext::from_json(&f.context_json),
                        false,
                    )),
                    name: f.name,
                }),
            }),
        }
    }

    /// The command's name as declared (`plugin_config`).
    pub fn command(&self) -> &str {
        &self.inner.command
    }
    /// The message that triggered the command.
    pub fn message(&self) -> &Message {
        &self.inner.message
    }
    /// Who sent the command.
    pub fn sender(&self) -> &Identifier {
        self.inner.message.sender()
    }
    /// The sender's nick (falls back to the person id).
    pub fn sender_nick(&self) -> &str {
        let sender = self.sender();
        if sender.nick().is_empty() {
            sender.person()
        } else {
            sender.nick()
        }
    }
    /// The room the command was written in; `None` in a direct message.
    pub fn room(&self) -> Option<&Identifier> {
        self.inner.message.room()
    }
    /// True when the command came in a direct message.
    pub fn is_direct(&self) -> bool {
        self.inner.message.is_direct()
    }
    /// The whole text of the message.
    pub fn body(&self) -> &str {
        self.inner.message.body()
    }
    /// The argument string: everything after the command name, inner whitespace kept.
    pub fn args(&self) -> &str {
        &self.inner.args
    }
    /// The arguments split per the command's mode (`split`, `shell`; whitespace by default).
    pub fn argv(&self) -> &[String] {
        &self.inner.argv
    }
    /// The raw values errbotd parsed for declared parameter `name` (usually you take typed
    /// parameters instead).
    pub fn param_values(&self, name: &str) -> &[String] {
        self.inner.params.get(name).map_or(&[], |v| &v.values)
    }
    /// For regex commands: the matches (one, or all with `match_all`).
    pub fn matches(&self) -> &[Match] {
        &self.inner.matches
    }
    /// True when the sender is a bot admin.
    pub fn is_admin(&self) -> bool {
        self.inner.is_admin
    }
    /// Unique id of this invocation, for logs.
    pub fn invocation_id(&self) -> &str {
        &self.inner.invocation_id
    }
    /// The bot's command prefix (`!`), for help texts.
    pub fn bot_prefix(&self) -> &str {
        self.inner.runtime.prefix()
    }
    /// The bot, to act beyond replying.
    pub fn bot(&self) -> &Bot {
        &self.inner.runtime.bot
    }
    /// The plugin's persistent storage (see [`Storage`](crate::Storage)).
    pub fn storage(&self) -> &crate::Storage {
        self.inner.runtime.bot.storage()
    }
    /// The flow this command runs in as a step (its name), `None` outside flows.
    pub fn flow(&self) -> Option<&str> {
        self.inner.flow.as_ref().map(|f| f.name.as_str())
    }
    /// The context of the flow this command runs in (empty outside flows): what the earlier
    /// steps left, or the JSON given to `!flows start`.
    pub fn flow_context(&self) -> FlowContext {
        self.inner
            .flow
            .as_ref()
            .map(|f| lock(&f.context).0.clone())
            .unwrap_or_default()
    }
    /// Replaces the flow's context; the next steps see it once this command ended well. Outside
    /// flows it is ignored.
    pub fn set_flow_context(&self, context: FlowContext) {
        if let Some(flow) = &self.inner.flow {
            *lock(&flow.context) = (context, true);
        }
    }
    /// Changes the flow's context in place (see [`set_flow_context`](Self::set_flow_context)).
    ///
    /// ```no_run
    /// # use errbot_plugin_sdk::Context;
    /// # fn step(ctx: &Context, size: &str) {
    /// ctx.update_flow_context(|c| c.insert("size", size));
    /// # }
    /// ```
    pub fn update_flow_context(&self, change: impl FnOnce(&mut FlowContext)) {
        if let Some(flow) = &self.inner.flow {
            let mut state = lock(&flow.context);
            change(&mut state.0);
            state.1 = true;
        }
    }
    /// The context to send back, when the command changed it.
    pub(crate) fn changed_flow_context(&self) -> Option<String> {
        let flow = self.inner.flow.as_ref()?;
        let state = lock(&flow.context);
        state.1.then(|| state.0.to_json())
    }
    /// Where this invocation's replies queue up (for [`IntoReplies`](crate::IntoReplies)).
    pub fn replies(&self) -> &ReplySink {
        &self.inner.sink
    }

    /// Sends a reply now, before the command returns (Errbot's generator commands). Accepts
    /// text, a [`Card`] or a [`Reply`].
    pub async fn reply(&self, reply: impl Into<Reply>) {
        if self.inner.sink.push(reply) {
            // Let the reply go out before the command carries on.
            YieldOnce(false).await;
        }
    }

    /// Sends `content` (text or card) to `to` (`@user`, `#room`) on the backend the command came
    /// from.
    pub async fn send(&self, to: &str, content: impl Into<Reply>) -> Result<String, BotError> {
        let backend = self.sender().backend();
        self.bot().send_text_on(backend, to, content.into()).await
    }

    /// Sends a card to `to` (see [`send`](Self::send)).
    pub async fn send_card(&self, to: &str, card: Card) -> Result<String, BotError> {
        self.send(to, card).await
    }

    /// Sends `text` to the bot admins.
    pub async fn warn_admins(&self, text: impl Into<String>) -> Result<(), BotError> {
        self.bot().warn_admins(text).await
    }

    /// Starts (or updates) a poller; see [`Bot::start_poller`].
    pub async fn start_poller(
        &self,
        interval: std::time::Duration,
        method: &str,
        times: Option<u32>,
        args: impl serde::Serialize,
    ) -> Result<bool, BotError> {
        self.bot().start_poller(interval, method, times, args).await
    }

    /// Stops a poller; see [`Bot::stop_poller`].
    pub async fn stop_poller(
        &self,
        method: &str,
        args: impl serde::Serialize,
    ) -> Result<bool, BotError> {
        self.bot().stop_poller(method, args).await
    }
}

/// Returns `Pending` once (waking itself), so that the reply stream gets polled.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// The raw arguments, for commands that parse them themselves.
///
/// A command taking an `Args` parameter declares no typed parameters: errbotd only splits the
/// argument string per the command's mode (`split`, `split = ","`, `shell`).
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    raw: &'a str,
    argv: &'a [String],
}

impl<'a> Args<'a> {
    /// The arguments of `ctx`.
    pub fn of(ctx: &'a Context) -> Self {
        Self {
            raw: ctx.args(),
            argv: ctx.argv(),
        }
    }
    /// Everything after the command name, inner whitespace kept.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
    /// The arguments split per the command's mode.
    pub fn argv(&self) -> &'a [String] {
        self.argv
    }
    /// True when nothing followed the command name.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

impl Deref for Args<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.raw
    }
}

impl fmt::Display for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// A parameter taking the rest of the line verbatim, whitespace kept (`!say <text>...`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rest(pub String);

impl Rest {
    /// The text.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl Deref for Rest {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Rest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Rest {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl From<Rest> for String {
    fn from(rest: Rest) -> String {
        rest.0
    }
}

/// One occurrence of a regex command's pattern in the message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Match(pub(crate) v1::RegexMatch);

impl Match {
    /// The whole matched text.
    pub fn text(&self) -> &str {
        &self.0.text
    }
    /// Group `i`: 0 is the whole match, 1 the first capture group. `None` when the group does not
    /// exist or did not take part in the match.
    pub fn group(&self, i: usize) -> Option<&str> {
        let text = if i == 0 {
            Some(&self.0.text)
        } else {
            self.0.groups.get(i - 1)
        };
        text.map(String::as_str).filter(|t| i == 0 || !t.is_empty())
    }
    /// Capture groups in order (group 1 first); groups that did not match are empty.
    pub fn groups(&self) -> &[String] {
        &self.0.groups
    }
    /// A named capture group.
    pub fn name(&self, name: &str) -> Option<&str> {
        self.0
            .named
            .get(name)
            .map(String::as_str)
            .filter(|t| !t.is_empty())
    }
    /// All named capture groups.
    pub fn named(&self) -> &HashMap<String, String> {
        &self.0.named
    }
}

impl Deref for Match {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0.text
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}
