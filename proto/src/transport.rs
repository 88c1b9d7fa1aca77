//! Connecting to and serving on child-contract addresses.
//!
//! Addresses are URIs so that other transports can be added without a redesign; today only
//! `unix:/absolute/path` is supported.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::{Channel, Endpoint};

/// An address errbot-rs can connect to or serve on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A Unix domain socket.
    Unix(PathBuf),
}

/// Error for an address that is not a supported URI.
#[derive(Debug)]
pub struct BadAddress(pub String);

impl std::fmt::Display for BadAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unsupported address {:?}: expected unix:/path/to/socket",
            self.0
        )
    }
}

impl std::error::Error for BadAddress {}

impl Address {
    /// Parses `unix:/path`.
    pub fn parse(text: &str) -> Result<Self, BadAddress> {
        match text.strip_prefix("unix:") {
            Some(path) if !path.is_empty() => Ok(Self::Unix(PathBuf::from(path))),
            _ => Err(BadAddress(text.to_owned())),
        }
    }

    /// The URI form of a Unix socket path.
    pub fn unix_uri(path: &Path) -> String {
        format!("unix:{}", path.display())
    }
}

/// Creates a channel to `address`. The connection is made lazily on first use and re-made after
/// a failure, so the channel survives a restart of the peer.
pub fn channel(address: &str) -> Result<Channel, BadAddress> {
    let Address::Unix(path) = Address::parse(address)?;
    // The authority is ignored: the connector below always dials the socket.
    let endpoint = Endpoint::from_static("http://errbot.local")
        .tcp_nodelay(true)
        .connect_timeout(std::time::Duration::from_secs(5));
    Ok(
        endpoint.connect_with_connector_lazy(tower::service_fn(move |_| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        })),
    )
}

/// Binds a Unix socket at `address` (removing a stale socket file first) and returns the stream
/// of incoming connections, for `tonic::transport::Server::serve_with_incoming`.
pub fn bind(address: &str) -> std::io::Result<UnixListenerStream> {
    let Address::Unix(path) = Address::parse(address)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    Ok(UnixListenerStream::new(listener))
}
