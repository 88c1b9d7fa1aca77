//! A plugin used only by the end-to-end tests of command filters: each behaviour is triggered by
//! a specific command and argument, so that every other command passes untouched. It lives
//! apart from `errbot-test-plugin` because a filter sees every command of the bot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use errbot_plugin_sdk::prelude::*;

/// Command filters and a command to count what they saw.
#[derive(Default)]
pub struct FilterPlugin {
    seen: AtomicU64,
}

/// Command filters used only by the end-to-end tests.
#[plugin(name = "filterplugin")]
impl FilterPlugin {
    /// Rewrites, blocks or fails on cue for `!echo`.
    #[cmd_filter]
    async fn guard(&self, call: &CommandCall) -> Filter {
        self.seen.fetch_add(1, Ordering::Relaxed);
        if call.command() != "echo" {
            return Filter::pass();
        }
        let args = call.args();
        if args.starts_with("forbidden") {
            Filter::deny("Filtered: that word is forbidden here.")
        } else if args == "quietly" {
            Filter::block()
        } else if let Some(rest) = args.strip_prefix("shout ") {
            Filter::with_args(rest.to_uppercase()).reply("(shouting)")
        } else if args == "escalate" {
            Filter::rewrite("plugin deactivate", "filterplugin")
        } else if args == "elsewhere" {
            Filter::rewrite("whoami", "")
        } else if args == "nowhere" {
            Filter::rewrite("no such command", "")
        } else if args == "hang" {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Filter::pass()
        } else if args == "panic" {
            panic!("the filter panicked on purpose");
        } else {
            Filter::pass()
        }
    }

    /// Runs after `guard`: sees what it left.
    #[cmd_filter(name = "second")]
    fn after_guard(&self, call: &CommandCall) -> Option<Filter> {
        (call.command() == "echo" && call.args() == "SECOND")
            .then(|| Filter::with_args(format!("second saw {}", call.args())))
    }

    /// Aliases for messages that name no command: `!hi NAME`, `!hush`, `!info NAME`.
    #[cmd_filter(catch_unprocessed)]
    fn aliases(&self, call: &CommandCall) -> Filter {
        if !call.is_unprocessed() {
            return Filter::pass();
        }
        match call.command() {
            "hi" => Filter::rewrite("echo", format!("hello {}", call.args())),
            "hush" => Filter::deny("Nothing to see here."),
            "info" => Filter::rewrite("plugin info", call.args()),
            _ => Filter::pass(),
        }
    }

    /// How many commands the filters saw.
    #[command]
    async fn filtered(&self) -> String {
        self.seen.load(Ordering::Relaxed).to_string()
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    errbot_plugin_sdk::serve(FilterPlugin::default()).await
}
