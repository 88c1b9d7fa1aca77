"""Errbot's flow API (`errbot.flow`): FlowRoot, FlowNode, FLOW_END, BotFlow and `@botflow`.

A BotFlow's `@botflow` methods build their graphs once, when the host starts; errbotd runs the
flows (see errbot_host.flows): it keeps each flow in progress and its context in its storage,
and asks this process, through FlowPredicate, whether an edge's predicate holds. A command run
as a step finds the flow's context in `msg.ctx` and the flow in `msg.flow`."""


def _never(_ctx):
    """Errbot's default predicate: a step never runs by itself."""
    return False


class FlowNode:
    """A step of a flow: the command it runs, and the steps that may follow (with the
    predicate that lets each run by itself)."""

    def __init__(self, command=None, hints=True):
        self.command = command
        self.children = []  # (predicate, node)
        self.hints = hints

    def connect(self, node_or_command, predicate=_never, hints=True):
        """Adds a step after this one (a node, or a command name) and returns its node."""
        node = (node_or_command if isinstance(node_or_command, FlowNode)
                else FlowNode(node_or_command, hints=hints))
        self.children.append((predicate, node))
        return node

    def predicate_for_node(self, node):
        """The predicate of the edge to `node`, or None."""
        for predicate, child in self.children:
            if child == node:
                return predicate
        return None

    def __str__(self):
        return str(self.command)


class FlowRoot(FlowNode):
    """The start of a flow: its name and description, and the commands that start it."""

    def __init__(self, name, description):
        super().__init__()
        self.name = name
        self.description = description
        self.auto_triggers = set()
        self.room_flow = False

    def connect(self, node_or_command, predicate=_never, auto_trigger=False, room_flow=False):
        """As FlowNode.connect; `auto_trigger`: running the command starts the flow;
        `room_flow`: the flow belongs to the room rather than one person."""
        node = super().connect(node_or_command, predicate)
        if auto_trigger:
            self.auto_triggers.add(node_or_command)
        self.room_flow = room_flow
        return node

    def __str__(self):
        return self.name


class _FlowEnd(FlowNode):
    def __str__(self):
        return "END"


#: Reaching this node ends the flow.
FLOW_END = _FlowEnd()


class InvalidState(Exception):
    """Errbot's error for a step its flow does not allow."""


class Flow:
    """A flow in progress as a step sees it (`msg.flow`): its name and its context."""

    def __init__(self, name, ctx):
        self._name = name
        self.ctx = ctx

    @property
    def name(self):
        return self._name

    def __str__(self):
        return f"{self._name} with params {dict(self.ctx)}"


class BotFlow:
    """A class of `@botflow` methods (Errbot's BotFlow), found through a `.flow` file."""

    def __init__(self, bot, name=None):
        super().__init__()
        self._bot = bot
        self.is_activated = False
        self._name = name

    @property
    def name(self):
        return self._name

    def activate(self):
        self.is_activated = True

    def deactivate(self):
        self.is_activated = False

    def get_command(self, command_name):
        return getattr(self._bot, "all_commands", {}).get(command_name)


def botflow(*args, **kwargs):
    """Marks a method of a BotFlow that builds a flow from the FlowRoot it is given."""

    def decorate(func):
        if not hasattr(func, "_err_flow"):
            func._err_flow = True
        return func

    return decorate(args[0]) if args else decorate
