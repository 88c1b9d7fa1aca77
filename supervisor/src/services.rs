//! The gRPC services errbotd serves: BotService for its children (authenticated by token) and
//! ControlService for errbotctl.

use std::sync::Arc;

use errbot_proto::contract::TOKEN_HEADER;
use errbot_proto::v1::{
    BotBuildIdentifierRequest, BotSendRequest, BotSendResponse, BuildIdentifierRequest, Content,
    ControlShutdownRequest, ControlShutdownResponse, Identifier, PluginActionKind,
    PluginActionRequest, PluginActionResponse, StatusRequest, StatusResponse, WarnAdminsRequest,
    WarnAdminsResponse, bot_service_server, content, control_service_server,
};
use tonic::{Request, Response, Status};

use crate::bot::{Bot, read};
use crate::child;
use crate::lifecycle::{self, ActionError};
use crate::supervise::gateway::{Gateway, Outcome};
use crate::supervise::plugin::Action;

/// BotService, as served to children.
pub struct BotApi {
    /// The bot.
    pub bot: Arc<Bot>,
}

impl BotApi {
    /// The calling child, from its token.
    fn caller<T>(&self, req: &Request<T>) -> Result<(child::Kind, String), Status> {
        let token = req
            .metadata()
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Status::unauthenticated(format!("missing {TOKEN_HEADER} header")))?;
        read(&self.bot.tokens)
            .get(token)
            .cloned()
            .ok_or_else(|| Status::unauthenticated("unknown token"))
    }

    fn gateway_for(&self, backend: &str) -> Result<Arc<Gateway>, Status> {
        if backend.is_empty() {
            read(&self.bot.gateways)
                .first()
                .cloned()
                .ok_or_else(|| Status::unavailable("no backend is connected"))
        } else {
            self.bot
                .gateway(backend)
                .ok_or_else(|| Status::not_found(format!("no backend named {backend:?}")))
        }
    }

    async fn build(&self, gateway: &Gateway, text: &str) -> Result<Identifier, Status> {
        gateway
            .link()
            .await?
            .client
            .clone()
            .build_identifier(BuildIdentifierRequest {
                text: text.to_owned(),
            })
            .await
            .map(Response::into_inner)
    }
}

#[tonic::async_trait]
impl bot_service_server::BotService for BotApi {
    async fn send(
        &self,
        req: Request<BotSendRequest>,
    ) -> Result<Response<BotSendResponse>, Status> {
        let (_, caller) = self.caller(&req)?;
        let r = req.into_inner();
        let backend =
            r.to.as_ref()
                .map_or(r.backend.as_str(), |t| t.backend.as_str());
        let gateway = self.gateway_for(backend)?;
        let to = match r.to {
            Some(to) => to,
            None if !r.to_text.is_empty() => self.build(&gateway, &r.to_text).await?,
            None => return Err(Status::invalid_argument("`to` or `to_text` is required")),
        };
        let content = r
            .content
            .ok_or_else(|| Status::invalid_argument("content is required"))?;
        tracing::debug!(%caller, "send to {}", to.display);
        let limit = self.bot.config.bot.message_size_limit;
        let (_, message_id) = gateway
            .deliver(
                limit,
                &to,
                content,
                (&r.thread_id, &r.in_reply_to),
                Outcome::Wait,
            )
            .await?;
        Ok(Response::new(BotSendResponse { message_id }))
    }

    async fn warn_admins(
        &self,
        req: Request<WarnAdminsRequest>,
    ) -> Result<Response<WarnAdminsResponse>, Status> {
        let (_, caller) = self.caller(&req)?;
        let text = req.into_inner().text;
        tracing::warn!(%caller, "warning to admins: {text}");
        warn_admins(&self.bot, &text).await;
        Ok(Response::new(WarnAdminsResponse {}))
    }

    async fn build_identifier(
        &self,
        req: Request<BotBuildIdentifierRequest>,
    ) -> Result<Response<Identifier>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        let gateway = self.gateway_for(&r.backend)?;
        self.build(&gateway, &r.text).await.map(Response::new)
    }
}

/// Sends `text` to every admin that is a plain name (not a glob) on every backend.
pub async fn warn_admins(bot: &Bot, text: &str) {
    let gateways: Vec<_> = read(&bot.gateways).clone();
    for admin in bot
        .config
        .bot
        .admins
        .iter()
        .filter(|a| !a.contains(['*', '?', '[']))
    {
        for gateway in &gateways {
            let req = BuildIdentifierRequest {
                text: admin.clone(),
            };
            let Ok(link) = gateway.link().await else {
                continue;
            };
            let Ok(to) = link.client.clone().build_identifier(req).await else {
                continue;
            };
            let content = Content {
                kind: Some(content::Kind::Markdown(text.to_owned())),
            };
            let limit = bot.config.bot.message_size_limit;
            if let Err(e) = gateway
                .deliver(limit, &to.into_inner(), content, ("", ""), Outcome::Wait)
                .await
            {
                tracing::warn!(backend = %gateway.name, "warning {admin} failed: {}", e.message());
            }
        }
    }
}

/// ControlService, as served to errbotctl.
pub struct ControlApi {
    /// The bot.
    pub bot: Arc<Bot>,
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
        let action = match r.action() {
            PluginActionKind::Activate => Action::Activate,
            PluginActionKind::Deactivate => Action::Deactivate,
            PluginActionKind::Reload => Action::Reload,
            PluginActionKind::Unspecified => {
                return Err(Status::invalid_argument("action is required"));
            }
        };
        tracing::info!(plugin = %r.name, "errbotctl plugin {}", action.verb());
        match lifecycle::plugin_action(&self.bot, action, &r.name).await {
            Ok(message) => Ok(Response::new(PluginActionResponse { message })),
            Err(e) => Err(match &e {
                ActionError::Usage(t) => Status::invalid_argument(t),
                ActionError::NotFound(t) => Status::not_found(t),
                ActionError::Already(t) => Status::failed_precondition(t),
                ActionError::Failed(t) => Status::aborted(t),
            }),
        }
    }
}
