"""Errbot 6.2.1 with its own Mattermost backend (err-backend-mattermost from PyPI) and errbot-rs
run the same conversation against the same fake Mattermost: the replies must be the same,
apart from what errbot-rs does better on purpose (listed in DIFFERENCES and asserted).

Errbot's backend 3.0.0 uses `asyncio.coroutine`, which Python 3.11 removed: the harness puts
it back (a `sitecustomize` on Errbot's path) without touching the backend's code."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import FakeMattermost, program, side_by_side, wait_ready

# What errbot-rs does differently on purpose, each asserted below.
DIFFERENCES = {
    "thread": "a command written in a thread is answered in the thread (Errbot answers in the "
    "channel, out of the conversation)",
    "mention": "`@errbot echo ...` is a command (Errbot's Mattermost backend ignores it unless "
    "BOT_ALT_PREFIXES names the bot)",
    "help": "the command lists name errbot-rs's own built-in plugins, with their arguments",
    "status": "`!status` shows every process (pid, uptime, restarts) and errbotd's memory",
    "unknown": "a command with no close match points to `!help` (Errbot says nothing more)",
    "plugin list": "`!plugin list` (the seed's command) lists the plugins; Errbot 6.2.1 has no "
    "such command",
}

SHIM = """
import asyncio, functools
if not hasattr(asyncio, "coroutine"):
    def coroutine(f):
        @functools.wraps(f)
        async def run(*args, **kwargs):
            return f(*args, **kwargs)
        return run
    asyncio.coroutine = coroutine
"""


def start_errbot(fake, tmp: Path):
    import errbot as errbot_package

    site = Path(errbot_package.__file__).resolve().parents[1]
    backend_dir = site / "err-backend-mattermost"
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM)
    (tmp / "data").mkdir()
    (tmp / "config.py").write_text(
        textwrap.dedent(
            f"""
            import logging
            BACKEND = "Mattermost"
            BOT_EXTRA_BACKEND_DIR = {str(backend_dir)!r}
            BOT_DATA_DIR = {str(tmp / "data")!r}
            BOT_EXTRA_PLUGIN_DIR = None
            BOT_LOG_FILE = {str(tmp / "errbot.log")!r}
            BOT_LOG_LEVEL = logging.INFO
            BOT_ADMINS = ("@alice",)
            BOT_PREFIX = "!"
            CHATROOM_PRESENCE = ("town-square",)
            ACCESS_CONTROLS_DEFAULT = {{"allowusers": ("@alice",)}}
            BOT_IDENTITY = {{
                "token": {fake.bot_token!r},
                "team": {fake.team!r},
                "server": {fake.host!r},
                "scheme": "http",
                "port": {fake.port},
                "timeout": 10,
            }}
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=str(shim))
    errbot = Path(sys.executable).parent / "errbot"
    return subprocess.Popen(
        [str(errbot), "-c", str(tmp / "config.py")],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_errbotd(fake, tmp: Path):
    (tmp / "errbot.toml").write_text(
        textwrap.dedent(
            f"""
            [bot]
            prefix = "!"
            admins = ["@alice"]

            [paths]
            data_dir = "data"
            bundled_plugins = false
            plugin_dirs = []

            [access.default]
            allowusers = ["@alice"]

            [backends.mattermost]
            kind = "mattermost"
            url = {fake.url!r}
            team = {fake.team!r}
            token_env = "MATTERMOST_TOKEN"
            rooms = ["~town-square"]
            """
        ).replace("'", '"')
    )
    env = dict(os.environ, MATTERMOST_TOKEN=fake.bot_token)
    return subprocess.Popen(
        [str(program("errbotd")), "-c", str(tmp / "errbot.toml")],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "errbotd.log", "w"),
    )


def texts(posts):
    return [p["message"] for p in posts]


def conversation(fake):
    """The seed's conversation and the usual cases; what the bot posted for each step."""
    town = fake.channel_id("town-square")
    wait_ready(lambda: fake.replies_to("alice", town, "!echo ready", quiet=0.3, timeout=3),
               lambda: len(fake.bot_posts(town)))
    dm = fake.dm_channel("alice")
    steps = {}
    steps["echo"] = fake.replies_to("alice", town, "!echo hello world")
    steps["unknown"] = fake.replies_to("alice", town, "!nosuch")
    steps["not admin"] = fake.replies_to("bob", town, "!echo hi")
    steps["dm"] = fake.replies_to("alice", dm, "!echo privately")
    # Ids depend on each fake's history: places are compared by name.
    steps["places"] = {town: "town-square", dm: "dm"}
    root = fake.post("bob", town, "a question")
    steps["thread"] = fake.replies_to("alice", town, "!echo threaded", root_id=root["id"])
    steps["thread root"] = root["id"]
    steps["help"] = fake.replies_to("alice", town, "!help")
    steps["status"] = fake.replies_to("alice", town, "!status")
    steps["plugin list"] = fake.replies_to("alice", town, "!plugin list")
    steps["mention"] = fake.replies_to("alice", town, "@errbot echo mentioned", timeout=4)
    return steps


@pytest.fixture
def both(tmp_path):
    """The conversation with Errbot, then with errbot-rs, each on a fresh fake."""
    return side_by_side(tmp_path, FakeMattermost,
                        [("errbot", start_errbot), ("errbot-rs", start_errbotd)], conversation)


def test_errbot_and_errbot_rs_give_the_same_replies(both):
    errbot, ours = both["errbot"], both["errbot-rs"]
    report = "\n".join(
        f"{step}:\n  errbot:    {texts(errbot[step])!r}\n  errbot-rs: {texts(ours[step])!r}"
        for step in [
            "echo", "unknown", "not admin", "dm", "thread", "help", "status", "plugin list",
            "mention",
        ]
    )
    print(report)
    # The same texts, in the same place.
    def places(bot, step):
        return [bot["places"].get(p["channel_id"], p["channel_id"]) for p in bot[step]]

    for step in ["echo", "not admin", "dm"]:
        assert texts(errbot[step]) == texts(ours[step]), f"{step}\n{report}"
        assert places(errbot, step) == places(ours, step), f"{step}\n{report}"
    assert places(ours, "dm") == ["dm"], report
    assert texts(ours["echo"]) == ["hello world"]
    assert texts(ours["not admin"]) == [
        "You're not allowed to access this command from this user"
    ]
    # On purpose: the lead after an unknown command.
    assert texts(errbot["unknown"]) == ['Command "nosuch" not found.'], report
    assert texts(ours["unknown"]) == [
        'Command "nosuch" not found.\n\nType "!help" for the list of commands.'
    ], DIFFERENCES["unknown"]
    # Both are alive, and list their commands, in the channel.
    for bot in (errbot, ours):
        status = texts(bot["status"])[0]
        assert "Yes" in status and "I am alive" in status, report
        assert "!echo" in "\n".join(texts(bot["help"])), report
        assert "!status" in "\n".join(texts(bot["help"])), report
    assert "| mattermost (backend) | running |" in texts(ours["status"])[0], DIFFERENCES["status"]
    # On purpose: the thread.
    assert texts(errbot["thread"]) == texts(ours["thread"]) == ["threaded"], report
    assert not errbot["thread"][0]["root_id"], DIFFERENCES["thread"]
    assert ours["thread"][0]["root_id"] == ours["thread root"], DIFFERENCES["thread"]
    # On purpose: the seed's `!plugin list`.
    assert texts(errbot["plugin list"])[0].startswith('Command "plugin" / "plugin list" not found.'), report
    assert "| A | Utils |" in texts(ours["plugin list"])[0], DIFFERENCES["plugin list"]
    # On purpose: a mention of the bot.
    assert texts(errbot["mention"]) == [], DIFFERENCES["mention"]
    assert texts(ours["mention"]) == ["mentioned"], DIFFERENCES["mention"]
