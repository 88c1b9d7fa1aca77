//! Telegram's Bot API over HTTP(S) (reqwest, rustls on ring): `POST {api_url}/bot{token}/{method}`
//! with a JSON body (or multipart for a file), and its answer `{"ok": true, "result": ...}` or
//! `{"ok": false, "error_code": N, "description": "...", "parameters": {...}}` turned into an
//! [`ApiError`]: `retry_after` (429) and `migrate_to_chat_id` (a group that became a
//! supergroup) are read from `parameters`. The token is part of every URL, so no URL is ever
//! logged or put in an error.

use std::time::Duration;

use serde_json::Value;

use super::settings::Settings;

/// A failed Bot API call.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 429: try again after this delay (`parameters.retry_after`).
    RateLimited(Duration),
    /// The group became a supergroup with this id (`parameters.migrate_to_chat_id`).
    Migrated(i64),
    /// Telegram refused the call: `error_code` and `description`.
    Refused(u16, String),
    /// No answer (connection refused, reset, timed out) or one that is not the API's JSON.
    Transport(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateLimited(d) => write!(f, "rate limited for {:.1} s", d.as_secs_f64()),
            Self::Migrated(id) => write!(f, "the group is now the supergroup {id}"),
            Self::Refused(code, text) => write!(f, "{code} {text}"),
            Self::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl ApiError {
    /// Whether trying again later may succeed (no answer, rate limit, server error).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited(_) | Self::Transport(_) => true,
            Self::Refused(code, _) => *code >= 500,
            Self::Migrated(_) => false,
        }
    }

    /// Whether Telegram refused the message's formatting ("can't parse entities").
    pub fn is_entity_error(&self) -> bool {
        matches!(self, Self::Refused(400, text) if text.to_ascii_lowercase().contains("can't parse entities"))
    }

    /// Whether this is a 409 Conflict (another poller, or a webhook is set).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Refused(409, _))
    }
}

/// A file sent with a call (multipart).
pub struct Attachment {
    /// The parameter holding it (`document`).
    pub field: &'static str,
    /// The file's name as people see it.
    pub name: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The Bot API client.
pub struct Api {
    http: reqwest::Client,
    /// `{api_url}/bot{token}/`: secret.
    base: String,
    timeout: Duration,
}

impl Api {
    /// A client for `settings` (no request made yet).
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let tls = crate::tls::client_config(settings.tls_ca_file.as_deref())?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("errbot-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: format!(
                "{}/bot{}/",
                settings.api_url.as_str().trim_end_matches('/'),
                settings.token
            ),
            timeout: settings.timeout,
        })
    }

    /// Calls `method` with JSON `params`; `wait` is added to the time limit (a long poll's own
    /// wait).
    pub async fn call(
        &self,
        method: &str,
        params: &Value,
        wait: Duration,
    ) -> Result<Value, ApiError> {
        let request = self
            .http
            .post(format!("{}{method}", self.base))
            .timeout(self.timeout + wait)
            .header("content-type", "application/json")
            .body(params.to_string());
        self.answer(request).await
    }

    /// Calls `method` with `fields` and a file, as multipart/form-data.
    pub async fn call_with_file(
        &self,
        method: &str,
        fields: &[(&str, String)],
        file: &Attachment,
    ) -> Result<Value, ApiError> {
        let boundary = format!("errbot-rs-{:016x}", rand_boundary());
        let mut body = Vec::with_capacity(file.data.len() + 512);
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        let filename: String = file
            .name
            .chars()
            .map(|c| if c == '"' || c.is_control() { '_' } else { c })
            .collect();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{filename}\"\r\n\
                 Content-Type: {}\r\n\r\n",
                file.field, file.content_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(&file.data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self
            .http
            .post(format!("{}{method}", self.base))
            .timeout(self.timeout * 4)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        self.answer(request).await
    }

    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Value, ApiError> {
        // reqwest's errors name the URL, which holds the token: it is left out.
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Transport(crate::adapters::error_chain(&e.without_url())))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(crate::adapters::error_chain(&e.without_url())))?;
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(if status >= 500 || status == 429 {
                ApiError::Refused(
                    status.max(500),
                    format!("HTTP {status} without the API's answer"),
                )
            } else {
                ApiError::Transport(format!("HTTP {status}: the answer is not JSON"))
            });
        };
        interpret(status, v)
    }
}

/// The result of an answer, or its error.
pub fn interpret(status: u16, v: Value) -> Result<Value, ApiError> {
    if v.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(v.get("result").cloned().unwrap_or(Value::Null));
    }
    let code = v
        .get("error_code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(status);
    let description = v
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("no description")
        .to_owned();
    let parameters = v.get("parameters");
    if let Some(id) = parameters
        .and_then(|p| p.get("migrate_to_chat_id"))
        .and_then(Value::as_i64)
    {
        return Err(ApiError::Migrated(id));
    }
    if code == 429 {
        let secs = parameters
            .and_then(|p| p.get("retry_after"))
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(1.0)
            .min(3600.0);
        return Err(ApiError::RateLimited(Duration::from_secs_f64(secs)));
    }
    Err(ApiError::Refused(code, description))
}

/// A multipart boundary that no file holds by chance.
fn rand_boundary() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(crate::adapters::now_ms());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_become_results_or_errors() {
        assert_eq!(
            interpret(200, json!({"ok": true, "result": 5})),
            Ok(json!(5))
        );
        assert_eq!(
            interpret(
                429,
                json!({"ok": false, "error_code": 429,
                "description": "Too Many Requests: retry after 3", "parameters": {"retry_after": 3}})
            ),
            Err(ApiError::RateLimited(Duration::from_secs(3)))
        );
        assert_eq!(
            interpret(
                400,
                json!({"ok": false, "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": -1001234}})
            ),
            Err(ApiError::Migrated(-1001234))
        );
        let parse = interpret(
            400,
            json!({"ok": false, "error_code": 400,
            "description": "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"}),
        );
        assert!(parse.as_ref().is_err_and(ApiError::is_entity_error));
        let conflict = interpret(
            409,
            json!({"ok": false, "error_code": 409,
            "description": "Conflict: terminated by other getUpdates request"}),
        );
        assert!(conflict.is_err_and(|e| e.is_conflict() && !e.is_transient()));
    }
}
