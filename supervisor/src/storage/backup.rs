//! The backup document: every namespace of a store in one JSON file.
//!
//! ```json
//! {
//!   "format": "errbot-rs-backup",
//!   "version": 1,
//!   "created": "2026-11-22T10:00:00Z",
//!   "namespaces": {
//!     "core": {"bl_plugins": ["hello"], "configs": {}},
//!     "weather": {"last_city": "Paris"}
//!   }
//! }
//! ```
//!
//! Values are written exactly as they are stored (the same JSON text), so that a restore
//! reproduces every namespace byte for byte. Versions are not part of a backup: restored keys
//! get new ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Namespace, StorageError, Store, WriteCounts, WriteMode};

/// `format` of a backup document.
pub const FORMAT: &str = "errbot-rs-backup";
/// `version` of the backup format this code writes and reads.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    namespaces: BTreeMap<String, BTreeMap<String, Box<RawValue>>>,
}

/// Counts of a backup or restore.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Namespaces.
    pub namespaces: u32,
    /// Keys in all of them.
    pub keys: u64,
}

/// The backup document of `dump` (as [`Store::dump`] returns it).
pub fn encode(dump: &[(String, Namespace)]) -> Result<(String, Summary), StorageError> {
    let mut namespaces = BTreeMap::new();
    let mut summary = Summary::default();
    for (ns, entries) in dump {
        let mut values = BTreeMap::new();
        for (key, value) in entries {
            let raw = RawValue::from_string(value.clone()).map_err(|e| {
                StorageError::InvalidValue(format!(
                    "{ns}/{key} holds a value that is not JSON: {e}"
                ))
            })?;
            values.insert(key.clone(), raw);
            summary.keys += 1;
        }
        namespaces.insert(ns.clone(), values);
        summary.namespaces += 1;
    }
    let document = Document {
        format: FORMAT.into(),
        version: VERSION,
        created: Some(now_rfc3339()),
        namespaces,
    };
    let mut text = serde_json::to_string_pretty(&document)
        .map_err(|e| StorageError::InvalidValue(e.to_string()))?;
    text.push('\n');
    Ok((text, summary))
}

/// The namespaces of a backup document, checked.
pub fn decode(text: &str) -> Result<(Vec<(String, Namespace)>, Summary), StorageError> {
    let bad = |why: String| StorageError::InvalidValue(format!("not an errbot-rs backup: {why}"));
    let document: Document = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if document.format != FORMAT {
        return Err(bad(format!(
            "\"format\" is {:?}, expected {FORMAT:?}",
            document.format
        )));
    }
    if document.version != VERSION {
        return Err(StorageError::InvalidValue(format!(
            "this backup has format version {}; this errbot-rs reads version {VERSION}",
            document.version
        )));
    }
    let mut summary = Summary::default();
    let namespaces = document
        .namespaces
        .into_iter()
        .map(|(ns, values)| {
            summary.namespaces += 1;
            summary.keys += values.len() as u64;
            let entries = values
                .into_iter()
                .map(|(k, v)| (k, v.get().to_owned()))
                .collect();
            (ns, entries)
        })
        .collect();
    Ok((namespaces, summary))
}

/// A backup of every namespace of `store`.
pub async fn backup(store: &Store) -> Result<(String, Summary), StorageError> {
    encode(&store.dump().await?)
}

/// Restores a backup document into `store`, in one transaction. Unless `force`, refuses a store
/// that holds any key; with `force`, each namespace of the backup replaces the stored one
/// (namespaces not in the backup are kept).
pub async fn restore(store: &Store, text: &str, force: bool) -> Result<Summary, StorageError> {
    let (namespaces, summary) = decode(text)?;
    let WriteCounts { .. } = store
        .write_namespaces(&namespaces, WriteMode::Replace, !force)
        .await?;
    Ok(summary)
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_exactly() {
        let dump = vec![
            (
                "core".to_owned(),
                vec![("bl_plugins".to_owned(), "[\"hello\"]".to_owned())],
            ),
            (
                "weather".to_owned(),
                vec![
                    (
                        "a".to_owned(),
                        "{ \"z\": 1,  \"a\": [1.50, \"\\u00e9\"] }".to_owned(),
                    ),
                    ("b".to_owned(), "null".to_owned()),
                ],
            ),
        ];
        let (text, summary) = encode(&dump).expect("encode");
        assert_eq!(
            summary,
            Summary {
                namespaces: 2,
                keys: 3
            }
        );
        assert!(text.contains("\"format\": \"errbot-rs-backup\""), "{text}");
        let (back, again) = decode(&text).expect("decode");
        assert_eq!(back, dump);
        assert_eq!(again, summary);
    }

    #[test]
    fn other_documents_are_refused() {
        assert!(decode("{}").is_err());
        assert!(decode("[]").is_err());
        let other = "{\"format\": \"x\", \"version\": 1, \"namespaces\": {}}";
        assert!(
            decode(other)
                .unwrap_err()
                .to_string()
                .contains("\"format\" is \"x\"")
        );
        let newer = "{\"format\": \"errbot-rs-backup\", \"version\": 2, \"namespaces\": {}}";
        assert!(decode(newer).unwrap_err().to_string().contains("version 2"));
    }
}
