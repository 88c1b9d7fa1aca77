//! Messages injected into the bot and not yet processed, each with someone waiting for it.
//!
//! A waiter registers a message id before the message is queued, collects the replies errbotd
//! sends for it (`send` frames with `in_reply_to`), and is woken by the `processed` frame. The map is
//! sharded so that many concurrent senders (the `Load` benchmark) rarely share a lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use errbot_proto::v1::SentMessage;
use tokio::sync::{Notify, oneshot};

const SHARDS: usize = 16;

/// Receives the replies of one message once errbotd has processed it.
pub type Completion = oneshot::Receiver<Vec<SentMessage>>;

struct Waiter {
    collect: bool,
    replies: Vec<SentMessage>,
    done: oneshot::Sender<Vec<SentMessage>>,
}

/// The table of messages in flight.
pub struct InFlight {
    shards: [Mutex<HashMap<String, Waiter>>; SHARDS],
    count: AtomicUsize,
    idle: Notify,
}

impl Default for InFlight {
    fn default() -> Self {
        Self::new()
    }
}

impl InFlight {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            count: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }

    fn shard(&self, id: &str) -> std::sync::MutexGuard<'_, HashMap<String, Waiter>> {
        let h = id.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        // A panic while holding a shard cannot leave a waiter half-updated: recover the map.
        self.shards[h % SHARDS]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts waiting for message `id`; with `collect`, its replies are kept and returned.
    pub fn register(&self, id: &str, collect: bool) -> Completion {
        let (done, rx) = oneshot::channel();
        let previous = self.shard(id).insert(
            id.to_owned(),
            Waiter {
                collect,
                replies: Vec::new(),
                done,
            },
        );
        if previous.is_none() {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        rx
    }

    /// Records a reply sent for message `reply.in_reply_to`, if someone waits for it.
    pub fn record_reply(&self, reply: SentMessage) {
        if reply.in_reply_to.is_empty() {
            return;
        }
        let mut shard = self.shard(&reply.in_reply_to);
        if let Some(w) = shard.get_mut(&reply.in_reply_to)
            && w.collect
        {
            w.replies.push(reply);
        }
    }

    /// errbotd finished message `id`: wakes its waiter with the replies. Returns false for a
    /// message nobody waits for.
    pub fn complete(&self, id: &str) -> bool {
        let Some(waiter) = self.shard(id).remove(id) else {
            return false;
        };
        // The waiter may have given up already; that is fine.
        let _ = waiter.done.send(waiter.replies);
        self.forget_one();
        true
    }

    /// Stops waiting for message `id` (its waiter gave up).
    pub fn cancel(&self, id: &str) {
        if self.shard(id).remove(id).is_some() {
            self.forget_one();
        }
    }

    fn forget_one(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Number of messages in flight.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Whether no message is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until no message is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.is_empty() {
                return;
            }
            idle.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(to: &str, text: &str) -> SentMessage {
        SentMessage {
            in_reply_to: to.into(),
            text: text.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn replies_are_collected_until_processed() {
        let table = InFlight::new();
        let done = table.register("1", true);
        let quiet = table.register("2", false);
        assert_eq!(table.len(), 2);
        table.record_reply(reply("1", "a"));
        table.record_reply(reply("2", "ignored"));
        table.record_reply(reply("3", "nobody waits"));
        table.record_reply(reply("1", "b"));
        assert!(table.complete("1"));
        assert!(!table.complete("1"));
        let texts: Vec<_> = done.await.unwrap().into_iter().map(|r| r.text).collect();
        assert_eq!(texts, ["a", "b"]);
        let idle = table.wait_idle();
        table.cancel("2");
        idle.await;
        assert!(quiet.await.is_err(), "a cancelled waiter is dropped");
        assert!(table.is_empty());
    }
}
