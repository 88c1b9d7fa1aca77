//! Entry points for the fuzz targets of `tests/fuzz/`: what the Slack gateway reads from Slack
//! (message markup, mentions, timestamps, users' and channels' JSON, Events API signatures,
//! identifiers people type) and what it writes (mrkdwn, cut into parts; cards as
//! attachments). Thin wrappers: no behaviour of their own.

use errbot_proto::v1::Card;
use serde_json::Value;

use super::ids::{self, Ids};

/// The longest message text the gateway posts, in characters.
pub const TEXT_LIMIT: usize = super::split::TEXT_LIMIT;

/// A Markdown reply rendered to mrkdwn.
pub fn mrkdwn(markdown: &str) -> String {
    super::format::mrkdwn(markdown)
}

/// `text` escaped, mentions of people and channels in Slack's form kept.
pub fn escape_keeping_mentions(text: &str) -> String {
    super::format::escape_keeping_mentions(text)
}

/// mrkdwn cut into parts of at most `limit` characters with balanced code fences.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    super::split::split(text, limit)
}

/// A message's markup read back: its plain text, the people it mentions, and the body with a
/// leading mention of `bot_id` turned into `prefix`.
pub fn read_markup(markup: &str, bot_id: &str, prefix: &str) -> (String, Vec<String>, String) {
    (
        super::inbound::plain_text(markup),
        super::inbound::mentioned(markup),
        super::inbound::unmention(markup, bot_id, prefix),
    )
}

/// A message `ts` in milliseconds (0 when it is not a time).
pub fn ts_ms(ts: &str) -> i64 {
    super::inbound::ts_ms(ts)
}

/// What an identifier typed by a person names (its debug form), or why it names nothing.
pub fn parse_identifier(text: &str) -> Result<String, String> {
    ids::parse(text).map(|p| format!("{p:?}"))
}

/// The identifiers (person, room, occupant) of a user's and a channel's JSON, as Slack's
/// `users.info` and `conversations.info` give them.
pub fn identifiers(user: &Value, channel: &Value) -> Vec<errbot_proto::v1::Identifier> {
    let ids = Ids {
        backend: "slack".into(),
    };
    let (user, channel) = (super::user_of(user), super::channel_of(channel));
    vec![
        ids.person(&user),
        ids.room(&channel),
        ids.occupant(&channel, &user),
    ]
}

/// An Events API request's signature check (`now` in Unix seconds).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> bool {
    super::events_api::verify(secret, timestamp, signature, body, now).is_ok()
}

/// A card as the legacy attachment the gateway posts.
pub fn attachment(card: &Card) -> Value {
    super::attachment(card)
}

/// The Slack gateway's event handling without a connection: envelopes (Socket Mode's, or the
/// Events API's once wrapped) decoded into events for errbotd. The workspace is known in
/// advance (the bot `U0BOT`/`B0BOT`, the person `U1`, the channel `C1` and the DM `D1`); any
/// other id is looked up on the Web API at `api_url` (the fuzz targets serve one that knows
/// nobody).
pub struct Decoder {
    shared: std::sync::Arc<super::Shared>,
}

impl Decoder {
    /// A decoder whose lookups go to the Web API at `api_url`.
    pub fn new(api_url: &str) -> Result<Self, String> {
        use super::settings::{Mode, Secret, Settings};
        use std::time::Duration;
        let settings = Settings {
            bot_token: Secret("xoxb-fuzz".into()),
            mode: Mode::Socket {
                app_token: Secret("xapp-fuzz".into()),
            },
            api_url: url::Url::parse(api_url).map_err(|e| e.to_string())?,
            timeout: Duration::from_secs(1),
            ping_interval: Duration::from_secs(30),
            silence_timeout: Duration::from_secs(60),
            reconnect_delay: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(1),
            post_interval: Duration::ZERO,
            post_burst: 1,
            proxy: None,
        };
        let shared = super::Shared {
            api: super::Api::new(&settings)?,
            ids: Ids {
                backend: "slack".into(),
            },
            events: crate::events::EventQueue::new(),
            outbox: super::Outbox::new(settings.post_interval, settings.post_burst),
            prefix: "!".into(),
            state: std::sync::Mutex::new(known_workspace()),
            stop: tokio::sync::watch::channel(false).0,
            order: super::ReplyOrder::default(),
            settings,
        };
        Ok(Self {
            shared: std::sync::Arc::new(shared),
        })
    }

    /// Forgets everything learnt since [`Decoder::new`] (what was seen, who was looked up).
    pub fn reset(&self) {
        self.shared.with_state(|st| *st = known_workspace());
    }

    /// Handles one envelope; returns the events it queued for errbotd.
    pub async fn envelope(&self, envelope: &Value) -> Vec<errbot_proto::v1::BackendEvent> {
        self.shared.envelope(envelope).await;
        self.shared.events.take_queued().await
    }
}

/// What the decoder knows of the workspace before any event.
fn known_workspace() -> super::State {
    let mut state = super::State {
        me: super::User {
            id: "U0BOT".into(),
            name: "bot".into(),
            ..Default::default()
        },
        bot_id: "B0BOT".into(),
        ..Default::default()
    };
    let alice = super::User {
        id: "U1".into(),
        name: "alice".into(),
        ..Default::default()
    };
    state.users.insert(alice.id.clone(), alice);
    for (id, name, kind) in [
        ("C1", "general", ids::Kind::Public),
        ("D1", "", ids::Kind::Im),
    ] {
        let channel = ids::Channel {
            id: id.into(),
            name: name.into(),
            kind,
        };
        state.channels.insert(id.into(), channel);
    }
    state
}
