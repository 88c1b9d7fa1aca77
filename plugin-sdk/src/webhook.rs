//! Webhooks (Errbot's `@webhook`): `#[webhook("/path/<param>")]` handlers receive a
//! [`WebhookRequest`] and answer anything that is [`IntoWebhookResponse`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use errbot_proto::v1;
use serde::de::DeserializeOwned;

use crate::bot::Bot;
use crate::context::Runtime;
use crate::reply::BoxError;

/// One HTTP request to a webhook, as errbotd's web server received it.
pub struct WebhookRequest {
    inner: v1::WebhookRequest,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRequest")
            .field("webhook", &self.inner.webhook)
            .field("method", &self.inner.method)
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl WebhookRequest {
    pub(crate) fn new(inner: v1::WebhookRequest, runtime: Arc<Runtime>) -> Self {
        Self { inner, runtime }
    }
    /// The webhook's name (the method's name unless `name = "..."`).
    pub fn webhook(&self) -> &str {
        &self.inner.webhook
    }
    /// `POST`, `GET`...
    pub fn method(&self) -> &str {
        &self.inner.method
    }
    /// The path as requested.
    pub fn path(&self) -> &str {
        &self.inner.path
    }
    /// The value of the rule's `<name>` segment.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.inner.params.get(name).map(String::as_str)
    }
    /// A query-string parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.inner.query.get(name).map(String::as_str)
    }
    /// A header, by name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    /// The body as received.
    pub fn body(&self) -> &[u8] {
        &self.inner.body
    }
    /// The body as the webhook reads it (`body = "json"` or `"form"`), as your own type.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.json_text())
    }
    /// The body as the webhook reads it, as a JSON value (`null` for `body = "raw"`).
    pub fn json_value(&self) -> serde_json::Value {
        serde_json::from_str(self.json_text()).unwrap_or(serde_json::Value::Null)
    }
    fn json_text(&self) -> &str {
        if self.inner.body_json.is_empty() {
            "null"
        } else {
            &self.inner.body_json
        }
    }
    /// The client's address.
    pub fn remote(&self) -> &str {
        &self.inner.remote
    }
    /// The bot: send messages about what came in.
    pub fn bot(&self) -> &Bot {
        &self.runtime.bot
    }
    /// The plugin's persistent storage.
    pub fn storage(&self) -> &crate::Storage {
        self.runtime.bot.storage()
    }
}

/// The HTTP response to a webhook request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookResponse {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl WebhookResponse {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            ..Default::default()
        }
    }
    /// 200 with a text body.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(text.into().into_bytes())
    }
    /// 200 with a JSON body.
    pub fn json(value: &impl serde::Serialize) -> Result<Self, serde_json::Error> {
        Ok(Self::new(200)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(value)?))
    }
    /// The same with another status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
    /// The same with a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .insert(name.to_ascii_lowercase(), value.to_owned());
        self
    }
    /// The same with a body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub(crate) fn into_proto(self) -> v1::WebhookResponse {
        v1::WebhookResponse {
            status: u32::from(self.status),
            headers: self.headers.into_iter().collect(),
            body: self.body,
        }
    }
}

/// What a `#[webhook]` handler may return: text (200, `text/plain`), a JSON value (200,
/// `application/json`), `()` (204), a [`WebhookResponse`], or a `Result` of those (an `Err`
/// is a failure: logged, and answered 500 without its text).
pub trait IntoWebhookResponse {
    /// Converts the handler's outcome.
    fn into_webhook_response(self) -> Result<WebhookResponse, BoxError>;
}

impl IntoWebhookResponse for WebhookResponse {
    fn into_webhook_response(self) -> Result<WebhookResponse, BoxError> {
        Ok(self)
    }
}

impl IntoWebhookResponse for String {
    fn into_webhook_response(self) -> Result<WebhookResponse, BoxError> {
        Ok(WebhookResponse::text(self))
    }
}

impl IntoWebhookResponse for &'static str {
    fn into_webhook_response(self) -> Result<WebhookResponse, BoxError> {
        Ok(WebhookResponse::text(self))
    }
}

impl IntoWebhookResponse for () {
    fn into_webhook_response(self) -> Result<WebhookResponse, BoxError> {
        Ok(WebhookResponse::new(204))
    }
}

impl IntoWebhookResponse for serde_json::Value {
    fn into_webhook_response(self) -> Result<WebhookResponse, BoxError> {
        Ok(WebhookResponse::json(&self)?)
    }
}

impl<T: IntoWebhookResponse, E: Into<BoxError>> IntoWebhookResponse for Result<T, E> {
    fn into_webhook_response(self) -> Result<WebhookResponse, BoxError> {
        self.map_err(Into::into)?.into_webhook_response()
    }
}
