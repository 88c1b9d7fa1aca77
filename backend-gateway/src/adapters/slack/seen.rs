//! What the gateway has handled, bounded, so that nothing runs twice: event ids (Slack
//! delivers an event again when its envelope was not acknowledged in time, possibly on another
//! connection), envelope ids (for envelopes without an event id), and messages by channel and
//! `ts` (a mention arrives both as `message` and as `app_mention`, with two event ids).

use std::collections::{HashSet, VecDeque};

/// How many keys are remembered.
pub const CAPACITY: usize = 20_000;

/// A bounded set of keys, oldest forgotten first.
#[derive(Default)]
pub struct Seen {
    keys: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// Records `key`; false when it was seen already.
    pub fn insert(&mut self, key: &str) -> bool {
        if self.keys.contains(key) {
            return false;
        }
        self.keys.insert(key.to_owned());
        self.order.push_back(key.to_owned());
        while self.order.len() > CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twice_is_once_and_the_oldest_is_forgotten() {
        let mut s = Seen::default();
        assert!(s.insert("Ev1"));
        assert!(!s.insert("Ev1"));
        for i in 0..CAPACITY {
            s.insert(&i.to_string());
        }
        assert!(s.insert("Ev1"));
    }
}
