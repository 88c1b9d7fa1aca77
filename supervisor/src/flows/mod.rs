//! Conversation flows (Errbot's flows), run by errbotd and kept in its storage.
//!
//! Plugins declare flows in Describe ([`graph::FlowDef`], in the command table); this module
//! keeps the flows in progress ([`state::InFlight`], one per [`state::Place`]) and answers the
//! pipeline's questions about them, without ever calling the pipeline:
//! - before a command runs, [`Flows::waiting`]: is it the next step of the sender's flow (its
//!   context then goes with the command, and a `flow_only` command may run);
//! - after it succeeded, [`Flows::advance`]: move that flow on, or start the flow the command
//!   auto-triggers, or settle a flow `!flows start` just made;
//! - then, until it answers [`Next::Wait`], [`Flows::next`]: the step that runs by itself
//!   (its predicate, asked of the plugin with a deadline, holds), or the hint.
//!
//! Every change is written to storage before the pipeline says anything about it, so a flow
//! whose hint was seen survives a SIGKILL of errbotd. Idle flows are stopped by
//! [`spawn_sweeper`].

pub mod graph;
pub mod state;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use errbot_proto::v1::{FlowPredicateRequest, Identifier, Message};
use serde_json::{Map, Value};

use crate::bot::Bot;
use crate::registry::{Command, Registry};
use crate::storage::{CORE_NAMESPACE, StorageError, Store};
use graph::{FlowDef, ROOT};
use state::{InFlight, Place, now_secs};

/// A command about to run as a step of a flow in progress.
#[derive(Debug, Clone)]
pub struct Step {
    /// Where the flow runs.
    pub place: Place,
    /// The flow's name.
    pub flow: String,
    /// The node the step moves the flow to.
    pub to: usize,
    /// The flow's context, given to the command.
    pub context: Map<String, Value>,
    /// errbotd runs it because its predicate held (the person did not type it).
    pub auto: bool,
    /// It starts the flow (an auto-trigger): the flow exists once it ended well.
    pub starts: bool,
}

impl Step {
    /// The step as the protocol gives it to the command.
    pub fn to_proto(&self) -> errbot_proto::v1::FlowStep {
        errbot_proto::v1::FlowStep {
            name: self.flow.clone(),
            context_json: Value::Object(self.context.clone()).to_string(),
        }
    }
}

/// What comes after a step.
pub enum Next {
    /// Run this command by itself, as this step.
    Run(Arc<Command>, Step),
    /// Tell the person what may follow; then wait for them.
    Hint(String),
    /// Wait for the person (no hint due, or the flow ended).
    Wait,
}

/// The flows in progress.
#[derive(Default)]
pub struct Flows {
    in_flight: Mutex<HashMap<Place, InFlight>>,
    /// How many flows are in progress, read without the lock: a bot with none (the usual
    /// case) pays nothing more per command.
    live: AtomicUsize,
    /// Serializes changes, so that memory and storage change in the same order.
    writes: tokio::sync::Mutex<()>,
}

/// The place of the sender of `message` on `backend`: their own flow there.
pub fn place_of(backend: &str, message: &Message) -> Place {
    let from = message.from.as_ref();
    let room = if message.direct {
        String::new()
    } else {
        from.map(|f| f.room.clone())
            .filter(|r| !r.is_empty())
            .or_else(|| message.to.as_ref().map(|t| t.room.clone()))
            .unwrap_or_default()
    };
    Place {
        backend: backend.to_owned(),
        room,
        person: from.map(|f| f.person.clone()).unwrap_or_default(),
    }
}

/// The sender of `message` as shown to people (`!flows status`): `@nick`, else their id.
pub fn shown(message: &Message) -> String {
    let Some(from) = message.from.as_ref() else {
        return String::new();
    };
    match from.nick.trim_start_matches('@') {
        "" => from.person.clone(),
        nick => format!("@{nick}"),
    }
}

/// The places whose flow `who` may advance (and see): their own, then their room's.
pub fn places(who: &Place) -> impl Iterator<Item = Place> + '_ {
    let room = (!who.room.is_empty()).then(|| who.room_wide());
    std::iter::once(who.clone()).chain(room)
}

/// Where a flow of `def` started by the sender at `who` runs: their place, or their room's
/// for a room flow started in a room.
fn home(def: &FlowDef, who: &Place) -> Place {
    if def.room_flow && !who.room.is_empty() {
        who.room_wide()
    } else {
        who.clone()
    }
}

/// Who the recipient of what is said about the flow at `place` is.
pub fn recipient(place: &Place) -> Identifier {
    Identifier {
        backend: place.backend.clone(),
        person: if place.room.is_empty() {
            place.person.clone()
        } else {
            String::new()
        },
        room: place.room.clone(),
        ..Default::default()
    }
}

/// The node a flow in progress is at in `def`. The plugin may have changed the graph since the
/// flow was stored (a reload, a new version): the node is found again by its command, else the
/// flow goes back to its start.
pub fn node_of(def: &FlowDef, flow: &InFlight) -> usize {
    match def.nodes.get(flow.node) {
        Some(n) if n.command == flow.command => flow.node,
        _ => def
            .nodes
            .iter()
            .position(|n| !n.command.is_empty() && n.command == flow.command)
            .unwrap_or(ROOT),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Flows {
    /// The flows in progress stored in `store`.
    pub async fn load(store: &Store) -> Result<Self, StorageError> {
        let mut in_flight = HashMap::new();
        for key in store.keys(CORE_NAMESPACE, state::KEY_PREFIX).await? {
            let Some(place) = Place::from_key(&key) else {
                tracing::warn!("core storage key {key} is not a flow's; ignored");
                continue;
            };
            let Some(entry) = store.get(CORE_NAMESPACE, &key).await? else {
                continue;
            };
            match serde_json::from_str::<InFlight>(&entry.value) {
                Ok(flow) => {
                    in_flight.insert(place, flow);
                }
                Err(e) => tracing::warn!("core storage key {key} is not a flow ({e}); ignored"),
            }
        }
        if !in_flight.is_empty() {
            tracing::info!("{} flows in progress", in_flight.len());
        }
        Ok(Self {
            live: AtomicUsize::new(in_flight.len()),
            in_flight: Mutex::new(in_flight),
            writes: Default::default(),
        })
    }

    /// How many flows are in progress.
    pub fn count(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Publishes how many flows `in_flight` (the locked map, just changed) holds.
    fn counted(&self, in_flight: &HashMap<Place, InFlight>) {
        self.live.store(in_flight.len(), Ordering::Relaxed);
    }

    /// Whether no flow is in progress anywhere.
    pub fn is_idle(&self) -> bool {
        self.count() == 0
    }

    /// Every flow in progress, by place.
    pub fn list(&self) -> Vec<(Place, InFlight)> {
        let mut all: Vec<_> = lock(&self.in_flight)
            .iter()
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The flows `registry` declares and those in progress, for ControlService.Flows.
    pub fn overview(&self, registry: &Registry) -> errbot_proto::v1::FlowsResponse {
        let mut declared: Vec<_> = registry
            .flows()
            .iter()
            .map(|f| errbot_proto::v1::DeclaredFlow {
                name: f.name.clone(),
                plugin: f.plugin.clone(),
                description: f.description.clone(),
                room_flow: f.room_flow,
            })
            .collect();
        declared.sort_by(|a, b| a.name.cmp(&b.name));
        let mut in_progress: Vec<_> = self
            .list()
            .into_iter()
            .map(|(place, flow)| errbot_proto::v1::FlowInProgress {
                context_json: Value::Object(flow.context).to_string(),
                flow: flow.flow,
                backend: place.backend,
                room: place.room,
                person: place.person,
                started_by: flow.started_by,
                step: flow.command,
                last_step: flow.last_step,
            })
            .collect();
        in_progress.sort_by_key(|f| f.last_step);
        errbot_proto::v1::FlowsResponse {
            declared,
            in_progress,
        }
    }

    /// The flow in progress whose next step `command` is, for the sender at `who`.
    pub fn waiting(&self, registry: &Registry, who: &Place, command: &str) -> Option<Step> {
        if self.is_idle() {
            return None;
        }
        let in_flight = lock(&self.in_flight);
        for place in places(who) {
            let Some(flow) = in_flight.get(&place) else {
                continue;
            };
            let Some(def) = registry.flow(&flow.flow) else {
                continue;
            };
            if let Some(to) = def.step_for(node_of(def, flow), command) {
                return Some(Step {
                    place,
                    flow: flow.flow.clone(),
                    to,
                    context: flow.context.clone(),
                    auto: false,
                    starts: false,
                });
            }
        }
        None
    }

    /// The flow `command` would start for the sender at `who` (an auto-trigger, when they have
    /// no flow there): the command runs as its first step, with an empty context.
    pub fn would_start(&self, registry: &Registry, who: &Place, command: &str) -> Option<Step> {
        if !registry.has_flows() {
            return None;
        }
        let (def, to) = registry
            .flows()
            .iter()
            .find_map(|d| Some((d, d.auto_trigger(command)?)))?;
        let in_flight = lock(&self.in_flight);
        if places(who).any(|p| in_flight.contains_key(&p)) {
            return None;
        }
        let place = home(def, who);
        Some(Step {
            place,
            flow: def.name.clone(),
            to,
            context: Map::new(),
            auto: false,
            starts: true,
        })
    }

    /// The flow in progress at `who`'s places (theirs first), if any.
    pub fn current(&self, who: &Place) -> Option<(Place, InFlight)> {
        let in_flight = lock(&self.in_flight);
        places(who).find_map(|p| in_flight.get(&p).map(|f| (p, f.clone())))
    }

    /// After a command succeeded for the sender at `who` (`shown` so to people): moves on the
    /// flow it was a `step` of, or starts the flow it auto-triggered (with the `context` the
    /// command left, if it set one); without a step, settles the flow `!flows start` just made.
    /// Answers the place of the flow to continue.
    pub async fn advance(
        &self,
        store: &Store,
        registry: &Registry,
        who: &Place,
        shown: &str,
        step: Option<&Step>,
        context: Option<Map<String, Value>>,
    ) -> Option<Place> {
        if step.is_none() {
            // Made by `!flows start` (already stored): its first hint is due.
            let in_flight = lock(&self.in_flight);
            return places(who).find(|p| {
                in_flight
                    .get(p)
                    .is_some_and(|f| f.unsettled && f.node == ROOT)
            });
        }
        let step = step?;
        let def = registry.flow(&step.flow)?;
        let _writing = self.writes.lock().await;
        let changed = {
            let mut in_flight = lock(&self.in_flight);
            let context = context.unwrap_or_else(|| step.context.clone());
            if step.starts {
                // One flow per person and place: another may have started meanwhile.
                if places(who).any(|p| in_flight.contains_key(&p)) {
                    return None;
                }
                let command = &def.nodes[step.to].command;
                let flow = InFlight {
                    flow: def.name.clone(),
                    node: step.to,
                    command: command.clone(),
                    context,
                    started_by: shown.to_owned(),
                    last_step: now_secs(),
                    unsettled: true,
                };
                in_flight.insert(step.place.clone(), flow.clone());
                self.counted(&in_flight);
                tracing::info!(flow = %def.name, "flow started by {command}");
                (step.place.clone(), flow)
            } else {
                let flow = in_flight.get_mut(&step.place)?;
                if flow.flow != step.flow {
                    return None;
                }
                flow.node = step.to;
                flow.command = def.nodes[step.to].command.clone();
                flow.context = context;
                flow.last_step = now_secs();
                flow.unsettled = true;
                (step.place.clone(), flow.clone())
            }
        };
        crate::telemetry::flow_step(&step.flow, step.auto);
        let (place, flow) = changed;
        write(store, &place, Some(&flow)).await;
        Some(place)
    }

    /// Starts flow `name` for the sender at `who` with `context` (`!flows start`): the place it
    /// runs at, or why not.
    pub async fn start(
        &self,
        store: &Store,
        registry: &Registry,
        who: &Place,
        started_by: &str,
        name: &str,
        context: Map<String, Value>,
    ) -> Result<Place, String> {
        let def = registry
            .flow(name)
            .ok_or_else(|| format!("Flow {name} doesn't exist."))?;
        let _writing = self.writes.lock().await;
        let place = home(def, who);
        let flow = {
            let mut in_flight = lock(&self.in_flight);
            if let Some(running) = places(who).find_map(|p| in_flight.get(&p)) {
                return Err(format!(
                    "You are already running the flow **{}** here: `!flows stop {}` ends it.",
                    running.flow, running.flow
                ));
            }
            let flow = InFlight {
                flow: def.name.clone(),
                node: ROOT,
                command: String::new(),
                context,
                started_by: started_by.to_owned(),
                last_step: now_secs(),
                unsettled: true,
            };
            in_flight.insert(place.clone(), flow.clone());
            self.counted(&in_flight);
            flow
        };
        write(store, &place, Some(&flow)).await;
        tracing::info!(flow = %def.name, "flow started by {started_by}");
        Ok(place)
    }

    /// Stops the flows `pick` chooses; answers them.
    pub async fn stop(
        &self,
        store: &Store,
        pick: impl Fn(&Place, &InFlight) -> bool,
    ) -> Vec<(Place, InFlight)> {
        let _writing = self.writes.lock().await;
        let stopped: Vec<(Place, InFlight)> = {
            let mut in_flight = lock(&self.in_flight);
            let places: Vec<Place> = in_flight
                .iter()
                .filter(|(p, f)| pick(p, f))
                .map(|(p, _)| p.clone())
                .collect();
            let stopped = places
                .into_iter()
                .filter_map(|p| in_flight.remove(&p).map(|f| (p, f)))
                .collect();
            self.counted(&in_flight);
            stopped
        };
        for (place, _) in &stopped {
            write(store, place, None).await;
        }
        stopped
    }

    /// What comes after the last step of the flow at `place`: the step whose edge lets it run
    /// by itself (the first in declaration order whose predicate holds), or the hint (unless
    /// the step or `hints` says none), or nothing. A flow whose step has no next one (or that
    /// reached an end node) ends here.
    pub async fn next(
        &self,
        bot: &Bot,
        store: &Store,
        registry: &Registry,
        place: &Place,
        hints: bool,
        predicate_timeout: Duration,
    ) -> Next {
        let Some(flow) = lock(&self.in_flight).get(place).cloned() else {
            return Next::Wait;
        };
        let Some(def) = registry.flow(&flow.flow) else {
            return Next::Wait;
        };
        let node = node_of(def, &flow);
        if def.nodes[node].end || def.next(node).next().is_none() {
            return self.end(store, place, &flow.flow).await;
        }
        for edge in def.next(node) {
            let to = edge.to as usize;
            let runs = edge.always
                || (!edge.predicate.is_empty()
                    && predicate(bot, def, &edge.predicate, &flow.context, predicate_timeout)
                        .await);
            if !runs {
                continue;
            }
            if def.nodes[to].end {
                return self.end(store, place, &flow.flow).await;
            }
            let Some(command) = registry.get(&def.nodes[to].command).cloned() else {
                self.settled(place);
                return Next::Hint(format!(
                    "The flow **{}** cannot go on: its step `{}` is not available now (its \
                     plugin is not running).",
                    def.name, def.nodes[to].command
                ));
            };
            return Next::Run(
                command,
                Step {
                    place: place.clone(),
                    flow: flow.flow.clone(),
                    to,
                    context: flow.context.clone(),
                    auto: true,
                    starts: false,
                },
            );
        }
        self.settled(place);
        if !flow.unsettled || !hints || def.nodes[node].no_hints {
            return Next::Wait;
        }
        match def.hint(node, registry, bot.config().prefixes().prefix()) {
            Some(hint) => Next::Hint(hint),
            None => Next::Wait,
        }
    }

    /// Ends the flow `name` at `place`.
    async fn end(&self, store: &Store, place: &Place, name: &str) -> Next {
        self.stop(store, |p, f| p == place && f.flow == name).await;
        tracing::info!(flow = %name, "flow ended");
        Next::Wait
    }

    fn settled(&self, place: &Place) {
        if let Some(flow) = lock(&self.in_flight).get_mut(place) {
            flow.unsettled = false;
        }
    }

    /// The hint for the flow the sender at `who` is in, if any (added to "not found" replies).
    pub fn hint_for(&self, registry: &Registry, who: &Place, prefix: &str) -> Option<String> {
        let (_, flow) = self.current(who)?;
        let def = registry.flow(&flow.flow)?;
        def.hint(node_of(def, &flow), registry, prefix)
    }

    /// Stops the flows whose last step is older than `idle`; answers them.
    pub async fn expire(&self, store: &Store, idle: Duration) -> Vec<(Place, InFlight)> {
        let oldest = now_secs().saturating_sub(idle.as_secs());
        self.stop(store, |_, f| f.last_step < oldest).await
    }
}

/// Writes the flow at `place` (`None`: removes it). A failure is logged: the flow goes on in
/// memory.
async fn write(store: &Store, place: &Place, flow: Option<&InFlight>) {
    let key = place.key();
    let result = match flow.map(serde_json::to_string) {
        Some(Ok(json)) => store.set(CORE_NAMESPACE, &key, &json, None).await.map(drop),
        Some(Err(e)) => {
            tracing::error!("flow at {key} cannot be written: {e}");
            return;
        }
        None => store.delete(CORE_NAMESPACE, &key, None).await.map(drop),
    };
    if let Err(e) = result {
        tracing::error!("flow at {key} could not be stored: {e}");
    }
}

/// Asks the plugin that declared `def` whether `predicate` holds for `context`, within
/// `timeout`; no answer is false.
async fn predicate(
    bot: &Bot,
    def: &FlowDef,
    predicate: &str,
    context: &Map<String, Value>,
    timeout: Duration,
) -> bool {
    let ask = async {
        let slot = bot
            .plugin(&def.plugin)
            .ok_or_else(|| format!("plugin {} is not running", def.plugin))?;
        let plugin = slot.instance().await?;
        let _inflight = plugin.begin();
        let request = FlowPredicateRequest {
            flow: def.name.clone(),
            predicate: predicate.to_owned(),
            context_json: Value::Object(context.clone()).to_string(),
        };
        plugin
            .client
            .clone()
            .flow_predicate(request)
            .await
            .map(|r| r.into_inner().holds)
            .map_err(|s| s.message().to_owned())
    };
    match tokio::time::timeout(timeout, ask).await {
        Ok(Ok(holds)) => holds,
        Ok(Err(e)) => {
            tracing::warn!(flow = %def.name, predicate, "predicate failed (taken as false): {e}");
            false
        }
        Err(_) => {
            tracing::warn!(
                flow = %def.name, predicate,
                "predicate did not answer within {} s (taken as false)",
                timeout.as_secs_f64()
            );
            false
        }
    }
}

/// A duration as said in a sentence: "90 seconds", "5 minutes", "2 hours".
fn spoken(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s >= 7200 && s % 3600 == 0 => (s / 3600, "hours"),
        s if s >= 120 && s % 60 == 0 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    if n == 1 {
        format!("1 {}", unit.trim_end_matches('s'))
    } else {
        format!("{n} {unit}")
    }
}

/// Stops idle flows (`[flows] idle_timeout_secs`), telling the place each ran at.
pub fn spawn_sweeper(bot: Arc<Bot>) {
    tokio::spawn(async move {
        loop {
            let idle = bot.config().flows.idle_timeout();
            let period = idle
                .map_or(Duration::from_secs(60), |d| d / 4)
                .clamp(Duration::from_millis(200), Duration::from_secs(60));
            tokio::time::sleep(period).await;
            if bot.is_shutting_down() {
                return;
            }
            let Some(idle) = idle else { continue };
            for (place, flow) in bot.flows.expire(&bot.storage.store, idle).await {
                tracing::info!(flow = %flow.flow, "flow stopped: idle for {} s", idle.as_secs());
                let text = format!(
                    "The flow **{}** was stopped: nothing happened in it for {}.",
                    flow.flow,
                    spoken(idle)
                );
                let content = errbot_proto::v1::Content {
                    kind: Some(errbot_proto::v1::content::Kind::Markdown(text)),
                };
                let to = crate::services::Recipient::Id(Box::new(recipient(&place)));
                if let Err(e) =
                    crate::services::send(&bot, None, &place.backend, to, content, "", "").await
                {
                    tracing::warn!("could not say that flow {} stopped: {e}", flow.flow);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use errbot_proto::v1::{FlowEdge, FlowNode, FlowSpec};

    fn def(commands: &[&str]) -> FlowDef {
        let mut nodes = vec![FlowNode::default()];
        nodes.extend(commands.iter().map(|c| FlowNode {
            command: (*c).into(),
            ..Default::default()
        }));
        let edges = (1..nodes.len() as u32)
            .map(|to| FlowEdge {
                from: to - 1,
                to,
                ..Default::default()
            })
            .collect();
        FlowDef::new(
            "p",
            &FlowSpec {
                name: "f".into(),
                nodes,
                edges,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn at(node: usize, command: &str) -> InFlight {
        InFlight {
            flow: "f".into(),
            node,
            command: command.into(),
            context: Map::new(),
            started_by: "@ada".into(),
            last_step: 0,
            unsettled: false,
        }
    }

    #[test]
    fn a_stored_flow_finds_its_step_in_a_changed_graph() {
        let old = def(&["a", "b", "c"]);
        assert_eq!(node_of(&old, &at(2, "b")), 2);
        assert_eq!(node_of(&old, &at(0, "")), ROOT);
        // The plugin put a step before b: found by its command.
        let new = def(&["a", "x", "b", "c"]);
        assert_eq!(node_of(&new, &at(2, "b")), 3);
        // b is gone: back to the start.
        let gone = def(&["a", "c"]);
        assert_eq!(node_of(&gone, &at(2, "b")), ROOT);
    }

    #[test]
    fn places_of_a_sender() {
        let message = Message {
            from: Some(Identifier {
                person: "@ada".into(),
                nick: "ada".into(),
                room: "#ops".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let who = place_of("irc", &message);
        assert_eq!((who.room.as_str(), who.person.as_str()), ("#ops", "@ada"));
        assert_eq!(places(&who).count(), 2, "theirs and the room's");
        assert_eq!(shown(&message), "@ada");
        let direct = Message {
            direct: true,
            ..message
        };
        let who = place_of("irc", &direct);
        assert_eq!(who.room, "");
        assert_eq!(places(&who).count(), 1);
        assert_eq!(recipient(&who).person, "@ada");
    }
}
