"""`testbot.inject_mocks` across processes: under errbot.backends.test's TestBot (which sets
ERRBOT_TESTBOT_MOCKS and ERRBOT_TESTBOT_MOCKS_KEY in errbotd's environment, and so in its
plugins'), the host asks the TestBot, before each call it serves, which attributes of its plugin
a test replaced. A replaced method becomes a stand-in that calls the test's mock in the test's
process (so `mock.assert_called_with` sees the call); a replaced value is set as it is."""

import logging
import os
import threading
from multiprocessing.connection import Client

log = logging.getLogger(__name__)


class Mocks:
    """The link to the TestBot for one plugin; None outside tests (see `from_environ`)."""

    def __init__(self, address, key, plugin_name):
        self._address, self._key, self._name = address, key, plugin_name
        self._lock = threading.Lock()
        self._connection = None
        self._generation = -1

    @classmethod
    def from_environ(cls, environ, plugin_name):
        address = environ.get("ERRBOT_TESTBOT_MOCKS")
        key = environ.get("ERRBOT_TESTBOT_MOCKS_KEY")
        if not address or not key or not os.path.exists(address):
            return None
        return cls(address, bytes.fromhex(key), plugin_name)

    def _ask(self, *question):
        with self._lock:
            if self._connection is None:
                self._connection = Client(self._address, family="AF_UNIX", authkey=self._key)
            self._connection.send(question)
            return self._connection.recv()

    def sync(self, plugin):
        """Sets on `plugin` the mocks the test injected since the last sync."""
        try:
            answer = self._ask("sync", self._name, self._generation)
        except (OSError, EOFError) as e:
            log.warning("the TestBot's mocks are out of reach: %s", e)
            return
        if answer[0] != "mocks":
            return
        _, self._generation, mocks = answer
        for attribute, (kind, value) in mocks.items():
            setattr(plugin, attribute,
                    self._stand_in(attribute) if kind == "call" else value)

    def _stand_in(self, attribute):
        def call(*args, **kwargs):
            kind, value = self._ask("call", self._name, attribute, args, kwargs)
            if kind == "raise":
                raise value
            return value

        call.__name__ = attribute
        return call
