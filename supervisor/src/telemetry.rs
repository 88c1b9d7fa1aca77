//! errbotd's metrics, served as `/metrics` (Prometheus text format) by the web server
//! ([`crate::web`]). Every metric is named here, and the rest of errbotd reports through these
//! functions: the pipeline (messages in, commands run and their latency), the gateways (messages
//! out), the store (operations and their latency), the web server (webhook requests). The
//! children's state and restarts are read when scraped ([`render`]).
//!
//! The recorder is the `metrics` facade's Prometheus one, installed by the web server when it
//! starts ([`install`]); without it (no `[web]`), reporting costs next to nothing.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    Counter, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::bot::Bot;

/// Upper bounds of the latency buckets, in seconds (commands, storage, webhooks).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The states a child can be in (`ChildStatus.state`): each is a series of `errbot_child_state`.
const CHILD_STATES: &[&str] = &[
    "starting",
    "running",
    "restarting",
    "failed",
    "deactivated",
    "stopped",
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder (once per process; later calls return the same handle).
pub fn install() -> anyhow::Result<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install_recorder()?;
    describe();
    // The recorder's histograms are drained by upkeep; a scrape also runs it.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(HANDLE.get_or_init(|| handle))
}

fn describe() {
    describe_counter!(
        "errbot_messages_received_total",
        "Chat messages received, by backend instance."
    );
    describe_counter!(
        "errbot_messages_sent_total",
        "Messages sent to the chat service (replies, plugins' sends, notifications; each part \
         of a split message), by backend instance."
    );
    describe_gauge!(
        "errbot_messages_in_progress",
        "Chat messages being handled now."
    );
    describe_counter!(
        "errbot_commands_total",
        "Commands that reached authorization, by plugin (\"builtin\" for errbotd's own), \
         command and outcome."
    );
    describe_histogram!(
        "errbot_command_duration_seconds",
        "Time from authorization to the end of a command, by plugin."
    );
    describe_counter!(
        "errbot_storage_operations_total",
        "Storage operations, by operation and result (ok, error)."
    );
    describe_histogram!(
        "errbot_storage_operation_duration_seconds",
        "Time a storage operation took, by operation."
    );
    describe_counter!(
        "errbot_webhook_requests_total",
        "Requests to the web server other than its own endpoints, by route (the webhook's \
         rule, \"unmatched\" when none) and status."
    );
    describe_histogram!(
        "errbot_webhook_duration_seconds",
        "Time a webhook request took, by route."
    );
    describe_gauge!(
        "errbot_flows_in_progress",
        "Conversation flows in progress (kept in storage)."
    );
    describe_counter!(
        "errbot_flow_steps_total",
        "Steps taken in conversation flows, by flow and how (typed, auto)."
    );
    describe_gauge!(
        "errbot_child_state",
        "1 for the state each child (plugin or backend process) is in, 0 for the others."
    );
    describe_counter!(
        "errbot_child_restarts_total",
        "Times each child was restarted."
    );
}

/// Whether the recorder is installed: without it, nothing is reported (and nothing is cached,
/// so that a handle taken before [`install`] is never a no-op for good).
fn recording() -> bool {
    HANDLE.get().is_some()
}

/// The metrics of one chat service instance (held by its gateway slot). Each handle is
/// registered with the recorder on first use, then reused: a message builds no labels and
/// looks nothing up in the recorder's registry.
#[derive(Debug, Default)]
pub struct BackendMetrics {
    received: OnceLock<Counter>,
    sent: OnceLock<Counter>,
}

/// A chat message arrived on `backend`.
pub fn message_received(backend: &str, metrics: &BackendMetrics) {
    if !recording() {
        return;
    }
    let received = metrics.received.get_or_init(
        || counter!("errbot_messages_received_total", "backend" => backend.to_owned()),
    );
    received.increment(1);
}

/// `n` messages went out on `backend`.
pub fn messages_sent(backend: &str, metrics: &BackendMetrics, n: u32) {
    if !recording() {
        return;
    }
    let sent = metrics
        .sent
        .get_or_init(|| counter!("errbot_messages_sent_total", "backend" => backend.to_owned()));
    sent.increment(n.into());
}

/// The outcomes a command can end with, as `errbot_commands_total` labels them.
pub const OUTCOMES: [&str; 8] = [
    "done",
    "refused",
    "blocked",
    "not_in_flow",
    "bad_arguments",
    "error",
    "failed",
    "timed_out",
];

/// The metrics of one command (held by the command table's entry), registered on first use
/// as [`BackendMetrics`]'.
#[derive(Debug, Default)]
pub struct CommandMetrics {
    outcomes: [OnceLock<Counter>; OUTCOMES.len()],
    duration: OnceLock<Histogram>,
}

/// A command of `plugin` ended with `outcome` (one of [`OUTCOMES`]); `ran` is how long it took
/// from authorization, when it got that far.
pub fn command(
    plugin: &str,
    command: &str,
    metrics: &CommandMetrics,
    outcome: &'static str,
    ran: Option<Duration>,
) {
    if !recording() {
        return;
    }
    let register = || {
        counter!(
            "errbot_commands_total",
            "plugin" => plugin.to_owned(),
            "command" => command.to_owned(),
            "outcome" => outcome,
        )
    };
    match OUTCOMES.iter().position(|o| *o == outcome) {
        Some(i) => metrics.outcomes[i].get_or_init(register).increment(1),
        None => register().increment(1),
    }
    if let Some(ran) = ran {
        let duration = metrics.duration.get_or_init(
            || histogram!("errbot_command_duration_seconds", "plugin" => plugin.to_owned()),
        );
        duration.record(ran);
    }
}

/// A storage operation `op` took `took`, and failed or not.
pub fn storage(op: &'static str, ok: bool, took: Duration) {
    let result = if ok { "ok" } else { "error" };
    counter!("errbot_storage_operations_total", "op" => op, "result" => result).increment(1);
    histogram!("errbot_storage_operation_duration_seconds", "op" => op).record(took);
}

/// A step of `flow` was taken: by errbotd (`auto`) or typed by a person.
pub fn flow_step(flow: &str, auto: bool) {
    let how = if auto { "auto" } else { "typed" };
    counter!("errbot_flow_steps_total", "flow" => flow.to_owned(), "how" => how).increment(1);
}

/// A webhook request to `route` was answered `status` after `took`.
pub fn webhook(route: &str, status: u16, took: Duration) {
    counter!(
        "errbot_webhook_requests_total",
        "route" => route.to_owned(),
        "status" => status.to_string(),
    )
    .increment(1);
    histogram!("errbot_webhook_duration_seconds", "route" => route.to_owned()).record(took);
}

/// The metrics in Prometheus text format, with the children's state and restarts and the
/// messages in progress read now from `bot`; `None` before [`install`].
pub fn render(bot: &Bot) -> Option<String> {
    let handle = HANDLE.get()?;
    for child in bot.child_statuses() {
        for state in CHILD_STATES {
            gauge!(
                "errbot_child_state",
                "kind" => child.kind.clone(),
                "name" => child.name.clone(),
                "state" => *state,
            )
            .set(if child.state == *state { 1.0 } else { 0.0 });
        }
        counter!(
            "errbot_child_restarts_total",
            "kind" => child.kind.clone(),
            "name" => child.name.clone(),
        )
        .absolute(child.restarts.into());
    }
    gauge!("errbot_messages_in_progress").set(*bot.inflight.borrow() as f64);
    gauge!("errbot_flows_in_progress").set(bot.flows.count() as f64);
    handle.run_upkeep();
    Some(handle.render())
}
