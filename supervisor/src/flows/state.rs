//! A flow in progress: where it runs ([`Place`]), the step it is at and its context
//! ([`InFlight`]), and how both are written in errbotd's storage (the "core" namespace, one
//! key per flow: `flow:["backend","room","person"]`, so that a restart finds each one).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Prefix of the storage keys of flows in progress.
pub const KEY_PREFIX: &str = "flow:";

/// Where a flow runs and whose it is: a person in a room, a person in their direct messages
/// (`room` empty), or a whole room (`person` empty: a room flow).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place {
    /// The backend instance.
    pub backend: String,
    /// The room's id; empty for direct messages.
    pub room: String,
    /// The person's id; empty for a room flow.
    pub person: String,
}

impl Place {
    /// The storage key of the flow at this place.
    pub fn key(&self) -> String {
        let parts = [&self.backend, &self.room, &self.person];
        // Serializing three strings cannot fail.
        format!(
            "{KEY_PREFIX}{}",
            serde_json::to_string(&parts).unwrap_or_default()
        )
    }

    /// The place a storage key names.
    pub fn from_key(key: &str) -> Option<Self> {
        let [backend, room, person]: [String; 3] =
            serde_json::from_str(key.strip_prefix(KEY_PREFIX)?).ok()?;
        Some(Self {
            backend,
            room,
            person,
        })
    }

    /// The same place for the whole room (a room flow).
    pub fn room_wide(&self) -> Self {
        Self {
            person: String::new(),
            ..self.clone()
        }
    }

    /// Whether a flow at this place is the room's.
    pub fn is_room_wide(&self) -> bool {
        self.person.is_empty()
    }
}

/// A flow in progress, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    /// The flow's name.
    pub flow: String,
    /// The node it is at.
    pub node: usize,
    /// That node's command (to find the node again if the plugin changed its graph).
    pub command: String,
    /// The context shared by its steps: a JSON object.
    pub context: Map<String, Value>,
    /// Who started it, as shown to people.
    pub started_by: String,
    /// Unix time of its last step, in seconds.
    pub last_step: u64,
    /// Hints and steps are due (it was started or advanced and not yet settled); not stored.
    #[serde(skip)]
    pub unsettled: bool,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Parses a context given by a person or a plugin: a JSON object (an empty text is `{}`).
pub fn parse_context(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("a flow's context is a JSON object, not {other}")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_whatever_the_ids_hold() {
        let place = Place {
            backend: "irc".into(),
            room: "#ops/\"x\"".into(),
            person: "ada!a@host".into(),
        };
        assert_eq!(Place::from_key(&place.key()), Some(place.clone()));
        assert_eq!(place.room_wide().person, "");
        assert!(Place::from_key("history").is_none());
        assert!(Place::from_key("flow:[1]").is_none());
    }

    #[test]
    fn contexts_are_objects() {
        assert!(parse_context("").unwrap().is_empty());
        assert_eq!(parse_context(r#"{"a":1}"#).unwrap()["a"], 1);
        assert!(parse_context("[1]").unwrap_err().contains("JSON object"));
        assert!(parse_context("{").is_err());
    }
}
