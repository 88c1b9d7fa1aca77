"""errbot.v1.PluginService for one Errbot plugin instance, and the process around it (the
child contract: socket, token, health, SIGTERM)."""

import inspect
import json
import logging
import os
import platform
import queue
import re
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from errbot.backends.base import Message, Presence, Reaction, identifier
from errbot.botplugin import BotPlugin, CommandError, ValidationException
from errbot.v1 import common_pb2, plugin_pb2, plugin_pb2_grpc

from errbot.flow import Flow

from . import calls
from .bot import Bot, poller_arguments
from .flows import Flows, load_flows
from .mocks import Mocks
from .plug import PlugError, load_class, read_plug

PROTOCOL_VERSION = "errbot.v1"
log = logging.getLogger("errbot_host")

# Errbot's callbacks a plugin may define, and what each is called with from the EventRequest.
CALLBACKS = {
    plugin_pb2.CALLBACK_CONNECT: ("callback_connect", lambda e: ()),
    plugin_pb2.CALLBACK_MESSAGE: ("callback_message", lambda e: (Message.from_proto(e.message),)),
    plugin_pb2.CALLBACK_MENTION: ("callback_mention", lambda e: (
        Message.from_proto(e.message), [identifier(m) for m in e.message.mentions])),
    plugin_pb2.CALLBACK_PRESENCE: ("callback_presence", lambda e: (Presence(
        identifier(e.presence.who), e.presence.status, e.presence.message or None),)),
    plugin_pb2.CALLBACK_REACTION: ("callback_reaction", lambda e: (Reaction(
        reactor=identifier(e.reaction.who), action="added" if e.reaction.added else "removed",
        reaction_name=e.reaction.reaction, reacted_to=e.reaction.message_id),)),
    # Errbot 6.2 passes the room and who joined or left (here: the bot); older plugins take the
    # room only (see _room_arguments).
    plugin_pb2.CALLBACK_ROOM_JOINED: ("callback_room_joined", lambda e: (identifier(e.room.room),)),
    plugin_pb2.CALLBACK_ROOM_LEFT: ("callback_room_left", lambda e: (identifier(e.room.room),)),
    plugin_pb2.CALLBACK_ROOM_TOPIC: ("callback_room_topic", lambda e: (identifier(e.room.room),)),
    plugin_pb2.CALLBACK_BOT_MESSAGE: ("callback_botmessage",
                                      lambda e: (Message.from_proto(e.message),)),
}

# Python's re flags errbotd's regex engine has; re.VERBOSE becomes an inline (?x).
_REGEX_FLAGS = {"case_insensitive": re.IGNORECASE, "dot_all": re.DOTALL,
                "multi_line": re.MULTILINE}


def command_spec(method):
    """The CommandSpec of a method tagged by errbot's decorators. Plain commands are sent raw:
    splitting and argparse happen here, with Python's own rules, as in Errbot."""
    doc = method._err_command_parser.description if method._err_arg_command else method.__doc__
    spec = plugin_pb2.CommandSpec(
        name=method._err_command_name,
        help=inspect.cleandoc(doc or "(undocumented)"),
        hidden=bool(method._err_command_hidden),
        admin_only=bool(method._err_command_admin_only),
        historize=bool(method._err_command_historize),
        flow_only=bool(method._err_command_flow_only),
        template=method._err_command_template or "",
    )
    if method._err_re_command:
        pattern = method._err_command_re_pattern
        spec.regex.pattern = ("(?x)" if pattern.flags & re.VERBOSE else "") + pattern.pattern
        for field, flag in _REGEX_FLAGS.items():
            setattr(spec.regex, field, bool(pattern.flags & flag))
        spec.regex.match_all = bool(method._err_command_matchall)
        spec.regex.prefixed = bool(method._err_command_prefix_required)
        spec.help = inspect.cleandoc(method._err_command_re_name_help or doc or "(undocumented)")
    else:
        spec.plain.arg_mode = plugin_pb2.ARG_MODE_RAW
    spec.syntax = method._err_command_syntax or ""  # a regex command's: its pattern, as Errbot's
    return spec


def split_args(args, split_args_with):
    """Errbot's split_args_with: '' keeps the string; a parser (parse_args), a callable, or a
    str.split separator (None: whitespace) makes the arguments."""
    if split_args_with == "":
        return args
    if hasattr(split_args_with, "parse_args"):
        return split_args_with.parse_args(args)
    if callable(split_args_with):
        return split_args_with(args)
    return args.split(split_args_with)


class _Match:
    """A regex match errbotd found that Python's re cannot find again in the message (a
    pattern that means something else to the two engines): group(), groups(), groupdict()."""

    def __init__(self, found):
        self._found = found
        self.string = found.text

    def group(self, *which):
        values = [self._group(w) for w in (which or (0,))]
        return values[0] if len(values) == 1 else tuple(values)

    def _group(self, which):
        if isinstance(which, str):
            return self._found.named.get(which)
        return self._found.text if which == 0 else (self._found.groups[which - 1] or None)

    def __getitem__(self, which):
        return self._group(which)

    def groups(self):
        return tuple(g or None for g in self._found.groups)

    def groupdict(self):
        return dict(self._found.named)


def webhook_data(method, request):
    """What Errbot's webhook view passes the function, from `flask.request`: the request itself
    (raw), a form field read as JSON (form_param), else the JSON body, or the form's fields, or
    the text."""
    if method._err_webhook_raw:
        return request
    if method._err_webhook_form_param:
        content = request.form.get(method._err_webhook_form_param)
        if content is None:
            raise ValueError(f"the form has no {method._err_webhook_form_param!r} field")
        try:
            return json.loads(content)
        except ValueError:
            return content
    body = request.get_data()
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    if not data:
        data = request.form.to_dict() or request.get_data(as_text=True)
    return data


def call_webhook(app, method, proto):
    """Runs webhook `method` on request `proto` in Flask application `app`, inside a request
    context made of the request, as Errbot's webhooks run in Flask: `flask.request`, `abort()`
    and `after_this_request` work, and the answer is Flask's response to what the function
    returned (text, a dict or list as JSON, a tuple with a status and headers, a Response)."""
    import flask
    from urllib.parse import urlencode
    from werkzeug.exceptions import HTTPException
    headers = [(k, v) for k, v in proto.headers.items() if k not in ("content-length", "host")]
    remote = proto.remote.rsplit(":", 1)[0].strip("[]")
    with app.test_request_context(proto.path or "/", method=proto.method or "POST",
                                  headers=headers, data=bytes(proto.body),
                                  query_string=urlencode(list(proto.query.items())),
                                  environ_base={"REMOTE_ADDR": remote}):
        try:
            result = method(webhook_data(method, flask.request), **dict(proto.params))
            # Errbot's view: None is an empty 200.
            response = app.make_response(result if result is not None else "")
        except HTTPException as e:  # abort(403), as in Flask
            response = e.get_response()
        response = app.process_response(response)  # after_this_request, after_request
        return plugin_pb2.WebhookResponse(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()
                     if k.lower() != "content-length"},
            body=response.get_data())


# How many of a session's events may wait for errbotd to read them.
SESSION_QUEUE = 256


class _Ended(Exception):
    """A command that ended with a status other than OK (Execute's abort, a session's end)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class PluginServicer(plugin_pb2_grpc.PluginServiceServicer):
    """Serves one plugin instance. gRPC runs each call on its own thread: commands run
    concurrently, as in Errbot's thread pool."""

    def __init__(self, info, plugin, bot, flows=None, environ=os.environ):
        self.info, self.plugin, self.bot = info, plugin, bot
        self.mocks = Mocks.from_environ(environ, info.name)  # under a TestBot only
        self.flows = flows if flows is not None else Flows()
        self.commands = {}
        for _, method in inspect.getmembers(plugin, inspect.ismethod):
            if getattr(method, "_err_command", False):
                self.commands[method._err_command_name.lower()] = method
        bot.all_commands = dict(self.commands)
        # Command filters by name (the method's), in Errbot's order (by name).
        self.filters = {
            method.__name__: method
            for _, method in sorted(inspect.getmembers(plugin, inspect.ismethod))
            if getattr(method, "_err_command_filter", False)
        }
        # Webhooks by name (the method's); errbotd routes by their URL rules.
        self.webhooks = {
            method.__name__: method
            for _, method in inspect.getmembers(plugin, inspect.ismethod)
            if getattr(method, "_err_webhook_uri_rule", None)
        }
        self._flask = None  # the Flask application webhooks run in, made on the first one
        # Session's commands run here, as Execute's run on the server's threads.
        self._commands = futures.ThreadPoolExecutor(max_workers=16,
                                                    thread_name_prefix="command")
        self.stopping = threading.Event()  # SIGTERM: sessions take no more commands
        # The dynamic plugins' commands (create_dynamic_plugin): {plugin: {command: method}}.
        self.dynamic = {}
        bot.publish_dynamic_plugins = self._publish_dynamic_plugins
        # The callbacks the plugin's class overrides: only those are declared.
        self.callbacks = {
            callback: (name, arguments, getattr(plugin, name))
            for callback, (name, arguments) in CALLBACKS.items()
            if getattr(type(plugin), name, None) is not getattr(BotPlugin, name)
        }

    def Describe(self, request, context):
        if request.protocol_versions and PROTOCOL_VERSION not in request.protocol_versions:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"the Errbot host speaks {PROTOCOL_VERSION}")
        template = self.plugin.get_configuration_template()
        return plugin_pb2.PluginDescription(
            name=self.info.name,
            description=self.info.description or inspect.cleandoc(type(self.plugin).__doc__ or ""),
            version=self.info.version,
            protocol_version=PROTOCOL_VERSION,
            serves_session=True,
            commands=[command_spec(m) for m in self.commands.values()],
            callbacks=list(self.callbacks),
            config_template_json="" if template is None else json.dumps(template),
            depends_on=self.info.depends_on,
            command_filters=[plugin_pb2.CommandFilterSpec(
                name=name, help=inspect.cleandoc(m.__doc__ or ""),
                catch_unprocessed=bool(getattr(m, "catch_unprocessed", False)))
                for name, m in self.filters.items()],
            # Errbot's decoding (JSON, else the form, else text) is done here: errbotd passes
            # the body as it came.
            webhooks=[plugin_pb2.WebhookSpec(name=name, uri_rule=m._err_webhook_uri_rule,
                                             methods=[x.upper() for x in m._err_webhook_methods],
                                             body="raw")
                      for name, m in self.webhooks.items()],
            flows=self.flows.specs,
            # Errbot's default check_configuration checks the shape as errbotd does; a plugin
            # that overrides it decides alone.
            checks_own_shape=(type(self.plugin).check_configuration
                              is not BotPlugin.check_configuration),
        )

    def CheckConfig(self, request, context):
        config = json.loads(request.config_json) if request.config_json else None
        try:
            self.plugin.check_configuration(config)
        except ValidationException as e:
            return plugin_pb2.CheckConfigResponse(error=str(e) or "invalid configuration")
        return plugin_pb2.CheckConfigResponse()

    def Activate(self, request, context):
        self.bot.bot_config.BOT_PREFIX = request.bot_prefix or "!"
        self.bot.deactivating.clear()
        config = json.loads(request.config_json) if request.config_json else None
        try:
            # As Errbot: configure() even with None, then activate().
            self.plugin.configure(config)
            self.plugin.activate()
        except (Exception, SystemExit) as e:  # a plugin's sys.exit() ends only its call
            log.exception("activation failed")
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"activation failed: {type(e).__name__}: {e}")
        log.info("activated %s", self.info.name)
        return plugin_pb2.ActivateResponse()

    def Deactivate(self, request, context):
        self.bot.deactivating.set()
        try:
            self.plugin.deactivate()
        except (Exception, SystemExit):
            log.exception("deactivate() failed")
        return plugin_pb2.DeactivateResponse()

    def Event(self, request, context):
        self._sync_mocks()
        entry = self.callbacks.get(request.callback)
        if entry is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "callback not declared")
        name, arguments, method = entry
        if request.HasField("message"):
            self.bot.learn(request.message)
        if request.callback == plugin_pb2.CALLBACK_CONNECT and request.HasField("bot"):
            self.bot.bot_identifier = identifier(request.bot)
        args = arguments(request)
        if name in ("callback_room_joined", "callback_room_left"):
            args = self._room_arguments(method, args[0])
        try:
            method(*args)
        except (Exception, SystemExit) as e:  # a plugin's sys.exit() ends only its call
            log.exception("%s failed", name)
            context.abort(grpc.StatusCode.INTERNAL, f"{name} failed: {type(e).__name__}: {e}")
        return plugin_pb2.EventResponse()

    def _room_arguments(self, method, room):
        """(room, who, by) cut to what the plugin's callback_room_joined / _left takes."""
        try:
            params = inspect.signature(method).parameters.values()
        except (TypeError, ValueError):
            return (room,)
        if any(p.kind == p.VAR_POSITIONAL for p in params):
            return (room, self.bot.bot_identifier, None)
        taken = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        return (room, self.bot.bot_identifier, None)[:max(1, taken)]

    def FilterCommand(self, request, context):
        """Errbot's cmdfilter: `f(msg, cmd, args, dry_run)` answers `(msg, cmd, args)` to let
        the command run (rewritten when `cmd` or `args` changed), or None to block it."""
        self._sync_mocks()
        method = self.filters.get(request.filter)
        if method is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no command filter {request.filter!r}")
        self.bot.learn(request.message)
        msg = Message.from_proto(request.message)
        try:
            if request.unprocessed:
                # Errbot's "command not found" call: no command, and `emptycmd=True`.
                result = method(msg, None, "", False, emptycmd=True)
            else:
                result = method(msg, request.command, request.args, False)
        except (Exception, SystemExit) as e:  # a plugin's sys.exit() ends only its call
            log.exception("command filter %s failed", request.filter)
            context.abort(grpc.StatusCode.INTERNAL,
                          f"{request.filter} failed: {type(e).__name__}: {e}")
        if request.unprocessed:
            return self._unprocessed(result)
        if result is None or not isinstance(result, tuple) or result[0] is None:
            return plugin_pb2.FilterResponse(action=plugin_pb2.FilterResponse.ACTION_BLOCK)
        _, cmd, args = (tuple(result) + (None, None, None))[:3]
        answer = plugin_pb2.FilterResponse(action=plugin_pb2.FilterResponse.ACTION_CONTINUE)
        if cmd is not None and str(cmd) != request.command:
            answer.command = str(cmd)
        if args is not None:
            text = " ".join(map(str, args)) if isinstance(args, (list, tuple)) else str(args)
            if text != request.args:
                answer.args = text
        return answer

    @staticmethod
    def _unprocessed(result):
        """What a filter's answer to Errbot's "command not found" call means: a text is its
        reply (sent instead of errbotd's "not found"), `(msg, cmd, args)` runs that command (an
        alias), nothing leaves the message to the next filter, then to "not found"."""
        if isinstance(result, tuple) and len(result) >= 2 and result[1]:
            args = result[2] if len(result) > 2 and result[2] is not None else ""
            text = " ".join(map(str, args)) if isinstance(args, (list, tuple)) else str(args)
            return plugin_pb2.FilterResponse(action=plugin_pb2.FilterResponse.ACTION_CONTINUE,
                                             command=str(result[1]), args=text)
        if result is not None and not isinstance(result, tuple) and str(result):
            return plugin_pb2.FilterResponse(action=plugin_pb2.FilterResponse.ACTION_BLOCK,
                                             reply=str(result))
        return plugin_pb2.FilterResponse(action=plugin_pb2.FilterResponse.ACTION_CONTINUE)

    def Webhook(self, request, context):
        self._sync_mocks()
        method = self.webhooks.get(request.webhook)
        if method is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no webhook {request.webhook!r}")
        if self._flask is None:
            import flask  # on the first request only: it takes a while to import
            self._flask = flask.Flask(self.info.name)
        try:
            return call_webhook(self._flask, method, request)
        except (Exception, SystemExit) as e:  # a plugin's sys.exit() ends only its call
            log.exception("webhook %s failed", request.webhook)
            context.abort(grpc.StatusCode.INTERNAL,
                          f"{request.webhook} failed: {type(e).__name__}: {e}")

    def Poll(self, request, context):
        self._sync_mocks()
        method = None if request.method.startswith("_") else getattr(self.plugin, request.method,
                                                                     None)
        if not callable(method):
            context.abort(grpc.StatusCode.NOT_FOUND, f"no poller method {request.method!r}")
        try:
            args, kwargs = poller_arguments(request.args_json)
            method(*args, **kwargs)
        except (Exception, SystemExit) as e:  # a plugin's sys.exit() ends only its call
            log.exception("poller %s failed", request.method)
            context.abort(grpc.StatusCode.INTERNAL,
                          f"{request.method} failed: {type(e).__name__}: {e}")
        return plugin_pb2.PollResponse()

    def _regex_argument(self, method, request):
        """Errbot's `match` argument: Python's own re.Match (a list of them with matchall),
        found again in the text errbotd matched."""
        pattern = method._err_command_re_pattern
        body = request.message.body
        candidates = []
        if method._err_command_prefix_required and body.startswith(self.bot.prefix):
            candidates.append(body[len(self.bot.prefix):])
        if request.matches and request.matches[0].text in body:
            candidates.append(body[body.index(request.matches[0].text):])
        candidates.append(body)
        for text in candidates:
            if method._err_command_matchall:
                found = list(pattern.finditer(text))
                if found:
                    return found
            else:
                found = pattern.search(text)
                if found:
                    return found
        matches = [_Match(m) for m in request.matches]
        return matches if method._err_command_matchall else (matches[0] if matches else None)

    def _sync_mocks(self):
        if self.mocks is not None:
            self.mocks.sync(self.plugin)

    def Call(self, request, context):
        self._sync_mocks()
        return calls.answer(self.plugin, request, context)

    def FlowPredicate(self, request, context):
        try:
            ctx = json.loads(request.context_json) if request.context_json else {}
            holds = self.flows.holds(request.flow, request.predicate, ctx)
        except Exception as e:
            log.exception("predicate %s of flow %s failed", request.predicate, request.flow)
            context.abort(grpc.StatusCode.INTERNAL, str(e) or type(e).__name__)
        if holds is None:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"no predicate {request.predicate!r} in flow {request.flow!r}")
        return plugin_pb2.FlowPredicateResponse(holds=holds)

    def _publish_dynamic_plugins(self):
        """Declares `bot.dynamic_plugins` to errbotd (called with bot.dynamic_lock held). The
        table is in place before errbotd routes to it; on failure the old one is back."""
        tables, descriptions = {}, []
        for name, plugin in self.bot.dynamic_plugins.items():
            commands = {method._err_command_name.lower(): method
                        for _, method in inspect.getmembers(plugin, inspect.ismethod)
                        if getattr(method, "_err_command", False)}
            tables[name] = commands
            descriptions.append(plugin_pb2.PluginDescription(
                name=name, description=inspect.cleandoc(getattr(plugin, "__errdoc__", "") or ""),
                commands=[command_spec(method) for method in commands.values()]))
        previous, self.dynamic = self.dynamic, tables
        try:
            self.bot.set_dynamic_plugins(descriptions)
        except Exception:
            self.dynamic = previous
            raise

    def Execute(self, request, context):
        try:
            yield from self._run(request, context.is_active)
        except _Ended as end:
            context.abort(end.code, end.message)

    def Session(self, request_iterator, context):
        """Commands on one stream (PluginService.Session), each run on a thread of the host's
        pool as Execute's would be: their events come out in order per command; a cancel drops
        a command between two replies. When errbotd closes its side, the stream ends once the
        commands under way have; when the stream breaks, they are dropped."""
        events = queue.Queue(maxsize=SESSION_QUEUE)
        running = {}  # call -> threading.Event, set when the command is to be dropped
        lock = threading.Condition()
        closed = object()
        gone = threading.Event()  # the stream ended: nobody reads the events any more

        def emit(event):
            while not gone.is_set():
                try:
                    events.put(event, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def run(call, request, dropped):
            code, message = 0, ""
            try:
                for reply in self._run(request, lambda: not dropped.is_set()):
                    emit(plugin_pb2.PluginSessionEvent(call=call, reply=reply))
            except _Ended as end:
                code, message = end.code.value[0], end.message
            except BaseException as e:  # noqa: BLE001 (the command's failure is its end)
                code, message = grpc.StatusCode.INTERNAL.value[0], str(e) or type(e).__name__
            finally:
                with lock:
                    running.pop(call, None)
                    lock.notify_all()
            if not dropped.is_set():
                emit(plugin_pb2.PluginSessionEvent(
                    call=call, end=plugin_pb2.CallEnd(code=code, message=message)))

        def read():
            try:
                for frame in request_iterator:
                    if frame.HasField("execute") and self.stopping.is_set():
                        emit(plugin_pb2.PluginSessionEvent(call=frame.call, end=(
                            plugin_pb2.CallEnd(code=grpc.StatusCode.UNAVAILABLE.value[0],
                                               message="the plugin is stopping"))))
                    elif frame.HasField("execute"):
                        dropped = threading.Event()
                        with lock:
                            running[frame.call] = dropped
                        self._commands.submit(run, frame.call, frame.execute, dropped)
                    elif frame.HasField("cancel"):
                        with lock:
                            dropped = running.get(frame.call)
                        if dropped is not None:
                            dropped.set()
            except grpc.RpcError:
                pass
            with lock:
                if not context.is_active():  # broken: nobody reads what they would say
                    for dropped in running.values():
                        dropped.set()
                while running and not gone.is_set():
                    lock.wait(timeout=1.0)
            emit(closed)

        # errbotd waits for the stream's headers before it sends commands: grpc would send them
        # only with the first event.
        context.send_initial_metadata(())
        threading.Thread(target=read, name="session", daemon=True).start()
        try:
            while True:
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    # Stopping: the stream ends once the commands under way have, so that the
                    # server's graceful stop does not wait for it.
                    if self.stopping.is_set():
                        with lock:
                            if not running:
                                return
                    continue
                if event is closed:
                    return
                yield event
        finally:
            gone.set()
            with lock:
                for dropped in running.values():
                    dropped.set()

    def _run(self, request, active):
        """Runs one command: its replies, in order; `_Ended` for a command it does not have or a
        failure (the status Execute ends with). `active()` false: errbotd gave up on it."""
        self._sync_mocks()
        # A dynamic plugin's command, or the plugin's own.
        table = self.dynamic.get(request.plugin, self.commands)
        method = table.get(request.command.lower())
        if method is None:
            raise _Ended(grpc.StatusCode.NOT_FOUND, f"no command {request.command!r}")
        self.bot.learn(request.message)
        msg = Message.from_proto(request.message)
        in_flow = request.HasField("flow")
        if in_flow:
            # Errbot's msg.ctx: the flow's context, which the command may change.
            msg.ctx = json.loads(request.flow.context_json or "{}")
            msg.flow = Flow(request.flow.name, msg.ctx)
            given = json.dumps(msg.ctx, sort_keys=True, default=str)
        try:
            if method._err_re_command:
                result = method(msg, self._regex_argument(method, request))
            elif method._err_arg_command:
                result = method(msg, request.args)
            else:
                result = method(msg, split_args(request.args,
                                                method._err_command_split_args_with))
            replies = result if inspect.isgenerator(result) else [result]
            for reply in replies:
                if not reply:  # Errbot sends nothing for None or ""
                    continue
                if not active():  # errbotd gave up (deadline, shutdown)
                    return
                yield self._reply(method, reply)
            if in_flow and json.dumps(msg.ctx, sort_keys=True, default=str) != given:
                yield plugin_pb2.Reply(flow_context_json=json.dumps(msg.ctx, default=str))
        except CommandError as e:
            reason = e.reason
            if e.template:
                content = common_pb2.Content(template=common_pb2.Template(
                    name=e.template, params_json=json.dumps({"reason": str(reason)})))
            else:
                content = common_pb2.Content(markdown=str(reason))
            yield plugin_pb2.Reply(content=content, error=True)
        except (Exception, SystemExit) as e:  # a plugin's sys.exit() ends only its call
            log.exception("command %s failed", request.command)
            # errbotd says "Computer says nooo. See logs for details:\n" and this, as Errbot
            # says it with str(e).
            raise _Ended(grpc.StatusCode.INTERNAL, str(e) or type(e).__name__) from None

    @staticmethod
    def _reply(method, reply):
        """One reply: with a declared template the parameters (a dict) errbotd renders it with,
        else the text."""
        if method._err_command_template and isinstance(reply, dict):
            return plugin_pb2.Reply(content=common_pb2.Content(template=common_pb2.Template(
                name="", params_json=json.dumps(reply, default=str))))
        return plugin_pb2.Reply(content=common_pb2.Content(markdown=str(reply)))


class _LinePerRecordFormatter(logging.Formatter):
    """errbotd guesses each stderr line's level from how it starts: every line of a multi-line
    record (a traceback) repeats the level."""

    def format(self, record):
        first, *rest = super().format(record).split("\n")
        return "\n".join([first] + [f"{record.levelname}   {line}" for line in rest])


def serve(plugin_dir, environ=os.environ, plug=None):
    """Loads the plugin of `plug` (a `.plug` file of `plugin_dir`, else its only one) and serves
    it until SIGTERM; returns the exit status."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LinePerRecordFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    sys.stdout = sys.stderr  # stdout is not ours: a plugin's print() goes to the log

    missing = [v for v in ("ERRBOT_SOCKET", "ERRBOT_BOT_SOCKET", "ERRBOT_TOKEN", "ERRBOT_NAME")
               if not environ.get(v)]
    if missing:
        log.error("environment variable %s is not set: this program is started by errbotd "
                  "(put the plugin's directory in a plugins directory of errbot.toml)",
                  missing[0])
        return 2
    address = environ["ERRBOT_SOCKET"]
    if not address.startswith("unix:/"):
        log.error("ERRBOT_SOCKET=%r: expected unix:/absolute/path", address)
        return 2
    try:
        info = read_plug(plugin_dir, plug)
        plugin_class = load_class(info)
    except PlugError as e:
        log.error("%s", e)
        return 1
    if environ["ERRBOT_NAME"] != info.name:
        log.warning("started as %r but the .plug names the plugin %r",
                    environ["ERRBOT_NAME"], info.name)

    # The handler only records the signal: one that took a lock (Event.set) could deadlock
    # with the main thread holding that lock when the signal comes.
    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))

    bot = Bot(environ["ERRBOT_BOT_SOCKET"], environ["ERRBOT_TOKEN"], info.directory)
    bot.dependencies = info.depends_on
    plugin = plugin_class(bot, name=info.name)
    flows = load_flows(info.directory, bot)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="rpc"))
    servicer = PluginServicer(info, plugin, bot, flows)
    plugin_pb2_grpc.add_PluginServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    socket_path = address[len("unix:"):]
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    try:
        server.add_insecure_port(address)
    except RuntimeError as e:
        log.error("cannot serve on %s: %s", address, e)
        return 1
    server.start()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("Errbot plugin %s (%s) serving on %s (Python %s)", info.name, plugin_class.__name__,
             address, platform.python_version())
    while not stopping:
        time.sleep(0.1)  # a signal interrupts the sleep; its handler runs in this thread
    health_servicer.enter_graceful_shutdown()
    servicer.stopping.set()
    server.stop(grace=2).wait()
    bot.close()
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    return 0
