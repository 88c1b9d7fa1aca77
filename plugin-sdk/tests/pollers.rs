//! Pollers in the SDK: `start_poller` / `stop_poller` as errbotd receives them (a fake
//! BotService records the calls), and `#[poller]` methods dispatched by `Poll` over a real Unix
//! socket.

use std::sync::Mutex;
use std::time::Duration;

use errbot_plugin_sdk::prelude::*;
use errbot_plugin_sdk::proto::bot_service_server::{BotService, BotServiceServer};
use errbot_plugin_sdk::proto::plugin_service_client::PluginServiceClient;
use errbot_plugin_sdk::proto::{self as v1};
use errbot_plugin_sdk::serde_json::json;
use errbot_proto::contract::ChildEnv;
use tonic::{Code, Request, Response, Status};

#[derive(Default)]
struct Ticker {
    seen: Mutex<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct Where {
    room: String,
}

/// Pollers of every shape.
#[plugin(name = "ticker")]
impl Ticker {
    #[activate]
    async fn start(&self, ctx: &ActivateContext) -> Result<(), BotError> {
        let again = ctx
            .start_poller(
                Duration::from_millis(250),
                "count",
                Some(3),
                json!({"room": "#x"}),
            )
            .await?;
        self.seen
            .lock()
            .unwrap()
            .push(format!("started again={again}"));
        ctx.start_poller(Duration::from_secs(2), "quiet", None, ())
            .await?;
        Ok(())
    }

    /// Stops `count`.
    #[command]
    async fn halt(&self, ctx: &Context) -> Result<String, BotError> {
        let stopped = ctx.stop_poller("count", json!({"room": "#x"})).await?;
        Ok(format!("stopped={stopped}"))
    }

    /// Asks for a poller that runs zero times.
    #[command]
    async fn never(&self, ctx: &Context) -> String {
        match ctx
            .start_poller(Duration::from_secs(1), "count", Some(0), ())
            .await
        {
            Ok(_) => "started".into(),
            Err(e) => e.message().to_owned(),
        }
    }

    /// Lists the pollers.
    #[command]
    async fn list(&self, ctx: &Context) -> Result<String, BotError> {
        let pollers = ctx.bot().pollers().await?;
        let lines: Vec<String> = pollers
            .iter()
            .map(|p| {
                format!(
                    "{} {} {:?} {:?} {} {} {:?} {:?} {}",
                    p.method,
                    p.args_json,
                    p.interval,
                    p.times,
                    p.ticks,
                    p.failures,
                    p.last_error,
                    p.next_in,
                    p.running
                )
            })
            .collect();
        Ok(lines.join("\n"))
    }

    /// Records its tick and arguments; fails on the second tick.
    #[poller]
    async fn count(&self, ctx: &PollContext) -> Result<(), String> {
        let args: Where = ctx.args().map_err(|e| e.to_string())?;
        self.seen.lock().unwrap().push(format!(
            "{} tick {} in {}",
            ctx.method(),
            ctx.tick(),
            args.room
        ));
        if ctx.tick() == 2 {
            return Err("the second tick fails".into());
        }
        Ok(())
    }

    /// Takes nothing, synchronous, served under another name.
    #[poller(name = "quiet")]
    fn hush(&self) {
        self.seen.lock().unwrap().push("quiet".into());
    }

    /// Panics.
    #[poller]
    fn boom(&self, ctx: &PollContext) {
        let none: Option<u64> = ctx.args().expect("null reads as None");
        panic!("boom {none:?}");
    }

    /// Runs for long: cancelled when errbotd gives up.
    #[poller]
    async fn sleepy(&self) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.seen.lock().unwrap().push("sleepy woke up".into());
    }

    /// What the pollers saw.
    #[command]
    fn journal(&self) -> String {
        self.seen.lock().unwrap().join("; ")
    }
}

/// errbotd's side of the poller calls: records them, answers like errbotd.
#[derive(Default)]
struct FakeBot {
    calls: Mutex<Vec<String>>,
}

#[tonic::async_trait]
impl BotService for FakeBot {
    async fn send(
        &self,
        _: Request<v1::BotSendRequest>,
    ) -> Result<Response<v1::BotSendResponse>, Status> {
        Err(Status::unimplemented("send"))
    }
    async fn warn_admins(
        &self,
        _: Request<v1::WarnAdminsRequest>,
    ) -> Result<Response<v1::WarnAdminsResponse>, Status> {
        Err(Status::unimplemented("warn_admins"))
    }
    async fn status(
        &self,
        _: Request<v1::BotStatusRequest>,
    ) -> Result<Response<v1::BotStatusResponse>, Status> {
        Err(Status::unimplemented("status"))
    }
    async fn call_plugin(
        &self,
        _: Request<v1::PluginCallRequest>,
    ) -> Result<Response<v1::PluginCallResponse>, Status> {
        Err(Status::unimplemented("call_plugin"))
    }
    async fn set_dynamic_plugins(
        &self,
        _: Request<v1::SetDynamicPluginsRequest>,
    ) -> Result<Response<v1::SetDynamicPluginsResponse>, Status> {
        Err(Status::unimplemented("set_dynamic_plugins"))
    }
    async fn build_identifier(
        &self,
        _: Request<v1::BotBuildIdentifierRequest>,
    ) -> Result<Response<v1::Identifier>, Status> {
        Err(Status::unimplemented("build_identifier"))
    }
    async fn send_file(
        &self,
        _: Request<tonic::Streaming<v1::FileChunk>>,
    ) -> Result<Response<v1::BotSendResponse>, Status> {
        Err(Status::unimplemented("send_file"))
    }
    async fn react(
        &self,
        _: Request<v1::BotReactRequest>,
    ) -> Result<Response<v1::BotReactResponse>, Status> {
        Err(Status::unimplemented("react"))
    }
    async fn set_presence(
        &self,
        _: Request<v1::BotPresenceRequest>,
    ) -> Result<Response<v1::BotPresenceResponse>, Status> {
        Err(Status::unimplemented("set_presence"))
    }
    async fn start_poller(
        &self,
        req: Request<v1::StartPollerRequest>,
    ) -> Result<Response<v1::StartPollerResponse>, Status> {
        let token = req
            .metadata()
            .get("x-errbot-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let r = req.into_inner();
        let mut calls = self.calls.lock().unwrap();
        let already_running = calls
            .iter()
            .any(|c| c.starts_with(&format!("start {} ", r.method)));
        calls.push(format!(
            "start {} every {} s times {} args {:?} token {token}",
            r.method, r.interval_secs, r.times, r.args_json
        ));
        Ok(Response::new(v1::StartPollerResponse { already_running }))
    }
    async fn stop_poller(
        &self,
        req: Request<v1::StopPollerRequest>,
    ) -> Result<Response<v1::StopPollerResponse>, Status> {
        let r = req.into_inner();
        self.calls
            .lock()
            .unwrap()
            .push(format!("stop {} args {:?}", r.method, r.args_json));
        Ok(Response::new(v1::StopPollerResponse { stopped: true }))
    }
    async fn list_pollers(
        &self,
        _: Request<v1::ListPollersRequest>,
    ) -> Result<Response<v1::ListPollersResponse>, Status> {
        Ok(Response::new(v1::ListPollersResponse {
            pollers: vec![v1::PollerInfo {
                plugin: "ticker".into(),
                method: "count".into(),
                args_json: r##"{"room":"#x"}"##.into(),
                interval_secs: 0.25,
                times: 3,
                ticks: 2,
                failures: 1,
                last_error: "the second tick fails".into(),
                next_in_secs: 0.125,
                running: false,
            }],
        }))
    }
}

async fn command(
    client: &mut PluginServiceClient<tonic::transport::Channel>,
    name: &str,
) -> String {
    let req = v1::ExecuteRequest {
        command: name.into(),
        message: Some(v1::Message::default()),
        ..Default::default()
    };
    let mut stream = client.execute(req).await.unwrap().into_inner();
    let mut texts = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        if let Some(v1::content::Kind::Markdown(t)) = reply.content.and_then(|c| c.kind) {
            texts.push(t);
        }
    }
    texts.join("\n")
}

fn poll(method: &str, args_json: &str, tick: u64) -> v1::PollRequest {
    v1::PollRequest {
        method: method.into(),
        args_json: args_json.into(),
        tick,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pollers_are_started_stopped_and_dispatched() {
    let dir = std::env::temp_dir().join(format!("errbot-sdk-pollers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bot_socket = format!("unix:{}", dir.join("bot.sock").display());
    let fake = std::sync::Arc::new(FakeBot::default());
    let incoming = errbot_proto::transport::bind(&bot_socket).unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(BotServiceServer::from_arc(fake.clone()))
        .serve_with_incoming(incoming);
    let bot_task = tokio::spawn(server);

    let socket = format!("unix:{}", dir.join("p.sock").display());
    let env = ChildEnv {
        socket: socket.clone(),
        bot_socket,
        token: "tok".into(),
        name: "ticker".into(),
        protocol_versions: vec!["errbot.v1".into()],
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let plugin_task = tokio::spawn(async move {
        errbot_plugin_sdk::serve_with_shutdown(Ticker::default(), &env, async {
            let _ = stopped.await;
        })
        .await
    });
    let channel = errbot_proto::transport::channel(&socket).unwrap();
    let mut c = PluginServiceClient::new(channel);
    let mut described = None;
    for _ in 0..500 {
        if let Ok(d) = c.describe(v1::DescribeRequest::default()).await {
            described = Some(d.into_inner());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(described.is_some(), "the plugin serves");

    // Activate starts the pollers: what errbotd receives.
    c.activate(v1::ActivateRequest::default()).await.unwrap();
    c.activate(v1::ActivateRequest::default()).await.unwrap();
    assert_eq!(
        *fake.calls.lock().unwrap(),
        [
            r##"start count every 0.25 s times 3 args "{\"room\":\"#x\"}" token tok"##,
            r#"start quiet every 2 s times 0 args "null" token tok"#,
            r##"start count every 0.25 s times 3 args "{\"room\":\"#x\"}" token tok"##,
            r#"start quiet every 2 s times 0 args "null" token tok"#,
        ]
    );
    assert_eq!(command(&mut c, "halt").await, "stopped=true");
    assert_eq!(
        fake.calls.lock().unwrap().last().map(String::as_str),
        Some(r##"stop count args "{\"room\":\"#x\"}""##)
    );
    assert_eq!(
        command(&mut c, "never").await,
        "a poller runs at least once: give `None` to run it until stopped"
    );

    assert_eq!(
        command(&mut c, "list").await,
        r##"count {"room":"#x"} 250ms Some(3) 2 1 "the second tick fails" 125ms false"##
    );

    // Poll dispatches by name.
    let args = r##"{"room":"#x"}"##;
    c.poll(poll("count", args, 1)).await.unwrap();
    let failed = c.poll(poll("count", args, 2)).await.unwrap_err();
    assert_eq!(
        (failed.code(), failed.message()),
        (Code::Internal, "the second tick fails")
    );
    c.poll(poll("quiet", "", 3)).await.unwrap();
    let unknown = c.poll(poll("hush", "", 1)).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert!(
        unknown.message().contains("no poller \"hush\""),
        "{unknown:?}"
    );
    let panicked = c.poll(poll("boom", "", 1)).await.unwrap_err();
    assert_eq!(
        (panicked.code(), panicked.message()),
        (Code::Internal, "poller boom panicked")
    );
    let bad_args = c.poll(poll("count", "[1]", 4)).await.unwrap_err();
    assert_eq!(bad_args.code(), Code::Internal, "{bad_args:?}");

    // A tick errbotd gives up on (its deadline: the call is dropped) stops in the plugin too.
    let late = tokio::time::timeout(Duration::from_millis(50), c.poll(poll("sleepy", "", 1))).await;
    assert!(late.is_err(), "{late:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(
        command(&mut c, "journal").await,
        "started again=false; started again=true; count tick 1 in #x; count tick 2 in #x; quiet"
    );

    stop.send(()).unwrap();
    plugin_task.await.unwrap().unwrap();
    bot_task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
