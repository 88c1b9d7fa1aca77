"""Errbot's test support for plugin authors (errbot.backends.test): the `testbot` pytest fixture
and TestBot, here on the real errbot-rs: each TestBot starts errbotd with the test gateway and
the plugins of `extra_plugin_dir`, each on the compatibility host in its own process, and talks
to it through the test gateway's driver (errbot.v1.TestDriverService).

A plugin's existing tests run unchanged:

    pytest_plugins = ["errbot.backends.test"]
    extra_plugin_dir = "."

    def test_hello(testbot):
        testbot.push_message("!hello")
        assert "Hello" in testbot.pop_message()

with this directory (plugin-sdk/python) first on PYTHONPATH. errbotd is found in $ERRBOT_BIN_DIR,
else on PATH, else in the source tree's target directory; the plugins' virtualenvs are kept in
$ERRBOT_TESTBOT_VENVS (default ~/.cache/errbot-rs/testbot-venvs), made once."""

import json
import logging
import os
import pickle
import queue
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import textwrap
import threading
import time
import types
from multiprocessing.connection import Listener

import grpc
import pytest

from errbot.rendering import text
from errbot.v1 import control_pb2, control_pb2_grpc, testing_pb2, testing_pb2_grpc

log = logging.getLogger(__name__)

# Who the messages come from, as in Errbot's TestBot: an admin.
SENDER = "gbin@localhost"
# Errbot settings that TestBot's extra_config, or a test through testbot.bot_config, may set,
# and their errbot.toml keys in [bot]. Setting one on a running TestBot rewrites errbot.toml and
# reloads it (as `errbotctl config reload` does).
BOT_KEYS = {
    "BOT_PREFIX": "prefix",
    "BOT_ADMINS": "admins",
    "BOT_ALT_PREFIXES": "alt_prefixes",
    "BOT_ALT_PREFIX_SEPARATORS": "alt_prefix_separators",
    "BOT_ALT_PREFIX_CASEINSENSITIVE": "alt_prefix_case_insensitive",
    "BOT_PREFIX_OPTIONAL_ON_CHAT": "prefix_optional_on_chat",
    "SUPPRESS_CMD_NOT_FOUND": "suppress_cmd_not_found",
    "DIVERT_TO_PRIVATE": "divert_to_private",
    "DIVERT_TO_THREAD": "divert_to_thread",
    "GROUPCHAT_NICK_PREFIXED": "groupchat_nick_prefixed",
    "CORE_PLUGINS": "core_plugins",
}
# Errbot's defaults for the settings above that errbotd's differ from or that tests read.
BOT_DEFAULTS = {"BOT_PREFIX": "!", "BOT_ALT_PREFIXES": (), "BOT_PREFIX_OPTIONAL_ON_CHAT": False,
                "SUPPRESS_CMD_NOT_FOUND": False, "DIVERT_TO_PRIVATE": (),
                "DIVERT_TO_THREAD": ()}


class _BotConfig:
    """`testbot.bot_config`: Errbot's configuration names. Those of BOT_KEYS are errbotd's
    settings (setting one reloads errbotd's configuration); BOT_DATA_DIR and
    BOT_EXTRA_PLUGIN_DIR are the TestBot's; any other name set is kept here only."""

    def __init__(self, testbot):
        object.__setattr__(self, "_testbot", testbot)
        object.__setattr__(self, "_others", {})

    def __getattr__(self, name):
        bot = self._testbot
        if name in BOT_KEYS:
            return bot.extra_config.get(name, BOT_DEFAULTS.get(name))
        if name == "BOT_DATA_DIR":
            return os.path.join(bot.dir, "data")
        if name == "BOT_EXTRA_PLUGIN_DIR":
            return bot.plugin_dirs
        if name in self._others:
            return self._others[name]
        raise AttributeError(name)

    def __setattr__(self, name, value):
        if name in BOT_KEYS:
            self._testbot.set_setting(name, value)
        else:
            log.warning("errbot-rs: bot_config.%s has no errbotd setting; kept in the test only",
                        name)
            self._others[name] = value


class _PluginManager:
    """`testbot.bot.plugin_manager`: the plugin manager's questions and actions that do not
    need a plugin's object (plugins live in their own processes), through errbotd's control
    socket as errbotctl uses it."""

    def __init__(self, testbot):
        self._testbot = testbot
        self._extra_plugin_dir = None  # Errbot's; update_plugin_places loads it

    def _plugins(self):
        return self._testbot.control.PluginList(control_pb2.PluginListRequest(), timeout=10).plugins

    def update_plugin_places(self, path_list):
        self._testbot.update_plugin_places(path_list)

    def get_all_active_plugin_names(self):
        return [p.name for p in self._plugins() if p.letter == "A"]

    def get_all_plugin_names(self):
        return [p.name for p in self._plugins()]

    def _act(self, name, action):
        self._testbot.control.PluginAction(
            control_pb2.PluginActionRequest(name=name, action=action), timeout=120)

    def activate_plugin(self, name):
        self._act(name, control_pb2.PLUGIN_ACTION_KIND_ACTIVATE)

    def deactivate_plugin(self, name):
        self._act(name, control_pb2.PLUGIN_ACTION_KIND_DEACTIVATE)

    def reload_plugin_by_name(self, name):
        self._act(name, control_pb2.PLUGIN_ACTION_KIND_RELOAD)

    def get_plugin_obj_by_name(self, name):
        raise NotImplementedError(
            f"errbot-rs: plugin_manager.get_plugin_obj_by_name({name!r}): the plugin runs in its "
            "own process; test it through its commands, or use inject_mocks")


def _errbotd():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", "..", ".."))
    candidates = [os.path.join(os.environ["ERRBOT_BIN_DIR"], "errbotd")
                  if os.environ.get("ERRBOT_BIN_DIR") else None, shutil.which("errbotd")]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
    candidates += [os.path.join(target, profile, "errbotd") for profile in ("debug", "release")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise RuntimeError("errbotd not found: build it (cargo build --workspace --bins) or set "
                       "ERRBOT_BIN_DIR to the directory that holds it")


def _toml(value):
    """A Python value as TOML (strings, numbers, booleans, lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class _FlowExecutor:
    """`testbot.bot.flow_executor`: the flows errbotd runs, as Errbot's FlowExecutor shows
    them (`flow_roots` by name, `in_flight` with each flow's name, ctx, requestor and
    current_step), read from errbotd's control socket at each access."""

    def __init__(self, testbot):
        self._testbot = testbot

    def _flows(self):
        return self._testbot.control.Flows(control_pb2.FlowsRequest(), timeout=10)

    @property
    def flow_roots(self):
        return {f.name: types.SimpleNamespace(name=f.name, description=f.description,
                                              plugin=f.plugin, room_flow=f.room_flow)
                for f in self._flows().declared}

    @property
    def in_flight(self):
        return [types.SimpleNamespace(name=f.flow, ctx=json.loads(f.context_json or "{}"),
                                      requestor=f.started_by, current_step=f.step or None)
                for f in self._flows().in_progress]


class _MockServer:
    """The test's side of inject_mocks (see errbot_host/mocks.py): the plugins' hosts connect to
    it (a Unix socket with a random key, named in errbotd's environment) to learn which of their
    attributes a test replaced, and to call the test's mocks."""

    def __init__(self, directory):
        self.address = os.path.join(directory, "mocks.sock")
        self.key = secrets.token_bytes(16)
        self._listener = Listener(self.address, family="AF_UNIX", authkey=self.key)
        self._mocks = {}  # plugin name -> {attribute: mock}
        self._generation = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def environ(self):
        return {"ERRBOT_TESTBOT_MOCKS": self.address, "ERRBOT_TESTBOT_MOCKS_KEY": self.key.hex()}

    def inject(self, plugin_name, mock_dict):
        with self._lock:
            self._mocks.setdefault(plugin_name, {}).update(mock_dict)
            self._generation += 1

    def close(self):
        self._listener.close()

    def _accept(self):
        while True:
            try:
                connection = self._listener.accept()
            except (OSError, EOFError):
                return  # closed
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        with connection:
            while True:
                try:
                    question = connection.recv()
                except (OSError, EOFError):
                    return
                connection.send(self._answer(question))

    def _answer(self, question):
        if question[0] == "sync":
            _, plugin, known = question
            with self._lock:
                if known == self._generation:
                    return ("same",)
                mocks = {attribute: ("call", None) if callable(mock) else ("value", mock)
                         for attribute, mock in self._mocks.get(plugin, {}).items()}
                return ("mocks", self._generation, mocks)
        _, plugin, attribute, args, kwargs = question
        try:
            result = self._mocks[plugin][attribute](*args, **kwargs)
            pickle.dumps(result)
            return ("ok", result)
        except Exception as e:
            return ("raise", e)


def _log_filter(level):
    """errbotd's log filter for a TestBot's `loglevel` (Python's logging levels): errbotd's own
    lines at that level, the libraries' at info and above."""
    name = ("error" if level >= logging.ERROR else "warn" if level >= logging.WARNING
            else "info" if level >= logging.INFO else "debug")
    return f"errbotd={name},{'info' if name == 'debug' else name}"


def _compiled(pattern):
    """`pattern` (errbotd's regex syntax) compiled by Python's re, when it can be."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


class TestBot:
    """errbotd with the test gateway and the plugins of `extra_plugin_dir`. Messages are pushed
    as SENDER in a direct message; every message the bot sends is queued for pop_message, in
    order."""

    __test__ = False  # not a test class for pytest

    def __init__(self, extra_plugin_dir=None, loglevel=logging.DEBUG, extra_config=None):
        self.plugin_dirs = [os.path.abspath(d) for d in (
            extra_plugin_dir if isinstance(extra_plugin_dir, (list, tuple))
            else [extra_plugin_dir] if extra_plugin_dir else [])]
        self.extra_config = dict(extra_config or {})
        self.loglevel = loglevel
        self.process = None
        self.replies = queue.Queue()
        self._worker = None
        self.sender = SENDER
        self.bot_config = _BotConfig(self)
        self.plugin_manager = _PluginManager(self)
        self.flow_executor = _FlowExecutor(self)
        self._text = text()

    @property
    def bot(self):
        return self  # Errbot's testbot.bot.push_message / pop_message

    def _declared(self, regex):
        """The plugins' commands as errbotd registered them (`!plugin info`), each a stand-in
        with the attributes Errbot's command functions carry."""
        found = {}
        for plugin in self.plugin_manager._plugins():
            info = self.control.PluginInfo(control_pb2.PluginInfoRequest(name=plugin.name),
                                           timeout=10)
            for spec in info.command_specs:
                if spec.HasField("regex") != regex:
                    continue
                found[spec.name] = types.SimpleNamespace(
                    __doc__=spec.help or None, _err_command=True, _err_command_name=spec.name,
                    _err_command_syntax=spec.syntax or None, _err_command_hidden=spec.hidden,
                    _err_command_admin_only=spec.admin_only, _err_re_command=regex,
                    _err_command_re_pattern=_compiled(spec.regex.pattern) if regex else None)
        return found

    @property
    def commands(self):
        """Errbot's `bot.commands`: the commands by name (regex ones are in `re_commands`), as
        stand-ins (their functions live in the plugins' processes)."""
        return self._declared(regex=False)

    @property
    def re_commands(self):
        """Errbot's `bot.re_commands`: the regex commands by name, as stand-ins."""
        return self._declared(regex=True)

    @property
    def outgoing_message_queue(self):
        return self.replies  # Errbot's name for the queue of what the bot sent

    def start(self, timeout=120):
        self.dir = tempfile.mkdtemp(prefix="errbot-testbot-", dir="/tmp")
        socket = os.path.join(self.dir, "driver.sock")
        # errbotd looks for plugins in the sub-directories of a plugins directory; Errbot also
        # takes a plugin's own directory (`extra_plugin_dir = "."`), and looks further down.
        self._linked_dirs = []
        self._link(self.plugin_dirs)
        self._socket = socket
        self._write_config()
        self._log = open(os.path.join(self.dir, "errbotd.log"), "wb")
        self._mock_server = _MockServer(self.dir)
        self.process = subprocess.Popen([_errbotd(), "--config", "errbot.toml"], cwd=self.dir,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self._log, start_new_session=True,
                                        env=dict(os.environ, **self._mock_server.environ()))
        # The HTTP/2 :authority grpc derives from a socket path is refused: name a plain host.
        self.channel = grpc.insecure_channel(f"unix:{socket}",
                                             options=[("grpc.default_authority", "localhost")])
        self.driver = testing_pb2_grpc.TestDriverServiceStub(self.channel)
        self.control_channel = grpc.insecure_channel(
            f"unix:{os.path.join(self.dir, 'data', 'errbotd.sock')}",
            options=[("grpc.default_authority", "localhost")])
        self.control = control_pb2_grpc.ControlServiceStub(self.control_channel)
        # errbotd connects its gateways once every plugin is active: the first answer means ready.
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"errbotd exited during start-up:\n{self.log()}")
            try:
                self._converse("ready?", 5)
                break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:  # up, but refusing: no use waiting
                    raise RuntimeError(f"errbotd's test gateway: {e}\n{self.log()}") from e
                if time.monotonic() > deadline:
                    raise RuntimeError(f"errbotd did not become ready:\n{self.log()}")
                time.sleep(0.05)
        # Everything the bot sends from now on (replies, and what plugins send on their own, as
        # Errbot's Test backend queues it), read by a thread into `replies`.
        self._outbox = self.driver.Outbox(testing_pb2.OutboxRequest())
        self._outbox.initial_metadata()  # the stream is open: nothing sent from now on is missed
        self._worker = threading.Thread(target=self._collect, daemon=True)
        self._worker.start()

    def _link(self, tops):
        """Links every plugin directory under `tops` into a new directory of errbotd's
        plugin_dirs: errbotd looks for plugins in the sub-directories of a plugins directory;
        Errbot also takes a plugin's own directory (`extra_plugin_dir = "."`), and looks
        further down, every directory holding a .plug."""
        links = os.path.join(self.dir, f"plugins-{len(self._linked_dirs)}")
        for top in tops:
            for d, subdirs, files in os.walk(top, followlinks=True):  # as Errbot does
                subdirs[:] = [s for s in subdirs if not s.startswith((".", "__"))]
                if not any(name.endswith(".plug") for name in files):
                    continue
                os.makedirs(links, exist_ok=True)
                link = os.path.join(links, f"{len(os.listdir(links))}-{os.path.basename(d)}")
                os.symlink(d, link)
        if os.path.isdir(links):
            self._linked_dirs.append(links)

    def update_plugin_places(self, path_list):
        """Errbot's plugin_manager.update_plugin_places: the plugins of `_extra_plugin_dir` and
        `path_list` are loaded too (errbotd searches the new directories on a configuration
        reload and starts what it finds there)."""
        extra = self.plugin_manager._extra_plugin_dir
        tops = [os.path.abspath(d) for d in (
            (extra if isinstance(extra, (list, tuple)) else [extra] if extra else [])
            + list(path_list))]
        tops = [d for d in tops if d not in self.plugin_dirs]
        if not tops:
            return
        self.plugin_dirs.extend(tops)
        self._link(tops)
        self._write_config()
        self.control.ReloadConfig(control_pb2.ReloadConfigRequest(), timeout=120)

    def _write_config(self):
        venvs = os.environ.get("ERRBOT_TESTBOT_VENVS") or os.path.expanduser(
            "~/.cache/errbot-rs/testbot-venvs")
        bot = {"admins": [SENDER]}
        for name, key in BOT_KEYS.items():
            if name in self.extra_config:
                bot[key] = self.extra_config[name]
        config = textwrap.dedent(f"""\
            [bot]
            {chr(10).join(f"{k} = {_toml(v)}" for k, v in bot.items())}

            [paths]
            data_dir = "data"
            plugin_dirs = {_toml(self._linked_dirs)}
            bundled_plugins = false
            venv_dir = {_toml(venvs)}

            [log]
            level = {_toml(_log_filter(self.loglevel))}

            [backends.test]
            kind = "test"
            driver_socket = {_toml(self._socket)}
            names = "errbot"
            """)
        with open(os.path.join(self.dir, "errbot.toml"), "w") as f:
            f.write(config)

    def set_setting(self, name, value):
        """Sets Errbot setting `name` (one of BOT_KEYS) and, when errbotd runs, reloads its
        configuration with it."""
        self.extra_config[name] = value
        if self.process is not None:
            self._write_config()
            self.control.ReloadConfig(control_pb2.ReloadConfigRequest(), timeout=60)

    def build_identifier(self, text):
        """The identifier Errbot's test backend builds from `text` (a person's name)."""
        return text

    def _converse(self, body, timeout):
        request = testing_pb2.InjectRequest(body=body, timeout_ms=int(timeout * 1000),
                                            **{"from": SENDER})
        return self.driver.Converse(request, timeout=timeout + 5)

    def _collect(self):
        try:
            for sent in self._outbox:
                if not (sent.HasField("reaction") or sent.HasField("presence")):
                    # As plain text, as Errbot's test backend queues it.
                    self.replies.put(self._text.convert(sent.text))
        except grpc.RpcError:
            pass  # the stream ends with errbotd

    def log(self):
        """errbotd's log so far."""
        with open(os.path.join(self.dir, "errbotd.log"), encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self._worker is not None:
            self._outbox.cancel()
            self._worker.join(timeout=10)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            self.channel.close()
            self.control_channel.close()
            self._mock_server.close()
            self._log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.process = None

    # Errbot's TestBot API.
    def push_message(self, msg, extras=""):
        self.driver.Inject(testing_pb2.InjectRequest(body=msg, **{"from": str(self.sender)}),
                           timeout=10)

    def pop_message(self, timeout=5, block=True):
        return self.replies.get(timeout=timeout, block=block)

    def zap_queues(self):
        while not self.replies.empty():
            self.replies.get_nowait()

    def exec_command(self, command, timeout=5):
        self.push_message(command)
        return self.pop_message(timeout=timeout)

    def assertInCommand(self, command, response, timeout=5, dedent=False):
        if dedent:
            command = "\n".join(textwrap.dedent(command).splitlines()[1:])
        self.push_message(command)
        msg = self.pop_message(timeout)
        assert response in msg, f"{response} not in {msg}."

    assertCommand = assertInCommand  # deprecated in Errbot, still used

    def assertCommandFound(self, command, timeout=5):
        self.push_message(command)
        assert "not found" not in self.pop_message(timeout)

    def inject_mocks(self, plugin_name, mock_dict):
        """Replaces attributes of plugin `plugin_name` (Errbot's inject_mocks): a mock that is
        callable is called here, in the test's process, whenever the plugin calls the attribute
        (its arguments and result must be picklable); any other value is set on the plugin as
        it is. Takes effect from the plugin's next command, callback, poller or webhook."""
        self._mock_server.inject(plugin_name, mock_dict)


@pytest.fixture
def testbot(request):
    """Errbot's fixture: a started TestBot with the test module's (or class's) extra_plugin_dir,
    extra_config and loglevel; stopped after the test."""

    def setting(name, default=None):
        value = getattr(request.instance, name, None) if request.instance else None
        return value if value is not None else getattr(request.module, name, default)

    bot = TestBot(extra_plugin_dir=setting("extra_plugin_dir"), loglevel=setting(
        "loglevel", logging.DEBUG), extra_config=setting("extra_config"))
    bot.start()

    def stop():
        # pytest shows what a test printed only when it failed: errbotd's log, to see why.
        if bot.process is not None:
            print(f"errbotd's log:\n{bot.log()[-30000:]}")
        bot.stop()

    request.addfinalizer(stop)
    return bot
