//! Conversation flows (Errbot's `@botflow`): a graph of commands that errbotd walks people
//! through, keeping where each one is and the flow's context in its storage.
//!
//! A `#[flow]` method builds one [`Flow`]; its steps are commands of any plugin, usually
//! declared `#[command(flow_only)]` so that they only run inside the flow. A command learns
//! that it runs as a step, and reads and changes the flow's context, through
//! [`Context::flow`](crate::Context::flow) and
//! [`Context::set_flow_context`](crate::Context::set_flow_context).

use std::fmt;
use std::sync::Arc;

use errbot_proto::v1;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A node of a flow being declared, as [`Flow`]'s methods hand them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step(u32);

type Predicate = Arc<dyn Fn(&FlowContext) -> bool + Send + Sync>;

/// A flow as a `#[flow]` method declares it: errbotd starts it with `!flows start NAME`, or
/// when someone runs a command that [auto-triggers](Flow::auto_trigger) it; after each step it
/// runs the next one whose predicate holds, or hints the commands that may follow.
///
/// ```
/// use errbot_plugin_sdk::Flow;
///
/// let mut flow = Flow::new("pizza", "Order a pizza.");
/// let size = flow.auto_trigger("pizza_size"); // `!pizza size large` starts it
/// let topping = flow.connect(size, "pizza_topping");
/// // Confirmed by itself once a topping is known.
/// let confirm = flow.connect_when(topping, "pizza_confirm", |ctx| ctx.contains("topping"));
/// flow.end(confirm);
/// ```
#[derive(Clone)]
pub struct Flow {
    spec: v1::FlowSpec,
    predicates: Vec<(String, Predicate)>,
}

impl fmt::Debug for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl Flow {
    /// A flow with only its root: `name` as people type it in `!flows start NAME`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            spec: v1::FlowSpec {
                name: name.into(),
                description: description.into(),
                nodes: vec![v1::FlowNode::default()],
                ..Default::default()
            },
            predicates: Vec::new(),
        }
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The flow's start, where every first step connects from.
    pub fn root(&self) -> Step {
        Step(0)
    }

    fn node(&mut self, node: v1::FlowNode) -> Step {
        self.spec.nodes.push(node);
        Step(u32::try_from(self.spec.nodes.len() - 1).unwrap_or(u32::MAX))
    }

    fn command_node(&mut self, command: &str) -> Step {
        self.node(v1::FlowNode {
            command: command.to_owned(),
            ..Default::default()
        })
    }

    fn edge(&mut self, from: Step, to: Step, predicate: Option<Predicate>) -> &mut v1::FlowEdge {
        let name = match predicate {
            Some(predicate) => {
                let name = format!("p{}", self.predicates.len());
                self.predicates.push((name.clone(), predicate));
                name
            }
            None => String::new(),
        };
        self.spec.edges.push(v1::FlowEdge {
            from: from.0,
            to: to.0,
            predicate: name,
            ..Default::default()
        });
        let last = self.spec.edges.len() - 1;
        &mut self.spec.edges[last]
    }

    /// A step running `command` that the person may take after `from` (hinted to them).
    pub fn connect(&mut self, from: Step, command: &str) -> Step {
        let to = self.command_node(command);
        self.edge(from, to, None);
        to
    }

    /// A step running `command` after `from`, by itself as soon as `predicate` holds for the
    /// flow's context (else the person may still type it). errbotd asks this process, with a
    /// short deadline.
    pub fn connect_when(
        &mut self,
        from: Step,
        command: &str,
        predicate: impl Fn(&FlowContext) -> bool + Send + Sync + 'static,
    ) -> Step {
        let to = self.command_node(command);
        self.edge(from, to, Some(Arc::new(predicate)));
        to
    }

    /// A step running `command` after `from`, always by itself.
    pub fn connect_auto(&mut self, from: Step, command: &str) -> Step {
        let to = self.command_node(command);
        self.edge(from, to, None).always = true;
        to
    }

    /// A first step, `command`: running it outside any flow starts this flow there (Errbot's
    /// `auto_trigger=True`). The person may also take it first after `!flows start`.
    pub fn auto_trigger(&mut self, command: &str) -> Step {
        let to = self.command_node(command);
        let root = self.root();
        self.edge(root, to, None).auto_trigger = true;
        to
    }

    /// Lets the person go from `from` to an existing step `to` (a loop, or two ways to one
    /// step).
    pub fn link(&mut self, from: Step, to: Step) {
        self.edge(from, to, None);
    }

    /// Goes from `from` to an existing step `to` by itself when `predicate` holds.
    pub fn link_when(
        &mut self,
        from: Step,
        to: Step,
        predicate: impl Fn(&FlowContext) -> bool + Send + Sync + 'static,
    ) {
        self.edge(from, to, Some(Arc::new(predicate)));
    }

    /// Ends the flow right after `from` (Errbot's `FLOW_END`).
    pub fn end(&mut self, from: Step) {
        let end = self.node(v1::FlowNode {
            end: true,
            ..Default::default()
        });
        self.edge(from, end, None).always = true;
    }

    /// Ends the flow after `from` as soon as `predicate` holds.
    pub fn end_when(
        &mut self,
        from: Step,
        predicate: impl Fn(&FlowContext) -> bool + Send + Sync + 'static,
    ) {
        let end = self.node(v1::FlowNode {
            end: true,
            ..Default::default()
        });
        self.edge(from, end, Some(Arc::new(predicate)));
    }

    /// Says nothing after `step`, even when the next steps wait for the person (Errbot's
    /// `hints=False`).
    pub fn without_hints(&mut self, step: Step) {
        if let Some(node) = self.spec.nodes.get_mut(step.0 as usize) {
            node.no_hints = true;
        }
    }

    /// The flow belongs to the room it is started in: anyone there moves it on (Errbot's
    /// `room_flow=True`).
    pub fn room_flow(&mut self) {
        self.spec.room_flow = true;
    }

    /// The declaration, as Describe sends it.
    pub fn spec(&self) -> &v1::FlowSpec {
        &self.spec
    }

    /// Whether `predicate` (a name from the declaration) holds for `context`; `None` when the
    /// flow has no such predicate.
    pub fn holds(&self, predicate: &str, context: &FlowContext) -> Option<bool> {
        let (_, p) = self.predicates.iter().find(|(name, _)| name == predicate)?;
        Some(p(context))
    }
}

/// A flow's context: a JSON object its steps share (Errbot's `msg.ctx`), kept by errbotd.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowContext(Map<String, Value>);

impl FlowContext {
    /// The context a JSON object holds (anything else is an empty context).
    pub fn from_json(json: &str) -> Self {
        match serde_json::from_str(json) {
            Ok(Value::Object(map)) => Self(map),
            _ => Self::default(),
        }
    }

    /// The context as a JSON object.
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// The value of `key`, converted; `None` when absent or of another shape.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        serde_json::from_value(self.0.get(key)?.clone()).ok()
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Sets `key` (a value that cannot be JSON is stored as null).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.0.insert(key.into(), value);
    }

    /// Removes `key`, answering its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    /// The JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_declares_its_graph_and_evaluates_its_predicates() {
        let mut flow = Flow::new("pizza", "Order a pizza.");
        let size = flow.auto_trigger("pizza_size");
        let topping = flow.connect(size, "pizza_topping");
        let confirm = flow.connect_when(topping, "pizza_confirm", |c| c.contains("topping"));
        flow.without_hints(confirm);
        flow.end(confirm);
        let spec = flow.spec();
        assert_eq!(spec.nodes.len(), 5);
        assert_eq!(spec.nodes[3].command, "pizza_confirm");
        assert!(spec.nodes[3].no_hints);
        assert!(spec.nodes[4].end);
        assert!(spec.edges[0].auto_trigger);
        assert_eq!(spec.edges[2].predicate, "p0");
        assert!(spec.edges[3].always);
        let mut ctx = FlowContext::default();
        assert_eq!(flow.holds("p0", &ctx), Some(false));
        ctx.insert("topping", "olives");
        assert_eq!(flow.holds("p0", &ctx), Some(true));
        assert_eq!(flow.holds("p9", &ctx), None);
        assert_eq!(ctx.get::<String>("topping").as_deref(), Some("olives"));
        assert_eq!(FlowContext::from_json(&ctx.to_json()), ctx);
        assert_eq!(FlowContext::from_json("[1]"), FlowContext::default());
    }
}
