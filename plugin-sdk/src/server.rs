//! Serving a plugin on the child contract's socket.

use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use errbot_proto::contract::{ChildEnv, PROTOCOL_VERSION};
use errbot_proto::v1;
use errbot_proto::v1::plugin_service_server::{PluginService, PluginServiceServer};
use tonic::{Request, Response, Status};

use crate::Plugin;
use crate::bot::Bot;
use crate::context::Runtime;
use crate::event::{ActivateContext, CallbackKind, Event};
use crate::execution::Execution;
use crate::poll::PollContext;
use crate::reply::{BoxError, error_chain};

/// How long in-flight calls may run after SIGTERM/SIGINT before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The `PluginService` of one plugin.
struct Service<P> {
    plugin: Arc<P>,
    description: v1::PluginDescription,
    runtime: Arc<Runtime>,
    /// The `#[flow]` methods' flows, whose predicates errbotd asks about.
    flows: Arc<Vec<crate::Flow>>,
    /// Turns true when the process is told to stop: sessions take no more commands.
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// How many events of a session wait for the stream to take them before commands wait.
const SESSION_QUEUE: usize = 256;

fn parse_config(json: &str) -> Result<serde_json::Value, Status> {
    if json.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(json)
        .map_err(|e| Status::invalid_argument(format!("the configuration is not valid JSON: {e}")))
}

fn hook_failure(what: &str, e: &BoxError) -> Status {
    let text = error_chain(&**e);
    tracing::error!("{what} failed: {text}");
    Status::internal(text)
}

#[tonic::async_trait]
impl<P: Plugin> PluginService for Service<P> {
    async fn describe(
        &self,
        _request: Request<v1::DescribeRequest>,
    ) -> Result<Response<v1::PluginDescription>, Status> {
        Ok(Response::new(self.description.clone()))
    }

    async fn check_config(
        &self,
        request: Request<v1::ConfigRequest>,
    ) -> Result<Response<v1::CheckConfigResponse>, Status> {
        let config = parse_config(&request.into_inner().config_json)?;
        let error = self
            .plugin
            .clone()
            .check_config(config)
            .await
            .unwrap_or_default();
        Ok(Response::new(v1::CheckConfigResponse { error }))
    }

    async fn activate(
        &self,
        request: Request<v1::ActivateRequest>,
    ) -> Result<Response<v1::ActivateResponse>, Status> {
        let request = request.into_inner();
        let config = parse_config(&request.config_json)?;
        if !request.bot_prefix.is_empty() {
            // The prefix cannot change while errbotd runs; the first value wins.
            let _ = self.runtime.prefix.set(request.bot_prefix);
        }
        let ctx = ActivateContext::new(config, self.runtime.clone());
        self.plugin
            .clone()
            .activate(ctx)
            .await
            .map_err(|e| hook_failure("activation", &e))?;
        tracing::info!("activated");
        Ok(Response::new(v1::ActivateResponse {}))
    }

    async fn deactivate(
        &self,
        _request: Request<v1::DeactivateRequest>,
    ) -> Result<Response<v1::DeactivateResponse>, Status> {
        self.plugin
            .clone()
            .deactivate()
            .await
            .map_err(|e| hook_failure("deactivation", &e))?;
        Ok(Response::new(v1::DeactivateResponse {}))
    }

    type ExecuteStream = Execution;

    async fn execute(
        &self,
        request: Request<v1::ExecuteRequest>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        Execution::start(&self.plugin, request.into_inner(), &self.runtime).map(Response::new)
    }

    type SessionStream =
        tokio_stream::wrappers::ReceiverStream<Result<v1::PluginSessionEvent, Status>>;

    async fn session(
        &self,
        request: Request<tonic::Streaming<v1::PluginSessionFrame>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let (events, rx) = tokio::sync::mpsc::channel(SESSION_QUEUE);
        tokio::spawn(crate::session::serve(
            request.into_inner(),
            events,
            self.plugin.clone(),
            self.runtime.clone(),
            self.stopping.clone(),
        ));
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    async fn filter_command(
        &self,
        request: Request<v1::FilterRequest>,
    ) -> Result<Response<v1::FilterResponse>, Status> {
        let call = crate::filter::CommandCall::new(request.into_inner());
        let name = call.filter().to_owned();
        match self.plugin.clone().filter(call) {
            Some(filter) => {
                // A panic in a filter fails that call only, as for commands.
                let decision = tokio::spawn(filter).await.map_err(|e| {
                    tracing::error!("command filter {name} failed: {e}");
                    Status::internal(format!("command filter {name} panicked"))
                })?;
                Ok(Response::new(decision.into_proto()))
            }
            None => Err(Status::not_found(format!(
                "this plugin has no command filter {name:?}"
            ))),
        }
    }

    async fn poll(
        &self,
        request: Request<v1::PollRequest>,
    ) -> Result<Response<v1::PollResponse>, Status> {
        let ctx = PollContext::new(request.into_inner(), self.runtime.clone());
        let method = ctx.method().to_owned();
        let Some(tick) = self.plugin.clone().poll(ctx) else {
            return Err(Status::not_found(format!(
                "this plugin has no poller {method:?}"
            )));
        };
        // A panic fails that tick only, as for commands. When errbotd gives up on the tick (its
        // deadline) the call is dropped, and the tick with it: ticks never overlap.
        let mut task = AbortOnDrop(tokio::spawn(tick));
        match (&mut task.0).await {
            Ok(Ok(())) => Ok(Response::new(v1::PollResponse {})),
            Ok(Err(e)) => Err(hook_failure(&format!("poller {method}"), &e)),
            Err(e) => {
                tracing::error!("poller {method} failed: {e}");
                Err(Status::internal(format!("poller {method} panicked")))
            }
        }
    }

    async fn webhook(
        &self,
        request: Request<v1::WebhookRequest>,
    ) -> Result<Response<v1::WebhookResponse>, Status> {
        let request = crate::WebhookRequest::new(request.into_inner(), self.runtime.clone());
        let name = request.webhook().to_owned();
        let Some(answer) = self.plugin.clone().webhook(request) else {
            return Err(Status::not_found(format!(
                "this plugin has no webhook {name:?}"
            )));
        };
        // A panic fails that request only, as for commands.
        let mut task = AbortOnDrop(tokio::spawn(answer));
        match (&mut task.0).await {
            Ok(Ok(response)) => Ok(Response::new(response.into_proto())),
            Ok(Err(e)) => Err(hook_failure(&format!("webhook {name}"), &e)),
            Err(e) => {
                tracing::error!("webhook {name} failed: {e}");
                Err(Status::internal(format!("webhook {name} panicked")))
            }
        }
    }

    async fn flow_predicate(
        &self,
        request: Request<v1::FlowPredicateRequest>,
    ) -> Result<Response<v1::FlowPredicateResponse>, Status> {
        let request = request.into_inner();
        if !self.flows.iter().any(|f| f.name() == request.flow) {
            return Err(Status::not_found(format!(
                "this plugin has no flow {:?}",
                request.flow
            )));
        }
        // A predicate is plain code that may block: it runs beside the runtime, and a panic
        // fails that call only.
        let (flows, name) = (self.flows.clone(), request.predicate.clone());
        let evaluated = tokio::task::spawn_blocking(move || {
            let context = crate::FlowContext::from_json(&request.context_json);
            let flow = flows.iter().find(|f| f.name() == request.flow)?;
            flow.holds(&request.predicate, &context)
        })
        .await;
        let holds = evaluated
            .map_err(|_| Status::internal(format!("predicate {name} panicked")))?
            .ok_or_else(|| Status::not_found(format!("no predicate {name:?}")))?;
        Ok(Response::new(v1::FlowPredicateResponse { holds }))
    }

    async fn call(
        &self,
        request: Request<v1::PluginCallRequest>,
    ) -> Result<Response<v1::PluginCallResponse>, Status> {
        Err(Status::unimplemented(format!(
            "{} is a Rust plugin: it takes no calls from other plugins (call {:?} from {})",
            self.description.name,
            request.get_ref().name,
            request.get_ref().plugin
        )))
    }

    async fn event(
        &self,
        request: Request<v1::EventRequest>,
    ) -> Result<Response<v1::EventResponse>, Status> {
        let request = request.into_inner();
        let kind = CallbackKind::from_proto(request.callback())
            .ok_or_else(|| Status::invalid_argument("unknown callback"))?;
        let event = Event::new(kind, request, self.runtime.clone());
        self.plugin
            .clone()
            .event(event)
            .await
            .map_err(|e| hook_failure("callback", &e))?;
        Ok(Response::new(v1::EventResponse {}))
    }
}

/// Aborts a spawned task when dropped (its call was cancelled).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Logs to stderr (errbotd forwards each line to its log): plain text, no colours, no
/// timestamps (errbotd adds them), level from `RUST_LOG` (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_env_filter(filter)
        .try_init();
    // Panics are caught per command; make them visible in errbotd's log at error level.
    // One line, so that errbotd files all of it under the error level.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload_as_str()
            .unwrap_or("(no message)")
            .replace('\n', " | ");
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()));
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(
                "panicked{}: {message}\n{backtrace}",
                location.unwrap_or_default()
            );
        } else {
            tracing::error!("panicked{}: {message}", location.unwrap_or_default());
        }
    }));
}

/// Resolves on SIGTERM or SIGINT.
async fn termination() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Serves `plugin` as errbotd's child: the whole `main` of a plugin.
///
/// Reads the child contract from the environment (exit code 2 with a message on stderr when the
/// program was not started by errbotd), logs to stderr, serves `PluginService` and the gRPC
/// health service on the contract's socket, and returns [`ExitCode::SUCCESS`] after SIGTERM or
/// SIGINT.
pub async fn serve<P: Plugin>(plugin: P) -> ExitCode {
    init_tracing();
    let env = match ChildEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match serve_with_shutdown(plugin, &env, termination()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{}", error_chain(&*e));
            ExitCode::FAILURE
        }
    }
}

/// Like [`serve`] with the contract given and a shutdown signal of your choice (for tests and
/// embedding); does not install logging.
pub async fn serve_with_shutdown<P: Plugin>(
    plugin: P,
    env: &ChildEnv,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    if !env.protocol_versions.iter().any(|v| v == PROTOCOL_VERSION) {
        return Err(format!(
            "errbotd speaks {} but this plugin speaks {PROTOCOL_VERSION}",
            env.protocol_versions.join(", ")
        )
        .into());
    }
    let mut description = plugin.describe();
    description.protocol_version = PROTOCOL_VERSION.to_owned();
    description.serves_session = true;
    let flows = plugin.flows();
    description.flows = flows.iter().map(|f| f.spec().clone()).collect();
    check_description(&description, env)?;

    let bot = Bot::connect(&env.bot_socket, &env.token)?;
    let runtime = Arc::new(Runtime {
        bot,
        prefix: OnceLock::new(),
    });
    let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
    let service = Service {
        plugin: Arc::new(plugin),
        description,
        runtime,
        flows: Arc::new(flows),
        stopping: stopping_rx,
    };

    let incoming = errbot_proto::transport::bind(&env.socket)
        .map_err(|e| format!("cannot serve on {}: {e}", env.socket))?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<PluginServiceServer<Service<P>>>()
        .await;
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(PluginServiceServer::new(service))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stop_rx.await;
        });
    tracing::info!(name = %env.name, socket = %env.socket, "serving");

    tokio::pin!(server);
    tokio::pin!(shutdown);
    let result = tokio::select! {
        result = &mut server => result,
        () = &mut shutdown => {
            tracing::info!("stopping");
            // Sessions end once their commands under way have, so that the server can stop.
            let _ = stopping.send(true);
            let _ = stop_tx.send(());
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("in-flight calls did not finish within {SHUTDOWN_GRACE:?}");
                    Ok(())
                }
            }
        }
    };
    if let Ok(errbot_proto::transport::Address::Unix(path)) =
        errbot_proto::transport::Address::parse(&env.socket)
    {
        let _ = std::fs::remove_file(path);
    }
    result.map_err(|e| format!("serving failed: {e}").into())
}

/// Catches mistakes in what `#[plugin]` was given, at start rather than at `!plugin config`.
fn check_description(description: &v1::PluginDescription, env: &ChildEnv) -> Result<(), BoxError> {
    if !description.config_template_json.is_empty() {
        serde_json::from_str::<serde_json::Value>(&description.config_template_json).map_err(
            |e| {
                format!(
                    "config_template of plugin {} is not valid JSON: {e}",
                    description.name
                )
            },
        )?;
    }
    if !env.name.is_empty() && !env.name.eq_ignore_ascii_case(&description.name) {
        tracing::warn!(
            "errbotd knows this plugin as {:?} but it calls itself {:?}; check plugin.toml",
            env.name,
            description.name
        );
    }
    Ok(())
}
