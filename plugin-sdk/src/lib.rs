//! Write errbot-rs plugins in Rust: annotated methods become chat commands.
//!
//! A plugin is a program that errbotd starts and talks to over a Unix socket. With this crate it
//! is a struct, an `impl` block marked [`#[plugin]`](plugin), and a one-line `main`:
//!
//! ```no_run
//! use errbot_plugin_sdk::prelude::*;
//!
//! pub struct Hello;
//!
//! /// Greetings and dice.
//! #[plugin(name = "hello")]
//! impl Hello {
//!     /// Say hello to the world.
//!     #[command]
//!     async fn hello(&self) -> &'static str {
//!         "Hello, world!"
//!     }
//!
//!     /// Roll dice: `!roll 6` or `!roll 20 3`.
//!     #[command]
//!     async fn roll(&self, sides: u32, count: Option<u32>) -> Result<String, CommandError> {
//!         if sides == 0 {
//!             return Err("a die needs at least one side".into());
//!         }
//!         Ok(format!("rolled {} d{sides}", count.unwrap_or(1)))
//!     }
//!
//!     /// Count down, one message per number.
//!     #[command]
//!     async fn countdown(&self, ctx: &Context, from: u8) {
//!         for n in (1..=from).rev() {
//!             ctx.reply(n.to_string()).await;
//!         }
//!     }
//!
//!     /// Someone mentions cookies anywhere.
//!     #[re_command(pattern = r"(?i)cookies?", prefixed = false)]
//!     async fn cookie(&self, ctx: &Context, m: &Match) -> String {
//!         format!("{} said {}: have a cookie!", ctx.sender_nick(), m.text())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     errbot_plugin_sdk::serve(Hello).await
//! }
//! ```
//!
//! Add a `plugin.toml` beside it (`[plugin] name = "hello"`, `command = ["my-binary"]`) and
//! errbotd runs it: `!hello`, `!roll 20 3`, `!help hello`.
//!
//! # The plugin
//!
//! `#[plugin(name = "...", version = "...", description = "...", config_template = "{json}",
//! depends_on = ["Other"])]`: every option is optional. The name defaults to the type's name,
//! the version to the plugin crate's, the description to the doc comment of the `impl` block
//! (not the struct's: the macro only sees the `impl`).
//! Methods take `&self`: one value serves every command concurrently, so it must be
//! `Send + Sync` (keep mutable state in a `Mutex`, `RwLock` or atomics).
//!
//! # Commands
//!
//! `#[command]` on a method (async or not) makes it `!method_name`; underscores separate words,
//! so `plugin_config` is `!plugin config`. The doc comment is the help; its first line is what
//! `!help` lists. Options: `name = "..."`, `hidden`, `admin_only`, `historize = false`,
//! `flow_only`, `syntax = "<usage>"`, and the argument split mode: `split` (whitespace),
//! `split = ","` with `max_split = N`, or `shell` (quotes group words).
//!
//! ## Parameters: one rule
//!
//! Every parameter is a *declared parameter* that errbotd parses, validates and documents (usage
//! line, `-h`), except these special types, recognised by name and usable anywhere:
//!
//! | type | receives |
//! |------|----------|
//! | `&Context` | the [`Context`]: sender, room, replies, the bot |
//! | [`Args`] | the raw argument string and `argv`; the command then declares no parameters |
//! | `&Match` / `&[Match]` | regex commands: the first match / every match (implies `match_all`) |
//!
//! Declared parameters map to the protocol by type:
//!
//! | Rust type | declared as |
//! |-----------|-------------|
//! | `i8`..`i128`, `u8`..`u128`, `isize`, `usize` | integer |
//! | `f32`, `f64` | float |
//! | `bool` | boolean (`true/false/yes/no/on/off/1/0`) |
//! | `&str`, `String`, any other `T: FromStr` | string, converted with `FromStr` |
//! | `Option<T>` | not required |
//! | `Vec<T>` | takes every remaining value (last positional), or a repeatable option |
//! | [`Rest`] | the rest of the line verbatim, whitespace kept (last positional) |
//!
//! A value that does not convert (`300` for a `u8`) is answered with a usage error; the plugin
//! does not fail. `#[arg(...)]` on a parameter refines it: `help = "..."`, `default = "3"`
//! (makes it not required), `choices = ["a", "b"]`, `name = "..."`, `required` (a `Vec` needs
//! at least one value); `long`, `long = "name"` or `short = 'n'` make it an option
//! (`--count 3`, `-n 3`) instead of a positional; an option of type `bool`, or `#[arg(flag)]`,
//! is a flag (`--verbose`, no value).
//!
//! ## Regex commands
//!
//! `#[re_command(pattern = "...")]`, with `case_insensitive`, `dot_all`, `multi_line`,
//! `match_all`, and `prefixed = false` to match every message (Errbot's `botmatch`) rather than
//! only the text after the bot prefix. Take `m: &Match` or `matches: &[Match]`.
//!
//! ## Answers
//!
//! A command returns anything [`IntoReplies`]: `()`, `String`, `&str`, [`Card`], [`Reply`],
//! `Option<T>`, `Vec<T>` (one message each) or `Result<T, E>`. `Err(CommandError)` is shown to
//! the user as it is (`Err("text".into())` works); any other error (`std::io::Error`,
//! `anyhow::Error`, `String`...) is a plugin failure, logged, and reported by errbotd as one.
//! [`Context::reply`] sends messages before the command returns. A panic fails that command
//! only; the plugin keeps serving.
//!
//! # Lifecycle and callbacks
//!
//! In the same `impl` block: `#[activate]` (optionally taking `&ActivateContext`, which holds the
//! configuration), `#[deactivate]`, `#[check_config]` (taking `&serde_json::Value`, returning
//! `Result<(), E: Display>`; [`serde_json`] is re-exported), and `#[callback(message)]` (also
//! `mention`, `connect`, `presence`, `reaction`, `room_joined`, `room_left`, `room_topic`,
//! `bot_message`, `unhandled`; several may be listed) taking `&Event`. errbotd only sends the
//! callbacks a plugin declares, one at a time per plugin, in order, each with a deadline; they
//! never hold up commands, and a failing one is logged, never answered in the chat.
//!
//! ```
//! use errbot_plugin_sdk::prelude::*;
//!
//! pub struct Seen;
//!
//! /// Counts what people say.
//! #[plugin(name = "seen")]
//! impl Seen {
//!     #[callback(message)]
//!     async fn on_message(&self, event: &Event) -> Result<(), StorageError> {
//!         event.storage().update("messages", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
//!         Ok(())
//!     }
//! }
//! ```
//!
//! # Flows
//!
//! `#[flow]` on `fn name(&self, flow: &mut Flow)` declares a conversation flow (Errbot's
//! `@botflow`; the doc comment is its description): a graph of commands, of this plugin or any
//! other, that errbotd runs and keeps in its storage (see [`Flow`]). A command run as a step
//! reads the flow's context with [`Context::flow_context`] and changes it with
//! [`Context::update_flow_context`]; `#[command(flow_only)]` commands run only as steps.
//!
//! ```
//! use errbot_plugin_sdk::prelude::*;
//!
//! pub struct Pizza;
//!
//! /// Pizza orders.
//! #[plugin(name = "pizza")]
//! impl Pizza {
//!     /// Order a pizza.
//!     #[flow]
//!     fn order(&self, flow: &mut Flow) {
//!         let size = flow.auto_trigger("pizza_size");
//!         let done = flow.connect_when(size, "pizza_confirm", |c| c.contains("size"));
//!         flow.end(done);
//!     }
//!
//!     /// Choose the size: `!pizza size large`.
//!     #[command]
//!     async fn pizza_size(&self, ctx: &Context, size: String) -> String {
//!         ctx.update_flow_context(|c| c.insert("size", &size));
//!         format!("{size}, noted")
//!     }
//!
//!     /// Confirms the order.
//!     #[command(flow_only)]
//!     async fn pizza_confirm(&self, ctx: &Context) -> String {
//!         let size: String = ctx.flow_context().get("size").unwrap_or_default();
//!         format!("A {size} pizza is on its way.")
//!     }
//! }
//! ```
//!
//! # Rich output
//!
//! A reply may be a [`Card`], a template ([`Reply::template`]: `templates/NAME.md` of the plugin's
//! directory, Jinja2 syntax, rendered by errbotd; `#[command(template = "NAME")]` names the
//! command's own, used by `Reply::template("", params)`), and may go in the message's thread
//! ([`Reply::in_thread`]) or privately ([`Reply::private`]). Through [`Bot`]: files
//! ([`Bot::send_file`]), reactions ([`Bot::react`], [`Bot::unreact`]), the bot's presence
//! ([`Bot::set_presence`]), identifiers of any backend ([`Bot::build_identifier`]) and sending
//! anywhere ([`Bot::send`], [`Bot::send_to`]). A chat service that cannot show one of them
//! refuses it with a [`BotError`] saying so.
//!
//! ```
//! use errbot_plugin_sdk::prelude::*;
//!
//! pub struct Weather;
//!
//! /// Forecasts.
//! #[plugin(name = "weather")]
//! impl Weather {
//!     /// The forecast, through templates/forecast.md: `{{ city }}: {{ temp }} °C`.
//!     #[command(template = "forecast")]
//!     async fn forecast(&self, city: String) -> Reply {
//!         Reply::template("", serde_json::json!({"city": city, "temp": 21})).in_thread()
//!     }
//!
//!     /// Thumbs up to the command, and a report as a file.
//!     #[command]
//!     async fn report(&self, ctx: &Context) -> Result<&'static str, BotError> {
//!         ctx.bot().react(ctx.message(), "thumbsup").await?;
//!         let to = ctx.room().unwrap_or(ctx.sender()).clone();
//!         ctx.bot().send_file(&to, "report.csv", "text/csv", b"a,b\n1,2\n".to_vec()).await?;
//!         Ok("sent")
//!     }
//! }
//! ```
//!
//! # Configuration
//!
//! `config_template = r#"{"CITY": "Paris", "UNITS": "metric"}"#` in `#[plugin(...)]` makes the
//! plugin configurable: `!plugin config NAME` shows the template, `!plugin config NAME {...}`
//! (JSON of the same shape, checked by errbotd, then by your `#[check_config]`) stores a
//! configuration and reactivates the plugin with it; `[plugins.NAME] config = {...}` in
//! errbot.toml does the same from the file. A plugin with a template is not activated until it
//! has a configuration. Read it in `#[activate]` with
//! [`ActivateContext::config_as`](ActivateContext::config_as).
//!
//! # Storage
//!
//! [`ctx.storage()`](Context::storage) is the plugin's own persistent key/value store (Errbot's
//! `self['key']`): `get::<T>(key)`, `set(key, &value)`, `delete`, `keys`, and
//! `update(key, |old: Option<T>| new)`, an atomic read-modify-write that loses no concurrent
//! update. Values are any `serde` type, stored as JSON. See [`Storage`].
//!
//! # Command filters
//!
//! `#[cmd_filter]` (Errbot's `@cmdfilter`) on a method taking `&CommandCall` and returning a
//! [`Filter`] (or `Option<Filter>`): errbotd calls it before every command of every plugin, once
//! the access rules allowed it. `Filter::pass()` lets it run, `Filter::with_args(..)` or
//! `Filter::rewrite(command, args)` changes it (the access rules are checked again),
//! `Filter::block()` / `Filter::deny(reason)` stops it. `#[cmd_filter(name = "...")]` names it
//! (default: the method's name); its doc comment is its help. With
//! `#[cmd_filter(catch_unprocessed)]` it also sees prefixed messages that name no command
//! ([`CommandCall::is_unprocessed`]): rewriting one makes an alias, denying it answers instead
//! of "Command not found".
//!
//! ```no_run
//! use errbot_plugin_sdk::prelude::*;
//!
//! pub struct Guard;
//!
//! #[plugin(name = "guard")]
//! impl Guard {
//!     /// No deployments on Fridays.
//!     #[cmd_filter]
//!     fn no_friday_deploys(&self, call: &CommandCall) -> Filter {
//!         if call.command() == "deploy" && call.args().contains("prod") {
//!             return Filter::deny("Not on a Friday.");
//!         }
//!         Filter::pass()
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! # Pollers
//!
//! `#[poller]` (Errbot's `start_poller`) on a method taking `&self` and optionally
//! `&PollContext`, returning like a callback (`()` or `Result<(), E>`), makes it a poller that
//! [`ctx.start_poller(interval, "method", times, args)`](ActivateContext::start_poller) sets
//! going, usually in `#[activate]`; [`stop_poller(method, args)`](Context::stop_poller) stops
//! it. `#[poller(name = "...")]` serves it under another name. errbotd owns the schedule: a
//! poller keeps running while the plugin crash-restarts or is reloaded (starting it again from
//! `#[activate]` only confirms it: `Ok(true)`, "already running"), and stops when the plugin is
//! deactivated, and after `times` ticks (`None`: until stopped). The first tick comes one
//! interval after the start; ticks of one poller never overlap (those missed while one overran
//! are dropped); a tick that fails or misses the plugin's command deadline is logged by errbotd
//! and the poller keeps its schedule. [`PollContext`] gives the arguments, the tick number, the
//! storage and [`send`](PollContext::send); [`Bot::pollers`] lists the plugin's pollers as errbotd
//! runs them (ticks, failures). Do not stop pollers in `#[deactivate]`: errbotd
//! does it, and a reload deactivates the old process after the new one started them again.
//!
//! ```no_run
//! use std::time::Duration;
//! use errbot_plugin_sdk::prelude::*;
//! use errbot_plugin_sdk::BoxError;
//!
//! pub struct Watch;
//!
//! #[plugin(name = "watch")]
//! impl Watch {
//!     #[activate]
//!     async fn start(&self, ctx: &ActivateContext) -> Result<(), BotError> {
//!         ctx.start_poller(Duration::from_secs(60), "check", None, "#ops").await?;
//!         Ok(())
//!     }
//!
//!     /// Every minute: count, and say so in the room given as argument every tenth time.
//!     #[poller]
//!     async fn check(&self, ctx: &PollContext) -> Result<(), BoxError> {
//!         let room: String = ctx.args()?;
//!         let n = ctx.storage().update("checks", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
//!         if n % 10 == 0 {
//!             ctx.send(&room, format!("{n} checks so far")).await?;
//!         }
//!         Ok(())
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! # Webhooks
//!
//! `#[webhook("/path/<param>")]` (Errbot's `@webhook`) on a method taking `&self` and optionally
//! `&WebhookRequest` serves that path on errbotd's web server (`[web]` in errbot.toml). Options:
//! `methods = ["POST", "GET"]` (default POST), `body = "json"` (default: the JSON body, or a
//! form's fields, as [`WebhookRequest::json`]), `"form"` or `"raw"` (only
//! [`WebhookRequest::body`]), `name = "..."`. Return text (200), a `serde_json::Value` (200,
//! JSON), `()` (204), a [`WebhookResponse`] (any status, headers, body) or a `Result` of those:
//! an `Err` is logged and answered 500 without its text. errbotd answers 404, 405, 413 and 504
//! itself, and waits for a restarting plugin.
//!
//! ```no_run
//! use errbot_plugin_sdk::prelude::*;
//! use errbot_plugin_sdk::BotError;
//!
//! pub struct Deploys;
//!
//! #[plugin(name = "deploys")]
//! impl Deploys {
//!     /// GitHub tells us about a push.
//!     #[webhook("/github/<repo>")]
//!     async fn push(&self, request: &WebhookRequest) -> Result<&'static str, BotError> {
//!         let repo = request.param("repo").unwrap_or("?");
//!         let pusher = request.json_value()["pusher"]["name"].as_str().unwrap_or("someone").to_owned();
//!         request.bot().send("#deploys", format!("{pusher} pushed to {repo}")).await?;
//!         Ok("thanks")
//!     }
//! }
//! # fn main() {}
//! ```

#![warn(missing_docs)]

// Lets the code `#[plugin]` generates (which names `::errbot_plugin_sdk`) work in this crate's
// own tests.
extern crate self as errbot_plugin_sdk;

mod bot;
mod cache;
mod context;
mod event;
mod execution;
mod filter;
mod flow;
mod message;
mod poll;
mod reply;
mod server;
mod session;
mod storage;
mod webhook;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use bot::{Bot, BotError, BotStatus, PluginHealth};
pub use context::{Args, Context, Match, Rest};
pub use errbot_plugin_macros::{
    activate, callback, check_config, cmd_filter, command, deactivate, flow, plugin, poller,
    re_command, webhook,
};
pub use event::{
    ActivateContext, CallbackKind, CheckOutput, Event, HookOutput, Membership, Presence, Reaction,
};
pub use filter::{CommandCall, Filter, IntoFilter};
pub use flow::{Flow, FlowContext, Step};
pub use message::{Identifier, Message};
pub use poll::{PollContext, PollerStatus};
pub use reply::{
    BoxError, Card, CommandError, Failure, IntoFailure, IntoReplies, Reply, ReplySink,
};
pub use server::{serve, serve_with_shutdown};
pub use storage::{Storage, StorageError};
pub use webhook::{IntoWebhookResponse, WebhookRequest, WebhookResponse};

/// The JSON library of configurations ([`ActivateContext::config`], `#[check_config]`).
pub use serde_json;

/// The protocol's generated types, for advanced uses and tests.
pub use errbot_proto::v1 as proto;

/// Everything a plugin usually needs: `use errbot_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ActivateContext, Args, Bot, BotError, Card, CommandCall, CommandError, Context, Event,
        Filter, Flow, FlowContext, Identifier, Match, Message, PollContext, Reply, Rest, Storage,
        StorageError, WebhookRequest, WebhookResponse, activate, callback, check_config,
        cmd_filter, command, deactivate, flow, plugin, poller, re_command, webhook,
    };
}

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A running command.
pub type CommandFuture = BoxFuture<Result<(), Failure>>;

/// A plugin: implemented by [`#[plugin]`](plugin) on an `impl` block; you normally never write or
/// call these methods yourself.
pub trait Plugin: Send + Sync + 'static {
    /// What the plugin offers (commands, callbacks, configuration template...).
    fn describe(&self) -> proto::PluginDescription;

    /// Starts the command `ctx.command()`; `None` when there is no such command.
    fn execute(self: Arc<Self>, ctx: Context) -> Option<CommandFuture>;

    /// Runs the `#[activate]` hook.
    fn activate(self: Arc<Self>, ctx: ActivateContext) -> BoxFuture<Result<(), BoxError>> {
        let _ = ctx;
        Box::pin(async { Ok(()) })
    }

    /// Runs the `#[deactivate]` hook.
    fn deactivate(self: Arc<Self>) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async { Ok(()) })
    }

    /// Runs the `#[check_config]` hook: the refusal, if any.
    fn check_config(self: Arc<Self>, config: serde_json::Value) -> BoxFuture<Option<String>> {
        let _ = config;
        Box::pin(async { None })
    }

    /// Runs the `#[callback(...)]` handlers of `event.kind()`.
    fn event(self: Arc<Self>, event: Event) -> BoxFuture<Result<(), BoxError>> {
        let _ = event;
        Box::pin(async { Ok(()) })
    }

    /// Runs the `#[cmd_filter]` method named `call.filter()`; `None` when there is none.
    fn filter(self: Arc<Self>, call: CommandCall) -> Option<BoxFuture<Filter>> {
        let _ = call;
        None
    }

    /// Runs one tick of the `#[poller]` method named `ctx.method()`; `None` when there is none.
    fn poll(self: Arc<Self>, ctx: PollContext) -> Option<BoxFuture<Result<(), BoxError>>> {
        let _ = ctx;
        None
    }

    /// Answers a request to the `#[webhook]` named `request.webhook()`; `None` when there is
    /// none.
    fn webhook(
        self: Arc<Self>,
        request: WebhookRequest,
    ) -> Option<BoxFuture<Result<WebhookResponse, BoxError>>> {
        let _ = request;
        None
    }

    /// The `#[flow]` methods' flows (called once, when the plugin starts serving).
    fn flows(&self) -> Vec<Flow> {
        Vec::new()
    }
}
