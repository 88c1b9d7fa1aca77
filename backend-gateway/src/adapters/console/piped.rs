//! The console with piped input: one message per line, processed one after the other so that
//! the output is deterministic; at the end of the input, errbotd is asked to shut down.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::Shared;
use super::session::{Outgoing, Session, Step};

/// Reads stdin to its end (invalid UTF-8 is replaced, not fatal), then requests shutdown.
pub async fn run(mut session: Session, shared: Arc<Shared>) {
    let mut input = BufReader::new(tokio::io::stdin());
    let mut raw = Vec::with_capacity(256);
    let reason = loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw).await {
            Ok(0) => break "end of console input".to_owned(),
            Ok(_) => {}
            Err(e) => {
                tracing::error!("reading stdin failed: {e}");
                break format!("reading stdin failed: {e}");
            }
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.strip_suffix('\n').unwrap_or(&line);
        match session.feed(line) {
            Step::Wait => {}
            Step::Say(text) => shared.say(&text),
            Step::Send(out) => converse(&shared, *out).await,
        }
    };
    if let Some(out) = session.finish() {
        converse(&shared, out).await;
    }
    shared.inflight.wait_idle().await;
    tracing::debug!("console input done: {reason}");
    shared.request_shutdown(&reason).await;
}

/// Sends one message and waits until errbotd has processed it (every reply printed).
async fn converse(shared: &Shared, out: Outgoing) {
    match shared.inject(out).await {
        // An error means the waiter was dropped: the gateway is stopping.
        Ok(done) => {
            let _ = done.await;
        }
        Err(e) => tracing::warn!("message not sent: {e}"),
    }
}
