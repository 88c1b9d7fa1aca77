//! The plugin's persistent storage, through errbotd's `StorageService`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use errbot_proto::v1;
use errbot_proto::v1::storage_service_client::StorageServiceClient;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::bot::Token;
use crate::cache::{Cache, Lookup};

/// How many times [`Storage::update`] retries when other writers keep changing the key.
const MAX_UPDATE_ATTEMPTS: u32 = 10_000;

/// The plugin's own persistent key/value storage (Errbot's `self['key']`).
///
/// Values are any `serde` type, stored as JSON; keys are strings (1 to 1024 bytes, no NUL).
/// errbotd keeps one namespace per plugin, chosen from the plugin's token, so a plugin only ever
/// sees its own keys. A write that returned `Ok` is on disk. Cheap to clone.
///
/// Get it from [`Context::storage`](crate::Context::storage),
/// [`ActivateContext::storage`](crate::ActivateContext::storage),
/// [`Event::storage`](crate::Event::storage) or [`Bot::storage`](crate::Bot::storage).
///
/// ```no_run
/// use errbot_plugin_sdk::prelude::*;
///
/// pub struct Karma;
///
/// /// Karma points.
/// #[plugin(name = "karma")]
/// impl Karma {
///     /// Give someone a point: `!plus ada`.
///     #[command]
///     async fn plus(&self, ctx: &Context, who: String) -> Result<String, StorageError> {
///         let key = format!("karma/{who}");
///         // Atomic: concurrent `!plus` commands never lose a point.
///         let points = ctx.storage().update(&key, |old: Option<i64>| old.unwrap_or(0) + 1).await?;
///         Ok(format!("{who} has {points} points"))
///     }
///
///     /// Show someone's points: `!points ada`.
///     #[command]
///     async fn points(&self, ctx: &Context, who: String) -> Result<String, StorageError> {
///         let points: Option<i64> = ctx.storage().get(&format!("karma/{who}")).await?;
///         Ok(format!("{who} has {} points", points.unwrap_or(0)))
///     }
///
///     /// Forget everyone's points.
///     #[command(admin_only)]
///     async fn reset(&self, ctx: &Context) -> Result<String, StorageError> {
///         let storage = ctx.storage();
///         let keys = storage.keys_with_prefix("karma/").await?;
///         for key in &keys {
///             storage.delete(key).await?;
///         }
///         Ok(format!("forgot {} people", keys.len()))
///     }
/// }
/// # fn main() {}
/// ```
///
/// Reads are answered from memory when the key was read or written before: the SDK follows
/// errbotd's changes to the namespace (`StorageService.Watch`), and errbotd answers another
/// writer (errbotctl, a restore, this plugin's other process during a reload) only once this
/// process has dropped the old value, so a read never returns a value older than the last
/// acknowledged write.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    cache: Arc<Cache>,
}

type Client = StorageServiceClient<InterceptedService<Channel, Token>>;

/// How long to wait before following the watch again after it ended.
const WATCH_RETRY: Duration = Duration::from_secs(1);

/// Follows errbotd's changes to this plugin's namespace for `cache`, for the life of the process.
async fn follow_changes(cache: Arc<Cache>, client: Client) {
    loop {
        let (acks, outgoing) = tokio::sync::mpsc::unbounded_channel();
        let opened = client
            .clone()
            .watch(tokio_stream::wrappers::UnboundedReceiverStream::new(
                outgoing,
            ))
            .await;
        match opened {
            Ok(changes) => {
                let mut changes = changes.into_inner();
                while let Ok(Some(change)) = changes.message().await {
                    cache.apply(&change);
                    if acks.send(v1::StorageWatchAck { seq: change.seq }).is_err() {
                        break;
                    }
                }
                // Emptied before errbotd can see the stream close.
                cache.stop();
                drop(acks);
            }
            // An errbotd that offers no watch (or cannot tell who this process is): no cache.
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unimplemented | tonic::Code::FailedPrecondition
                ) =>
            {
                return;
            }
            Err(_) => {}
        }
        tokio::time::sleep(WATCH_RETRY).await;
    }
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Storage")
    }
}

/// A storage operation failed.
#[derive(Debug)]
pub enum StorageError {
    /// errbotd refused or could not carry out the request (bad key, database down...).
    Refused(tonic::Status),
    /// The stored value of `key` is not of the type asked for.
    Decode {
        /// The key.
        key: String,
        /// Why.
        error: serde_json::Error,
    },
    /// The value could not be turned into JSON.
    Encode(serde_json::Error),
    /// [`Storage::update`] kept losing against other writers of the same key.
    Contention(String),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(s) if s.message().is_empty() => write!(f, "storage failed: {}", s.code()),
            Self::Refused(s) => write!(f, "storage failed: {}", s.message()),
            Self::Decode { key, error } => {
                write!(
                    f,
                    "the stored value of {key:?} is not of the expected type: {error}"
                )
            }
            Self::Encode(e) => write!(f, "the value cannot be stored as JSON: {e}"),
            Self::Contention(key) => write!(
                f,
                "{key:?} changed under every one of {MAX_UPDATE_ATTEMPTS} attempts to update it"
            ),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<tonic::Status> for StorageError {
    fn from(status: tonic::Status) -> Self {
        Self::Refused(status)
    }
}

fn decode<T: DeserializeOwned>(key: &str, json: &str) -> Result<T, StorageError> {
    serde_json::from_str(json).map_err(|error| StorageError::Decode {
        key: key.to_owned(),
        error,
    })
}

impl Storage {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            cache: Arc::default(),
        }
    }

    /// The value of `key`, or `None` when it is not set.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        Ok(self.get_versioned(key).await?.map(|(value, _)| value))
    }

    /// The value of `key` and its version (for [`set_if_version`](Self::set_if_version)), or
    /// `None` when it is not set.
    pub async fn get_versioned<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, u64)>, StorageError> {
        match self.raw_get(key).await? {
            None => Ok(None),
            Some((json, version)) => Ok(Some((decode(key, &json)?, version))),
        }
    }

    /// The JSON text and version of `key`, from the cache or from errbotd.
    async fn raw_get(&self, key: &str) -> Result<Option<(Arc<str>, u64)>, StorageError> {
        self.follow();
        let ticket = match self.cache.lookup(key) {
            Lookup::Hit(found) => return Ok(found),
            Lookup::Miss(ticket) => ticket,
        };
        let request = v1::StorageGetRequest {
            key: key.to_owned(),
        };
        let r = self.client.clone().get(request).await?.into_inner();
        if !r.found {
            self.cache.answered(key, ticket, None);
            return Ok(None);
        }
        self.cache
            .answered(key, ticket, Some((&r.value_json, r.version)));
        Ok(Some((r.value_json.into(), r.version)))
    }

    /// Starts following errbotd's changes, once per process (it needs the runtime, so it
    /// starts with the first call rather than with the connection).
    fn follow(&self) {
        if self.cache.start_following() {
            tokio::spawn(follow_changes(self.cache.clone(), self.client.clone()));
        }
    }

    /// Sets `key` to `value`, whatever it was.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StorageError> {
        let value_json = serde_json::to_string(value).map_err(StorageError::Encode)?;
        self.raw_set(key, value_json, None).await.map(drop)
    }

    /// Sets `key` to `value` only if it is still at `version` (0: only if it is not set).
    /// Returns whether it was written.
    pub async fn set_if_version<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        version: u64,
    ) -> Result<bool, StorageError> {
        let value_json = serde_json::to_string(value).map_err(StorageError::Encode)?;
        Ok(self.raw_set(key, value_json, Some(version)).await?.written)
    }

    async fn raw_set(
        &self,
        key: &str,
        value_json: String,
        if_version: Option<u64>,
    ) -> Result<v1::StorageSetResponse, StorageError> {
        self.follow();
        let ticket = self.cache.ticket(key);
        let request = v1::StorageSetRequest {
            key: key.to_owned(),
            value_json,
            if_version,
        };
        // Kept to fill the cache once errbotd has answered; the request takes a copy.
        let written_json = request.value_json.clone();
        let r = self.client.clone().set(request).await?.into_inner();
        if r.written {
            self.cache
                .wrote(key, ticket, Some(written_json.as_str()), r.version);
        } else if r.version == 0 {
            self.cache.forget(key);
        } else {
            self.cache
                .answered(key, ticket, Some((&r.current_json, r.version)));
        }
        Ok(r)
    }

    /// Changes the value of `key` atomically: `change` gets the current value (`None` when not
    /// set) and returns the new one, which is written only if nobody wrote the key in between;
    /// otherwise `change` runs again on the newer value. Returns the value written.
    ///
    /// `change` may run several times, so it should only compute (no side effects).
    ///
    /// ```no_run
    /// # async fn f(ctx: &errbot_plugin_sdk::Context) -> Result<(), errbot_plugin_sdk::StorageError> {
    /// let visits = ctx.storage().update("visits", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update<T, F>(&self, key: &str, mut change: F) -> Result<T, StorageError>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        let (mut current, mut version): (Option<String>, u64) = match self.raw_get(key).await? {
            Some((json, version)) => (Some(json.to_string()), version),
            None => (None, 0),
        };
        for attempt in 0..MAX_UPDATE_ATTEMPTS {
            let old = current
                .as_deref()
                .map(|json| decode(key, json))
                .transpose()?;
            let new = change(old);
            let value_json = serde_json::to_string(&new).map_err(StorageError::Encode)?;
            let r = self.raw_set(key, value_json, Some(version)).await?;
            if r.written {
                return Ok(new);
            }
            // Someone else wrote first: start again from what they wrote.
            (current, version) = if r.version == 0 {
                (None, 0)
            } else {
                (Some(r.current_json), r.version)
            };
            if attempt >= 8 {
                tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(50)))).await;
            }
        }
        Err(StorageError::Contention(key.to_owned()))
    }

    /// Deletes `key`; returns whether it was set.
    pub async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.follow();
        let ticket = self.cache.ticket(key);
        let request = v1::StorageDeleteRequest {
            key: key.to_owned(),
            if_version: None,
        };
        let r = self.client.clone().delete(request).await?.into_inner();
        if r.deleted {
            self.cache.wrote(key, ticket, None, r.version);
        } else {
            // Not set when errbotd looked, but with no version to place that in time.
            self.cache.forget(key);
        }
        Ok(r.deleted)
    }

    /// Every key of the plugin's storage, sorted.
    pub async fn keys(&self) -> Result<Vec<String>, StorageError> {
        self.keys_with_prefix("").await
    }

    /// The keys that start with `prefix`, sorted.
    pub async fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let request = v1::StorageKeysRequest {
            prefix: prefix.to_owned(),
        };
        Ok(self.client.clone().keys(request).await?.into_inner().keys)
    }

    /// Whether `key` is set.
    pub async fn contains(&self, key: &str) -> Result<bool, StorageError> {
        Ok(self.raw_get(key).await?.is_some())
    }
}
