//! errbotd's own state, in the "core" namespace (Errbot's key names where Errbot has them):
//!
//! | key | value |
//! |-----|-------|
//! | `bl_plugins` | blacklisted plugin names: `["hello"]` |
//! | `configs` | plugin configurations set by `!plugin config`: `{"weather": {"CITY": "Paris"}}` |
//! | `history` | the last commands of each person: `{"@ada": [{"command": "echo", "args": "hi"}]}` |
//! | `installed_repos` | plugin repositories installed by `!repos install`: `{"name": "url"}` |
//!
//! The blacklist and the configurations are kept in memory as well (they are read on every
//! start and status) and written through with compare-and-set, so that errbotctl writing the
//! same keys at the same time loses nothing. Command history is written behind: at most every
//! [`HISTORY_FLUSH`] and at shutdown, so that commands never wait for the disk; a crash loses at
//! most that much history.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;
use std::time::Duration;

use serde_json::Value;

use super::{CORE_NAMESPACE, StorageError, Store};
use crate::bot::{read, write};
use crate::dispatch::history::{Entry, History};

/// Key of the blacklist.
pub const BLACKLIST_KEY: &str = "bl_plugins";
/// Key of the plugin configurations.
pub const CONFIGS_KEY: &str = "configs";
/// Key of the command history.
pub const HISTORY_KEY: &str = "history";
/// Key of the installed plugin repositories.
pub const REPOS_KEY: &str = "installed_repos";
/// Longest time a command stays only in memory before the history is written.
pub const HISTORY_FLUSH: Duration = Duration::from_secs(1);

/// The store and errbotd's state in it.
pub struct Storage {
    /// The store.
    pub store: Store,
    blacklist: RwLock<BTreeSet<String>>,
    configs: RwLock<BTreeMap<String, Value>>,
    history_written: std::sync::atomic::AtomicU64,
}

fn parse<T: serde::de::DeserializeOwned + Default>(key: &str, value: Option<&str>) -> T {
    match value.map(serde_json::from_str::<T>) {
        None => T::default(),
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            tracing::warn!(
                "core storage key {key} does not hold what errbotd expects ({e}); ignored"
            );
            T::default()
        }
    }
}

impl Storage {
    /// Loads errbotd's state from `store`.
    pub async fn load(store: Store) -> Result<Self, StorageError> {
        let storage = Self {
            store,
            blacklist: RwLock::default(),
            configs: RwLock::default(),
            history_written: Default::default(),
        };
        storage.reload().await?;
        Ok(storage)
    }

    /// Reads the blacklist and configurations again (after a restore or `errbotctl storage set`).
    pub async fn reload(&self) -> Result<(), StorageError> {
        let blacklist = self.store.get(CORE_NAMESPACE, BLACKLIST_KEY).await?;
        let configs = self.store.get(CORE_NAMESPACE, CONFIGS_KEY).await?;
        *write(&self.blacklist) =
            parse(BLACKLIST_KEY, blacklist.as_ref().map(|e| e.value.as_str()));
        *write(&self.configs) = parse(CONFIGS_KEY, configs.as_ref().map(|e| e.value.as_str()));
        Ok(())
    }

    /// Whether a plugin is blacklisted.
    pub fn is_blacklisted(&self, plugin: &str) -> bool {
        read(&self.blacklist).contains(plugin)
    }

    /// The blacklisted plugins.
    pub fn blacklist(&self) -> BTreeSet<String> {
        read(&self.blacklist).clone()
    }

    /// Adds (`true`) or removes (`false`) a plugin from the blacklist; returns whether that
    /// changed anything.
    pub async fn set_blacklisted(
        &self,
        plugin: &str,
        blacklisted: bool,
    ) -> Result<bool, StorageError> {
        let mut changed = false;
        let stored = self
            .store
            .update(CORE_NAMESPACE, BLACKLIST_KEY, |old| {
                let mut list: Vec<String> = parse(BLACKLIST_KEY, old);
                let present = list.iter().any(|p| p == plugin);
                changed = present != blacklisted;
                if !changed {
                    return None;
                }
                if blacklisted {
                    list.push(plugin.to_owned());
                } else {
                    list.retain(|p| p != plugin);
                }
                Some(Value::from(list).to_string())
            })
            .await?;
        *write(&self.blacklist) = parse(BLACKLIST_KEY, stored.as_deref());
        Ok(changed)
    }

    /// The configuration stored for a plugin by `!plugin config`.
    pub fn stored_config(&self, plugin: &str) -> Option<Value> {
        read(&self.configs).get(plugin).cloned()
    }

    /// Stores (`Some`) or removes (`None`) a plugin's configuration.
    pub async fn set_config(
        &self,
        plugin: &str,
        config: Option<Value>,
    ) -> Result<(), StorageError> {
        let stored = self
            .store
            .update(CORE_NAMESPACE, CONFIGS_KEY, |old| {
                let mut all: BTreeMap<String, Value> = parse(CONFIGS_KEY, old);
                match &config {
                    Some(c) => all.insert(plugin.to_owned(), c.clone()),
                    None => all.remove(plugin),
                };
                serde_json::to_string(&all).ok()
            })
            .await?;
        *write(&self.configs) = parse(CONFIGS_KEY, stored.as_deref());
        Ok(())
    }

    /// The installed plugin repositories: name -> URL.
    pub async fn installed_repos(&self) -> Result<BTreeMap<String, String>, StorageError> {
        let stored = self.store.get(CORE_NAMESPACE, REPOS_KEY).await?;
        Ok(parse(REPOS_KEY, stored.as_ref().map(|e| e.value.as_str())))
    }

    /// Records (`Some(url)`) or forgets (`None`) an installed plugin repository.
    pub async fn set_installed_repo(
        &self,
        name: &str,
        url: Option<&str>,
    ) -> Result<(), StorageError> {
        self.store
            .update(CORE_NAMESPACE, REPOS_KEY, |old| {
                let mut all: BTreeMap<String, String> = parse(REPOS_KEY, old);
                match url {
                    Some(u) => all.insert(name.to_owned(), u.to_owned()),
                    None => all.remove(name),
                };
                serde_json::to_string(&all).ok()
            })
            .await?;
        Ok(())
    }

    /// Fills `history` from the store.
    pub async fn load_history(&self, history: &History) -> Result<(), StorageError> {
        let stored = self.store.get(CORE_NAMESPACE, HISTORY_KEY).await?;
        let people: BTreeMap<String, Vec<Entry>> =
            parse(HISTORY_KEY, stored.as_ref().map(|e| e.value.as_str()));
        history.replace_all(people);
        self.history_written
            .store(history.generation(), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Writes `history` if it changed since it was last written.
    pub async fn flush_history(&self, history: &History) -> Result<(), StorageError> {
        let generation = history.generation();
        if generation
            == self
                .history_written
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        let people = history.snapshot();
        let text = serde_json::to_string(&people)
            .map_err(|e| StorageError::InvalidValue(e.to_string()))?;
        self.store
            .set(CORE_NAMESPACE, HISTORY_KEY, &text, None)
            .await?;
        self.history_written
            .fetch_max(generation, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Writes the command history behind, every [`HISTORY_FLUSH`] while errbotd runs (errbotd
/// writes it a last time at shutdown).
pub fn spawn_history_writer(bot: std::sync::Arc<crate::bot::Bot>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HISTORY_FLUSH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = bot.storage.flush_history(&bot.history).await {
                tracing::warn!("writing the command history failed: {e}");
            }
        }
    });
}
