//! The posts the gateway has seen, bounded: a post delivered twice (the websocket's redelivery
//! after a reconnection, or a catch-up overlapping live events) runs its command once, and a
//! reply in a thread is posted under the thread's root whatever post of the thread it names.

use std::collections::{HashMap, VecDeque};

/// How many posts are remembered.
pub const CAPACITY: usize = 20_000;

/// Post ids with the root of their thread (their own id for a root), oldest forgotten first.
#[derive(Default)]
pub struct Seen {
    roots: HashMap<String, String>,
    order: VecDeque<String>,
}

impl Seen {
    /// Records a post; false when it was seen already.
    pub fn insert(&mut self, id: &str, root_id: &str) -> bool {
        if self.roots.contains_key(id) {
            return false;
        }
        let root = if root_id.is_empty() { id } else { root_id };
        self.roots.insert(id.to_owned(), root.to_owned());
        self.order.push_back(id.to_owned());
        while self.order.len() > CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.roots.remove(&old);
            }
        }
        true
    }

    /// The root of the thread `id` is in (`id` itself when unknown).
    pub fn root_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.roots.get(id).map_or(id, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twice_is_once_and_roots_are_kept() {
        let mut s = Seen::default();
        assert!(s.insert("a", ""));
        assert!(!s.insert("a", ""));
        assert!(s.insert("b", "a"));
        assert_eq!(s.root_of("b"), "a");
        assert_eq!(s.root_of("a"), "a");
        assert_eq!(s.root_of("zz"), "zz");
        for i in 0..CAPACITY {
            s.insert(&i.to_string(), "");
        }
        assert!(s.insert("a", ""), "the oldest is forgotten");
    }
}
