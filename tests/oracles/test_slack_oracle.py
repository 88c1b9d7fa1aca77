"""Errbot 6.2.1 with its own Slack backend (errbot-backend-slackv3 from PyPI, Socket Mode) and
errbot-rs run the same conversation against the same fake Slack (tests/src/slack.rs, served by
the fake-slack program): the replies must be the same, apart from what errbot-rs does better
on purpose (listed in DIFFERENCES and asserted).

Errbot's backend talks to slack.com through slack_sdk: the harness points slack_sdk's
WebClient at the fake (a `sitecustomize` on Errbot's path) without touching the backend."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from conftest import new_posts_settled, program, side_by_side, wait_ready

DIFFERENCES = {
    "mention": "`<@bot> echo ...` is a command (Errbot's SlackV3 backend ignores it here)",
    "unknown": "a command with no close match points to `!help` (Errbot says nothing more)",
    "help": "the command lists name errbot-rs's own built-in plugins, with their arguments",
    "status": "`!status` shows every process (pid, uptime, restarts) and errbotd's memory",
}

SHIM = """
import os
import slack_sdk.web.client as client

_init = client.WebClient.__init__

def __init__(self, *args, **kwargs):
    kwargs["base_url"] = os.environ["FAKE_SLACK_API"]
    _init(self, *args, **kwargs)

client.WebClient.__init__ = __init__
"""


class FakeSlack:
    def __init__(self):
        self.proc = subprocess.Popen(
            [str(program("fake-slack"))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        info = json.loads(self.proc.stdout.readline())
        self.api_url = info["api_url"]
        self.control = info["control_url"]
        self.bot_token = info["bot_token"]
        self.app_token = info["app_token"]
        self.users = info["users"]
        self.channels = info["channels"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def posts(self):
        return requests.get(f"{self.control}/posts", timeout=10).json()

    def replies_to(self, user, text, channel=None, thread_ts="", quiet=1.0, timeout=30.0):
        """`user` writes `text` (in `channel`, else privately); the bot's new messages once
        none came for `quiet` seconds (an empty list after `timeout`). Also returns what was
        said."""
        before = len(self.posts())
        if channel is None:
            said = requests.post(f"{self.control}/dm", json={"user": self.users[user],
                                                             "text": text}, timeout=10).json()
        else:
            said = requests.post(f"{self.control}/say",
                                 json={"user": self.users[user], "channel": channel,
                                       "text": text, "thread_ts": thread_ts},
                                 timeout=10).json()
        new_posts_settled(lambda: len(self.posts()), before, quiet, timeout)
        return self.posts()[before:], said


def start_errbot(fake, tmp: Path):
    import slackv3

    backend_dir = Path(slackv3.__file__).resolve().parent
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM)
    (tmp / "data").mkdir()
    alice = fake.users["alice"]
    (tmp / "config.py").write_text(textwrap.dedent(f"""
        import logging
        BACKEND = "SlackV3"
        BOT_EXTRA_BACKEND_DIR = {str(backend_dir.parent)!r}
        BOT_DATA_DIR = {str(tmp / "data")!r}
        BOT_EXTRA_PLUGIN_DIR = None
        BOT_LOG_FILE = {str(tmp / "errbot.log")!r}
        BOT_LOG_LEVEL = logging.INFO
        BOT_ADMINS = ({alice!r},)
        BOT_PREFIX = "!"
        ACCESS_CONTROLS_DEFAULT = {{"allowusers": ({alice!r},)}}
        BOT_IDENTITY = {{"token": {fake.bot_token!r}, "app_token": {fake.app_token!r}}}
        """))
    env = dict(os.environ, PYTHONPATH=str(shim), FAKE_SLACK_API=fake.api_url.rstrip("/") + "/")
    errbot = Path(sys.executable).parent / "errbot"
    return subprocess.Popen([str(errbot), "-c", str(tmp / "config.py")], cwd=tmp, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_errbotd(fake, tmp: Path):
    alice = fake.users["alice"]
    (tmp / "errbot.toml").write_text(textwrap.dedent(f"""
        [bot]
        prefix = "!"
        admins = ["{alice}"]

        [paths]
        data_dir = "data"
        bundled_plugins = false
        plugin_dirs = []

        [access.default]
        allowusers = ["{alice}"]

        [backends.slack]
        kind = "slack"
        api_url = "{fake.api_url}"
        bot_token_env = "SLACK_BOT_TOKEN"
        app_token_env = "SLACK_APP_TOKEN"
        """))
    env = dict(os.environ, SLACK_BOT_TOKEN=fake.bot_token, SLACK_APP_TOKEN=fake.app_token)
    return subprocess.Popen([str(program("errbotd")), "-c", str(tmp / "errbot.toml")], cwd=tmp,
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "errbotd.log", "w"))


def texts(posts):
    return [p["text"] for p in posts]


def conversation(fake):
    general = fake.channels["general"]
    wait_ready(
        lambda: fake.replies_to("alice", "!echo ready", general, quiet=0.3, timeout=3)[0],
        lambda: len(fake.posts()),
    )
    steps = {}
    steps["echo"], _ = fake.replies_to("alice", "!echo hello world", general)
    steps["unknown"], _ = fake.replies_to("alice", "!nosuch", general)
    steps["not admin"], _ = fake.replies_to("bob", "!echo hi", general)
    steps["dm"], _ = fake.replies_to("alice", "!echo privately")
    _, root = fake.replies_to("bob", "a question", general, timeout=1)
    steps["thread"], _ = fake.replies_to("alice", "!echo threaded", general,
                                         thread_ts=root["ts"])
    steps["thread root"] = root["ts"]
    mention = f"<@{fake.users['errbot']}> echo mentioned"
    steps["mention"], _ = fake.replies_to("alice", mention, general, timeout=5)
    steps["help"], _ = fake.replies_to("alice", "!help", general)
    steps["status"], _ = fake.replies_to("alice", "!status", general)
    return steps


@pytest.fixture
def both(tmp_path):
    """The conversation with Errbot, then with errbot-rs, each on a fresh fake."""
    return side_by_side(tmp_path, FakeSlack,
                        [("errbot", start_errbot), ("errbot-rs", start_errbotd)], conversation)


def test_errbot_and_errbot_rs_give_the_same_replies_on_slack(both):
    errbot, ours = both["errbot"], both["errbot-rs"]
    steps = ["echo", "unknown", "not admin", "dm", "thread", "mention", "help", "status"]
    report = "\n".join(
        f"{s}:\n  errbot:    {texts(errbot[s])!r}\n  errbot-rs: {texts(ours[s])!r}" for s in steps
    )
    print(report)
    # The same texts in the same place (a DM's id depends on the fake's history: its kind).
    place = lambda p: "DM" if p["channel"].startswith("D") else p["channel"]  # noqa: E731
    for step in ["echo", "not admin", "dm"]:
        assert texts(errbot[step]) == texts(ours[step]), f"{step}\n{report}"
        assert [place(p) for p in errbot[step]] == [place(p) for p in ours[step]], \
            f"{step}\n{report}"
    assert [place(p) for p in ours["dm"]] == ["DM"], report
    assert texts(ours["echo"]) == ["hello world"]
    # A reply to a message in a thread stays in the thread, in both.
    assert texts(errbot["thread"]) == texts(ours["thread"]) == ["threaded"], report
    assert ours["thread"][0].get("thread_ts") == ours["thread root"], report
    assert errbot["thread"][0].get("thread_ts") == errbot["thread root"], report
    # On purpose: the lead after an unknown command.
    assert texts(errbot["unknown"]) == ['Command "nosuch" not found.'], report
    # (Slack's mrkdwn has no paragraphs: a blank line is one line break.)
    assert texts(ours["unknown"]) == [
        'Command "nosuch" not found.\nType "!help" for the list of commands.'
    ], DIFFERENCES["unknown"]
    # On purpose: a mention of the bot.
    assert texts(errbot["mention"]) == [], DIFFERENCES["mention"]
    assert texts(ours["mention"]) == ["mentioned"], DIFFERENCES["mention"]
    for bot in (errbot, ours):
        assert "alive" in texts(bot["status"])[0], report
        assert "echo" in "\n".join(texts(bot["help"])), report
