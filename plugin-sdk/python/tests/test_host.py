"""Tests of the Errbot compatibility host as errbotd sees it: host.py runs an unmodified Errbot
plugin as a subprocess under the child contract, driven over its Unix socket; errbotd's
BotService and StorageService are played by this test on the contract's bot socket.

Run from the repository root, in a virtualenv with ../requirements.txt and pytest:
    python3 -m pytest plugin-sdk/python
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(SDK))
NOTEBOOK = os.path.join(ROOT, "tests", "errbot-plugins", "notebook")
CHATTY = os.path.join(HERE, "plugins", "chatty")
sys.path.insert(0, SDK)

from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from errbot.botplugin import PICKLED  # noqa: E402
from errbot.v1 import bot_pb2, bot_pb2_grpc, common_pb2, plugin_pb2, plugin_pb2_grpc  # noqa: E402
from errbot.v1 import storage_pb2, storage_pb2_grpc  # noqa: E402

TOKEN = "secret-token"


def message(body, person="ana", room="", mentions=()):
    """A message as the test gateway builds one: from @person, in #room or to the bot."""
    sender = common_pb2.Identifier(backend="test", person=f"@{person}", nick=person,
                                   display=f"@{person}")
    if room:
        sender.room, sender.display = room, f"{room}/{person}"
        to = common_pb2.Identifier(backend="test", room=room, display=room)
    else:
        to = common_pb2.Identifier(backend="test", person="@errbot", nick="errbot",
                                   display="@errbot")
    return common_pb2.Message(id="m1", body=body, direct=not room, to=to, mentions=mentions,
                              **{"from": sender})


class FakeErrbotd(bot_pb2_grpc.BotServiceServicer, storage_pb2_grpc.StorageServiceServicer):
    """errbotd's side of the contract: BotService and StorageService, recording what the plugin
    asked for, checking its token on every call."""

    def __init__(self):
        self.store, self.sent, self.calls, self.files = {}, [], [], []
        self.lock = threading.Lock()

    def _check(self, name, request, context):
        if dict(context.invocation_metadata()).get("x-errbot-token") != TOKEN:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
        with self.lock:
            self.calls.append((name, request))

    def Send(self, request, context):
        self._check("Send", request, context)
        with self.lock:
            self.sent.append(request)
        return bot_pb2.BotSendResponse(message_id=f"sent-{len(self.sent)}")

    def SendFile(self, request_iterator, context):
        chunks = list(request_iterator)
        self._check("SendFile", chunks[0].header, context)
        with self.lock:
            self.files.append((chunks[0].header, b"".join(c.data for c in chunks[1:])))
        return bot_pb2.BotSendResponse(message_id="file-1")

    def WarnAdmins(self, request, context):
        self._check("WarnAdmins", request, context)
        return bot_pb2.WarnAdminsResponse()

    def BuildIdentifier(self, request, context):
        self._check("BuildIdentifier", request, context)
        text = request.text
        if text.startswith("#"):
            return common_pb2.Identifier(backend="test", room=text, display=text)
        return common_pb2.Identifier(backend="test", person=text, nick=text.lstrip("@"),
                                     display=text)

    def StartPoller(self, request, context):
        self._check("StartPoller", request, context)
        return bot_pb2.StartPollerResponse()

    def StopPoller(self, request, context):
        self._check("StopPoller", request, context)
        return bot_pb2.StopPollerResponse(stopped=True)

    def Get(self, request, context):
        self._check("Get", request, context)
        with self.lock:
            value = self.store.get(request.key)
        if value is None:
            return storage_pb2.StorageGetResponse()
        return storage_pb2.StorageGetResponse(found=True, value_json=value, version=1)

    def Set(self, request, context):
        self._check("Set", request, context)
        json.loads(request.value_json)  # errbotd stores JSON only
        with self.lock:
            self.store[request.key] = request.value_json
        return storage_pb2.StorageSetResponse(written=True, version=1)

    def Delete(self, request, context):
        self._check("Delete", request, context)
        with self.lock:
            return storage_pb2.StorageDeleteResponse(
                deleted=self.store.pop(request.key, None) is not None)

    def Keys(self, request, context):
        self._check("Keys", request, context)
        with self.lock:
            return storage_pb2.StorageKeysResponse(
                keys=sorted(k for k in self.store if k.startswith(request.prefix)))


class Host:
    """host.py serving one Errbot plugin directory, with a FakeErrbotd on its bot socket."""

    def __init__(self, plugin_dir, name):
        self.dir = tempfile.mkdtemp(prefix="errbot-host-", dir="/tmp")
        self.errbotd = FakeErrbotd()
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        bot_pb2_grpc.add_BotServiceServicer_to_server(self.errbotd, self.server)
        storage_pb2_grpc.add_StorageServiceServicer_to_server(self.errbotd, self.server)
        self.server.add_insecure_port(f"unix:{self.dir}/bot.sock")
        self.server.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ERRBOT_")}
        env.update(ERRBOT_SOCKET=f"unix:{self.dir}/plugin.sock",
                   ERRBOT_BOT_SOCKET=f"unix:{self.dir}/bot.sock", ERRBOT_TOKEN=TOKEN,
                   ERRBOT_NAME=name, ERRBOT_PROTOCOL_VERSIONS="errbot.v1",
                   ERRBOT_CHILD_KIND="plugin")
        self.stderr_path = os.path.join(self.dir, "stderr")
        with open(self.stderr_path, "wb") as err:
            # As errbotd starts it: the plugin's directory as working directory.
            self.process = subprocess.Popen(
                [sys.executable, os.path.join(SDK, "host.py"), plugin_dir], cwd=plugin_dir,
                env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True)
        self.channel = grpc.insecure_channel(f"unix:{self.dir}/plugin.sock")
        self.stub = plugin_pb2_grpc.PluginServiceStub(self.channel)
        self.wait_serving()

    def wait_serving(self, timeout=20.0):
        health = health_pb2_grpc.HealthStub(self.channel)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"host exited early:\n{self.stderr()}"
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                        health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"no SERVING within {timeout} s:\n{self.stderr()}")

    def describe(self):
        return self.stub.Describe(plugin_pb2.DescribeRequest(protocol_versions=["errbot.v1"]))

    def activate(self, config=None):
        self.stub.Activate(plugin_pb2.ActivateRequest(
            config_json="" if config is None else json.dumps(config), bot_prefix="!"))

    def replies(self, command, args="", body=None, room="", person="ana", matches=()):
        """Runs a command; returns its Reply messages."""
        body = body if body is not None else f"!{command.replace('_', ' ')} {args}".strip()
        request = plugin_pb2.ExecuteRequest(
            command=command, args=args, argv=args.split(), invocation_id="t",
            message=message(body, person, room),
            matches=[plugin_pb2.RegexMatch(text=m) for m in matches])
        return list(self.stub.Execute(request, timeout=10))

    def say(self, command, args="", **kwargs):
        """Runs a command; returns the Markdown of its replies (errors as "ERROR: text")."""
        return [("ERROR: " if r.error else "") + r.content.markdown
                for r in self.replies(command, args, **kwargs)]

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self):
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.server.stop(0)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def notebook():
    host = Host(NOTEBOOK, "Notebook")
    host.activate({"GREETING": "Hi", "MAX_NOTES": 2})
    yield host
    host.close()


def test_describe_comes_from_the_plug_and_the_decorators(notebook):
    d = notebook.describe()
    assert d.name == "Notebook"
    assert d.description.startswith("Notes, greetings and dice: an Errbot plugin")
    assert json.loads(d.config_template_json) == {"GREETING": "Hello", "MAX_NOTES": 3}
    specs = {c.name: c for c in d.commands}
    # The method name, or `name=`; plain commands are raw: the host splits and parses.
    assert {"greet", "note_add", "note_list", "note_clear", "split", "roll", "shout", "remember",
            "recall", "additions", "about_me"} <= set(specs)
    assert all(specs[n].plain.arg_mode == plugin_pb2.ARG_MODE_RAW for n in ("note_add", "roll"))
    assert specs["greet"].help == "Greet someone: !greet [name]"
    assert specs["note_list"].template == "notes"
    assert specs["note_clear"].admin_only and specs["about_me"].hidden
    # Errbot's syntax: argparse's usage, arguments in the order the decorators ran (bottom-up).
    assert specs["roll"].syntax == "[-h] [--total] [--count COUNT] sides"
    assert specs["roll"].help.startswith("Roll dice")
    remember = specs["remember"].regex
    assert remember.pattern == r"^remember (?P<key>\w+) is (.+)$"
    assert remember.case_insensitive and remember.prefixed and not remember.match_all
    assert not specs["recall"].regex.prefixed
    assert specs["additions"].regex.match_all and not specs["additions"].regex.prefixed
    assert list(d.callbacks) == []  # it overrides no callback_*


def test_check_config_runs_the_plugins_own_check(notebook):
    def check(config):
        return notebook.stub.CheckConfig(plugin_pb2.ConfigRequest(config_json=json.dumps(config))).error

    assert check({"GREETING": "Yo", "MAX_NOTES": 5}) == ""
    assert check({"GREETING": "Yo", "MAX_NOTES": 0}) == "MAX_NOTES must be at least 1"
    assert "doesn't contain the key MAX_NOTES" in check({"GREETING": "Yo"})


def test_plain_commands_config_and_storage(notebook):
    assert notebook.say("greet") == ["Hi, ana!"]
    assert notebook.say("greet", "Bob") == ["Hi, Bob!"]
    assert notebook.say("note_add") == ["ERROR: What should I write down?"]
    assert notebook.say("note_add", "buy  milk") == ["Noted (1)."]
    assert notebook.say("note_add", "call mum") == ["Noted (2)."]
    assert notebook.say("note_add", "one more") == ["ERROR: The notebook is full (2 notes)."]
    # Stored as JSON in errbotd's storage, as Errbot's mutable() left it.
    assert json.loads(notebook.errbotd.store["notes"]) == ["buy milk", "call mum"]
    # A template command: the dict it returns is the parameters errbotd renders the template with.
    [reply] = notebook.replies("note_list", room="#ops")
    assert reply.content.template.name == ""
    assert json.loads(reply.content.template.params_json) == {
        "notes": ["buy milk", "call mum"], "who": "#ops/ana"}
    assert notebook.say("note_clear") == ["Notebook cleared."]
    assert "notes" not in notebook.errbotd.store
    assert notebook.say("about_me") == ["Notebook activated 1 time(s), prefix !"]


def test_split_args_with_follows_str_split(notebook):
    assert notebook.say("split", "a, b,,c") == ["'a' | ' b' | '' | 'c'"]


def test_arg_botcmd_parses_with_argparse(notebook):
    assert notebook.say("roll", "6 --count 3") == ["die shows 1", "die shows 2", "die shows 3"]
    assert notebook.say("roll", "2 -c 3 --total") == ["total 4"]
    assert notebook.say("roll", "six") == [
        "I couldn't parse the arguments; argument sides: invalid int value: 'six'",
        "usage: roll [-h] [--total] [--count COUNT] sides\n"]
    [usage] = notebook.say("roll", "-h")
    assert usage.startswith("usage: roll [-h]") and "how many dice" in usage
    # Smart dashes and quotes from chat clients are undone; unpack_args=False gets the Namespace.
    assert notebook.say("shout", "\u201cana maria\u201d bob") == ["ANA MARIA BOB!"]
    assert notebook.say("shout", "'open") == [
        "I couldn't parse this command; No closing quotation",
        notebook.say("shout", "-h")[0]]


def test_regex_commands_get_pythons_match(notebook):
    assert notebook.say("remember", body="!Remember Colour is deep blue") == [
        "I will remember colour."]
    assert json.loads(notebook.errbotd.store["fact:colour"]) == {"value": "deep blue",
                                                                "by": "@ana"}
    # botmatch / prefixed=False: the whole message; None says nothing.
    assert notebook.say("recall", body="so what is colour?", room="#ops") == [
        "colour is deep blue (said @ana)"]
    assert notebook.say("recall", body="what is nothing") == []
    # matchall: every match, as a list of re.Match.
    assert notebook.say("additions", body="1+2 and 30 + 4") == ["1+2=3, 30+4=34"]


def test_message_and_identifiers(notebook):
    assert notebook.say("whereami") == ["direct, from @ana (ana)"]
    assert notebook.say("whereami", room="#ops", person="bob") == [
        "room #ops, from bob, group=True"]


def test_values_json_cannot_hold_round_trip_pickled(notebook):
    assert notebook.say("stash") == ["tuple [1, 2]"]
    stored = json.loads(notebook.errbotd.store["stash"])
    assert list(stored) == [PICKLED]
    assert "stash" in notebook.say("stored")[0]


def test_send_and_build_identifier(notebook):
    assert notebook.say("tell", "#ops hello there") == ["told #ops"]
    sent = notebook.errbotd.sent[-1]
    assert sent.to.room == "#ops" and sent.content.markdown == "hello there"


def test_an_exception_fails_the_call_and_the_host_lives_on(notebook):
    with pytest.raises(grpc.RpcError) as failure:
        notebook.say("crash")
    assert failure.value.code() == grpc.StatusCode.INTERNAL
    assert failure.value.details() == "the notebook fell off the table"  # Errbot's str(e)
    assert "the notebook fell off the table" in notebook.stderr()
    assert notebook.say("greet") == ["Hi, ana!"]


def test_unknown_command_is_not_found(notebook):
    with pytest.raises(grpc.RpcError) as failure:
        notebook.say("nosuch")
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_session_runs_commands_and_ends_each_with_its_status(notebook):
    """PluginService.Session, as errbotd drives it: numbered commands, their replies in order,
    each ended; a failure and an unknown command end with Execute's status; errbotd closing
    its side ends the stream."""
    assert notebook.describe().serves_session

    def execute(call, command, args=""):
        return plugin_pb2.PluginSessionFrame(call=call, execute=plugin_pb2.ExecuteRequest(
            command=command, args=args, invocation_id=str(call),
            message=message(f"!{command} {args}")))

    frames = [execute(1, "greet"), execute(2, "crash"), execute(3, "nosuch"),
              execute(4, "split", "a,b")]
    events = list(notebook.stub.Session(iter(frames), timeout=10))
    by_call = {}
    for event in events:
        by_call.setdefault(event.call, []).append(event)
    assert [e.reply.content.markdown for e in by_call[1][:-1]] == ["Hi, ana!"]
    ends = {call: evs[-1].end for call, evs in by_call.items()}
    assert all(evs[-1].HasField("end") for evs in by_call.values())
    assert ends[1].code == 0
    assert ends[2].code == grpc.StatusCode.INTERNAL.value[0]
    assert ends[2].message == "the notebook fell off the table"
    assert ends[3].code == grpc.StatusCode.NOT_FOUND.value[0]
    assert [e.reply.content.markdown for e in by_call[4][:-1]] == ["'a' | 'b'"]
    assert ends[4].code == 0
    assert notebook.say("greet") == ["Hi, ana!"]  # Execute still serves


def test_a_cancelled_session_command_is_dropped_and_the_others_go_on(notebook):
    frames = queue.Queue()

    def requests():
        while (frame := frames.get()) is not None:
            yield frame

    def execute(call, command, args=""):
        return plugin_pb2.PluginSessionFrame(call=call, execute=plugin_pb2.ExecuteRequest(
            command=command, args=args, invocation_id=str(call),
            message=message(f"!{command} {args}")))

    events = notebook.stub.Session(requests(), timeout=20)
    frames.put(execute(1, "countdown", "4"))
    first = next(events)
    assert (first.call, first.reply.content.markdown) == (1, "4")
    frames.put(plugin_pb2.PluginSessionFrame(call=1, cancel=plugin_pb2.CancelCall()))
    frames.put(execute(2, "greet"))
    seen = []
    for event in events:
        seen.append(event)
        if event.call == 2 and event.HasField("end"):
            break
    frames.put(None)  # errbotd closes its side: the stream ends
    seen.extend(events)
    assert [e.reply.content.markdown for e in seen if e.call == 2 and e.HasField("reply")] == [
        "Hi, ana!"]
    countdown = [e for e in seen if e.call == 1]
    assert not any(e.HasField("end") for e in countdown), countdown
    assert "liftoff" not in [e.reply.content.markdown for e in countdown]


def test_unconfigured_activation_gets_the_template_defaults():
    host = Host(NOTEBOOK, "Notebook")
    try:
        host.activate(None)  # Errbot calls configure(None): the plugin fills in its defaults
        assert host.say("greet") == ["Hello, ana!"]
    finally:
        host.close()


def test_callbacks_pollers_and_threads():
    host = Host(CHATTY, "Chatty")
    try:
        d = host.describe()
        assert list(d.depends_on) == ["Notebook"]
        assert set(d.callbacks) == {plugin_pb2.CALLBACK_MESSAGE, plugin_pb2.CALLBACK_MENTION,
                                    plugin_pb2.CALLBACK_PRESENCE, plugin_pb2.CALLBACK_ROOM_JOINED}
        host.activate()
        [(_, start)] = [c for c in host.errbotd.calls if c[0] == "StartPoller"]
        assert (start.method, start.interval_secs) == ("tick", 30)
        assert json.loads(start.args_json) == {"args": ["#ops"], "kwargs": {}}
        # errbotd calls the poller back with its arguments.
        host.stub.Poll(plugin_pb2.PollRequest(method="tick", args_json=start.args_json, tick=1))
        assert host.errbotd.sent[-1].to.room == "#ops"
        assert host.errbotd.sent[-1].content.markdown == "tick 1"
        host.stub.Event(plugin_pb2.EventRequest(callback=plugin_pb2.CALLBACK_MESSAGE,
                                                message=message("hello all", room="#ops")))
        bob = common_pb2.Identifier(backend="test", person="@bob", display="@bob")
        host.stub.Event(plugin_pb2.EventRequest(
            callback=plugin_pb2.CALLBACK_MENTION,
            message=message("hi @bob", room="#ops", mentions=[bob])))
        host.stub.Event(plugin_pb2.EventRequest(
            callback=plugin_pb2.CALLBACK_PRESENCE,
            presence=common_pb2.PresenceEvent(who=bob, status="away")))
        ops = common_pb2.Identifier(backend="test", room="#ops", display="#ops")
        host.stub.Event(plugin_pb2.EventRequest(
            callback=plugin_pb2.CALLBACK_ROOM_JOINED,
            room=common_pb2.RoomEvent(kind=common_pb2.RoomEvent.KIND_JOINED, room=ops)))
        assert host.say("seen_list") == [
            "hello all; mention @bob; presence @bob away; joined #ops"]
        # A plugin's own thread sends, as DailyMessage's timer does.
        assert host.say("later", "tea") == ["will do"]
        deadline = time.monotonic() + 5
        while host.errbotd.sent[-1].content.markdown != "later: tea":
            assert time.monotonic() < deadline, host.stderr()
            time.sleep(0.02)
        assert host.errbotd.sent[-1].to.person == "@ana"
        assert host.say("admins", "disk full") == ["warned"]
        assert host.errbotd.calls[-1][1].text == "disk full"
        # send_stream_request: the file streamed in chunks to SendFile, header first.
        assert host.say("report") == ["uploaded"]
        [(header, data)] = host.errbotd.files
        assert (header.to.person, header.name, header.size, header.content_type) == (
            "@ana", "report.txt", 150000, "text/plain")
        assert data == b"line\n" * 30000
        # Poller arguments JSON cannot hold (the sender) are pickled, and come back.
        assert host.say("remind", "stretch") == ["ok"]
        [*_, (_, remind)] = [c for c in host.errbotd.calls if c[0] == "StartPoller"]
        assert remind.method == "remind_tick" and remind.times == 1
        assert list(json.loads(remind.args_json)) == [PICKLED]
        host.stub.Poll(plugin_pb2.PollRequest(method="remind_tick", args_json=remind.args_json,
                                              tick=1))
        assert (host.errbotd.sent[-1].to.person,
                host.errbotd.sent[-1].content.markdown) == ("@ana", "reminder: stretch")
        # sys.exit() in a command fails that command only.
        with pytest.raises(grpc.RpcError) as failure:
            host.say("quit")
        assert (failure.value.code(), failure.value.details()) == (grpc.StatusCode.INTERNAL, "3")
        assert host.say("admins", "still here") == ["warned"]
        # errbotd stops the pollers of a deactivated plugin itself: the plugin's stop_poller in
        # deactivate() must not stop the ones a reloaded process started again.
        host.stub.Deactivate(plugin_pb2.DeactivateRequest())
        assert not [c for c in host.errbotd.calls if c[0] == "StopPoller"]
    finally:
        host.close()


def test_sigterm_exits_cleanly():
    host = Host(NOTEBOOK, "Notebook")
    host.process.send_signal(signal.SIGTERM)
    assert host.process.wait(timeout=10) == 0, host.stderr()
    host.close()


def test_a_directory_without_a_plug_exits_1():
    process = subprocess.run([sys.executable, os.path.join(SDK, "host.py"), HERE],
                             env={**os.environ, "ERRBOT_SOCKET": "unix:/tmp/x.sock",
                                  "ERRBOT_BOT_SOCKET": "unix:/tmp/y.sock", "ERRBOT_TOKEN": "t",
                                  "ERRBOT_NAME": "x"},
                             capture_output=True, text=True, timeout=30)
    assert process.returncode == 1
    assert "expected one .plug file, found 0" in process.stderr
