//! The plugin index (Errbot's BOT_PLUGIN_INDEXES): JSON documents mapping a repository name to
//! its plugins, each with at least `repo` (the git URL) and `documentation`:
//!
//! ```json
//! {"errbotio/err-imagebot": {"ImageBot": {"name": "ImageBot", "repo": "https://github.com/errbotio/err-imagebot",
//!   "documentation": "Image search", "path": "/imagebot.plug", "python": "3", "avatar_url": null}}}
//! ```
//!
//! `[repos] indexes` lists URLs (http, https) and files; they are merged, later ones winning for
//! the same repository, and cached in the data directory (`repo-index.json`) for
//! `index_max_age_secs`. When a source cannot be read the cache is kept as it is (Errbot's rule),
//! or, with none, the index is empty and the failure reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::RepoSettings;

/// One plugin of the index.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Plugin {
    /// The git URL of its repository.
    #[serde(default)]
    pub repo: String,
    /// Its description.
    #[serde(default)]
    pub documentation: String,
    /// Every other field, kept for searching.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The merged index: repository name -> plugin name -> plugin.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Index {
    /// The repositories.
    pub repos: BTreeMap<String, BTreeMap<String, Plugin>>,
}

/// A plugin found by [`Index::search`].
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// Its repository's name.
    pub repo_name: String,
    /// The plugin's name.
    pub plugin: String,
    /// The plugin.
    pub entry: Plugin,
}

/// The words of a text, lower-cased, as Errbot's search splits them (`\w[\w']*\w|\w`).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Index {
    /// Reads one index document; entries that are not objects (`last_update`) are skipped.
    pub fn parse(text: &str) -> Result<Index, String> {
        let doc: BTreeMap<String, Value> =
            serde_json::from_str(text).map_err(|e| format!("not an index: {e}"))?;
        let mut index = Index::default();
        for (name, plugins) in doc {
            if !plugins.is_object() {
                continue;
            }
            let plugins: BTreeMap<String, Plugin> =
                serde_json::from_value(plugins).map_err(|e| format!("repository {name:?}: {e}"))?;
            index.repos.insert(name, plugins);
        }
        Ok(index)
    }

    /// The git URL of repository `name`, if the index lists it.
    pub fn url_of(&self, name: &str) -> Option<String> {
        let plugins = self.repos.get(name)?;
        plugins
            .values()
            .map(|p| p.repo.clone())
            .find(|r| !r.is_empty())
    }

    /// The description of repository `name` ("Plugin: documentation" per plugin).
    pub fn description_of(&self, name: &str) -> Option<String> {
        let plugins = self.repos.get(name)?;
        Some(
            plugins
                .iter()
                .map(|(n, p)| format!("{n}: {}", p.documentation))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    /// The plugins sharing a word with `query` in their repository's name, their name or any of
    /// their fields (Errbot's search, names included), case-insensitively.
    pub fn search(&self, query: &str) -> Vec<Found> {
        let wanted = words(query);
        let mut found = Vec::new();
        for (repo_name, plugins) in &self.repos {
            for (plugin, entry) in plugins {
                let mut text = format!(
                    "{repo_name} {plugin} {} {}",
                    entry.repo, entry.documentation
                );
                for v in entry.other.values() {
                    match v {
                        Value::String(s) => text.push_str(&format!(" {s}")),
                        Value::Null => {}
                        other => text.push_str(&format!(" {other}")),
                    }
                }
                let have = words(&text);
                if wanted.iter().any(|w| have.contains(w)) {
                    found.push(Found {
                        repo_name: repo_name.clone(),
                        plugin: plugin.clone(),
                        entry: entry.clone(),
                    });
                }
            }
        }
        found
    }
}

/// The cache file's contents.
#[derive(Serialize, Deserialize)]
struct Cached {
    /// When it was read, seconds since the epoch.
    last_update: f64,
    /// The sources it was read from.
    sources: Vec<String>,
    index: Index,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Where the cache is kept.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("repo-index.json")
}

/// Reads one source: an http(s) URL or a file (relative to errbot.toml's folder).
async fn fetch(source: &str, base: &Path) -> Result<String, String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent("Errbot")
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .get(source)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("{source}: {e}"))?;
        return response.text().await.map_err(|e| format!("{source}: {e}"));
    }
    let path = base.join(source.strip_prefix("file://").unwrap_or(source));
    tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The index: the cache while it is fresh and made from the same sources, else read again from
/// `settings.indexes` (and cached). The second value says why a refresh failed, if one did.
pub async fn load(
    settings: &RepoSettings,
    base: &Path,
    data_dir: &Path,
) -> (Index, Option<String>) {
    let path = cache_path(data_dir);
    let cached: Option<Cached> = tokio::fs::read_to_string(&path)
        .await
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(c) = &cached
        && c.sources == settings.indexes
        && now() - c.last_update < settings.index_max_age_secs
    {
        return (c.index.clone(), None);
    }
    let mut merged = Index::default();
    for source in &settings.indexes {
        match fetch(source, base).await.and_then(|t| Index::parse(&t)) {
            Ok(index) => merged.repos.extend(index.repos),
            Err(e) => {
                let why = format!("the plugin index could not be read: {e}");
                tracing::warn!("{why}; the index is kept as it was");
                return (cached.map(|c| c.index).unwrap_or_default(), Some(why));
            }
        }
    }
    let fresh = Cached {
        last_update: now(),
        sources: settings.indexes.clone(),
        index: merged.clone(),
    };
    if let Ok(text) = serde_json::to_string(&fresh)
        && let Err(e) = tokio::fs::write(&path, text).await
    {
        tracing::warn!("caching the plugin index in {}: {e}", path.display());
    }
    tracing::info!(repositories = merged.repos.len(), "plugin index read");
    (merged, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "last_update": 1234.5,
        "errbotio/err-imagebot": {"ImageBot": {"name": "ImageBot", "repo": "https://github.com/errbotio/err-imagebot",
            "documentation": "Find images on the web", "python": "3", "avatar_url": null, "path": "/imagebot.plug"}},
        "someone/err-jira": {"Jira": {"repo": "https://example.org/jira.git", "documentation": "Talk to JIRA's tickets"}}
    }"#;

    #[test]
    fn parses_and_searches_by_name_and_description() {
        let index = Index::parse(DOC).expect("parses");
        assert_eq!(index.repos.len(), 2);
        assert_eq!(
            index.url_of("someone/err-jira").as_deref(),
            Some("https://example.org/jira.git")
        );
        let hits =
            |q: &str| -> Vec<String> { index.search(q).into_iter().map(|f| f.plugin).collect() };
        assert_eq!(hits("jira"), ["Jira"]);
        assert_eq!(hits("IMAGES"), ["ImageBot"]);
        assert_eq!(hits("imagebot"), ["ImageBot"]);
        assert_eq!(hits("tickets web"), ["ImageBot", "Jira"]);
        assert!(hits("nothing").is_empty());
    }
}
