//! `StorageService`, served by errbotd to plugins on the BotService socket.
//!
//! The namespace of every call is the calling plugin's name, found from its token (the
//! `x-errbot-token` header) in errbotd's table of children, and from nothing the request says:
//! requests carry no namespace, and keys are opaque strings inside it.

use std::pin::Pin;
use std::sync::Arc;

use errbot_proto::contract::TOKEN_HEADER;
use errbot_proto::v1::{
    StorageChange, StorageDeleteRequest, StorageDeleteResponse, StorageGetRequest,
    StorageGetResponse, StorageKeysRequest, StorageKeysResponse, StorageSetRequest,
    StorageSetResponse, StorageWatchAck, storage_service_server,
};
use tokio_stream::Stream;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Response, Status, Streaming};

use super::{CORE_NAMESPACE, DeleteOutcome, SetOutcome};
use crate::bot::{Bot, read};
use crate::child::Kind;

/// StorageService, as served to plugins.
pub struct StorageApi {
    /// The bot (its token table and its store).
    pub bot: Arc<Bot>,
}

/// The storage namespace of the child that sent `metadata`, from its token alone.
pub fn namespace_of(bot: &Bot, metadata: &tonic::metadata::MetadataMap) -> Result<String, Status> {
    let token = metadata
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Status::unauthenticated(format!("missing {TOKEN_HEADER} header")))?;
    let (kind, name) = read(&bot.tokens)
        .get(token)
        .cloned()
        .ok_or_else(|| Status::unauthenticated("unknown token"))?;
    match kind {
        Kind::Plugin if name.eq_ignore_ascii_case(CORE_NAMESPACE) => {
            Err(Status::permission_denied(format!(
                "a plugin named {name:?} has no storage: {CORE_NAMESPACE} is errbotd's own namespace"
            )))
        }
        Kind::Plugin => Ok(name),
        Kind::Backend => Err(Status::permission_denied(
            "gateways have no storage namespace",
        )),
    }
}

/// The process on the other end of the socket, when the kernel tells.
fn caller_pid<T>(req: &Request<T>) -> Option<i32> {
    req.extensions()
        .get::<UdsConnectInfo>()
        .and_then(|info| info.peer_cred)
        .and_then(|cred| cred.pid())
}

#[tonic::async_trait]
impl storage_service_server::StorageService for StorageApi {
    async fn get(
        &self,
        req: Request<StorageGetRequest>,
    ) -> Result<Response<StorageGetResponse>, Status> {
        let ns = namespace_of(&self.bot, req.metadata())?;
        let r = req.into_inner();
        let entry = self.bot.storage.store.get(&ns, &r.key).await?;
        Ok(Response::new(match entry {
            Some(e) => StorageGetResponse {
                found: true,
                value_json: e.value,
                version: e.version,
            },
            None => StorageGetResponse::default(),
        }))
    }

    async fn set(
        &self,
        req: Request<StorageSetRequest>,
    ) -> Result<Response<StorageSetResponse>, Status> {
        let ns = namespace_of(&self.bot, req.metadata())?;
        let writer = caller_pid(&req);
        let r = req.get_ref();
        let outcome = self
            .bot
            .storage
            .store
            .set_as(writer, &ns, &r.key, &r.value_json, r.if_version)
            .await?;
        Ok(Response::new(match outcome {
            SetOutcome::Written(version) => StorageSetResponse {
                written: true,
                version,
                current_json: String::new(),
            },
            SetOutcome::Conflict(current) => StorageSetResponse {
                written: false,
                version: current.as_ref().map_or(0, |e| e.version),
                current_json: current.map(|e| e.value).unwrap_or_default(),
            },
        }))
    }

    async fn delete(
        &self,
        req: Request<StorageDeleteRequest>,
    ) -> Result<Response<StorageDeleteResponse>, Status> {
        let ns = namespace_of(&self.bot, req.metadata())?;
        let writer = caller_pid(&req);
        let r = req.get_ref();
        let outcome = self
            .bot
            .storage
            .store
            .delete_as(writer, &ns, &r.key, r.if_version)
            .await?;
        Ok(Response::new(match outcome {
            DeleteOutcome::Deleted(version) => StorageDeleteResponse {
                deleted: true,
                version,
            },
            DeleteOutcome::Missing => StorageDeleteResponse::default(),
            DeleteOutcome::Conflict(version) => StorageDeleteResponse {
                deleted: false,
                version,
            },
        }))
    }

    async fn keys(
        &self,
        req: Request<StorageKeysRequest>,
    ) -> Result<Response<StorageKeysResponse>, Status> {
        let ns = namespace_of(&self.bot, req.metadata())?;
        let r = req.into_inner();
        let keys = self.bot.storage.store.keys(&ns, &r.prefix).await?;
        Ok(Response::new(StorageKeysResponse { keys }))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<StorageChange, Status>> + Send>>;

    async fn watch(
        &self,
        req: Request<Streaming<StorageWatchAck>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let ns = namespace_of(&self.bot, req.metadata())?;
        // The process on the other end of the socket: the one to stop if it stops acknowledging.
        let pid = caller_pid(&req).ok_or_else(|| {
            Status::failed_precondition("the caller's process is unknown: no cache for it")
        })?;
        let mut acks = req.into_inner();
        let watchers = self.bot.storage.store.watchers_handle();
        let (watcher, outbox) = watchers.add(&ns, pid);
        tokio::spawn(async move {
            // Every acknowledgement until the stream closes (the process stopped following, or
            // died): then it holds no cache and holds no write back.
            while let Ok(Some(ack)) = acks.message().await {
                watcher.ack(ack.seq);
            }
            watchers.remove(&watcher);
        });
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(
            outbox,
        ))))
    }
}
