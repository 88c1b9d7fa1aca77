//! The test driver's `Load`: messages generated inside the gateway process by many concurrent
//! senders, every reply checked, latencies measured (for the benchmarks).
//!
//! Each sender sends one message, waits for errbotd's `Processed` notice and judges the replies
//! collected for it, then sends the next. Senders share one counter, so the run ends after
//! exactly `count` messages whatever their speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use errbot_proto::v1::{InjectRequest, LoadRequest, LoadResponse, SentMessage};
use tonic::Status;

use super::Inner;

/// How long each message may take when the request gives no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most concurrent senders a run may ask for (each is a task with a message in flight).
pub const MAX_CONCURRENCY: u32 = 4096;
/// Placeholder replaced by the message's sequence number in the body and the expected reply.
const SEQ: &str = "{n}";

/// Runs a load request to completion.
pub async fn run(inner: Arc<Inner>, req: LoadRequest) -> Result<LoadResponse, Status> {
    if req.body.trim().is_empty() {
        return Err(Status::invalid_argument("load: body is empty"));
    }
    if req.concurrency > MAX_CONCURRENCY {
        return Err(Status::invalid_argument(format!(
            "load: concurrency {} is above the limit of {MAX_CONCURRENCY}",
            req.concurrency
        )));
    }
    let count = req.count;
    let senders = req.concurrency.clamp(1, count.max(1));
    let timeout = match req.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        ms => Duration::from_millis(u64::from(ms)),
    };
    let body = Arc::new(Template::new(&req.body));
    let expect = Arc::new(Template::new(&req.expect));
    let next = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(senders as usize);
    for sender in 0..senders {
        let (inner, next) = (inner.clone(), next.clone());
        let (body, expect) = (body.clone(), expect.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let from = format!("load{sender}");
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let msg = InjectRequest {
                    body: body.fill(n),
                    from: from.clone(),
                    ..Default::default()
                };
                let t0 = Instant::now();
                let outcome = inner.converse(msg, timeout).await;
                let done = Instant::now();
                let expected = expect.fill(n);
                let verdict = match &outcome {
                    Ok((_, replies)) => judge(replies, &expected),
                    Err(_) => Verdict::Lost,
                };
                tally.sent += 1;
                match verdict {
                    Verdict::Correct => {
                        tally.correct += 1;
                        let micros = u64::try_from((done - t0).as_micros()).unwrap_or(u64::MAX);
                        tally.latencies.push((done, micros));
                    }
                    failed => {
                        match failed {
                            Verdict::Wrong => tally.wrong += 1,
                            Verdict::Duplicated => tally.duplicated += 1,
                            _ => tally.lost += 1,
                        }
                        if tally.first_failure.is_none() {
                            let what = describe_failure(n, &expected, &outcome);
                            tracing::debug!("load: {what}");
                            tally.first_failure = Some((done, what));
                        }
                    }
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for task in tasks {
        let tally = task
            .await
            .map_err(|e| Status::internal(format!("load sender failed: {e}")))?;
        total.merge(tally);
    }
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    total.latencies.sort_by_key(|(done, _)| *done);
    Ok(LoadResponse {
        sent: total.sent,
        correct: total.correct,
        wrong: total.wrong,
        duplicated: total.duplicated,
        lost: total.lost,
        elapsed_us,
        latencies_us: total.latencies.into_iter().map(|(_, l)| l).collect(),
        first_failure: total.first_failure.map(|(_, w)| w).unwrap_or_default(),
    })
}

/// A body or expected reply, split at its `{n}` placeholders once.
struct Template(Vec<String>);

impl Template {
    fn new(text: &str) -> Self {
        Self(text.split(SEQ).map(str::to_owned).collect())
    }

    /// The text for message `n`.
    fn fill(&self, n: u32) -> String {
        let number = n.to_string();
        self.0.join(&number)
    }
}

/// How one message was answered.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Correct,
    Wrong,
    Duplicated,
    Lost,
}

/// Judges the replies of one message against the one expected reply.
fn judge(replies: &[SentMessage], expected: &str) -> Verdict {
    if replies.is_empty() {
        Verdict::Lost
    } else if replies.iter().any(|r| r.text != expected) {
        Verdict::Wrong
    } else if replies.len() > 1 {
        Verdict::Duplicated
    } else {
        Verdict::Correct
    }
}

fn describe_failure(
    n: u32,
    expected: &str,
    outcome: &Result<(String, Vec<SentMessage>), Status>,
) -> String {
    match outcome {
        Ok((id, replies)) => {
            let texts: Vec<&str> = replies.iter().map(|r| r.text.as_str()).collect();
            format!("message {n} (id {id}) got {texts:?}, expected [{expected:?}]")
        }
        Err(status) => format!("message {n}: {}", status.message()),
    }
}

/// One sender's results.
#[derive(Default)]
struct Tally {
    sent: u32,
    correct: u32,
    wrong: u32,
    duplicated: u32,
    lost: u32,
    latencies: Vec<(Instant, u64)>,
    first_failure: Option<(Instant, String)>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        self.correct += other.correct;
        self.wrong += other.wrong;
        self.duplicated += other.duplicated;
        self.lost += other.lost;
        self.latencies.extend(other.latencies);
        self.first_failure = match (self.first_failure.take(), other.first_failure) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies(texts: &[&str]) -> Vec<SentMessage> {
        texts
            .iter()
            .map(|t| SentMessage {
                text: (*t).to_owned(),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn templates_number_each_message() {
        assert_eq!(Template::new("!echo x{n}y{n}").fill(42), "!echo x42y42");
        assert_eq!(Template::new("!echo same").fill(7), "!echo same");
        assert_eq!(Template::new("").fill(3), "");
    }

    #[test]
    fn every_reply_is_judged() {
        assert_eq!(judge(&replies(&["a"]), "a"), Verdict::Correct);
        assert_eq!(judge(&replies(&[]), "a"), Verdict::Lost);
        assert_eq!(judge(&replies(&["a", "a"]), "a"), Verdict::Duplicated);
        assert_eq!(judge(&replies(&["a", "b"]), "a"), Verdict::Wrong);
        assert_eq!(judge(&replies(&["b"]), "a"), Verdict::Wrong);
    }
}
