//! errbot-gateway's library: everything the `errbot-gateway` binary runs (see `main.rs`),
//! public so that the fuzz targets of `tests/fuzz/` can reach the parsers and renderers.
//!
//! - [`adapters`]: one adapter per chat service, chosen by `Start`.
//! - [`service`]: `BackendService` as errbotd calls it; [`session`]: its `Session` stream.
//! - [`events`]: the bounded queue of inbound events; [`inflight`]: injected messages.
//! - [`render`], [`encode`], [`text_ids`]: what the adapters share.
//! - [`settings`]: backend settings and their problems; [`tls`]: TLS client set-up.

pub mod adapters;
pub mod encode;
pub mod events;
pub mod inflight;
pub mod render;
pub mod service;
pub mod session;
pub mod settings;
pub mod text_ids;
pub mod tls;
