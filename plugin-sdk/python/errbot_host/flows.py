"""The flows of an Errbot plugin directory. A `.flow` file (INI: [Core] Name, Module) names a
module whose BotFlow subclasses hold `@botflow` methods; each method builds its FlowRoot once,
here, and the graph is declared to errbotd as a FlowSpec (nodes by index, the root first).
errbotd runs the flows; the predicates stay here, by name, for FlowPredicate."""

import glob
import inspect
import logging
import os

from errbot.flow import BotFlow, FlowRoot, _FlowEnd, _never
from errbot.v1 import plugin_pb2

from .plug import PlugError, classes_in, read_core

log = logging.getLogger(__name__)


class Flows:
    """The flows declared by a plugin directory: their specs and their predicates."""

    def __init__(self):
        self.specs = []
        self.predicates = {}  # (flow name, predicate name) -> callable(ctx)

    def add(self, root):
        """Declares the flow built in `root`."""
        nodes, index = [root], {id(root): 0}
        edges = []
        triggers = {t for t in root.auto_triggers if isinstance(t, str)}
        position = 0
        while position < len(nodes):
            node = nodes[position]
            position += 1
            for predicate, child in node.children:
                if id(child) not in index:
                    index[id(child)] = len(nodes)
                    nodes.append(child)
                name = ""
                if predicate is not _never:
                    name = f"p{len(self.predicates)}"
                    self.predicates[(root.name, name)] = predicate
                edges.append(plugin_pb2.FlowEdge(
                    **{"from": index[id(node)]}, to=index[id(child)], predicate=name,
                    auto_trigger=node is root and child.command in triggers))
        self.specs.append(plugin_pb2.FlowSpec(
            name=root.name,
            description=inspect.cleandoc(root.description or ""),
            nodes=[plugin_pb2.FlowNode(command="" if n is root or n.command is None
                                       else str(n.command),
                                       end=isinstance(n, _FlowEnd),
                                       no_hints=not getattr(n, "hints", True))
                   for n in nodes],
            edges=edges,
            room_flow=bool(root.room_flow),
        ))

    def holds(self, flow, predicate, ctx):
        """Whether the predicate holds for `ctx`; None when there is no such predicate."""
        found = self.predicates.get((flow, predicate))
        return None if found is None else bool(found(ctx))


def load_flows(directory, bot):
    """The flows of every `.flow` file in `directory`; a file that cannot be loaded is logged
    and skipped (as Errbot does), the plugin's commands still serve."""
    flows = Flows()
    for path in sorted(glob.glob(os.path.join(directory, "*.flow"))):
        try:
            _, name, module_name = read_core(path)
            classes = classes_in(directory, module_name, BotFlow)
        except PlugError as e:
            log.error("the flows of %s are left out: %s", path, e)
            continue
        for cls in classes:
            instance = cls(bot, name=name)
            for method_name, method in inspect.getmembers(instance, inspect.ismethod):
                if not getattr(method, "_err_flow", False):
                    continue
                root = FlowRoot(method_name, method.__doc__)
                try:
                    method(root)
                except Exception:
                    log.exception("flow %s could not be built", method_name)
                    continue
                flows.add(root)
            try:
                instance.activate()
            except Exception:
                log.exception("activating the flows of %s failed", cls.__name__)
    return flows
