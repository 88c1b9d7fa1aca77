//! errbotd's web server (`[web]`, off unless configured; Errbot's Webserver plugin): the
//! plugins' webhooks, which enter the pipeline at execute ([`crate::pipeline::execute::webhook`]),
//! and the operations endpoints `/healthz`, `/readyz` and `/metrics` (Prometheus text format,
//! [`crate::telemetry`]).
//!
//! - `routes`: the webhook rules and their matching (the registry holds the routes, so that
//!   they come and go with their plugins).
//! - `auth`: `[[web.auth]]`, signatures (GitHub's, Slack's) or tokens checked before any plugin
//!   sees the request (401).
//! - `tls`: HTTPS when `[web]` names a certificate and its key (rustls on ring).
//!
//! Every request is bounded: its body (`max_body_bytes`: 413), the requests in flight
//! (`max_in_flight`: 503 with Retry-After), the plugin's answer (`request_timeout_secs`: 504).
//! A plugin's failure is a 500 without its text (which is logged); a route no plugin serves,
//! a 404; a method it does not take, a 405.

pub mod auth;
pub mod routes;
pub mod tls;
pub mod webserver;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use errbot_proto::v1::WebhookRequest;
use tokio::sync::Semaphore;

use crate::bot::Bot;
use crate::config::WebSettings;
use crate::pipeline::execute::{self, WebhookFailure};

struct Web {
    bot: Arc<Bot>,
    settings: WebSettings,
    in_flight: Semaphore,
    guards: Vec<auth::Guard>,
}

/// The web server in force: started with errbotd from `[web]` or from the configuration given
/// to Errbot's Webserver plugin ([`webserver`]), started again on another address by
/// `!plugin config Webserver`.
#[derive(Default)]
pub struct Server {
    running: tokio::sync::Mutex<Option<Running>>,
    settings: std::sync::RwLock<Option<WebSettings>>,
}

/// A server bound and serving.
struct Running {
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The settings of the server that runs; `None` when it is off.
    pub fn settings(&self) -> Option<WebSettings> {
        self.settings
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops the server that runs, if any (its address is free when this returns), then
    /// binds `settings.listen` and serves there until errbotd stops or the next `serve`.
    /// On failure the server is off.
    pub async fn serve(&self, bot: Arc<Bot>, settings: WebSettings) -> anyhow::Result<SocketAddr> {
        let mut running = self.running.lock().await;
        // The old server's listener closes once its tasks have seen the abort: a new one on the
        // same address may have to wait for that.
        let mut patience = Duration::ZERO;
        if let Some(old) = running.take() {
            old.task.abort();
            let _ = old.task.await;
            patience = Duration::from_secs(2);
        }
        let started = start(bot, settings.clone(), patience).await;
        *self
            .settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            started.as_ref().ok().map(|_| settings);
        let (addr, task) = started?;
        *running = Some(Running { task });
        Ok(addr)
    }
}

/// Binds `settings.listen` and serves there from a task of its own; fails when the address
/// cannot be bound (still in use after `patience`) or the TLS files cannot be read.
async fn start(
    bot: Arc<Bot>,
    settings: WebSettings,
    patience: Duration,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let guards = auth::Guard::load(&settings.auth)?;
    let tls = match (&settings.tls_cert_file, &settings.tls_key_file) {
        (Some(cert), Some(key)) => {
            let config = bot.config();
            Some(tls::acceptor(&config.resolve(cert), &config.resolve(key))?)
        }
        (Some(_), None) => anyhow::bail!("web.tls_key_file: missing (web.tls_cert_file is set)"),
        (None, Some(_)) => anyhow::bail!("web.tls_cert_file: missing (web.tls_key_file is set)"),
        (None, None) => None,
    };
    crate::telemetry::install()?;
    let listener = bind(&settings.listen, patience)
        .await
        .map_err(|e| anyhow::anyhow!("web.listen: cannot listen on {}: {e}", settings.listen))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(Web {
        in_flight: Semaphore::new(settings.max_in_flight.max(1)),
        guards,
        bot,
        settings,
    });
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .fallback(webhook)
        .with_state(state);
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = match tls {
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, service).await {
                tracing::error!("the web server stopped: {e}");
            }
        }),
        Some(acceptor) => {
            // Tapped (doing nothing): axum gives the remote address of a tapped listener's
            // connections to ConnectInfo.
            let listener = tls::TlsListener::new(listener, acceptor)?.tap_io(|_| {});
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, service).await {
                    tracing::error!("the web server stopped: {e}");
                }
            })
        }
    };
    tracing::info!("web server on {scheme}://{addr}");
    Ok((addr, task))
}

/// Binds `listen`, trying again while the address is in use, for up to `patience`.
async fn bind(listen: &str, patience: Duration) -> std::io::Result<tokio::net::TcpListener> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match tokio::net::TcpListener::bind(listen).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            bound => return bound,
        }
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

/// Liveness: errbotd answers.
async fn healthz() -> Response {
    plain(StatusCode::OK, "ok")
}

/// Readiness: every gateway connected and no plugin starting or restarting.
async fn readyz(State(web): State<Arc<Web>>) -> Response {
    let waiting: Vec<String> = web
        .bot
        .child_statuses()
        .into_iter()
        .filter(|c| c.state != "running" && (c.kind == "backend" || c.state.ends_with("ing")))
        .map(|c| format!("{} ({}) {}", c.name, c.kind, c.state))
        .collect();
    if waiting.is_empty() {
        plain(StatusCode::OK, "ready")
    } else {
        plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("not ready: {}", waiting.join(", ")),
        )
    }
}

/// The metrics, in Prometheus text format (version 0.0.4).
async fn scrape(State(web): State<Arc<Web>>) -> Response {
    let Some(text) = crate::telemetry::render(&web.bot) else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no metrics recorder");
    };
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Any other path: a plugin's webhook, or 404; counted by route and status.
async fn webhook(
    State(web): State<Arc<Web>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    counted(&web, remote, request).await
}

/// Answers a webhook request and counts it by route and status.
async fn counted(web: &Web, remote: SocketAddr, request: Request) -> Response {
    let started = std::time::Instant::now();
    let mut route = "unmatched".to_owned();
    let response = answer_webhook(web, remote, request, &mut route).await;
    crate::telemetry::webhook(&route, response.status().as_u16(), started.elapsed());
    response
}

/// What `!webhook test` shows of a request.
#[derive(Debug)]
pub struct TestAnswer {
    /// The status, with its reason (`200 OK`).
    pub status: String,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
}

/// A POST of `body` (sent as `content_type`) to `path`, made inside errbotd through the same
/// handling as a client's (routing, `[[web.auth]]`, the plugin, the limits), from 127.0.0.1
/// (Errbot's `!webhook test`).
pub async fn test_request(
    bot: &Arc<Bot>,
    settings: WebSettings,
    path: &str,
    content_type: &str,
    body: String,
) -> anyhow::Result<TestAnswer> {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", content_type)
        .body(Body::from(body))?;
    let web = Web {
        in_flight: Semaphore::new(1),
        guards: auth::Guard::load(&settings.auth)?,
        bot: bot.clone(),
        settings,
    };
    let response = counted(&web, SocketAddr::from(([127, 0, 0, 1], 0)), request).await;
    let status = response.status().to_string();
    let body = axum::body::to_bytes(
        response.into_body(),
        web.settings.max_body_bytes.max(1 << 16),
    )
    .await
    .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?;
    Ok(TestAnswer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Answers a webhook request; `route_rule` becomes the rule of the webhook it matched.
async fn answer_webhook(
    web: &Web,
    remote: SocketAddr,
    request: Request,
    route_rule: &mut String,
) -> Response {
    let Ok(_permit) = web.in_flight.try_acquire() else {
        let mut busy = plain(StatusCode::SERVICE_UNAVAILABLE, "busy, try again");
        busy.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return busy;
    };
    let registry = web.bot.registry();
    let path = request.uri().path().to_owned();
    let Some((route, params)) = registry.webhook_route(&path) else {
        drop(registry);
        if webserver::is_echo(&path) {
            *route_rule = webserver::ECHO_RULE.to_owned();
            return echo(web, remote, request).await;
        }
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    route_rule.clone_from(&route.spec.uri_rule);
    let method = request.method().clone();
    let methods = route.methods();
    if !methods.iter().any(|m| m == method.as_str()) {
        let mut refused = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        if let Ok(allow) = HeaderValue::from_str(&methods.join(", ")) {
            refused.headers_mut().insert("allow", allow);
        }
        return refused;
    }
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let (headers, body) = match admitted(web, remote, &path, request).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let body_json = match read_body(&route.spec.body, &headers, &body) {
        Ok(json) => json,
        Err(why) => return plain(StatusCode::BAD_REQUEST, &why),
    };
    let call = WebhookRequest {
        webhook: route.spec.name.clone(),
        method: method.to_string(),
        path,
        params,
        query,
        headers,
        body: body.to_vec(),
        body_json,
        remote: remote.to_string(),
    };
    let plugin = route.plugin.clone();
    let deadline = Duration::from_secs_f64(web.settings.request_timeout_secs.max(0.001));
    drop(registry);
    match execute::webhook(&web.bot, &plugin, call, deadline).await {
        Ok(answer) => response_of(answer),
        Err(WebhookFailure::NotServed) => plain(StatusCode::NOT_FOUND, "not found"),
        Err(WebhookFailure::Unavailable(why)) => {
            tracing::warn!(%plugin, "webhook {route_rule}: {why}");
            let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "unavailable, try again");
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("5"));
            r
        }
        Err(WebhookFailure::TimedOut) => {
            tracing::warn!(%plugin, "webhook {route_rule} did not answer within {deadline:?}");
            plain(
                StatusCode::GATEWAY_TIMEOUT,
                "the plugin did not answer in time",
            )
        }
        Err(WebhookFailure::Failed(why)) => {
            tracing::warn!(%plugin, "webhook {route_rule} failed: {why}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// The request's headers and body once read (bounded: 413) and let through by `[[web.auth]]`
/// (401 otherwise).
async fn admitted(
    web: &Web,
    remote: SocketAddr,
    path: &str,
    request: Request,
) -> Result<(HashMap<String, String>, axum::body::Bytes), Response> {
    let headers = headers_of(request.headers());
    let body = axum::body::to_bytes(request.into_body(), web.settings.max_body_bytes)
        .await
        .map_err(|_| plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"))?;
    if let Some(guard) = auth::Guard::for_path(&web.guards, path) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if let Err(why) = guard.check(&headers, &body, now) {
            tracing::warn!(%path, %remote, "webhook refused: {why}");
            return Err(plain(StatusCode::UNAUTHORIZED, "unauthorized"));
        }
    }
    Ok((headers, body))
}

/// Errbot's Webserver test webhook `/echo`, served when no plugin serves that path: the
/// request's JSON or form, as Python's `str()` writes it (Errbot's answer); any other body as
/// its text.
async fn echo(web: &Web, remote: SocketAddr, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let (headers, body) = match admitted(web, remote, &path, request).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let text = match read_body("json", &headers, &body)
        .ok()
        .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
    {
        Some(serde_json::Value::Null) => String::new(),
        Some(value) => crate::pyliteral::repr(&value),
        None => String::from_utf8_lossy(&body).into_owned(),
    };
    (
        StatusCode::OK,
        [("content-type", "text/html; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Header names in lower case; repeated ones joined by ", ".
fn headers_of(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// The body as JSON text, as the webhook's `body` asks (`json`: JSON, or a form's fields,
/// or null when empty; `form`: a form's fields; `raw`: nothing).
pub fn read_body(
    kind: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> Result<String, String> {
    let form = || {
        let fields: serde_json::Map<String, serde_json::Value> = form_urlencoded::parse(body)
            .into_owned()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        serde_json::Value::Object(fields).to_string()
    };
    let content_type = headers.get("content-type").map_or("", String::as_str);
    match kind {
        "raw" => Ok(String::new()),
        "form" => Ok(form()),
        _ if content_type.starts_with("application/x-www-form-urlencoded") => Ok(form()),
        _ if body.iter().all(u8::is_ascii_whitespace) => Ok("null".to_owned()),
        _ => serde_json::from_slice::<serde_json::Value>(body)
            .map(|v| v.to_string())
            .map_err(|e| format!("the body is not JSON: {e}")),
    }
}

/// The plugin's answer as an HTTP response (bad header names or values are left out).
pub fn response_of(answer: errbot_proto::v1::WebhookResponse) -> Response {
    let status = match answer.status {
        0 => StatusCode::OK,
        code => u16::try_from(code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    if !headers.contains_key("content-type") {
        headers.insert(
            "content-type",
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}
