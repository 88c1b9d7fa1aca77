//! A Bot API request's parameters, wherever they are (the Bot API takes them all): the query
//! string, a JSON body, an `application/x-www-form-urlencoded` body, or `multipart/form-data`
//! (where files are). Values of form bodies are strings; JSON-typed parameters
//! (`reply_parameters`, `reaction`, `allowed_updates`) come serialised in them.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// A file sent in a multipart body.
#[derive(Clone, Debug)]
pub struct File {
    /// Its parameter.
    pub field: String,
    /// Its file name.
    pub name: String,
    /// Its part's `Content-Type` (`application/octet-stream` when none).
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The parameters of one request.
#[derive(Debug, Default)]
pub struct Params {
    /// Every parameter but files.
    pub values: Map<String, Value>,
    /// Files.
    pub files: Vec<File>,
}

impl Params {
    /// Reads `query`, then the body by its content type; an unreadable body is an error text.
    pub fn read(
        query: &HashMap<String, String>,
        content_type: &str,
        body: &[u8],
    ) -> Result<Self, String> {
        let mut p = Self::default();
        for (k, v) in query {
            p.values.insert(k.clone(), Value::String(v.clone()));
        }
        let ct = content_type.to_ascii_lowercase();
        if body.is_empty() {
            return Ok(p);
        }
        if ct.starts_with("application/json") {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => p.values.extend(map),
                _ => return Err("Bad Request: can't parse JSON object".into()),
            }
        } else if ct.starts_with("application/x-www-form-urlencoded") {
            for (k, v) in url::form_urlencoded::parse(body) {
                p.values
                    .insert(k.into_owned(), Value::String(v.into_owned()));
            }
        } else if ct.starts_with("multipart/form-data") {
            let boundary = content_type
                .split(';')
                .filter_map(|part| part.trim().strip_prefix("boundary="))
                .next()
                .map(|b| b.trim_matches('"').to_owned())
                .ok_or("Bad Request: multipart without a boundary")?;
            p.multipart(body, &boundary)?;
        }
        Ok(p)
    }

    fn multipart(&mut self, body: &[u8], boundary: &str) -> Result<(), String> {
        let delimiter = format!("--{boundary}");
        let d = delimiter.as_bytes();
        let mut parts = Vec::new();
        let mut at = find(body, d, 0).ok_or("Bad Request: empty multipart body")?;
        loop {
            let start = at + d.len();
            if body[start..].starts_with(b"--") {
                break;
            }
            let Some(next) = find(body, d, start) else {
                break;
            };
            parts.push(&body[start..next]);
            at = next;
        }
        for part in parts {
            let part = part.strip_prefix(b"\r\n").unwrap_or(part);
            let part = part.strip_suffix(b"\r\n").unwrap_or(part);
            let Some(split) = find(part, b"\r\n\r\n", 0) else {
                continue;
            };
            let head = String::from_utf8_lossy(&part[..split]).to_string();
            let data = part[split + 4..].to_vec();
            let disposition = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
                .unwrap_or("");
            let field = quoted(disposition, "name").unwrap_or_default();
            let content_type = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case("content-type")
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            match quoted(disposition, "filename") {
                Some(name) => self.files.push(File {
                    field,
                    name,
                    content_type,
                    data,
                }),
                None => {
                    self.values.insert(
                        field,
                        Value::String(String::from_utf8_lossy(&data).into_owned()),
                    );
                }
            }
        }
        Ok(())
    }

    /// An integer parameter (a number, or a string holding one).
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.values.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A string parameter (numbers as text).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A JSON parameter (an object or list, or a string holding one).
    pub fn json(&self, key: &str) -> Option<Value> {
        match self.values.get(key)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            v => Some(v.clone()),
        }
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `key="value"` in a header line.
fn quoted(line: &str, key: &str) -> Option<String> {
    line.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}
