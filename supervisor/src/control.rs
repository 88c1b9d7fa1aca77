//! ControlService, served by errbotd to errbotctl on its control socket, and who may connect
//! to that socket.
//!
//! The socket is mode 0600 in a 0700 directory; on top of that every connection's peer
//! credentials are checked ([`owner_only`]): only errbotd's own user and root may talk to it,
//! others are dropped before any byte of gRPC and logged.

use std::pin::Pin;
use std::sync::Arc;

use errbot_proto::v1::{
    Content, ControlSendRequest, ControlSendResponse, ControlShutdownRequest,
    ControlShutdownResponse, FlowsRequest, FlowsResponse, LogEntry, LogsRequest, PluginActionKind,
    PluginActionRequest, PluginActionResponse, PluginInfoRequest, PluginInfoResponse,
    PluginListRequest, PluginListResponse, ReloadConfigRequest, ReloadConfigResponse, ReposAction,
    ReposRequest, ReposResponse, StatusRequest, StatusResponse, content, control_service_server,
    log_entry,
};
use futures::Stream;
use tokio::net::UnixStream;
use tonic::{Request, Response, Status};

use crate::bot::Bot;
use crate::lifecycle::{self, ActionError};
use crate::logring::{Followed, LogRing};
use crate::services::{self, Recipient};
use crate::supervise::plugin::Action;

/// Whether a peer running as `peer_uid` may use the control socket of an errbotd running as
/// `own_uid`: the same user, or root.
pub fn peer_allowed(peer_uid: u32, own_uid: u32) -> bool {
    peer_uid == own_uid || peer_uid == 0
}

/// The connections of `incoming` whose peer may use the control socket ([`peer_allowed`]);
/// the others are closed at once and logged.
pub fn owner_only<S>(incoming: S) -> impl Stream<Item = std::io::Result<UnixStream>>
where
    S: Stream<Item = std::io::Result<UnixStream>>,
{
    use futures::StreamExt;
    let own = nix::unistd::geteuid().as_raw();
    incoming.filter(move |conn| {
        let allowed = match conn {
            Err(_) => true,
            Ok(stream) => match stream.peer_cred() {
                Ok(cred) if peer_allowed(cred.uid(), own) => true,
                Ok(cred) => {
                    tracing::warn!(
                        "refused a control connection from uid {} (pid {}): only uid {own} \
                         and root may use the control socket",
                        cred.uid(),
                        cred.pid().map_or_else(|| "?".to_owned(), |p| p.to_string())
                    );
                    false
                }
                Err(e) => {
                    tracing::warn!("refused a control connection: no peer credentials ({e})");
                    false
                }
            },
        };
        std::future::ready(allowed)
    })
}

/// ControlService, as served to errbotctl.
pub struct ControlApi {
    /// The bot.
    pub bot: Arc<Bot>,
}

/// The gRPC status of an operator change that was refused or failed.
fn status_of(e: ActionError) -> Status {
    match e {
        ActionError::Usage(t) => Status::invalid_argument(t),
        ActionError::NotFound(t) => Status::not_found(t),
        ActionError::Already(t) | ActionError::Refused(t) => Status::failed_precondition(t),
        ActionError::Failed(t) => Status::aborted(t),
    }
}

type LogStream = Pin<Box<dyn Stream<Item = Result<LogEntry, Status>> + Send>>;

fn line(text: &str) -> Result<LogEntry, Status> {
    Ok(LogEntry {
        kind: Some(log_entry::Kind::Line(text.to_owned())),
    })
}

#[tonic::async_trait]
impl control_service_server::ControlService for ControlApi {
    async fn status(
        &self,
        _req: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let bot = &self.bot;
        let children = bot.child_statuses();
        Ok(Response::new(StatusResponse {
            version: env!("CARGO_PKG_VERSION").into(),
            pid: std::process::id(),
            uptime_seconds: bot.started.elapsed().as_secs(),
            children,
        }))
    }

    async fn shutdown(
        &self,
        _req: Request<ControlShutdownRequest>,
    ) -> Result<Response<ControlShutdownResponse>, Status> {
        self.bot.request_shutdown("errbotctl shutdown");
        Ok(Response::new(ControlShutdownResponse {}))
    }

    async fn plugin_action(
        &self,
        req: Request<PluginActionRequest>,
    ) -> Result<Response<PluginActionResponse>, Status> {
        let r = req.into_inner();
        let bot = &self.bot;
        let kind = r.action();
        let verb = kind
            .as_str_name()
            .trim_start_matches("PLUGIN_ACTION_KIND_")
            .to_lowercase();
        tracing::info!(plugin = %r.name, "errbotctl plugin {verb}");
        let result = match kind {
            PluginActionKind::Activate => {
                lifecycle::plugin_action(bot, Action::Activate, &r.name).await
            }
            PluginActionKind::Deactivate => {
                lifecycle::plugin_action(bot, Action::Deactivate, &r.name).await
            }
            PluginActionKind::Reload => {
                lifecycle::plugin_action(bot, Action::Reload, &r.name).await
            }
            PluginActionKind::Blacklist => lifecycle::blacklist(bot, &r.name).await,
            PluginActionKind::Unblacklist => lifecycle::unblacklist(bot, &r.name).await,
            PluginActionKind::Unspecified => {
                return Err(Status::invalid_argument("action is required"));
            }
        };
        result
            .map(|message| Response::new(PluginActionResponse { message }))
            .map_err(status_of)
    }

    async fn plugin_list(
        &self,
        _req: Request<PluginListRequest>,
    ) -> Result<Response<PluginListResponse>, Status> {
        Ok(Response::new(PluginListResponse {
            plugins: crate::builtins::plugin_entries(&self.bot),
        }))
    }

    async fn plugin_info(
        &self,
        req: Request<PluginInfoRequest>,
    ) -> Result<Response<PluginInfoResponse>, Status> {
        crate::builtins::plugin_info::info(&self.bot, &req.into_inner().name)
            .map(Response::new)
            .map_err(status_of)
    }

    async fn reload_config(
        &self,
        _req: Request<ReloadConfigRequest>,
    ) -> Result<Response<ReloadConfigResponse>, Status> {
        tracing::info!("errbotctl reload-config");
        match crate::reload::reload(&self.bot).await {
            Ok(report) => Ok(Response::new(report)),
            Err(refusal) => Err(Status::failed_precondition(refusal)),
        }
    }

    type LogsStream = LogStream;

    async fn logs(&self, req: Request<LogsRequest>) -> Result<Response<LogStream>, Status> {
        let r = req.into_inner();
        let (tail, follower) = LogRing::global().follow(r.lines as usize);
        let head = futures::stream::iter(tail.into_iter().map(|l| line(&l)));
        if !r.follow {
            return Ok(Response::new(Box::pin(head)));
        }
        let rest = futures::stream::unfold(follower, |mut follower| async move {
            let entry = match follower.next().await? {
                Followed::Line(l) => line(&l),
                Followed::Dropped(n) => Ok(LogEntry {
                    kind: Some(log_entry::Kind::Dropped(n)),
                }),
            };
            Some((entry, follower))
        });
        Ok(Response::new(Box::pin(futures::StreamExt::chain(
            head, rest,
        ))))
    }

    async fn flows(&self, _: Request<FlowsRequest>) -> Result<Response<FlowsResponse>, Status> {
        Ok(Response::new(self.bot.flows.overview(&self.bot.registry())))
    }

    async fn repos(&self, req: Request<ReposRequest>) -> Result<Response<ReposResponse>, Status> {
        let r = req.into_inner();
        let bot = &self.bot;
        let action = r.action();
        tracing::info!(
            "errbotctl repos {} {}",
            action.as_str_name(),
            r.args.join(" ")
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut repos = Vec::new();
        let outcome = match action {
            ReposAction::List => crate::repos::list(bot).await.map(|e| repos = e),
            ReposAction::Search => crate::repos::search(bot, &r.args.join(" "))
                .await
                .map(|e| repos = e),
            ReposAction::Install => {
                let [target] = r.args.as_slice() else {
                    return Err(Status::invalid_argument(
                        "install takes one name of the index or git URL",
                    ));
                };
                crate::repos::install(bot, target, Some(r.r#ref.as_str()), &tx).await
            }
            ReposAction::Uninstall => crate::repos::uninstall(bot, &r.args.join(" "), &tx).await,
            ReposAction::Update => crate::repos::update(bot, &r.args, &tx).await,
            ReposAction::Unspecified => return Err(Status::invalid_argument("action is required")),
        };
        drop(tx);
        let mut messages = Vec::new();
        while let Ok(m) = rx.try_recv() {
            messages.push(m);
        }
        match outcome {
            Ok(()) => Ok(Response::new(ReposResponse { messages, repos })),
            Err(e) => {
                // The messages so far, then why it failed.
                messages.push(e.text().to_owned());
                let mut status = status_of(e);
                status = Status::new(status.code(), messages.join("\n"));
                Err(status)
            }
        }
    }

    async fn send(
        &self,
        req: Request<ControlSendRequest>,
    ) -> Result<Response<ControlSendResponse>, Status> {
        let r = req.into_inner();
        if r.to.trim().is_empty() {
            return Err(Status::invalid_argument("a recipient is required"));
        }
        if r.text.trim().is_empty() {
            return Err(Status::invalid_argument("the text is empty"));
        }
        let content = Content {
            kind: Some(content::Kind::Markdown(r.text)),
        };
        let sent = services::send(
            &self.bot,
            None,
            &r.backend,
            Recipient::Text(r.to.trim().to_owned()),
            content,
            "",
            "",
        )
        .await?;
        tracing::info!(backend = %sent.backend, "errbotctl send to {}", sent.to.display);
        Ok(Response::new(ControlSendResponse {
            message_id: sent.message_id,
            backend: sent.backend,
            to: Some(sent.to),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::peer_allowed;

    #[test]
    fn only_the_same_user_and_root_may_connect() {
        assert!(peer_allowed(1000, 1000));
        assert!(peer_allowed(0, 1000));
        assert!(peer_allowed(0, 0));
        assert!(!peer_allowed(1001, 1000));
        assert!(!peer_allowed(65534, 0));
    }
}
