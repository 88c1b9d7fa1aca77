//! Webhook authentication (`[[web.auth]]`): GitHub's and Slack's HMAC-SHA256 signatures over
//! the body, or a shared token in a header, each compared in constant time, checked before any
//! plugin sees the request.

use std::collections::HashMap;

use crate::config::{AuthScheme, WebAuth};

/// Slack's window: a request signed longer ago than this is refused (replays).
const SLACK_WINDOW_SECS: i64 = 300;

/// A `[[web.auth]]` entry with its secret read from the environment.
pub struct Guard {
    rule: WebAuth,
    secret: Vec<u8>,
}

impl Guard {
    /// Reads every entry's secret; an error names the entry and the variable.
    pub fn load(rules: &[WebAuth]) -> anyhow::Result<Vec<Guard>> {
        rules
            .iter()
            .enumerate()
            .map(|(i, rule)| match std::env::var(&rule.secret_env) {
                Ok(secret) if !secret.is_empty() => Ok(Guard {
                    rule: rule.clone(),
                    secret: secret.into_bytes(),
                }),
                _ => Err(anyhow::anyhow!(
                    "web.auth[{i}].secret_env: the variable {} is not set",
                    rule.secret_env
                )),
            })
            .collect()
    }

    /// The guard for `path`, if any.
    pub fn for_path<'a>(guards: &'a [Guard], path: &str) -> Option<&'a Guard> {
        guards
            .iter()
            .find(|g| crate::glob::matches(&g.rule.path, path))
    }

    /// Whether the request carries a valid signature or token; `Err` says what is wrong (for
    /// the log, not the client).
    pub fn check(
        &self,
        headers: &HashMap<String, String>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), String> {
        let header = |name: &str| headers.get(name).map(String::as_str);
        match self.rule.scheme {
            AuthScheme::Github => {
                let given = header("x-hub-signature-256")
                    .and_then(|v| v.strip_prefix("sha256="))
                    .ok_or("no X-Hub-Signature-256: sha256=...")?;
                verify(&self.secret, body, given)
            }
            AuthScheme::Slack => {
                let stamp =
                    header("x-slack-request-timestamp").ok_or("no X-Slack-Request-Timestamp")?;
                let at: i64 = stamp
                    .trim()
                    .parse()
                    .map_err(|_| "a bad X-Slack-Request-Timestamp")?;
                // abs_diff: a timestamp far from now (i64::MIN) must not overflow.
                if now_unix.abs_diff(at) > SLACK_WINDOW_SECS.unsigned_abs() {
                    return Err("the Slack signature is too old (or from the future)".into());
                }
                let given = header("x-slack-signature")
                    .and_then(|v| v.strip_prefix("v0="))
                    .ok_or("no X-Slack-Signature: v0=...")?;
                let mut base = format!("v0:{}:", stamp.trim()).into_bytes();
                base.extend_from_slice(body);
                verify(&self.secret, &base, given)
            }
            AuthScheme::Token => {
                let name = self
                    .rule
                    .header
                    .as_deref()
                    .unwrap_or("x-webhook-token")
                    .to_ascii_lowercase();
                let given = header(&name).ok_or_else(|| format!("no {name} header"))?;
                // Constant time over the secret's length: compare HMACs of both.
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"token-compare");
                let want = ring::hmac::sign(&key, &self.secret);
                ring::hmac::verify(&key, given.as_bytes(), want.as_ref())
                    .map_err(|_| "a wrong token".to_owned())
            }
        }
    }
}

/// Checks a hex HMAC-SHA256 of `message` (constant time).
fn verify(secret: &[u8], message: &[u8], given_hex: &str) -> Result<(), String> {
    let given = hex_decode(given_hex.trim()).ok_or("a signature that is not hex")?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::verify(&key, message, &given).map_err(|_| "a wrong signature".to_owned())
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn guard(scheme: AuthScheme) -> Guard {
        Guard {
            rule: WebAuth {
                path: "/*".into(),
                scheme,
                secret_env: "X".into(),
                header: None,
            },
            secret: b"s3cret".to_vec(),
        }
    }

    fn sign(message: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        hex(ring::hmac::sign(&key, message).as_ref())
    }

    #[test]
    fn github_signatures() {
        let g = guard(AuthScheme::Github);
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let mut h = HashMap::new();
        assert!(g.check(&h, body, 0).is_err());
        h.insert(
            "x-hub-signature-256".into(),
            format!("sha256={}", sign(body)),
        );
        assert_eq!(g.check(&h, body, 0), Ok(()));
        assert!(g.check(&h, b"tampered", 0).is_err());
        h.insert("x-hub-signature-256".into(), "sha256=zz".into());
        assert!(g.check(&h, body, 0).is_err());
    }

    #[test]
    fn slack_signatures_and_their_window() {
        let g = guard(AuthScheme::Slack);
        let body = b"token=x&team_id=T1";
        let mut h = HashMap::new();
        h.insert("x-slack-request-timestamp".into(), "1000".into());
        h.insert(
            "x-slack-signature".into(),
            format!("v0={}", sign(b"v0:1000:token=x&team_id=T1")),
        );
        assert_eq!(g.check(&h, body, 1100), Ok(()));
        assert!(g.check(&h, body, 1000 + 301).is_err());
        assert!(g.check(&h, b"other", 1100).is_err());
    }

    #[test]
    fn slack_timestamps_far_from_now_are_refused_without_overflow() {
        // Found by the webhook fuzz target: `now - at` overflowed (a panic in debug builds).
        let g = guard(AuthScheme::Slack);
        for (stamp, now) in [
            (i64::MIN, 0),
            (i64::MIN, 1_700_000_000),
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
            (-1, i64::MAX),
        ] {
            let mut h = HashMap::new();
            let signed = format!("v0:{stamp}:x");
            h.insert("x-slack-request-timestamp".into(), stamp.to_string());
            h.insert(
                "x-slack-signature".into(),
                format!("v0={}", sign(signed.as_bytes())),
            );
            assert!(g.check(&h, b"x", now).is_err(), "{stamp} at {now}");
        }
    }

    #[test]
    fn tokens() {
        let g = guard(AuthScheme::Token);
        let mut h = HashMap::new();
        h.insert("x-webhook-token".into(), "s3cret".into());
        assert_eq!(g.check(&h, b"", 0), Ok(()));
        h.insert("x-webhook-token".into(), "s3cre".into());
        assert!(g.check(&h, b"", 0).is_err());
    }
}
