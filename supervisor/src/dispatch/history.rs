//! Per-person command history for `!!`, `!N` and `!history`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many commands are kept per person (as Errbot).
pub const HISTORY_LEN: usize = 10;

/// One remembered command: its name and argument string.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Counts changes, so that the store is written only when something changed.
    generation: AtomicU64,
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
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// A number that grows with every change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Every person's commands, oldest first (for the store).
    pub fn snapshot(&self) -> BTreeMap<String, Vec<Entry>> {
        let people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        people
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
            .collect()
    }

    /// Replaces every history with `people` (loaded from the store), keeping the last
    /// [`HISTORY_LEN`] commands of each.
    pub fn replace_all(&self, people: BTreeMap<String, Vec<Entry>>) {
        let mut map = self.people.lock().unwrap_or_else(|p| p.into_inner());
        *map = people
            .into_iter()
            .map(|(k, v)| {
                let skip = v.len().saturating_sub(HISTORY_LEN);
                (k, v.into_iter().skip(skip).collect())
            })
            .collect();
        self.generation.fetch_add(1, Ordering::Relaxed);
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
