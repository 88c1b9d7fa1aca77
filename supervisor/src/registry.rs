//! The table of every available command, built from the built-in plugins and the descriptions of
//! the active plugin processes. Dispatch reads an immutable snapshot (`Arc<Registry>`), so a
//! plugin (de)activation swaps the whole table and no message sees half of a change.

use std::collections::HashMap;
use std::sync::Arc;

use errbot_proto::v1::{CommandSpec, PluginDescription, command_spec};
use regex::{Regex, RegexBuilder};

use crate::flows::graph::FlowDef;

/// Who runs a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// errbotd itself.
    Builtin,
    /// The plugin process of that name.
    Plugin(String),
}

/// One registered command.
#[derive(Debug)]
pub struct Command {
    /// Name under which it is registered (lowercase, underscores between words). Differs from
    /// `spec.name` only when a clash forced a rename.
    pub name: String,
    /// Plugin it belongs to, as shown by `!help`.
    pub plugin: String,
    /// Who executes it.
    pub owner: Owner,
    /// The declaration.
    pub spec: CommandSpec,
    /// Compiled pattern for regex commands.
    pub regex: Option<Regex>,
    /// Its metrics' handles.
    pub metrics: crate::telemetry::CommandMetrics,
}

impl Command {
    /// The name as people type it: underscores become spaces.
    pub fn display_name(&self) -> String {
        self.name.replace('_', " ")
    }

    /// First line of the help text.
    pub fn summary(&self) -> &str {
        self.spec
            .help
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("(undocumented)")
    }

    /// Whether help, suggestions and completion show it: not hidden, and not a flow step
    /// (Errbot hides `flow_only` commands unless told otherwise).
    pub fn listed(&self) -> bool {
        !self.spec.hidden && !self.spec.flow_only
    }

    /// True for regex commands.
    pub fn is_regex(&self) -> bool {
        self.regex.is_some()
    }
}

/// A plugin as listed by `!help` and `!status`.
#[derive(Clone, Debug)]
pub struct PluginEntry {
    /// Plugin name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Built into errbotd.
    pub builtin: bool,
}

/// A command filter declared by a plugin process (Errbot's cmdfilter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterRef {
    /// The plugin that serves it.
    pub plugin: String,
    /// Its name in the plugin (`CommandFilterSpec.name`).
    pub name: String,
    /// Also called for messages that name no command.
    pub catch_unprocessed: bool,
}

/// An immutable command table.
#[derive(Debug, Default)]
pub struct Registry {
    filters: Vec<FilterRef>,
    /// Plugin processes subscribed to each callback (by `Callback` number), in name order.
    callbacks: HashMap<i32, Vec<String>>,
    plain: HashMap<String, Arc<Command>>,
    regex: Vec<Arc<Command>>,
    plugins: Vec<PluginEntry>,
    ordered: Vec<Arc<Command>>,
    max_words: usize,
    /// The plugins' webhooks, in description order (a later clashing rule is left out).
    webhooks: Vec<crate::web::routes::Route>,
    /// The plugins' flows, in description order (a later one with a taken name is left out).
    flows: Vec<Arc<FlowDef>>,
}

/// A problem found while registering a plugin's commands (reported to admins, not fatal).
#[derive(Debug, Clone, PartialEq)]
pub struct Warning(pub String);

impl Registry {
    /// The plugins that declared `callback`, in the order the descriptions were given.
    pub fn subscribers(&self, callback: errbot_proto::v1::Callback) -> &[String] {
        self.callbacks
            .get(&(callback as i32))
            .map_or(&[], Vec::as_slice)
    }

    /// Builds a table from plugin descriptions, in order: earlier plugins keep their names when
    /// two declare the same command, later ones get `plugin-command` (as Errbot).
    pub fn build<'a>(
        descriptions: impl IntoIterator<Item = (&'a PluginDescription, Owner)>,
    ) -> (Self, Vec<Warning>) {
        let mut reg = Registry {
            max_words: 1,
            ..Default::default()
        };
        let mut warnings = Vec::new();
        for (desc, owner) in descriptions {
            reg.plugins.push(PluginEntry {
                name: desc.name.clone(),
                description: desc.description.clone(),
                builtin: owner == Owner::Builtin,
            });
            if let Owner::Plugin(plugin) = &owner {
                let mut declared = desc.callbacks.clone();
                declared.sort_unstable();
                declared.dedup();
                for callback in declared {
                    reg.callbacks
                        .entry(callback)
                        .or_default()
                        .push(plugin.clone());
                }
                reg.filters
                    .extend(desc.command_filters.iter().map(|f| FilterRef {
                        plugin: plugin.clone(),
                        name: f.name.clone(),
                        catch_unprocessed: f.catch_unprocessed,
                    }));
                for spec in &desc.flows {
                    match FlowDef::new(plugin, spec) {
                        Err(e) => warnings.push(Warning(format!("{}: {e}; ignored", desc.name))),
                        Ok(flow) => {
                            if let Some(other) = reg.flows.iter().find(|f| f.name == flow.name) {
                                warnings.push(Warning(format!(
                                    "{}: flow {} is declared by {} already; ignored",
                                    desc.name, flow.name, other.plugin
                                )));
                            } else {
                                reg.flows.push(Arc::new(flow));
                            }
                        }
                    }
                }
                for spec in &desc.webhooks {
                    match crate::web::routes::Route::new(plugin, spec) {
                        Err(e) => warnings.push(Warning(format!("{}: {e}; ignored", desc.name))),
                        Ok(route) => {
                            if let Some(other) =
                                reg.webhooks.iter().find(|r| r.shape() == route.shape())
                            {
                                warnings.push(Warning(format!(
                                    "{}: webhook {} is served by {} already; ignored",
                                    desc.name, spec.uri_rule, other.plugin
                                )));
                            } else {
                                reg.webhooks.push(route);
                            }
                        }
                    }
                }
            }
            for spec in &desc.commands {
                match reg.add(desc, owner.clone(), spec) {
                    Ok(Some(w)) | Err(w) => warnings.push(w),
                    Ok(None) => {}
                }
            }
        }
        (reg, warnings)
    }

    fn add(
        &mut self,
        desc: &PluginDescription,
        owner: Owner,
        spec: &CommandSpec,
    ) -> Result<Option<Warning>, Warning> {
        let mut name = spec.name.trim().to_lowercase().replace(' ', "_");
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(Warning(format!(
                "{}: command name {:?} is not valid; ignored",
                desc.name, spec.name
            )));
        }
        let regex = match &spec.kind {
            Some(command_spec::Kind::Regex(r)) => Some(
                RegexBuilder::new(&r.pattern)
                    .case_insensitive(r.case_insensitive)
                    .dot_matches_new_line(r.dot_all)
                    .multi_line(r.multi_line)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        Warning(format!(
                            "{}.{}: invalid pattern: {e}; ignored",
                            desc.name, name
                        ))
                    })?,
            ),
            _ => None,
        };
        let taken = if regex.is_some() {
            self.regex.iter().find(|c| c.name == name)
        } else {
            self.plain.get(&name)
        };
        let mut warning = None;
        if let Some(other) = taken {
            let renamed = format!("{}-{}", desc.name.to_lowercase(), name);
            // Errbot's words.
            warning = Some(Warning(format!(
                "{}.{name} clashes with {}.{} so it has been renamed {renamed}",
                desc.name, other.plugin, other.spec.name
            )));
            name = renamed;
        }
        let command = Arc::new(Command {
            name: name.clone(),
            plugin: desc.name.clone(),
            owner,
            spec: spec.clone(),
            regex,
            metrics: Default::default(),
        });
        self.ordered.push(command.clone());
        if command.is_regex() {
            self.regex.push(command);
        } else {
            self.max_words = self.max_words.max(name.split('_').count());
            self.plain.insert(name, command);
        }
        Ok(warning)
    }

    /// The flow named `name`.
    pub fn flow(&self, name: &str) -> Option<&Arc<FlowDef>> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// Every flow, in declaration order.
    pub fn flows(&self) -> &[Arc<FlowDef>] {
        &self.flows
    }

    /// Whether any plugin declared a flow.
    pub fn has_flows(&self) -> bool {
        !self.flows.is_empty()
    }

    /// The plain command named by the longest run of leading `words`, and how many words it used.
    pub fn lookup(&self, words: &[&str]) -> Option<(Arc<Command>, usize)> {
        for n in (1..=words.len().min(self.max_words)).rev() {
            let key = words[..n].join("_").to_lowercase();
            if let Some(c) = self.plain.get(&key) {
                return Some((c.clone(), n));
            }
        }
        None
    }

    /// Number of words in the longest plain command name.
    pub fn max_words(&self) -> usize {
        self.max_words
    }

    /// A plain or regex command by registered name.
    pub fn get(&self, name: &str) -> Option<&Arc<Command>> {
        self.plain
            .get(name)
            .or_else(|| self.regex.iter().find(|c| c.name == name))
    }

    /// Regex commands, in registration order.
    pub fn regex_commands(&self) -> &[Arc<Command>] {
        &self.regex
    }

    /// Every command in registration order.
    pub fn commands(&self) -> &[Arc<Command>] {
        &self.ordered
    }

    /// Commands of one plugin, in declaration order.
    pub fn commands_of<'a>(&'a self, plugin: &'a str) -> impl Iterator<Item = &'a Arc<Command>> {
        self.ordered.iter().filter(move |c| c.plugin == plugin)
    }

    /// Command filters of the plugin processes, in the order they run.
    pub fn filters(&self) -> &[FilterRef] {
        &self.filters
    }

    /// The plugins' webhooks.
    pub fn webhooks(&self) -> &[crate::web::routes::Route] {
        &self.webhooks
    }

    /// The webhook serving `path`, with the rule's parameters.
    pub fn webhook_route(
        &self,
        path: &str,
    ) -> Option<(&crate::web::routes::Route, HashMap<String, String>)> {
        self.webhooks
            .iter()
            .find_map(|r| r.matches(path).map(|params| (r, params)))
    }

    /// Every plugin, built-ins first.
    pub fn plugins(&self) -> &[PluginEntry] {
        &self.plugins
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use errbot_proto::v1::{PlainCommand, RegexCommand};

    fn desc(name: &str, cmds: &[&str]) -> PluginDescription {
        PluginDescription {
            name: name.into(),
            commands: cmds
                .iter()
                .map(|c| CommandSpec {
                    name: (*c).into(),
                    kind: Some(command_spec::Kind::Plain(PlainCommand::default())),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn longest_run_of_words_wins() {
        let a = desc("A", &["plugin", "plugin_config", "status"]);
        let (reg, w) = Registry::build([(&a, Owner::Builtin)]);
        assert!(w.is_empty());
        let (c, n) = reg.lookup(&["plugin", "config", "hello"]).expect("found");
        assert_eq!((c.name.as_str(), n), ("plugin_config", 2));
        let (c, n) = reg.lookup(&["Plugin", "list"]).expect("found");
        assert_eq!((c.name.as_str(), n), ("plugin", 1));
        let (c, _) = reg.lookup(&["plugin_config"]).expect("underscore form");
        assert_eq!(c.name, "plugin_config");
        assert!(reg.lookup(&["nope"]).is_none());
    }

    #[test]
    fn clashes_are_renamed_and_bad_patterns_skipped() {
        let a = desc("A", &["echo"]);
        let mut b = desc("B", &["echo"]);
        b.commands.push(CommandSpec {
            name: "bad".into(),
            kind: Some(command_spec::Kind::Regex(RegexCommand {
                pattern: "(".into(),
                ..Default::default()
            })),
            ..Default::default()
        });
        let (reg, w) = Registry::build([(&a, Owner::Builtin), (&b, Owner::Plugin("B".into()))]);
        assert_eq!(w.len(), 2);
        assert_eq!(reg.lookup(&["echo"]).expect("kept").0.plugin, "A");
        assert_eq!(reg.lookup(&["b-echo"]).expect("renamed").0.plugin, "B");
        assert!(reg.regex_commands().is_empty());
    }
}
