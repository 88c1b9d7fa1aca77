//! Runs one command as the reply stream of its `Execute` call.
//!
//! The command's future is polled by the stream itself (no task, no channel per command): tonic
//! polls the stream, the stream polls the command and hands out the replies it queued. A panic
//! is caught and becomes an `INTERNAL` status; if errbotd gives up on the call, the command is
//! dropped (cancelled).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use errbot_proto::v1;
use tokio_stream::Stream;

use std::sync::Arc;

use crate::context::{Context, Runtime};
use crate::reply::{Failure, Reply};
use crate::{CommandFuture, Plugin};

/// The reply stream of one command.
pub(crate) struct Execution {
    ctx: Context,
    command: Option<CommandFuture>,
    failure: Option<tonic::Status>,
}

impl Execution {
    /// Starts `request` on `plugin` (for `Execute` and for a session alike); NOT_FOUND when the
    /// plugin has no such command.
    pub(crate) fn start<P: Plugin>(
        plugin: &Arc<P>,
        request: v1::ExecuteRequest,
        runtime: &Arc<Runtime>,
    ) -> Result<Self, tonic::Status> {
        let ctx = Context::new(request, runtime.clone());
        match plugin.clone().execute(ctx.clone()) {
            Some(command) => Ok(Self {
                ctx,
                command: Some(command),
                failure: None,
            }),
            None => Err(tonic::Status::not_found(format!(
                "this plugin has no command {:?}",
                ctx.command()
            ))),
        }
    }

    fn finish(&mut self, outcome: Result<(), Failure>) {
        self.command = None;
        match outcome {
            Ok(()) => {
                if let Some(context_json) = self.ctx.changed_flow_context() {
                    self.ctx.replies().push(Reply(v1::Reply {
                        flow_context_json: context_json,
                        ..Default::default()
                    }));
                }
            }
            Err(Failure::Command(e)) => {
                self.ctx.replies().push(Reply::error(e.text()));
            }
            Err(Failure::Internal(text)) => {
                tracing::error!(command = self.ctx.command(), "command failed: {text}");
                self.failure = Some(tonic::Status::internal(text));
            }
        }
    }
}

impl Stream for Execution {
    type Item = Result<v1::Reply, tonic::Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(reply) = this.ctx.replies().pop() {
                return Poll::Ready(Some(Ok(reply)));
            }
            let Some(command) = this.command.as_mut() else {
                this.ctx.replies().close();
                return Poll::Ready(this.failure.take().map(Err));
            };
            this.ctx.replies().register(cx.waker());
            match catch_unwind(AssertUnwindSafe(|| command.as_mut().poll(cx))) {
                Ok(Poll::Pending) => {
                    if this.ctx.replies().is_empty() {
                        return Poll::Pending;
                    }
                }
                Ok(Poll::Ready(outcome)) => this.finish(outcome),
                Err(panic) => {
                    // The future is poisoned: drop it, and survive a panic in its destructor too.
                    let command = this.command.take();
                    let _ = catch_unwind(AssertUnwindSafe(move || drop(command)));
                    let text = format!("the command panicked: {}", panic_message(&*panic));
                    this.finish(Err(Failure::Internal(text)));
                }
            }
        }
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        self.ctx.replies().close();
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(text) = panic.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text
    } else {
        "(no message)"
    }
}
