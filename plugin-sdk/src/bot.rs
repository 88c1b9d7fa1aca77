//! The bot's own actions, through errbotd's `BotService`.

use std::fmt;
use std::time::Duration;

use errbot_proto::contract::TOKEN_HEADER;
use errbot_proto::v1;
use errbot_proto::v1::bot_service_client::BotServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::message::{Identifier, Message};

/// Bytes per chunk of a file sent to errbotd.
const FILE_CHUNK: usize = 64 * 1024;
use crate::poll;
use crate::reply::{Card, Reply};
use crate::storage::Storage;

/// Adds the child's token to every `BotService` call.
#[derive(Clone)]
pub(crate) struct Token(AsciiMetadataValue);

impl Interceptor for Token {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(TOKEN_HEADER, self.0.clone());
        Ok(request)
    }
}

/// A handle on the bot: send messages, warn admins, reach the plugin's storage. Cheap to clone.
///
/// Available as [`Context::bot`](crate::Context::bot), [`ActivateContext::bot`](crate::ActivateContext::bot)
/// and [`Event::bot`](crate::Event::bot); keep a clone to act outside commands (pollers).
#[derive(Clone)]
pub struct Bot {
    client: BotServiceClient<InterceptedService<Channel, Token>>,
    storage: Storage,
}

impl fmt::Debug for Bot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bot")
    }
}

/// errbotd refused or could not carry out a bot action.
#[derive(Debug)]
pub struct BotError(tonic::Status);

impl BotError {
    /// errbotd's explanation.
    pub fn message(&self) -> &str {
        self.0.message()
    }
}

impl fmt::Display for BotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.message().is_empty() {
            write!(f, "bot action failed: {}", self.0.code())
        } else {
            write!(f, "bot action failed: {}", self.0.message())
        }
    }
}

impl std::error::Error for BotError {}

impl From<tonic::Status> for BotError {
    fn from(status: tonic::Status) -> Self {
        Self(status)
    }
}

impl Bot {
    /// A handle calling `BotService` on `address` (`unix:/path`) with `token`. The connection is
    /// made on first use.
    pub fn connect(address: &str, token: &str) -> Result<Self, crate::BoxError> {
        let channel = errbot_proto::transport::channel(address)?;
        let token: AsciiMetadataValue = MetadataValue::try_from(token).map_err(|_| {
            format!(
                "the token in {} is not valid ASCII",
                errbot_proto::contract::ENV_TOKEN
            )
        })?;
        let storage_client =
            errbot_proto::v1::storage_service_client::StorageServiceClient::with_interceptor(
                channel.clone(),
                Token(token.clone()),
            );
        Ok(Self {
            client: BotServiceClient::with_interceptor(channel, Token(token)),
            storage: Storage::new(storage_client),
        })
    }

    /// The plugin's persistent storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Sends `content` (text or [`Card`]) to `to`, a canonical string (`@user`, `#room`) on the
    /// first configured backend. Returns the new message's id.
    pub async fn send(&self, to: &str, content: impl Into<Reply>) -> Result<String, BotError> {
        self.send_text_on("", to, content.into()).await
    }

    /// Sends `content` to `to` (`@user`, `#room`) on backend instance `backend` (empty: the
    /// first configured one).
    pub async fn send_on(
        &self,
        backend: &str,
        to: &str,
        content: impl Into<Reply>,
    ) -> Result<String, BotError> {
        self.send_text_on(backend, to, content.into()).await
    }

    /// Sends a card to `to` (see [`send`](Self::send)).
    pub async fn send_card(&self, to: &str, card: Card) -> Result<String, BotError> {
        self.send(to, card).await
    }

    /// Sends `content` to a person or room as received in a message.
    pub async fn send_to(
        &self,
        to: &Identifier,
        content: impl Into<Reply>,
    ) -> Result<String, BotError> {
        let request = v1::BotSendRequest {
            to: Some(to.0.clone()),
            backend: to.0.backend.clone(),
            content: content.into().into_content(),
            ..Default::default()
        };
        self.raw_send(request).await
    }

    /// Sends a file to a person or room: `name` as people see it, `content_type` its MIME
    /// type (empty: let the service guess). Returns the id of the message carrying it. Chat
    /// services without uploads (IRC, the text console) refuse it with a [`BotError`] saying so.
    /// For data produced as it goes, see [`send_stream`](Self::send_stream).
    pub async fn send_file(
        &self,
        to: &Identifier,
        name: &str,
        content_type: &str,
        data: impl Into<Vec<u8>>,
    ) -> Result<String, BotError> {
        let (size, chunks) = in_chunks(data.into());
        self.send_stream(to, name, content_type, size, chunks).await
    }

    /// Sends a file into the thread of `message`, where it was said (its room, or the
    /// conversation with its sender), starting a thread from it if it was in none. Services
    /// without threads post it where the message was. See [`send_file`](Self::send_file).
    pub async fn send_file_in_thread(
        &self,
        message: &Message,
        name: &str,
        content_type: &str,
        data: impl Into<Vec<u8>>,
    ) -> Result<String, BotError> {
        let to = message.reply_target();
        let thread = if message.thread_id().is_empty() {
            message.id()
        } else {
            message.thread_id()
        };
        let (size, chunks) = in_chunks(data.into());
        let header = v1::FileHeader {
            thread_id: thread.to_owned(),
            in_reply_to: message.id().to_owned(),
            ..file_header(to, name, content_type, size)
        };
        self.upload(header, chunks).await
    }

    /// Sends a stream of bytes as a file (Errbot's send_stream_request), chunk by chunk as the
    /// stream yields them, without holding the whole file: `size` is its length in bytes when
    /// known (0: unknown; otherwise the stream must yield exactly that many). See
    /// [`send_file`](Self::send_file).
    pub async fn send_stream(
        &self,
        to: &Identifier,
        name: &str,
        content_type: &str,
        size: u64,
        data: impl tokio_stream::Stream<Item = Vec<u8>> + Send + 'static,
    ) -> Result<String, BotError> {
        self.upload(file_header(to, name, content_type, size), data)
            .await
    }

    /// The header, then the data, as one `SendFile` stream; answers the message id.
    async fn upload(
        &self,
        header: v1::FileHeader,
        data: impl tokio_stream::Stream<Item = Vec<u8>> + Send + 'static,
    ) -> Result<String, BotError> {
        use tokio_stream::StreamExt as _;
        let first = v1::FileChunk {
            kind: Some(v1::file_chunk::Kind::Header(header)),
        };
        let chunks = tokio_stream::iter([first]).chain(data.map(|bytes| v1::FileChunk {
            kind: Some(v1::file_chunk::Kind::Data(bytes)),
        }));
        Ok(self
            .client
            .clone()
            .send_file(chunks)
            .await?
            .into_inner()
            .message_id)
    }

    /// Adds reaction `reaction` (`"thumbsup"`) to `message` (Errbot's react).
    pub async fn react(&self, message: &Message, reaction: &str) -> Result<(), BotError> {
        self.reaction(message, reaction, false).await
    }

    /// Removes the bot's reaction `reaction` from `message` (Errbot's unreact).
    pub async fn unreact(&self, message: &Message, reaction: &str) -> Result<(), BotError> {
        self.reaction(message, reaction, true).await
    }

    async fn reaction(
        &self,
        message: &Message,
        reaction: &str,
        remove: bool,
    ) -> Result<(), BotError> {
        let request = v1::BotReactRequest {
            to: Some(message.reply_target().0.clone()),
            message_id: message.id().to_owned(),
            reaction: reaction.to_owned(),
            remove,
        };
        self.client.clone().react(request).await?;
        Ok(())
    }

    /// Shows the bot as `status` (`"online"`, `"away"`, `"dnd"`, `"offline"`) with a status
    /// text, on `backend` (empty: every backend). Returns the backends that could not show it,
    /// with why.
    pub async fn set_presence(
        &self,
        status: &str,
        message: &str,
        backend: &str,
    ) -> Result<Vec<String>, BotError> {
        let request = v1::BotPresenceRequest {
            backend: backend.to_owned(),
            status: status.to_owned(),
            message: message.to_owned(),
        };
        Ok(self
            .client
            .clone()
            .set_presence(request)
            .await?
            .into_inner()
            .unsupported)
    }

    /// The bot's health, as `!status` shows it: errbotd's uptime, every plugin's state and
    /// every child process.
    pub async fn status(&self) -> Result<BotStatus, BotError> {
        let r = self
            .client
            .clone()
            .status(v1::BotStatusRequest {})
            .await?
            .into_inner();
        Ok(BotStatus {
            uptime: std::time::Duration::from_secs(r.uptime_seconds),
            started_at: std::time::UNIX_EPOCH
                + std::time::Duration::from_millis(u64::try_from(r.started_at_ms).unwrap_or(0)),
            version: r.version,
            plugins: r
                .plugins
                .into_iter()
                .map(|p| PluginHealth {
                    name: p.name,
                    state: p.state,
                    note: p.note,
                })
                .collect(),
        })
    }

    /// Sends `text` to every admin in `BOT_ADMINS_NOTIFICATIONS`.
    pub async fn warn_admins(&self, text: impl Into<String>) -> Result<(), BotError> {
        let request = v1::WarnAdminsRequest { text: text.into() };
        self.client.clone().warn_admins(request).await?;
        Ok(())
    }

    /// Turns a canonical string (`@user`, `#room`) into an identifier, asking the backend
    /// (empty: the first configured one).
    pub async fn build_identifier(
        &self,
        text: &str,
        backend: &str,
    ) -> Result<Identifier, BotError> {
        let request = v1::BotBuildIdentifierRequest {
            text: text.to_owned(),
            backend: backend.to_owned(),
        };
        Ok(Identifier(
            self.client
                .clone()
                .build_identifier(request)
                .await?
                .into_inner(),
        ))
    }

    /// Calls the `#[poller]` method `method` every `interval`, `times` times or (`None`) until
    /// stopped, with `args` (any `Serialize` value, `()` for none; read back with
    /// [`PollContext::args`](crate::PollContext::args)): Errbot's `start_poller`.
    ///
    /// errbotd owns the schedule: the poller keeps running while the plugin restarts or is
    /// reloaded, and stops when the plugin is deactivated. A poller is identified by its method
    /// and arguments; starting one that runs already keeps its schedule and tick count, takes
    /// the new interval and `times`, and returns `Ok(true)` (so starting pollers in
    /// `#[activate]`, which runs again in every new process, is right). `Ok(false)`: started
    /// now. The first tick comes one interval after the start; ticks never overlap, and ticks
    /// missed while one overran are dropped.
    pub async fn start_poller(
        &self,
        interval: Duration,
        method: &str,
        times: Option<u32>,
        args: impl serde::Serialize,
    ) -> Result<bool, BotError> {
        let request = v1::StartPollerRequest {
            method: method.to_owned(),
            interval_secs: interval.as_secs_f64(),
            times: poll::times(times)?,
            args_json: poll::args_json(args)?,
        };
        Ok(self
            .client
            .clone()
            .start_poller(request)
            .await?
            .into_inner()
            .already_running)
    }

    /// Stops the poller of `method` with `args` (as given to [`start_poller`](Self::start_poller));
    /// returns whether one was running. Errbot's `stop_poller`. Not needed in `#[deactivate]`:
    /// errbotd stops a deactivated plugin's pollers itself (and a reload deactivates the old
    /// process after the new one started them again, so stopping them there would stop them for
    /// good).
    pub async fn stop_poller(
        &self,
        method: &str,
        args: impl serde::Serialize,
    ) -> Result<bool, BotError> {
        let request = v1::StopPollerRequest {
            method: method.to_owned(),
            args_json: poll::args_json(args)?,
        };
        Ok(self
            .client
            .clone()
            .stop_poller(request)
            .await?
            .into_inner()
            .stopped)
    }

    /// The plugin's pollers as errbotd runs them (ticks, failures...), by method and arguments.
    pub async fn pollers(&self) -> Result<Vec<poll::PollerStatus>, BotError> {
        let request = v1::ListPollersRequest {};
        Ok(self
            .client
            .clone()
            .list_pollers(request)
            .await?
            .into_inner()
            .pollers
            .into_iter()
            .map(poll::PollerStatus::from)
            .collect())
    }

    pub(crate) async fn send_text_on(
        &self,
        backend: &str,
        to: &str,
        content: Reply,
    ) -> Result<String, BotError> {
        let request = v1::BotSendRequest {
            to_text: to.to_owned(),
            backend: backend.to_owned(),
            content: content.into_content(),
            ..Default::default()
        };
        self.raw_send(request).await
    }

    pub(crate) async fn raw_send(&self, request: v1::BotSendRequest) -> Result<String, BotError> {
        Ok(self
            .client
            .clone()
            .send(request)
            .await?
            .into_inner()
            .message_id)
    }
}

/// The bot's health ([`Bot::status`]).
#[derive(Clone, Debug)]
pub struct BotStatus {
    /// How long errbotd has run.
    pub uptime: std::time::Duration,
    /// When errbotd started.
    pub started_at: std::time::SystemTime,
    /// errbotd's version.
    pub version: String,
    /// Every plugin, built-in ones included.
    pub plugins: Vec<PluginHealth>,
}

/// One plugin's state in [`BotStatus`].
#[derive(Clone, Debug)]
pub struct PluginHealth {
    /// The plugin's name.
    pub name: String,
    /// `running`, `builtin`, `starting`, `restarting`, `failed`, `deactivated`,
    /// `unconfigured`, `blacklisted` or `stopped`.
    pub state: String,
    /// Why it failed or waits for a configuration, if it does.
    pub note: String,
}

impl PluginHealth {
    /// Whether the plugin is up (running, or built into errbotd).
    pub fn is_up(&self) -> bool {
        matches!(self.state.as_str(), "running" | "builtin")
    }
}

/// The header of a file sent to `to`.
fn file_header(to: &Identifier, name: &str, content_type: &str, size: u64) -> v1::FileHeader {
    v1::FileHeader {
        to: Some(to.0.clone()),
        backend: to.0.backend.clone(),
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        size,
        ..Default::default()
    }
}

/// A file held whole, as its size and a stream of chunks.
fn in_chunks(
    data: Vec<u8>,
) -> (
    u64,
    impl tokio_stream::Stream<Item = Vec<u8>> + Send + 'static,
) {
    let size = data.len() as u64;
    let chunks: Vec<Vec<u8>> = data.chunks(FILE_CHUNK).map(<[u8]>::to_vec).collect();
    (size, tokio_stream::iter(chunks))
}
