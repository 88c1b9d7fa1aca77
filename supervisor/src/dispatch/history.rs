//! Per-person command history for `!!`, `!N` and `!history`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many commands are kept per person (as Errbot).
pub const HISTORY_LEN: usize = 10;

/// One remembered command: its name and argument string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Command name as registered (underscores).
    pub command: String,
    /// Argument string.
    pub args: String,
}

/// The histories of every person, keyed by person id.
#[derive(Default)]
pub struct History {
    people: Mutex<HashMap<String, VecDeque<Entry>>>,
}

impl History {
    /// Records a command; an identical earlier entry moves to the end instead of repeating.
    pub fn push(&self, person: &str, entry: Entry) {
        let mut people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        let list = people.entry(person.to_owned()).or_default();
        list.retain(|e| e != &entry);
        if list.len() == HISTORY_LEN {
            list.pop_front();
        }
        list.push_back(entry);
    }

    /// The `n`th most recent command (1 is the last one).
    pub fn recall(&self, person: &str, n: usize) -> Option<Entry> {
        let people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        let list = people.get(person)?;
        if n == 0 || n > list.len() {
            return None;
        }
        list.get(list.len() - n).cloned()
    }

    /// Every remembered command, oldest first.
    pub fn list(&self, person: &str) -> Vec<Entry> {
        let people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        people
            .get(person)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(c: &str, a: &str) -> Entry {
        Entry {
            command: c.into(),
            args: a.into(),
        }
    }

    #[test]
    fn recall_counts_from_the_end_and_dedups() {
        let h = History::default();
        h.push("p", e("echo", "a"));
        h.push("p", e("status", ""));
        h.push("p", e("echo", "a"));
        assert_eq!(h.recall("p", 1), Some(e("echo", "a")));
        assert_eq!(h.recall("p", 2), Some(e("status", "")));
        assert_eq!(h.recall("p", 3), None);
        assert_eq!(h.recall("q", 1), None);
    }

    #[test]
    fn keeps_ten() {
        let h = History::default();
        for i in 0..15 {
            h.push("p", e("echo", &i.to_string()));
        }
        let l = h.list("p");
        assert_eq!(l.len(), HISTORY_LEN);
        assert_eq!(l[0].args, "5");
    }
}
