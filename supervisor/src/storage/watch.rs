//! The processes that cache their namespace (`StorageService.Watch`), and how a write reaches
//! them before its writer is answered.
//!
//! Invariant: a write to a namespace is acknowledged to its writer only once every *other*
//! process watching that namespace has acknowledged the change (it no longer holds the old value)
//! or is dead. A watcher that does not acknowledge within [`ACK_TIMEOUT`] is killed (SIGKILL:
//! its supervision restarts it with an empty cache), and the write waits for its connection to
//! close. So a plugin's cache never serves a value older than the last acknowledged write, and
//! a stuck plugin holds a writer for at most a few seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{
    StorageChange, StorageKeyChanged, StorageNamespaceRewritten, StorageWatching, storage_change,
};
use tokio::sync::{mpsc, watch};

/// How long a watcher has to acknowledge a change before it is killed.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a killed watcher's connection may take to close before the write goes on.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What changed in a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// One key was written or deleted, at this version.
    Key {
        /// The key.
        key: String,
        /// The write's or deletion's version.
        version: u64,
    },
    /// The whole namespace was rewritten.
    Rewritten,
}

/// The messages of one watch stream, as the gRPC service sends them.
pub type Outbox = mpsc::UnboundedReceiver<Result<StorageChange, tonic::Status>>;

/// One watching process.
pub struct Watcher {
    namespace: String,
    pid: i32,
    sending: Mutex<Sending>,
    /// The last `seq` acknowledged; `u64::MAX` once the stream is closed.
    acked: watch::Sender<u64>,
}

struct Sending {
    next_seq: u64,
    outbox: mpsc::UnboundedSender<Result<StorageChange, tonic::Status>>,
}

impl Watcher {
    /// Records an acknowledgement from the watcher.
    pub fn ack(&self, seq: u64) {
        self.acked.send_if_modified(|acked| {
            let newer = seq > *acked;
            if newer {
                *acked = seq;
            }
            newer
        });
    }

    /// Records that the watcher's stream is closed: it holds no cache any more.
    pub fn closed(&self) {
        self.acked.send_replace(u64::MAX);
    }

    /// Sends `change`, returning its sequence number (`None` when the stream is gone).
    fn send(&self, change: &Change) -> Option<u64> {
        let mut sending = self.sending.lock().unwrap_or_else(|e| e.into_inner());
        sending.next_seq += 1;
        let seq = sending.next_seq;
        let change = match change {
            Change::Key { key, version } => storage_change::Change::Key(StorageKeyChanged {
                key: key.clone(),
                version: *version,
            }),
            Change::Rewritten => storage_change::Change::Rewritten(StorageNamespaceRewritten {}),
        };
        let message = StorageChange {
            seq,
            change: Some(change),
        };
        sending.outbox.send(Ok(message)).ok().map(|()| seq)
    }

    /// Waits until the watcher has applied change `seq`; kills it when it takes too long.
    async fn applied(&self, seq: u64) {
        let mut acked = self.acked.subscribe();
        let in_time = tokio::time::timeout(ACK_TIMEOUT, acked.wait_for(|a| *a >= seq))
            .await
            .is_ok();
        if in_time {
            return;
        }
        tracing::warn!(
            plugin = %self.namespace,
            pid = self.pid,
            "the plugin did not drop a changed key from its storage cache within {}s: killing \
             it (it restarts with an empty cache) so that it cannot read a stale value",
            ACK_TIMEOUT.as_secs()
        );
        let pid = nix::unistd::Pid::from_raw(self.pid);
        if let Err(e) = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL) {
            tracing::warn!(plugin = %self.namespace, pid = self.pid, "cannot kill: {e}");
        }
        let closed = tokio::time::timeout(CLOSE_TIMEOUT, acked.wait_for(|a| *a == u64::MAX))
            .await
            .is_ok();
        if !closed {
            tracing::error!(
                plugin = %self.namespace,
                pid = self.pid,
                "the killed plugin's storage watch is still open"
            );
        }
    }
}

/// Every watcher, by namespace.
#[derive(Default)]
pub struct Watchers {
    by_namespace: Mutex<HashMap<String, Vec<Arc<Watcher>>>>,
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watchers")
    }
}

impl Watchers {
    /// Registers the process `pid` as a watcher of `namespace`. The returned outbox starts with
    /// `watching`; the watcher stays registered until [`Self::remove`].
    pub fn add(&self, namespace: &str, pid: i32) -> (Arc<Watcher>, Outbox) {
        let (outbox, messages) = mpsc::unbounded_channel();
        let watching = StorageChange {
            seq: 0,
            change: Some(storage_change::Change::Watching(StorageWatching {})),
        };
        // The receiver is in hand: this cannot fail.
        let _ = outbox.send(Ok(watching));
        let watcher = Arc::new(Watcher {
            namespace: namespace.to_owned(),
            pid,
            sending: Mutex::new(Sending {
                next_seq: 0,
                outbox,
            }),
            acked: watch::Sender::new(0),
        });
        self.lock()
            .entry(namespace.to_owned())
            .or_default()
            .push(watcher.clone());
        (watcher, messages)
    }

    /// Unregisters a watcher whose stream has closed.
    pub fn remove(&self, watcher: &Arc<Watcher>) {
        watcher.closed();
        let mut all = self.lock();
        if let Some(list) = all.get_mut(&watcher.namespace) {
            list.retain(|w| !Arc::ptr_eq(w, watcher));
            if list.is_empty() {
                all.remove(&watcher.namespace);
            }
        }
    }

    /// Tells every watcher of `namespace` but the writer (its process: not its token, which
    /// several processes of one plugin may share) about `change`, and returns once each has
    /// applied it or is dead. Call after the change is committed.
    pub async fn changed(&self, namespace: &str, writer: Option<i32>, change: Change) {
        let others: Vec<Arc<Watcher>> = match self.lock().get(namespace) {
            None => return,
            Some(list) => list
                .iter()
                .filter(|w| Some(w.pid) != writer)
                .cloned()
                .collect(),
        };
        let waits = others.iter().filter_map(|w| {
            let seq = w.send(&change)?;
            Some(w.applied(seq))
        });
        futures::future::join_all(waits).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arc<Watcher>>>> {
        self.by_namespace.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No process has these pids (above the kernel's pid_max), so a timeout could kill nothing.
    const WRITER: i32 = i32::MAX;
    const OTHER: i32 = i32::MAX - 1;
    const THIRD: i32 = i32::MAX - 2;

    fn key(version: u64) -> Change {
        Change::Key {
            key: "k".into(),
            version,
        }
    }

    #[tokio::test]
    async fn a_write_waits_for_the_other_watchers_only() {
        let watchers = Arc::new(Watchers::default());
        let (mine, mut my_outbox) = watchers.add("p", WRITER);
        let (other, mut other_outbox) = watchers.add("p", OTHER);
        let (_elsewhere, mut elsewhere_outbox) = watchers.add("q", THIRD);
        for outbox in [&mut my_outbox, &mut other_outbox, &mut elsewhere_outbox] {
            let first = outbox.recv().await.expect("watching").expect("ok");
            assert_eq!(first.seq, 0);
        }
        let write = tokio::spawn({
            let watchers = watchers.clone();
            async move { watchers.changed("p", Some(WRITER), key(7)).await }
        });
        let sent = other_outbox.recv().await.expect("change").expect("ok");
        assert_eq!(sent.seq, 1);
        assert!(matches!(
            sent.change,
            Some(storage_change::Change::Key(StorageKeyChanged {
                version: 7,
                ..
            }))
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !write.is_finished(),
            "answered before the watcher applied it"
        );
        other.ack(1);
        write.await.expect("write");
        assert!(
            my_outbox.try_recv().is_err(),
            "the writer hears of its own write"
        );
        assert!(
            elsewhere_outbox.try_recv().is_err(),
            "another namespace heard of it"
        );
        // A closed watcher holds nothing back; once removed it hears nothing. A write by nobody
        // in particular (errbotctl) reaches every watcher.
        watchers.remove(&other);
        let rewrite = tokio::spawn({
            let watchers = watchers.clone();
            async move { watchers.changed("p", None, Change::Rewritten).await }
        });
        let rewritten = my_outbox.recv().await.expect("change").expect("ok");
        assert!(matches!(
            rewritten.change,
            Some(storage_change::Change::Rewritten(_))
        ));
        assert!(other_outbox.try_recv().is_err());
        // The stream closing stands for every acknowledgement.
        watchers.remove(&mine);
        rewrite.await.expect("rewrite");
    }
}
