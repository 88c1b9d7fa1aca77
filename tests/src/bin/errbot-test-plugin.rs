//! A plugin used only by the end-to-end tests: one command per argument mode and per failure
//! errbotd must handle, storage commands, and (started as `configured`) a plugin that needs a
//! configuration.
//!
//! Run as `errbot-test-plugin --hammer KEY N` (with the plugin's contract environment) it is a
//! second process of the same plugin incrementing one counter N times (see `incr_race`).

#[path = "errbot-test-plugin/pollers.rs"]
mod pollers;
#[path = "errbot-test-plugin/probe.rs"]
mod probe;

use std::sync::Mutex;
use std::time::Duration;

use errbot_plugin_sdk::prelude::*;
use errbot_plugin_sdk::serde_json::{self, Value};

fn storage_error(e: StorageError) -> CommandError {
    CommandError::new(format!("storage error: {e}"))
}

/// One atomic increment of the counter at `key`.
async fn increment(storage: &Storage, key: &str) -> Result<u64, StorageError> {
    storage
        .update(key, |n: Option<u64>| n.unwrap_or(0) + 1)
        .await
}

/// Test commands.
pub struct TestPlugin;

/// Commands used only by the end-to-end tests.
#[plugin(name = "testplugin")]
impl TestPlugin {
    /// Echo the raw argument string and the split arguments.
    #[command]
    async fn raw(&self, args: Args<'_>) -> String {
        format!("raw=[{}] argv={:?}", args.as_str(), args.argv())
    }

    /// Reply with the text in red, as a terminal program colours its output (ANSI escapes and a
    /// bell: characters some chat services cannot carry).
    #[command]
    async fn ansi(&self, args: Args<'_>) -> String {
        format!("\u{1b}[31m{}\u{1b}[0m\u{7}", args.as_str())
    }

    /// Split on commas, at most twice.
    #[command(split = ",", max_split = 2)]
    async fn csv(&self, args: Args<'_>) -> String {
        format!("{:?}", args.argv())
    }

    /// Split on whitespace.
    #[command(split)]
    async fn words(&self, args: Args<'_>) -> String {
        format!("{:?}", args.argv())
    }

    /// Split like a shell.
    #[command(shell)]
    async fn shellwords(&self, args: Args<'_>) -> String {
        format!("{:?}", args.argv())
    }

    /// Typed options: `!opts NAME [--times N] [--loud] [--color red|blue]`.
    #[command]
    async fn opts(
        &self,
        name: String,
        #[arg(long, short = 't', default = "1", help = "how many times")] times: u32,
        #[arg(long)] loud: bool,
        #[arg(long, choices = ["red", "blue"])] color: Option<String>,
    ) -> String {
        let base = format!(
            "{name} x{times} color={}",
            color.as_deref().unwrap_or("none")
        );
        if loud { base.to_uppercase() } else { base }
    }

    /// Sum numbers.
    #[command]
    async fn sum(&self, numbers: Vec<f64>) -> String {
        numbers.iter().sum::<f64>().to_string()
    }

    /// Sleep a while, then answer; says in the log when it is cancelled before its end.
    #[command]
    async fn slow(&self, millis: u64) -> String {
        let mut cancelled = Cancelled(Some(format!("slow {millis} ms")));
        tokio::time::sleep(Duration::from_millis(millis)).await;
        cancelled.0 = None;
        format!("slept {millis} ms")
    }

    /// Only admins may run this.
    #[command(admin_only)]
    async fn secret(&self) -> &'static str {
        "the secret is 42"
    }

    /// Repeat text many times (for reply splitting).
    #[command]
    async fn repeat(&self, times: usize, text: Rest) -> String {
        std::iter::repeat_n(&*text, times)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A card with `fields` fields of 40 characters each (for the gateways' rendering).
    #[command]
    async fn card(&self, fields: usize) -> Card {
        let card = Card::new("Build #42")
            .body("All **green**\n\n- unit\n- e2e")
            .color("green")
            .link("https://ci.example/42");
        (0..fields).fold(card, |card, i| {
            card.field(format!("key{i}"), "v".repeat(40))
        })
    }

    /// A command error shown as it is.
    #[command]
    async fn refuse(&self) -> Result<String, CommandError> {
        Err(CommandError::new("I won't do that."))
    }

    /// Exit the whole plugin process in the middle of a command.
    #[command(hidden)]
    async fn die(&self, ctx: &Context) {
        ctx.reply("dying").await;
        std::process::exit(3);
    }

    /// The plugin process's pid.
    #[command]
    async fn pid(&self) -> String {
        std::process::id().to_string()
    }

    /// Follow the storage watch as a cache would, but never acknowledge a change (a stuck
    /// cache: errbotd must stop this process rather than hold a writer or let a stale value
    /// live): `!storage_deaf_watch`.
    #[command(hidden)]
    async fn storage_deaf_watch(&self) -> Result<String, CommandError> {
        use errbot_plugin_sdk::proto::storage_service_client::StorageServiceClient;
        let failed = |e: &dyn std::fmt::Display| CommandError::new(format!("watch: {e}"));
        let env = |name: &str| std::env::var(name).map_err(|e| failed(&e));
        let address = env(errbot_proto::contract::ENV_BOT_SOCKET)?;
        let token: tonic::metadata::AsciiMetadataValue = env(errbot_proto::contract::ENV_TOKEN)?
            .parse()
            .map_err(|e| failed(&e))?;
        let channel = errbot_proto::transport::channel(&address).map_err(|e| failed(&e))?;
        let (acks, never_sent) = tokio::sync::mpsc::unbounded_channel();
        let mut request = tonic::Request::new(
            tokio_stream::wrappers::UnboundedReceiverStream::new(never_sent),
        );
        request
            .metadata_mut()
            .insert(errbot_proto::contract::TOKEN_HEADER, token);
        let mut changes = StorageServiceClient::new(channel)
            .watch(request)
            .await
            .map_err(|e| failed(&e))?
            .into_inner();
        changes.message().await.map_err(|e| failed(&e))?;
        tokio::spawn(async move {
            let _acks = acks;
            while let Ok(Some(_)) = changes.message().await {}
        });
        Ok("watching without acknowledging".into())
    }

    /// Write `megabytes` MB to stderr as fast as possible; answer how long it took.
    #[command(hidden)]
    async fn spew(&self, megabytes: usize) -> Result<String, CommandError> {
        use std::io::Write;
        let line = [b'x'; 1023];
        let started = std::time::Instant::now();
        let mut err = std::io::stderr().lock();
        for _ in 0..megabytes * 1024 {
            err.write_all(&line)
                .and_then(|()| err.write_all(b"\n"))
                .map_err(|e| CommandError::new(format!("stderr: {e}")))?;
        }
        let secs = started.elapsed().as_secs_f64();
        Ok(format!(
            "wrote {megabytes} MB in {:.0} ms ({:.0} MB/s)",
            secs * 1000.0,
            megabytes as f64 / secs.max(1e-9)
        ))
    }

    /// Answer where the message came from.
    #[command]
    async fn where_am_i(&self, ctx: &Context) -> String {
        match ctx.room() {
            Some(room) => format!("in {} as {}", room.room(), ctx.sender().person()),
            None => format!("in private as {}", ctx.sender().person()),
        }
    }

    /// A private answer even from a room.
    #[command]
    async fn whisper(&self) -> Reply {
        Reply::text("psst").private()
    }

    /// An answer only the sender sees, in the room (Slack), or privately elsewhere.
    #[command]
    async fn hush(&self) -> Reply {
        Reply::text("only you").ephemeral()
    }

    /// Prefixed pattern: `!weather in CITY`.
    #[re_command(pattern = r"^weather in (?P<city>\w+)")]
    async fn weather(&self, m: &Match) -> String {
        format!("sunny in {}", m.name("city").unwrap_or("?"))
    }

    /// Store a JSON value: `!store_set KEY JSON`.
    #[command]
    async fn store_set(
        &self,
        ctx: &Context,
        key: String,
        json: Rest,
    ) -> Result<String, CommandError> {
        let value: Value =
            serde_json::from_str(&json).map_err(|e| CommandError::new(format!("not JSON: {e}")))?;
        ctx.storage()
            .set(&key, &value)
            .await
            .map_err(storage_error)?;
        Ok(format!("stored {key}"))
    }

    /// Show a stored value: `!store_get KEY`.
    #[command]
    async fn store_get(&self, ctx: &Context, key: String) -> Result<String, CommandError> {
        let value: Option<Value> = ctx.storage().get(&key).await.map_err(storage_error)?;
        Ok(match value {
            Some(v) => v.to_string(),
            None => format!("{key} is not set"),
        })
    }

    /// Delete a stored value: `!store_delete KEY`.
    #[command]
    async fn store_delete(&self, ctx: &Context, key: String) -> Result<String, CommandError> {
        let deleted = ctx.storage().delete(&key).await.map_err(storage_error)?;
        Ok(if deleted {
            format!("deleted {key}")
        } else {
            format!("{key} was not set")
        })
    }

    /// List stored keys: `!store_keys [PREFIX]`.
    #[command]
    async fn store_keys(
        &self,
        ctx: &Context,
        prefix: Option<String>,
    ) -> Result<String, CommandError> {
        let keys = ctx
            .storage()
            .keys_with_prefix(prefix.as_deref().unwrap_or(""))
            .await
            .map_err(storage_error)?;
        Ok(format!("keys: {}", keys.join(" ")))
    }

    /// Increment a counter atomically: `!incr KEY`.
    #[command]
    async fn incr(&self, ctx: &Context, key: String) -> Result<String, CommandError> {
        let n = increment(ctx.storage(), &key)
            .await
            .map_err(storage_error)?;
        Ok(n.to_string())
    }

    /// Increment a counter N times from this process and N times from a second process of this
    /// plugin (same token, so the same namespace) at the same time: `!incr_race KEY N`.
    #[command]
    async fn incr_race(
        &self,
        ctx: &Context,
        key: String,
        times: u32,
    ) -> Result<String, CommandError> {
        let exe = std::env::current_exe().map_err(|e| CommandError::new(e.to_string()))?;
        let mut other = tokio::process::Command::new(exe)
            .arg("--hammer")
            .arg(&key)
            .arg(times.to_string())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| CommandError::new(format!("cannot start the second process: {e}")))?;
        let here = async {
            for _ in 0..times {
                increment(ctx.storage(), &key).await?;
            }
            Ok::<(), StorageError>(())
        };
        let (here, there) = tokio::join!(here, other.wait());
        here.map_err(storage_error)?;
        match there {
            Ok(status) if status.success() => {}
            Ok(status) => {
                return Err(CommandError::new(format!(
                    "the second process failed: {status}"
                )));
            }
            Err(e) => return Err(CommandError::new(e.to_string())),
        }
        let total: Option<u64> = ctx.storage().get(&key).await.map_err(storage_error)?;
        Ok(format!("{key} = {}", total.unwrap_or(0)))
    }

    /// Measure storage throughput through the protocol: `!storage_bench OPS CONCURRENCY` sets
    /// OPS keys, then gets them, from CONCURRENCY tasks (for tests/src/bin/storage-bench.rs).
    #[command(hidden)]
    async fn storage_bench(
        &self,
        ctx: &Context,
        ops: u32,
        concurrency: u32,
    ) -> Result<String, CommandError> {
        let concurrency = concurrency.clamp(1, 256);
        let mut lines = Vec::new();
        for phase in ["set", "get"] {
            let started = std::time::Instant::now();
            let mut tasks = Vec::new();
            for worker in 0..concurrency {
                let storage = ctx.storage().clone();
                tasks.push(tokio::spawn(async move {
                    let mut i = worker;
                    while i < ops {
                        let key = format!("bench/{i}");
                        if phase == "set" {
                            storage
                                .set(
                                    &key,
                                    &serde_json::json!({"i": i, "text": "some bench value"}),
                                )
                                .await?;
                        } else if storage.get::<Value>(&key).await?.is_none() {
                            return Err(StorageError::Contention(format!("{key} vanished")));
                        }
                        i += concurrency;
                    }
                    Ok(())
                }));
            }
            for t in tasks {
                t.await
                    .map_err(|e| CommandError::new(e.to_string()))?
                    .map_err(storage_error)?;
            }
            let secs = started.elapsed().as_secs_f64();
            lines.push(format!(
                "{phase}: {ops} ops from {concurrency} tasks in {secs:.3} s = {:.0} ops/s ({:.3} ms per op per task)",
                f64::from(ops) / secs,
                secs * 1000.0 * f64::from(concurrency) / f64::from(ops)
            ));
        }
        for key in ctx
            .storage()
            .keys_with_prefix("bench/")
            .await
            .map_err(storage_error)?
        {
            ctx.storage().delete(&key).await.map_err(storage_error)?;
        }
        Ok(lines.join("\n"))
    }

    /// Try every way of reaching another namespace: `!storage_probe NAMESPACE KEY`.
    #[command(hidden)]
    async fn storage_probe(&self, namespace: String, key: String) -> Result<String, CommandError> {
        probe::run(&namespace, &key)
            .await
            .map_err(|e| CommandError::new(format!("probe failed: {e}")))
    }

    /// Unprefixed pattern with every match.
    /// Start a `record` poller: `!poll_start NAME INTERVAL_MS [--times N] [--sleep-ms MS]
    /// [--fail]`.
    #[command]
    async fn poll_start(
        &self,
        ctx: &Context,
        name: String,
        interval_ms: u64,
        #[arg(long, default = "0")] times: u32,
        #[arg(long = "sleep-ms", default = "0")] sleep_ms: u64,
        #[arg(long)] fail: bool,
    ) -> Result<&'static str, CommandError> {
        let args = pollers::Recorder {
            name,
            sleep_ms,
            fail,
        };
        let times = (times > 0).then_some(times);
        let interval = Duration::from_millis(interval_ms);
        match ctx.start_poller(interval, "record", times, &args).await {
            Ok(true) => Ok("already running"),
            Ok(false) => Ok("started"),
            Err(e) => Err(CommandError::new(e.message())),
        }
    }

    /// Stop a `record` poller: `!poll_stop NAME [--sleep-ms MS] [--fail]` (as started).
    #[command]
    async fn poll_stop(
        &self,
        ctx: &Context,
        name: String,
        #[arg(long = "sleep-ms", default = "0")] sleep_ms: u64,
        #[arg(long)] fail: bool,
    ) -> Result<&'static str, CommandError> {
        let args = pollers::Recorder {
            name,
            sleep_ms,
            fail,
        };
        match ctx.stop_poller("record", &args).await {
            Ok(true) => Ok("stopped"),
            Ok(false) => Ok("not running"),
            Err(e) => Err(CommandError::new(e.message())),
        }
    }

    /// What the `record` poller NAME did: `!poll_count NAME`.
    #[command]
    async fn poll_count(&self, ctx: &Context, name: String) -> Result<String, CommandError> {
        pollers::stats(ctx.storage(), &name)
            .await
            .map_err(storage_error)
    }

    /// The plugin's pollers as errbotd lists them, one line each: `!poll_list`.
    #[command]
    async fn poll_list(&self, ctx: &Context) -> Result<String, CommandError> {
        let pollers = ctx
            .bot()
            .pollers()
            .await
            .map_err(|e| CommandError::new(e.message()))?;
        let lines: Vec<String> = pollers
            .iter()
            .map(|p| {
                format!(
                    "{} {} interval={:?} times={:?} ticks={} failures={} last_error={:?}",
                    p.method, p.args_json, p.interval, p.times, p.ticks, p.failures, p.last_error
                )
            })
            .collect();
        Ok(if lines.is_empty() {
            "no pollers".to_owned()
        } else {
            lines.join("\n")
        })
    }

    /// Counts its ticks in storage (see `pollers.rs`).
    #[poller]
    async fn record(&self, ctx: &PollContext) -> Result<(), String> {
        pollers::record(ctx).await
    }

    /// Answers the JSON it got, with the path and query (a JSON webhook).
    #[webhook("/echo/<what>", methods = ["POST", "PUT"])]
    async fn echo_hook(&self, request: &WebhookRequest) -> Value {
        serde_json::json!({
            "got": request.json_value(),
            "what": request.param("what"),
            "q": request.query("q"),
            "method": request.method(),
        })
    }

    /// A form's fields, as JSON.
    #[webhook("/form", body = "form")]
    async fn form_hook(&self, request: &WebhookRequest) -> Value {
        request.json_value()
    }

    /// The raw body's length and a header, as text; also tells the chat.
    #[webhook("/raw", body = "raw", methods = ["POST", "GET"])]
    async fn raw_hook(&self, request: &WebhookRequest) -> Result<String, BotError> {
        let text = format!(
            "{} bytes, x-test={}",
            request.body().len(),
            request.header("X-Test").unwrap_or("-")
        );
        if request.method() == "POST" {
            request
                .bot()
                .send("#webhooks", format!("raw: {text}"))
                .await?;
        }
        Ok(text)
    }

    /// Fails with a message that must not reach the client.
    #[webhook("/boom")]
    async fn boom_hook(&self) -> Result<String, String> {
        Err("secret internals".into())
    }

    /// A status, a header and a body of its own.
    #[webhook("/teapot", methods = ["GET"])]
    async fn teapot_hook(&self) -> WebhookResponse {
        WebhookResponse::new(418)
            .header("x-pot", "yes")
            .body("short and stout")
    }

    /// Takes longer than the tests' deadline.
    #[webhook("/slow")]
    async fn slow_hook(&self) -> &'static str {
        tokio::time::sleep(Duration::from_secs(3)).await;
        "late"
    }

    #[re_command(pattern = r"#(\d+)", prefixed = false)]
    async fn tickets(&self, matches: &[Match]) -> String {
        let ids: Vec<&str> = matches.iter().filter_map(|m| m.group(1)).collect();
        format!("tickets: {}", ids.join(", "))
    }
}

/// A plugin that needs a configuration (name "configured"; same binary, see `main`).
#[derive(Default)]
pub struct Configured {
    config: Mutex<Option<Value>>,
}

/// Greetings as configured: used by the configuration tests.
#[plugin(
    name = "configured",
    config_template = r##"{"GREETING": "Hello", "TIMES": 1, "ROOMS": ["#general"]}"##
)]
impl Configured {
    #[activate]
    fn activate(&self, ctx: &ActivateContext) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = Some(ctx.config().clone());
    }

    #[check_config]
    fn check(&self, config: &Value) -> Result<(), String> {
        match config.get("TIMES").and_then(Value::as_u64) {
            Some(n) if n > 5 => Err("TIMES must be at most 5".into()),
            _ => Ok(()),
        }
    }

    /// Greet someone as configured: `!salute NAME`.
    #[command]
    async fn salute(&self, name: String) -> String {
        let config = self
            .config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let config = config.unwrap_or(Value::Null);
        let greeting = config
            .get("GREETING")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let times = config.get("TIMES").and_then(Value::as_u64).unwrap_or(1);
        vec![format!("{greeting} {name}!"); times as usize].join(" ")
    }
}

/// `--hammer KEY N`: N increments of KEY as the plugin whose contract is in the environment.
async fn hammer(args: &[String]) -> std::process::ExitCode {
    let (Some(key), Some(times)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: errbot-test-plugin --hammer KEY N");
        return std::process::ExitCode::from(2);
    };
    let env = match errbot_proto::contract::ChildEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let bot = match Bot::connect(&env.bot_socket, &env.token) {
        Ok(bot) => bot,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for _ in 0..times {
        if let Err(e) = increment(bot.storage(), key).await {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--hammer") {
        return hammer(&args[1..]).await;
    }
    match std::env::var(errbot_proto::contract::ENV_NAME).as_deref() {
        Ok("configured") => errbot_plugin_sdk::serve(Configured::default()).await,
        _ => errbot_plugin_sdk::serve(TestPlugin).await,
    }
}

/// Logs that the command it names was dropped before its end (unless the name was taken).
struct Cancelled(Option<String>);

impl Drop for Cancelled {
    fn drop(&mut self) {
        if let Some(command) = &self.0 {
            eprintln!("{command}: cancelled");
        }
    }
}
