//! One session with errbotd (`BackendService.Session`), run as the stream of events it answers.
//!
//! The stream tonic sends to errbotd does all the work when it is polled: it reads errbotd's
//! frames, carries out the sends and the processed notices, and yields the inbound events and
//! the `sent` outcomes errbotd asked for. Nothing is handed to another task, and a send the
//! adapter finishes at once (the console, the test driver) is done within the same poll.
//!
//! Order, as backend.proto promises it: the sends answering one message (same `in_reply_to`)
//! are carried out one after the other in the order they came, and the message's `processed`
//! notice after them; each message has its lane. Sends of different messages run
//! concurrently, so a slow one (IRC pacing) holds up no other.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use errbot_proto::v1::{
    BackendEvent, ProcessedRequest, SendRequest, SendResult, SessionFrame, backend_event, content,
    session_frame,
};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, Stream, StreamExt};
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
        lanes: HashMap::new(),
        running: FuturesUnordered::new(),
        ready: VecDeque::new(),
    };
    Box::pin(futures::stream::unfold(session, Session::next))
}

/// Work waiting in a message's lane.
enum Work {
    Send(Box<SendRequest>),
    Processed(ProcessedRequest),
}

/// A send that had to wait, with the lane it holds (none for a spontaneous message).
type Running = BoxFuture<'static, (Option<String>, SendResult)>;

struct Session {
    adapter: Arc<dyn Adapter>,
    events: EventStream,
    /// errbotd's frames; `None` once it closed its side.
    frames: Option<BoxStream<'static, Result<SessionFrame, Status>>>,
    /// Busy lanes, by the message they answer: what waits behind the running send.
    lanes: HashMap<String, VecDeque<Work>>,
    /// Sends the adapter did not finish at once.
    running: FuturesUnordered<Running>,
    /// Outcomes to hand to errbotd.
    ready: VecDeque<BackendEvent>,
}

/// What woke the session up.
// A value that lives for one turn of the loop on the stack: boxing its events would cost an
// allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
enum Step {
    Finished(Option<String>, SendResult),
    Event(Option<Result<BackendEvent, Status>>),
    Frame(Option<SessionFrame>),
}

impl Session {
    /// The next item for errbotd, or `None` when the session is over.
    async fn next(mut self) -> Option<(Result<BackendEvent, Status>, Self)> {
        loop {
            if let Some(outcome) = self.ready.pop_front() {
                return Some((Ok(outcome), self));
            }
            // Fair: no source can starve another (a flood of inbound messages must not hold up
            // errbotd's replies, nor the reverse).
            let step = tokio::select! {
                Some((lane, result)) = self.running.next(), if !self.running.is_empty() => {
                    Step::Finished(lane, result)
                }
                event = self.events.next() => Step::Event(event),
                frame = next_frame(&mut self.frames), if self.frames.is_some() => Step::Frame(frame),
            };
            match step {
                Step::Finished(lane, result) => {
                    self.record(result);
                    if let Some(lane) = lane {
                        self.advance(lane);
                    }
                }
                Step::Event(Some(event)) => return Some((event, self)),
                Step::Event(None) => return None,
                Step::Frame(Some(frame)) => self.carry_out(frame),
                Step::Frame(None) => self.frames = None,
            }
        }
    }

    fn carry_out(&mut self, frame: SessionFrame) {
        match frame.kind {
            Some(session_frame::Kind::Send(request)) if request.in_reply_to.is_empty() => {
                if let Some(result) = self.start(request, None) {
                    self.record(result);
                }
            }
            Some(session_frame::Kind::Send(request)) => {
                let lane = request.in_reply_to.clone();
                let busy = self.lanes.contains_key(&lane);
                self.lanes
                    .entry(lane.clone())
                    .or_default()
                    .push_back(Work::Send(Box::new(request)));
                if !busy {
                    self.advance(lane);
                }
            }
            Some(session_frame::Kind::Processed(done)) => {
                match self.lanes.get_mut(&done.message_id) {
                    Some(queue) => queue.push_back(Work::Processed(done)),
                    None => self.adapter.processed(&done),
                }
            }
            None => tracing::debug!("empty session frame ignored"),
        }
    }

    /// Carries out the work waiting in `lane` until a send has to wait or the lane is empty
    /// (then it is closed).
    fn advance(&mut self, lane: String) {
        loop {
            let Some(queue) = self.lanes.get_mut(&lane) else {
                return;
            };
            match queue.pop_front() {
                None => {
                    self.lanes.remove(&lane);
                    return;
                }
                Some(Work::Processed(done)) => self.adapter.processed(&done),
                Some(Work::Send(request)) => match self.start(*request, Some(lane.clone())) {
                    Some(result) => self.record(result),
                    None => return,
                },
            }
        }
    }

    /// Starts a send: its result when the adapter finished it at once, otherwise `None` (it
    /// runs on, holding `lane`).
    fn start(&mut self, request: SendRequest, lane: Option<String>) -> Option<SendResult> {
        let mut sending = send(self.adapter.clone(), request);
        if let Some(result) = (&mut sending).now_or_never() {
            return Some(result);
        }
        self.running
            .push(Box::pin(async move { (lane, sending.await) }));
        None
    }

    /// A send finished: errbotd hears of it when it asked to, otherwise a failure is logged.
    fn record(&mut self, result: SendResult) {
        if result.id != 0 {
            self.ready.push_back(BackendEvent {
                kind: Some(backend_event::Kind::Sent(result)),
            });
        } else if result.code != 0 {
            tracing::warn!("a reply could not be sent: {}", result.error);
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

/// Carries out one send.
fn send(adapter: Arc<dyn Adapter>, request: SendRequest) -> BoxFuture<'static, SendResult> {
    Box::pin(async move {
        let id = request.id;
        let outcome = if let Some(content::Kind::Template(t)) =
            request.content.as_ref().and_then(|c| c.kind.as_ref())
        {
            Err(tonic::Status::invalid_argument(format!(
                "template {} reached the gateway unrendered (errbotd renders templates)",
                t.name
            )))
        } else if request.ephemeral && !adapter.ephemeral() {
            adapter
                .send(crate::adapters::private_instead(request))
                .await
        } else {
            adapter.send(request).await
        };
        match outcome {
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
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventQueue;
    use errbot_proto::v1::{BackendInfo, Identifier};
    use std::sync::Mutex;
    use tokio::sync::{Notify, mpsc};
    use tokio_stream::wrappers::UnboundedReceiverStream;

    /// Records what it carries out, in order. A send whose thread is "slow" waits until
    /// released; one whose thread is "bad" is refused.
    #[derive(Default)]
    struct Recorder {
        release: Notify,
        log: Mutex<Vec<String>>,
    }

    impl Recorder {
        fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
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
            match request.thread_id.as_str() {
                "slow" => self.release.notified().await,
                "bad" => return Err(Status::invalid_argument("refused")),
                _ => {}
            }
            let what = format!(
                "send {} {}",
                request.in_reply_to,
                request.to.unwrap().person
            );
            self.log.lock().unwrap().push(what);
            Ok(format!("out-{}", request.id))
        }
        fn processed(&self, request: &ProcessedRequest) {
            let what = format!("processed {}", request.message_id);
            self.log.lock().unwrap().push(what);
        }
        fn build_identifier(&self, _text: &str) -> Result<Identifier, Status> {
            Err(Status::unimplemented("no"))
        }
    }

    /// A send frame answering `message` with `part`; `id` 0 asks for no outcome.
    fn send(id: u64, message: &str, part: &str, thread: &str) -> Result<SessionFrame, Status> {
        Ok(SessionFrame {
            kind: Some(session_frame::Kind::Send(SendRequest {
                id,
                in_reply_to: message.into(),
                thread_id: thread.into(),
                to: Some(Identifier {
                    person: part.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })),
        })
    }

    fn processed(message: &str) -> Result<SessionFrame, Status> {
        Ok(SessionFrame {
            kind: Some(session_frame::Kind::Processed(ProcessedRequest {
                message_id: message.into(),
                replies: 0,
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

    type Frames = mpsc::UnboundedSender<Result<SessionFrame, Status>>;

    fn open() -> (Arc<Recorder>, EventQueue, Frames, EventStream) {
        let adapter = Arc::new(Recorder::default());
        let queue = EventQueue::new();
        let (frames, rx) = mpsc::unbounded_channel();
        let session = run(
            adapter.clone(),
            queue.subscribe().unwrap(),
            UnboundedReceiverStream::new(rx),
        );
        (adapter, queue, frames, session)
    }

    #[tokio::test]
    async fn messages_do_not_wait_for_each_other_and_asked_outcomes_come_back() {
        let (adapter, queue, frames, mut session) = open();
        frames.send(send(1, "m1", "a", "slow")).unwrap();
        frames.send(send(2, "m2", "b", "")).unwrap();
        frames.send(send(3, "m3", "c", "bad")).unwrap();
        let mut answered = [sent(session.next().await), sent(session.next().await)];
        answered.sort_by_key(|r| r.id);
        let summary: Vec<_> = answered
            .iter()
            .map(|r| (r.id, r.code, r.error.as_str(), r.message_id.as_str()))
            .collect();
        let invalid = tonic::Code::InvalidArgument as i32;
        assert_eq!(summary, [(2, 0, "", "out-2"), (3, invalid, "refused", "")]);
        adapter.release.notify_one();
        let first = sent(session.next().await);
        assert_eq!(
            (first.id, first.code, first.message_id.as_str()),
            (1, 0, "out-1")
        );
        assert_eq!(adapter.log(), ["send m2 b", "send m1 a"]);
        // errbotd closing its side does not end the events; a newer session does.
        drop(frames);
        let _newer = queue.subscribe().unwrap();
        assert!(session.next().await.is_none());
    }

    #[tokio::test]
    async fn a_message_s_sends_keep_their_order_and_its_notice_comes_after_them() {
        let (adapter, _queue, frames, mut session) = open();
        // m1: a slow first part, a second part nobody waits for, then the notice.
        frames.send(send(0, "m1", "part1", "slow")).unwrap();
        frames.send(send(0, "m1", "part2", "")).unwrap();
        frames.send(processed("m1")).unwrap();
        // m2 meanwhile: answered and processed at once.
        frames.send(send(7, "m2", "other", "")).unwrap();
        frames.send(processed("m2")).unwrap();
        // A message without replies is processed at once.
        frames.send(processed("m3")).unwrap();
        assert_eq!(sent(session.next().await).id, 7);
        // The session must run for the frames behind the outcome to be read.
        let more = tokio::time::timeout(std::time::Duration::from_millis(50), session.next());
        assert!(more.await.is_err(), "nothing else to say yet");
        assert_eq!(
            adapter.log(),
            ["send m2 other", "processed m2", "processed m3"]
        );
        adapter.release.notify_one();
        let more = tokio::time::timeout(std::time::Duration::from_millis(50), session.next());
        assert!(more.await.is_err(), "outcomes of m1 were not asked for");
        assert_eq!(
            adapter.log(),
            [
                "send m2 other",
                "processed m2",
                "processed m3",
                "send m1 part1",
                "send m1 part2",
                "processed m1"
            ]
        );
    }
}
