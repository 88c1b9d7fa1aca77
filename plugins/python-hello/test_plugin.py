"""Tests of python-hello as errbotd sees it: plugin.py runs as a subprocess under the child
contract and is driven over its Unix socket with the generated stubs.

Run from the repository root, in a virtualenv with requirements.txt and pytest installed:
    python3 -m pytest plugins/python-hello
"""

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent import futures

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "errbot_stubs"))
sys.path.insert(0, HERE)

from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from errbot.v1 import bot_pb2, bot_pb2_grpc, common_pb2, plugin_pb2, plugin_pb2_grpc  # noqa: E402
from errbot.v1 import storage_pb2, storage_pb2_grpc  # noqa: E402

PYTHON_VERSION = platform.python_version()  # the subprocess runs the same interpreter


def message(body, person="tester", room=""):
    """A message as the test gateway builds one: from @person, in #room or directly to the bot."""
    sender = common_pb2.Identifier(backend="test", person=f"@{person}", nick=person,
                                   display=f"@{person}")
    if room:
        sender.room, sender.display = room, f"{room}/{person}"
        to = common_pb2.Identifier(backend="test", room=room, display=room)
    else:
        to = common_pb2.Identifier(backend="test", person="@errbot", nick="errbot",
                                   display="@errbot")
    return common_pb2.Message(id="m1", body=body, direct=not room, to=to, **{"from": sender})


class Plugin:
    """One plugin.py process serving on a socket in a private temporary directory."""

    def __init__(self, env_overrides=None):
        # Short path: a Unix socket path must fit in about 100 bytes.
        self.dir = tempfile.mkdtemp(prefix="pyhello-", dir="/tmp")
        self.socket = os.path.join(self.dir, "plugin.sock")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.stdout_path = os.path.join(self.dir, "stdout")
        env = dict(os.environ)
        for var in list(env):
            if var.startswith("ERRBOT_"):
                del env[var]
        env.update(
            ERRBOT_SOCKET=f"unix:{self.socket}",
            ERRBOT_BOT_SOCKET=f"unix:{self.dir}/bot.sock",
            ERRBOT_TOKEN="secret-token",
            ERRBOT_NAME="python-hello",
            ERRBOT_PROTOCOL_VERSIONS="errbot.v1",
            ERRBOT_CHILD_KIND="plugin",
        )
        for var, value in (env_overrides or {}).items():
            if value is None:
                env.pop(var, None)
            else:
                env[var] = value
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            # Started like errbotd does: this directory as working directory, own process group
            # (here: own session).
            self.process = subprocess.Popen(
                [sys.executable, "plugin.py"], cwd=HERE, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True,
            )
        self.channel = grpc.insecure_channel(f"unix:{self.socket}")
        self.stub = plugin_pb2_grpc.PluginServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def wait_serving(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"plugin exited early:\n{self.stderr()}"
            try:
                status = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"no SERVING within {timeout} s:\n{self.stderr()}")

    def execute(self, command, args="", room="", **params):
        """Runs a command as @tester (in `room`, else in a direct message); returns its replies
        as (Markdown text, error)."""
        return [(r.content.markdown, r.error)
                for r in self.execute_replies(command, args, room, **params)]

    def execute_replies(self, command, args="", room="", **params):
        """Runs a command; returns its errbot.v1.Reply messages."""
        request = plugin_pb2.ExecuteRequest(
            command=command, args=args, argv=args.split(), invocation_id=f"test-{command}",
            message=message(f"!{command} {args}".strip(), room=room),
        )
        for name, value in params.items():
            request.params[name].values.append(str(value))
        return list(self.stub.Execute(request, timeout=10))

    def event(self, callback, body, person="tester", room=""):
        """Delivers a callback about a message, as errbotd does."""
        request = plugin_pb2.EventRequest(callback=callback, message=message(body, person, room),
                                          backend="test")
        return self.stub.Event(request, timeout=5)

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read()

    def close(self):
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def plugin():
    p = Plugin()
    # errbotd's side: BotService (pollers) and StorageService, faked on the contract's socket.
    p.fake_bot, p.fake_storage = _FakeBotService(), _FakeStorage()
    server = grpc.server(futures.ThreadPoolExecutor(4))
    bot_pb2_grpc.add_BotServiceServicer_to_server(p.fake_bot, server)
    storage_pb2_grpc.add_StorageServiceServicer_to_server(p.fake_storage, server)
    server.add_insecure_port(f"unix:{p.dir}/bot.sock")
    server.start()
    try:
        p.wait_serving()
        p.stub.Activate(plugin_pb2.ActivateRequest(bot_prefix="!"), timeout=5)
        yield p
        assert p.process.poll() is None, f"the plugin died:\n{p.stderr()}"
        assert p.stdout() == b"", "the plugin wrote to stdout"
    finally:
        server.stop(None)
        p.close()


def test_health_serving(plugin):
    response = plugin.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_describe(plugin):
    d = plugin.stub.Describe(plugin_pb2.DescribeRequest(protocol_versions=["errbot.v1"]), timeout=5)
    assert d.name == "python-hello"
    assert d.protocol_version == "errbot.v1"
    assert d.description == "Greetings, sums and counting: the example Python plugin, on errbot.v1 without an SDK."
    assert [c.name for c in d.commands] == [
        "pyhello", "pyadd", "pycount", "pyremember", "pyrecall", "pyvisits", "pyheartbeats",
        "pyseen", "pycoffee", "pycoffee_milk", "pycoffee_serve", "pyreport",
    ]
    hello, add, count = d.commands[:3]
    assert hello.help.splitlines()[0] == "Say hello from Python."
    assert hello.WhichOneof("kind") == "plain"
    assert hello.plain.arg_mode == plugin_pb2.ARG_MODE_RAW and not hello.plain.params
    assert hello.syntax == "[name]"
    assert all(c.historize and not c.hidden and not c.admin_only for c in d.commands)
    assert [(p.name, p.type, p.kind, p.required) for p in add.plain.params] == [
        ("a", plugin_pb2.PARAM_TYPE_INTEGER, plugin_pb2.PARAM_KIND_POSITIONAL, True),
        ("b", plugin_pb2.PARAM_TYPE_INTEGER, plugin_pb2.PARAM_KIND_POSITIONAL, True),
    ]
    assert [(p.name, p.type, p.kind, p.required) for p in count.plain.params] == [
        ("n", plugin_pb2.PARAM_TYPE_INTEGER, plugin_pb2.PARAM_KIND_POSITIONAL, True),
    ]
    # The callback_* methods PythonHello defines, and no other: errbotd sends only these.
    assert list(d.callbacks) == [plugin_pb2.CALLBACK_MESSAGE, plugin_pb2.CALLBACK_UNHANDLED]
    # The template command: its replies are rendered from templates/report.md.
    report = d.commands[-1]
    assert report.template == "report"
    assert os.path.isfile(os.path.join(HERE, "templates", "report.md"))
    assert [(p.name, p.type, p.kind, p.required) for p in report.plain.params] == [
        ("to", plugin_pb2.PARAM_TYPE_STRING, plugin_pb2.PARAM_KIND_OPTION, False),
    ]
    assert [c.name for c in d.commands if c.template] == ["pyreport"]
    # The coffee flow: the size starts it, the milk is typed, serving runs by itself.
    assert [c.name for c in d.commands if c.flow_only] == ["pycoffee_milk", "pycoffee_serve"]
    (coffee,) = d.flows
    assert coffee.name == "coffee"
    assert [(n.command, n.end) for n in coffee.nodes] == [
        ("", False), ("pycoffee", False), ("pycoffee_milk", False), ("pycoffee_serve", False),
        ("", True),
    ]
    assert [(getattr(e, "from"), e.to, e.predicate, e.always, e.auto_trigger)
            for e in coffee.edges] == [
        (0, 1, "", False, True), (1, 2, "", False, False), (2, 3, "p0", False, False),
        (3, 4, "", True, False),
    ]
    # The webhook, on errbotd's web server.
    assert [(w.name, w.uri_rule, list(w.methods), w.body) for w in d.webhooks] == [
        ("pyhello_webhook", "/pyhello", ["POST"], "json"),
    ]


def test_flow_predicates_and_context(plugin):
    holds = lambda ctx: plugin.stub.FlowPredicate(plugin_pb2.FlowPredicateRequest(  # noqa: E731
        flow="coffee", predicate="p0", context_json=json.dumps(ctx)), timeout=5).holds
    assert not holds({"size": "large"})
    assert holds({"size": "large", "milk": False})
    with pytest.raises(grpc.RpcError) as missing:
        plugin.stub.FlowPredicate(plugin_pb2.FlowPredicateRequest(flow="coffee", predicate="p9"),
                                  timeout=5)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    # A step gets the flow's context and gives it back changed, in a reply of its own.
    replies = list(plugin.stub.Execute(plugin_pb2.ExecuteRequest(
        command="pycoffee_milk", args="yes",
        flow=plugin_pb2.FlowStep(name="coffee", context_json='{"size": "large"}')), timeout=5))
    assert replies[0].content.markdown == "With milk."
    assert json.loads(replies[1].flow_context_json) == {"size": "large", "milk": True}
    assert not replies[1].HasField("content")


def test_describe_refuses_other_protocols(plugin):
    with pytest.raises(grpc.RpcError) as err:
        plugin.stub.Describe(plugin_pb2.DescribeRequest(protocol_versions=["errbot.v9"]), timeout=5)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_check_config(plugin):
    assert plugin.stub.CheckConfig(plugin_pb2.ConfigRequest(config_json=""), timeout=5).error == ""


def test_callbacks_count_messages_quietly(plugin):
    plugin.fake_storage.values.pop("seen", None)
    sends = len([c for c in plugin.fake_bot.calls if isinstance(c[1], bot_pb2.BotSendRequest)])
    assert plugin.execute("pyseen") == [
        ("I have seen 0 messages in direct messages and 0 in all; no command handled 0 of them.",
         False)
    ]
    # What errbotd sends for chatter in #dev: every message, then unhandled (no command).
    for person, body in [("ana", "hi all"), ("bob", "hello ana")]:
        plugin.event(plugin_pb2.CALLBACK_MESSAGE, body, person, "#dev")
        plugin.event(plugin_pb2.CALLBACK_UNHANDLED, body, person, "#dev")
    plugin.event(plugin_pb2.CALLBACK_MESSAGE, "hi", "ana", "#ops")
    # A command: only the message callback.
    plugin.event(plugin_pb2.CALLBACK_MESSAGE, "!pyhello", "ana")
    assert json.loads(plugin.fake_storage.values["seen"][0]) == {
        "rooms": {"#dev": 2, "#ops": 1}, "direct": 1, "unhandled": 2,
    }
    assert plugin.execute("pyseen", room="#dev") == [
        ("I have seen 2 messages in #dev and 4 in all; no command handled 2 of them.", False)
    ]
    assert plugin.execute("pyseen", "#ops") == [
        ("I have seen 1 message in #ops and 4 in all; no command handled 2 of them.", False)
    ]
    assert plugin.execute("pyseen") == [
        ("I have seen 1 message in direct messages and 4 in all; no command handled 2 of them.",
         False)
    ]
    assert plugin.execute("pyseen", "#nowhere", room="#dev")[0][0].startswith(
        "I have seen 0 messages in #nowhere and 4 in all")
    # Quiet: no callback sent anything.
    assert sends == len([c for c in plugin.fake_bot.calls
                         if isinstance(c[1], bot_pb2.BotSendRequest)])
    # A callback the plugin did not declare: errbotd never sends one, the plugin refuses it.
    with pytest.raises(grpc.RpcError) as err:
        plugin.event(plugin_pb2.CALLBACK_PRESENCE, "")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "did not declare the callback CALLBACK_PRESENCE" in err.value.details()


def test_pyreport_replies_with_its_template(plugin):
    storage = plugin.fake_storage
    storage.values["heartbeats"] = ("3", 1)
    storage.values["visits"] = ("2", 1)
    storage.values["seen"] = (json.dumps(
        {"rooms": {"#ops": 1, "#dev": 5}, "direct": 2, "unhandled": 4}), 1)
    expected = {
        "heartbeats": 3, "heartbeat_secs": 60, "visits": 2, "total": 8, "unhandled": 4,
        "rooms": [{"name": "#dev", "messages": 5}, {"name": "#ops", "messages": 1}],
        "direct": 2,
    }
    [reply] = plugin.execute_replies("pyreport")
    assert not reply.error
    # The command's own template (empty name: CommandSpec.template), errbotd renders it.
    assert reply.content.WhichOneof("kind") == "template"
    assert reply.content.template.name == ""
    assert json.loads(reply.content.template.params_json) == expected

    # Errbot's send_templated: BotService.Send with a template content, named this time.
    sent_before = len(plugin.fake_bot.calls)
    assert plugin.execute("pyreport", "--to #ops", room="#dev", to="#ops") == [
        ("Sent the counters to #ops.", False)
    ]
    [(token, request)] = plugin.fake_bot.calls[sent_before:]
    assert token == "secret-token"
    assert isinstance(request, bot_pb2.BotSendRequest)
    assert (request.to_text, request.backend) == ("#ops", "test")
    assert request.content.template.name == "report"
    assert json.loads(request.content.template.params_json) == expected

    # Nothing counted yet: the template gets zeros and empty lists.
    for key in ("heartbeats", "visits", "seen"):
        storage.values.pop(key)
    [reply] = plugin.execute_replies("pyreport")
    assert json.loads(reply.content.template.params_json) == {
        "heartbeats": 0, "heartbeat_secs": 60, "visits": 0, "total": 0, "unhandled": 0,
        "rooms": [], "direct": 0,
    }


def test_pyhello(plugin):
    assert plugin.execute("pyhello") == [(f"Hello from Python {PYTHON_VERSION}!", False)]
    assert plugin.execute("pyhello", "Ana") == [(f"Hello Ana, from Python {PYTHON_VERSION}!", False)]
    assert plugin.execute("pyhello", "Ana  Maria ") == [
        (f"Hello Ana Maria, from Python {PYTHON_VERSION}!", False)
    ]


def test_pyadd(plugin):
    assert plugin.execute("pyadd", "2 40", a=2, b=40) == [("42", False)]
    assert plugin.execute("pyadd", "-5 3", a=-5, b=3) == [("-2", False)]
    big = 9223372036854775807
    assert plugin.execute("pyadd", f"{big} {big}", a=big, b=big) == [(str(2 * big), False)]


def test_pycount_streams(plugin):
    assert plugin.execute("pycount", "3", n=3) == [("1", False), ("2", False), ("3", False)]
    assert plugin.execute("pycount", "1", n=1) == [("1", False)]
    replies = plugin.execute("pycount", "100", n=100)
    assert [text for text, _ in replies] == [str(i) for i in range(1, 101)]


def test_command_error_is_an_error_reply(plugin):
    assert plugin.execute("pycount", "0", n=0) == [("I can count from 1 to 100, not to 0.", True)]
    assert plugin.execute("pycount", "101", n=101) == [("I can count from 1 to 100, not to 101.", True)]


def test_exception_is_a_grpc_error_and_the_server_lives_on(plugin):
    # errbotd always sends declared params; without them the Python call itself fails.
    with pytest.raises(grpc.RpcError) as err:
        plugin.execute("pyadd", "2 40")
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert err.value.details().startswith("pyadd failed: TypeError: ")
    assert plugin.execute("pyadd", "1 1", a=1, b=1) == [("2", False)]
    # The traceback is logged to stderr, every line tagged with the level for errbotd.
    log = plugin.stderr()
    assert "ERROR python-hello: command pyadd failed (invocation test-pyadd)" in log
    assert "ERROR   Traceback (most recent call last):" in log


def test_unknown_command(plugin):
    with pytest.raises(grpc.RpcError) as err:
        plugin.execute("nosuchcmd")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_concurrent_commands(plugin):
    with futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: plugin.execute("pyadd", a=i, b=i), range(64)))
    assert results == [[(str(2 * i), False)] for i in range(64)]


def test_sigterm_exits_cleanly():
    p = Plugin()
    try:
        p.wait_serving()
        p.stub.Deactivate(plugin_pb2.DeactivateRequest(), timeout=5)
        p.process.send_signal(signal.SIGTERM)
        assert p.process.wait(timeout=10) == 0, p.stderr()
        assert not os.path.exists(p.socket), "the socket file was left behind"
        assert p.stdout() == b""
        assert "INFO python-hello: stopped" in p.stderr()
    finally:
        p.close()


@pytest.mark.parametrize("missing", ["ERRBOT_SOCKET", "ERRBOT_BOT_SOCKET", "ERRBOT_TOKEN", "ERRBOT_NAME"])
def test_missing_contract_variable_exits_2(missing):
    p = Plugin({missing: None})
    try:
        assert p.process.wait(timeout=20) == 2
        assert f"environment variable {missing} is not set" in p.stderr()
        assert p.stdout() == b""
    finally:
        p.close()


def test_bad_socket_address_exits_2():
    p = Plugin({"ERRBOT_SOCKET": "tcp://127.0.0.1:1"})
    try:
        assert p.process.wait(timeout=20) == 2
        assert "expected unix:/absolute/path" in p.stderr()
    finally:
        p.close()


class _FakeBotService(bot_pb2_grpc.BotServiceServicer):
    """errbotd's BotService: records every call with its token; pollers are a set of
    (method, args_json), started again answers already_running."""

    def __init__(self):
        self.calls = []
        self.pollers = set()

    def _record(self, context, request):
        self.calls.append((dict(context.invocation_metadata()).get("x-errbot-token"), request))

    def Send(self, request, context):
        self._record(context, request)
        return bot_pb2.BotSendResponse(message_id="sent-1")

    def StartPoller(self, request, context):
        self._record(context, request)
        key = (request.method, request.args_json)
        running = key in self.pollers
        self.pollers.add(key)
        return bot_pb2.StartPollerResponse(already_running=running)

    def StopPoller(self, request, context):
        self._record(context, request)
        key = (request.method, request.args_json)
        stopped = key in self.pollers
        self.pollers.discard(key)
        return bot_pb2.StopPollerResponse(stopped=stopped)

    def ListPollers(self, request, context):
        self._record(context, request)
        return bot_pb2.ListPollersResponse(pollers=[
            bot_pb2.PollerInfo(plugin="python-hello", method=method, args_json=args_json)
            for method, args_json in sorted(self.pollers)
        ])


def test_activate_starts_the_heartbeat_poller(plugin):
    starts = [(token, r) for token, r in plugin.fake_bot.calls
              if isinstance(r, bot_pb2.StartPollerRequest)]
    assert len(starts) == 1
    token, request = starts[0]
    assert token == "secret-token"
    assert (request.method, request.interval_secs, request.times, request.args_json) == (
        "heartbeat", 60.0, 0, "")
    # Activated again (a new process does that): the poller runs already, errbotd says so.
    plugin.stub.Activate(plugin_pb2.ActivateRequest(bot_prefix="!"), timeout=5)
    assert plugin.fake_bot.pollers == {("heartbeat", "")}
    assert "INFO python-hello: heartbeat poller already running" in plugin.stderr()
    import plugin as plugin_module  # BotClient.list_pollers, with the plugin's token

    bot = plugin_module.BotClient(f"unix:{plugin.dir}/bot.sock", "secret-token")
    try:
        assert [(p.method, p.args_json) for p in bot.list_pollers()] == [("heartbeat", "")]
    finally:
        bot.close()


def test_poll_runs_the_poller_method(plugin):
    before = plugin.execute("pyheartbeats")
    plugin.stub.Poll(plugin_pb2.PollRequest(method="heartbeat", tick=1), timeout=5)
    plugin.stub.Poll(plugin_pb2.PollRequest(method="heartbeat", tick=2), timeout=5)
    assert plugin.fake_storage.values["heartbeats"][0] == "2"
    assert before == [("0 heartbeats, one every 60 s.", False)]
    assert plugin.execute("pyheartbeats") == [("2 heartbeats, one every 60 s.", False)]
    for unknown in ("nosuchpoller", "_private", "name"):
        with pytest.raises(grpc.RpcError) as err:
            plugin.stub.Poll(plugin_pb2.PollRequest(method=unknown, tick=1), timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND, unknown


def test_bot_client_sends_its_token():
    import plugin as plugin_module  # the module itself, not the process

    directory = tempfile.mkdtemp(prefix="pyhello-bot-", dir="/tmp")
    address = f"unix:{directory}/bot.sock"
    fake = _FakeBotService()
    server = grpc.server(futures.ThreadPoolExecutor(2))
    bot_pb2_grpc.add_BotServiceServicer_to_server(fake, server)
    server.add_insecure_port(address)
    server.start()
    try:
        bot = plugin_module.BotClient(address, "secret-token")
        assert bot.send("#room", "hello **room**") == "sent-1"
        bot.close()
        token, request = fake.calls[0]
        assert token == "secret-token"
        assert request.to_text == "#room" and request.content.markdown == "hello **room**"
    finally:
        server.stop(None)
        shutil.rmtree(directory, ignore_errors=True)


class _FakeContext:
    def is_active(self):
        return True

    def invocation_metadata(self):
        return ()

    def abort(self, code, details):
        raise AssertionError(f"aborted: {code} {details}")


def test_pollers_carry_errbots_arguments():
    """start_poller / stop_poller as Errbot has them, and Poll calling the method back with the
    same arguments, in-process."""
    import plugin as m

    fake = _FakeBotService()

    class Client:  # BotClient's poller calls, straight into the fake
        def start_poller(self, interval, method, times=0, args_json=""):
            request = bot_pb2.StartPollerRequest(
                method=method, interval_secs=interval, times=times, args_json=args_json)
            return fake.StartPoller(request, _FakeContext()).already_running

        def stop_poller(self, method, args_json=""):
            request = bot_pb2.StopPollerRequest(method=method, args_json=args_json)
            return fake.StopPoller(request, _FakeContext()).stopped

    class Sample(m.BotPlugin):
        name = "sample"

        def __init__(self, bot):
            super().__init__(bot)
            self.seen = []

        def check(self, room, loud=False):
            self.seen.append((room, loud))
            if room == "#broken":
                raise ValueError("no such room")

    sample = Sample(Client())
    assert sample.start_poller(1.5, sample.check, times=3, args=["#ops"], kwargs={"loud": True}) is False
    assert sample.start_poller(1.5, sample.check, times=3, args=["#ops"], kwargs={"loud": True}) is True
    request = fake.calls[0][1]
    assert (request.method, request.interval_secs, request.times) == ("check", 1.5, 3)
    assert json.loads(request.args_json) == {"args": ["#ops"], "kwargs": {"loud": True}}

    servicer = m.PluginServicer(sample)
    servicer.Poll(plugin_pb2.PollRequest(method="check", args_json=request.args_json, tick=1),
                  _FakeContext())
    assert sample.seen == [("#ops", True)]
    with pytest.raises(AssertionError, match="StatusCode.INTERNAL check failed: ValueError"):
        servicer.Poll(plugin_pb2.PollRequest(
            method="check", args_json='{"args": ["#broken"], "kwargs": {}}', tick=2), _FakeContext())

    assert sample.stop_poller(sample.check, args=["#ops"], kwargs={"loud": True}) is True
    assert sample.stop_poller(sample.check, args=["#ops"], kwargs={"loud": True}) is False


def test_decorators_build_the_protocol_description():
    """The decorators' less common options, in-process (python-hello itself does not use them)."""
    import plugin as m

    class Sample(m.BotPlugin):
        """Sample."""

        name = "sample"

        @m.botcmd(split_args_with="", hidden=True, admin_only=True, historize=False)
        def words(self, msg, args):
            """Count words."""
            return f"{len(args)} words: {args}"

        @m.arg_botcmd("text", multiple=True, help="words")
        @m.arg_botcmd("--times", "-t", type=int, default=1)
        @m.arg_botcmd("--loud", action="store_true")
        @m.arg_botcmd("--ratio", type=float, choices=[0.5, 1.5], required=True)
        def say(self, msg, text, times, ratio, loud=False):
            """Say something."""
            line = " ".join(text) * times
            yield (line.upper() if loud else line) + f" x{ratio}"

    servicer = m.PluginServicer(Sample(bot=None))
    d = servicer.Describe(plugin_pb2.DescribeRequest(), _FakeContext())
    words, say = d.commands
    assert (words.hidden, words.admin_only, words.historize) == (True, True, False)
    assert words.plain.arg_mode == plugin_pb2.ARG_MODE_SPLIT and words.plain.separator == ""
    assert [(p.name, p.kind, p.type, p.required, p.long, p.short, p.default_value, p.multiple)
            for p in say.plain.params] == [
        ("text", plugin_pb2.PARAM_KIND_POSITIONAL, plugin_pb2.PARAM_TYPE_STRING, True, "", "", "", True),
        ("times", plugin_pb2.PARAM_KIND_OPTION, plugin_pb2.PARAM_TYPE_INTEGER, False, "", "t", "1", False),
        ("loud", plugin_pb2.PARAM_KIND_FLAG, plugin_pb2.PARAM_TYPE_BOOLEAN, False, "", "", "", False),
        ("ratio", plugin_pb2.PARAM_KIND_OPTION, plugin_pb2.PARAM_TYPE_FLOAT, True, "", "", "", False),
    ]
    assert list(say.plain.params[3].choices) == ["0.5", "1.5"]

    def run(request):
        return [r.content.markdown for r in servicer.Execute(request, _FakeContext())]

    assert run(plugin_pb2.ExecuteRequest(command="words", args="a b", argv=["a", "b"])) == [
        "2 words: ['a', 'b']"
    ]
    request = plugin_pb2.ExecuteRequest(command="say")
    for name, values in {"text": ["hi", "there"], "times": ["2"], "loud": ["true"], "ratio": ["0.5"]}.items():
        request.params[name].values.extend(values)
    assert run(request) == ["HI THEREHI THERE x0.5"]


def test_callbacks_and_templates_in_process():
    """Errbot's callback methods (declared by defining them, called with their arguments, an
    exception failing the call only) and template replies, in-process."""
    import plugin as m

    class Sample(m.BotPlugin):
        name = "sample"

        def __init__(self):
            super().__init__(bot=None)
            self.seen = []

        def callback_connect(self):
            self.seen.append("connect")

        def callback_mention(self, msg, people):
            self.seen.append((msg.body, [p.person for p in people]))

        def callback_presence(self, presence):
            self.seen.append((presence.who.person, presence.status))

        def callback_room_topic(self, room):
            if not room.topic:
                raise ValueError("no topic")
            self.seen.append((room.room.room, room.topic))

        @m.botcmd(template="report")
        def report(self, msg, args):
            yield {"n": 1}  # the declared template's parameters
            yield m.common_pb2.Template(name="other", params_json="{}")  # another template
            yield "plain"

    sample = Sample()
    servicer = m.PluginServicer(sample)
    d = servicer.Describe(plugin_pb2.DescribeRequest(), _FakeContext())
    assert list(d.callbacks) == [plugin_pb2.CALLBACK_CONNECT, plugin_pb2.CALLBACK_MENTION,
                                 plugin_pb2.CALLBACK_PRESENCE, plugin_pb2.CALLBACK_ROOM_TOPIC]
    assert d.commands[0].template == "report"

    def event(**fields):
        return servicer.Event(plugin_pb2.EventRequest(**fields), _FakeContext())

    event(callback=plugin_pb2.CALLBACK_CONNECT, bot=common_pb2.Identifier(person="@errbot"))
    mention = message("hi @ana")
    mention.mentions.add(person="@ana")
    event(callback=plugin_pb2.CALLBACK_MENTION, message=mention)
    event(callback=plugin_pb2.CALLBACK_PRESENCE, presence=common_pb2.PresenceEvent(
        who=common_pb2.Identifier(person="@ana"), status="away"))
    event(callback=plugin_pb2.CALLBACK_ROOM_TOPIC, room=common_pb2.RoomEvent(
        kind=common_pb2.RoomEvent.KIND_TOPIC, room=common_pb2.Identifier(room="#dev"),
        topic="release"))
    assert sample.seen == ["connect", ("hi @ana", ["@ana"]), ("@ana", "away"), ("#dev", "release")]
    with pytest.raises(AssertionError, match="StatusCode.INTERNAL callback_room_topic failed: "
                                             "ValueError: no topic"):
        event(callback=plugin_pb2.CALLBACK_ROOM_TOPIC, room=common_pb2.RoomEvent())
    with pytest.raises(AssertionError, match="StatusCode.NOT_FOUND sample did not declare the "
                                             "callback CALLBACK_MESSAGE"):
        event(callback=plugin_pb2.CALLBACK_MESSAGE, message=message("hi"))

    replies = list(servicer.Execute(plugin_pb2.ExecuteRequest(command="report"), _FakeContext()))
    assert [r.content.WhichOneof("kind") for r in replies] == ["template", "template", "markdown"]
    assert (replies[0].content.template.name, replies[0].content.template.params_json) == (
        "", '{"n": 1}')
    assert replies[1].content.template.name == "other"
    assert replies[2].content.markdown == "plain"


class _FakeStorage(storage_pb2_grpc.StorageServiceServicer):
    """errbotd's StorageService in memory, with versions and compare-and-set, recording the token
    of every call. `interfere` makes another writer change a key right before the next
    conditional Set on it (a lost race the client must retry)."""

    def __init__(self):
        self.values = {}  # key -> (json text, version)
        self.version = 0
        self.tokens = set()
        self.interfere = set()
        self.conflicts = 0

    def _bump(self, key, text):
        self.version += 1
        self.values[key] = (text, self.version)
        return self.version

    def Get(self, request, context):
        self.tokens.add(dict(context.invocation_metadata()).get("x-errbot-token"))
        if request.key not in self.values:
            return storage_pb2.StorageGetResponse()
        text, version = self.values[request.key]
        return storage_pb2.StorageGetResponse(found=True, value_json=text, version=version)

    def Set(self, request, context):
        self.tokens.add(dict(context.invocation_metadata()).get("x-errbot-token"))
        if request.HasField("if_version"):
            if request.key in self.interfere:
                self.interfere.discard(request.key)
                self._bump(request.key, "100")
            current = self.values.get(request.key, ("", 0))
            if current[1] != request.if_version:
                self.conflicts += 1
                return storage_pb2.StorageSetResponse(
                    written=False, version=current[1], current_json=current[0])
        return storage_pb2.StorageSetResponse(written=True, version=self._bump(request.key, request.value_json))

    def Delete(self, request, context):
        return storage_pb2.StorageDeleteResponse(deleted=self.values.pop(request.key, None) is not None)

    def Keys(self, request, context):
        return storage_pb2.StorageKeysResponse(keys=sorted(k for k in self.values if k.startswith(request.prefix)))


def test_storage_commands_use_storage_service_with_the_token():
    p = Plugin()
    fake = _FakeStorage()
    server = grpc.server(futures.ThreadPoolExecutor(4))
    storage_pb2_grpc.add_StorageServiceServicer_to_server(fake, server)
    server.add_insecure_port(f"unix:{p.dir}/bot.sock")
    server.start()
    try:
        p.wait_serving()
        assert p.execute("pyrecall", "colour") == [("I know nothing about colour.", False)]
        assert p.execute("pyremember", "colour  dark blue ") == [("I will remember colour.", False)]
        assert fake.values["colour"][0] == '"dark blue"'  # JSON text
        assert p.execute("pyrecall", "colour") == [("colour: dark blue", False)]
        assert p.execute("pyremember", "colour") == [("Usage: !pyremember <key> <text>", True)]
        assert p.execute("pyvisits") == [("Visit number 1.", False)]
        # Another writer gets in between the read and the write: the update retries on its value.
        fake.interfere.add("visits")
        assert p.execute("pyvisits") == [("Visit number 101.", False)]
        assert fake.conflicts == 1
        assert fake.tokens == {"secret-token"}
    finally:
        server.stop(None)
        p.close()
