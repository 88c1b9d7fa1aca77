#!/usr/bin/env python3
"""python-hello: an errbot-rs plugin written in Python, straight on the errbot.v1 protocol.

This file is the reference for writing a plugin in any language other than Rust. A plugin is a
program that errbotd starts with a few environment variables (the child contract) and that serves
two gRPC services on a Unix socket:

  * errbot.v1.PluginService (proto/errbot/v1/plugin.proto): Describe what the plugin offers,
    Activate/Deactivate it, Execute commands (a stream of replies), deliver Events (the callbacks
    it declared), run Poll ticks;
  * grpc.health.v1.Health: answer SERVING for the service "" once ready.

and may call errbotd's services on ERRBOT_BOT_SOCKET with its token: errbot.v1.BotService (send
messages, start pollers) and errbot.v1.StorageService (proto/errbot/v1/storage.proto: the
plugin's own persistent key/value storage, JSON values, compare-and-set updates).

errbotd waits for SERVING, calls Describe then Activate, then Execute for each command a user
types, Event for each callback the plugin declared (every message, say; one at a time, in order,
beside the commands, never holding them up), and Poll for each tick of the pollers the plugin
started (BotService.StartPoller; errbotd owns their schedules, so they outlive the process: a
restarted plugin finds them running), and Webhook for each HTTP request to a path it declared
(@webhook; errbotd's web server, `[web]`). A command may answer with a template (Content.template:
templates/NAME.md beside this file, rendered by errbotd). The program logs to stderr (errbotd
forwards each line into its own log), never parses or writes stdout, and exits with status 0 on
SIGTERM.

The file reads top to bottom as: the child contract, a small Errbot-like plugin API (BotPlugin
with its callback_* methods, @botcmd, @arg_botcmd, CommandError, Storage), the adapter from that
API to PluginService, the server, and last the plugin itself (class PythonHello). Only the
adapter and the server know about the protocol; a plugin author writes a class like PythonHello.
"""

import inspect
import json
import logging
import os
import platform
import signal
import sys
import time
from concurrent import futures

# The generated stubs (see generate_stubs.sh) live beside this file. They go first on sys.path so
# that their `errbot` package wins over anything installed under that name.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "errbot_stubs"))

import grpc  # noqa: E402
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # noqa: E402

from errbot.v1 import bot_pb2, bot_pb2_grpc, common_pb2, plugin_pb2, plugin_pb2_grpc  # noqa: E402
from errbot.v1 import storage_pb2, storage_pb2_grpc  # noqa: E402

PLUGIN_VERSION = "0.1.0"
PROTOCOL_VERSION = "errbot.v1"

log = logging.getLogger("python-hello")


# --------------------------------------------------------------------------------------------
# The child contract: environment variables set by errbotd (proto/src/contract.rs).
# --------------------------------------------------------------------------------------------

ENV_SOCKET = "ERRBOT_SOCKET"  # where to serve: "unix:/path/to/socket"
ENV_BOT_SOCKET = "ERRBOT_BOT_SOCKET"  # errbotd's BotService: "unix:/path/to/socket"
ENV_TOKEN = "ERRBOT_TOKEN"  # secret sent as `x-errbot-token` metadata on every BotService call
ENV_NAME = "ERRBOT_NAME"  # this plugin's name, as in plugin.toml
ENV_PROTOCOL_VERSIONS = "ERRBOT_PROTOCOL_VERSIONS"  # "errbot.v1" (comma-separated), optional
TOKEN_HEADER = "x-errbot-token"


class ContractError(Exception):
    """The program was not started the way errbotd starts plugins."""


def read_contract(environ=os.environ):
    """Returns the contract's values as a dict, or raises ContractError."""
    values = {}
    for var in (ENV_SOCKET, ENV_BOT_SOCKET, ENV_TOKEN, ENV_NAME):
        if not environ.get(var):
            raise ContractError(
                f"environment variable {var} is not set: this program is started by errbotd "
                "(put its directory in a plugins directory of errbot.toml)"
            )
        values[var] = environ[var]
    for var in (ENV_SOCKET, ENV_BOT_SOCKET):
        if not values[var].startswith("unix:/"):
            raise ContractError(f"{var}={values[var]!r}: expected unix:/absolute/path")
    versions = environ.get(ENV_PROTOCOL_VERSIONS) or PROTOCOL_VERSION
    if PROTOCOL_VERSION not in versions.split(","):
        raise ContractError(
            f"{ENV_PROTOCOL_VERSIONS}={versions!r}: this plugin only speaks {PROTOCOL_VERSION}"
        )
    return values


# --------------------------------------------------------------------------------------------
# A small Errbot-like API. Nothing here is required by the protocol: it only builds the
# PluginDescription (Describe) from decorated methods and turns their results into Replies.
# --------------------------------------------------------------------------------------------


class CommandError(Exception):
    """Raise from a command to end it with this text shown to the user (Errbot's CommandError).

    Sent as a Reply with `error` set. Any other exception is a plugin failure: it ends the call
    with a gRPC error status, which errbotd reports to the user.
    """


# Python types of declared parameters and their protocol counterparts. errbotd has checked every
# value against the type before Execute; values arrive as text and are converted back here.
_PARAM_TYPES = {
    str: (plugin_pb2.PARAM_TYPE_STRING, str),
    int: (plugin_pb2.PARAM_TYPE_INTEGER, int),
    float: (plugin_pb2.PARAM_TYPE_FLOAT, float),
    bool: (plugin_pb2.PARAM_TYPE_BOOLEAN, lambda text: text == "true"),
}


def _command_of(func):
    """The CommandSpec being built for `func` (created on first use)."""
    if not hasattr(func, "_errbot_command"):
        spec = plugin_pb2.CommandSpec(name=func.__name__, historize=True)
        spec.plain.SetInParent()  # a plain command: `!name args`, arguments passed raw
        spec.help = inspect.cleandoc(func.__doc__ or "")  # the docstring is the help
        func._errbot_command = spec
    return func._errbot_command


def botcmd(func=None, *, name=None, hidden=False, admin_only=False, historize=True, syntax="",
           split_args_with=None, template="", flow_only=False):
    """Marks a method as a command, like Errbot's @botcmd. The method is called as
    `method(self, msg, args)` with msg the errbot.v1.Message and args the argument string.

    split_args_with: None passes args as a string; "" or a separator passes a list (Errbot's
    split_args_with, splitting done by errbotd).
    template: the command's template (Errbot's `template=`), templates/NAME.md beside plugin.py
    (Jinja2 syntax). A dict the command returns or yields is then sent as that template's
    parameters and errbotd renders it into Markdown; a str is still sent as it is.
    flow_only: the command only runs as a step of a flow (see botflow).

    A command that takes a `ctx` argument gets its flow's context (a dict, empty outside flows)
    and may change it: the flow's next steps see the change.
    """

    def mark(f):
        spec = _command_of(f)
        spec.name = name or f.__name__
        spec.hidden = hidden
        spec.admin_only = admin_only
        spec.historize = historize
        spec.syntax = syntax
        spec.template = template
        spec.flow_only = flow_only
        if split_args_with is not None:
            spec.plain.arg_mode = plugin_pb2.ARG_MODE_SPLIT
            spec.plain.separator = split_args_with
        f._errbot_split = split_args_with is not None
        return f

    return mark(func) if func is not None else mark


def arg_botcmd(*names, type=str, help="", default=None, required=None, choices=(),
               action=None, multiple=False, rest=False, **botcmd_options):
    """Declares one typed parameter and marks the method as a command, like Errbot's
    @arg_botcmd. Stack one per parameter, in order, top to bottom:

        @arg_botcmd("a", type=int)              positional, required
        @arg_botcmd("--times", "-t", type=int)  option `--times 3`, `--times=3` or `-t 3`
        @arg_botcmd("--loud", action="store_true")   flag

    errbotd parses and checks the arguments (usage and `-h` included) and the method is called
    as `method(self, msg, **params)`: one keyword per parameter given or defaulted (a list when
    multiple=True); a parameter not given is not passed, so give the Python argument a default.
    """

    def mark(f):
        spec = _command_of(f)
        if botcmd_options:  # @arg_botcmd("x", hidden=True): options of the command itself
            botcmd(**botcmd_options)(f)
        long_name = next((n[2:] for n in names if n.startswith("--")), "")
        short_name = next((n[1:] for n in names if n.startswith("-") and not n.startswith("--")), "")
        positional = not names[0].startswith("-")
        param = plugin_pb2.ParamSpec(
            name=(names[0] if positional else long_name).replace("-", "_"),
            help=help,
            multiple=multiple,
            rest=rest,
            choices=[str(c) for c in choices],
        )
        if default is not None:  # sent as text, booleans as "true"/"false"
            param.default_value = str(default).lower() if isinstance(default, bool) else str(default)
        if action == "store_true":
            param.kind = plugin_pb2.PARAM_KIND_FLAG
            param.type = plugin_pb2.PARAM_TYPE_BOOLEAN
        else:
            param.kind = plugin_pb2.PARAM_KIND_POSITIONAL if positional else plugin_pb2.PARAM_KIND_OPTION
            param.type = _PARAM_TYPES[type][0]
        if not positional:
            param.long = long_name if long_name != param.name else ""
            param.short = short_name
        param.required = (positional and default is None) if required is None else required
        # Decorators apply bottom-up: insert at the front so the declared order is kept.
        spec.plain.params.insert(0, param)
        return f

    return mark


class Flow:
    """A conversation flow being declared (Errbot's FlowRoot), straight into the protocol's
    FlowSpec: node 0 is the start, each step a node running a command, each edge a step that
    may follow another. errbotd runs the flow and keeps it (and its context) in its storage;
    it asks this plugin, through FlowPredicate, whether an edge's predicate holds."""

    START = 0

    def __init__(self, name, description):
        self.spec = plugin_pb2.FlowSpec(name=name, description=description,
                                        nodes=[plugin_pb2.FlowNode()])
        self.predicates = {}  # predicate name -> function(ctx) -> bool

    def _edge(self, frm, to, predicate):
        name = ""
        if predicate is not None:
            name = f"p{len(self.predicates)}"
            self.predicates[name] = predicate
        edge = self.spec.edges.add(to=to, predicate=name)
        setattr(edge, "from", frm)  # `from` is a Python keyword
        return edge

    def connect(self, frm, command, predicate=None, auto_trigger=False):
        """A step running `command` after node `frm`: typed by the person (and hinted), or by
        itself once `predicate(ctx)` holds. `auto_trigger` (from START only): running the
        command outside any flow starts the flow. Returns the step's node."""
        self.spec.nodes.add(command=command)
        to = len(self.spec.nodes) - 1
        self._edge(frm, to, predicate).auto_trigger = auto_trigger
        return to

    def end(self, frm, predicate=None):
        """Ends the flow after node `frm`: at once, or once `predicate(ctx)` holds."""
        self.spec.nodes.add(end=True)
        edge = self._edge(frm, len(self.spec.nodes) - 1, predicate)
        edge.always = predicate is None


def botflow(func):
    """Marks a method that declares a flow (Errbot's @botflow): called once with a Flow named
    after the method, described by its docstring."""
    func._errbot_flow = True
    return func


def webhook(uri_rule=None, *, methods=("POST",), body="json"):
    """Marks a method as a webhook on errbotd's web server (`[web]` in errbot.toml), like
    Errbot's @webhook. `uri_rule` is the path, as Errbot's (Flask's): "/hello" or
    "/hello/<name>", by default "/" and the method's name. The method is called as
    `method(self, payload)`, payload the JSON body (or a form's fields) as Python values, None
    when empty; with body="raw", the errbot.v1.WebhookRequest itself (headers, query, bytes).

    It answers a str (text/plain), a dict or list (JSON), None (an empty 200), or a
    plugin_pb2.WebhookResponse for a status and headers of its own.
    """

    def mark(f):
        f._errbot_webhook = plugin_pb2.WebhookSpec(
            name=f.__name__, uri_rule=uri_rule or f"/{f.__name__}", methods=list(methods),
            body=body)
        return f

    return mark


def _to_webhook_response(result):
    """A webhook method's answer as the HTTP response errbotd sends back."""
    if isinstance(result, plugin_pb2.WebhookResponse):
        return result
    if result is None:
        return plugin_pb2.WebhookResponse(status=200)
    if isinstance(result, (bytes, str)):
        data = result.encode() if isinstance(result, str) else result
        return plugin_pb2.WebhookResponse(
            status=200, headers={"content-type": "text/plain; charset=utf-8"}, body=data)
    return plugin_pb2.WebhookResponse(
        status=200, headers={"content-type": "application/json"},
        body=json.dumps(result).encode())


class BotPlugin:
    """Base class of a plugin (Errbot's BotPlugin). The class docstring is its description.

    Like Errbot's, a plugin is a persistent dict of its own: `self["key"] = value`,
    `self["key"]`, `"key" in self`, `del self["key"]`, with JSON values (see Storage, reached as
    `self.storage` for atomic updates and key listings).

    Callbacks are Errbot's too: define `callback_message(self, msg)` to get every message the bot
    sees, and so on (the names and arguments are in _CALLBACKS below). Describe declares the
    callbacks the class defines, and errbotd sends the plugin those only. A callback never
    answers in the chat; it may send (self.send) like any code of the plugin."""

    name = ""
    version = PLUGIN_VERSION

    def __init__(self, bot, storage=None):
        self.bot = bot  # BotClient: errbotd's BotService, to send messages as the bot
        self.storage = storage  # Storage: errbotd's StorageService, this plugin's namespace
        self.log = log
        self.config = None  # configuration JSON text given at activation, or None
        self.bot_prefix = "!"

    def __getitem__(self, key):
        found, value = self.storage.get(key)
        if not found:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        self.storage.set(key, value)

    def __delitem__(self, key):
        if not self.storage.delete(key):
            raise KeyError(key)

    def __contains__(self, key):
        return self.storage.get(key)[0]

    def activate(self):
        """Called when errbotd activates the plugin (after Describe)."""

    def deactivate(self):
        """Called when errbotd deactivates the plugin, before stopping the process. No need to
        stop pollers here: errbotd stops them itself when the plugin is deactivated (and keeps
        them when it only replaces the process, as `!plugin reload` does)."""

    def send(self, identifier, text, backend=""):
        """Sends Markdown `text` as the bot (Errbot's send); `identifier` is an Identifier from a
        Message or its canonical text ("#room", "@person") on `backend` (empty: the first
        configured one). Returns the message id."""
        return self.bot.send(identifier, text, backend=backend)

    def send_templated(self, identifier, template_name, template_parameters, backend=""):
        """Sends templates/TEMPLATE_NAME.md rendered with `template_parameters` (a dict) as the
        bot (Errbot's send_templated); errbotd renders it. Returns the message id."""
        return self.bot.send_templated(identifier, template_name, template_parameters,
                                       backend=backend)

    def start_poller(self, interval, method, times=None, args=None, kwargs=None):
        """Calls `method(*args, **kwargs)` every `interval` seconds, `times` times or until
        stopped (Errbot's start_poller). errbotd keeps the schedule: the poller goes on while the
        plugin restarts, so starting it in activate() is right; starting one that runs already
        keeps its schedule. Returns True when it was running already."""
        return self.bot.start_poller(interval, method.__name__, times or 0,
                                     _poller_args(args, kwargs))

    def stop_poller(self, method, args=None, kwargs=None):
        """Stops the poller of `method` with these arguments (Errbot's stop_poller); returns
        whether one was running."""
        return self.bot.stop_poller(method.__name__, _poller_args(args, kwargs))

    @classmethod
    def webhooks(cls):
        """The methods marked with @webhook: (WebhookSpec, method name)."""
        return [
            (member._errbot_webhook, attr)
            for attr, member in vars(cls).items()
            if hasattr(member, "_errbot_webhook")
        ]

    @classmethod
    def commands(cls):
        """The decorated methods, in definition order: (CommandSpec, method name)."""
        return [
            (member._errbot_command, attr)
            for attr, member in vars(cls).items()
            if hasattr(member, "_errbot_command")
        ]


def _poller_args(args, kwargs):
    """Errbot's poller arguments as StartPollerRequest.args_json: empty when there are none,
    else {"args": [...], "kwargs": {...}} (JSON: errbotd keeps it and sends it back in Poll)."""
    if not args and not kwargs:
        return ""
    return json.dumps({"args": list(args or []), "kwargs": dict(kwargs or {})})


class BotClient:
    """errbotd's BotService as a plugin calls it: every call carries the plugin's token in the
    `x-errbot-token` metadata; errbotd knows who calls from the token alone."""

    def __init__(self, address, token):
        # grpc dials "unix:/path" itself, lazily. Its default HTTP/2 :authority for a Unix socket
        # is derived from the path, which errbotd's HTTP/2 server rejects (the stream is reset
        # with PROTOCOL_ERROR): name a plain host instead.
        self.channel = grpc.insecure_channel(
            address, options=[("grpc.default_authority", "localhost")])
        self._stub = bot_pb2_grpc.BotServiceStub(self.channel)
        self._metadata = ((TOKEN_HEADER, token),)

    def send(self, to, text, backend="", thread_id="", timeout=10.0):
        """Sends Markdown `text` as the bot; `to` is an Identifier (from a Message) or its
        canonical text ("@user", "#room"). Returns the message id the service gave."""
        content = common_pb2.Content(markdown=text)
        return self.send_content(to, content, backend, thread_id, timeout)

    def send_templated(self, to, template, params, backend="", thread_id="", timeout=10.0):
        """Sends the plugin's template `template` (templates/NAME.md) with `params`, a dict,
        as its variables: errbotd renders it into Markdown before any gateway sees it (a
        missing template or a failed rendering is INVALID_ARGUMENT)."""
        content = common_pb2.Content(template=common_pb2.Template(
            name=template, params_json=json.dumps(params)))
        return self.send_content(to, content, backend, thread_id, timeout)

    def send_content(self, to, content, backend="", thread_id="", timeout=10.0):
        """Sends an errbot.v1.Content (Markdown, a card or a template) as the bot."""
        request = bot_pb2.BotSendRequest(backend=backend, thread_id=thread_id, content=content)
        if isinstance(to, common_pb2.Identifier):
            request.to.CopyFrom(to)
        else:
            request.to_text = to
        return self._stub.Send(request, metadata=self._metadata, timeout=timeout).message_id

    def warn_admins(self, text, timeout=10.0):
        """Warns every admin (Errbot's warn_admins)."""
        request = bot_pb2.WarnAdminsRequest(text=text)
        self._stub.WarnAdmins(request, metadata=self._metadata, timeout=timeout)

    def start_poller(self, interval, method, times=0, args_json="", timeout=10.0):
        """Asks errbotd to call Poll(method, args_json) every `interval` seconds, `times` times
        (0: until stopped). Returns True when that poller was running already."""
        request = bot_pb2.StartPollerRequest(
            method=method, interval_secs=interval, times=times, args_json=args_json)
        return self._stub.StartPoller(request, metadata=self._metadata,
                                      timeout=timeout).already_running

    def stop_poller(self, method, args_json="", timeout=10.0):
        """Stops a poller; returns whether one was running."""
        request = bot_pb2.StopPollerRequest(method=method, args_json=args_json)
        return self._stub.StopPoller(request, metadata=self._metadata, timeout=timeout).stopped

    def list_pollers(self, timeout=10.0):
        """This plugin's pollers (errbot.v1.PollerInfo: interval, ticks, failures...)."""
        request = bot_pb2.ListPollersRequest()
        return list(self._stub.ListPollers(request, metadata=self._metadata,
                                           timeout=timeout).pollers)

    def close(self):
        self.channel.close()


class Storage:
    """The plugin's persistent storage: errbotd's StorageService, called with the plugin's token.

    errbotd picks the namespace from the token: a plugin only ever sees its own keys. Values are
    anything json.dumps accepts; a call that returned has been written to disk."""

    def __init__(self, channel, token, timeout=10.0):
        self._stub = storage_pb2_grpc.StorageServiceStub(channel)
        self._metadata = ((TOKEN_HEADER, token),)
        self._timeout = timeout

    def _call(self, method, request):
        return getattr(self._stub, method)(request, metadata=self._metadata, timeout=self._timeout)

    def get(self, key):
        """Returns (found, value)."""
        r = self._call("Get", storage_pb2.StorageGetRequest(key=key))
        return (True, json.loads(r.value_json)) if r.found else (False, None)

    def set(self, key, value):
        """Sets key to value, whatever it was."""
        self._call("Set", storage_pb2.StorageSetRequest(key=key, value_json=json.dumps(value)))

    def delete(self, key):
        """Deletes key; returns whether it was set."""
        return self._call("Delete", storage_pb2.StorageDeleteRequest(key=key)).deleted

    def keys(self, prefix=""):
        """The keys starting with prefix, sorted."""
        return list(self._call("Keys", storage_pb2.StorageKeysRequest(prefix=prefix)).keys)

    def update(self, key, change, attempts=10000):
        """Atomically replaces the value of key by change(old) (old is None when key is not set)
        and returns the new value. Compare-and-set on the key's version: when someone else wrote
        the key in between, change runs again on their value (so it must have no side effect)."""
        r = self._call("Get", storage_pb2.StorageGetRequest(key=key))
        current, version = (r.value_json, r.version) if r.found else (None, 0)
        for _ in range(attempts):
            new = change(None if current is None else json.loads(current))
            r = self._call("Set", storage_pb2.StorageSetRequest(
                key=key, value_json=json.dumps(new), if_version=version))
            if r.written:
                return new
            current, version = (r.current_json, r.version) if r.version else (None, 0)
        raise RuntimeError(f"{key!r} kept changing during {attempts} attempts to update it")


# --------------------------------------------------------------------------------------------
# The adapter: PluginService on top of a BotPlugin.
# --------------------------------------------------------------------------------------------


def _to_reply(item):
    """A command's result item as an errbot.v1.Reply: a str is Markdown, a Card a card, a dict
    the parameters of the command's declared template (errbotd renders it: a template with an
    empty name is the one in CommandSpec.template), a Template any template of the plugin."""
    if isinstance(item, plugin_pb2.Reply):
        return item
    if isinstance(item, common_pb2.Card):
        return plugin_pb2.Reply(content=common_pb2.Content(card=item))
    if isinstance(item, dict):
        item = common_pb2.Template(name="", params_json=json.dumps(item))
    if isinstance(item, common_pb2.Template):
        return plugin_pb2.Reply(content=common_pb2.Content(template=item))
    return plugin_pb2.Reply(content=common_pb2.Content(markdown=str(item)))


# The callbacks a BotPlugin may define (Errbot's names), each with what it is called with, from
# the EventRequest (see enum Callback in plugin.proto for which fields each one fills).
_CALLBACKS = {
    plugin_pb2.CALLBACK_CONNECT: ("callback_connect", lambda e: ()),
    plugin_pb2.CALLBACK_MESSAGE: ("callback_message", lambda e: (e.message,)),
    plugin_pb2.CALLBACK_MENTION: ("callback_mention",
                                  lambda e: (e.message, list(e.message.mentions))),
    plugin_pb2.CALLBACK_PRESENCE: ("callback_presence", lambda e: (e.presence,)),
    plugin_pb2.CALLBACK_REACTION: ("callback_reaction", lambda e: (e.reaction,)),
    plugin_pb2.CALLBACK_ROOM_JOINED: ("callback_room_joined", lambda e: (e.room,)),
    plugin_pb2.CALLBACK_ROOM_LEFT: ("callback_room_left", lambda e: (e.room,)),
    plugin_pb2.CALLBACK_ROOM_TOPIC: ("callback_room_topic", lambda e: (e.room,)),
    plugin_pb2.CALLBACK_BOT_MESSAGE: ("callback_botmessage", lambda e: (e.message,)),
    # errbot-rs's own: a message no command handled (not for the bot, or an unknown command).
    plugin_pb2.CALLBACK_UNHANDLED: ("callback_unhandled", lambda e: (e.message,)),
}


class PluginServicer(plugin_pb2_grpc.PluginServiceServicer):
    """Serves errbot.v1.PluginService for one BotPlugin instance. gRPC runs each call on a thread
    of the server's pool, so commands may run concurrently."""

    def __init__(self, plugin):
        self.plugin = plugin
        self.commands = {spec.name: (spec, getattr(plugin, attr)) for spec, attr in plugin.commands()}
        # The flows its @botflow methods declare, built once.
        self.flows = {}
        for attr, member in vars(type(plugin)).items():
            if getattr(member, "_errbot_flow", False):
                flow = Flow(attr, inspect.cleandoc(member.__doc__ or ""))
                getattr(plugin, attr)(flow)
                self.flows[attr] = flow
        self.webhooks = {spec.name: (spec, getattr(plugin, attr)) for spec, attr in plugin.webhooks()}
        # The callbacks the plugin defines: the ones Describe declares.
        self.callbacks = {
            callback: (name, arguments, getattr(plugin, name))
            for callback, (name, arguments) in _CALLBACKS.items()
            if callable(getattr(plugin, name, None))
        }

    def Describe(self, request, context):
        if request.protocol_versions and PROTOCOL_VERSION not in request.protocol_versions:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{self.plugin.name} speaks {PROTOCOL_VERSION}, errbotd offers "
                f"{', '.join(request.protocol_versions)}",
            )
        return plugin_pb2.PluginDescription(
            name=self.plugin.name,
            description=inspect.cleandoc(type(self.plugin).__doc__ or ""),
            version=self.plugin.version,
            protocol_version=PROTOCOL_VERSION,
            commands=[spec for spec, _ in self.commands.values()],
            # errbotd sends Event for these callbacks only.
            callbacks=list(self.callbacks),
            flows=[flow.spec for flow in self.flows.values()],
            # errbotd routes these paths of its web server to Webhook.
            webhooks=[spec for spec, _ in self.webhooks.values()],
        )

    def FlowPredicate(self, request, context):
        """Whether a predicate of one of the plugin's flows holds for the flow's context.
        errbotd asks with a short deadline; no answer, or an error, counts as no."""
        flow = self.flows.get(request.flow)
        predicate = flow.predicates.get(request.predicate) if flow else None
        if predicate is None:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"no predicate {request.predicate!r} in flow {request.flow!r}")
        ctx = json.loads(request.context_json) if request.context_json else {}
        return plugin_pb2.FlowPredicateResponse(holds=bool(predicate(ctx)))

    def CheckConfig(self, request, context):
        return plugin_pb2.CheckConfigResponse()  # not configurable: nothing to refuse

    def Activate(self, request, context):
        self.plugin.config = request.config_json or None
        self.plugin.bot_prefix = request.bot_prefix or "!"
        self.plugin.activate()
        log.info("activated (prefix %r)", self.plugin.bot_prefix)
        return plugin_pb2.ActivateResponse()

    def Deactivate(self, request, context):
        self.plugin.deactivate()
        log.info("deactivated")
        return plugin_pb2.DeactivateResponse()

    def Event(self, request, context):
        """Delivers one callback the plugin declared to its callback_* method. errbotd sends them
        one at a time, in order, each with the deadline `limits.callback_timeout_secs`, beside
        the commands (a command's reply does not wait for them). An exception is logged, here
        and by errbotd; nothing is said in the chat."""
        entry = self.callbacks.get(request.callback)
        if entry is None:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"{self.plugin.name} did not declare the callback "
                          f"{plugin_pb2.Callback.Name(request.callback)}")
        name, arguments, method = entry
        try:
            method(*arguments(request))
        except Exception as e:  # a bug in the callback: report it, keep serving
            log.exception("%s failed", name)
            context.abort(grpc.StatusCode.INTERNAL, f"{name} failed: {type(e).__name__}: {e}")
        return plugin_pb2.EventResponse()

    def Poll(self, request, context):
        """Runs one tick of a poller started with start_poller: the plugin's public method named
        `request.method`, with the arguments start_poller was given. An exception fails the tick
        (errbotd logs it; the poller keeps its schedule)."""
        method = None
        if not request.method.startswith("_"):
            method = getattr(self.plugin, request.method, None)
        if not callable(method):
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"{self.plugin.name} has no poller method {request.method!r}")
        try:
            arguments = json.loads(request.args_json) if request.args_json else {}
            method(*arguments.get("args", []), **arguments.get("kwargs", {}))
        except Exception as e:  # a bug in the poller: report it, keep serving
            log.exception("poller %s failed (tick %d)", request.method, request.tick)
            context.abort(grpc.StatusCode.INTERNAL,
                          f"{request.method} failed: {type(e).__name__}: {e}")
        return plugin_pb2.PollResponse()

    def Webhook(self, request, context):
        """One HTTP request to a webhook the plugin declared; its answer is the response. An
        exception is a failure: errbotd answers 500 without saying more to the client."""
        entry = self.webhooks.get(request.webhook)
        if entry is None:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"{self.plugin.name} has no webhook {request.webhook!r}")
        spec, method = entry
        try:
            if spec.body == "raw":
                payload = request
            else:
                payload = json.loads(request.body_json) if request.body_json else None
            return _to_webhook_response(method(payload))
        except Exception as e:  # a bug in the webhook: report it, keep serving
            log.exception("webhook %s failed", request.webhook)
            context.abort(grpc.StatusCode.INTERNAL,
                          f"{request.webhook} failed: {type(e).__name__}: {e}")

    def Execute(self, request, context):
        """Runs one command; yields its Replies in order (a server stream)."""
        entry = self.commands.get(request.command)
        if entry is None:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"{self.plugin.name} has no command {request.command!r}")
        spec, method = entry
        where = f" (invocation {request.invocation_id})" if request.invocation_id else ""
        log.debug("running %s%s", request.command, where)
        # A command taking `ctx` gets its flow's context (Errbot's msg.ctx), which it may change.
        kwargs = {}
        ctx = json.loads(request.flow.context_json or "{}") if request.HasField("flow") else {}
        given = json.dumps(ctx, sort_keys=True)
        if "ctx" in inspect.signature(method).parameters:
            kwargs["ctx"] = ctx
        try:
            if spec.plain.params:
                for param in spec.plain.params:
                    if param.name in request.params:
                        convert = _converter(param.type)
                        values = [convert(v) for v in request.params[param.name].values]
                        kwargs[param.name] = values if param.multiple else values[-1]
                result = method(request.message, **kwargs)
            elif getattr(method, "_errbot_split", False):
                result = method(request.message, list(request.argv), **kwargs)
            else:
                result = method(request.message, request.args, **kwargs)
            # A command returns nothing, one reply, or an iterable (a generator) of replies.
            if result is None:
                result = []
            if isinstance(result, (str, dict, plugin_pb2.Reply, common_pb2.Card,
                                   common_pb2.Template)):
                result = [result]
            for item in result:
                if not context.is_active():  # errbotd gave up (deadline, shutdown)
                    return
                yield _to_reply(item)
            if request.HasField("flow") and json.dumps(ctx, sort_keys=True) != given:
                # The flow's context from now on: a reply with no content.
                yield plugin_pb2.Reply(flow_context_json=json.dumps(ctx))
        except CommandError as e:
            yield plugin_pb2.Reply(content=common_pb2.Content(markdown=str(e)), error=True)
        except Exception as e:  # a bug in the command: report it, keep serving
            log.exception("command %s failed%s", request.command, where)
            context.abort(grpc.StatusCode.INTERNAL,
                          f"{request.command} failed: {type(e).__name__}: {e}")


def _converter(param_type):
    return next(conv for ptype, conv in _PARAM_TYPES.values() if ptype == param_type)


# --------------------------------------------------------------------------------------------
# The server.
# --------------------------------------------------------------------------------------------


class _LinePerRecordFormatter(logging.Formatter):
    """errbotd reads stderr line by line and guesses each line's level from how it starts, so
    every line of a multi-line record (a traceback) repeats the level."""

    def format(self, record):
        first, *rest = super().format(record).split("\n")
        return "\n".join([first] + [f"{record.levelname}   {line}" for line in rest])


def serve(plugin_class, environ=os.environ):
    """Runs `plugin_class` under the child contract until SIGTERM; returns the exit status."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LinePerRecordFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # stdout is not ours: a stray print() from plugin code goes to the log instead.
    sys.stdout = sys.stderr

    try:
        env = read_contract(environ)
    except ContractError as e:
        log.error("%s", e)
        return 2
    if env[ENV_NAME] != plugin_class.name:
        log.warning("started as %r but this plugin is %r: the names in plugin.toml and in "
                    "the code must match", env[ENV_NAME], plugin_class.name)

    # The handler only records the signal: one that took a lock (Event.set) could deadlock
    # with the main thread holding that lock when the signal comes.
    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))

    bot = BotClient(env[ENV_BOT_SOCKET], env[ENV_TOKEN])
    plugin = plugin_class(bot, Storage(bot.channel, env[ENV_TOKEN]))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="rpc"))
    plugin_pb2_grpc.add_PluginServiceServicer_to_server(PluginServicer(plugin), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    address = env[ENV_SOCKET]
    socket_path = address[len("unix:"):]
    try:
        os.unlink(socket_path)  # a stale socket from a previous run
    except FileNotFoundError:
        pass
    try:
        server.add_insecure_port(address)
    except RuntimeError as e:
        log.error("cannot serve on %s: %s", address, e)
        return 1
    server.start()
    # Ready: errbotd's health check now gets SERVING and it calls Describe.
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(plugin_pb2.DESCRIPTOR.services_by_name["PluginService"].full_name,
                        health_pb2.HealthCheckResponse.SERVING)
    log.info("%s %s serving on %s (Python %s, grpcio %s)", plugin.name, plugin.version, address,
             platform.python_version(), grpc.__version__)

    while not stopping:
        time.sleep(0.1)  # a signal interrupts the sleep; its handler runs in this thread
    log.info("stopping")
    health_servicer.enter_graceful_shutdown()
    server.stop(grace=2).wait()  # in-flight calls get 2 s to finish
    bot.close()
    try:
        os.unlink(socket_path)
    except FileNotFoundError:
        pass
    log.info("stopped")
    return 0


# --------------------------------------------------------------------------------------------
# The plugin.
# --------------------------------------------------------------------------------------------


def _room_of(msg):
    """The room a message was written in; "" for a direct message."""
    if msg.direct:
        return ""
    # `from` is a Python keyword: the field is reached with getattr.
    return msg.to.room or getattr(msg, "from").room


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# Storage key of the messages the callbacks counted.
SEEN = "seen"


def _seen(value):
    """The counts under SEEN, with every field present: {"rooms": {room id: messages},
    "direct": direct messages, "unhandled": messages no command handled}."""
    return {"rooms": {}, "direct": 0, "unhandled": 0, **(value or {})}


class PythonHello(BotPlugin):
    """Greetings, sums and counting: the example Python plugin, on errbot.v1 without an SDK."""

    name = "python-hello"
    HEARTBEAT_SECS = 60

    def activate(self):
        # Runs in every new process: a heartbeat already running keeps its schedule.
        if self.start_poller(self.HEARTBEAT_SECS, self.heartbeat):
            self.log.info("heartbeat poller already running")
        else:
            self.log.info("heartbeat poller started: every %d s", self.HEARTBEAT_SECS)

    def heartbeat(self):
        """A poller: counts, quietly, in storage (`!pyheartbeats` shows the count)."""
        self.storage.update("heartbeats", lambda old: (old or 0) + 1)

    def callback_message(self, msg):
        """A callback (CALLBACK_MESSAGE): every message the bot sees, commands included, but not
        its own. Counted per room, quietly, in storage (`!pyseen` shows the counts). errbotd
        delivers the plugin's events one at a time, but the update is atomic anyway."""
        room = _room_of(msg)

        def count(old):
            seen = _seen(old)
            if room:
                seen["rooms"][room] = seen["rooms"].get(room, 0) + 1
            else:
                seen["direct"] += 1
            return seen

        self.storage.update(SEEN, count)

    def callback_unhandled(self, msg):
        """A callback (CALLBACK_UNHANDLED): a message no command handled, chatter or an unknown
        command. Counted too; the same message came to callback_message first."""

        def count(old):
            seen = _seen(old)
            seen["unhandled"] += 1
            return seen

        self.storage.update(SEEN, count)

    @botcmd(syntax="[name]")
    def pyhello(self, msg, args):
        """Say hello from Python.

        `!pyhello` greets you; `!pyhello Ana` greets Ana."""
        version = platform.python_version()
        who = " ".join(args.split())
        if who:
            return f"Hello {who}, from Python {version}!"
        return f"Hello from Python {version}!"

    @arg_botcmd("a", type=int, help="first number")
    @arg_botcmd("b", type=int, help="second number")
    def pyadd(self, msg, a, b):
        """Add two integers: `!pyadd 2 40`."""
        return str(a + b)

    @arg_botcmd("n", type=int, help="the number to count to, from 1 to 100")
    def pycount(self, msg, n):
        """Count from 1 to n, one message per number: `!pycount 3`."""
        if not 1 <= n <= 100:
            raise CommandError(f"I can count from 1 to 100, not to {n}.")
        for i in range(1, n + 1):
            yield str(i)  # each yield is sent as its own message, right away

    @botcmd(syntax="<key> <text>")
    def pyremember(self, msg, args):
        """Remember a text under a key, across restarts: `!pyremember colour blue`."""
        key, _, text = args.strip().partition(" ")
        if not key or not text.strip():
            raise CommandError("Usage: !pyremember <key> <text>")
        self[key] = text.strip()  # errbotd's storage, this plugin's namespace
        return f"I will remember {key}."

    @botcmd(syntax="<key>")
    def pyrecall(self, msg, args):
        """Recall what was remembered under a key: `!pyrecall colour`."""
        key = args.strip()
        if key not in self:
            return f"I know nothing about {key}."
        return f"{key}: {self[key]}"

    @botcmd
    def pyvisits(self, msg, args):
        """Count visits, atomically even when many people ask at once: `!pyvisits`."""
        n = self.storage.update("visits", lambda old: (old or 0) + 1)
        return f"Visit number {n}."

    @botcmd
    def pyheartbeats(self, msg, args):
        """How many heartbeats the poller counted: `!pyheartbeats`."""
        found, n = self.storage.get("heartbeats")
        return f"{n if found else 0} heartbeats, one every {self.HEARTBEAT_SECS} s."

    @botcmd(syntax="[room]")
    def pyseen(self, msg, args):
        """How many messages the callbacks counted: `!pyseen` or `!pyseen #room`.

        In a room, that room's count (in a direct message, the direct messages'); `!pyseen #room`
        names the room. Then the count in all, and how many no command handled."""
        room = args.strip() or _room_of(msg)
        seen = _seen(self.storage.get(SEEN)[1])
        total = sum(seen["rooms"].values()) + seen["direct"]
        here = seen["rooms"].get(room, 0) if room else seen["direct"]
        where = f"in {room}" if room else "in direct messages"
        return (f"I have seen {_plural(here, 'message')} {where} and {total} in all; "
                f"no command handled {seen['unhandled']} of them.")

    @botflow
    def coffee(self, flow):
        """Order a coffee: its size, milk or not, then it is served by itself."""
        size = flow.connect(Flow.START, "pycoffee", auto_trigger=True)
        milk = flow.connect(size, "pycoffee_milk")
        served = flow.connect(milk, "pycoffee_serve", predicate=lambda ctx: "milk" in ctx)
        flow.end(served)

    @botcmd(syntax="<small|large>")
    def pycoffee(self, msg, args, ctx):
        """Order a coffee (starts the coffee flow): `!pycoffee large`."""
        ctx["size"] = args.strip() or "small"
        return f"A {ctx['size']} coffee. Milk?"

    @botcmd(syntax="<yes|no>", flow_only=True)
    def pycoffee_milk(self, msg, args, ctx):
        """With milk or not: `!pycoffee milk yes`."""
        ctx["milk"] = args.strip().lower() in ("yes", "y", "please")
        return "With milk." if ctx["milk"] else "Black."

    @botcmd(flow_only=True)
    def pycoffee_serve(self, msg, args, ctx):
        """Serves the coffee (runs by itself once the milk is chosen)."""
        milk = "with" if ctx.get("milk") else "without"
        return f"Here is your {ctx.get('size', 'small')} coffee, {milk} milk."
    @webhook("/pyhello")
    def pyhello_webhook(self, payload):
        """A webhook: POST {"name": "Ana"} to /pyhello on errbotd's web server; it answers
        {"greeting": "Hello Ana, from Python X.Y.Z!", "visits": N} (the `!pyvisits` counter,
        counted here too)."""
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            return plugin_pb2.WebhookResponse(
                status=400, headers={"content-type": "text/plain; charset=utf-8"},
                body=b'expected a JSON object with a "name"\n')
        visits = self.storage.update("visits", lambda old: (old or 0) + 1)
        name = " ".join(payload["name"].split()) or "stranger"
        return {"greeting": f"Hello {name}, from Python {platform.python_version()}!",
                "visits": visits}

    @arg_botcmd("--to", help="send them there instead: a room or a person (#room, @person)",
                template="report")
    def pyreport(self, msg, to=None):
        """The plugin's counters, from a template: `!pyreport`, `!pyreport --to #room`.

        errbotd renders templates/report.md with them; `--to` sends them to a room or a person
        instead (Errbot's send_templated)."""
        seen = _seen(self.storage.get(SEEN)[1])
        counters = {  # the template's variables
            "heartbeats": self.storage.get("heartbeats")[1] or 0,
            "heartbeat_secs": self.HEARTBEAT_SECS,
            "visits": self.storage.get("visits")[1] or 0,
            "total": sum(seen["rooms"].values()) + seen["direct"],
            "unhandled": seen["unhandled"],
            "rooms": [{"name": room, "messages": n} for room, n in sorted(seen["rooms"].items())],
            "direct": seen["direct"],
        }
        if to:
            # On the chat service the command came from; errbotd renders the template first.
            self.send_templated(to, "report", counters, backend=msg.to.backend)
            return f"Sent the counters to {to}."
        return counters  # a dict: the parameters of the declared template, report


if __name__ == "__main__":
    sys.exit(serve(PythonHello))
