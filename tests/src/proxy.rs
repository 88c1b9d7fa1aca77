//! A plain HTTP forward proxy on 127.0.0.1 for the tests of clients that go through one: `CONNECT
//! host:port` tunnels (answered `200 Connection established`, then bytes both ways) and
//! absolute-form requests (`POST http://host:port/path HTTP/1.1`, passed on unchanged to that
//! host, as HTTP/1.1 servers accept them). It records the first line of each connection's
//! request and the `Proxy-Authorization` it carried.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// One request the proxy received: its first line and its `Proxy-Authorization`, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// `CONNECT 127.0.0.1:4000 HTTP/1.1`, `POST http://127.0.0.1:4000/api/auth.test HTTP/1.1`.
    pub line: String,
    /// The header's value.
    pub authorization: Option<String>,
}

/// The running proxy; it ends with the test's runtime.
#[derive(Clone)]
pub struct Proxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    /// Starts the proxy on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let proxy = Self { addr, seen };
        let serving = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let proxy = serving.clone();
                tokio::spawn(async move { proxy.serve(client).await });
            }
        });
        proxy
    }

    /// `http://127.0.0.1:PORT`, with `user:password@` when given.
    pub fn url(&self, credentials: Option<&str>) -> String {
        match credentials {
            Some(c) => format!("http://{c}@{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// What the proxy received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn serve(&self, mut client: TcpStream) {
        // The head, byte by byte: what follows it belongs to the tunnel or the body.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            match client.read_u8().await {
                Ok(b) if head.len() < 16 * 1024 => head.push(b),
                _ => return,
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let line = text.lines().next().unwrap_or_default().to_owned();
        let authorization = text.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("proxy-authorization")
                .then(|| value.trim().to_owned())
        });
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Seen {
                line: line.clone(),
                authorization,
            });
        let mut words = line.split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (authority, tunnel) = if method == "CONNECT" {
            (target.to_owned(), true)
        } else {
            let rest = target.strip_prefix("http://").unwrap_or_default();
            (rest.split('/').next().unwrap_or_default().to_owned(), false)
        };
        let Ok(mut upstream) = TcpStream::connect(&authority).await else {
            let _ = client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        };
        let started = if tunnel {
            client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
        } else {
            upstream.write_all(&head).await
        };
        if started.is_ok() {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    }
}
