//! The errbotctl side of storage: `errbotctl backup [FILE]`, `errbotctl restore FILE [--force]`
//! and `errbotctl storage get|set|merge NAMESPACE` (Errbot's `--storage-get/-set/-merge`).
//!
//! When errbotd runs, errbotctl asks it over the control socket (`StorageAdminService`), so that
//! errbotd's cached state follows. When it does not (no socket, or a stale one left by a crash),
//! errbotctl opens the store of the configuration itself: provisioning and restores work before
//! the first start, as with Errbot.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use errbot_proto::v1::storage_admin_service_client::StorageAdminServiceClient;
use errbot_proto::v1::{BackupRequest, GetNamespaceRequest, NamespaceDocument, RestoreRequest};
use tonic::transport::Channel;

use super::backup::{self, Summary};
use super::{StorageError, Store, WriteCounts, WriteMode, admin, settings};
use crate::config::Config;

/// A storage subcommand of errbotctl.
#[derive(Clone, Debug)]
pub enum Action {
    /// Write a backup of every namespace to the file, or to stdout.
    Backup(Option<PathBuf>),
    /// Restore a backup file (`-`: stdin), even into a non-empty store when forced.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Restore into a store that holds keys.
        force: bool,
    },
    /// Print a namespace as a JSON object.
    Get(String),
    /// Replace a namespace with the JSON object read from stdin.
    Set(String),
    /// Write the keys of the JSON object read from stdin into a namespace.
    Merge(String),
}

/// Why a storage subcommand failed, with errbotctl's exit code.
#[derive(Debug)]
pub struct Failure {
    /// What to print on stderr.
    pub message: String,
    /// 1: the request failed; 2: bad input or configuration; 3: errbotd is not running and the
    /// store cannot be opened directly.
    pub exit_code: u8,
}

impl Failure {
    fn request(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 1,
        }
    }
    fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 2,
        }
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::InvalidValue(_)
            | StorageError::InvalidKey(_)
            | StorageError::InvalidNamespace(_) => Self::usage(e.to_string()),
            _ => Self::request(e.to_string()),
        }
    }
}

/// How errbotctl reaches the store.
pub struct Reach<'a> {
    /// errbotd's control socket.
    pub socket: &'a Path,
    /// The configuration, to open the store directly when errbotd is not running (`None` when
    /// only `--socket` was given).
    pub config: Option<&'a Config>,
}

impl Reach<'_> {
    async fn direct(&self, writes: bool) -> Result<Store, Failure> {
        let Some(config) = self.config else {
            return Err(Failure {
                message: format!(
                    "errbotd is not running (nothing answers on {}), and without --config \
                     errbotctl cannot open the store itself",
                    self.socket.display()
                ),
                exit_code: 3,
            });
        };
        let location = settings::location(config).map_err(|e| Failure::usage(e.to_string()))?;
        if let settings::Location::Sqlite(path) = &location
            && !writes
            && !path.exists()
        {
            return Err(Failure::request(format!(
                "nothing is stored yet: {} does not exist (and errbotd is not running)",
                path.display()
            )));
        }
        Ok(Store::open(&location).await?)
    }

    fn daemon(&self) -> Option<StorageAdminServiceClient<Channel>> {
        if !self.socket.exists() {
            return None;
        }
        let address = errbot_proto::transport::Address::unix_uri(self.socket);
        let channel = errbot_proto::transport::channel(&address).ok()?;
        Some(StorageAdminServiceClient::new(channel))
    }
}

fn status_failure(s: tonic::Status) -> Failure {
    match s.code() {
        tonic::Code::InvalidArgument => Failure::usage(s.message().to_owned()),
        _ => Failure::request(s.message().to_owned()),
    }
}

/// Runs `action`, reading stdin and writing stdout as it needs; returns the line to print on
/// stderr when it succeeded.
pub async fn run(
    action: &Action,
    reach: &Reach<'_>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<String, Failure> {
    // Input first: a bad document fails before anything is contacted.
    let input = match action {
        Action::Restore { file, .. } => Some(read_input(Some(file), stdin)?),
        Action::Set(_) | Action::Merge(_) => Some(read_input(None, stdin)?),
        Action::Backup(_) | Action::Get(_) => None,
    };
    let input = input.as_deref().unwrap_or_default();
    match action {
        Action::Restore { .. } => drop(backup::decode(input)?),
        Action::Set(_) | Action::Merge(_) => drop(admin::namespace_from_json(input)?),
        Action::Backup(_) | Action::Get(_) => {}
    }
    if let Some(client) = reach.daemon() {
        match on_daemon(action, client, input, stdout).await {
            Err(s) if s.code() == tonic::Code::Unavailable => {
                tracing::debug!(
                    "errbotd does not answer ({}); opening the store",
                    s.message()
                );
            }
            Err(s) => return Err(status_failure(s)),
            Ok(Ok(done)) => return Ok(done),
            Ok(Err(f)) => return Err(f),
        }
    }
    let writes = !matches!(action, Action::Backup(_) | Action::Get(_));
    let store = reach.direct(writes).await?;
    let result = on_store(action, &store, input, stdout).await;
    store.close().await;
    result
}

fn read_input(file: Option<&PathBuf>, stdin: &mut dyn Read) -> Result<String, Failure> {
    let mut text = String::new();
    match file {
        Some(path) if path.as_os_str() != "-" => {
            text = std::fs::read_to_string(path)
                .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        }
        _ => {
            stdin
                .read_to_string(&mut text)
                .map_err(|e| Failure::usage(format!("reading stdin: {e}")))?;
        }
    }
    Ok(text)
}

fn emit(stdout: &mut dyn Write, text: &str) -> Result<(), Failure> {
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                stdout.write_all(b"\n")
            }
        })
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::request(format!("writing stdout: {e}")))
}

/// Writes `text` to `path` through a temporary file and a rename (mode 0600: backups hold
/// plugin configurations, which may be secrets).
fn write_file(path: &Path, text: &str) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or("backup".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Failure::request(format!("{}: {e}", path.display())));
    }
    Ok(())
}

fn backup_done(
    file: &Option<PathBuf>,
    text: &str,
    s: Summary,
    stdout: &mut dyn Write,
) -> Result<String, Failure> {
    match file {
        Some(path) => {
            write_file(path, text)?;
            Ok(format!(
                "Backup of {} namespaces ({} keys) written to {}",
                s.namespaces,
                s.keys,
                path.display()
            ))
        }
        None => {
            emit(stdout, text)?;
            Ok(format!(
                "Backup of {} namespaces ({} keys) written",
                s.namespaces, s.keys
            ))
        }
    }
}

fn written(namespace: &str, c: WriteCounts) -> String {
    format!(
        "namespace {namespace}: {} keys written, {} deleted",
        c.written, c.deleted
    )
}

/// Through errbotd. The outer error is the RPC's (so that an unavailable errbotd can be told
/// apart), the inner one the command's own.
async fn on_daemon(
    action: &Action,
    mut client: StorageAdminServiceClient<Channel>,
    input: &str,
    stdout: &mut dyn Write,
) -> Result<Result<String, Failure>, tonic::Status> {
    Ok(match action {
        Action::Backup(file) => {
            let r = client.backup(BackupRequest {}).await?.into_inner();
            let summary = Summary {
                namespaces: r.namespaces,
                keys: r.keys,
            };
            backup_done(file, &r.backup_json, summary, stdout)
        }
        Action::Restore { force, .. } => {
            let r = client
                .restore(RestoreRequest {
                    backup_json: input.to_owned(),
                    force: *force,
                })
                .await?
                .into_inner();
            Ok(format!(
                "Restored {} namespaces ({} keys). Restart errbotd so that running plugins \
                 get the restored configurations and blacklist.",
                r.namespaces, r.keys
            ))
        }
        Action::Get(namespace) => {
            let r = client
                .get_namespace(GetNamespaceRequest {
                    namespace: namespace.clone(),
                })
                .await?
                .into_inner();
            emit(stdout, &r.object_json).map(|()| String::new())
        }
        Action::Set(namespace) | Action::Merge(namespace) => {
            let doc = NamespaceDocument {
                namespace: namespace.clone(),
                object_json: input.to_owned(),
            };
            let r = if matches!(action, Action::Set(_)) {
                client.set_namespace(doc).await?
            } else {
                client.merge_namespace(doc).await?
            }
            .into_inner();
            Ok(written(
                namespace,
                WriteCounts {
                    written: r.written,
                    deleted: r.deleted,
                },
            ))
        }
    })
}

/// Directly on the store.
async fn on_store(
    action: &Action,
    store: &Store,
    input: &str,
    stdout: &mut dyn Write,
) -> Result<String, Failure> {
    match action {
        Action::Backup(file) => {
            let (text, summary) = backup::backup(store).await?;
            backup_done(file, &text, summary, stdout)
        }
        Action::Restore { force, .. } => {
            let s = backup::restore(store, input, *force).await?;
            Ok(format!(
                "Restored {} namespaces ({} keys) into {}",
                s.namespaces,
                s.keys,
                store.describe()
            ))
        }
        Action::Get(namespace) => {
            let entries = store.namespace(namespace).await?;
            emit(stdout, &admin::namespace_to_json(&entries)?).map(|()| String::new())
        }
        Action::Set(namespace) => {
            let c = admin::write_namespace(store, namespace, input, WriteMode::Replace).await?;
            Ok(written(namespace, c))
        }
        Action::Merge(namespace) => {
            let c = admin::write_namespace(store, namespace, input, WriteMode::Merge).await?;
            Ok(written(namespace, c))
        }
    }
}

/// Runs `action` on the process's stdin and stdout, prints the outcome on stderr, and returns
/// errbotctl's exit code.
pub async fn main(action: &Action, reach: &Reach<'_>) -> std::process::ExitCode {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    match run(action, reach, &mut stdin, &mut stdout).await {
        Ok(done) => {
            if !done.is_empty() {
                eprintln!("{done}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("errbotctl: {}", f.message);
            std::process::ExitCode::from(f.exit_code)
        }
    }
}
