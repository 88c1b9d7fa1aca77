//! Entry points for the fuzz targets of `tests/fuzz/`: what the Telegram gateway reads (updates,
//! entity offsets in UTF-16, identifiers people type) and what it writes (replies as HTML and
//! plain-text messages, cut at the limit). Thin wrappers: no behaviour of their own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{BackendEvent, Content};
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::acks::Acks;
use super::ids::{self, Ids, User};
use super::settings::Settings;
use super::{Api, Outbox, ReplyOrder, Shared, inbound, webhook};

/// The longest message, in UTF-16 code units of visible text.
pub const LIMIT: usize = super::split::LIMIT;

/// The bot's user id in [`Decoder`]'s world (its username is `ErrBot`).
pub const BOT_ID: i64 = 42;

/// A reply's messages, cut at `limit` UTF-16 code units: each as Telegram's HTML and as the
/// plain text people see. `None` for content that is not a reply (a template).
pub fn messages(content: &Content, limit: usize) -> Option<Vec<(String, String)>> {
    let runs = super::format::content_runs(content)?;
    Some(
        super::split::split(&runs, limit)
            .into_iter()
            .map(|p| (p.html, p.plain))
            .collect(),
    )
}

/// The byte range of the UTF-16 range `offset..offset+length` of `text`.
pub fn utf16_range(text: &str, offset: usize, length: usize) -> Option<(usize, usize)> {
    inbound::utf16_range(text, offset, length)
}

/// What an identifier typed by a person names (its debug form), or why it names nothing.
pub fn parse_identifier(text: &str) -> Result<String, String> {
    ids::parse(text).map(|p| format!("{p:?}"))
}

/// The Telegram gateway's update handling without a connection: updates read, deduplicated and
/// confirmed as the poller and the webhook hand them over. The bot is `@ErrBot` ([`BOT_ID`]),
/// errbotd's prefix `!`; the offset file lives in the directory given.
pub struct Decoder {
    shared: Arc<Shared>,
    offset_file: PathBuf,
}

impl Decoder {
    /// A decoder keeping its offset file in `dir`; call within a tokio runtime.
    pub fn new(dir: &Path) -> Result<Self, String> {
        let offset_file = dir.join("telegram-offset.json");
        let settings = Settings {
            token: "1:fuzz".into(),
            api_url: url::Url::parse("http://127.0.0.1:9").map_err(|e| e.to_string())?,
            poll_timeout: Duration::from_secs(1),
            busy_poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            offset_file: offset_file.clone(),
            processed_timeout: Duration::from_secs(60),
            reconnect_delay: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(1),
            tls_ca_file: None,
            webhook: None,
            username: None,
            chat_interval: Duration::ZERO,
            group_interval: Duration::ZERO,
            burst: 1,
        };
        let _ = std::fs::remove_file(&offset_file);
        let shared = Shared {
            api: Api::new(&settings)?,
            ids: Ids {
                backend: "telegram".into(),
            },
            events: crate::events::EventQueue::new(),
            outbox: Outbox::new(Duration::ZERO, Duration::ZERO, 1),
            prefix: "!".into(),
            me: User {
                id: BOT_ID,
                username: "ErrBot".into(),
                fullname: "Err Bot".into(),
                is_bot: true,
            },
            acks: Mutex::new(Acks::load(&offset_file, "fuzz")),
            migrations: Mutex::new(HashMap::new()),
            users: Mutex::new(HashMap::new()),
            progress: Notify::new(),
            waiters: webhook::Waiters::default(),
            order: ReplyOrder::default(),
            stop: watch::channel(false).0,
            settings,
        };
        Ok(Self {
            shared: Arc::new(shared),
            offset_file,
        })
    }

    /// Forgets everything learnt since [`Decoder::new`]: updates seen, people, migrations.
    pub fn reset(&self) {
        let _ = std::fs::remove_file(&self.offset_file);
        *super::locked(&self.shared.acks) = Acks::load(&self.offset_file, "fuzz");
        super::locked(&self.shared.users).clear();
        super::locked(&self.shared.migrations).clear();
    }

    /// Reads the offset file again, as a gateway restarted for the same errbotd does.
    pub fn restart(&self) {
        *super::locked(&self.shared.acks) = Acks::load(&self.offset_file, "fuzz");
    }

    /// Takes one update as the poller does; answers the events queued for errbotd.
    pub async fn update(&self, update: &Value) -> Vec<BackendEvent> {
        self.shared.take(update).await;
        self.shared.events.take_queued().await
    }

    /// errbotd finished with message `message_id`.
    pub fn processed(&self, message_id: &str) {
        self.shared.processed(message_id);
    }

    /// The offset the next `getUpdates` would give.
    pub fn offset(&self) -> i64 {
        self.shared.with_acks(|a| a.offset())
    }
}
