//! The bounded queue of inbound events between the chat service and errbotd's session.
//!
//! Adapters push events at any time. errbotd reads them through one session at a time:
//! opening a new session ends the previous one's events, and events pushed while no stream is open wait in
//! the queue (up to [`CAPACITY`]) until the next stream opens.

use std::pin::Pin;
use std::sync::Arc;

use errbot_proto::v1::BackendEvent;
use futures::Stream;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, watch};
use tonic::Status;

/// How many events may wait for errbotd before producers are slowed down (or refused).
pub const CAPACITY: usize = 16_384;

/// The stream of events handed to tonic for one `Session` call.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<BackendEvent, Status>> + Send>>;

/// Why an event could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds [`CAPACITY`] events already.
    Full,
    /// The gateway is shutting down.
    Closed,
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => write!(
                f,
                "the event queue is full ({CAPACITY} events wait for errbotd)"
            ),
            Self::Closed => write!(f, "the gateway is shutting down"),
        }
    }
}

impl std::error::Error for PushError {}

/// A cheap, cloneable handle to the gateway's event queue.
#[derive(Clone)]
pub struct EventQueue {
    tx: mpsc::Sender<BackendEvent>,
    rx: Arc<Mutex<mpsc::Receiver<BackendEvent>>>,
    /// Generation of the stream allowed to read; `u64::MAX` once closed.
    current: Arc<watch::Sender<u64>>,
}

impl Default for EventQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl EventQueue {
    /// An empty queue with no reader.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        Self {
            tx,
            rx: Arc::new(Mutex::new(rx)),
            current: Arc::new(watch::channel(0).0),
        }
    }

    /// Queues an event, waiting while the queue is full.
    pub async fn push(&self, event: BackendEvent) -> Result<(), PushError> {
        if self.is_closed() {
            return Err(PushError::Closed);
        }
        self.tx.send(event).await.map_err(|_| PushError::Closed)
    }

    /// Queues an event, failing at once when the queue is full.
    pub fn try_push(&self, event: BackendEvent) -> Result<(), PushError> {
        if self.is_closed() {
            return Err(PushError::Closed);
        }
        self.tx.try_send(event).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => PushError::Full,
            mpsc::error::TrySendError::Closed(_) => PushError::Closed,
        })
    }

    /// Number of events waiting for errbotd.
    pub fn queued(&self) -> usize {
        CAPACITY - self.tx.capacity()
    }

    /// Reads the events waiting now through a new stream (ending the previous one): what a
    /// fuzz target's decoder hands back after one input.
    pub async fn take_queued(&self) -> Vec<BackendEvent> {
        use futures::StreamExt;
        let queued = self.queued();
        let mut out = Vec::with_capacity(queued);
        if queued == 0 {
            return out;
        }
        let Ok(mut stream) = self.subscribe() else {
            return out;
        };
        while out.len() < queued {
            match stream.next().await {
                Some(Ok(event)) => out.push(event),
                _ => break,
            }
        }
        out
    }

    fn is_closed(&self) -> bool {
        *self.current.borrow() == u64::MAX
    }

    /// Ends every open stream and refuses new ones and new events (at shutdown).
    pub fn close(&self) {
        self.current.send_replace(u64::MAX);
    }

    /// Opens a new reading stream, ending the previous one. Events not yet read by the previous
    /// stream are delivered by this one, in order.
    pub fn subscribe(&self) -> Result<EventStream, Status> {
        let mut generation = 0;
        self.current.send_if_modified(|current| {
            if *current == u64::MAX {
                return false;
            }
            *current += 1;
            generation = *current;
            true
        });
        if generation == 0 {
            return Err(Status::unavailable("the gateway is shutting down"));
        }
        let reader = Reader {
            generation,
            current: self.current.subscribe(),
            queue: self.rx.clone(),
            holding: None,
        };
        Ok(Box::pin(futures::stream::unfold(reader, Reader::next)))
    }
}

/// State of one session's event stream.
struct Reader {
    generation: u64,
    current: watch::Receiver<u64>,
    queue: Arc<Mutex<mpsc::Receiver<BackendEvent>>>,
    /// The queue's receiving end, once the previous stream let it go.
    holding: Option<OwnedMutexGuard<mpsc::Receiver<BackendEvent>>>,
}

impl Reader {
    /// The next event, or `None` when a newer stream replaced this one or the queue closed.
    async fn next(mut self) -> Option<(Result<BackendEvent, Status>, Self)> {
        let generation = self.generation;
        let mut watch = self.current.clone();
        let superseded = watch.wait_for(|c| *c != generation);
        tokio::pin!(superseded);
        let mut guard = match self.holding.take() {
            Some(guard) => guard,
            None => tokio::select! {
                biased;
                _ = &mut superseded => return None,
                guard = self.queue.clone().lock_owned() => guard,
            },
        };
        let event = tokio::select! {
            biased;
            _ = &mut superseded => return None,
            event = guard.recv() => event?,
        };
        self.holding = Some(guard);
        Some((Ok(event), self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use errbot_proto::v1::{ShutdownRequest, backend_event};
    use futures::StreamExt;

    fn event(reason: &str) -> BackendEvent {
        BackendEvent {
            kind: Some(backend_event::Kind::Shutdown(ShutdownRequest {
                reason: reason.into(),
            })),
        }
    }

    fn reason(item: Option<Result<BackendEvent, Status>>) -> String {
        match item {
            Some(Ok(BackendEvent {
                kind: Some(backend_event::Kind::Shutdown(s)),
            })) => s.reason,
            other => panic!("unexpected item {other:?}"),
        }
    }

    #[tokio::test]
    async fn queued_events_reach_the_next_stream_and_a_new_stream_replaces_the_old() {
        let q = EventQueue::new();
        q.push(event("a")).await.unwrap();
        q.try_push(event("b")).unwrap();
        assert_eq!(q.queued(), 2);
        let mut first = q.subscribe().unwrap();
        assert_eq!(reason(first.next().await), "a");
        let mut second = q.subscribe().unwrap();
        assert!(first.next().await.is_none(), "the replaced stream ends");
        assert_eq!(reason(second.next().await), "b");
        q.push(event("c")).await.unwrap();
        assert_eq!(reason(second.next().await), "c");
        drop(second);
        q.push(event("d")).await.unwrap();
        let mut third = q.subscribe().unwrap();
        assert_eq!(reason(third.next().await), "d");
        q.close();
        assert!(third.next().await.is_none(), "closing ends the stream");
        assert_eq!(q.try_push(event("e")), Err(PushError::Closed));
        assert!(q.subscribe().is_err());
    }
}
