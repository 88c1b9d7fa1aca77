//! The child contract: how errbotd and each child (gateway or plugin) find each other.
//!
//! errbotd starts a child with these environment variables set. The child serves its service and
//! `grpc.health.v1.Health` on [`ENV_SOCKET`], and calls `BotService` on [`ENV_BOT_SOCKET`] with
//! its token in the [`TOKEN_HEADER`] metadata. Nothing is read from the child's stdout.

use std::fmt;

/// Address the child must serve on (`unix:/path/to/socket`).
pub const ENV_SOCKET: &str = "ERRBOT_SOCKET";
/// Address of errbotd's `BotService` (`unix:/path/to/socket`).
pub const ENV_BOT_SOCKET: &str = "ERRBOT_BOT_SOCKET";
/// Secret token identifying the child to errbotd.
pub const ENV_TOKEN: &str = "ERRBOT_TOKEN";
/// Name of the child (plugin name or backend instance name).
pub const ENV_NAME: &str = "ERRBOT_NAME";
/// Comma-separated protocol versions errbotd speaks (`errbot.v1`).
pub const ENV_PROTOCOL_VERSIONS: &str = "ERRBOT_PROTOCOL_VERSIONS";
/// Kind of child: `plugin` or `backend`.
pub const ENV_KIND: &str = "ERRBOT_CHILD_KIND";
/// Metadata header carrying the child's token on every `BotService` call.
pub const TOKEN_HEADER: &str = "x-errbot-token";
/// The protocol version this crate implements.
pub const PROTOCOL_VERSION: &str = "errbot.v1";

/// The contract's variables as a child reads them at start.
#[derive(Clone, Debug)]
pub struct ChildEnv {
    /// Where to serve.
    pub socket: String,
    /// Where errbotd's `BotService` is.
    pub bot_socket: String,
    /// This child's token.
    pub token: String,
    /// This child's name.
    pub name: String,
    /// Protocol versions errbotd speaks.
    pub protocol_versions: Vec<String>,
}

/// A contract variable is missing: the program was not started by errbotd.
#[derive(Debug)]
pub struct MissingVar(pub &'static str);

impl fmt::Display for MissingVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "environment variable {} is not set: this program is started by errbotd \
             (add it to a plugins directory or a [[backends]] entry of errbot.toml)",
            self.0
        )
    }
}

impl std::error::Error for MissingVar {}

impl ChildEnv {
    /// Reads the contract's variables from the process environment.
    pub fn from_env() -> Result<Self, MissingVar> {
        let var = |name: &'static str| std::env::var(name).map_err(|_| MissingVar(name));
        Ok(Self {
            socket: var(ENV_SOCKET)?,
            bot_socket: var(ENV_BOT_SOCKET)?,
            token: var(ENV_TOKEN)?,
            name: var(ENV_NAME)?,
            protocol_versions: var(ENV_PROTOCOL_VERSIONS)
                .unwrap_or_else(|_| PROTOCOL_VERSION.to_owned())
                .split(',')
                .map(str::to_owned)
                .collect(),
        })
    }
}
