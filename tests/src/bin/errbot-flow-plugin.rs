//! Two plugins used only by the end-to-end tests of flows (tests/flow-plugins), as Errbot's own
//! flow tests split them: `flowtest` serves the commands (Errbot's a, b, c, d (flow only) and e,
//! and a pizza order whose steps keep their choices in the flow's context), and `flowdefs`
//! (started with the argument `defs`) declares the flows over them, so that every flow here
//! crosses two plugins, and evaluates their predicates.

use std::time::Duration;

use errbot_plugin_sdk::prelude::*;

/// The commands.
pub struct FlowTest;

/// Commands the flows of `flowdefs` are made of.
#[plugin(name = "flowtest")]
impl FlowTest {
    /// Step a.
    #[command]
    async fn a(&self) -> &'static str {
        "a"
    }

    /// Step b.
    #[command]
    async fn b(&self) -> &'static str {
        "b"
    }

    /// Step c.
    #[command]
    async fn c(&self) -> &'static str {
        "c"
    }

    /// Step d, only inside a flow.
    #[command(flow_only)]
    async fn d(&self) -> &'static str {
        "d"
    }

    /// Step e.
    #[command]
    async fn e(&self) -> &'static str {
        "e"
    }

    /// Choose a pizza's size (starts the pizza flow): `!pizza size <size>`.
    #[command]
    async fn pizza_size(&self, ctx: &Context, size: String) -> String {
        ctx.update_flow_context(|c| c.insert("size", &size));
        match ctx.flow() {
            Some(flow) => format!("size {size} (flow {flow})"),
            None => format!("size {size} (no flow)"),
        }
    }

    /// Choose the topping: `!pizza topping <topping>`.
    #[command(flow_only)]
    async fn pizza_topping(&self, ctx: &Context, topping: String) -> String {
        ctx.update_flow_context(|c| c.insert("topping", &topping));
        format!("topping {topping}")
    }

    /// Confirms the order (runs by itself once a topping is chosen).
    #[command(flow_only)]
    async fn pizza_confirm(&self, ctx: &Context) -> String {
        let c = ctx.flow_context();
        let size: String = c.get("size").unwrap_or_else(|| "?".into());
        let topping: String = c.get("topping").unwrap_or_else(|| "?".into());
        format!("Pizza {size} with {topping}, confirmed.")
    }

    /// Fails, as a flow step: `!boom`.
    #[command(flow_only)]
    async fn boom(&self) -> Result<String, CommandError> {
        Err("boom refused".into())
    }

    /// Shows the flow's context as JSON.
    #[command]
    async fn flow_context(&self, ctx: &Context) -> String {
        match ctx.flow() {
            Some(_) => ctx.flow_context().to_json(),
            None => "not in a flow".into(),
        }
    }
}

/// The flows.
pub struct FlowDefs;

/// Flows made of flowtest's commands (Errbot's tests/flow_plugin, and a pizza order).
#[plugin(name = "flowdefs")]
impl FlowDefs {
    /// documentation of W1
    #[flow]
    fn w1(&self, flow: &mut Flow) {
        let a = flow.connect(flow.root(), "a");
        flow.connect(a, "b");
        let c = flow.connect(a, "c");
        flow.connect(c, "d");
    }

    /// documentation of W2
    #[flow]
    fn w2(&self, flow: &mut Flow) {
        let c = flow.auto_trigger("c");
        flow.connect(c, "b");
        let e = flow.auto_trigger("e");
        flow.connect(e, "d");
    }

    /// documentation of W3
    #[flow]
    fn w3(&self, flow: &mut Flow) {
        flow.room_flow();
        let a = flow.connect(flow.root(), "a");
        flow.connect(a, "b");
    }

    /// documentation of W4
    #[flow]
    fn w4(&self, flow: &mut Flow) {
        let a = flow.connect(flow.root(), "a");
        let b = flow.connect(a, "b");
        let c = flow.connect(b, "c");
        flow.connect(c, "d");
        flow.without_hints(flow.root());
        flow.without_hints(a);
    }

    /// Order a pizza: size, topping, then it confirms by itself.
    #[flow]
    fn pizza(&self, flow: &mut Flow) {
        let size = flow.auto_trigger("pizza_size");
        let topping = flow.connect(size, "pizza_topping");
        // A slow predicate: errbotd gives up on it and takes it as false.
        flow.connect_when(size, "boom", |c| {
            if c.contains("slow") {
                std::thread::sleep(Duration::from_secs(3));
            }
            c.contains("explode")
        });
        let confirm = flow.connect_when(topping, "pizza_confirm", |c| c.contains("topping"));
        flow.end(confirm);
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some("defs") {
        errbot_plugin_sdk::serve(FlowDefs).await
    } else {
        errbot_plugin_sdk::serve(FlowTest).await
    }
}
