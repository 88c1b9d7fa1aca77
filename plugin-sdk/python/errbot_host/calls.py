"""Calls between Errbot plugins in separate processes (Errbot's `get_plugin`): a plugin's
`self.get_plugin("Other")` is a RemotePlugin whose attributes and methods are read and called
in Other's process, through errbotd (BotService.CallPlugin, then Other's PluginService.Call).
Arguments, values and exceptions travel pickled: both ends are Errbot plugins of one bot."""

import pickle

import grpc

from errbot.v1 import plugin_pb2

ENCODING = "python-pickle"


class RemoteError(Exception):
    """An exception raised in the other plugin that could not be sent back as itself."""


class RemotePlugin:
    """Another plugin, as `get_plugin` returns it: `remote.method(...)` runs the method in that
    plugin's process and returns its result; `remote.attribute` reads the attribute's value
    there (a copy: setting attributes does not reach it)."""

    def __init__(self, bot, name):
        object.__setattr__(self, "_bot", bot)
        object.__setattr__(self, "name", name)

    def __repr__(self):
        return f"<plugin {self.name} (in its own process)>"

    def __setattr__(self, name, value):
        raise AttributeError(f"plugin {self.name} runs in its own process: its attribute "
                             f"{name} cannot be set from another plugin")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        answer = self._call(name, plugin_pb2.PLUGIN_CALL_OP_GET, b"")
        if answer.callable:
            def method(*args, **kwargs):
                return _result(self._call(name, plugin_pb2.PLUGIN_CALL_OP_CALL,
                                          _dumps((args, kwargs), "the arguments")))
            method.__name__ = name
            return method
        return _result(answer)

    def _call(self, name, op, payload):
        request = plugin_pb2.PluginCallRequest(plugin=self.name, name=name, op=op,
                                               encoding=ENCODING, payload=payload)
        try:
            return self._bot.call_plugin(request)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                raise AttributeError(f"plugin {self.name} has no attribute {name!r}") from None
            raise RemoteError(f"plugin {self.name}: {e.details()}") from None


def _dumps(value, what):
    try:
        return pickle.dumps(value)
    except Exception as e:
        raise TypeError(f"{what} cannot be sent to another plugin's process: {e}") from e


def _result(answer):
    """The value of an answer, or its exception raised."""
    value = pickle.loads(answer.payload) if answer.payload else None
    if answer.error:
        if isinstance(value, BaseException):
            raise value
        raise RemoteError(answer.error)
    return value


def answer(plugin, request, context):
    """PluginService.Call: reads or calls `request.name` of `plugin` for another plugin."""
    if request.encoding != ENCODING:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"encoding {request.encoding!r}: this plugin speaks {ENCODING!r} only")
    if request.name.startswith("_") or not hasattr(plugin, request.name):
        context.abort(grpc.StatusCode.NOT_FOUND, f"no attribute {request.name!r}")
    value = getattr(plugin, request.name)
    if request.op == plugin_pb2.PLUGIN_CALL_OP_GET:
        if callable(value):
            return plugin_pb2.PluginCallResponse(callable=True)
        return plugin_pb2.PluginCallResponse(payload=_dumps(value, f"{request.name}'s value"))
    if request.op != plugin_pb2.PLUGIN_CALL_OP_CALL or not callable(value):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{request.name} cannot be called")
    try:
        args, kwargs = pickle.loads(request.payload)
        result = value(*args, **kwargs)
        return plugin_pb2.PluginCallResponse(payload=_dumps(result, f"{request.name}'s result"))
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        try:
            payload = pickle.dumps(e)
        except Exception:
            payload = b""
        return plugin_pb2.PluginCallResponse(payload=payload, error=error)
