"""Errbot's BotPlugin (errbot.botplugin), with everything it does carried out by errbotd over
errbot.v1. `self._bot` is errbot_host's Bot: the BotService and StorageService clients."""

import base64
import json
import logging
import pickle
from collections.abc import MutableMapping
from contextlib import contextmanager

from .backends.base import Card, Identifier, Message  # noqa: F401 (Card: Errbot exports it here)

# A stored value JSON cannot hold (a tuple, a set, an object) is pickled, base64-encoded, into
# a JSON object with this one key.
PICKLED = "py/pickle"


class ValidationException(Exception):
    """Raised by check_configuration: the configuration is refused with this text."""


class CommandError(Exception):
    """Raised by a command: its text is the reply, and the command ends (Errbot's CommandError).
    `template` names a template to render the reason with, as a command's `template=`."""

    def __init__(self, reason, template=None):
        super().__init__(reason)
        self.reason = reason
        self.template = template


def encode_value(value):
    """A stored value as JSON text: JSON itself when JSON holds it unchanged, else pickled."""
    try:
        text = json.dumps(value)
        if json.loads(text) == value and not _looks_pickled(value):
            return text
    except (TypeError, ValueError):
        pass
    return json.dumps({PICKLED: base64.b64encode(pickle.dumps(value)).decode("ascii")})


def decode_value(text):
    value = json.loads(text)
    if _looks_pickled(value):
        return pickle.loads(base64.b64decode(value[PICKLED]))
    return value


def _looks_pickled(value):
    return isinstance(value, dict) and list(value) == [PICKLED] and isinstance(
        value[PICKLED], str)


def recurse_check_structure(sample, to_check):
    """Errbot's shape check: to_check has sample's types, dicts its keys, lists the type of
    sample's first element. Raises ValidationException."""
    if sample is None:  # a None in the template accepts anything
        return
    if type(to_check) is not type(sample) and not (
            isinstance(sample, (list, tuple)) and isinstance(to_check, (list, tuple))):
        raise ValidationException(f"{to_check} is of type {type(to_check)} and should be of "
                                  f"type {type(sample)}")
    if isinstance(sample, dict):
        for key, value in sample.items():
            if key not in to_check:
                raise ValidationException(f"{to_check} doesn't contain the key {key}")
            recurse_check_structure(value, to_check[key])
        for key in to_check:
            if key not in sample:
                raise ValidationException(f"{to_check} contains an unknown key {key}")
    elif isinstance(sample, (list, tuple)) and sample:
        for item in to_check:
            recurse_check_structure(sample[0], item)


class StoreMixin(MutableMapping):
    """The plugin as a persistent dict (Errbot's StoreMixin), in errbotd's storage: the
    plugin's own namespace, shared by its processes, kept across restarts."""

    def __getitem__(self, key):
        text = self._bot.storage.get(key)
        if text is None:
            raise KeyError(key)
        return decode_value(text)

    def __setitem__(self, key, value):
        self._bot.storage.set(key, encode_value(value))

    def __delitem__(self, key):
        if not self._bot.storage.delete(key):
            raise KeyError(key)

    def __contains__(self, key):
        return self._bot.storage.get(key) is not None

    def __iter__(self):
        return iter(self._bot.storage.keys())

    def __len__(self):
        return len(self._bot.storage.keys())

    def keys(self):
        return self._bot.storage.keys()

    @contextmanager
    def mutable(self, key, default=None):
        """`with self.mutable("k") as v:` changes v in place; it is stored when the block
        ends."""
        try:
            value = self[key]
        except KeyError:
            value = default
        yield value
        self[key] = value

    # Errbot opens and closes the store around activation; errbotd's store is always open.
    def open_storage(self, *args, **kwargs):
        pass

    def close_storage(self):
        pass


class Command:
    """Errbot's dynamic definition of a command, for create_dynamic_plugin: `function(plugin,
    msg, args)` made a command by `cmd_type` (botcmd unless told; arg_botcmd, re_botcmd,
    botmatch...) with `cmd_args` and `cmd_kwargs`; `name` is needed for a lambda."""

    def __init__(self, function, cmd_type=None, cmd_args=None, cmd_kwargs=None, name=None,
                 doc=None):
        if cmd_type is None:
            from .decorators import botcmd
            cmd_type = botcmd
        if name is None:
            if function.__name__ == "<lambda>":
                raise ValueError("function is a lambda (anonymous), parameter name needs to be set.")
            name = function.__name__
        self.name = name
        function.__name__ = name
        if doc:
            function.__doc__ = doc
        self.definition = cmd_type(*((function,) + tuple(cmd_args or ())), **(cmd_kwargs or {}))


class BotPlugin(StoreMixin):
    """Base class of Errbot plugins. The class docstring is the plugin's description."""

    def __init__(self, bot, name=None):
        self._bot = bot
        self.plugin_name = name or type(self).__name__
        self.log = logging.getLogger(f"errbot.plugins.{self.plugin_name}")
        self.config = None
        self.is_activated = False
        self.plugin_dir = bot.plugin_dir
        self.dependencies = list(getattr(bot, "dependencies", []))  # DependsOn of its .plug
        self.current_pollers = []

    # Errbot's names for the bot's settings and identity.
    @property
    def name(self):
        return self.plugin_name

    @property
    def bot_config(self):
        return self._bot.bot_config

    @property
    def mode(self):
        return self._bot.mode

    @property
    def bot_identifier(self):
        return self._bot.bot_identifier

    # Lifecycle.
    def activate(self):
        self.is_activated = True

    def deactivate(self):
        self.is_activated = False

    def get_configuration_template(self):
        """The configuration's template (a dict), or None when not configurable."""
        return None

    def check_configuration(self, configuration):
        """Raises ValidationException when `configuration` is refused; by default checks it has
        the template's shape."""
        recurse_check_structure(self.get_configuration_template(), configuration)

    def configure(self, configuration):
        self.config = configuration

    # Callbacks: defined by plugins that want them (errbot_host declares only those).
    def callback_connect(self):
        pass

    def callback_message(self, message):
        pass

    def callback_mention(self, message, mentioned_people):
        pass

    def callback_presence(self, presence):
        pass

    def callback_reaction(self, reaction):
        pass

    def callback_room_joined(self, room, identifier=None, invited_by=None):
        pass

    def callback_room_left(self, room, identifier=None, kicked_by=None):
        pass

    def callback_room_topic(self, room):
        pass

    def callback_botmessage(self, message):
        pass

    def callback_stream(self, stream):
        pass

    # Acting as the bot.
    def send(self, identifier, text, in_reply_to=None, groupchat_nick_reply=False):
        """Sends `text` (Markdown) to a person or a room as the bot."""
        if not isinstance(identifier, (Identifier, str)):
            raise ValueError("identifier needs to be of type Identifier or str")
        return self._bot.send(identifier, markdown=text, in_reply_to=in_reply_to)

    def send_templated(self, identifier, template_name, template_parameters, in_reply_to=None,
                       groupchat_nick_reply=False):
        """Sends templates/TEMPLATE_NAME.md rendered with the parameters (errbotd renders)."""
        return self._bot.send(identifier, template=(template_name, template_parameters),
                              in_reply_to=in_reply_to)

    def send_card(self, body="", to=None, in_reply_to=None, summary=None, title="", link="",
                  image="", thumbnail="", color="green", fields=()):
        """Sends a card: title, body, link, image, colour, fields ((key, value) pairs)."""
        if to is None:
            if in_reply_to is None:
                raise ValueError("Either to or in_reply_to needs to be set.")
            to = in_reply_to.to if in_reply_to.is_group else in_reply_to.frm
        card = Card(body=body, to=to, summary=summary, title=title, link=link, image=image,
                    thumbnail=thumbnail, color=color, fields=fields)
        return self._bot.send(to, card=card, in_reply_to=in_reply_to)

    def send_stream_request(self, user, fsource, name=None, size=None, stream_type=None):
        """Sends a file (a file-like object) to a person or a room, where the chat service takes
        uploads; errbotd refuses it (UNIMPLEMENTED) where it does not. Sent at once: returns
        the message id (Errbot returns a Stream it sends in the background)."""
        return self._bot.send_file(user, fsource, name, size, stream_type)

    def warn_admins(self, warning):
        self._bot.warn_admins(warning)

    def build_identifier(self, txtrep):
        return self._bot.build_identifier(txtrep)

    def change_presence(self, status="online", message=""):
        self._bot.change_presence(status, message)

    def create_dynamic_plugin(self, name, commands, doc=""):
        """Errbot's: a plugin named `name` made of `commands` (Command definitions), with `doc`
        as its documentation. Its commands are errbotd's at once (a name taken is renamed
        `name-command` and the admins are told); this plugin's process serves them, so they go
        when it stops."""
        import re
        with self._bot.dynamic_lock:
            if name in self._bot.dynamic_plugins:
                raise ValueError(f"Dynamic plugin {name} already created.")
            plugin_class = type(re.sub(r"\W|^(?=\d)", "_", name), (BotPlugin,),
                                {command.name: command.definition for command in commands})
            plugin_class.__errdoc__ = doc
            self._bot.dynamic_plugins[name] = plugin_class(self._bot, name=name)
            try:
                self._bot.publish_dynamic_plugins()
            except Exception:
                del self._bot.dynamic_plugins[name]
                raise

    def destroy_dynamic_plugin(self, name):
        """Errbot's: removes the dynamic plugin `name` and its commands."""
        with self._bot.dynamic_lock:
            if name not in self._bot.dynamic_plugins:
                raise ValueError(f"Dynamic plugin {name} doesn't exist.")
            plugin = self._bot.dynamic_plugins.pop(name)
            try:
                self._bot.publish_dynamic_plugins()
            except Exception:
                self._bot.dynamic_plugins[name] = plugin
                raise

    def get_plugin(self, name):
        """The plugin `name`, one of this plugin's dependencies (DependsOn in its .plug). It runs
        in its own process: its methods are called there, with arguments and results that
        pickle can carry; reading an attribute gives a copy of its value."""
        if name not in self.dependencies:
            raise Exception(f"Plugin dependency {name} needs to be listed in section [Core] key "
                            '"DependsOn" to be used in get_plugin.')
        return self._bot.remote_plugin(name)

    # Pollers: errbotd keeps the schedule and calls the method back (PluginService.Poll).
    def start_poller(self, interval, method, times=None, args=None, kwargs=None):
        self._bot.start_poller(interval, method.__name__, times, args, kwargs)
        if (method.__name__, args, kwargs) not in self.current_pollers:
            self.current_pollers.append((method.__name__, args, kwargs))

    def stop_poller(self, method, args=None, kwargs=None):
        self._bot.stop_poller(method.__name__, args, kwargs)
        if (method.__name__, args, kwargs) in self.current_pollers:
            self.current_pollers.remove((method.__name__, args, kwargs))
