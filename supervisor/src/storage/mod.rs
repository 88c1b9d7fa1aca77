//! errbotd's persistent storage: JSON values under string keys, in namespaces ("core" for errbotd
//! itself, one per plugin named as the plugin), on SQLite (the default, a file in the data
//! directory) or PostgreSQL (by URL).
//!
//! - [`Store`]: the backend-neutral store (get, set with compare-and-set, delete, keys, whole
//!   namespaces, backup and restore in one transaction).
//! - [`settings`]: the `[storage]` table of errbot.toml and where the store is.
//! - [`service`]: `StorageService`, served to plugins (namespace from the caller's token).
//! - [`admin`]: `StorageAdminService`, served to errbotctl on the control socket.
//! - [`backup`]: the backup document.
//! - [`core`]: errbotd's own state in the "core" namespace (blacklist, plugin configurations,
//!   command history, installed repositories).
//! - [`ctl`]: the errbotctl side (`backup`, `restore`, `storage get|set|merge`).
//! - [`watch`]: the plugin processes that cache their namespace, told of every change made by
//!   another process before that write is acknowledged.
//!
//! Durability: a write returns only once committed: SQLite runs in WAL mode with
//! `synchronous=FULL` (the WAL is synced at each commit), PostgreSQL commits synchronously.
//! Versions come from one counter per store, so a key's version is never reused, even after the
//! key is deleted and written again: compare-and-set cannot be fooled by an A-B-A sequence.

pub mod admin;
pub mod backup;
pub mod core;
pub mod ctl;
mod postgres;
pub mod service;
pub mod settings;
mod sqlite;
pub mod watch;

use std::time::Duration;

pub use settings::Location;

/// The namespace of errbotd's own state. No plugin may be named so.
pub const CORE_NAMESPACE: &str = "core";
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest namespace name, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 255;
/// Largest value, in bytes of JSON text.
pub const MAX_VALUE_BYTES: usize = 16 << 20;

/// A stored value and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The value, as the JSON text that was written.
    pub value: String,
    /// Its version: changes on every write, never reused.
    pub version: u64,
}

/// What a [`Store::set`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// Written; the new version.
    Written(u64),
    /// Not written because the key was not at the expected version; the current entry (`None`
    /// when the key does not exist).
    Conflict(Option<Entry>),
}

/// What a [`Store::delete`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The key existed (at the expected version, if one was given) and is gone; the deletion's
    /// version (from the same counter as writes: greater than every earlier write of the key).
    Deleted(u64),
    /// The key did not exist.
    Missing,
    /// The key exists at another version than the expected one: its current version.
    Conflict(u64),
}

/// How [`Store::write_namespaces`] treats keys that are stored but not in the new documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// They are deleted: each namespace becomes exactly the document.
    Replace,
    /// They are kept.
    Merge,
}

/// Keys written and deleted by [`Store::write_namespaces`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Keys written.
    pub written: u64,
    /// Keys deleted.
    pub deleted: u64,
}

/// One namespace's keys and values (JSON text), in key order.
pub type Namespace = Vec<(String, String)>;

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key is empty, too long or contains NUL.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The namespace name is empty, too long or contains NUL.
    #[error("invalid namespace: {0}")]
    InvalidNamespace(String),
    /// The value is not JSON or too large.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// A restore into a store that holds keys, without force.
    #[error(
        "the store is not empty ({0} keys): restoring would mix two bots' data; restore into an \
         empty data directory, or force it"
    )]
    NotEmpty(u64),
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite refused or failed (errbotd's writer thread).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("database schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store could not be opened.
    #[error("{0}")]
    Open(String),
}

impl From<StorageError> for tonic::Status {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::InvalidKey(_)
            | StorageError::InvalidNamespace(_)
            | StorageError::InvalidValue(_) => tonic::Status::invalid_argument(e.to_string()),
            StorageError::NotEmpty(_) => tonic::Status::failed_precondition(e.to_string()),
            StorageError::Database(sqlx::Error::PoolTimedOut)
            | StorageError::Database(sqlx::Error::Io(_))
            | StorageError::Open(_) => tonic::Status::unavailable(e.to_string()),
            _ => tonic::Status::internal(e.to_string()),
        }
    }
}

/// Checks a key: 1 to [`MAX_KEY_BYTES`] bytes, no NUL.
pub fn check_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(StorageError::InvalidKey("a key cannot be empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StorageError::InvalidKey(format!(
            "a key has at most {MAX_KEY_BYTES} bytes, this one has {}",
            key.len()
        )));
    }
    if key.contains('\0') {
        return Err(StorageError::InvalidKey(
            "a key cannot contain NUL characters".into(),
        ));
    }
    Ok(())
}

/// Checks a namespace name: 1 to [`MAX_NAMESPACE_BYTES`] bytes, no NUL.
pub fn check_namespace(namespace: &str) -> Result<(), StorageError> {
    if namespace.is_empty() || namespace.len() > MAX_NAMESPACE_BYTES || namespace.contains('\0') {
        return Err(StorageError::InvalidNamespace(format!(
            "{namespace:?}: expected 1 to {MAX_NAMESPACE_BYTES} bytes without NUL characters"
        )));
    }
    Ok(())
}

/// Checks a value: a JSON document of at most [`MAX_VALUE_BYTES`] bytes. Returns it without
/// surrounding whitespace (what is stored, so that backups reproduce it byte for byte).
pub fn check_value(value: &str) -> Result<&str, StorageError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StorageError::InvalidValue(format!(
            "a value has at most {MAX_VALUE_BYTES} bytes, this one has {}",
            value.len()
        )));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(value)
        .map_err(|e| StorageError::InvalidValue(format!("not a JSON document: {e}")))?;
    Ok(value.trim_matches([' ', '\t', '\n', '\r']))
}

/// Runs one storage operation of a plugin's or errbotd's, reported to [`crate::telemetry`].
async fn timed<T>(
    op: &'static str,
    work: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, StorageError> {
    let started = std::time::Instant::now();
    let result = work.await;
    crate::telemetry::storage(op, result.is_ok(), started.elapsed());
    result
}

/// The store: one SQLite file or one PostgreSQL database. Cheap to clone (pools are shared).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    description: String,
    watchers: std::sync::Arc<watch::Watchers>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Db),
    Postgres(postgres::Db),
}

/// Runs the same call on whichever backend the store has.
macro_rules! on_backend {
    ($self:ident, $db:ident => $call:expr) => {
        match &$self.backend {
            Backend::Sqlite($db) => $call,
            Backend::Postgres($db) => $call,
        }
    };
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.description)
    }
}

impl Store {
    /// Opens (creating if needed) the store at `location` and brings its schema up to date.
    pub async fn open(location: &Location) -> Result<Self, StorageError> {
        let backend = match location {
            Location::Sqlite(path) => Backend::Sqlite(sqlite::Db::open(path).await?),
            Location::Postgres(url) => Backend::Postgres(postgres::Db::open(url).await?),
        };
        Ok(Self {
            backend,
            description: location.describe(),
            watchers: Default::default(),
        })
    }

    /// The processes caching a namespace of this store.
    pub fn watchers_handle(&self) -> std::sync::Arc<watch::Watchers> {
        self.watchers.clone()
    }

    /// Where the store is, without secrets (for logs and messages).
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Reads one key.
    pub async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>, StorageError> {
        check_namespace(namespace)?;
        check_key(key)?;
        timed("get", async {
            on_backend!(self, db => db.get(namespace, key).await)
        })
        .await
    }

    /// Writes one key: unconditionally (`if_version` `None`), only if the key does not exist
    /// (`Some(0)`), or only if it is at that version.
    pub async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        if_version: Option<u64>,
    ) -> Result<SetOutcome, StorageError> {
        self.set_as(None, namespace, key, value, if_version).await
    }

    /// [`Self::set`] by the process `writer` (a pid): every other process watching the namespace
    /// has dropped the key's old value when this returns.
    pub async fn set_as(
        &self,
        writer: Option<i32>,
        namespace: &str,
        key: &str,
        value: &str,
        if_version: Option<u64>,
    ) -> Result<SetOutcome, StorageError> {
        check_namespace(namespace)?;
        check_key(key)?;
        let value = check_value(value)?;
        let outcome = timed("set", async {
            on_backend!(self, db => db.set(namespace, key, value, if_version).await)
        })
        .await?;
        if let SetOutcome::Written(version) = outcome {
            self.key_changed(writer, namespace, key, version).await;
        }
        Ok(outcome)
    }

    /// Deletes one key, unconditionally or only if it is at `if_version`.
    pub async fn delete(
        &self,
        namespace: &str,
        key: &str,
        if_version: Option<u64>,
    ) -> Result<DeleteOutcome, StorageError> {
        self.delete_as(None, namespace, key, if_version).await
    }

    /// [`Self::delete`] by the process holding `writer`, as [`Self::set_as`].
    pub async fn delete_as(
        &self,
        writer: Option<i32>,
        namespace: &str,
        key: &str,
        if_version: Option<u64>,
    ) -> Result<DeleteOutcome, StorageError> {
        check_namespace(namespace)?;
        check_key(key)?;
        let outcome = timed("delete", async {
            on_backend!(self, db => db.delete(namespace, key, if_version).await)
        })
        .await?;
        if let DeleteOutcome::Deleted(version) = outcome {
            self.key_changed(writer, namespace, key, version).await;
        }
        Ok(outcome)
    }

    /// Hands a committed change of one key to the namespace's other watchers (see [`watch`]).
    async fn key_changed(&self, writer: Option<i32>, namespace: &str, key: &str, version: u64) {
        let change = watch::Change::Key {
            key: key.to_owned(),
            version,
        };
        self.watchers.changed(namespace, writer, change).await;
    }

    /// The keys of a namespace starting with `prefix`, in byte order.
    pub async fn keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        check_namespace(namespace)?;
        timed("keys", async {
            on_backend!(self, db => db.keys(namespace, prefix).await)
        })
        .await
    }

    /// Every key and value of a namespace, in key order.
    pub async fn namespace(&self, namespace: &str) -> Result<Namespace, StorageError> {
        check_namespace(namespace)?;
        timed("namespace", async {
            on_backend!(self, db => db.namespace(namespace).await)
        })
        .await
    }

    /// Every namespace with its keys and values, in name and key order.
    pub async fn dump(&self) -> Result<Vec<(String, Namespace)>, StorageError> {
        let rows: Vec<(String, String, String)> = on_backend!(self, db => db.all().await)?;
        let mut out: Vec<(String, Namespace)> = Vec::new();
        for (namespace, key, value) in rows {
            match out.last_mut() {
                Some((ns, entries)) if *ns == namespace => entries.push((key, value)),
                _ => out.push((namespace, vec![(key, value)])),
            }
        }
        Ok(out)
    }

    /// Number of keys in every namespace.
    pub async fn count(&self) -> Result<u64, StorageError> {
        on_backend!(self, db => db.count().await)
    }

    /// Writes whole namespaces in one transaction (Errbot's --storage-set and --storage-merge,
    /// and restores). With `require_empty`, nothing is written when the store holds any key
    /// ([`StorageError::NotEmpty`]); the check and the writes are one transaction.
    pub async fn write_namespaces(
        &self,
        documents: &[(String, Namespace)],
        mode: WriteMode,
        require_empty: bool,
    ) -> Result<WriteCounts, StorageError> {
        let mut checked: Vec<(String, Namespace)> = Vec::with_capacity(documents.len());
        for (namespace, entries) in documents {
            check_namespace(namespace)?;
            let mut values = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                check_key(key)?;
                values.push((key.clone(), check_value(value)?.to_owned()));
            }
            checked.push((namespace.clone(), values));
        }
        let counts =
            on_backend!(self, db => db.write_namespaces(&checked, mode, require_empty).await)?;
        for (namespace, _) in &checked {
            let rewritten = watch::Change::Rewritten;
            self.watchers.changed(namespace, None, rewritten).await;
        }
        Ok(counts)
    }

    /// Reads, transforms and writes back one key with compare-and-set, retrying when another
    /// writer got in between. `change` receives the current value (`None`: absent) and returns
    /// the new one (`None`: leave as it is). Returns the value in force afterwards.
    pub async fn update<F>(
        &self,
        namespace: &str,
        key: &str,
        mut change: F,
    ) -> Result<Option<String>, StorageError>
    where
        F: FnMut(Option<&str>) -> Option<String>,
    {
        let mut current = self.get(namespace, key).await?;
        for attempt in 0u32.. {
            let Some(new) = change(current.as_ref().map(|e| e.value.as_str())) else {
                return Ok(current.map(|e| e.value));
            };
            let expected = current.as_ref().map_or(0, |e| e.version);
            match self.set(namespace, key, &new, Some(expected)).await? {
                SetOutcome::Written(_) => return Ok(Some(new)),
                SetOutcome::Conflict(now) => current = now,
            }
            if attempt >= 8 {
                // Heavy contention: let the other writers through.
                tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(50)))).await;
            }
        }
        unreachable!("the retry loop only ends by returning")
    }

    /// Closes the connections (waits for running statements).
    pub async fn close(&self) {
        on_backend!(self, db => db.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_namespaces_and_values_are_checked() {
        assert!(check_key("a").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("a\0b").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(check_namespace("core").is_ok());
        assert!(check_namespace("").is_err());
        for ok in ["1", "\"s\"", "null", "[1, 2]", " {\"a\": {\"b\": true}} "] {
            assert!(check_value(ok).is_ok(), "{ok}");
        }
        for bad in ["", "{", "01", "{'a': 1}", "1 2", "NaN"] {
            assert!(check_value(bad).is_err(), "{bad}");
        }
    }
}
