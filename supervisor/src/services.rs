//! BotService, served by errbotd to its children (authenticated by token), and what it shares
//! with ControlService ([`crate::control`]): saying something as the bot ([`send`]); plugins'
//! pollers are handed to [`crate::pollers`].

use std::sync::Arc;

use errbot_proto::contract::TOKEN_HEADER;
use errbot_proto::v1::{
    BotBuildIdentifierRequest, BotSendRequest, BotSendResponse, BuildIdentifierRequest, Content,
    Identifier, ListPollersRequest, ListPollersResponse, StartPollerRequest, StartPollerResponse,
    StopPollerRequest, StopPollerResponse, WarnAdminsRequest, WarnAdminsResponse,
    bot_service_server,
};
use tonic::{Request, Response, Status};

use crate::bot::{Bot, read};
use crate::child;
use crate::pipeline::callbacks;
use crate::pipeline::deliver::content_text;
use crate::pollers;
use crate::supervise::gateway::{Gateway, Outcome};
use crate::supervise::plugin::PluginSlot;

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

    /// The calling plugin's name; gateways have no pollers.
    fn calling_plugin<T>(&self, req: &Request<T>) -> Result<String, Status> {
        match self.caller(req)? {
            (child::Kind::Plugin, name) => Ok(name),
            (child::Kind::Backend, name) => Err(Status::permission_denied(format!(
                "{name} is a backend: only plugins have pollers"
            ))),
        }
    }

    /// The slot of the calling plugin.
    fn plugin_slot(&self, name: &str) -> Result<Arc<PluginSlot>, Status> {
        self.bot
            .plugin(name)
            .ok_or_else(|| Status::failed_precondition(format!("plugin {name} is not loaded")))
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
                .map_or(r.backend.clone(), |t| t.backend.clone());
        let content = r
            .content
            .ok_or_else(|| Status::invalid_argument("content is required"))?;
        let to = match r.to {
            Some(to) => Recipient::Id(Box::new(to)),
            None if !r.to_text.is_empty() => Recipient::Text(r.to_text),
            None => return Err(Status::invalid_argument("`to` or `to_text` is required")),
        };
        let sent = send(
            &self.bot,
            Some(&caller),
            &backend,
            to,
            content,
            &r.thread_id,
            &r.in_reply_to,
        )
        .await?;
        tracing::debug!(%caller, "sent to {}", sent.to.display);
        Ok(Response::new(BotSendResponse {
            message_id: sent.message_id,
        }))
    }

    async fn warn_admins(
        &self,
        req: Request<WarnAdminsRequest>,
    ) -> Result<Response<WarnAdminsResponse>, Status> {
        let (_, caller) = self.caller(&req)?;
        let text = req.into_inner().text;
        tracing::warn!(%caller, "warning to admins: {text}");
        crate::notify::warn_admins(&self.bot, &text).await;
        Ok(Response::new(WarnAdminsResponse {}))
    }

    async fn build_identifier(
        &self,
        req: Request<BotBuildIdentifierRequest>,
    ) -> Result<Response<Identifier>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        let gateway = gateway_for(&self.bot, &r.backend)?;
        build(&gateway, &r.text).await.map(Response::new)
    }

    async fn start_poller(
        &self,
        req: Request<StartPollerRequest>,
    ) -> Result<Response<StartPollerResponse>, Status> {
        let plugin = self.calling_plugin(&req)?;
        let r = req.into_inner();
        let key = pollers::Key::new(&plugin, &r.method, &r.args_json)
            .map_err(Status::invalid_argument)?;
        let settings =
            pollers::Settings::new(r.interval_secs, r.times).map_err(Status::invalid_argument)?;
        let slot = self.plugin_slot(&plugin)?;
        let already_running = self
            .bot
            .pollers
            .start(&self.bot, &slot, key, settings)
            .map_err(|e| Status::failed_precondition(e.to_string()))?;
        Ok(Response::new(StartPollerResponse { already_running }))
    }

    async fn stop_poller(
        &self,
        req: Request<StopPollerRequest>,
    ) -> Result<Response<StopPollerResponse>, Status> {
        let plugin = self.calling_plugin(&req)?;
        let r = req.into_inner();
        let key = pollers::Key::new(&plugin, &r.method, &r.args_json)
            .map_err(Status::invalid_argument)?;
        let stopped = self.bot.pollers.stop(&key);
        Ok(Response::new(StopPollerResponse { stopped }))
    }

    async fn list_pollers(
        &self,
        req: Request<ListPollersRequest>,
    ) -> Result<Response<ListPollersResponse>, Status> {
        let plugin = self.calling_plugin(&req)?;
        Ok(Response::new(ListPollersResponse {
            pollers: self.bot.pollers.list(Some(&plugin)),
        }))
    }
}

/// The gateway of backend `backend`, or the first one when it is empty.
pub fn gateway_for(bot: &Bot, backend: &str) -> Result<Arc<Gateway>, Status> {
    if backend.is_empty() {
        read(&bot.gateways)
            .first()
            .cloned()
            .ok_or_else(|| Status::unavailable("no backend is connected"))
    } else {
        bot.gateway(backend)
            .ok_or_else(|| Status::not_found(format!("no backend named {backend:?}")))
    }
}

/// The identifier `text` names on `gateway`'s chat service.
async fn build(gateway: &Gateway, text: &str) -> Result<Identifier, Status> {
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

/// Whom to send to.
pub enum Recipient {
    /// An identifier the backend made.
    Id(Box<Identifier>),
    /// The text form of one, for the backend to read (`@alice`, `#room`).
    Text(String),
}

/// What [`send`] did.
pub struct Sent {
    /// The backend it went through.
    pub backend: String,
    /// The recipient, as the backend knows it.
    pub to: Identifier,
    /// The chat service's id of the (last) message sent.
    pub message_id: String,
}

/// Says `content` as the bot to `to` through backend `backend` (empty: the first one), split
/// at the size limit: what a plugin's `BotService.Send` (`sender`: that plugin) and
/// `errbotctl send` do. Plugins that want the bot's messages get it, except its sender.
#[allow(clippy::too_many_arguments)]
pub async fn send(
    bot: &Arc<Bot>,
    sender: Option<&str>,
    backend: &str,
    to: Recipient,
    content: Content,
    thread_id: &str,
    in_reply_to: &str,
) -> Result<Sent, Status> {
    let gateway = gateway_for(bot, backend)?;
    let to = match to {
        Recipient::Id(id) => *id,
        Recipient::Text(text) => build(&gateway, &text).await?,
    };
    let limit = bot.config().bot.message_size_limit;
    if callbacks::wants_bot_messages(&bot.registry()) {
        let me = gateway
            .current()
            .and_then(|l| l.info.bot.clone())
            .unwrap_or_default();
        let message = callbacks::bot_message(me, to.clone(), content_text(&content), thread_id);
        callbacks::on_bot_message(bot, &gateway.name, message, sender);
    }
    let (_, message_id) = gateway
        .deliver(limit, &to, content, (thread_id, in_reply_to), Outcome::Wait)
        .await?;
    Ok(Sent {
        backend: gateway.name.clone(),
        to,
        message_id,
    })
}
