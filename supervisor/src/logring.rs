//! errbotd's recent log lines, kept in memory for `errbotctl logs` and `!log tail`.
//!
//! A tracing layer ([`layer`]) formats every record that passes its filter (errbotd's own and
//! the children's output, which `child` forwards into the log) into one line without terminal
//! colours and pushes it into a bounded ring: the oldest line goes when the ring is full.
//! Followers get new lines through a broadcast channel: errbotd never waits for them, and one
//! that falls behind is told how many lines it missed ([`Followed::Dropped`]).

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::broadcast;
use tracing_subscriber::fmt::MakeWriter;

/// Lines kept for `errbotctl logs -n` and `!log tail`.
pub const CAPACITY: usize = 2000;
/// Lines a follower may fall behind before it misses some.
const FOLLOW_BACKLOG: usize = 1024;

/// A bounded ring of log lines with followers.
pub struct LogRing {
    inner: Mutex<Inner>,
    capacity: usize,
}

struct Inner {
    lines: VecDeque<Arc<str>>,
    followers: broadcast::Sender<Arc<str>>,
}

/// What a follower receives.
#[derive(Debug, PartialEq, Eq)]
pub enum Followed {
    /// The next line.
    Line(Arc<str>),
    /// This many lines were missed: the follower fell behind.
    Dropped(u64),
}

impl LogRing {
    /// An empty ring keeping the last `capacity` lines, whose followers may fall `backlog`
    /// lines behind.
    pub fn new(capacity: usize, backlog: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                lines: VecDeque::with_capacity(capacity.min(1024)),
                followers: broadcast::channel(backlog.max(1)).0,
            }),
            capacity: capacity.max(1),
        }
    }

    /// The ring of errbotd's log.
    pub fn global() -> &'static LogRing {
        static RING: OnceLock<LogRing> = OnceLock::new();
        RING.get_or_init(|| LogRing::new(CAPACITY, FOLLOW_BACKLOG))
    }

    /// Adds a line (sent to the followers at once; never waits for them).
    pub fn push(&self, line: &str) {
        let line: Arc<str> = Arc::from(line);
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.lines.len() == self.capacity {
            inner.lines.pop_front();
        }
        inner.lines.push_back(line.clone());
        // No follower is not an error.
        let _ = inner.followers.send(line);
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<Arc<str>> {
        self.follow(n).0
    }

    /// The last `n` lines, and a receiver of every line pushed after them (none missed, none
    /// twice).
    pub fn follow(&self, n: usize) -> (Vec<Arc<str>>, Follower) {
        let Ok(inner) = self.inner.lock() else {
            let (tx, rx) = broadcast::channel(1);
            drop(tx);
            return (Vec::new(), Follower(rx));
        };
        let skip = inner.lines.len().saturating_sub(n);
        let tail = inner.lines.iter().skip(skip).cloned().collect();
        (tail, Follower(inner.followers.subscribe()))
    }
}

/// New lines of a [`LogRing`], as they are pushed.
pub struct Follower(broadcast::Receiver<Arc<str>>);

impl Follower {
    /// The next line, or how many were missed; `None` once the ring is gone.
    pub async fn next(&mut self) -> Option<Followed> {
        match self.0.recv().await {
            Ok(line) => Some(Followed::Line(line)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Followed::Dropped(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// A formatting layer writing into [`LogRing::global`] (no colours), to add beside the
/// stderr one.
pub fn layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(RingWriter(LogRing::global()))
}

/// Makes the writers of [`layer`]: each collects one formatted record and pushes its lines.
#[derive(Clone, Copy)]
pub struct RingWriter(&'static LogRing);

/// One record being written into the ring.
pub struct RecordWriter {
    ring: &'static LogRing,
    buf: Vec<u8>,
}

impl<'a> MakeWriter<'a> for RingWriter {
    type Writer = RecordWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RecordWriter {
            ring: self.0,
            buf: Vec::with_capacity(256),
        }
    }
}

impl Write for RecordWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.ring.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines() {
        let ring = LogRing::new(3, 8);
        for i in 0..5 {
            ring.push(&format!("line {i}"));
        }
        let tail: Vec<String> = ring.tail(10).iter().map(|l| l.to_string()).collect();
        assert_eq!(tail, ["line 2", "line 3", "line 4"]);
        let tail: Vec<String> = ring.tail(1).iter().map(|l| l.to_string()).collect();
        assert_eq!(tail, ["line 4"]);
        assert!(ring.tail(0).is_empty());
    }

    #[tokio::test]
    async fn a_follower_gets_what_follows_its_tail() {
        let ring = LogRing::new(10, 8);
        ring.push("before");
        let (tail, mut follower) = ring.follow(5);
        ring.push("after");
        assert_eq!(tail.len(), 1);
        assert_eq!(follower.next().await, Some(Followed::Line("after".into())));
    }

    #[tokio::test]
    async fn a_lagging_follower_is_told_what_it_missed() {
        let ring = LogRing::new(100, 4);
        let (_, mut follower) = ring.follow(0);
        for i in 0..10 {
            ring.push(&format!("line {i}"));
        }
        assert_eq!(follower.next().await, Some(Followed::Dropped(6)));
        assert_eq!(follower.next().await, Some(Followed::Line("line 6".into())));
    }

    #[test]
    fn a_record_of_several_lines_becomes_several_lines() {
        let ring: &'static LogRing = Box::leak(Box::new(LogRing::new(10, 4)));
        let mut w = RingWriter(ring).make_writer();
        w.write_all(b"first\nsecond\n").expect("write");
        drop(w);
        assert_eq!(ring.tail(5).len(), 2);
    }
}
