//! The webhook workload: the same HTTP load on both systems' web servers (errbotd's `[web]`,
//! Errbot's Webserver plugin on werkzeug), from this process: `count` POSTs of a small JSON
//! body, `clients` of them in flight at all times, each answered by a plugin's webhook with a
//! small JSON body that echoes the request's number.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::results::LoadResult;

/// Concurrent clients of the webhook runs.
pub const CLIENTS: u32 = 64;

/// The plugin the webhook workload calls (its webhook is `/<name>`, on both systems).
pub fn path(plugin: &str) -> String {
    format!("/{plugin}")
}

/// What one request came to.
enum Outcome {
    Correct(u64),
    Wrong(String),
    Failed(String),
}

/// One POST of request `n`; correct when the answer is 200 with `{"n": n, ...}`.
async fn one(http: &reqwest::Client, url: &str, plugin: &str, n: u32) -> Outcome {
    let body = json!({"n": n, "text": format!("request {n}")}).to_string();
    let t0 = Instant::now();
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("request {n}: {e}")),
    };
    let status = response.status().as_u16();
    let text = match response.text().await {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(format!("request {n}: reading the answer: {e}")),
    };
    let elapsed = t0.elapsed().as_micros() as u64;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status == 200 && answer["n"] == json!(n) && answer["plugin"] == plugin {
        Outcome::Correct(elapsed)
    } else {
        Outcome::Wrong(format!("request {n}: {status} {text:?}"))
    }
}

/// Posts until the webhook answers correctly (the server is starting), at most `within`.
pub async fn wait_ready(base: &str, plugin: &str, within: Duration) -> anyhow::Result<()> {
    let http = client(Duration::from_secs(2))?;
    let url = format!("{base}{}", path(plugin));
    let deadline = Instant::now() + within;
    loop {
        let last = match one(&http, &url, plugin, 0).await {
            Outcome::Correct(_) => return Ok(()),
            Outcome::Wrong(why) | Outcome::Failed(why) => why,
        };
        if Instant::now() > deadline {
            bail!("{url} did not answer within {within:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(CLIENTS as usize)
        .no_proxy()
        .build()
        .context("making the HTTP client")
}

/// `count` requests to the webhook of `plugin` under `base`, [`CLIENTS`] at a time (each
/// client sends its next request when its answer came: keep-alive connections, as a CI or a
/// monitoring system posting to a bot would use). A request not answered within `timeout_ms`
/// counts as lost, a wrong answer as wrong.
pub async fn load(
    base: &str,
    plugin: &str,
    count: u32,
    timeout_ms: u32,
) -> anyhow::Result<LoadResult> {
    let http = client(Duration::from_millis(u64::from(timeout_ms.max(1))))?;
    let url = Arc::new(format!("{base}{}", path(plugin)));
    let plugin = Arc::new(plugin.to_owned());
    let next = Arc::new(AtomicU32::new(1));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS.min(count.max(1)))
        .map(|_| {
            let (http, url, plugin, next) =
                (http.clone(), url.clone(), plugin.clone(), next.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n > count {
                        break outcomes;
                    }
                    outcomes.push(one(&http, &url, &plugin, n).await);
                }
            })
        })
        .collect();
    let mut result = LoadResult::default();
    for client in clients {
        for outcome in client.await.context("a client task failed")? {
            result.sent += 1;
            match outcome {
                Outcome::Correct(us) => {
                    result.correct += 1;
                    result.latencies_us.push(us);
                }
                Outcome::Wrong(why) => {
                    result.wrong += 1;
                    if result.first_failure.is_empty() {
                        result.first_failure = why;
                    }
                }
                Outcome::Failed(why) => {
                    result.lost += 1;
                    if result.first_failure.is_empty() {
                        result.first_failure = why;
                    }
                }
            }
        }
    }
    result.elapsed_us = started.elapsed().as_micros() as u64;
    Ok(result)
}

/// A free port on 127.0.0.1 (bound, then let go for the server).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
