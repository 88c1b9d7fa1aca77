//! The benchmark harness's plugin: one process per instance, named by the child contract
//! (`ERRBOT_NAME`), so that one binary serves the five plugins of the start-to-ready benchmark.
//! Instance `bench3` has one command, `!bench3 TEXT`, answering `bench3: TEXT`.
//!
//! The name is only known at run time, so this implements [`Plugin`] by hand instead of with
//! `#[plugin]`, whose names are fixed at compile time.

use std::process::ExitCode;
use std::sync::Arc;

use errbot_plugin_sdk::proto::{self, ArgMode, CommandSpec, PlainCommand, command_spec};
use errbot_plugin_sdk::{CommandFuture, Context, Plugin};

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
            ..Default::default()
        }
    }

    fn execute(self: Arc<Self>, ctx: Context) -> Option<CommandFuture> {
        if ctx.command() != self.name {
            return None;
        }
        Some(Box::pin(async move {
            ctx.reply(format!("{}: {}", self.name, ctx.args())).await;
            Ok(())
        }))
    }
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
