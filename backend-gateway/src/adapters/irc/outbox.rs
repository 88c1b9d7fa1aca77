//! The lines waiting to be written to the IRC server, paced per destination.
//!
//! Each channel has its own queue, sent no faster than one line per `channel_rate`; private
//! messages share one queue paced by `private_rate` (Errbot's IRC_CHANNEL_RATE and
//! IRC_PRIVATE_RATE). Lines of one queue leave in the order they were queued; queues take turns.
//! Protocol lines (PONG, JOIN, WHO...) are urgent: they skip the queues and the pacing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Most chat lines that may wait in one queue; more are refused.
pub const QUEUE_LIMIT: usize = 10_000;

/// The key of the queue shared by every private message.
pub const PRIVATE: &str = "\0private";

struct Queue {
    lines: VecDeque<String>,
    interval: Duration,
    /// When the next line of this queue may be sent.
    next_at: Instant,
}

#[derive(Default)]
struct State {
    urgent: VecDeque<String>,
    /// Chat lines taken but not written (the connection broke): sent first on the next one.
    retry: VecDeque<String>,
    queues: HashMap<String, Queue>,
    /// Keys of non-empty queues, in turn order.
    turns: VecDeque<String>,
}

/// A queue could not take more lines.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// The outgoing lines of one connection.
#[derive(Default)]
pub struct Outbox {
    state: Mutex<State>,
    wake: Notify,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues chat lines for the queue `key` (a folded channel name, or [`PRIVATE`]), paced at
    /// `interval`. All lines are queued, or none when the queue would exceed [`QUEUE_LIMIT`].
    pub fn push(&self, key: &str, interval: Duration, lines: Vec<String>) -> Result<(), Full> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut guard = self.lock();
        let state = &mut *guard;
        let queue = state.queues.entry(key.to_owned()).or_insert_with(|| Queue {
            lines: VecDeque::new(),
            interval,
            next_at: Instant::now(),
        });
        if queue.lines.len() + lines.len() > QUEUE_LIMIT {
            return Err(Full);
        }
        queue.interval = interval;
        let was_empty = queue.lines.is_empty();
        queue.lines.extend(lines);
        if was_empty {
            state.turns.push_back(key.to_owned());
        }
        drop(guard);
        self.wake.notify_one();
        Ok(())
    }

    /// Queues a protocol line, sent before any chat line and without pacing.
    pub fn urgent(&self, line: String) {
        self.lock().urgent.push_back(line);
        self.wake.notify_one();
    }

    /// Drops the urgent lines (at a reconnection: they belonged to the old connection).
    pub fn clear_urgent(&self) {
        self.lock().urgent.clear();
    }

    /// Number of chat lines waiting.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.lock().queues.values().map(|q| q.lines.len()).sum()
    }

    /// Takes the next line that may be sent now, waiting as long as needed.
    pub async fn next(&self) -> String {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait_until = {
                let mut state = self.lock();
                if let Some(line) = state.urgent.pop_front().or_else(|| state.retry.pop_front()) {
                    return line;
                }
                let now = Instant::now();
                match take_due(&mut state, now) {
                    Ok(line) => return line,
                    Err(next) => next,
                }
            };
            match wait_until {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Puts back a line taken by [`Outbox::next`] that could not be written: chat lines are sent
    /// first on the next connection (after its urgent lines), protocol lines are dropped.
    pub fn put_back(&self, line: String) {
        if line.starts_with("PRIVMSG ") || line.starts_with("NOTICE ") {
            self.lock().retry.push_front(line);
        }
    }
}

/// The first queue in turn order whose next line is due; else when the earliest one will be.
fn take_due(state: &mut State, now: Instant) -> Result<String, Option<Instant>> {
    let mut earliest: Option<Instant> = None;
    for _ in 0..state.turns.len() {
        let Some(key) = state.turns.pop_front() else {
            break;
        };
        let Some(queue) = state.queues.get_mut(&key) else {
            continue;
        };
        if queue.next_at <= now {
            if let Some(line) = queue.lines.pop_front() {
                queue.next_at = now + queue.interval;
                if queue.lines.is_empty() {
                    // Keep the queue (and its pacing) until its interval has passed.
                } else {
                    state.turns.push_back(key);
                }
                return Ok(line);
            }
            continue;
        }
        earliest = Some(earliest.map_or(queue.next_at, |e| e.min(queue.next_at)));
        state.turns.push_back(key);
    }
    // Forget idle queues whose pacing no longer matters.
    state
        .queues
        .retain(|_, q| !q.lines.is_empty() || q.next_at > now);
    Err(earliest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_queue_keeps_its_order_and_pace_and_urgent_lines_go_first() {
        let outbox = Outbox::new();
        let second = Duration::from_secs(1);
        outbox
            .push("#a", second, vec!["a1".into(), "a2".into(), "a3".into()])
            .unwrap();
        outbox
            .push(PRIVATE, second * 2, vec!["p1".into(), "p2".into()])
            .unwrap();
        outbox.urgent("PONG :x".into());
        let t0 = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..6 {
            let line = outbox.next().await;
            seen.push((line, (Instant::now() - t0).as_millis()));
        }
        let expect: Vec<(String, u128)> = [
            ("PONG :x", 0),
            ("a1", 0),
            ("p1", 0),
            ("a2", 1000),
            ("p2", 2000),
            ("a3", 2000),
        ]
        .iter()
        .map(|(l, t)| (l.to_string(), *t))
        .collect();
        assert_eq!(seen, expect);
        // A queue paced recently waits out its interval even after it emptied.
        outbox.push("#a", second, vec!["a4".into()]).unwrap();
        let line = outbox.next().await;
        assert_eq!(
            (line.as_str(), (Instant::now() - t0).as_millis()),
            ("a4", 3000)
        );
        assert_eq!(outbox.pending(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn full_queues_refuse_and_put_back_lines_come_first() {
        let outbox = Outbox::new();
        let lines = vec!["PRIVMSG #a :x".to_owned(); QUEUE_LIMIT];
        outbox.push("#a", Duration::ZERO, lines).unwrap();
        assert_eq!(
            outbox.push("#a", Duration::ZERO, vec!["y".into()]),
            Err(Full)
        );
        assert!(outbox.push("#b", Duration::ZERO, vec!["y".into()]).is_ok());
        let line = outbox.next().await;
        outbox.put_back("PONG :lost".into());
        outbox.put_back(line.clone());
        outbox.clear_urgent();
        assert_eq!(outbox.next().await, line);
    }
}
