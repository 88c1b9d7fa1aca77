//! Slack's Web API over HTTPS (reqwest, rustls on ring) and the Socket Mode websocket
//! (tokio-tungstenite with the same TLS configuration).
//!
//! Every method is a `POST {api_url}/{method}` with a form-encoded body (which every method
//! accepts, unlike JSON) and the token in the Authorization header. The answer is HTTP 200 with
//! `{"ok": true, ...}` or `{"ok": false, "error": "<code>"}`, except rate limits: HTTP 429 with
//! `Retry-After` (seconds). Answers are untrusted JSON, read field by field.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::settings::Settings;

/// A failed Web API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// HTTP 429: try again after this delay.
    RateLimited(Duration),
    /// Slack answered `ok: false` with this error code (`channel_not_found`, `invalid_auth`...).
    Slack(String),
    /// No answer (connection refused, reset, timed out), an HTTP error, or an answer that is
    /// not Slack's JSON.
    Transport(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateLimited(d) => write!(f, "rate limited for {:.1} s", d.as_secs_f64()),
            Self::Slack(code) => write!(f, "Slack answered {code}"),
            Self::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl ApiError {
    /// Whether trying again later may succeed (no answer, rate limit, a failure on Slack's
    /// side).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited(_) | Self::Transport(_) => true,
            Self::Slack(code) => matches!(
                code.as_str(),
                "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
                    | "ratelimited"
                    | "team_added_to_org"
            ),
        }
    }
}

/// The delay a 429 answer asks for (`Retry-After`, seconds; one second when absent; at most
/// ten minutes).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let secs = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs.min(600.0))
}

/// A successful answer: its JSON and the scopes the token has (`x-oauth-scopes`, when sent).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The JSON body (`ok` is true).
    pub body: Value,
    /// The `x-oauth-scopes` header, split at commas.
    pub scopes: Option<Vec<String>>,
}

/// The Web API client.
pub struct Api {
    http: reqwest::Client,
    base: String,
    bot_token: String,
    app_token: String,
}

/// Which token a call uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// The bot token (`xoxb-`).
    Bot,
    /// The app-level token (`xapp-`), for `apps.connections.open` only.
    App,
}

impl Api {
    /// A client for `settings` (no request made yet).
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(crate::tls::client_config(None)?)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("errbot-rs/", env!("CARGO_PKG_VERSION")));
        if let Some(proxy) = &settings.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| format!("cannot use the proxy: {e}"))?;
            builder = builder.proxy(proxy);
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: settings.api_url.as_str().trim_end_matches('/').to_owned(),
            bot_token: settings.bot_token.0.clone(),
            app_token: match &settings.mode {
                super::settings::Mode::Socket { app_token } => app_token.0.clone(),
                super::settings::Mode::Events { .. } => String::new(),
            },
        })
    }

    /// Calls `method` with form fields `params`.
    pub async fn call(
        &self,
        method: &str,
        token: Token,
        params: &[(&str, &str)],
    ) -> Result<Answer, ApiError> {
        let token = match token {
            Token::Bot => &self.bot_token,
            Token::App => &self.app_token,
        };
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let resp = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                ApiError::Transport(format!("{method}: {}", crate::adapters::error_chain(&e)))
            })?;
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::RateLimited(retry_after(resp.headers())));
        }
        let scopes = resp
            .headers()
            .get("x-oauth-scopes")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            });
        let bytes = resp.bytes().await.map_err(|e| {
            ApiError::Transport(format!("{method}: {}", crate::adapters::error_chain(&e)))
        })?;
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            return Err(ApiError::Transport(format!(
                "{method}: HTTP {}: {text}",
                status.as_u16()
            )));
        }
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Transport(format!("{method}: the answer is not JSON: {e}")))?;
        if body.get("ok").and_then(Value::as_bool) == Some(true) {
            if let Some(w) = body.get("warning").and_then(Value::as_str) {
                tracing::debug!("{method}: Slack warns {w}");
            }
            Ok(Answer { body, scopes })
        } else {
            let code = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown_error");
            Err(ApiError::Slack(code.to_owned()))
        }
    }
}

impl Api {
    /// Sends a file's bytes to the address `files.getUploadURLExternal` gave (no token: the
    /// address is the permission). Slack answers 200 with a short text.
    pub async fn upload_bytes(&self, url: &str, data: Vec<u8>) -> Result<(), ApiError> {
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .map_err(|e| {
                ApiError::Transport(format!("file upload: {}", crate::adapters::error_chain(&e)))
            })?;
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::RateLimited(retry_after(resp.headers())));
        }
        if status.is_success() {
            Ok(())
        } else {
            Err(ApiError::Transport(format!(
                "file upload: HTTP {}",
                status.as_u16()
            )))
        }
    }
}

/// An open Socket Mode websocket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the websocket at `url` (from `apps.connections.open`), through a CONNECT tunnel of
/// the HTTP proxy `proxy` when there is one.
pub async fn open_websocket(
    url: &str,
    timeout: Duration,
    proxy: Option<&url::Url>,
) -> Result<Socket, String> {
    let connector =
        tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(crate::tls::client_config(None)?));
    let open = async {
        let opened = match proxy {
            None => {
                tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
                    .await
            }
            Some(proxy) => {
                let stream = tunnel(proxy, url).await?;
                tokio_tungstenite::client_async_tls_with_config(url, stream, None, Some(connector))
                    .await
            }
        };
        opened
            .map(|(socket, _)| socket)
            .map_err(|e| format!("cannot open the websocket: {e}"))
    };
    tokio::time::timeout(timeout, open)
        .await
        .map_err(|_| "the websocket did not open in time".to_owned())?
}

/// The longest answer head a proxy may give to CONNECT.
const PROXY_HEAD_LIMIT: usize = 8 * 1024;

/// A connection to the host of `target` (a `ws://` or `wss://` address) through the HTTP
/// proxy `proxy`: `CONNECT host:port` (with Basic credentials when the proxy's address has a
/// user), and a 2xx answer. The answer's head is read byte by byte, so that nothing of what
/// follows it (the TLS handshake) is taken.
async fn tunnel(proxy: &url::Url, target: &str) -> Result<TcpStream, String> {
    let target = url::Url::parse(target)
        .map_err(|e| format!("the websocket address {target:?} is not a URL: {e}"))?;
    let (Some(host), Some(port)) = (target.host_str(), target.port_or_known_default()) else {
        return Err(format!(
            "the websocket address {target} has no host or port"
        ));
    };
    let (Some(proxy_host), Some(proxy_port)) = (proxy.host_str(), proxy.port_or_known_default())
    else {
        return Err(format!("the proxy address {proxy} has no host or port"));
    };
    let mut stream = TcpStream::connect(format!("{proxy_host}:{proxy_port}"))
        .await
        .map_err(|e| format!("cannot reach the proxy {proxy_host}:{proxy_port}: {e}"))?;
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if !proxy.username().is_empty() {
        let credentials = format!(
            "{}:{}",
            crate::encode::percent_decoded(proxy.username()),
            crate::encode::percent_decoded(proxy.password().unwrap_or(""))
        );
        request.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            crate::encode::base64(credentials.as_bytes())
        ));
    }
    request.push_str("\r\n");
    let broken = |e: std::io::Error| format!("the proxy {proxy_host}:{proxy_port}: {e}");
    stream.write_all(request.as_bytes()).await.map_err(broken)?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= PROXY_HEAD_LIMIT {
            return Err(format!(
                "the proxy {proxy_host}:{proxy_port} answered CONNECT with an endless head"
            ));
        }
        let byte = stream.read_u8().await.map_err(broken)?;
        head.push(byte);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head.lines().next().unwrap_or_default();
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') && code.len() == 3 => Ok(stream),
        _ => Err(format!(
            "the proxy {proxy_host}:{proxy_port} refused CONNECT {host}:{port}: {status}"
        )),
    }
}

/// What the next frame of a socket was.
pub enum Frame {
    /// A text frame that is JSON.
    Json(Value),
    /// Anything else (pings, pongs, binary, text that is not JSON).
    Other,
}

/// Reads the next frame; an error or a close ends the socket.
pub async fn next_frame(socket: &mut Socket) -> Result<Frame, String> {
    match socket.next().await {
        None => Err("the server closed the websocket".into()),
        Some(Err(e)) => Err(format!("websocket: {e}")),
        Some(Ok(WsMessage::Text(text))) => Ok(serde_json::from_str(text.as_str())
            .map(Frame::Json)
            .unwrap_or(Frame::Other)),
        Some(Ok(WsMessage::Close(frame))) => Err(format!(
            "the server closed the websocket{}",
            frame.map(|f| format!(": {}", f.reason)).unwrap_or_default()
        )),
        Some(Ok(_)) => Ok(Frame::Other),
    }
}

/// A string field of a JSON object (empty when absent or not a string).
pub fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), Duration::from_secs(1));
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Duration::from_secs(3));
        h.insert("retry-after", "99999".parse().unwrap());
        assert_eq!(retry_after(&h), Duration::from_secs(600));
    }

    #[test]
    fn proxy_credentials_are_basic() {
        assert_eq!(crate::encode::base64(b""), "");
        assert_eq!(crate::encode::base64(b"f"), "Zg==");
        assert_eq!(crate::encode::base64(b"fo"), "Zm8=");
        assert_eq!(crate::encode::base64(b"foo"), "Zm9v");
        assert_eq!(
            crate::encode::base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(crate::encode::percent_decoded("p%40ss%3Aw%zz"), "p@ss:w%zz");
    }

    #[test]
    fn only_failures_on_slacks_side_are_transient() {
        assert!(ApiError::Slack("internal_error".into()).is_transient());
        assert!(!ApiError::Slack("channel_not_found".into()).is_transient());
        assert!(ApiError::RateLimited(Duration::from_secs(1)).is_transient());
    }
}
