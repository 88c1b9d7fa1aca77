//! The byte stream to the IRC server: TCP (from an optional local address), optionally TLS
//! (rustls with the ring provider, Mozilla's roots plus an optional CA file), and the reading of
//! lines: any bytes are accepted, invalid UTF-8 is replaced, overlong lines are cut.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpSocket;

use super::settings::Settings;

/// Longest line accepted: 8191 bytes of IRCv3 tags plus a 512-byte message. Longer lines are cut.
pub const MAX_LINE: usize = 8191 + 512;
/// How long a TCP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection to the server, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Opens the connection described by the settings.
pub async fn open(settings: &Settings) -> Result<Pin<Box<dyn Stream>>, String> {
    let target = format!("{}:{}", settings.server, settings.port);
    let addrs: Vec<_> = tokio::net::lookup_host((settings.server.as_str(), settings.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", settings.server))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{} has no address", settings.server));
    }
    let mut last_error = String::new();
    let mut tcp = None;
    for addr in addrs {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        };
        let attempt = async {
            let socket = socket?;
            if let Some(ip) = settings.bind_address {
                socket.bind((ip, 0).into())?;
            }
            socket.connect(addr).await
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                tcp = Some(stream);
                break;
            }
            Ok(Err(e)) => last_error = format!("cannot connect to {target} ({addr}): {e}"),
            Err(_) => last_error = format!("cannot connect to {target} ({addr}): timed out"),
        }
    }
    let Some(tcp) = tcp else {
        return Err(last_error);
    };
    if !settings.tls {
        return Ok(Box::pin(tcp));
    }
    let config = tls_config(settings)?;
    let name = ServerName::try_from(settings.server.clone())
        .map_err(|e| format!("{} is not a valid TLS server name: {e}", settings.server))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {target} failed: {e}"))?;
    Ok(Box::pin(tls))
}

/// The TLS client configuration: Mozilla's root certificates, plus those of `tls_ca_file`.
pub fn tls_config(settings: &Settings) -> Result<rustls::ClientConfig, String> {
    crate::tls::client_config(settings.tls_ca_file.as_deref())
}

/// Reads lines from the server.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// An overlong line is being skipped up to its end.
    skipping: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader over `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(4096),
            skipping: false,
        }
    }

    /// The next line without its CR LF, with invalid UTF-8 replaced; `None` at the end of the
    /// stream. A line longer than [`MAX_LINE`] is cut to that length (the rest is dropped).
    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                if line.is_empty() {
                    continue;
                }
                if line.len() > MAX_LINE {
                    tracing::warn!("the server sent a line longer than {MAX_LINE} bytes: cut");
                    line.truncate(MAX_LINE);
                }
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if self.buf.len() > MAX_LINE && !self.skipping {
                tracing::warn!("the server sent a line longer than {MAX_LINE} bytes: cut");
                let mut line: Vec<u8> = self.buf.drain(..).collect();
                line.truncate(MAX_LINE);
                self.skipping = true;
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if self.skipping {
                self.buf.clear();
            }
            let mut chunk = [0u8; 4096];
            let n = self.inner.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn lines_survive_invalid_utf8_and_overlong_input() {
        let (mut w, r) = tokio::io::duplex(64 * 1024);
        let mut reader = LineReader::new(r);
        w.write_all(b"PING :a\r\n\r\nbad \xff\xfe byte\nsplit ")
            .await
            .unwrap();
        w.write_all(b"line\r\n").await.unwrap();
        let long = vec![b'x'; MAX_LINE + 100];
        w.write_all(&long).await.unwrap();
        w.write_all(b"\r\nafter\r\n").await.unwrap();
        drop(w);
        assert_eq!(reader.next_line().await.unwrap().unwrap(), "PING :a");
        assert_eq!(
            reader.next_line().await.unwrap().unwrap(),
            "bad \u{fffd}\u{fffd} byte"
        );
        assert_eq!(reader.next_line().await.unwrap().unwrap(), "split line");
        assert_eq!(reader.next_line().await.unwrap().unwrap().len(), MAX_LINE);
        assert_eq!(reader.next_line().await.unwrap().unwrap(), "after");
        assert_eq!(reader.next_line().await.unwrap(), None);
    }
}
