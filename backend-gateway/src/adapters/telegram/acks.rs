//! Which updates errbotd finished with, and the offset confirmed to Telegram.
//!
//! Telegram keeps an update until a `getUpdates` call passes an `offset` above its id. The
//! offset given is the lowest update still waiting for errbotd (its `processed` frame), so an
//! update is confirmed only once errbotd finished with it: a gateway that dies meanwhile gets
//! it again. Updates finished out of order above that offset are remembered, so that when
//! Telegram hands them out again they do not run twice. Both are kept in a small JSON file,
//! `{"offset": N, "done": [ids], "in_flight": [ids], "owner": "..."}`, written (then renamed
//! into place) each time they change, as Errbot kept its `_telegram_updates_offset` in its
//! storage.
//!
//! The updates in flight are kept with the errbotd process they were handed to (`owner`: its
//! pid and start time). A gateway killed alone finds the same errbotd when it starts again:
//! errbotd still runs those updates (and answers them), so they are not handed over twice. A
//! new errbotd never had them: they run again. A gateway stopped in order (errbotd's shutdown
//! or restart) forgets the owner, so that the next errbotd runs them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

/// The state of the updates.
pub struct Acks {
    path: PathBuf,
    /// The errbotd process updates are handed to (empty: unknown).
    owner: String,
    /// Every update below it is finished (the `offset` of the next `getUpdates`).
    offset: i64,
    /// Highest update id seen.
    highest: Option<i64>,
    /// Updates handed to errbotd, with when.
    in_flight: BTreeMap<i64, Instant>,
    /// Finished updates at or above `offset`.
    done: BTreeSet<i64>,
    /// The update of each message in flight (by `Message.id`).
    by_message: HashMap<String, i64>,
}

impl Acks {
    /// The state kept in `path`, or a fresh one (offset 0: Telegram's oldest unconfirmed
    /// update), for errbotd process `owner`.
    pub fn load(path: &Path, owner: &str) -> Self {
        let mut acks = Self {
            path: path.to_owned(),
            owner: owner.to_owned(),
            offset: 0,
            highest: None,
            in_flight: BTreeMap::new(),
            done: BTreeSet::new(),
            by_message: HashMap::new(),
        };
        match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => {
                    acks.offset = v.get("offset").and_then(Value::as_i64).unwrap_or(0);
                    acks.done = v
                        .get("done")
                        .and_then(Value::as_array)
                        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
                        .unwrap_or_default();
                    let in_flight: Vec<i64> = v
                        .get("in_flight")
                        .and_then(Value::as_array)
                        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
                        .unwrap_or_default();
                    let same =
                        !owner.is_empty() && v.get("owner").and_then(Value::as_str) == Some(owner);
                    if same && !in_flight.is_empty() {
                        tracing::info!(
                            "Telegram: updates {in_flight:?} were handed to this errbotd before \
                             the gateway restarted: errbotd runs them, they are not handed over again"
                        );
                        acks.done.extend(in_flight);
                    }
                    acks.done.retain(|id| *id >= acks.offset);
                    tracing::info!(
                        "Telegram: updates from {} on ({} finished beyond) are read again from {}",
                        acks.offset,
                        acks.done.len(),
                        path.display()
                    );
                }
                Err(e) => tracing::warn!(
                    "Telegram: {} is not the offset file's JSON ({e}): starting from the oldest \
                     update Telegram keeps",
                    path.display()
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("Telegram: cannot read {}: {e}", path.display()),
        }
        acks
    }

    /// The offset for the next `getUpdates` (0: none yet).
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Whether updates wait for errbotd (Telegram then answers `getUpdates` at once).
    pub fn waiting(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Notes update `id` as received; false when it was received before (a redelivery: drop it).
    pub fn receive(&mut self, id: i64) -> bool {
        if id < self.offset {
            return false;
        }
        self.highest = Some(self.highest.map_or(id, |h| h.max(id)));
        if self.in_flight.contains_key(&id) {
            return false;
        }
        if self.done.contains(&id) {
            // Finished before (by errbotd before the gateway restarted): the offset may pass it
            // now, or Telegram would hand it out again at once, forever.
            self.advance();
            return false;
        }
        true
    }

    /// Update `id` became message `message_id`, handed to errbotd.
    pub fn hand_over(&mut self, id: i64, message_id: &str) {
        self.in_flight.insert(id, Instant::now());
        self.by_message.insert(message_id.to_owned(), id);
        self.save();
    }

    /// The gateway stops in order: the updates in flight are errbotd's no more (it stops
    /// too, or restarts): whoever starts next runs them.
    pub fn release(&mut self) {
        self.owner.clear();
        self.save();
    }

    /// Update `id` is finished (nothing for errbotd in it, or errbotd processed it).
    pub fn finish(&mut self, id: i64) {
        self.in_flight.remove(&id);
        self.done.insert(id);
        self.advance();
    }

    /// errbotd processed message `message_id`: its update, if it came from one (once).
    pub fn processed(&mut self, message_id: &str) -> Option<i64> {
        let id = self.by_message.remove(message_id)?;
        self.finish(id);
        Some(id)
    }

    /// Whether update `id` is finished.
    pub fn finished(&self, id: i64) -> bool {
        id < self.offset || self.done.contains(&id)
    }

    /// Updates in flight longer than `limit` are taken as finished; returns them.
    pub fn expire(&mut self, limit: Duration) -> Vec<i64> {
        let now = Instant::now();
        let old: Vec<i64> = self
            .in_flight
            .iter()
            .filter(|(_, since)| now.duration_since(**since) > limit)
            .map(|(id, _)| *id)
            .collect();
        if !old.is_empty() {
            self.by_message.retain(|_, id| !old.contains(id));
            for id in &old {
                self.in_flight.remove(id);
                self.done.insert(*id);
            }
            self.advance();
        }
        old
    }

    /// Moves the offset to the lowest update in flight (or past the highest seen) and saves.
    fn advance(&mut self) {
        let next = match (self.in_flight.keys().next(), self.highest) {
            (Some(first), _) => *first,
            (None, Some(h)) => h.saturating_add(1),
            (None, None) => self.offset,
        };
        self.offset = next.max(self.offset);
        let offset = self.offset;
        self.done.retain(|id| *id >= offset);
        self.save();
    }

    fn save(&self) {
        let in_flight: Vec<i64> = self.in_flight.keys().copied().collect();
        let text = json!({"offset": self.offset, "done": self.done, "in_flight": in_flight,
            "owner": self.owner})
        .to_string();
        let tmp = self.path.with_extension("tmp");
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(
                "Telegram: cannot write the offset to {}: {e} (a restart would run the last \
                 updates again)",
                self.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_offset_waits_for_the_oldest_update_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offset.json");
        let mut acks = Acks::load(&path, "errbotd-1");
        assert_eq!(acks.offset(), 0);
        for id in [10, 11, 12] {
            assert!(acks.receive(id));
        }
        acks.hand_over(10, "a");
        acks.finish(11); // nothing for errbotd
        acks.hand_over(12, "c");
        assert_eq!(acks.offset(), 10);
        assert_eq!(acks.processed("c"), Some(12));
        assert_eq!(acks.processed("c"), None);
        assert!(acks.finished(11) && acks.finished(12) && !acks.finished(10));
        assert_eq!(acks.offset(), 10, "10 is still in flight");
        assert!(!acks.receive(11) && !acks.receive(12) && !acks.receive(10));

        // A restart of errbotd now: 11 and 12 are known as finished, 10 runs again.
        let mut again = Acks::load(&path, "errbotd-2");
        assert_eq!(again.offset(), 10);
        assert!(again.receive(10));
        assert!(!again.receive(11) && !again.receive(12));
        // A restart of the gateway alone: errbotd still runs 10, it is not handed over again,
        // and the offset moves past what Telegram hands out again.
        let mut alone = Acks::load(&path, "errbotd-1");
        assert!(!alone.receive(10) && !alone.receive(11) && !alone.receive(12));
        assert_eq!(alone.offset(), 13);

        assert_eq!(acks.processed("a"), Some(10));
        assert_eq!(acks.offset(), 13);
        assert!(!acks.waiting());
        let reloaded = Acks::load(&path, "errbotd-1");
        assert_eq!(reloaded.offset(), 13);

        // Stopped in order with 13 in flight: the next start runs it, even under the same pid.
        assert!(acks.receive(13));
        acks.hand_over(13, "d");
        acks.release();
        let mut next = Acks::load(&path, "errbotd-1");
        assert!(next.receive(13));
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_never_processed_is_given_up_after_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut acks = Acks::load(&dir.path().join("o.json"), "");
        assert!(acks.receive(5));
        acks.hand_over(5, "m");
        assert!(acks.expire(Duration::from_secs(60)).is_empty());
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(acks.expire(Duration::from_secs(60)), [5]);
        assert_eq!(acks.offset(), 6);
        assert_eq!(acks.processed("m"), None);
    }

    #[test]
    fn a_damaged_file_starts_from_telegrams_oldest_update() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(Acks::load(&path, "").offset(), 0);
    }

    #[test]
    fn the_highest_update_id_confirms_without_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let mut acks = Acks::load(&dir.path().join("o.json"), "");
        assert!(acks.receive(i64::MAX));
        acks.finish(i64::MAX);
        assert_eq!(acks.offset(), i64::MAX);
    }
}
