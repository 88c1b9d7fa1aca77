//! The SQLite backend: one file, WAL journal, `synchronous=FULL`.
//!
//! Writes go through a pool of one connection (SQLite has one writer at a time anyway, and this
//! way errbotd's writers queue in the pool instead of spinning on SQLITE_BUSY); each write is a
//! `BEGIN IMMEDIATE` transaction, so another process writing the same file (errbotctl while
//! errbotd is stopped, or a second errbotd by mistake) waits on the busy timeout instead of
//! failing. Reads use their own pool and see every committed write.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{DeleteOutcome, Entry, Namespace, SetOutcome, StorageError, WriteCounts, WriteMode};

/// The time of a write, as stored in `updated_at` (UTC, milliseconds).
macro_rules! now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}

/// Writes a key whatever its version.
const UPSERT: &str = concat!(
    "INSERT INTO storage_entries (namespace, key, value, version, updated_at) ",
    "VALUES ($1, $2, $3, $4, ",
    now!(),
    ") ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, ",
    "version = excluded.version, updated_at = excluded.updated_at"
);
/// Writes a key only if it does not exist.
const INSERT_NEW: &str = concat!(
    "INSERT INTO storage_entries (namespace, key, value, version, updated_at) ",
    "VALUES ($1, $2, $3, $4, ",
    now!(),
    ") ON CONFLICT (namespace, key) DO NOTHING"
);
/// Writes a key only if it is at version $5.
const UPDATE_IF: &str = concat!(
    "UPDATE storage_entries SET value = $3, version = $4, updated_at = ",
    now!(),
    " WHERE namespace = $1 AND key = $2 AND version = $5"
);

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "key-value storage".into(),
        MigrationType::Simple,
        include_str!("../../migrations/sqlite/0001_storage.sql").into_sql_str(),
        false,
    )])
}

/// An open SQLite store.
#[derive(Clone)]
pub(super) struct Db {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn version_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Db {
    pub(super) async fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            // Private, like errbotd's data directory: the store holds configurations.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    StorageError::Open(format!("cannot create directory {}: {e}", dir.display()))
                })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let open_error = |e: sqlx::Error| {
            StorageError::Open(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        };
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        migrator().run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        Ok(Self { writer, reader })
    }

    pub(super) async fn get(&self, ns: &str, key: &str) -> Result<Option<Entry>, StorageError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT value, version FROM storage_entries WHERE namespace = $1 AND key = $2",
        )
        .bind(ns)
        .bind(key)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|(value, version)| Entry {
            value,
            version: version_of(version),
        }))
    }

    pub(super) async fn set(
        &self,
        ns: &str,
        key: &str,
        value: &str,
        if_version: Option<u64>,
    ) -> Result<SetOutcome, StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let version: i64 = sqlx::query_scalar(
            "UPDATE storage_meta SET value = value + 1 WHERE name = 'version' RETURNING value",
        )
        .fetch_one(&mut *tx)
        .await?;
        let query = match if_version {
            None => sqlx::query(UPSERT)
                .bind(ns)
                .bind(key)
                .bind(value)
                .bind(version),
            Some(0) => sqlx::query(INSERT_NEW)
                .bind(ns)
                .bind(key)
                .bind(value)
                .bind(version),
            Some(expected) => sqlx::query(UPDATE_IF)
                .bind(ns)
                .bind(key)
                .bind(value)
                .bind(version)
                .bind(i64::try_from(expected).unwrap_or(-1)),
        };
        let written = query.execute(&mut *tx).await?.rows_affected() > 0;
        if written {
            tx.commit().await?;
            return Ok(SetOutcome::Written(version_of(version)));
        }
        let current: Option<(String, i64)> = sqlx::query_as(
            "SELECT value, version FROM storage_entries WHERE namespace = $1 AND key = $2",
        )
        .bind(ns)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        tx.rollback().await?;
        Ok(SetOutcome::Conflict(current.map(|(value, version)| {
            Entry {
                value,
                version: version_of(version),
            }
        })))
    }

    pub(super) async fn delete(
        &self,
        ns: &str,
        key: &str,
        if_version: Option<u64>,
    ) -> Result<DeleteOutcome, StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM storage_entries WHERE namespace = $1 AND key = $2",
        )
        .bind(ns)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match (current, if_version) {
            (None, _) => DeleteOutcome::Missing,
            (Some(v), Some(expected)) if version_of(v) != expected => {
                DeleteOutcome::Conflict(version_of(v))
            }
            (Some(_), _) => {
                sqlx::query("DELETE FROM storage_entries WHERE namespace = $1 AND key = $2")
                    .bind(ns)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                DeleteOutcome::Deleted
            }
        };
        if outcome == DeleteOutcome::Deleted {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    pub(super) async fn keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        // substr and length count characters alike, so this is a prefix test on the text.
        Ok(sqlx::query_scalar(
            "SELECT key FROM storage_entries WHERE namespace = $1 \
             AND substr(key, 1, length($2)) = $2 ORDER BY key",
        )
        .bind(ns)
        .bind(prefix)
        .fetch_all(&self.reader)
        .await?)
    }

    pub(super) async fn namespace(&self, ns: &str) -> Result<Namespace, StorageError> {
        Ok(sqlx::query_as(
            "SELECT key, value FROM storage_entries WHERE namespace = $1 ORDER BY key",
        )
        .bind(ns)
        .fetch_all(&self.reader)
        .await?)
    }

    pub(super) async fn all(&self) -> Result<Vec<(String, String, String)>, StorageError> {
        // One read transaction: a consistent snapshot of every namespace.
        let mut tx = self.reader.begin().await?;
        let rows = sqlx::query_as(
            "SELECT namespace, key, value FROM storage_entries ORDER BY namespace, key",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    pub(super) async fn count(&self) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM storage_entries")
            .fetch_one(&self.reader)
            .await?;
        Ok(version_of(n))
    }

    pub(super) async fn write_namespaces(
        &self,
        documents: &[(String, Namespace)],
        mode: WriteMode,
        require_empty: bool,
    ) -> Result<WriteCounts, StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        if require_empty {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM storage_entries")
                .fetch_one(&mut *tx)
                .await?;
            if n > 0 {
                tx.rollback().await?;
                return Err(StorageError::NotEmpty(version_of(n)));
            }
        }
        let total: i64 = documents.iter().map(|(_, e)| e.len() as i64).sum();
        let last: i64 = sqlx::query_scalar(
            "UPDATE storage_meta SET value = value + $1 WHERE name = 'version' RETURNING value",
        )
        .bind(total)
        .fetch_one(&mut *tx)
        .await?;
        let mut next = last - total + 1;
        let mut counts = WriteCounts::default();
        for (ns, entries) in documents {
            if mode == WriteMode::Replace {
                let stored: Vec<String> =
                    sqlx::query_scalar("SELECT key FROM storage_entries WHERE namespace = $1")
                        .bind(ns)
                        .fetch_all(&mut *tx)
                        .await?;
                let kept: BTreeSet<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
                counts.deleted +=
                    stored.iter().filter(|k| !kept.contains(k.as_str())).count() as u64;
                sqlx::query("DELETE FROM storage_entries WHERE namespace = $1")
                    .bind(ns)
                    .execute(&mut *tx)
                    .await?;
            }
            for (key, value) in entries {
                sqlx::query(UPSERT)
                    .bind(ns)
                    .bind(key)
                    .bind(value)
                    .bind(next)
                    .execute(&mut *tx)
                    .await?;
                next += 1;
                counts.written += 1;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    pub(super) async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
