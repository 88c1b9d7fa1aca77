//! A flow's graph as a plugin declared it (`FlowSpec`), checked once when the command table is
//! built, and what can be read from it without any state: the steps that may follow a node, the
//! step an auto-triggering command starts at, the hint, and the tree `!flows show` draws.

use std::fmt::Write as _;

use errbot_proto::v1::{FlowEdge, FlowSpec};

use crate::registry::Registry;

/// Index of the root node.
pub const ROOT: usize = 0;

/// One node: the command it runs (normalised as the command table names commands), or an end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The command's registered name (lower case, underscores); empty for the root and ends.
    pub command: String,
    /// Reaching it ends the flow.
    pub end: bool,
    /// No hint after this step.
    pub no_hints: bool,
}

/// A flow declared by a plugin, checked.
#[derive(Debug)]
pub struct FlowDef {
    /// Its name (`!flows start NAME`).
    pub name: String,
    /// The plugin that declared it (and evaluates its predicates).
    pub plugin: String,
    /// What it does.
    pub description: String,
    /// Shared by the room it runs in.
    pub room_flow: bool,
    /// Its nodes; [`ROOT`] first.
    pub nodes: Vec<Node>,
    /// Its edges, in declaration order.
    pub edges: Vec<FlowEdge>,
}

/// The name a command has in the command table.
pub fn command_key(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "_")
}

impl FlowDef {
    /// Checks `spec`, declared by `plugin`: a root without a command, a command on every other
    /// node that is not an end, edges between existing nodes, auto-triggers only from the root.
    pub fn new(plugin: &str, spec: &FlowSpec) -> Result<Self, String> {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(format!("flow name {:?} is not valid", spec.name));
        }
        if spec.nodes.is_empty() {
            return Err(format!("flow {name} has no root node"));
        }
        let mut nodes = Vec::with_capacity(spec.nodes.len());
        for (i, n) in spec.nodes.iter().enumerate() {
            let command = command_key(&n.command);
            if i == ROOT && (!command.is_empty() || n.end) {
                return Err(format!(
                    "flow {name}: node 0 is the root: no command, not an end"
                ));
            }
            if i != ROOT && command.is_empty() != n.end {
                return Err(format!(
                    "flow {name}: node {i} needs a command, or is an end without one"
                ));
            }
            if command.chars().any(char::is_whitespace) {
                return Err(format!("flow {name}: node {i}: command {:?}", n.command));
            }
            nodes.push(Node {
                command,
                end: n.end,
                no_hints: n.no_hints,
            });
        }
        for (i, e) in spec.edges.iter().enumerate() {
            let (from, to) = (e.from as usize, e.to as usize);
            if from >= nodes.len() || to >= nodes.len() {
                return Err(format!(
                    "flow {name}: edge {i} names a node that does not exist"
                ));
            }
            if to == ROOT {
                return Err(format!("flow {name}: edge {i} leads back to the root"));
            }
            if nodes[from].end {
                return Err(format!("flow {name}: edge {i} leaves an end node"));
            }
            if e.auto_trigger && (from != ROOT || nodes[to].end) {
                return Err(format!(
                    "flow {name}: edge {i}: only a command right after the root can auto-trigger"
                ));
            }
        }
        Ok(Self {
            name: name.to_owned(),
            plugin: plugin.to_owned(),
            description: spec.description.trim().to_owned(),
            room_flow: spec.room_flow,
            nodes,
            edges: spec.edges.clone(),
        })
    }

    /// The edges leaving `node`, in order.
    pub fn next(&self, node: usize) -> impl Iterator<Item = &FlowEdge> {
        self.edges.iter().filter(move |e| e.from as usize == node)
    }

    /// The node that running `command` moves a flow at `node` to, if it may follow.
    pub fn step_for(&self, node: usize, command: &str) -> Option<usize> {
        self.next(node)
            .map(|e| e.to as usize)
            .find(|&to| self.nodes[to].command == command)
    }

    /// The node a flow starts at when `command` auto-triggers it.
    pub fn auto_trigger(&self, command: &str) -> Option<usize> {
        self.next(ROOT)
            .filter(|e| e.auto_trigger)
            .map(|e| e.to as usize)
            .find(|&to| self.nodes[to].command == command)
    }

    /// The node's command, or a name for the root and the ends.
    pub fn step_name(&self, node: usize) -> &str {
        match self.nodes.get(node) {
            Some(n) if n.end => "END",
            Some(n) if !n.command.is_empty() => &n.command,
            _ => &self.name,
        }
    }

    /// How a person types the step `to`: the prefix (unless a regex command that needs none),
    /// the command's name with spaces, and its usage (its syntax, or its parameters).
    fn invocation(&self, to: usize, registry: &Registry, prefix: &str) -> String {
        let name = &self.nodes[to].command;
        match registry.get(name) {
            Some(c) if c.is_regex() => {
                let needs_prefix = match &c.spec.kind {
                    Some(errbot_proto::v1::command_spec::Kind::Regex(r)) => r.prefixed,
                    _ => true,
                };
                let shown = if needs_prefix { prefix } else { "" };
                let syntax = c.spec.syntax.trim();
                format!(
                    "{shown}{}",
                    if syntax.is_empty() { &c.name } else { syntax }
                )
            }
            Some(c) => {
                let invocation = format!("{prefix}{}", c.display_name());
                match &c.spec.kind {
                    Some(errbot_proto::v1::command_spec::Kind::Plain(p)) => {
                        crate::dispatch::args::usage(&invocation, &p.params, c.spec.syntax.trim())
                            .trim_start_matches("Usage: ")
                            .to_owned()
                    }
                    _ => invocation,
                }
            }
            None => format!("{prefix}{}", name.replace('_', " ")),
        }
    }

    /// The commands that may follow `node`, as a person types them.
    pub fn next_invocations(&self, node: usize, registry: &Registry, prefix: &str) -> Vec<String> {
        self.next(node)
            .map(|e| e.to as usize)
            .filter(|&to| !self.nodes[to].end)
            .map(|to| self.invocation(to, registry, prefix))
            .collect()
    }

    /// Errbot's hint after a step: where the person is and what may follow.
    pub fn hint(&self, node: usize, registry: &Registry, prefix: &str) -> Option<String> {
        let steps = self.next_invocations(node, registry, prefix);
        if steps.is_empty() {
            return None;
        }
        let mut text = format!(
            "You are in the flow **{}**, you can continue with:\n",
            self.name
        );
        for step in steps {
            let _ = write!(text, "\n- {step}");
        }
        Some(text)
    }

    /// The graph as an indented list (`!flows show`, `!flows status NAME`): every step with its
    /// command's help when `registry` is given, `here` marking the current node with a note.
    pub fn tree(&self, registry: Option<&Registry>, here: Option<(usize, &str)>) -> String {
        let mut out = format!("Flow **{}**", self.name);
        if !self.description.is_empty() {
            let _ = write!(out, ": {}", self.description);
        }
        if let Some((ROOT, note)) = here {
            let _ = write!(out, " ← {note}");
        }
        let mut path = vec![ROOT];
        self.subtree(&mut out, registry, here, &mut path);
        out
    }

    fn subtree(
        &self,
        out: &mut String,
        registry: Option<&Registry>,
        here: Option<(usize, &str)>,
        path: &mut Vec<usize>,
    ) {
        let Some(&node) = path.last() else { return };
        let depth = path.len() - 1;
        for edge in self.next(node) {
            let to = edge.to as usize;
            let indent = "  ".repeat(depth);
            let _ = write!(out, "\n{indent}- **{}**", self.step_name(to));
            if edge.auto_trigger {
                out.push_str(" (starts the flow)");
            } else if edge.always || !edge.predicate.is_empty() {
                out.push_str(" (automatic when ready)");
            }
            if let Some(help) = registry
                .and_then(|r| r.get(&self.nodes[to].command))
                .map(|c| c.summary().to_owned())
            {
                let _ = write!(out, ": {help}");
            }
            if let Some((at, note)) = here
                && at == to
            {
                let _ = write!(out, " ← {note}");
            }
            if path.contains(&to) {
                out.push_str(" ↺");
                continue;
            }
            path.push(to);
            self.subtree(out, registry, here, path);
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use errbot_proto::v1::FlowNode;

    fn node(command: &str) -> FlowNode {
        FlowNode {
            command: command.into(),
            ..Default::default()
        }
    }

    fn edge(from: u32, to: u32) -> FlowEdge {
        FlowEdge {
            from,
            to,
            ..Default::default()
        }
    }

    /// Errbot's test flow w2: c and e auto-trigger it; b follows c, d follows e.
    fn w2() -> FlowSpec {
        FlowSpec {
            name: "w2".into(),
            description: "documentation of W2".into(),
            nodes: vec![node(""), node("c"), node("b"), node("e"), node("d")],
            edges: vec![
                FlowEdge {
                    auto_trigger: true,
                    ..edge(0, 1)
                },
                edge(1, 2),
                FlowEdge {
                    auto_trigger: true,
                    ..edge(0, 3)
                },
                edge(3, 4),
            ],
            room_flow: false,
        }
    }

    #[test]
    fn steps_and_triggers() {
        let flow = FlowDef::new("FlowTest", &w2()).unwrap();
        assert_eq!(flow.auto_trigger("c"), Some(1));
        assert_eq!(flow.auto_trigger("e"), Some(3));
        assert_eq!(flow.auto_trigger("b"), None);
        assert_eq!(flow.step_for(1, "b"), Some(2));
        assert_eq!(flow.step_for(1, "d"), None);
        assert_eq!(flow.step_for(0, "c"), Some(1));
        let registry = Registry::default();
        assert_eq!(
            flow.hint(1, &registry, "!").unwrap(),
            "You are in the flow **w2**, you can continue with:\n\n- !b"
        );
        assert_eq!(flow.hint(2, &registry, "!"), None);
    }

    #[test]
    fn bad_graphs_are_refused_with_a_reason() {
        let mut spec = w2();
        spec.edges.push(edge(1, 9));
        assert!(
            FlowDef::new("p", &spec)
                .unwrap_err()
                .contains("does not exist")
        );
        let mut spec = w2();
        spec.edges.push(FlowEdge {
            auto_trigger: true,
            ..edge(1, 2)
        });
        assert!(
            FlowDef::new("p", &spec)
                .unwrap_err()
                .contains("auto-trigger")
        );
        let mut spec = w2();
        spec.nodes[0].command = "a".into();
        assert!(FlowDef::new("p", &spec).unwrap_err().contains("root"));
        let mut spec = w2();
        spec.nodes.push(node(""));
        assert!(
            FlowDef::new("p", &spec)
                .unwrap_err()
                .contains("needs a command")
        );
        let mut spec = w2();
        spec.name = "two words".into();
        assert!(FlowDef::new("p", &spec).is_err());
    }

    #[test]
    fn the_tree_marks_where_a_flow_is_and_cycles() {
        let mut spec = w2();
        spec.edges.push(edge(2, 1));
        let flow = FlowDef::new("p", &spec).unwrap();
        let tree = flow.tree(None, Some((2, "@ada")));
        assert_eq!(
            tree,
            "Flow **w2**: documentation of W2\n- **c** (starts the flow)\n  - **b** ← @ada\n    \
             - **c** ↺\n- **e** (starts the flow)\n  - **d**"
        );
    }
}
