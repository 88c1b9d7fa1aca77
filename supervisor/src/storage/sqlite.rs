//! The SQLite backend: one file, WAL journal, `synchronous=FULL`.
//!
//! Single-key writes go to one writer thread that owns a SQLite connection of its own and commits
//! every write waiting at that moment in one transaction (group commit: one WAL sync for many
//! concurrent writes), acknowledging each after the commit. The thread calls SQLite directly
//! (rusqlite, on the same bundled SQLite as sqlx): a batch costs no hand-off between threads per
//! statement, only the commit's sync. Whole-namespace writes (restores, errbotctl) go through a
//! sqlx pool of one connection. Every write transaction is `BEGIN IMMEDIATE`, so another writer
//! (the other connection, errbotctl while errbotd is stopped, a second errbotd by mistake) waits
//! on the busy timeout instead of failing. Reads use their own pool and see every committed write.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{mpsc, oneshot};

use super::{DeleteOutcome, Entry, Namespace, SetOutcome, StorageError, WriteCounts, WriteMode};

/// The time of a write, as stored in `updated_at` (UTC, milliseconds).
macro_rules! now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}

/// The statements of single-key writes, also used by whole-namespace writes. `?N` placeholders:
/// rusqlite (the writer thread) and sqlx both bind them by number.
mod writer_sql {
    /// Writes a key whatever its version.
    pub const UPSERT: &str = concat!(
        "INSERT INTO storage_entries (namespace, key, value, version, updated_at) ",
        "VALUES (?1, ?2, ?3, ?4, ",
        now!(),
        ") ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, ",
        "version = excluded.version, updated_at = excluded.updated_at"
    );
    /// Writes a key only if it does not exist.
    pub const INSERT_NEW: &str = concat!(
        "INSERT INTO storage_entries (namespace, key, value, version, updated_at) ",
        "VALUES (?1, ?2, ?3, ?4, ",
        now!(),
        ") ON CONFLICT (namespace, key) DO NOTHING"
    );
    /// Writes a key only if it is at version ?5.
    pub const UPDATE_IF: &str = concat!(
        "UPDATE storage_entries SET value = ?3, version = ?4, updated_at = ",
        now!(),
        " WHERE namespace = ?1 AND key = ?2 AND version = ?5"
    );
    /// Reads a key.
    pub const CURRENT: &str =
        "SELECT value, version FROM storage_entries WHERE namespace = ?1 AND key = ?2";
    /// Deletes a key.
    pub const DELETE: &str = "DELETE FROM storage_entries WHERE namespace = ?1 AND key = ?2";
    /// Takes ?1 numbers from the version counter; the last one.
    pub const TAKE_VERSIONS: &str =
        "UPDATE storage_meta SET value = value + ?1 WHERE name = 'version' RETURNING value";
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "key-value storage".into(),
        MigrationType::Simple,
        include_str!("../../migrations/sqlite/0001_storage.sql").into_sql_str(),
        false,
    )])
}

/// Most writes committed together by the writer thread.
const MAX_BATCH: usize = 256;

/// An open SQLite store.
#[derive(Clone)]
pub(super) struct Db {
    writer: SqlitePool,
    reader: SqlitePool,
    jobs: mpsc::Sender<Job>,
}

/// One write of a key.
enum Op {
    Set {
        ns: String,
        key: String,
        value: String,
        if_version: Option<u64>,
    },
    Delete {
        ns: String,
        key: String,
        if_version: Option<u64>,
    },
}

/// What a write did.
enum Outcome {
    Set(SetOutcome),
    Delete(DeleteOutcome),
}

/// A write waiting for the writer task, and where its outcome goes once committed.
struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Outcome, StorageError>>,
}

/// The writer thread: commits the writes waiting in `jobs` together, in one transaction (one
/// sync of the WAL for all of them: group commit), in the order they came. Each write is
/// acknowledged only after that commit. When a batch fails, its writes are retried one by one,
/// so that one bad write cannot fail the others. Ends when every sender is gone.
fn commit_queue(mut conn: rusqlite::Connection, mut jobs: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::new();
    while let Some(job) = jobs.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let ops: Vec<&Op> = batch.iter().map(|j| &j.op).collect();
        match apply(&mut conn, &ops) {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
            Err(_) => {
                for job in batch.drain(..) {
                    let result = apply(&mut conn, &[&job.op]).and_then(|mut o| {
                        o.pop()
                            .ok_or_else(|| StorageError::Open("no outcome".into()))
                    });
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

/// Runs `ops` in one `BEGIN IMMEDIATE` transaction and commits. The versions of the batch are
/// taken at once, in the order of the ops: there is one writer, so versions follow the order of
/// commits.
fn apply(conn: &mut rusqlite::Connection, ops: &[&Op]) -> Result<Vec<Outcome>, StorageError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let count = i64::try_from(ops.len()).unwrap_or(i64::MAX);
    let last: i64 = tx
        .prepare_cached(writer_sql::TAKE_VERSIONS)?
        .query_row([count], |row| row.get(0))?;
    let mut outcomes = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let version = last - count + 1 + i64::try_from(i).unwrap_or(0);
        outcomes.push(match op {
            Op::Set {
                ns,
                key,
                value,
                if_version,
            } => Outcome::Set(set_in(&tx, ns, key, value, *if_version, version)?),
            Op::Delete {
                ns,
                key,
                if_version,
            } => Outcome::Delete(delete_in(&tx, ns, key, *if_version, version)?),
        });
    }
    tx.commit()?;
    Ok(outcomes)
}

fn current_in(
    tx: &rusqlite::Transaction<'_>,
    ns: &str,
    key: &str,
) -> Result<Option<Entry>, StorageError> {
    use rusqlite::OptionalExtension;
    let row: Option<(String, i64)> = tx
        .prepare_cached(writer_sql::CURRENT)?
        .query_row((ns, key), |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(row.map(|(value, version)| Entry {
        value,
        version: version_of(version),
    }))
}

fn set_in(
    tx: &rusqlite::Transaction<'_>,
    ns: &str,
    key: &str,
    value: &str,
    if_version: Option<u64>,
    version: i64,
) -> Result<SetOutcome, StorageError> {
    let changed = match if_version {
        None => tx
            .prepare_cached(writer_sql::UPSERT)?
            .execute((ns, key, value, version))?,
        Some(0) => tx
            .prepare_cached(writer_sql::INSERT_NEW)?
            .execute((ns, key, value, version))?,
        Some(expected) => tx.prepare_cached(writer_sql::UPDATE_IF)?.execute((
            ns,
            key,
            value,
            version,
            i64::try_from(expected).unwrap_or(-1),
        ))?,
    };
    if changed > 0 {
        return Ok(SetOutcome::Written(version_of(version)));
    }
    Ok(SetOutcome::Conflict(current_in(tx, ns, key)?))
}

fn delete_in(
    tx: &rusqlite::Transaction<'_>,
    ns: &str,
    key: &str,
    if_version: Option<u64>,
    version: i64,
) -> Result<DeleteOutcome, StorageError> {
    let current = current_in(tx, ns, key)?;
    Ok(match (current, if_version) {
        (None, _) => DeleteOutcome::Missing,
        (Some(e), Some(expected)) if e.version != expected => DeleteOutcome::Conflict(e.version),
        (Some(_), _) => {
            tx.prepare_cached(writer_sql::DELETE)?.execute((ns, key))?;
            DeleteOutcome::Deleted(version_of(version))
        }
    })
}

/// The writer thread's connection: the same settings as sqlx's connections (WAL is a property
/// of the file, set when sqlx opened it; the rest is per connection).
fn open_writer(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
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
        // No ping before each use (sqlx's default): a connection to a local file does not go
        // stale, and the ping is a round trip to the connection's thread per query.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        migrator().run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        let writer_thread_conn = open_writer(path).map_err(|e| {
            StorageError::Open(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        })?;
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || commit_queue(writer_thread_conn, queue))
            .map_err(|e| StorageError::Open(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self {
            writer,
            reader,
            jobs,
        })
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
        let op = Op::Set {
            ns: ns.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            if_version,
        };
        match self.write(op).await? {
            Outcome::Set(outcome) => Ok(outcome),
            Outcome::Delete(_) => Err(StorageError::Open(
                "the SQLite writer mixed up answers".into(),
            )),
        }
    }

    pub(super) async fn delete(
        &self,
        ns: &str,
        key: &str,
        if_version: Option<u64>,
    ) -> Result<DeleteOutcome, StorageError> {
        let op = Op::Delete {
            ns: ns.to_owned(),
            key: key.to_owned(),
            if_version,
        };
        match self.write(op).await? {
            Outcome::Delete(outcome) => Ok(outcome),
            Outcome::Set(_) => Err(StorageError::Open(
                "the SQLite writer mixed up answers".into(),
            )),
        }
    }

    /// Hands one write to the writer thread and waits until it is committed.
    async fn write(&self, op: Op) -> Result<Outcome, StorageError> {
        let stopped = || StorageError::Open("the SQLite writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { op, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
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
                sqlx::query(writer_sql::UPSERT)
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
