//! Storage throughput through the protocol: a real errbotd (from the same target directory as
//! this binary, so build with `--release` to measure release code) with the test plugin, which
//! sets then gets keys over StorageService from 1 and from many concurrent tasks. SQLite always;
//! PostgreSQL too when ERRBOT_TEST_POSTGRES_URL names a server (tests/postgres.sh).
//!
//! `cargo build --release --bins && target/release/storage-bench [OPS]` (default 5000 ops).
//! Prints figures; asserts nothing about speed.

use std::time::Duration;

use errbot_tests::{Options, TestBot, postgres};

async fn measure(label: &str, storage_toml: String, ops: u32) {
    let mut bot = TestBot::start_with(Options {
        test_plugin: true,
        extra: format!("{storage_toml}\n[limits]\ncommand_timeout_secs = 900\n"),
        ..Default::default()
    })
    .await;
    println!("== {label}");
    for concurrency in [1, 16] {
        let mut req =
            errbot_tests::inject(&format!("!storage bench {ops} {concurrency}"), "bench", "");
        req.timeout_ms = 900_000;
        let mut request = tonic::Request::new(req);
        request.set_timeout(Duration::from_secs(900));
        match bot.driver.converse(request).await {
            Ok(r) => {
                for m in r.into_inner().replies {
                    println!("{}", m.text);
                }
            }
            Err(e) => println!("failed: {e}\n{}", bot.log()),
        }
    }
    bot.stop();
}

#[tokio::main]
async fn main() {
    let ops: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    measure(
        "SQLite (WAL, synchronous=FULL), data dir in the temp directory",
        String::new(),
        ops,
    )
    .await;
    if let Some(server) = postgres::server_url("storage-bench") {
        let url = postgres::fresh_database(&server).await;
        measure(
            "PostgreSQL (loopback, synchronous_commit on)",
            format!("[storage]\nurl = {url:?}\n"),
            ops,
        )
        .await;
    }
}
