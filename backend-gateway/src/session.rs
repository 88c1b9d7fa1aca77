//! One session with errbotd (`BackendService.Session`), run as the stream of events it answers.
//!
//! The stream tonic sends to errbotd does all the work when it is polled: it reads errbotd's
//! frames, carries out each `send` (all of them concurrently, so a slow one such as IRC pacing
//! holds up no other), and yields the inbound events and the `sent` outcomes. Nothing is handed
//! to another task, so a message costs no wake-up beyond the connection's own.

use std::sync::Arc;

use errbot_proto::v1::{
    BackendEvent, SendRequest, SendResult, SessionFrame, backend_event, session_frame,
};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{Stream, StreamExt};
use tonic::Status;

use crate::adapters::Adapter;
use crate::events::EventStream;

/// The session's stream: `events` (which ends when a newer session replaces this one or the
/// gateway stops, ending the session) merged with the outcomes of errbotd's `frames`.
pub fn run(
    adapter: Arc<dyn Adapter>,
    events: EventStream,
    frames: impl Stream<Item = Result<SessionFrame, Status>> + Send + 'static,
) -> EventStream {
    let session = Session {
        adapter,
        events,
        frames: Some(frames.boxed()),
        sending: FuturesUnordered::new(),
    };
    Box::pin(futures::stream::unfold(session, Session::next))
}

struct Session {
    adapter: Arc<dyn Adapter>,
    events: EventStream,
    /// errbotd's frames; `None` once it closed its side.
    frames: Option<BoxStream<'static, Result<SessionFrame, Status>>>,
    /// Sends being carried out, each resolving to its `sent` event.
    sending: FuturesUnordered<BoxFuture<'static, BackendEvent>>,
}

/// What woke the session up.
enum Step {
    Sent(BackendEvent),
    Event(Option<Result<BackendEvent, Status>>),
    Frame(Option<SessionFrame>),
}

impl Session {
    /// The next item for errbotd, or `None` when the session is over.
    async fn next(mut self) -> Option<(Result<BackendEvent, Status>, Self)> {
        loop {
            // Fair: no source can starve another (a flood of inbound messages must not hold up
            // errbotd's replies, nor the reverse).
            let step = tokio::select! {
                Some(sent) = self.sending.next(), if !self.sending.is_empty() => Step::Sent(sent),
                event = self.events.next() => Step::Event(event),
                frame = next_frame(&mut self.frames), if self.frames.is_some() => Step::Frame(frame),
            };
            match step {
                Step::Sent(sent) => return Some((Ok(sent), self)),
                Step::Event(Some(event)) => return Some((event, self)),
                Step::Event(None) => return None,
                Step::Frame(Some(frame)) => self.carry_out(frame),
                Step::Frame(None) => self.frames = None,
            }
        }
    }

    fn carry_out(&mut self, frame: SessionFrame) {
        match frame.kind {
            Some(session_frame::Kind::Send(request)) => {
                self.sending
                    .push(Box::pin(send(self.adapter.clone(), request)));
            }
            Some(session_frame::Kind::Processed(done)) => self.adapter.processed(&done),
            None => tracing::debug!("empty session frame ignored"),
        }
    }
}

/// errbotd's next frame; `None` once its side is closed (or broke).
async fn next_frame(
    frames: &mut Option<BoxStream<'static, Result<SessionFrame, Status>>>,
) -> Option<SessionFrame> {
    match frames.as_mut()?.next().await? {
        Ok(frame) => Some(frame),
        Err(status) => {
            tracing::debug!("session closed: {}", status.message());
            None
        }
    }
}

/// Carries out one send; its outcome as the `sent` event answering it.
async fn send(adapter: Arc<dyn Adapter>, request: SendRequest) -> BackendEvent {
    let id = request.id;
    let result = match adapter.send(request).await {
        Ok(message_id) => SendResult {
            id,
            message_id,
            ..Default::default()
        },
        Err(status) => SendResult {
            id,
            code: status.code() as i32,
            error: status.message().to_owned(),
            ..Default::default()
        },
    };
    BackendEvent {
        kind: Some(backend_event::Kind::Sent(result)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventQueue;
    use errbot_proto::v1::{BackendInfo, Identifier, ProcessedRequest};
    use std::sync::Mutex;
    use tokio::sync::{Notify, mpsc};
    use tokio_stream::wrappers::UnboundedReceiverStream;

    /// Sends to "slow" wait until released; everything else is sent at once.
    #[derive(Default)]
    struct Recorder {
        release: Notify,
        processed: Mutex<Vec<String>>,
    }

    #[tonic::async_trait]
    impl Adapter for Recorder {
        fn kind(&self) -> &'static str {
            "recorder"
        }
        fn info(&self) -> BackendInfo {
            BackendInfo::default()
        }
        async fn send(&self, request: SendRequest) -> Result<String, Status> {
            match request.in_reply_to.as_str() {
                "slow" => self.release.notified().await,
                "bad" => return Err(Status::invalid_argument("refused")),
                _ => {}
            }
            Ok(format!("out-{}", request.id))
        }
        fn processed(&self, request: &ProcessedRequest) {
            self.processed
                .lock()
                .unwrap()
                .push(request.message_id.clone());
        }
        fn build_identifier(&self, _text: &str) -> Result<Identifier, Status> {
            Err(Status::unimplemented("no"))
        }
    }

    fn send(id: u64, in_reply_to: &str) -> Result<SessionFrame, Status> {
        Ok(SessionFrame {
            kind: Some(session_frame::Kind::Send(SendRequest {
                id,
                in_reply_to: in_reply_to.into(),
                ..Default::default()
            })),
        })
    }

    fn sent(event: Option<Result<BackendEvent, Status>>) -> SendResult {
        match event {
            Some(Ok(BackendEvent {
                kind: Some(backend_event::Kind::Sent(result)),
            })) => result,
            other => panic!("expected a sent event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_slow_send_holds_up_no_other_and_every_send_is_answered() {
        let adapter = Arc::new(Recorder::default());
        let queue = EventQueue::new();
        let (frames, rx) = mpsc::unbounded_channel();
        let mut session = run(
            adapter.clone(),
            queue.subscribe().unwrap(),
            UnboundedReceiverStream::new(rx),
        );
        // Frames are read in order: the notice is carried out before the first send starts.
        let done = ProcessedRequest {
            message_id: "m0".into(),
            replies: 0,
        };
        frames
            .send(Ok(SessionFrame {
                kind: Some(session_frame::Kind::Processed(done)),
            }))
            .unwrap();
        frames.send(send(1, "slow")).unwrap();
        frames.send(send(2, "m2")).unwrap();
        frames.send(send(3, "bad")).unwrap();
        let mut answered: Vec<SendResult> =
            vec![sent(session.next().await), sent(session.next().await)];
        answered.sort_by_key(|r| r.id);
        let summary: Vec<_> = answered
            .iter()
            .map(|r| (r.id, r.code, r.error.as_str(), r.message_id.as_str()))
            .collect();
        let invalid = tonic::Code::InvalidArgument as i32;
        assert_eq!(summary, [(2, 0, "", "out-2"), (3, invalid, "refused", "")]);
        adapter.release.notify_one();
        let first = sent(session.next().await);
        assert_eq!((first.id, first.code), (1, 0));
        assert_eq!(*adapter.processed.lock().unwrap(), ["m0"]);
        // errbotd closing its side does not end the events; a newer session does.
        drop(frames);
        let _newer = queue.subscribe().unwrap();
        assert!(session.next().await.is_none());
    }
}
