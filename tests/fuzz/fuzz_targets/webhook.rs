//! Webhook request handling without the network: a plugin's URL rule, a request path matched
//! against it (with percent escapes), `[[web.auth]]` signatures and tokens over the headers and
//! body, the body read as the webhook asks (JSON, form, raw), and the plugin's answer turned
//! into an HTTP response.
//!
//! Invariants: a rule's parameter captures a path segment as written when it holds no escape;
//! what is handed to a plugin as JSON is JSON; a request signed with the secret passes its
//! guard and the same request with another body does not.
#![no_main]

use std::collections::HashMap;
use std::sync::Once;

use errbot_fuzz::Input;
use errbot_proto::v1::{WebhookResponse, WebhookSpec};
use errbotd::config::{AuthScheme, WebAuth};
use errbotd::web::auth::Guard;
use errbotd::web::routes::Route;
use errbotd::web::{read_body, response_of};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "s3cret";
const NOW: i64 = 1_700_000_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sign(message: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    hex(ring::hmac::sign(&key, message).as_ref())
}

fuzz_target!(|data: &[u8]| {
    static ENV: Once = Once::new();
    // SAFETY: set once, before any guard reads it, in a target that starts no thread.
    ENV.call_once(|| unsafe { std::env::set_var("FUZZ_WEBHOOK_SECRET", SECRET) });

    let mut input = Input::new(data);
    let text = input.text.clone();
    let mut lines = text.splitn(4, '\n');
    let rule = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or_default();
    let header_line = lines.next().unwrap_or_default();
    let body = lines.next().unwrap_or_default().as_bytes();

    // The plugin's rule and the request's path.
    let spec = WebhookSpec {
        uri_rule: rule.to_owned(),
        ..Default::default()
    };
    if let Ok(route) = Route::new("p", &spec) {
        let _ = route.shape();
        let _ = route.methods();
        let _ = route.matches(path);
    }
    let one = WebhookSpec {
        uri_rule: "/hook/<int:id>".into(),
        ..Default::default()
    };
    let route = Route::new("p", &one).expect("a valid rule");
    let segment = path.trim_matches('/');
    if !segment.is_empty() && !segment.contains('/') {
        let params = route
            .matches(&format!("/hook/{segment}"))
            .expect("one segment matches");
        if !segment.contains('%') {
            assert_eq!(
                params.get("id").map(String::as_str),
                Some(segment),
                "decoded differently"
            );
        }
    }

    // Headers: `name: value` pairs separated by `;`.
    let mut headers: HashMap<String, String> = header_line
        .split(';')
        .filter_map(|h| h.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let scheme = *input.pick(&[AuthScheme::Github, AuthScheme::Slack, AuthScheme::Token]);
    let rules = [WebAuth {
        path: "/*".into(),
        scheme,
        secret_env: "FUZZ_WEBHOOK_SECRET".into(),
        header: input.flag().then(|| "X-Token".to_owned()),
    }];
    let guards = Guard::load(&rules).expect("the secret is set");
    let guard = Guard::for_path(&guards, "/hook/1").expect("the guard covers every path");
    let _ = guard.check(&headers, body, NOW);
    if input.flag() {
        // Signed properly, the same request passes; with another body it does not.
        match scheme {
            AuthScheme::Github => {
                headers.insert(
                    "x-hub-signature-256".into(),
                    format!("sha256={}", sign(body)),
                );
            }
            AuthScheme::Slack => {
                let stamp = NOW - i64::from(input.byte());
                let mut base = format!("v0:{stamp}:").into_bytes();
                base.extend_from_slice(body);
                headers.insert("x-slack-request-timestamp".into(), stamp.to_string());
                headers.insert("x-slack-signature".into(), format!("v0={}", sign(&base)));
            }
            AuthScheme::Token => {
                let name = rules[0].header.as_deref().unwrap_or("x-webhook-token");
                headers.insert(name.to_ascii_lowercase(), SECRET.into());
            }
        }
        assert_eq!(
            guard.check(&headers, body, NOW),
            Ok(()),
            "a signed request was refused"
        );
        if scheme != AuthScheme::Token {
            let mut other = body.to_vec();
            other.push(b'!');
            assert!(
                guard.check(&headers, &other, NOW).is_err(),
                "a forged body passed"
            );
        }
    }

    // The body as the webhook reads it.
    for kind in ["json", "form", "raw"] {
        if let Ok(json) = read_body(kind, &headers, body) {
            if kind == "raw" {
                assert!(json.is_empty());
            } else {
                assert!(
                    serde_json::from_str::<serde_json::Value>(&json).is_ok(),
                    "{json:?}"
                );
            }
        }
    }

    // The plugin's answer.
    let answer = WebhookResponse {
        status: u32::from_le_bytes([input.byte(), input.byte(), input.byte(), input.byte()]),
        headers: header_line
            .split(';')
            .filter_map(|h| h.split_once(':'))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        body: body.to_vec(),
    };
    let response = response_of(answer);
    assert!(response.headers().contains_key("content-type"));
});
