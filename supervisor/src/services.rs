//! BotService, served by errbotd to its children (authenticated by token), and what it shares
//! with ControlService ([`crate::control`]): saying something as the bot ([`send`]); plugins'
//! pollers are handed to [`crate::pollers`].

use std::sync::Arc;

use errbot_proto::contract::TOKEN_HEADER;
use errbot_proto::v1::{
    BotBuildIdentifierRequest, BotPresenceRequest, BotPresenceResponse, BotReactRequest,
    BotReactResponse, BotSendRequest, BotSendResponse, BotStatusRequest, BotStatusResponse,
    BuildIdentifierRequest, Content, FileChunk, Identifier, ListPollersRequest,
    ListPollersResponse, PluginCallRequest, PluginCallResponse, PluginDescription, ReactRequest,
    SetDynamicPluginsRequest, SetDynamicPluginsResponse, SetPresenceRequest, StartPollerRequest,
    StartPollerResponse, StopPollerRequest, StopPollerResponse, WarnAdminsRequest,
    WarnAdminsResponse, bot_service_server, content, file_chunk,
};
use tonic::{Request, Response, Status, Streaming};

use crate::bot::{Bot, read};
use crate::child;
use crate::pipeline::callbacks;
use crate::pollers;
use crate::supervise::gateway::{Gateway, Outcome};
use crate::supervise::plugin::PluginSlot;
use crate::templates;

/// BotService, as served to children.
pub struct BotApi {
    /// The bot.
    pub bot: Arc<Bot>,
}

impl BotApi {
    /// `content`, with a template of plugin `caller` rendered into Markdown.
    fn resolve_template(&self, caller: &str, content: Content) -> Result<Content, Status> {
        if !matches!(content.kind, Some(content::Kind::Template(_))) {
            return Ok(content);
        }
        let dir = self.bot.plugin(caller).map(|slot| slot.dir());
        templates::resolve(content, dir.as_deref(), "").map_err(Status::invalid_argument)
    }

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

    /// The calling plugin's name, for what only plugins may do (`only_plugins`: "have pollers"):
    /// a gateway is refused.
    fn calling_plugin<T>(&self, req: &Request<T>, only_plugins: &str) -> Result<String, Status> {
        match self.caller(req)? {
            (child::Kind::Plugin, name) => Ok(name),
            (child::Kind::Backend, name) => Err(Status::permission_denied(format!(
                "{name} is a backend: only plugins {only_plugins}"
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
        let content = self.resolve_template(&caller, content)?;
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

    async fn status(
        &self,
        req: Request<BotStatusRequest>,
    ) -> Result<Response<BotStatusResponse>, Status> {
        self.caller(&req)?;
        let bot = &self.bot;
        let started_at_ms = bot
            .started_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Ok(Response::new(BotStatusResponse {
            uptime_seconds: bot.started.elapsed().as_secs(),
            started_at_ms,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            plugins: crate::builtins::plugin_entries(bot),
            children: bot.child_statuses(),
        }))
    }

    async fn call_plugin(
        &self,
        req: Request<PluginCallRequest>,
    ) -> Result<Response<PluginCallResponse>, Status> {
        let caller = self.calling_plugin(&req, "call plugins")?;
        let mut request = req.into_inner();
        let called = std::mem::replace(&mut request.plugin, caller.clone());
        let slot = self.plugin_slot(&caller)?;
        if !slot.depends_on().contains(&called) {
            return Err(Status::permission_denied(format!(
                "plugin {called} is not a dependency of {caller}: name it in DependsOn (.plug) or \
                 depends_on (plugin.toml) to call it"
            )));
        }
        let target = self
            .bot
            .plugin(&called)
            .ok_or_else(|| Status::unavailable(format!("plugin {called} is not installed")))?;
        let instance = target.instance().await.map_err(Status::unavailable)?;
        let _inflight = instance.begin();
        let deadline = self.bot.config().command_timeout(Some(&caller));
        let mut client = instance.client.clone();
        let answer = tokio::select! {
            biased;
            answer = tokio::time::timeout(deadline, client.call(request)) => answer,
            reason = instance.process.wait_exit() => {
                return Err(Status::unavailable(format!(
                    "plugin {called} stopped during the call ({reason})"
                )));
            }
        };
        match answer {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(status)) => Err(status),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "plugin {called} did not answer within {} s",
                deadline.as_secs_f64()
            ))),
        }
    }

    async fn set_dynamic_plugins(
        &self,
        req: Request<SetDynamicPluginsRequest>,
    ) -> Result<Response<SetDynamicPluginsResponse>, Status> {
        let caller = self.calling_plugin(&req, "have dynamic plugins")?;
        let instance = self.plugin_slot(&caller)?.current().ok_or_else(|| {
            Status::failed_precondition(format!("plugin {caller} is not serving"))
        })?;
        let mut plugins: Vec<PluginDescription> = Vec::new();
        for d in req.into_inner().plugins {
            let name = d.name.trim().to_owned();
            if name.is_empty() || plugins.iter().any(|p| p.name == name) {
                return Err(Status::invalid_argument(format!(
                    "dynamic plugin names must be given and differ: {name:?}"
                )));
            }
            if self.bot.plugin(&name).is_some() || self.bot.is_builtin(&name) {
                return Err(Status::already_exists(format!(
                    "a plugin is named {name} already"
                )));
            }
            // Only their commands: callbacks, filters, flows and webhooks stay the plugin's.
            plugins.push(PluginDescription {
                name,
                description: d.description,
                commands: d.commands,
                ..Default::default()
            });
        }
        // The admins hear of the plugins this call adds (the others were told when added).
        let before: Vec<String> = instance
            .dynamic_plugins()
            .into_iter()
            .map(|p| p.name)
            .collect();
        let names: Vec<String> = plugins
            .iter()
            .filter(|p| !before.contains(&p.name))
            .map(|p| format!("{}.", p.name))
            .collect();
        tracing::info!(plugin = %caller, "dynamic plugins: {:?}", plugins.iter().map(|p| &p.name).collect::<Vec<_>>());
        instance.set_dynamic_plugins(plugins);
        let warnings: Vec<String> = self
            .bot
            .rebuild_registry()
            .into_iter()
            .filter(|w| names.iter().any(|n| w.starts_with(n.as_str())))
            .collect();
        // Told before the answer: the plugin's reply comes after, as in Errbot.
        for w in &warnings {
            tracing::warn!(plugin = %caller, "{w}");
            crate::notify::warn_admins(&self.bot, w).await;
        }
        Ok(Response::new(SetDynamicPluginsResponse { warnings }))
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

    async fn send_file(
        &self,
        req: Request<Streaming<FileChunk>>,
    ) -> Result<Response<BotSendResponse>, Status> {
        let (_, caller) = self.caller(&req)?;
        let mut chunks = req.into_inner();
        let Some(FileChunk {
            kind: Some(file_chunk::Kind::Header(mut header)),
        }) = chunks.message().await?
        else {
            return Err(Status::invalid_argument(
                "a file stream starts with its header",
            ));
        };
        let max = self.bot.config().limits.max_file_bytes;
        if header.size > max {
            return Err(Status::invalid_argument(format!(
                "the file is {} bytes; at most {max} may be sent (limits.max_file_bytes)",
                header.size
            )));
        }
        let backend = header
            .to
            .as_ref()
            .map_or(header.backend.clone(), |t| t.backend.clone());
        let gateway = gateway_for(&self.bot, &backend)?;
        let to = match header.to.take() {
            Some(to) => to,
            None if !header.to_text.is_empty() => build(&gateway, &header.to_text).await?,
            None => return Err(Status::invalid_argument("`to` or `to_text` is required")),
        };
        header.to = Some(to);
        let announced = header.size;
        let name = header.name.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<FileChunk>(8);
        let first = FileChunk {
            kind: Some(file_chunk::Kind::Header(header)),
        };
        let forward = async move {
            tx.send(first).await.map_err(|_| None)?;
            let mut total: u64 = 0;
            while let Some(chunk) = chunks.message().await.map_err(Some)? {
                let Some(file_chunk::Kind::Data(data)) = &chunk.kind else {
                    return Err(Some(Status::invalid_argument(
                        "only the first chunk of a file stream is a header",
                    )));
                };
                total += data.len() as u64;
                if total > max || (announced > 0 && total > announced) {
                    return Err(Some(Status::invalid_argument(format!(
                        "the file is larger than {} bytes",
                        if announced > 0 {
                            announced.min(max)
                        } else {
                            max
                        }
                    ))));
                }
                // The gateway gave up (its answer says why).
                tx.send(chunk).await.map_err(|_| None)?;
            }
            if announced > 0 && total != announced {
                return Err(Some(Status::invalid_argument(format!(
                    "the file announced {announced} bytes and had {total}"
                ))));
            }
            Ok(())
        };
        let link = gateway.link().await?;
        let mut client = link.client.clone();
        let upload = client.upload(tokio_stream::wrappers::ReceiverStream::new(rx));
        let (forwarded, uploaded) = tokio::join!(forward, upload);
        if let Err(Some(status)) = forwarded {
            return Err(status);
        }
        let message_id = uploaded?.into_inner().message_id;
        tracing::debug!(%caller, backend = %gateway.name, "sent the file {name}");
        Ok(Response::new(BotSendResponse { message_id }))
    }

    async fn react(
        &self,
        req: Request<BotReactRequest>,
    ) -> Result<Response<BotReactResponse>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        let to =
            r.to.ok_or_else(|| Status::invalid_argument("`to` is required"))?;
        if r.message_id.is_empty() || r.reaction.trim_matches(':').is_empty() {
            return Err(Status::invalid_argument(
                "a message id and a reaction are required",
            ));
        }
        let gateway = gateway_for(&self.bot, &to.backend)?;
        let request = ReactRequest {
            to: Some(to),
            message_id: r.message_id,
            reaction: r.reaction.trim_matches(':').to_owned(),
            remove: r.remove,
        };
        gateway.link().await?.client.clone().react(request).await?;
        Ok(Response::new(BotReactResponse {}))
    }

    async fn set_presence(
        &self,
        req: Request<BotPresenceRequest>,
    ) -> Result<Response<BotPresenceResponse>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        if !matches!(r.status.as_str(), "online" | "away" | "dnd" | "offline") {
            return Err(Status::invalid_argument(format!(
                "unknown status {:?}: online, away, dnd or offline",
                r.status
            )));
        }
        let gateways = if r.backend.is_empty() {
            read(&self.bot.gateways).clone()
        } else {
            vec![gateway_for(&self.bot, &r.backend)?]
        };
        let mut unsupported = Vec::new();
        for gateway in gateways {
            let request = SetPresenceRequest {
                status: r.status.clone(),
                message: r.message.clone(),
            };
            let outcome = match gateway.link().await {
                Ok(link) => link.client.clone().set_presence(request).await.map(drop),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                unsupported.push(format!("{}: {}", gateway.name, e.message()));
            }
        }
        Ok(Response::new(BotPresenceResponse { unsupported }))
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
        let plugin = self.calling_plugin(&req, "have pollers")?;
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
        let plugin = self.calling_plugin(&req, "have pollers")?;
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
        let plugin = self.calling_plugin(&req, "have pollers")?;
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
    callbacks::on_bot_message(bot, &gateway, &to, &content, thread_id, sender);
    let (_, message_id) = gateway
        .deliver(limit, &to, content, (thread_id, in_reply_to), Outcome::Wait)
        .await?;
    Ok(Sent {
        backend: gateway.name.clone(),
        to,
        message_id,
    })
}
