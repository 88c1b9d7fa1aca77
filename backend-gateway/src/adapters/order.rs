//! Keeping replies in the order of the messages they answer.
//!
//! errbotd handles messages concurrently, so the replies to two commands sent one after the
//! other by the same person may reach the gateway in either order. A conversation is one person
//! in one place (a channel or private); within it, the replies to a message are queued only once
//! every earlier message of the conversation was processed (errbotd's `Processed` notice), or
//! once the reply has waited [`WAIT`] for them, so a slow command delays the answers to the
//! commands that follow it by at most that much.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// Longest a reply waits for the replies to earlier messages of its conversation.
pub const WAIT: Duration = Duration::from_secs(2);
/// Messages not processed after this long are forgotten (errbotd's own deadlines are shorter).
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);

#[derive(Default)]
struct Conversation {
    next: u64,
    /// Messages not processed yet, by sequence number.
    open: BTreeMap<u64, Instant>,
}

struct Entry {
    conversation: String,
    seq: u64,
    arrived: Instant,
}

#[derive(Default)]
struct State {
    conversations: HashMap<String, Conversation>,
    messages: HashMap<String, Entry>,
}

/// Sequence numbers of inbound messages and the waiting of their replies.
pub struct ReplyOrder {
    state: Mutex<State>,
    /// Bumped at every `Processed`, to wake the waiting replies.
    changed: watch::Sender<u64>,
}

impl Default for ReplyOrder {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl ReplyOrder {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records inbound message `id` of `conversation` (a key naming the person and the place).
    pub fn arrived(&self, id: &str, conversation: &str) {
        let now = Instant::now();
        let mut state = self.lock();
        if state.messages.len() > 10_000 {
            forget_old(&mut state, now);
        }
        let conv = state
            .conversations
            .entry(conversation.to_owned())
            .or_default();
        let seq = conv.next;
        conv.next += 1;
        conv.open.insert(seq, now);
        state.messages.insert(
            id.to_owned(),
            Entry {
                conversation: conversation.to_owned(),
                seq,
                arrived: now,
            },
        );
    }

    /// errbotd processed message `id`.
    pub fn processed(&self, id: &str) {
        let mut state = self.lock();
        let Some(entry) = state.messages.remove(id) else {
            return;
        };
        if let Some(conv) = state.conversations.get_mut(&entry.conversation) {
            conv.open.remove(&entry.seq);
            if conv.open.is_empty() {
                state.conversations.remove(&entry.conversation);
            }
        }
        drop(state);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Waits until the replies to message `id` may be queued: every earlier message of its
    /// conversation was processed, or [`WAIT`] passed since `id` arrived. Unknown ids (no
    /// message, or forgotten) do not wait.
    pub async fn wait_turn(&self, id: &str) {
        let mut changed = self.changed.subscribe();
        let deadline = {
            let state = self.lock();
            match state.messages.get(id) {
                Some(entry) => entry.arrived + WAIT,
                None => return,
            }
        };
        loop {
            if !self.earlier_open(id) {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                r = changed.changed() => if r.is_err() { return },
            }
        }
    }

    fn earlier_open(&self, id: &str) -> bool {
        let state = self.lock();
        let Some(entry) = state.messages.get(id) else {
            return false;
        };
        state
            .conversations
            .get(&entry.conversation)
            .and_then(|c| c.open.keys().next())
            .is_some_and(|first| *first < entry.seq)
    }
}

fn forget_old(state: &mut State, now: Instant) {
    let old: Vec<String> = state
        .messages
        .iter()
        .filter(|(_, e)| now.duration_since(e.arrived) > FORGET_AFTER)
        .map(|(id, _)| id.clone())
        .collect();
    for id in old {
        if let Some(entry) = state.messages.remove(&id)
            && let Some(conv) = state.conversations.get_mut(&entry.conversation)
        {
            conv.open.remove(&entry.seq);
            if conv.open.is_empty() {
                state.conversations.remove(&entry.conversation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn a_reply_waits_for_earlier_messages_of_its_conversation_only() {
        let order = Arc::new(ReplyOrder::default());
        order.arrived("1", "#a/bob");
        order.arrived("2", "#a/bob");
        order.arrived("3", "#a/alice");
        // Alice's reply does not wait for Bob's messages.
        order.wait_turn("3").await;
        let waiting = {
            let order = order.clone();
            tokio::spawn(async move {
                order.wait_turn("2").await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished());
        let t = Instant::now();
        order.processed("1");
        assert_eq!(waiting.await.unwrap(), t);
        // Unknown ids never wait.
        order.wait_turn("nope").await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_message_delays_the_next_replies_by_at_most_the_wait() {
        let order = ReplyOrder::default();
        order.arrived("1", "c");
        let t0 = Instant::now();
        order.arrived("2", "c");
        order.wait_turn("2").await;
        assert_eq!(Instant::now() - t0, WAIT);
        order.processed("2");
        order.processed("1");
        assert!(order.lock().conversations.is_empty());
        assert!(order.lock().messages.is_empty());
    }
}
