//! The benchmark harness's plugin: one process per instance, named by the child contract
//! (`ERRBOT_NAME`), so that one binary serves the five plugins of the start-to-ready benchmark.
//! Instance `bench3` has one command, `!bench3 TEXT`, answering `bench3: TEXT`; the storage
//! workload's `!bench3 storage COUNT [WRITERS]` instead times COUNT sets then COUNT gets of
//! distinct keys through the SDK's typed storage (errbotd's `StorageService`), checks every value
//! read back, then times COUNT sets from WRITERS concurrent tasks, and answers
//! `bench3: storage SETS_PER_S GETS_PER_S CONCURRENT_SETS_PER_S`. Its webhook `/bench3` (the webhook
//! workload, on errbotd's web server) answers a JSON body `{"n": N, ...}` with
//! `{"n": N, "plugin": "bench3"}`.
//!
//! The name is only known at run time, so this implements [`Plugin`] by hand instead of with
//! `#[plugin]`, whose names are fixed at compile time.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use errbot_plugin_sdk::proto::{
    self, ArgMode, CommandSpec, PlainCommand, WebhookSpec, command_spec,
};
use errbot_plugin_sdk::{
    BoxError, BoxFuture, CommandFuture, Context, Plugin, WebhookRequest, WebhookResponse,
};

/// One instance of the benchmark plugin.
struct Bench {
    name: String,
}

impl Plugin for Bench {
    fn describe(&self) -> proto::PluginDescription {
        proto::PluginDescription {
            name: self.name.clone(),
            description: format!("Benchmark plugin {}: answers its one command.", self.name),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: errbot_proto::contract::PROTOCOL_VERSION.to_owned(),
            commands: vec![CommandSpec {
                name: self.name.clone(),
                help: "Answer with the plugin's name and the text.".to_owned(),
                historize: true,
                syntax: "TEXT".to_owned(),
                kind: Some(command_spec::Kind::Plain(PlainCommand {
                    arg_mode: ArgMode::Raw.into(),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            webhooks: vec![WebhookSpec {
                name: self.name.clone(),
                uri_rule: format!("/{}", self.name),
                methods: vec!["POST".to_owned()],
                body: "json".to_owned(),
            }],
            ..Default::default()
        }
    }

    fn webhook(
        self: Arc<Self>,
        request: WebhookRequest,
    ) -> Option<BoxFuture<Result<WebhookResponse, BoxError>>> {
        if request.webhook() != self.name {
            return None;
        }
        Some(Box::pin(async move {
            let n = request.json_value()["n"].clone();
            let answer = serde_json::json!({"n": n, "plugin": self.name});
            Ok(WebhookResponse::json(&answer)?)
        }))
    }

    fn execute(self: Arc<Self>, ctx: Context) -> Option<CommandFuture> {
        if ctx.command() != self.name {
            return None;
        }
        Some(Box::pin(async move {
            let args = ctx.args().trim();
            let answer = match args.strip_prefix("storage ").map(str::split_whitespace) {
                Some(mut words) => {
                    let count = words.next().and_then(|c| c.parse::<u32>().ok());
                    let writers = words.next().map_or(Some(1), |w| w.parse::<u32>().ok());
                    match (count, writers) {
                        (Some(count), Some(writers)) if count > 0 && writers > 0 => {
                            match storage_rate(&ctx, count, writers).await {
                                Ok((sets, gets, concurrent)) => {
                                    format!("storage {sets:.1} {gets:.1} {concurrent:.1}")
                                }
                                Err(e) => format!("storage failed: {e}"),
                            }
                        }
                        _ => format!("storage failed: bad arguments {args:?}"),
                    }
                }
                None => args.to_owned(),
            };
            ctx.reply(format!("{}: {answer}", self.name)).await;
            Ok(())
        }))
    }
}

/// The value stored under key `i` (like the Errbot side's `{"n": i, "text": "value i"}`).
#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Value {
    n: u32,
    text: String,
}

impl Value {
    fn new(n: u32) -> Self {
        Self {
            n,
            text: format!("value {n}"),
        }
    }
}

/// Times `count` sets then `count` gets of distinct keys, one after the other, then `count` sets
/// of other keys from `writers` concurrent tasks; returns the three rates per second.
async fn storage_rate(ctx: &Context, count: u32, writers: u32) -> anyhow::Result<(f64, f64, f64)> {
    let storage = ctx.storage();
    let t0 = Instant::now();
    for i in 0..count {
        storage.set(&format!("key{i}"), &Value::new(i)).await?;
    }
    let t1 = Instant::now();
    for i in 0..count {
        let got: Option<Value> = storage.get(&format!("key{i}")).await?;
        if got.as_ref() != Some(&Value::new(i)) {
            anyhow::bail!("key{i} read back as {got:?}");
        }
    }
    let t2 = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let storage = storage.clone();
            tokio::spawn(async move {
                for i in (w..count).step_by(writers as usize) {
                    storage.set(&format!("w{i}"), &Value::new(i)).await?;
                }
                Ok::<(), anyhow::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let t3 = Instant::now();
    let rate = |d: std::time::Duration| f64::from(count) / d.as_secs_f64();
    Ok((rate(t1 - t0), rate(t2 - t1), rate(t3 - t2)))
}

#[tokio::main]
async fn main() -> ExitCode {
    let name = match std::env::var(errbot_proto::contract::ENV_NAME) {
        Ok(name) if !name.trim().is_empty() => name,
        _ => {
            eprintln!(
                "errbot-bench-plugin: {} is not set; errbotd starts this program as a plugin",
                errbot_proto::contract::ENV_NAME
            );
            return ExitCode::from(2);
        }
    };
    errbot_plugin_sdk::serve(Bench { name }).await
}
