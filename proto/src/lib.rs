//! The errbot.v1 protocol shared by errbotd, gateways, plugins and errbotctl.
//!
//! * [`v1`]: the code generated from `proto/errbot/v1/*.proto` (messages, clients, servers).
//! * [`contract`]: the child contract: environment variables, token header, protocol version.
//! * [`transport`]: connecting to and serving on the `unix:` addresses the contract uses.

pub mod contract;
pub mod transport;

/// Generated code for package `errbot.v1`.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("errbot.v1");
}

pub use tonic_health;
