//! The plugin's end of `PluginService.Session`: errbotd's commands arrive as frames on one
//! long-lived stream; each runs as a task of its own, and its replies and its end go up as
//! events with the command's number. A cancel frame (errbotd's deadline passed) aborts the task,
//! as dropping an `Execute` call drops its command.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use errbot_proto::v1::{self, plugin_session_event, plugin_session_frame};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio_stream::StreamExt;
use tonic::{Status, Streaming};

use crate::Plugin;
use crate::context::Runtime;
use crate::execution::Execution;

/// The events going up to errbotd.
pub(crate) type Events = mpsc::Sender<Result<v1::PluginSessionEvent, Status>>;

/// The commands under way, by number.
type Running = Arc<Mutex<HashMap<u64, AbortHandle>>>;

/// Serves one session until errbotd closes it or the plugin stops (`stopping` turns true): then
/// the commands under way finish, and the events end with the last of them. A broken stream
/// (errbotd is gone) aborts them.
pub(crate) async fn serve<P: Plugin>(
    mut frames: Streaming<v1::PluginSessionFrame>,
    events: Events,
    plugin: Arc<P>,
    runtime: Arc<Runtime>,
    mut stopping: watch::Receiver<bool>,
) {
    let running: Running = Arc::default();
    let broken = loop {
        let frame = tokio::select! {
            frame = frames.message() => frame,
            _ = stopping.wait_for(|stop| *stop) => break false,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break false,
            Err(_) => break true,
        };
        match frame.kind {
            Some(plugin_session_frame::Kind::Execute(request)) => {
                match Execution::start(&plugin, request, &runtime) {
                    Ok(execution) => start(frame.call, execution, &events, &running),
                    Err(missing) => {
                        if events.send(Ok(ended(frame.call, &missing))).await.is_err() {
                            break true;
                        }
                    }
                }
            }
            Some(plugin_session_frame::Kind::Cancel(_)) => {
                if let Some(task) = lock(&running).remove(&frame.call) {
                    task.abort();
                }
            }
            // A newer errbotd's frame this plugin does not know.
            None => {}
        }
    };
    if broken {
        for task in lock(&running).drain().map(|(_, task)| task) {
            task.abort();
        }
    }
}

/// Runs command `call` as a task that sends its replies, then its end.
fn start(call: u64, mut execution: Execution, events: &Events, running: &Running) {
    let (events, finished) = (events.clone(), running.clone());
    // Held until the task is registered, so that its removal at the end comes after.
    let mut running = lock(running);
    let task = tokio::spawn(async move {
        let status = loop {
            match execution.next().await {
                Some(Ok(reply)) => {
                    let event = v1::PluginSessionEvent {
                        call,
                        kind: Some(plugin_session_event::Kind::Reply(reply)),
                    };
                    if events.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                Some(Err(status)) => break status,
                None => break Status::ok(""),
            }
        };
        lock(&finished).remove(&call);
        let _ = events.send(Ok(ended(call, &status))).await;
    });
    running.insert(call, task.abort_handle());
}

/// The end event of command `call`, with `status` (OK when it ran to its end).
fn ended(call: u64, status: &Status) -> v1::PluginSessionEvent {
    v1::PluginSessionEvent {
        call,
        kind: Some(plugin_session_event::Kind::End(v1::CallEnd {
            code: status.code() as i32,
            message: status.message().to_owned(),
        })),
    }
}

fn lock(running: &Running) -> std::sync::MutexGuard<'_, HashMap<u64, AbortHandle>> {
    running.lock().unwrap_or_else(PoisonError::into_inner)
}
