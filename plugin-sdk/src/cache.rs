//! The storage cache: the values this process has read or written, answered from memory, kept
//! coherent with errbotd by following `StorageService.Watch` (storage.proto, "Caching").
//!
//! Rules that keep it exact:
//! - Nothing is cached unless the watch is live; the cache is emptied whenever the watch starts
//!   or ends, and before this process acknowledges or stops following.
//! - A change made by another process marks the key unknown (the next read asks errbotd) before
//!   it is acknowledged, and errbotd answers that writer only after the acknowledgement.
//! - Answers to this process's own calls can arrive out of order. Each carries the key's version
//!   (writes of a key get increasing versions, deletions included), and a read's answer is kept
//!   only if nothing touched the key while it was under way, or if it is at least as new as what
//!   is known. An answer that started before the cache was emptied (its epoch) is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use errbot_proto::v1::{StorageChange, storage_change};

/// Most bytes (keys and values) held; beyond, the cache starts again empty.
const MAX_BYTES: usize = 32 << 20;
/// Values larger than this are not cached.
const MAX_VALUE_BYTES: usize = 1 << 20;

/// A key's cached state.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Known {
    /// Its value (JSON text).
    Value(Arc<str>),
    /// It is not set.
    Absent,
    /// It changed and the cache does not know how: ask errbotd.
    Unknown,
}

#[derive(Debug)]
struct Slot {
    /// Bumped whenever anything but a read's answer changes the slot.
    touch: u64,
    /// The newest version known for the key (0: none).
    version: u64,
    known: Known,
}

#[derive(Debug, Default)]
struct State {
    live: bool,
    epoch: u64,
    next_touch: u64,
    bytes: usize,
    slots: HashMap<String, Slot>,
}

/// What a cache lookup found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The key's value and version (`None`: not set), known to be current.
    Hit(Option<(Arc<str>, u64)>),
    /// Ask errbotd; give its answer back with the ticket.
    Miss(Ticket),
}

/// The cache's state when a call to errbotd started, to tell whether its answer may be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    /// `None` when the cache was not live.
    epoch: Option<u64>,
    /// The key's slot's touch (0: no slot).
    touch: u64,
}

/// The cache of one process (shared by every clone of its `Storage`).
#[derive(Debug, Default)]
pub(crate) struct Cache {
    state: Mutex<State>,
    following: AtomicBool,
}

impl State {
    fn ticket(&self, key: &str) -> Ticket {
        Ticket {
            epoch: self.live.then_some(self.epoch),
            touch: self.slots.get(key).map_or(0, |s| s.touch),
        }
    }

    fn current(&self, ticket: Ticket) -> bool {
        self.live && ticket.epoch == Some(self.epoch)
    }

    fn empty(&mut self) {
        self.slots.clear();
        self.bytes = 0;
        self.epoch += 1;
    }

    /// Sets the slot of `key` (creating it), touching it unless `answer` (a read's answer).
    fn put(&mut self, key: &str, version: u64, known: Known, answer: bool) {
        let known = match known {
            Known::Value(v) if v.len() > MAX_VALUE_BYTES => Known::Unknown,
            other => other,
        };
        let touch = if answer {
            self.slots.get(key).map_or(0, |s| s.touch)
        } else {
            self.next_touch += 1;
            self.next_touch
        };
        if let Some(old) = self.slots.remove(key) {
            self.bytes -= key.len() + old.known.size();
        }
        let size = key.len() + known.size();
        if self.bytes + size > MAX_BYTES {
            self.empty();
        }
        self.bytes += size;
        self.slots.insert(
            key.to_owned(),
            Slot {
                touch,
                version,
                known,
            },
        );
    }
}

impl Known {
    /// Bytes held.
    fn size(&self) -> usize {
        match self {
            Known::Value(v) => v.len(),
            _ => 0,
        }
    }
}

impl Cache {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True the first time only: the caller starts following the watch.
    pub(crate) fn start_following(&self) -> bool {
        !self.following.swap(true, Ordering::AcqRel)
    }

    /// The cached value of `key`, or a ticket for asking errbotd.
    pub(crate) fn lookup(&self, key: &str) -> Lookup {
        let state = self.lock();
        if state.live
            && let Some(slot) = state.slots.get(key)
        {
            match &slot.known {
                Known::Value(v) => return Lookup::Hit(Some((v.clone(), slot.version))),
                Known::Absent => return Lookup::Hit(None),
                Known::Unknown => {}
            }
        }
        Lookup::Miss(state.ticket(key))
    }

    /// A ticket for a write about to be sent.
    pub(crate) fn ticket(&self, key: &str) -> Ticket {
        self.lock().ticket(key)
    }

    /// errbotd's answer to a read started with `ticket`: the value and version, or not set.
    pub(crate) fn answered(&self, key: &str, ticket: Ticket, value: Option<(&str, u64)>) {
        let mut state = self.lock();
        if !state.current(ticket) {
            return;
        }
        let (touch, known_version) = state
            .slots
            .get(key)
            .map_or((0, 0), |s| (s.touch, s.version));
        let untouched = touch == ticket.touch;
        match value {
            Some((json, version)) if untouched || version >= known_version => {
                state.put(key, version, Known::Value(json.into()), true);
            }
            None if untouched => state.put(key, known_version, Known::Absent, true),
            _ => {}
        }
    }

    /// This process wrote `key` (at `version`), or deleted it (`value` `None`).
    pub(crate) fn wrote(&self, key: &str, ticket: Ticket, value: Option<&str>, version: u64) {
        let mut state = self.lock();
        if !state.current(ticket) {
            return;
        }
        if state.slots.get(key).is_some_and(|s| s.version > version) {
            // A newer change is known already.
            return;
        }
        let known = value.map_or(Known::Absent, |v| Known::Value(v.into()));
        state.put(key, version, known, false);
    }

    /// This process's call saw `key` in a state it cannot place in time: forget it.
    pub(crate) fn forget(&self, key: &str) {
        let mut state = self.lock();
        if state.live {
            let version = state.slots.get(key).map_or(0, |s| s.version);
            state.put(key, version, Known::Unknown, false);
        }
    }

    /// Applies a change from the watch (before it is acknowledged).
    pub(crate) fn apply(&self, change: &StorageChange) {
        let mut state = self.lock();
        match &change.change {
            Some(storage_change::Change::Watching(_)) => {
                state.empty();
                state.live = true;
            }
            Some(storage_change::Change::Key(k)) => {
                let version = state
                    .slots
                    .get(&k.key)
                    .map_or(k.version, |s| s.version.max(k.version));
                state.put(&k.key, version, Known::Unknown, false);
            }
            // Rewritten, or a change this SDK does not know: start again.
            Some(storage_change::Change::Rewritten(_)) | None => state.empty(),
        }
    }

    /// The watch ended: nothing can be trusted until it is live again.
    pub(crate) fn stop(&self) {
        let mut state = self.lock();
        state.live = false;
        state.empty();
    }
}

#[cfg(test)]
mod tests {
    use errbot_proto::v1::{StorageKeyChanged, StorageNamespaceRewritten, StorageWatching};

    use super::*;

    fn live() -> Cache {
        let cache = Cache::default();
        cache.apply(&StorageChange {
            seq: 0,
            change: Some(storage_change::Change::Watching(StorageWatching {})),
        });
        cache
    }

    fn changed(cache: &Cache, key: &str, version: u64) {
        cache.apply(&StorageChange {
            seq: 1,
            change: Some(storage_change::Change::Key(StorageKeyChanged {
                key: key.into(),
                version,
            })),
        });
    }

    fn miss(cache: &Cache, key: &str) -> Ticket {
        match cache.lookup(key) {
            Lookup::Miss(ticket) => ticket,
            Lookup::Hit(v) => panic!("{key} is cached as {v:?}"),
        }
    }

    fn hit(cache: &Cache, key: &str) -> Option<(String, u64)> {
        match cache.lookup(key) {
            Lookup::Hit(v) => v.map(|(json, version)| (json.to_string(), version)),
            Lookup::Miss(_) => panic!("{key} is not cached"),
        }
    }

    #[test]
    fn nothing_is_kept_before_the_watch_is_live() {
        let cache = Cache::default();
        let t = miss(&cache, "k");
        cache.answered("k", t, Some(("1", 5)));
        cache.wrote("k", cache.ticket("k"), Some("2"), 6);
        miss(&cache, "k");
        // A read that started before the watch went live may have missed a change: dropped.
        let early = miss(&cache, "k");
        let cache_live = {
            cache.apply(&StorageChange {
                seq: 0,
                change: Some(storage_change::Change::Watching(StorageWatching {})),
            });
            &cache
        };
        cache_live.answered("k", early, Some(("1", 5)));
        miss(cache_live, "k");
    }

    #[test]
    fn reads_and_own_writes_are_answered_from_memory() {
        let cache = live();
        let t = miss(&cache, "k");
        cache.answered("k", t, Some(("1", 5)));
        assert_eq!(hit(&cache, "k"), Some(("1".into(), 5)));
        cache.wrote("k", cache.ticket("k"), Some("2"), 9);
        assert_eq!(hit(&cache, "k"), Some(("2".into(), 9)));
        cache.wrote("k", cache.ticket("k"), None, 10);
        assert_eq!(hit(&cache, "k"), None);
        let t = miss(&cache, "absent");
        cache.answered("absent", t, None);
        assert_eq!(hit(&cache, "absent"), None);
    }

    #[test]
    fn another_process_s_change_is_never_hidden_by_an_older_answer() {
        let cache = live();
        cache.wrote("k", cache.ticket("k"), Some("1"), 5);
        // A read under way while errbotctl writes version 8...
        let t = miss(&cache, "other");
        let t_k = cache.ticket("k");
        changed(&cache, "k", 8);
        miss(&cache, "k");
        // ...answers with what it read before: not kept.
        cache.answered("k", t_k, Some(("1", 5)));
        miss(&cache, "k");
        // An answer as new as the change is kept.
        cache.answered("k", t_k, Some(("\"new\"", 8)));
        assert_eq!(hit(&cache, "k"), Some(("\"new\"".into(), 8)));
        // A read of a key that was deleted meanwhile: its "not set" cannot be placed, dropped.
        changed(&cache, "other", 9);
        cache.answered("other", t, None);
        miss(&cache, "other");
    }

    #[test]
    fn own_answers_out_of_order_keep_the_newest() {
        let cache = live();
        let t1 = cache.ticket("k");
        let t2 = cache.ticket("k");
        cache.wrote("k", t2, Some("\"second\""), 12);
        cache.wrote("k", t1, Some("\"first\""), 11);
        assert_eq!(hit(&cache, "k"), Some(("\"second\"".into(), 12)));
        // A deletion answered after a later write does not hide it.
        cache.wrote("k", cache.ticket("k"), Some("\"third\""), 14);
        cache.wrote("k", cache.ticket("k"), None, 13);
        assert_eq!(hit(&cache, "k"), Some(("\"third\"".into(), 14)));
        // A read's "not set" that raced with a write is not kept.
        let read = miss(&cache, "n");
        cache.wrote("n", cache.ticket("n"), Some("1"), 20);
        cache.answered("n", read, None);
        assert_eq!(hit(&cache, "n"), Some(("1".into(), 20)));
    }

    #[test]
    fn rewrites_and_the_end_of_the_watch_empty_it() {
        let cache = live();
        cache.wrote("k", cache.ticket("k"), Some("1"), 5);
        let before = cache.ticket("j");
        cache.apply(&StorageChange {
            seq: 2,
            change: Some(storage_change::Change::Rewritten(
                StorageNamespaceRewritten {},
            )),
        });
        miss(&cache, "k");
        cache.answered("j", before, Some(("1", 3)));
        miss(&cache, "j");
        cache.wrote("k", cache.ticket("k"), Some("1"), 6);
        cache.stop();
        miss(&cache, "k");
        cache.wrote("k", cache.ticket("k"), Some("1"), 7);
        miss(&cache, "k");
    }

    #[test]
    fn large_values_are_not_kept_and_the_size_is_bounded() {
        let cache = live();
        let big = "1".repeat(MAX_VALUE_BYTES + 1);
        cache.wrote("big", cache.ticket("big"), Some(&big), 1);
        miss(&cache, "big");
        let value = format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES - 2));
        for i in 0..40u64 {
            let key = format!("k{i}");
            cache.wrote(&key, cache.ticket(&key), Some(&value), i + 2);
        }
        assert!(cache.lock().bytes <= MAX_BYTES);
        assert_eq!(hit(&cache, "k39").map(|(_, v)| v), Some(41));
    }
}
