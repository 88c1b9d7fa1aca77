//! The example errbot-rs plugin: greetings, dice and cookies.
//!
//! errbotd starts this program (see `plugin.toml`); it is also what errbotd's failure tests use,
//! through the hidden `crash` and `panic` commands.

use errbot_plugin_sdk::prelude::*;
use rand::Rng;

/// Greetings, dice and cookies.
pub struct Hello;

/// Greetings, dice and cookies: the example Rust plugin.
#[plugin(name = "hello")]
impl Hello {
    /// Say hello to the world.
    #[command]
    async fn hello(&self) -> &'static str {
        "Hello, world!"
    }

    /// Greet someone by name: `!greet Ada Lovelace`, `!greet --shout Bob`.
    #[command]
    async fn greet(
        &self,
        #[arg(short = 's', help = "shout it")] shout: bool,
        #[arg(help = "who to greet")] name: Rest,
    ) -> String {
        let greeting = format!("Hello, {name}!");
        if shout {
            greeting.to_uppercase()
        } else {
            greeting
        }
    }

    /// Roll dice: `!roll 6` or `!roll 20 3`.
    #[command]
    async fn roll(
        &self,
        #[arg(help = "sides of each die")] sides: u32,
        #[arg(help = "how many dice (default 1)")] count: Option<u32>,
    ) -> Result<String, CommandError> {
        if sides < 1 {
            return Err("A die needs at least 1 side.".into());
        }
        let count = count.unwrap_or(1);
        if !(1..=100).contains(&count) {
            return Err("I can roll between 1 and 100 dice.".into());
        }
        let mut rng = rand::rng();
        let rolls: Vec<u32> = (0..count).map(|_| rng.random_range(1..=sides)).collect();
        Ok(match rolls.as_slice() {
            [one] => format!("You rolled {one}."),
            _ => {
                let total: u64 = rolls.iter().map(|&r| u64::from(r)).sum();
                let list: Vec<String> = rolls.iter().map(u32::to_string).collect();
                format!("You rolled {} (total {total}).", list.join(", "))
            }
        })
    }

    /// Count down, one message per number: `!countdown 3`.
    #[command]
    async fn countdown(&self, ctx: &Context, from: u8) -> Result<&'static str, CommandError> {
        if from > 10 {
            return Err("I only count down from 10 or less.".into());
        }
        for n in (1..=from).rev() {
            ctx.reply(n.to_string()).await;
        }
        Ok("Liftoff!")
    }

    /// Someone mentions cookies anywhere.
    #[re_command(pattern = r"(?i)\bcookies?\b", prefixed = false)]
    async fn cookie(&self, ctx: &Context, m: &Match) -> String {
        format!(
            "{} mentioned {}: have a cookie!",
            ctx.sender_nick(),
            m.text()
        )
    }

    /// Fails on purpose (a plugin failure, for errbotd's tests).
    #[command(hidden)]
    async fn crash(&self) -> Result<String, std::io::Error> {
        Err(std::io::Error::other("the crash command always fails"))
    }

    /// Panics on purpose (the plugin must survive it, for errbotd's tests).
    #[command(hidden)]
    async fn panic(&self) -> String {
        panic!("the panic command always panics")
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    errbot_plugin_sdk::serve(Hello).await
}

#[cfg(test)]
mod tests {
    use errbot_plugin_sdk::Plugin;
    use errbot_plugin_sdk::proto::{ParamKind, ParamType, command_spec::Kind};

    use super::Hello;

    #[test]
    fn describes_itself() {
        let d = Hello.describe();
        assert_eq!(d.name, "hello");
        assert_eq!(
            d.description,
            "Greetings, dice and cookies: the example Rust plugin."
        );
        assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(d.protocol_version, "errbot.v1");
        let names: Vec<&str> = d.commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hello",
                "greet",
                "roll",
                "countdown",
                "cookie",
                "crash",
                "panic"
            ]
        );
        assert_eq!(d.commands[0].help, "Say hello to the world.");
        assert!(d.commands[5].hidden && d.commands[6].hidden && !d.commands[0].hidden);
        assert!(d.callbacks.is_empty());

        let Some(Kind::Plain(roll)) = &d.commands[2].kind else {
            panic!("roll is plain")
        };
        assert_eq!(roll.params.len(), 2);
        assert_eq!(roll.params[0].name, "sides");
        assert_eq!(roll.params[0].r#type(), ParamType::Integer);
        assert!(roll.params[0].required);
        assert_eq!(roll.params[1].name, "count");
        assert!(!roll.params[1].required);

        let Some(Kind::Plain(greet)) = &d.commands[1].kind else {
            panic!("greet is plain")
        };
        assert_eq!(greet.params[0].kind(), ParamKind::Flag);
        assert_eq!(greet.params[0].short, "s");
        assert!(greet.params[1].rest && greet.params[1].required);

        let Some(Kind::Regex(cookie)) = &d.commands[4].kind else {
            panic!("cookie is regex")
        };
        assert_eq!(cookie.pattern, r"(?i)\bcookies?\b");
        assert!(!cookie.prefixed);
    }
}
