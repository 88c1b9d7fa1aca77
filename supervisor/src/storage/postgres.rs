//! The PostgreSQL backend.
//!
//! Single-key writes are single statements (atomic on their own under READ COMMITTED: a
//! conditional UPDATE that waited for a concurrent writer re-checks its `version = $n` condition
//! on the row that writer left). Versions come from the sequence `storage_version`. Whole
//! namespace writes and restores are one transaction that locks the table against other writers.

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{DeleteOutcome, Entry, Namespace, SetOutcome, StorageError, WriteCounts, WriteMode};

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "key-value storage".into(),
        MigrationType::Simple,
        include_str!("../../migrations/postgres/0001_storage.sql").into_sql_str(),
        false,
    )])
}

/// Writes a key whatever its version. An update takes its version once it holds the row, after
/// the writer before it committed: the versions of one key follow the order of its writes.
const UPSERT: &str = "INSERT INTO storage_entries (namespace, key, value, version, updated_at) \
     VALUES ($1, $2, $3, nextval('storage_version'), now()) \
     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, \
     version = nextval('storage_version'), updated_at = excluded.updated_at RETURNING version";
/// Writes a key only if it does not exist.
const INSERT_NEW: &str = "INSERT INTO storage_entries (namespace, key, value, version, updated_at) \
     VALUES ($1, $2, $3, nextval('storage_version'), now()) \
     ON CONFLICT (namespace, key) DO NOTHING RETURNING version";
/// Writes a key only if it is at version $4.
const UPDATE_IF: &str = "UPDATE storage_entries SET value = $3, \
     version = nextval('storage_version'), updated_at = now() \
     WHERE namespace = $1 AND key = $2 AND version = $4 RETURNING version";

/// An open PostgreSQL store.
#[derive(Clone)]
pub(super) struct Db {
    pool: PgPool,
}

fn version_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Db {
    pub(super) async fn open(url: &str) -> Result<Self, StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(|e| {
                StorageError::Open(format!(
                    "cannot connect to PostgreSQL at {}: {e}",
                    super::settings::redact(url)
                ))
            })?;
        migrator().run(&pool).await?;
        Ok(Self { pool })
    }

    pub(super) async fn get(&self, ns: &str, key: &str) -> Result<Option<Entry>, StorageError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT value, version FROM storage_entries WHERE namespace = $1 AND key = $2",
        )
        .bind(ns)
        .bind(key)
        .fetch_optional(&self.pool)
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
        let query = match if_version {
            None => sqlx::query_scalar(UPSERT).bind(ns).bind(key).bind(value),
            Some(0) => sqlx::query_scalar(INSERT_NEW)
                .bind(ns)
                .bind(key)
                .bind(value),
            Some(expected) => sqlx::query_scalar(UPDATE_IF)
                .bind(ns)
                .bind(key)
                .bind(value)
                .bind(i64::try_from(expected).unwrap_or(-1)),
        };
        let version: Option<i64> = query.fetch_optional(&self.pool).await?;
        match version {
            Some(v) => Ok(SetOutcome::Written(version_of(v))),
            None => Ok(SetOutcome::Conflict(self.get(ns, key).await?)),
        }
    }

    pub(super) async fn delete(
        &self,
        ns: &str,
        key: &str,
        if_version: Option<u64>,
    ) -> Result<DeleteOutcome, StorageError> {
        let deleted: Option<i64> = match if_version {
            None => sqlx::query_scalar(
                "DELETE FROM storage_entries WHERE namespace = $1 AND key = $2 \
                 RETURNING nextval('storage_version')",
            )
            .bind(ns)
            .bind(key),
            Some(expected) => sqlx::query_scalar(
                "DELETE FROM storage_entries WHERE namespace = $1 AND key = $2 AND version = $3 \
                 RETURNING nextval('storage_version')",
            )
            .bind(ns)
            .bind(key)
            .bind(i64::try_from(expected).unwrap_or(-1)),
        }
        .fetch_optional(&self.pool)
        .await?;
        if let Some(version) = deleted {
            return Ok(DeleteOutcome::Deleted(version_of(version)));
        }
        Ok(match self.get(ns, key).await? {
            Some(current) if if_version.is_some() => DeleteOutcome::Conflict(current.version),
            // Deleted by someone else in between: gone all the same.
            _ => DeleteOutcome::Missing,
        })
    }

    pub(super) async fn keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        Ok(sqlx::query_scalar(
            "SELECT key FROM storage_entries WHERE namespace = $1 AND starts_with(key, $2) \
             ORDER BY key",
        )
        .bind(ns)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(super) async fn namespace(&self, ns: &str) -> Result<Namespace, StorageError> {
        Ok(sqlx::query_as(
            "SELECT key, value FROM storage_entries WHERE namespace = $1 ORDER BY key",
        )
        .bind(ns)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(super) async fn all(&self) -> Result<Vec<(String, String, String)>, StorageError> {
        // One statement: a consistent snapshot of every namespace.
        Ok(sqlx::query_as(
            "SELECT namespace, key, value FROM storage_entries ORDER BY namespace, key",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub(super) async fn count(&self) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM storage_entries")
            .fetch_one(&self.pool)
            .await?;
        Ok(version_of(n))
    }

    pub(super) async fn write_namespaces(
        &self,
        documents: &[(String, Namespace)],
        mode: WriteMode,
        require_empty: bool,
    ) -> Result<WriteCounts, StorageError> {
        let mut tx = self.pool.begin().await?;
        // Other writers wait until this transaction ends; readers go on.
        sqlx::query("LOCK TABLE storage_entries IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        if require_empty {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM storage_entries")
                .fetch_one(&mut *tx)
                .await?;
            if n > 0 {
                tx.rollback().await?;
                return Err(StorageError::NotEmpty(version_of(n)));
            }
        }
        let mut counts = WriteCounts::default();
        for (ns, entries) in documents {
            if mode == WriteMode::Replace {
                let removed: Vec<String> = sqlx::query_scalar(
                    "DELETE FROM storage_entries WHERE namespace = $1 RETURNING key",
                )
                .bind(ns)
                .fetch_all(&mut *tx)
                .await?;
                let kept: BTreeSet<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
                counts.deleted += removed
                    .iter()
                    .filter(|k| !kept.contains(k.as_str()))
                    .count() as u64;
            }
            for (key, value) in entries {
                sqlx::query(UPSERT)
                    .bind(ns)
                    .bind(key)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                counts.written += 1;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}
