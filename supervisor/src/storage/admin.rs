//! `StorageAdminService`, served by errbotd to errbotctl on the control socket: backups,
//! restores and whole namespaces, for every namespace.

use std::sync::Arc;

use errbot_proto::v1::{
    BackupRequest, BackupResponse, GetNamespaceRequest, NamespaceDocument, NamespaceWriteResponse,
    RestoreRequest, RestoreResponse, storage_admin_service_server,
};
use tonic::{Request, Response, Status};

use super::{Namespace, StorageError, Store, WriteMode, backup};
use crate::bot::Bot;

/// StorageAdminService, as served to errbotctl.
pub struct StorageAdminApi {
    /// The bot (its store, and its cached core state to refresh after writes).
    pub bot: Arc<Bot>,
}

/// A namespace as a JSON object document: `{"key": value, ...}`, values exactly as stored.
pub fn namespace_to_json(entries: &Namespace) -> Result<String, StorageError> {
    let mut map = std::collections::BTreeMap::new();
    for (key, value) in entries {
        let raw = serde_json::value::RawValue::from_string(value.clone()).map_err(|e| {
            StorageError::InvalidValue(format!("{key} holds a value that is not JSON: {e}"))
        })?;
        map.insert(key.as_str(), raw);
    }
    serde_json::to_string_pretty(&map).map_err(|e| StorageError::InvalidValue(e.to_string()))
}

/// The entries of a JSON object document, values kept as their exact JSON text.
pub fn namespace_from_json(text: &str) -> Result<Namespace, StorageError> {
    let map: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(text).map_err(|e| {
            StorageError::InvalidValue(format!("expected a JSON object {{\"key\": value}}: {e}"))
        })?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, v.get().to_owned()))
        .collect())
}

/// Writes one namespace document into `store` (replacing or merging).
pub async fn write_namespace(
    store: &Store,
    namespace: &str,
    object_json: &str,
    mode: WriteMode,
) -> Result<super::WriteCounts, StorageError> {
    let entries = namespace_from_json(object_json)?;
    store
        .write_namespaces(&[(namespace.to_owned(), entries)], mode, false)
        .await
}

impl StorageAdminApi {
    async fn refresh(&self) {
        if let Err(e) = self.bot.storage.reload().await {
            tracing::warn!("reloading errbotd's state from storage failed: {e}");
        } else {
            crate::lifecycle::follow_blacklist(&self.bot).await;
        }
    }

    async fn write(
        &self,
        doc: NamespaceDocument,
        mode: WriteMode,
    ) -> Result<Response<NamespaceWriteResponse>, Status> {
        let counts = write_namespace(
            &self.bot.storage.store,
            &doc.namespace,
            &doc.object_json,
            mode,
        )
        .await?;
        if doc.namespace == super::CORE_NAMESPACE {
            self.refresh().await;
        }
        tracing::info!(
            namespace = %doc.namespace,
            "errbotctl wrote {} keys and deleted {}",
            counts.written,
            counts.deleted
        );
        Ok(Response::new(NamespaceWriteResponse {
            written: counts.written,
            deleted: counts.deleted,
        }))
    }
}

#[tonic::async_trait]
impl storage_admin_service_server::StorageAdminService for StorageAdminApi {
    async fn backup(
        &self,
        _req: Request<BackupRequest>,
    ) -> Result<Response<BackupResponse>, Status> {
        self.bot.storage.flush_history(&self.bot.history).await?;
        let (backup_json, summary) = backup::backup(&self.bot.storage.store).await?;
        Ok(Response::new(BackupResponse {
            backup_json,
            namespaces: summary.namespaces,
            keys: summary.keys,
        }))
    }

    async fn restore(
        &self,
        req: Request<RestoreRequest>,
    ) -> Result<Response<RestoreResponse>, Status> {
        let r = req.into_inner();
        let summary = backup::restore(&self.bot.storage.store, &r.backup_json, r.force).await?;
        self.refresh().await;
        if let Err(e) = self.bot.storage.load_history(&self.bot.history).await {
            tracing::warn!("reloading the command history failed: {e}");
        }
        tracing::info!(
            "errbotctl restored {} namespaces, {} keys",
            summary.namespaces,
            summary.keys
        );
        Ok(Response::new(RestoreResponse {
            namespaces: summary.namespaces,
            keys: summary.keys,
        }))
    }

    async fn get_namespace(
        &self,
        req: Request<GetNamespaceRequest>,
    ) -> Result<Response<NamespaceDocument>, Status> {
        let namespace = req.into_inner().namespace;
        if namespace == super::CORE_NAMESPACE {
            self.bot.storage.flush_history(&self.bot.history).await?;
        }
        let entries = self.bot.storage.store.namespace(&namespace).await?;
        Ok(Response::new(NamespaceDocument {
            object_json: namespace_to_json(&entries)?,
            namespace,
        }))
    }

    async fn set_namespace(
        &self,
        req: Request<NamespaceDocument>,
    ) -> Result<Response<NamespaceWriteResponse>, Status> {
        self.write(req.into_inner(), WriteMode::Replace).await
    }

    async fn merge_namespace(
        &self,
        req: Request<NamespaceDocument>,
    ) -> Result<Response<NamespaceWriteResponse>, Status> {
        self.write(req.into_inner(), WriteMode::Merge).await
    }
}
