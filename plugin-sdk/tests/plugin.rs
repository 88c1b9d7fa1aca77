//! The code `#[plugin]` generates: the description it declares, and the behaviour of a plugin
//! served in-process on a real Unix socket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use errbot_plugin_sdk::Plugin;
use errbot_plugin_sdk::prelude::*;
use errbot_plugin_sdk::proto::plugin_service_client::PluginServiceClient;
use errbot_plugin_sdk::proto::{
    self as v1, ArgMode, Callback, ParamKind, ParamType, command_spec::Kind,
};
use errbot_proto::contract::ChildEnv;
use tonic::transport::Channel;

#[derive(Default)]
struct Kitchen {
    events: Mutex<Vec<String>>,
    activations: AtomicUsize,
}

/// Every feature of the macros.
///
/// Second paragraph.
#[plugin(
    name = "Kitchen",
    version = "9.9.9",
    config_template = r#"{"oven": "gas"}"#,
    depends_on = ["Pantry", "Fridge"]
)]
impl Kitchen {
    /// Bake things.
    ///
    /// Longer help with `code`.
    #[command(
        name = "bake cake",
        admin_only,
        historize = false,
        syntax = "<flavour>"
    )]
    async fn bake(&self, ctx: &Context, #[arg(help = "what kind")] flavour: &str) -> String {
        format!(
            "{} bakes a {flavour} cake (admin: {})",
            ctx.sender_nick(),
            ctx.is_admin()
        )
    }

    /// Typed parameters of every kind.
    #[command]
    fn mix(
        &self,
        count: u8,
        ratio: f64,
        #[arg(long, short = 'v', help = "talk more")] verbose: bool,
        #[arg(long = "temp", default = 180)] temperature: i32,
        #[arg(long, choices = ["fast", "slow"])] speed: Option<String>,
        #[arg(short = 'i')] ingredient: Vec<String>,
        names: Vec<&str>,
    ) -> Vec<String> {
        vec![
            format!("count={count} ratio={ratio} verbose={verbose} temp={temperature}"),
            format!("speed={speed:?} ingredients={ingredient:?} names={names:?}"),
        ]
    }

    /// Rest of the line.
    #[command(hidden, flow_only)]
    async fn say(&self, times: Option<u32>, text: Option<Rest>) -> Option<String> {
        text.map(|t| t.repeat(times.unwrap_or(1) as usize))
    }

    /// Raw arguments, split on commas.
    #[command(split = ",", max_split = 2)]
    async fn plugin_config(&self, args: Args<'_>) -> String {
        format!("raw={:?} argv={:?}", args.as_str(), args.argv())
    }

    /// Shell split.
    #[command(shell)]
    async fn shell(&self, args: &Args<'_>) -> Card {
        Card::new("argv")
            .body(args.argv().join("|"))
            .color("green")
            .field("n", args.argv().len().to_string())
    }

    /// Every number.
    #[re_command(pattern = r"(?P<n>\d+)", multi_line, dot_all)]
    async fn numbers(&self, matches: &[Match]) -> String {
        let ns: Vec<&str> = matches.iter().filter_map(|m| m.name("n")).collect();
        ns.join("+")
    }

    /// A greeting anywhere.
    #[re_command(
        pattern = "hi (\\w+)",
        case_insensitive,
        prefixed = false,
        name = "hi there"
    )]
    async fn greeting(&self, m: &Match) -> Result<String, CommandError> {
        m.group(1)
            .map(|who| format!("hi {who}"))
            .ok_or_else(|| CommandError::new("nobody"))
    }

    /// Streams, then fails like Errbot's CommandError.
    #[command]
    async fn burn(&self, ctx: &Context) -> Result<(), CommandError> {
        ctx.reply("smoke").await;
        ctx.reply(Reply::text("fire").private()).await;
        Err(CommandError::new("the cake burnt"))
    }

    /// The forecast, through the template `forecast` (templates/forecast.md).
    #[command(template = "forecast")]
    async fn forecast(&self) -> Reply {
        Reply::template("", serde_json::json!({"city": "Paris", "days": [1, 2]})).in_thread()
    }

    /// A plugin failure with an error chain.
    #[command]
    async fn explode(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Err("gas leak".into())
    }

    /// Replies from a spawned task while the command waits for it.
    #[command]
    async fn helpers(&self, ctx: &Context) -> &'static str {
        let ctx2 = ctx.clone();
        let task = tokio::spawn(async move {
            for i in 0..3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ctx2.reply(format!("helper {i}")).await;
            }
        });
        let _ = task.await;
        "done"
    }

    /// Takes long.
    #[command]
    async fn slow(&self) -> &'static str {
        tokio::time::sleep(Duration::from_millis(200)).await;
        "slept"
    }

    #[activate]
    async fn start(&self, ctx: &ActivateContext) -> Result<(), String> {
        self.activations.fetch_add(1, Ordering::SeqCst);
        if ctx.config().get("oven").and_then(|v| v.as_str()) == Some("broken") {
            return Err("the oven is broken".to_owned());
        }
        self.events
            .lock()
            .unwrap()
            .push(format!("activate prefix={}", ctx.bot_prefix()));
        Ok(())
    }

    #[deactivate]
    fn stop(&self) {
        self.events.lock().unwrap().push("deactivate".into());
    }

    #[check_config]
    fn check(&self, config: &serde_json::Value) -> Result<(), String> {
        match config.get("oven").and_then(|v| v.as_str()) {
            Some("gas" | "electric") => Ok(()),
            other => Err(format!("unknown oven {other:?}")),
        }
    }

    #[callback(message, mention)]
    async fn on_message(&self, event: &Event) {
        let body = event
            .message()
            .map(|m| m.body().to_owned())
            .unwrap_or_default();
        self.events
            .lock()
            .unwrap()
            .push(format!("{:?}: {body}", event.kind()));
    }

    #[callback(room_topic)]
    async fn on_topic(&self, event: &Event) -> Result<(), std::io::Error> {
        if event.detail().is_empty() {
            return Err(std::io::Error::other("empty topic"));
        }
        self.events
            .lock()
            .unwrap()
            .push(format!("topic: {}", event.detail()));
        Ok(())
    }

    /// What the hooks and callbacks saw.
    #[command]
    fn journal(&self) -> String {
        format!(
            "{} activations; {}",
            self.helper(),
            self.events.lock().unwrap().join("; ")
        )
    }

    /// Not a command: helpers stay plain methods.
    fn helper(&self) -> usize {
        self.activations.load(Ordering::SeqCst)
    }
}

#[test]
fn description_declares_everything() {
    let d = Kitchen::default().describe();
    assert_eq!(d.name, "Kitchen");
    assert_eq!(
        d.description,
        "Every feature of the macros.\n\nSecond paragraph."
    );
    assert_eq!(d.version, "9.9.9");
    assert_eq!(d.protocol_version, "errbot.v1");
    assert_eq!(d.config_template_json, r#"{"oven": "gas"}"#);
    assert_eq!(d.depends_on, ["Pantry", "Fridge"]);
    assert_eq!(
        d.callbacks,
        [
            Callback::Message as i32,
            Callback::Mention as i32,
            Callback::RoomTopic as i32
        ]
    );
    let names: Vec<&str> = d.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "bake_cake",
            "mix",
            "say",
            "plugin_config",
            "shell",
            "numbers",
            "hi_there",
            "burn",
            "forecast",
            "explode",
            "helpers",
            "slow",
            "journal"
        ]
    );

    let forecast = d
        .commands
        .iter()
        .find(|c| c.name == "forecast")
        .expect("forecast");
    assert_eq!(forecast.template, "forecast");
    assert_eq!(d.commands[0].template, "");

    let bake = &d.commands[0];
    assert_eq!(bake.help, "Bake things.\n\nLonger help with `code`.");
    assert!(bake.admin_only && !bake.historize && !bake.hidden && !bake.flow_only);
    assert_eq!(bake.syntax, "<flavour>");
    let Some(Kind::Plain(plain)) = &bake.kind else {
        panic!("plain")
    };
    assert_eq!(plain.arg_mode(), ArgMode::Raw);
    assert_eq!(plain.params.len(), 1);
    assert_eq!(plain.params[0].name, "flavour");
    assert_eq!(plain.params[0].help, "what kind");
    assert_eq!(plain.params[0].r#type(), ParamType::String);
    assert!(plain.params[0].required);

    let Some(Kind::Plain(mix)) = &d.commands[1].kind else {
        panic!("plain")
    };
    let p: HashMap<&str, &v1::ParamSpec> =
        mix.params.iter().map(|p| (p.name.as_str(), p)).collect();
    assert_eq!(
        mix.params
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        [
            "count",
            "ratio",
            "verbose",
            "temperature",
            "speed",
            "ingredient",
            "names"
        ]
    );
    assert_eq!(p["count"].r#type(), ParamType::Integer);
    assert_eq!(p["count"].kind(), ParamKind::Positional);
    assert!(p["count"].required);
    assert_eq!(p["ratio"].r#type(), ParamType::Float);
    assert_eq!(p["verbose"].kind(), ParamKind::Flag);
    assert_eq!(p["verbose"].r#type(), ParamType::Boolean);
    assert_eq!(
        (p["verbose"].short.as_str(), p["verbose"].help.as_str()),
        ("v", "talk more")
    );
    assert!(!p["verbose"].required);
    assert_eq!(p["temperature"].kind(), ParamKind::Option);
    assert_eq!(p["temperature"].long, "temp");
    assert_eq!(p["temperature"].default_value, "180");
    assert!(!p["temperature"].required);
    assert_eq!(p["speed"].choices, ["fast", "slow"]);
    assert!(!p["speed"].required);
    assert_eq!(p["speed"].long, "");
    assert_eq!(p["ingredient"].kind(), ParamKind::Option);
    assert!(p["ingredient"].multiple && !p["ingredient"].required);
    assert_eq!(p["names"].kind(), ParamKind::Positional);
    assert!(p["names"].multiple);

    let say = &d.commands[2];
    assert!(say.hidden && say.flow_only && say.historize);
    let Some(Kind::Plain(say)) = &say.kind else {
        panic!("plain")
    };
    assert!(!say.params[0].rest && say.params[1].rest && !say.params[1].required);

    let Some(Kind::Plain(pc)) = &d.commands[3].kind else {
        panic!("plain")
    };
    assert_eq!(
        (pc.arg_mode(), pc.separator.as_str(), pc.max_split),
        (ArgMode::Split, ",", 2)
    );
    assert!(pc.params.is_empty());
    let Some(Kind::Plain(sh)) = &d.commands[4].kind else {
        panic!("plain")
    };
    assert_eq!(sh.arg_mode(), ArgMode::Shell);

    let Some(Kind::Regex(numbers)) = &d.commands[5].kind else {
        panic!("regex")
    };
    assert_eq!(numbers.pattern, r"(?P<n>\d+)");
    assert!(numbers.match_all && numbers.multi_line && numbers.dot_all && numbers.prefixed);
    assert!(!numbers.case_insensitive);
    let Some(Kind::Regex(hi)) = &d.commands[6].kind else {
        panic!("regex")
    };
    assert!(hi.case_insensitive && !hi.prefixed && !hi.match_all);
    assert_eq!(
        d.commands[10].help,
        "Replies from a spawned task while the command waits for it."
    );
}

// ---- served in-process ----

struct Served {
    client: PluginServiceClient<Channel>,
    plugin_stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), errbot_plugin_sdk::BoxError>>,
    dir: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve_kitchen(tag: &str) -> Served {
    let dir = std::env::temp_dir().join(format!("errbot-sdk-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = format!("unix:{}", dir.join("p.sock").display());
    let env = ChildEnv {
        socket: socket.clone(),
        bot_socket: format!("unix:{}", dir.join("missing.sock").display()),
        token: "secret".into(),
        name: "Kitchen".into(),
        protocol_versions: vec!["errbot.v1".into()],
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        errbot_plugin_sdk::serve_with_shutdown(Kitchen::default(), &env, async {
            let _ = rx.await;
        })
        .await
    });
    let channel = errbot_proto::transport::channel(&socket).unwrap();
    let mut health =
        errbot_proto::tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for _ in 0..500 {
        let req = errbot_proto::tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        };
        if let Ok(r) = health.check(req).await
            && r.get_ref().status == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Served {
        client: PluginServiceClient::new(channel),
        plugin_stop: Some(tx),
        task,
        dir,
    }
}

#[derive(Debug, PartialEq)]
enum Out {
    Text(String),
    Private(String),
    Error(String),
    Card(String, String),
    Template(String, String),
}

fn request(command: &str, params: &[(&str, &[&str])]) -> v1::ExecuteRequest {
    v1::ExecuteRequest {
        command: command.into(),
        message: Some(v1::Message {
            from: Some(v1::Identifier {
                person: "@ada".into(),
                nick: "ada".into(),
                ..Default::default()
            }),
            body: "!whatever".into(),
            direct: true,
            ..Default::default()
        }),
        params: params
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v1::ParamValues {
                        values: v.iter().map(|s| s.to_string()).collect(),
                    },
                )
            })
            .collect(),
        ..Default::default()
    }
}

async fn run(
    client: &mut PluginServiceClient<Channel>,
    req: v1::ExecuteRequest,
) -> Result<Vec<Out>, tonic::Status> {
    let mut stream = client.execute(req).await?.into_inner();
    let mut out = Vec::new();
    while let Some(reply) = stream.message().await? {
        let item = match reply.content.and_then(|c| c.kind) {
            Some(v1::content::Kind::Markdown(t)) if reply.error => Out::Error(t),
            Some(v1::content::Kind::Markdown(t)) if reply.private => Out::Private(t),
            Some(v1::content::Kind::Markdown(t)) => Out::Text(t),
            Some(v1::content::Kind::Card(c)) => Out::Card(c.title, c.body),
            Some(v1::content::Kind::Template(t)) => Out::Template(t.name, t.params_json),
            None => panic!("reply without content"),
        };
        out.push(item);
    }
    Ok(out)
}

fn texts(items: &[&str]) -> Vec<Out> {
    items.iter().map(|t| Out::Text(t.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_hooks_and_callbacks_over_the_socket() {
    let mut s = serve_kitchen("main").await;
    let c = &mut s.client;

    let d = c
        .describe(v1::DescribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.commands.len(), 13);

    // Configuration check and activation.
    let check = |json: &str| v1::ConfigRequest {
        config_json: json.into(),
    };
    assert_eq!(
        c.check_config(check(r#"{"oven":"gas"}"#))
            .await
            .unwrap()
            .into_inner()
            .error,
        ""
    );
    assert_eq!(
        c.check_config(check(r#"{"oven":"coal"}"#))
            .await
            .unwrap()
            .into_inner()
            .error,
        r#"unknown oven Some("coal")"#
    );
    assert_eq!(
        c.check_config(check("{nope")).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    let err = c
        .activate(v1::ActivateRequest {
            config_json: r#"{"oven":"broken"}"#.into(),
            bot_prefix: "?".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (tonic::Code::Internal, "the oven is broken")
    );
    c.activate(v1::ActivateRequest {
        config_json: String::new(),
        bot_prefix: "?".into(),
    })
    .await
    .unwrap();

    // Typed parameters.
    let mut bake = request("bake_cake", &[("flavour", &["lemon"])]);
    bake.sender_is_admin = true;
    assert_eq!(
        run(c, bake).await.unwrap(),
        texts(&["ada bakes a lemon cake (admin: true)"])
    );
    let mix = request(
        "mix",
        &[
            ("count", &["3"]),
            ("ratio", &["0.5"]),
            ("verbose", &["true"]),
            ("temperature", &["200"]),
            ("ingredient", &["egg", "milk"]),
            ("names", &["a", "b"]),
        ],
    );
    assert_eq!(
        run(c, mix).await.unwrap(),
        texts(&[
            "count=3 ratio=0.5 verbose=true temp=200",
            r#"speed=None ingredients=["egg", "milk"] names=["a", "b"]"#
        ])
    );
    // A value errbotd accepted as an integer but that does not fit the Rust type.
    let mix = request(
        "mix",
        &[
            ("count", &["300"]),
            ("ratio", &["1"]),
            ("temperature", &["1"]),
        ],
    );
    assert_eq!(
        run(c, mix).await.unwrap(),
        [Out::Error(
            "I couldn't parse the arguments; argument count: invalid value: '300' (number too large to fit in target type)"
                .into()
        )]
    );
    let mix = request("mix", &[("ratio", &["1"])]);
    assert_eq!(
        run(c, mix).await.unwrap(),
        [Out::Error(
            "I couldn't parse the arguments; the following arguments are required: count".into()
        )]
    );
    assert_eq!(
        run(
            c,
            request("say", &[("text", &["hey  you "]), ("times", &["2"])])
        )
        .await
        .unwrap(),
        texts(&["hey  you hey  you "])
    );
    assert_eq!(run(c, request("say", &[])).await.unwrap(), []);

    // Raw arguments.
    let mut pc = request("plugin_config", &[]);
    pc.args = "a, b,c,d".into();
    pc.argv = vec!["a".into(), " b".into(), "c,d".into()];
    assert_eq!(
        run(c, pc).await.unwrap(),
        texts(&[r#"raw="a, b,c,d" argv=["a", " b", "c,d"]"#])
    );
    // A template reply: unnamed (the command's declared template), parameters as JSON.
    assert_eq!(
        run(c, request("forecast", &[])).await.unwrap(),
        [Out::Template(
            String::new(),
            r#"{"city":"Paris","days":[1,2]}"#.into()
        )]
    );
    let mut sh = request("shell", &[]);
    sh.argv = vec!["x y".into(), "z".into()];
    assert_eq!(
        run(c, sh).await.unwrap(),
        [Out::Card("argv".into(), "x y|z".into())]
    );

    // Regex commands.
    let mut numbers = request("numbers", &[]);
    for n in ["1", "22"] {
        numbers.matches.push(v1::RegexMatch {
            text: n.into(),
            groups: vec![n.into()],
            named: [("n".to_owned(), n.to_owned())].into(),
        });
    }
    assert_eq!(run(c, numbers).await.unwrap(), texts(&["1+22"]));
    let mut hi = request("hi_there", &[]);
    hi.matches.push(v1::RegexMatch {
        text: "hi bob".into(),
        groups: vec!["bob".into()],
        ..Default::default()
    });
    assert_eq!(run(c, hi).await.unwrap(), texts(&["hi bob"]));
    assert_eq!(
        run(c, request("hi_there", &[])).await.unwrap(),
        [Out::Error("nobody".into())]
    );

    // Streaming, command errors, failures.
    assert_eq!(
        run(c, request("burn", &[])).await.unwrap(),
        [
            Out::Text("smoke".into()),
            Out::Private("fire".into()),
            Out::Error("the cake burnt".into())
        ]
    );
    let err = run(c, request("explode", &[])).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (tonic::Code::Internal, "gas leak")
    );
    assert_eq!(
        run(c, request("helpers", &[])).await.unwrap(),
        texts(&["helper 0", "helper 1", "helper 2", "done"])
    );
    let err = run(c, request("nope", &[])).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    // Commands run concurrently: ten slow ones take about as long as one.
    let started = std::time::Instant::now();
    let mut calls = Vec::new();
    for _ in 0..10 {
        let mut client = c.clone();
        calls.push(tokio::spawn(async move {
            run(&mut client, request("slow", &[])).await
        }));
    }
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), texts(&["slept"]));
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );

    // Callbacks.
    let event = |callback: Callback, body: &str, detail: &str| v1::EventRequest {
        callback: callback as i32,
        message: Some(v1::Message {
            body: body.into(),
            ..Default::default()
        }),
        detail: detail.into(),
        ..Default::default()
    };
    c.event(event(Callback::Message, "hello all", ""))
        .await
        .unwrap();
    c.event(event(Callback::Mention, "@bob hi", ""))
        .await
        .unwrap();
    c.event(event(Callback::RoomTopic, "", "Cakes"))
        .await
        .unwrap();
    let err = c
        .event(event(Callback::RoomTopic, "", ""))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (tonic::Code::Internal, "empty topic")
    );
    // Not declared: ignored.
    c.event(event(Callback::Presence, "", "away"))
        .await
        .unwrap();
    c.deactivate(v1::DeactivateRequest {}).await.unwrap();
    assert_eq!(
        run(c, request("journal", &[])).await.unwrap(),
        texts(&[
            "2 activations; activate prefix=?; Message: hello all; Mention: @bob hi; topic: Cakes; deactivate"
        ])
    );

    s.plugin_stop.take().unwrap().send(()).unwrap();
    (&mut s.task).await.unwrap().unwrap();
    assert!(!s.dir.join("p.sock").exists(), "socket removed on shutdown");
}

#[tokio::test]
async fn hooks_can_be_called_directly() {
    let kitchen = std::sync::Arc::new(Kitchen::default());
    let refusal = kitchen
        .clone()
        .check_config(serde_json::json!({"oven": "electric"}))
        .await;
    assert_eq!(refusal, None);
    let refusal = kitchen.clone().check_config(serde_json::Value::Null).await;
    assert_eq!(refusal.as_deref(), Some("unknown oven None"));
    kitchen.clone().deactivate().await.unwrap();
    assert_eq!(*kitchen.events.lock().unwrap(), ["deactivate"]);
    assert_eq!(kitchen.helper(), 0);
}

/// Command filters: two methods, one renamed, sync and async, `Filter` and `Option<Filter>`.
struct Guard;

#[plugin(name = "guard")]
impl Guard {
    /// Refuses `!drop`.
    #[cmd_filter]
    async fn no_drop(&self, call: &CommandCall) -> Filter {
        if call.command() == "drop" {
            Filter::deny(format!("{} may not drop", call.sender().person()))
        } else {
            Filter::pass()
        }
    }

    /// Upper-cases the arguments of `!echo`.
    #[cmd_filter(name = "loud")]
    fn shout(&self, call: &CommandCall) -> Option<Filter> {
        (call.command() == "echo").then(|| Filter::with_args(call.args().to_uppercase()))
    }
}

#[tokio::test]
async fn command_filters_are_declared_and_dispatched() {
    let guard = std::sync::Arc::new(Guard);
    let d = guard.describe();
    let declared: Vec<(&str, &str)> = d
        .command_filters
        .iter()
        .map(|f| (f.name.as_str(), f.help.as_str()))
        .collect();
    assert_eq!(
        declared,
        [
            ("no_drop", "Refuses `!drop`."),
            ("loud", "Upper-cases the arguments of `!echo`.")
        ]
    );
    let call = |filter: &str, command: &str, args: &str| {
        CommandCall::new(v1::FilterRequest {
            filter: filter.into(),
            command: command.into(),
            args: args.into(),
            message: Some(v1::Message {
                from: Some(v1::Identifier {
                    person: "@ana".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    };
    let run = |c: CommandCall| guard.clone().filter(c).expect("a declared filter");
    let blocked = run(call("no_drop", "drop", "")).await.into_proto();
    assert_eq!(blocked.action(), v1::filter_response::Action::Block);
    assert_eq!(blocked.reply, "@ana may not drop");
    let passed = run(call("no_drop", "echo", "x")).await.into_proto();
    assert_eq!(passed, Filter::pass().into_proto());
    let loud = run(call("loud", "echo", "hi")).await.into_proto();
    assert_eq!(
        (loud.action(), loud.args.as_deref()),
        (v1::filter_response::Action::Continue, Some("HI"))
    );
    assert_eq!(run(call("loud", "other", "hi")).await, Filter::pass());
    assert!(guard.clone().filter(call("nope", "echo", "")).is_none());
}
