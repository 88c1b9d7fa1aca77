//! Mattermost API v4 over HTTP(S) (reqwest, rustls on ring) and its websocket
//! (`/api/v4/websocket`, tokio-tungstenite): requests with the bearer token, the login again
//! when the session expired (401), rate limits (429, `Retry-After`, `X-Ratelimit-*`) reported
//! to the caller, every answer parsed as untrusted JSON.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::RwLock;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::settings::{Auth, Settings};

/// A failed API request.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The server said to slow down: try again after this delay.
    RateLimited(Duration),
    /// The server answered with an error status (and its message).
    Status(u16, String),
    /// No answer (connection refused, reset, timed out) or one that is not JSON.
    Transport(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateLimited(d) => write!(f, "rate limited for {:.1} s", d.as_secs_f64()),
            Self::Status(code, message) => write!(f, "the server answered {code}: {message}"),
            Self::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl ApiError {
    /// Whether trying again later may succeed (no answer, rate limit, server error).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited(_) | Self::Transport(_) => true,
            Self::Status(code, _) => *code >= 500 || *code == 408,
        }
    }
}

/// The delay a 429 answer asks for: `Retry-After` (seconds), else `X-Ratelimit-Reset`
/// (seconds until the window resets), else one second; at most ten minutes.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let s = header_number(headers, "retry-after")
        .or_else(|| header_number(headers, "x-ratelimit-reset"))
        .unwrap_or(1.0);
    Duration::from_secs_f64(s.min(600.0))
}

/// A header holding a finite, non-negative number (the rate-limit headers).
fn header_number(headers: &reqwest::header::HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|n| n.is_finite() && *n >= 0.0)
}

/// The REST half of the API.
pub struct Api {
    http: reqwest::Client,
    /// `https://host[:port][/basepath]/api/v4`.
    base: String,
    auth: Auth,
    token: RwLock<String>,
    /// The server's rate-limit window, as its answers report it.
    window: std::sync::Mutex<Window>,
}

/// What is left of the server's rate-limit window (`X-Ratelimit-Limit`, `-Remaining`,
/// `-Reset`), counted down by each request sent, so that a burst of concurrent requests waits
/// for the reset instead of meeting 429s. Unknown until an answer tells.
#[derive(Debug, Default)]
struct Window {
    limit: Option<u32>,
    remaining: Option<u32>,
    reset_at: Option<tokio::time::Instant>,
}

impl Window {
    /// Takes one request from the window: `None` to go now, or the instant to wait for.
    fn take(&mut self, now: tokio::time::Instant) -> Option<tokio::time::Instant> {
        if self.reset_at.is_some_and(|t| now >= t) {
            self.remaining = self.limit;
            self.reset_at = None;
        }
        match self.remaining {
            None => None,
            Some(0) => Some(*self.reset_at.get_or_insert(now + Duration::from_secs(1))),
            Some(n) => {
                self.remaining = Some(n - 1);
                None
            }
        }
    }

    /// Learns from an answer's headers (the lower count wins: requests still on their way
    /// are not in the server's figure yet).
    fn learn(&mut self, now: tokio::time::Instant, limit: Option<u32>, remaining: u32, reset: f64) {
        if limit.is_some() {
            self.limit = limit;
        }
        self.remaining = Some(self.remaining.map_or(remaining, |r| r.min(remaining)));
        self.reset_at = Some(now + Duration::from_secs_f64(reset.clamp(0.0, 60.0)));
    }
}

impl Api {
    /// A client for `settings` (no request made yet).
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(settings)?)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("errbot-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        let base = format!("{}/api/v4", settings.url.as_str().trim_end_matches('/'));
        let token = match &settings.auth {
            Auth::Token(t) => t.clone(),
            Auth::Password { .. } => String::new(),
        };
        Ok(Self {
            http,
            base,
            auth: settings.auth.clone(),
            token: RwLock::new(token),
            window: std::sync::Mutex::new(Window::default()),
        })
    }

    /// The websocket's address (`ws://` or `wss://`).
    pub fn websocket_url(&self) -> String {
        let base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        format!("{base}/websocket")
    }

    /// The session token in use.
    pub async fn token(&self) -> String {
        self.token.read().await.clone()
    }

    /// Logs in with the password (nothing to do with a token).
    pub async fn login(&self) -> Result<(), ApiError> {
        let Auth::Password { login, password } = &self.auth else {
            return Ok(());
        };
        let resp = self
            .http
            .post(format!("{}/users/login", self.base))
            .header("content-type", "application/json")
            .body(json!({"login_id": login, "password": password}).to_string())
            .send()
            .await
            .map_err(|e| ApiError::Transport(crate::adapters::error_chain(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(error_of(status, resp).await);
        }
        let token = resp
            .headers()
            .get("token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Transport("the login answer has no Token header".into()))?
            .to_owned();
        *self.token.write().await = token;
        Ok(())
    }

    /// A request with a JSON body; answers the JSON the server sent (`null` when empty).
    /// A 401 with a password logs in again and tries once more.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        self.call_raw(
            method,
            path,
            body.map(|b| (b.to_string().into_bytes(), "application/json")),
        )
        .await
    }

    /// A request with any body (`bytes`, content type).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<Value, ApiError> {
        let mut relogged = false;
        loop {
            self.wait_for_window().await;
            let token = self.token().await;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&token);
            if let Some((bytes, kind)) = &body {
                req = req.header("content-type", *kind).body(bytes.clone());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| ApiError::Transport(crate::adapters::error_chain(&e)))?;
            let status = resp.status();
            self.note_window(resp.headers());
            if status == StatusCode::UNAUTHORIZED
                && !relogged
                && matches!(self.auth, Auth::Password { .. })
            {
                tracing::info!("the Mattermost session expired: logging in again");
                relogged = true;
                self.login().await?;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                return Err(ApiError::RateLimited(retry_after(resp.headers())));
            }
            if !status.is_success() {
                return Err(error_of(status, resp).await);
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| ApiError::Transport(crate::adapters::error_chain(&e)))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::Transport(format!("the server's answer is not JSON: {e}")));
        }
    }

    /// Waits while the rate-limit window is used up, then takes one request from it.
    async fn wait_for_window(&self) {
        loop {
            let wait = self
                .window
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(tokio::time::Instant::now());
            match wait {
                None => return,
                Some(until) => tokio::time::sleep_until(until).await,
            }
        }
    }

    /// Reads the window an answer reports.
    fn note_window(&self, headers: &reqwest::header::HeaderMap) {
        let number = |name: &str| header_number(headers, name);
        let Some(remaining) = number("x-ratelimit-remaining") else {
            return;
        };
        let limit = number("x-ratelimit-limit").map(|l| l.min(f64::from(u32::MAX)) as u32);
        let reset = number("x-ratelimit-reset").unwrap_or(1.0);
        self.window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .learn(
                tokio::time::Instant::now(),
                limit,
                remaining.min(f64::from(u32::MAX)) as u32,
                reset,
            );
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, path, Some(body)).await
    }
}

/// An error answer: its status and the `message` of Mattermost's AppError, if any.
async fn error_of(status: StatusCode, resp: reqwest::Response) -> ApiError {
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect());
    ApiError::Status(status.as_u16(), message)
}

/// The TLS configuration of both halves: the usual roots plus `tls_ca_file`, or none checked
/// with `verify = false` (warned about at every connection).
pub fn tls_config(settings: &Settings) -> Result<rustls::ClientConfig, String> {
    if settings.verify {
        crate::tls::client_config(settings.tls_ca_file.as_deref())
    } else {
        crate::tls::insecure_client_config()
    }
}

/// An open websocket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the websocket (resuming the connection `resume` names, when given) and authenticates (the `authentication_challenge` action with the
/// token; the token also goes in the Authorization header, which servers accept too).
pub async fn open_websocket(
    api: &Api,
    settings: &Settings,
    resume: Option<(String, i64)>,
) -> Result<Socket, String> {
    let timeout = settings.timeout;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let token = api.token().await;
    let mut url = api.websocket_url();
    if let Some((id, next)) = resume {
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        url.push_str(&format!("?connection_id={id}&sequence_number={next}"));
    }
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("bad websocket address: {e}"))?;
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.headers_mut().insert("authorization", value);
    }
    if !settings.verify {
        tracing::warn!(
            "verify = false: the certificate of {} is not checked; anyone on the way can \
             read the bot's token",
            settings.url
        );
    }
    let connector =
        tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(tls_config(settings)?));
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector));
    let (mut socket, _) = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| "the websocket did not open in time".to_owned())?
        .map_err(|e| format!("cannot open the websocket: {e}"))?;
    let challenge = json!({
        "seq": 1,
        "action": "authentication_challenge",
        "data": {"token": token},
    });
    socket
        .send(WsMessage::text(challenge.to_string()))
        .await
        .map_err(|e| format!("cannot authenticate on the websocket: {e}"))?;
    Ok(socket)
}

/// Reads the next text frame as JSON (other frames: `Ok(None)`); an error ends the socket.
pub async fn next_json(socket: &mut Socket) -> Result<Option<Value>, String> {
    match socket.next().await {
        None => Err("the server closed the websocket".into()),
        Some(Err(e)) => Err(format!("websocket: {e}")),
        Some(Ok(WsMessage::Text(text))) => Ok(serde_json::from_str(text.as_str()).ok()),
        Some(Ok(WsMessage::Close(frame))) => Err(format!(
            "the server closed the websocket{}",
            frame.map(|f| format!(": {}", f.reason)).unwrap_or_default()
        )),
        Some(Ok(_)) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[test]
    fn the_window_is_counted_down_and_waits_for_its_reset() {
        let now = Instant::now();
        let mut w = Window::default();
        // Unknown: go.
        assert_eq!(w.take(now), None);
        w.learn(now, Some(3), 2, 1.0);
        assert_eq!(w.take(now), None);
        assert_eq!(w.take(now), None);
        // Used up: wait for the reset, then the whole limit again.
        let reset = now + Duration::from_secs(1);
        assert_eq!(w.take(now), Some(reset));
        assert_eq!(w.take(reset), None);
        assert_eq!(w.remaining, Some(2));
        // The server's lower figure wins over the local count.
        w.learn(reset, Some(3), 0, 0.5);
        assert_eq!(w.take(reset), Some(reset + Duration::from_millis(500)));
    }
}
