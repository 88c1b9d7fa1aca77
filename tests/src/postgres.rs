//! PostgreSQL for the tests: the server `tests/postgres.sh start` runs on loopback and names in
//! `ERRBOT_TEST_POSTGRES_URL`. Each test creates its own database on it.
//!
//! Without the variable, PostgreSQL tests are skipped with a loud message, except in CI
//! (`CI` set), where a missing server is a failure.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// The variable naming the test server's URL.
pub const URL_VAR: &str = "ERRBOT_TEST_POSTGRES_URL";

/// The test server's URL, or `None` after printing why `test` is skipped. Panics in CI when the
/// variable is not set.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
            assert!(
                !ci,
                "{URL_VAR} is not set in CI: .ci/run starts PostgreSQL with tests/postgres.sh"
            );
            eprintln!(
                "\n*** SKIPPED the PostgreSQL part of {test}: {URL_VAR} is not set.\n\
                 *** Run `eval \"$(bash tests/postgres.sh start)\"` first to test PostgreSQL.\n"
            );
            None
        }
    }
}

/// Creates a new, empty database on the server at `server_url` and returns its URL.
pub async fn fresh_database(server_url: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "errbot_t_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {server_url}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let _ = admin.close().await;
    // Replace the database part of the URL (everything after the last '/', before any '?').
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (server_url, String::new()),
    };
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    format!("{base}/{name}{query}")
}
