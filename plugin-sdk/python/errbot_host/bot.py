"""What a plugin reaches as `self._bot`: errbotd's BotService and StorageService, called with
the plugin's token, and Errbot's view of the bot (prefix, mode, bot_config, bot_identifier)."""

import json
import threading

import grpc

from errbot.backends.base import Card, Identifier, Message, identifier
from errbot.botplugin import decode_value, encode_value
from errbot.v1 import bot_pb2, bot_pb2_grpc, common_pb2, storage_pb2, storage_pb2_grpc

from .calls import RemotePlugin

TOKEN_HEADER = "x-errbot-token"
TIMEOUT = 10.0
# A call to another plugin: errbotd bounds it with the command deadline; this is a backstop.
CALL_TIMEOUT = 3600.0


class BotConfig:
    """Errbot's configuration names (`self.bot_config.BOT_PREFIX`...). errbotd tells plugins
    only its prefix; the others hold Errbot's defaults. An unknown name raises AttributeError,
    as with Errbot's config module (plugins use getattr(bot_config, NAME, default))."""

    def __init__(self, plugin_dir):
        self.BOT_PREFIX = "!"
        self.BOT_ADMINS = ()
        self.BOT_ADMINS_NOTIFICATIONS = ()
        self.BOT_ALT_PREFIXES = ()
        self.BOT_ALT_PREFIX_SEPARATORS = ()
        self.BOT_ALT_PREFIX_CASEINSENSITIVE = False
        self.BOT_PREFIX_OPTIONAL_ON_CHAT = False
        self.BOT_ASYNC = True
        self.BOT_ASYNC_POOLSIZE = 10
        self.BOT_DATA_DIR = plugin_dir
        self.BOT_EXTRA_PLUGIN_DIR = None
        self.BOT_IDENTITY = {}
        self.BOT_LOG_LEVEL = "INFO"
        self.BACKEND = "errbot-rs"
        self.CHATROOM_PRESENCE = ()
        self.CHATROOM_FN = "Errbot"
        self.DIVERT_TO_PRIVATE = ()
        self.DIVERT_TO_THREAD = ()
        self.HIDE_RESTRICTED_COMMANDS = False
        self.HIDE_RESTRICTED_ACCESS = False
        self.MESSAGE_SIZE_LIMIT = 10000
        self.SUPPRESS_CMD_NOT_FOUND = False
        self.AUTOINSTALL_DEPS = True


class PluginManager:
    """The parts of Errbot's plugin manager plugins reach for, answered from errbotd's
    BotService.Status (names and states: the other plugins run in their own processes, so
    their objects are out of reach)."""

    def __init__(self, status):
        self._status = status

    def _plugins(self):
        return self._status().plugins

    def get_all_active_plugin_names(self):
        """The plugins up: running, or built into errbotd."""
        return [p.name for p in self._plugins() if p.state in ("running", "builtin")]

    def get_blacklisted_plugin(self):
        return [p.name for p in self._plugins() if p.state == "blacklisted"]

    def get_all_plugin_names(self):
        return [p.name for p in self._plugins()]

    def _unsupported(self, *args, **kwargs):
        raise NotImplementedError("errbot-rs: another plugin's object is in another process "
                                  "(its name and state: get_all_active_plugin_names)")

    get_all_active_plugins = get_plugin_obj_by_name = _unsupported


class Storage:
    """errbotd's StorageService for this plugin (its namespace comes from the token). Values are
    JSON text; errbot.botplugin encodes and decodes them."""

    def __init__(self, channel, token):
        self._stub = storage_pb2_grpc.StorageServiceStub(channel)
        self._metadata = ((TOKEN_HEADER, token),)

    def _call(self, method, request):
        return getattr(self._stub, method)(request, metadata=self._metadata, timeout=TIMEOUT)

    def get(self, key):
        """The value's JSON text, None when the key is not set."""
        r = self._call("Get", storage_pb2.StorageGetRequest(key=key))
        return r.value_json if r.found else None

    def set(self, key, value_json):
        self._call("Set", storage_pb2.StorageSetRequest(key=key, value_json=value_json))

    def delete(self, key):
        return self._call("Delete", storage_pb2.StorageDeleteRequest(key=key)).deleted

    def keys(self):
        return list(self._call("Keys", storage_pb2.StorageKeysRequest()).keys)


def _poller_args(args, kwargs):
    """Errbot's poller arguments as StartPollerRequest.args_json ("" when none): JSON, or
    pickled as stored values are when JSON cannot hold them (a message's sender, say)."""
    if not args and not kwargs:
        return ""
    return encode_value({"args": list(args or []), "kwargs": dict(kwargs or {})})


def poller_arguments(args_json):
    """The (args, kwargs) of a PollRequest's args_json."""
    arguments = decode_value(args_json) if args_json else {}
    return arguments.get("args", []), arguments.get("kwargs", {})


class Bot:
    """errbotd, as one plugin sees it. Safe to call from any thread (gRPC channels are)."""

    def __init__(self, address, token, plugin_dir):
        # errbotd's HTTP/2 server refuses the :authority grpc derives from a socket path.
        self.channel = grpc.insecure_channel(address,
                                             options=[("grpc.default_authority", "localhost")])
        self._stub = bot_pb2_grpc.BotServiceStub(self.channel)
        self._metadata = ((TOKEN_HEADER, token),)
        self.storage = Storage(self.channel, token)
        self.plugin_dir = plugin_dir
        self.bot_config = BotConfig(plugin_dir)
        self.plugin_manager = PluginManager(self.status)
        self.mode = "errbot-rs"
        self.bot_identifier = None  # learnt from the first direct message or connection
        self.all_commands = {}  # this plugin's commands, by name (set by the service)
        self.deactivating = threading.Event()
        # Errbot's dynamic plugins (create_dynamic_plugin), by name; the service publishes them.
        self.dynamic_plugins = {}
        self.dynamic_lock = threading.Lock()
        self.publish_dynamic_plugins = None  # set by the service

    @property
    def prefix(self):
        return self.bot_config.BOT_PREFIX

    def learn(self, message):
        """Takes the bot's identifier from a direct message (addressed to the bot)."""
        if self.bot_identifier is None and message.direct:
            self.bot_identifier = identifier(message.to)

    def send(self, to, markdown=None, template=None, card=None, in_reply_to=None):
        """Sends one message as the bot; returns its id on the chat service."""
        if card is not None:
            content = common_pb2.Content(card=common_pb2.Card(
                title=card.title or "", body=card.body or "", summary=card.summary or "",
                link=card.link or "", image=card.image or "", thumbnail=card.thumbnail or "",
                color=card.color or "",
                fields=[common_pb2.CardField(key=str(k), value=str(v)) for k, v in card.fields]))
        elif template is not None:
            name, params = template
            content = common_pb2.Content(template=common_pb2.Template(
                name=name, params_json=json.dumps(params, default=str)))
        else:
            content = common_pb2.Content(markdown=str(markdown))
        request = bot_pb2.BotSendRequest(content=content)
        if isinstance(to, Identifier):
            request.to.CopyFrom(to._proto)
        else:
            request.to_text = str(to)
        if isinstance(in_reply_to, Message) and in_reply_to._proto is not None:
            request.in_reply_to = in_reply_to._proto.id
            request.thread_id = in_reply_to._proto.thread_id
            if not request.HasField("to"):
                request.backend = in_reply_to._proto.to.backend
        return self._stub.Send(request, metadata=self._metadata, timeout=TIMEOUT).message_id

    def send_file(self, to, fsource, name, size, content_type, chunk=64 * 1024):
        """Streams a file-like object's bytes to BotService.SendFile; returns the message id."""
        header = common_pb2.FileHeader(name=name or "file", size=size or 0,
                                       content_type=content_type or "")
        if isinstance(to, Identifier):
            header.to.CopyFrom(to._proto)
        else:
            header.to_text = str(to)

        def chunks():
            yield common_pb2.FileChunk(header=header)
            while True:
                data = fsource.read(chunk)
                if not data:
                    return
                yield common_pb2.FileChunk(data=data if isinstance(data, bytes) else data.encode())

        return self._stub.SendFile(chunks(), metadata=self._metadata, timeout=60.0).message_id

    def status(self):
        """errbotd's BotService.Status: uptime, every plugin's state, every process."""
        return self._stub.Status(bot_pb2.BotStatusRequest(), metadata=self._metadata,
                                 timeout=TIMEOUT)

    def set_dynamic_plugins(self, descriptions):
        """Tells errbotd the whole set of this plugin's dynamic plugins (PluginDescriptions);
        returns the warnings the admins were given (renamed commands)."""
        request = bot_pb2.SetDynamicPluginsRequest(plugins=descriptions)
        return list(self._stub.SetDynamicPlugins(request, metadata=self._metadata,
                                                 timeout=TIMEOUT).warnings)

    def warn_admins(self, text):
        self._stub.WarnAdmins(bot_pb2.WarnAdminsRequest(text=str(text)),
                              metadata=self._metadata, timeout=TIMEOUT)

    def build_identifier(self, text):
        proto = self._stub.BuildIdentifier(bot_pb2.BotBuildIdentifierRequest(text=text),
                                           metadata=self._metadata, timeout=TIMEOUT)
        return identifier(proto)

    def change_presence(self, status, message):
        self._stub.SetPresence(bot_pb2.BotPresenceRequest(status=status, message=message or ""),
                               metadata=self._metadata, timeout=TIMEOUT)

    def start_poller(self, interval, method, times, args, kwargs):
        request = bot_pb2.StartPollerRequest(method=method, interval_secs=interval,
                                             times=times or 0,
                                             args_json=_poller_args(args, kwargs))
        self._stub.StartPoller(request, metadata=self._metadata, timeout=TIMEOUT)

    def stop_poller(self, method, args, kwargs):
        # errbotd stops a plugin's pollers itself when it deactivates it, and a reload calls
        # Deactivate on the old process after the new one started them again: Errbot plugins
        # that stop their pollers in deactivate() must not stop the new process's.
        if self.deactivating.is_set():
            return
        request = bot_pb2.StopPollerRequest(method=method, args_json=_poller_args(args, kwargs))
        self._stub.StopPoller(request, metadata=self._metadata, timeout=TIMEOUT)

    def remote_plugin(self, name):
        """Plugin `name`, reached through errbotd (see calls.RemotePlugin)."""
        return RemotePlugin(self, name)

    def call_plugin(self, request):
        """BotService.CallPlugin; errbotd bounds it with the plugin's command deadline."""
        return self._stub.CallPlugin(request, metadata=self._metadata, timeout=CALL_TIMEOUT)

    def close(self):
        self.channel.close()
