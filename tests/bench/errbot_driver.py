#!/usr/bin/env python3
"""Drives Errbot 6.2.1 through its Test backend for errbot-bench (tests/bench/run.sh).

The load is generated inside Errbot's own process, as errbot-rs's test gateway does for
errbot-rs: messages go in with the Test backend's push_message and replies come out with
pop_message. The harness talks to this script with one JSON object per line:

  stdout, once:   {"event": "ready"}       after the first plugin command was answered
  stdin -> stdout: {"cmd": "check"}          -> {"ok": true, "plugins": [...]}
                   {"cmd": "load", "body": "!echo x{n}", "expect": "x{n}", "count": N,
                    "concurrency": C, "timeout_ms": T}
                                             -> {"sent", "correct", "wrong", "duplicated",
                                                 "lost", "elapsed_us", "latencies_us",
                                                 "first_failure"}
                   {"cmd": "storage", "count": N}
                                             -> {"sets_per_s", "gets_per_s",
                                                 "concurrent_sets_per_s"}
                   {"cmd": "webserver", "port": P}
                                             -> {"ok": true} once Errbot's Webserver plugin
                                                is started on 127.0.0.1:P (the harness
                                                then posts to /bench1, the first plugin's
                                                @webhook, itself)
                   {"cmd": "quit"}           -> {"ok": true}, then the process exits
  A request that fails answers {"error": "..."}. Errbot's own logs go to stderr.

Configurations (--config): "default" (Errbot's defaults: BOT_LOG_LEVEL INFO as in its config
template, BOT_ASYNC with a pool of 10 threads), "warning" (logging at WARNING), "sync" (logging
at WARNING and BOT_ASYNC=False: every command runs in the backend's thread, one at a time).
"""

import argparse
import json
import logging
import os
import sys
import threading
import time
from queue import Empty

CONFIGS = {
    "default": {"level": logging.INFO, "extra": {}},
    "warning": {"level": logging.WARNING, "extra": {}},
    "sync": {"level": logging.WARNING, "extra": {"BOT_ASYNC": False}},
}

PLUG = """[Core]
Name = {cls}
Module = {name}

[Documentation]
Description = Benchmark plugin {name}.

[Python]
Version = 3
"""

MODULE = '''from errbot import BotPlugin, botcmd, webhook


class {cls}(BotPlugin):
    """Benchmark plugin {name}: answers its one command."""

    @botcmd
    def {name}(self, msg, args):
        """Answer with the plugin's name and the text."""
        return "{name}: " + args

    @webhook("/{name}")
    def {name}_hook(self, payload):
        """The webhook workload: answer the request's number and the plugin's name."""
        return {{"n": payload.get("n"), "plugin": "{name}"}}
'''


def plugin_name(i):
    return f"bench{i}"


def write_plugins(directory, count):
    """Writes `count` trivial plugins (the same as errbot-rs's bench plugins) into `directory`."""
    os.makedirs(directory, exist_ok=True)
    for i in range(1, count + 1):
        name = plugin_name(i)
        cls = name.capitalize()
        with open(os.path.join(directory, name + ".plug"), "w") as f:
            f.write(PLUG.format(cls=cls, name=name))
        with open(os.path.join(directory, name + ".py"), "w") as f:
            f.write(MODULE.format(cls=cls, name=name))


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def ask(bot, command, text, timeout=5.0):
    """Sends `!command text`, returns whether the plugin answered as expected."""
    want = f"{command}: {text}"
    bot.push_message(f"!{command} {text}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = bot.pop_message(timeout=max(0.01, deadline - time.monotonic()))
        except Empty:
            return False
        if got == want:
            return True
        if f'Command "{command}" not found' in got:
            return False  # Errbot is up but the plugin is not loaded: no use waiting
        print(f"errbot-driver: ignoring {got!r} while waiting for {want!r}", file=sys.stderr)
    return False


def start(config, data, plugins):
    from errbot.backends.test import TestBot  # imports Errbot: part of the start time
    from errbot.bootstrap import setup_bot

    plugin_dir = os.path.join(data, "plugins")
    write_plugins(plugin_dir, plugins)
    extra = {
        "BOT_DATA_DIR": data,
        "BOT_LOG_FILE": os.path.join(data, "errbot.log"),
        # The Test backend uses memory storage; Errbot's default (and the one measured by the
        # storage workload) is the shelf.
        "STORAGE": "Shelf",
    }
    extra.update(CONFIGS[config]["extra"])
    testbot = TestBot(
        extra_plugin_dir=plugin_dir,
        loglevel=CONFIGS[config]["level"],
        extra_config=extra,
    )
    # TestBot.start, with a plugin command as the probe instead of "!echo ready".
    testbot._bot = setup_bot("Test", testbot.logger, testbot.bot_config)
    thread = threading.Thread(target=testbot.bot.serve_forever, name="errbot", daemon=True)
    thread.start()
    if plugins and not ask(testbot.bot, plugin_name(plugins), "ready", timeout=120):
        raise SystemExit(f"errbot-driver: {plugin_name(plugins)} did not answer")
    if not plugins:
        testbot.bot.push_message("!echo ready")
        testbot.bot.pop_message(timeout=120)
    return testbot.bot


def load(bot, body, expect, count, concurrency, timeout_ms):
    """`concurrency` messages in flight at all times from one thread (so that the driver takes
    as little of the GIL as possible); each reply is matched to its message by its text, since
    the Test backend's replies do not say which message they answer."""
    timeout = (timeout_ms or 30000) / 1000.0
    concurrency = max(1, min(concurrency, count))
    pending = {}  # expected text -> (n, time sent); insertion order is age order
    answered = {}  # expected text -> n, for messages answered once
    late = set()  # expected texts of messages given up as lost
    stats = {"sent": 0, "correct": 0, "wrong": 0, "duplicated": 0, "lost": 0}
    latencies = []
    duplicated = set()
    failures = []
    next_n = 0

    def send_next():
        nonlocal next_n
        n = next_n
        next_n += 1
        want = expect.replace("{n}", str(n))
        pending[want] = (n, time.perf_counter())
        stats["sent"] += 1
        bot.push_message(body.replace("{n}", str(n)))

    started = time.perf_counter()
    for _ in range(concurrency):
        send_next()
    while pending:
        try:
            text = bot.pop_message(timeout=0.05)
        except Empty:
            text = None
        now = time.perf_counter()
        if text is not None:
            if text in pending:
                n, sent_at = pending.pop(text)
                answered[text] = n
                latencies.append(int((now - sent_at) * 1e6))
                if next_n < count:
                    send_next()
            elif text in answered:
                duplicated.add(text)
                if not failures:
                    failures.append(f"message {answered[text]} was answered more than once")
            elif text in late:
                pass  # the answer of a message already counted as lost
            else:
                stats["wrong"] += 1
                if not failures:
                    failures.append(f"unexpected reply {text!r}")
        # The oldest message in flight is the first one; give it up after the timeout.
        while pending:
            want, (n, sent_at) = next(iter(pending.items()))
            if now - sent_at < timeout:
                break
            del pending[want]
            late.add(want)
            stats["lost"] += 1
            if not failures:
                failures.append(f"message {n} got no reply within {timeout_ms} ms")
            if next_n < count:
                send_next()
    elapsed = time.perf_counter() - started
    # Duplicates may trail the last answer: collect what comes within a short grace period.
    grace = time.perf_counter() + 0.3
    while time.perf_counter() < grace:
        try:
            text = bot.pop_message(timeout=0.05)
        except Empty:
            continue
        if text in answered:
            duplicated.add(text)
            if not failures:
                failures.append(f"message {answered[text]} was answered more than once")
        elif text not in late:
            stats["wrong"] += 1
    # A message answered twice is not correct; its latency does not count either.
    if duplicated:
        kept = []
        for text, latency in zip(answered, latencies):
            if text not in duplicated:
                kept.append(latency)
        latencies = kept
    stats["duplicated"] = len(duplicated)
    stats["correct"] = len(answered) - len(duplicated)
    stats["elapsed_us"] = int(elapsed * 1e6)
    stats["latencies_us"] = latencies
    stats["first_failure"] = failures[0] if failures else ""
    return stats


WRITERS = 16
"""Concurrent writers of the storage workload's last part."""


def storage(bot, count):
    """A plugin's own persistent storage (`self[key] = value`, `self[key]`), Errbot's shelf."""
    plugin = bot.plugin_manager.get_plugin_obj_by_name(plugin_name(1).capitalize())
    if plugin is None:
        raise RuntimeError("plugin Bench1 is not loaded")
    t0 = time.perf_counter()
    for i in range(count):
        plugin[f"key{i}"] = {"n": i, "text": f"value {i}"}
    t1 = time.perf_counter()
    for i in range(count):
        value = plugin[f"key{i}"]
        if value != {"n": i, "text": f"value {i}"}:
            raise RuntimeError(f"key{i} read back as {value!r}")
    t2 = time.perf_counter()
    # The same number of sets from WRITERS threads at once (distinct keys), as 16 commands
    # storing at the same time would.
    def write(w):
        for i in range(w, count, WRITERS):
            plugin[f"w{i}"] = {"n": i, "text": f"value {i}"}

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    t3 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t4 = time.perf_counter()
    return {
        "sets_per_s": count / (t1 - t0),
        "gets_per_s": count / (t2 - t1),
        "concurrent_sets_per_s": count / (t4 - t3),
    }


def webserver(bot, port):
    """Starts Errbot's Webserver plugin on 127.0.0.1:`port` with the configuration
    `!plugin config Webserver {...}` would give it, checked against its template the same way,
    but kept in memory: stored, it would be written to Errbot's shelf, which this driver's
    os._exit and the restart workload's SIGKILL would leave half-written (Errbot then cannot
    start on that data directory)."""
    plugin = bot.plugin_manager.get_plugin_obj_by_name("Webserver")
    if plugin is None:
        raise RuntimeError("Errbot's Webserver plugin is not loaded")
    config = {"HOST": "127.0.0.1", "PORT": int(port)}
    plugin.check_configuration(config)
    plugin.configure(config)
    plugin.activate()
    return {"ok": True}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="default")
    parser.add_argument("--data", required=True, help="data directory (created)")
    parser.add_argument("--plugins", type=int, default=5)
    args = parser.parse_args()
    os.makedirs(args.data, exist_ok=True)
    bot = start(args.config, os.path.abspath(args.data), args.plugins)
    reply({"event": "ready"})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            cmd = req.get("cmd")
            if cmd == "check":
                ok = [plugin_name(i) for i in range(1, args.plugins + 1)
                      if ask(bot, plugin_name(i), "check")]
                reply({"ok": len(ok) == args.plugins, "plugins": ok})
            elif cmd == "load":
                reply(load(bot, req["body"], req["expect"], int(req["count"]),
                           int(req.get("concurrency", 1)), int(req.get("timeout_ms", 0))))
            elif cmd == "storage":
                reply(storage(bot, int(req["count"])))
            elif cmd == "webserver":
                reply(webserver(bot, req["port"]))
            elif cmd == "quit":
                reply({"ok": True})
                break
            else:
                reply({"error": f"unknown command {cmd!r}"})
        except Exception as e:  # the harness shows the error; the driver keeps serving
            reply({"error": f"{type(e).__name__}: {e}"})
    sys.stdout.flush()
    os._exit(0)  # Errbot's threads (pool, backend) would otherwise keep the process alive


if __name__ == "__main__":
    main()
