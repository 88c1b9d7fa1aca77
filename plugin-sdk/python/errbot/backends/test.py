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

import logging
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import textwrap
import threading
import time

import grpc
import pytest

from errbot.v1 import testing_pb2, testing_pb2_grpc

log = logging.getLogger(__name__)

# Who the messages come from, as in Errbot's TestBot: an admin.
SENDER = "gbin@localhost"
# Errbot settings TestBot's extra_config may set, and their errbot.toml keys in [bot].
BOT_KEYS = {"BOT_PREFIX": "prefix", "BOT_ADMINS": "admins", "BOT_ALT_PREFIXES": "alt_prefixes"}


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

    @property
    def bot(self):
        return self  # Errbot's testbot.bot.push_message / pop_message

    @property
    def outgoing_message_queue(self):
        return self.replies  # Errbot's name for the queue of what the bot sent

    def start(self, timeout=120):
        self.dir = tempfile.mkdtemp(prefix="errbot-testbot-", dir="/tmp")
        socket = os.path.join(self.dir, "driver.sock")
        # errbotd looks for plugins in the sub-directories of a plugins directory; Errbot also
        # takes a plugin's own directory (`extra_plugin_dir = "."`), and looks further down.
        plugin_dirs, links = [], os.path.join(self.dir, "plugins")
        # Errbot also finds plugins deeper down: every directory holding a .plug is linked in.
        for top in self.plugin_dirs:
            for d, subdirs, files in os.walk(top):
                subdirs[:] = [s for s in subdirs if not s.startswith((".", "__"))]
                if not any(name.endswith(".plug") for name in files):
                    continue
                os.makedirs(links, exist_ok=True)
                link = os.path.join(links, f"{len(os.listdir(links))}-{os.path.basename(d)}")
                os.symlink(d, link)
        if os.path.isdir(links):
            plugin_dirs.append(links)
        venvs = os.environ.get("ERRBOT_TESTBOT_VENVS") or os.path.expanduser(
            "~/.cache/errbot-rs/testbot-venvs")
        bot = {"admins": ["@" + SENDER]}
        for name, key in BOT_KEYS.items():
            if name in self.extra_config:
                bot[key] = self.extra_config[name]
        config = textwrap.dedent(f"""\
            [bot]
            {chr(10).join(f"{k} = {_toml(v)}" for k, v in bot.items())}

            [paths]
            data_dir = "data"
            plugin_dirs = {_toml(plugin_dirs)}
            bundled_plugins = false
            venv_dir = {_toml(venvs)}

            [backends.test]
            kind = "test"
            driver_socket = {_toml(socket)}
            """)
        with open(os.path.join(self.dir, "errbot.toml"), "w") as f:
            f.write(config)
        self._log = open(os.path.join(self.dir, "errbotd.log"), "wb")
        self.process = subprocess.Popen([_errbotd(), "--config", "errbot.toml"], cwd=self.dir,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self._log, start_new_session=True)
        # The HTTP/2 :authority grpc derives from a socket path is refused: name a plain host.
        self.channel = grpc.insecure_channel(f"unix:{socket}",
                                             options=[("grpc.default_authority", "localhost")])
        self.driver = testing_pb2_grpc.TestDriverServiceStub(self.channel)
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

    def _converse(self, body, timeout):
        request = testing_pb2.InjectRequest(body=body, timeout_ms=int(timeout * 1000),
                                            **{"from": SENDER})
        return self.driver.Converse(request, timeout=timeout + 5)

    def _collect(self):
        try:
            for sent in self._outbox:
                if not (sent.HasField("reaction") or sent.HasField("presence")):
                    self.replies.put(sent.text)
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
            self._log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.process = None

    # Errbot's TestBot API.
    def push_message(self, msg, extras=""):
        self.driver.Inject(testing_pb2.InjectRequest(body=msg, **{"from": SENDER}), timeout=10)

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
        raise NotImplementedError(
            "errbot-rs: inject_mocks cannot reach into a plugin: it runs in its own process")


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
    request.addfinalizer(bot.stop)
    return bot
