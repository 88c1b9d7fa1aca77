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
    "xmpp": (True, [f"{GW}/xmpp"]),
    "telegram": (True, [f"{GW}/telegram"]),
    "backend_settings": (False, []),
    "slack_events": (True, []),
    "mattermost_events": (True, []),
    "xmpp_events": (True, []),
    "telegram_events": (True, []),
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
# Stanzas as an XMPP server sends them (read as they are), and message bodies (first byte 1:
# wrapped in a message).
XMPP_STANZAS = [
    "<message xmlns='jabber:client' from='room@conference.example.org/alice' to='bot@example.org/errbot' type='groupchat' id='a1'><body>!echo hi bot</body></message>",
    "<message xmlns='jabber:client' from='alice@example.org/phone' to='bot@example.org' type='chat' id='a2'><body>!help</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<message xmlns='jabber:client' from='room@conference.example.org' type='groupchat' id='a3'><subject>new topic</subject></message>",
    "<message xmlns='jabber:client' from='room@conference.example.org/alice' type='groupchat' id='a4'><body>!old</body><delay xmlns='urn:xmpp:delay' from='room@conference.example.org' stamp='2020-01-01T00:00:00Z'/></message>",
    "<message xmlns='jabber:client' from='alice@example.org/phone' type='chat' id='a5'><body>!echo fixed</body><replace xmlns='urn:xmpp:message-correct:0' id='a2'/></message>",
    "<message xmlns='jabber:client' from='room@conference.example.org/bob' type='chat' id='a6'><body>!whoami</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>",
    "<message xmlns='jabber:client' from='room@conference.example.org' type='error' id='a7'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
    "<presence xmlns='jabber:client' from='room@conference.example.org/carol'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant' jid='carol@example.org/pc'/></x></presence>",
    "<presence xmlns='jabber:client' from='room@conference.example.org/bot' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/><status code='110'/><status code='307'/></x></presence>",
    "<presence xmlns='jabber:client' from='room@conference.example.org/bot' type='error'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
    "<presence xmlns='jabber:client' from='room@conference.example.org/bot'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/><status code='110'/><status code='201'/></x></presence>",
    "<presence xmlns='jabber:client' from='alice@example.org/phone'><show>away</show><status>lunch</status></presence>",
    "<iq xmlns='jabber:client' from='example.org' to='bot@example.org/errbot' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
    "<iq xmlns='jabber:client' from='alice@example.org/phone' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    "<iq xmlns='jabber:client' from='alice@example.org/phone' type='set' id='s1'><query xmlns='jabber:iq:version'/></iq>",
    "<iq xmlns='jabber:client' from='room@conference.example.org' type='error' id='destroy-room@conference.example.org'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    "\x01!echo <b>&amp; hi",
]
# Telegram updates as getUpdates returns them, and message texts (first byte 2: a message with
# a leading entity).
TELEGRAM_UPDATES = [
    {"update_id": 1, "message": {"message_id": 10, "date": 1700000000, "from": {"id": 5, "is_bot": False, "first_name": "Alice", "username": "alice"}, "chat": {"id": 5, "type": "private", "first_name": "Alice"}, "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}},
    {"update_id": 2, "message": {"message_id": 11, "date": 1700000000, "from": {"id": 5, "first_name": "Alice"}, "chat": {"id": -100200, "type": "supergroup", "title": "g", "is_forum": True}, "is_topic_message": True, "message_thread_id": 7, "text": "/status@ErrBot now", "entities": [{"type": "bot_command", "offset": 0, "length": 14}]}},
    {"update_id": 3, "message": {"message_id": 12, "date": 1700000000, "from": {"id": 5, "first_name": "Alice"}, "chat": {"id": -300, "type": "group", "title": "g"}, "text": "@ErrBot echo \ud83d\ude00 hi", "entities": [{"type": "mention", "offset": 0, "length": 7}]}},
    {"update_id": 4, "edited_message": {"message_id": 10, "date": 1700000000, "edit_date": 1700000001, "from": {"id": 5, "first_name": "Alice"}, "chat": {"id": 5, "type": "private"}, "text": "/help"}},
    {"update_id": 5, "message": {"message_id": 13, "date": 1700000000, "from": {"id": 5, "first_name": "Alice"}, "chat": {"id": -300, "type": "group"}, "migrate_to_chat_id": -100300}},
    {"update_id": 6, "message": {"message_id": 14, "date": 1700000000, "from": {"id": 5, "first_name": "Alice"}, "chat": {"id": 5, "type": "private"}, "caption": "!file", "document": {"file_id": "F1", "file_name": "a.txt", "mime_type": "text/plain", "file_size": 3}}},
    {"update_id": 7, "message_reaction": {"chat": {"id": -100200, "type": "supergroup"}, "message_id": 11, "user": {"id": 5, "first_name": "Alice"}, "date": 1700000000, "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "\ud83d\udc4d"}]}},
    {"update_id": 8, "channel_post": {"message_id": 1, "date": 1700000000, "chat": {"id": -1001, "type": "channel"}, "text": "/help"}},
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
    seeds["xmpp_events"].update(XMPP_STANZAS)
    for u in TELEGRAM_UPDATES:
        seeds["telegram_events"].add(json.dumps(u))
        if "message" in u:
            seeds["telegram_events"].add("\x01" + json.dumps(u["message"]))
            if isinstance(u["message"].get("text"), str):
                seeds["telegram_events"].add("\x02" + u["message"]["text"])
    total = 0
    for target, texts in seeds.items():
        structured = TARGETS[target][0]
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for n, t in enumerate(sorted(texts)):
            data = t.encode("utf-8", "surrogatepass")
            if structured and (t.startswith("\x01") or target.endswith("_events") and t[:1] in "\x02\x03" and t):
                # A first choice of 1, 2 or 3 (the wrapped forms of the event targets).
                data = data[:1] + bytes(HEADER - 1) + data[1:]
            elif structured:
                data = bytes(HEADER) + data
            with open(os.path.join(d, f"seed-{n:04}"), "wb") as f:
                f.write(data)
        total += len(texts)
        print(f"{target}: {len(texts)} seeds")
    print(f"{total} seeds in {out}")


if __name__ == "__main__":
    main()
