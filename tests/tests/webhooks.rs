//! End-to-end: errbotd's web server (`[web]`) with a real HTTP client: the test plugin's
//! webhooks (JSON, form and raw bodies, path parameters, methods, its own statuses), the
//! failures (404, 405, 413, 400, a failing plugin's 500 without internals, a missed deadline's
//! 504, a killed plugin answered after its restart), and `/healthz`, `/readyz`.

use std::time::Duration;

use errbot_tests::{Options, TestBot};
use serde_json::{Value, json};

/// A free port on 127.0.0.1 (bound, then let go for errbotd).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn bot_with_web() -> (TestBot, String) {
    bot_with_web_and("", vec![]).await
}

/// errbotd with `[web]` on a free port, `more` TOML after it, `env` in its environment.
async fn bot_with_web_and(more: &str, env: Vec<(String, String)>) -> (TestBot, String) {
    let port = free_port();
    let bot = TestBot::start_with(Options {
        test_plugin: true,
        extra: format!(
            "[web]\nlisten = \"127.0.0.1:{port}\"\nmax_body_bytes = 4096\n\
             request_timeout_secs = 1.0\n{more}"
        ),
        env,
        ..Default::default()
    })
    .await;
    (bot, format!("http://127.0.0.1:{port}"))
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::sign(&key, message)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn json_of(r: reqwest::Response) -> Value {
    let text = r.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_reach_their_plugin_and_its_answer_comes_back() {
    let (mut bot, base) = bot_with_web().await;
    let http = client();

    // JSON in, JSON out, with the path parameter, the query and the method.
    let r = http
        .post(format!("{base}/echo/things?q=42"))
        .header("content-type", "application/json")
        .body(json!({"a": [1, 2], "b": "c"}).to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body = json_of(r).await;
    assert_eq!(
        body,
        json!({"got": {"a": [1, 2], "b": "c"}, "what": "things", "q": "42", "method": "POST"})
    );
    // A form posted to a JSON webhook arrives as its fields (as Errbot's).
    let r = http
        .put(format!("{base}/echo/form"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("x=1&y=two+words")
        .send()
        .await
        .expect("request");
    let body = json_of(r).await;
    assert_eq!(body["got"], json!({"x": "1", "y": "two words"}));
    assert_eq!(body["method"], "PUT");
    let r = http
        .post(format!("{base}/form"))
        .body("k=v&k2=%C3%A9")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("request");
    assert_eq!(json_of(r).await, json!({"k": "v", "k2": "é"}));

    // Raw: the bytes as sent, a header; the plugin also tells the chat.
    let mut outbox = bot.outbox().await;
    let r = http
        .post(format!("{base}/raw"))
        .header("X-Test", "yes")
        .body(vec![0u8, 159, 146, 150, 1])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("text"), "5 bytes, x-test=yes");
    let sent = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let m = outbox.message().await.expect("outbox").expect("a message");
            if m.text.starts_with("raw:") {
                return m;
            }
        }
    })
    .await
    .expect("the chat heard of it");
    assert_eq!(sent.text, "raw: 5 bytes, x-test=yes");

    // The plugin's own status and headers.
    let r = http
        .get(format!("{base}/teapot"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 418);
    assert_eq!(r.headers()["x-pot"], "yes");
    assert_eq!(r.text().await.expect("text"), "short and stout");

    // !webstatus lists the routes.
    let status = bot.one("!webstatus").await;
    for rule in ["/echo/<what>", "/form", "/raw", "/teapot"] {
        assert!(status.contains(rule), "{status}");
    }
    assert!(status.contains("testplugin"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_and_failures_get_clear_statuses() {
    let (bot, base) = bot_with_web().await;
    let http = client();
    let status = |r: &reqwest::Response| r.status().as_u16();

    let r = http
        .post(format!("{base}/nowhere"))
        .send()
        .await
        .expect("r");
    assert_eq!(status(&r), 404);
    let r = http.get(format!("{base}/echo/x")).send().await.expect("r");
    assert_eq!(status(&r), 405);
    assert_eq!(r.headers()["allow"], "POST, PUT");
    let r = http
        .post(format!("{base}/echo/x"))
        .body("{not json")
        .send()
        .await
        .expect("r");
    assert_eq!(status(&r), 400);
    let r = http
        .post(format!("{base}/raw"))
        .body(vec![b'x'; 5000])
        .send()
        .await
        .expect("r");
    assert_eq!(status(&r), 413);
    let r = http.post(format!("{base}/boom")).send().await.expect("r");
    assert_eq!(status(&r), 500);
    let text = r.text().await.expect("text");
    assert!(!text.contains("secret"), "{text}");
    let r = http.post(format!("{base}/slow")).send().await.expect("r");
    assert_eq!(status(&r), 504);

    // A killed plugin: the request waits for the restart and is answered, or (when it met
    // the dying process) is answered 503 with Retry-After; the next one is answered.
    let pid = bot.child_pid("testplugin");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    let again = || {
        http.post(format!("{base}/echo/again"))
            .header("content-type", "application/json")
            .body("1")
            .send()
    };
    let r = again().await.expect("r");
    match status(&r) {
        200 => {}
        503 => {
            assert!(r.headers().contains_key("retry-after"));
            let r = again().await.expect("r");
            assert_eq!(status(&r), 200);
        }
        other => panic!("a killed plugin's webhook answered {other}"),
    }
    assert_ne!(bot.child_pid("testplugin"), pid);
    drop(bot);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_readiness() {
    let (_bot, base) = bot_with_web().await;
    let http = client();
    let r = http.get(format!("{base}/healthz")).send().await.expect("r");
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{base}/readyz")).send().await.expect("r");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_and_tokens_are_checked_before_the_plugin() {
    let (_bot, base) = bot_with_web_and(
        "\n[[web.auth]]\npath = \"/echo/*\"\nscheme = \"github\"\nsecret_env = \"GH_SECRET\"\n\
         \n[[web.auth]]\npath = \"/form\"\nscheme = \"slack\"\nsecret_env = \"SLACK_SECRET\"\n\
         \n[[web.auth]]\npath = \"/teapot\"\nscheme = \"token\"\nsecret_env = \"POT_TOKEN\"\n\
         header = \"X-Token\"\n",
        vec![
            ("GH_SECRET".into(), "gh-s3cret".into()),
            ("SLACK_SECRET".into(), "slack-s3cret".into()),
            ("POT_TOKEN".into(), "pot-s3cret".into()),
        ],
    )
    .await;
    let http = client();
    let body = r#"{"zen":"Design for failure."}"#;
    let github = |signature: String| {
        http.post(format!("{base}/echo/push"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
    };
    let good = format!("sha256={}", hmac_hex("gh-s3cret", body.as_bytes()));
    assert_eq!(github(good).await.expect("r").status(), 200);
    let forged = format!("sha256={}", hmac_hex("guess", body.as_bytes()));
    assert_eq!(github(forged).await.expect("r").status(), 401);
    let r = http
        .post(format!("{base}/echo/push"))
        .body(body)
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 401);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let slack = |stamp: u64, secret: &str| {
        let form = "token=x&team_id=T1";
        let signature = hmac_hex(secret, format!("v0:{stamp}:{form}").as_bytes());
        http.post(format!("{base}/form"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", stamp.to_string())
            .header("x-slack-signature", format!("v0={signature}"))
            .body(form)
            .send()
    };
    assert_eq!(slack(now, "slack-s3cret").await.expect("r").status(), 200);
    assert_eq!(
        slack(now - 600, "slack-s3cret").await.expect("r").status(),
        401
    );
    assert_eq!(slack(now, "other").await.expect("r").status(), 401);

    let pot = |token: &str| {
        http.get(format!("{base}/teapot"))
            .header("x-token", token)
            .send()
    };
    assert_eq!(pot("pot-s3cret").await.expect("r").status(), 418);
    assert_eq!(pot("pot-s3cre").await.expect("r").status(), 401);
    // Paths no rule names are open.
    let r = http.post(format!("{base}/boom")).send().await.expect("r");
    assert_eq!(r.status(), 500);
}
