//! The tests' fake Slack as a program, for clients in other languages (Errbot's own Slack
//! backend in tests/oracles): it prints one line of JSON (the Web API's base URL, the two
//! tokens, the people and channels, and a control URL) and serves until killed. The control
//! server plays the people: `POST /say {"user", "channel", "text", "thread_ts"}` (a message
//! in a channel, delivered to the bot as Slack would), `POST /dm {"user", "text"}`, and
//! `GET /posts` answers the bot's messages so far.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use errbot_tests::slack::{ALICE, APP_TOKEN, BOB, BOT_TOKEN, BOT_USER, Fake};
use serde_json::{Value, json};

/// A JSON answer.
type Json = ([(&'static str, &'static str); 1], String);

fn json_answer(v: &Value) -> Json {
    ([("content-type", "application/json")], v.to_string())
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

async fn say(State(fake): State<Arc<Fake>>, body: axum::body::Bytes) -> Json {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    json_answer(&fake.say(
        &text(&v, "user"),
        &text(&v, "channel"),
        &text(&v, "text"),
        &text(&v, "thread_ts"),
    ))
}

async fn dm(State(fake): State<Arc<Fake>>, body: axum::body::Bytes) -> Json {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    json_answer(&fake.dm(&text(&v, "user"), &text(&v, "text")))
}

async fn posts(State(fake): State<Arc<Fake>>) -> Json {
    json_answer(&Value::Array(fake.posts()))
}

#[tokio::main]
async fn main() {
    let fake = Arc::new(Fake::start().await);
    let control = Router::new()
        .route("/say", post(say))
        .route("/dm", post(dm))
        .route("/posts", get(posts))
        .with_state(fake.clone());
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fake-slack: cannot bind the control server: {e}");
            std::process::exit(1);
        }
    };
    let control_url = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    tokio::spawn(async move {
        let _ = axum::serve(listener, control).await;
    });
    println!(
        "{}",
        json!({
            "api_url": fake.api_url(),
            "control_url": control_url,
            "bot_token": BOT_TOKEN,
            "app_token": APP_TOKEN,
            "users": {"errbot": BOT_USER, "alice": ALICE, "bob": BOB},
            "channels": {"general": "C0GENERAL", "secret": "G0SECRET"},
        })
    );
    let _ = tokio::signal::ctrl_c().await;
}
