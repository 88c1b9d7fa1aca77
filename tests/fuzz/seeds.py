#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the repository's own tests.

Every string literal of the unit tests of the code a target exercises becomes a seed (for a
structured target, after HEADER zero bytes: every choice at its default), and whole files are
added where a target reads files (errbot.toml, backend tables as JSON). Usage:
    seeds.py OUT_DIR        (writes OUT_DIR/<target>/<n>)
"""

import json
import os
import re
import sys
import tomllib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEADER = 16  # src/lib.rs HEADER

SUP = "supervisor/src"
GW = "backend-gateway/src/adapters"
# target: (structured, source files or directories whose literals seed it)
TARGETS = {
    "dispatch": (True, [f"{SUP}/dispatch/mod.rs", f"{SUP}/dispatch/history.rs"]),
    "args": (True, [f"{SUP}/dispatch/args.rs"]),
    "config": (False, [f"{SUP}/config.rs", f"{SUP}/acl/tests.rs", f"{SUP}/reload.rs",
                       f"{SUP}/storage/settings.rs", f"{SUP}/plugin_config.rs"]),
    "acl": (True, [f"{SUP}/acl", f"{SUP}/glob.rs"]),
    "reply_split": (True, [f"{SUP}/split.rs"]),
    "storage": (False, [f"{SUP}/storage"]),
    "webhook": (True, [f"{SUP}/web"]),
    "irc": (True, [f"{GW}/irc"]),
    "console": (True, [f"{GW}/console"]),
    "slack": (True, [f"{GW}/slack"]),
    "mattermost": (True, [f"{GW}/mattermost"]),
    "backend_settings": (False, []),
    "slack_events": (True, []),
    "mattermost_events": (True, []),
}

# Events as the services send them (the first byte of the header picks how the text is wrapped:
# 0 as it is, 1 and 2 as the event of an envelope, or the post of a `posted` event).
SLACK_EVENTS = [
    {"type": "message", "channel": "C1", "user": "U1", "text": "<@U0BOT> help", "ts": "1700000000.000100", "channel_type": "channel"},
    {"type": "message", "channel": "D1", "user": "U1", "text": "!echo hi &amp; <#C1|general> <https://x.org|x>", "ts": "1700000000.000200", "channel_type": "im"},
    {"type": "app_mention", "channel": "C1", "user": "U1", "text": "<@U0BOT>: status", "ts": "1.5", "thread_ts": "1.4"},
    {"type": "message", "subtype": "message_changed", "channel": "C1", "message": {"user": "U1", "text": "!x", "ts": "1.1"}},
    {"type": "message", "subtype": "bot_message", "channel": "C2", "bot_id": "B9", "username": "other", "text": "!echo", "ts": "2.0"},
    {"type": "message", "subtype": "channel_topic", "channel": "C1", "topic": "new topic", "ts": "3.0"},
    {"type": "reaction_added", "user": "U1", "reaction": "thumbsup", "item": {"type": "message", "channel": "C1", "ts": "1.0"}},
    {"type": "member_joined_channel", "user": "U0BOT", "channel": "C1"},
]
MATTERMOST_POSTS = [
    {"id": "p1", "channel_id": "c1", "user_id": "u1", "message": "@bot help", "create_at": 1700000000000},
    {"id": "p2", "channel_id": "d1", "user_id": "u1", "message": "!echo hi", "root_id": "p1"},
    {"id": "p3", "channel_id": "c2", "user_id": "u2", "message": "!x", "type": "system_join_channel"},
]
MATTERMOST_EVENTS = [
    {"event": "reaction_added", "data": {"reaction": json.dumps({"user_id": "u1", "post_id": "p1", "emoji_name": "+1"})}},
    {"event": "user_added", "data": {"user_id": "bot0"}, "broadcast": {"channel_id": "c1"}},
    {"event": "status_change", "data": {"user_id": "u1", "status": "away"}},
    {"event": "post_edited", "data": {"post": json.dumps(MATTERMOST_POSTS[0])}},
    {"event": "hello", "data": {"connection_id": "x"}, "seq": 0},
]

LITERAL = re.compile(r'r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.S)
ESCAPE = re.compile(r'\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|\n\s*|.)', re.S)


def unescape(body):
    def one(m):
        e = m.group(1)
        if e.startswith("u{"):
            return chr(int(e[2:-1], 16))
        if e.startswith("x"):
            return chr(int(e[1:], 16))
        if e.startswith("\n"):
            return ""
        return {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}.get(e, e)
    return ESCAPE.sub(one, body)


def sources(paths):
    for p in paths:
        full = os.path.join(ROOT, p)
        if os.path.isdir(full):
            for name in sorted(os.listdir(full)):
                if name.endswith(".rs"):
                    yield os.path.join(full, name)
        elif os.path.exists(full):
            yield full


def test_literals(path):
    text = open(path, encoding="utf-8").read()
    # The tests: after `#[cfg(test)]`, or the whole file for a tests.rs.
    if not path.endswith("tests.rs"):
        i = text.find("#[cfg(test)]")
        if i < 0:
            return []
        text = text[i:]
    out = []
    for m in LITERAL.finditer(text):
        out.append(m.group(2) if m.group(2) is not None else unescape(m.group(3)))
    return out


def toml_files():
    for base, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("target", "fuzz")]
        for f in files:
            if f.endswith(".toml") and f != "Cargo.toml":
                yield os.path.join(base, f)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    seeds = {t: set() for t in TARGETS}
    for target, (_, paths) in TARGETS.items():
        for path in sources(paths):
            seeds[target].update(test_literals(path))
    for path in toml_files():
        text = open(path, encoding="utf-8").read()
        seeds["config"].add(text)
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        for table in doc.get("backends", {}).values():
            if isinstance(table, dict):
                seeds["backend_settings"].add(json.dumps(table))
    for text in list(seeds["config"]):
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        for table in doc.get("backends", {}).values():
            if isinstance(table, dict):
                seeds["backend_settings"].add(json.dumps(table, default=str))
    seeds["backend_settings"].add("{}")
    for e in SLACK_EVENTS:
        text = json.dumps(e)
        seeds["slack_events"].add("\x01" + text)
        seeds["slack_events"].add(json.dumps({"type": "events_api", "envelope_id": "e", "payload": {"event_id": "Ev", "event": e}}))
    for p in MATTERMOST_POSTS:
        seeds["mattermost_events"].add("\x01" + json.dumps(p))
    for e in MATTERMOST_EVENTS:
        seeds["mattermost_events"].add(json.dumps(e))
    total = 0
    for target, texts in seeds.items():
        structured = TARGETS[target][0]
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for n, t in enumerate(sorted(texts)):
            data = t.encode("utf-8", "surrogatepass")
            if structured and t.startswith("\x01"):
                # A first choice of 1 (the wrapped forms of the event targets).
                data = b"\x01" + bytes(HEADER - 1) + data[1:]
            elif structured:
                data = bytes(HEADER) + data
            with open(os.path.join(d, f"seed-{n:04}"), "wb") as f:
                f.write(data)
        total += len(texts)
        print(f"{target}: {len(texts)} seeds")
    print(f"{total} seeds in {out}")


if __name__ == "__main__":
    main()
