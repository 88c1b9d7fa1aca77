//! A plugin used only by the end-to-end tests: one command per argument mode and per failure
//! errbotd must handle.

use std::time::Duration;

use errbot_plugin_sdk::prelude::*;

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

    /// Sleep a while, then answer.
    #[command]
    async fn slow(&self, millis: u64) -> String {
        tokio::time::sleep(Duration::from_millis(millis)).await;
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

    /// Prefixed pattern: `!weather in CITY`.
    #[re_command(pattern = r"^weather in (?P<city>\w+)")]
    async fn weather(&self, m: &Match) -> String {
        format!("sunny in {}", m.name("city").unwrap_or("?"))
    }

    /// Unprefixed pattern with every match.
    #[re_command(pattern = r"#(\d+)", prefixed = false)]
    async fn tickets(&self, matches: &[Match]) -> String {
        let ids: Vec<&str> = matches.iter().filter_map(|m| m.group(1)).collect();
        format!("tickets: {}", ids.join(", "))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    errbot_plugin_sdk::serve(TestPlugin).await
}
