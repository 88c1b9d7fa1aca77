//! Entry points for the fuzz targets of `tests/fuzz/`: what the Mattermost gateway reads from
//! the server (users', channels' and embedded JSON, identifiers people type) and what it writes
//! (posts and their attachments, cut at the post limit). Thin wrappers: no behaviour of their
//! own.

use errbot_proto::v1::{Content, Identifier};
use serde_json::Value;

use super::ids::{self, Ids};

/// The longest post, in characters.
pub const POST_LIMIT: usize = super::split::POST_LIMIT;

/// A reply's post: its `message` and `props`, or `None` for a template.
pub fn post_parts(content: &Content) -> Option<(String, Value)> {
    super::format::post_parts(content)
}

/// A post's text cut into pieces of at most `limit` characters.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    super::split::split(text, limit)
}

/// What an identifier typed by a person names (its debug form), or why it names nothing.
pub fn parse_identifier(text: &str) -> Result<String, String> {
    ids::parse(text).map(|p| format!("{p:?}"))
}

/// A websocket event's embedded JSON (`data.post` may be JSON in a string), read as the client
/// reads it, then the identifiers of the user and channel JSON it holds.
pub fn decode(event: &Value) -> Vec<Identifier> {
    let data = event.get("data").cloned().unwrap_or(Value::Null);
    let post = super::client::embedded(data.get("post")).unwrap_or(Value::Null);
    let _ = super::client::text(&post, "message");
    let ids = Ids {
        backend: "mattermost".into(),
    };
    let user = super::client::user_of(event.get("user").unwrap_or(&Value::Null));
    let channel = super::client::channel_of(event.get("channel").unwrap_or(&post));
    vec![
        ids.person(&user),
        ids.room(&channel),
        ids.occupant(&channel, &user),
    ]
}

/// The Mattermost gateway's event handling without a connection: websocket events decoded into
/// events for errbotd. The server is known in advance (the bot `bot0`, the person `u1`, the
/// channel `c1` and the DM `d1`); anyone else is looked up on the server at `url` (the fuzz
/// targets serve one that knows nobody).
pub struct Decoder {
    shared: std::sync::Arc<super::Shared>,
}

impl Decoder {
    /// A decoder whose lookups go to the server at `url`.
    pub fn new(url: &str) -> Result<Self, String> {
        use std::time::Duration;
        let settings = super::settings::Settings {
            url: url::Url::parse(url).map_err(|e| e.to_string())?,
            team: "team".into(),
            auth: super::settings::Auth::Token("fuzz".into()),
            username: None,
            rooms: Vec::new(),
            verify: true,
            tls_ca_file: None,
            timeout: Duration::from_secs(1),
            ping_interval: Duration::from_secs(30),
            silence_timeout: Duration::from_secs(60),
            reconnect_delay: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(1),
        };
        let shared = super::Shared {
            api: super::Api::new(&settings)?,
            ids: Ids {
                backend: "mattermost".into(),
            },
            events: crate::events::EventQueue::new(),
            outbox: super::Outbox::new(),
            prefix: "!".into(),
            state: std::sync::Mutex::new(known_server()),
            stop: tokio::sync::watch::channel(false).0,
            settings,
        };
        Ok(Self {
            shared: std::sync::Arc::new(shared),
        })
    }

    /// Forgets everything learnt since [`Decoder::new`] (what was seen, who was looked up).
    pub fn reset(&self) {
        self.shared.with_state(|st| *st = known_server());
    }

    /// Handles one websocket event; returns the events it queued for errbotd.
    pub async fn event(&self, event: &Value) -> Vec<errbot_proto::v1::BackendEvent> {
        self.shared.event(event).await;
        self.shared.events.take_queued().await
    }
}

/// What the decoder knows of the server before any event.
fn known_server() -> super::State {
    let mut state = super::State {
        me: ids::User {
            id: "bot0".into(),
            username: "bot".into(),
            ..Default::default()
        },
        team_id: "team0".into(),
        ..Default::default()
    };
    let alice = ids::User {
        id: "u1".into(),
        username: "alice".into(),
        ..Default::default()
    };
    state.users.insert(alice.id.clone(), alice);
    for (id, name, kind) in [("c1", "town-square", "O"), ("d1", "bot0__u1", "D")] {
        let channel = ids::Channel {
            id: id.into(),
            name: name.into(),
            display_name: name.into(),
            kind: kind.into(),
        };
        state.channels.insert(id.into(), channel);
    }
    state
}
