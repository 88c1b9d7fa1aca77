"""Errbot 6.2.1 with its own Telegram backend (python-telegram-bot 13.15, the version Errbot's
`telegram` extra pins) and errbot-rs run the same conversation against the same fake Bot API:
the replies must say the same, apart from what errbot-rs does better on purpose (listed in
DIFFERENCES and asserted).

python-telegram-bot 13.15 is installed once with `pip --target` beside the other oracles (the
oracle virtualenv holds 22.8, which the fidelity test uses) and put first on Errbot's path; a
`sitecustomize` points its `Bot` at the fake (Errbot gives it no base URL)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import (FakeTelegram, program, side_by_side, target_dir, telegram_replies,
                      telegram_sent, wait_ready)

DIFFERENCES = {
    "command for the bot": "`/echo@TheBot ...` in a group is a command (Errbot 6.2.1 ignores it "
    "unless BOT_PREFIX is '/', and then passes `@TheBot` on as an argument)",
    "markdown": "Markdown is sent as Telegram's HTML, so people see bold as bold (Errbot sends "
    "the text without its markup)",
    "split": "long replies are cut at Telegram's 4,096 UTF-16 units, styles carried over "
    "(Errbot cuts at 1,024 characters, through the markup: `**!plugin deactiva` | `te ...**`)",
    "unknown": "a command with no close match points to `!help` (Errbot says nothing more)",
}

SHIM = """
import os
import telegram

_init = telegram.Bot.__init__

def _to_the_fake(self, token, *args, **kwargs):
    kwargs["base_url"] = os.environ["ERRBOT_ORACLE_TELEGRAM_URL"] + "/bot"
    _init(self, token, *args, **kwargs)

telegram.Bot.__init__ = _to_the_fake
"""


def ptb13() -> Path:
    """python-telegram-bot 13.15 and its dependencies in a directory of their own (once)."""
    where = target_dir() / "oracle-ptb13"
    if not (where / "telegram").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(where), "python-telegram-bot==13.15"],
            check=True,
        )
    return where


def start_errbot(fake, tmp: Path):
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM)
    (tmp / "data").mkdir()
    alice = fake.users["alice"]
    (tmp / "config.py").write_text(
        textwrap.dedent(
            f"""
            import logging
            BACKEND = "Telegram"
            BOT_DATA_DIR = {str(tmp / "data")!r}
            BOT_EXTRA_PLUGIN_DIR = None
            BOT_LOG_FILE = {str(tmp / "errbot.log")!r}
            BOT_LOG_LEVEL = logging.INFO
            BOT_ADMINS = ("{alice}",)
            BOT_PREFIX = "!"
            CHATROOM_PRESENCE = ()
            BOT_IDENTITY = {{"token": {fake.token!r}}}
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=f"{ptb13()}:{shim}",
               ERRBOT_ORACLE_TELEGRAM_URL=fake.url)
    errbot = Path(sys.executable).parent / "errbot"
    return subprocess.Popen(
        [str(errbot), "-c", str(tmp / "config.py")],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "errbot.stderr", "w"),
    )


def start_errbotd(fake, tmp: Path):
    (tmp / "errbot.toml").write_text(
        textwrap.dedent(
            f"""
            [bot]
            prefix = "!"
            admins = ["{fake.users['alice']}"]

            [paths]
            data_dir = "data"
            bundled_plugins = false
            plugin_dirs = []

            [backends.telegram]
            kind = "telegram"
            token_env = "TELEGRAM_TOKEN"
            api_url = "{fake.url}"
            poll_timeout = 2
            """
        )
    )
    env = dict(os.environ, TELEGRAM_TOKEN=fake.token)
    return subprocess.Popen(
        [str(program("errbotd")), "-c", str(tmp / "errbot.toml")],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "errbotd.log", "w"),
    )


def texts(messages):
    return [m["text"] for m in messages]


def conversation(fake):
    alice, bob = fake.users["alice"], fake.users["bob"]
    group = fake.chats["group"]
    wait_ready(lambda: telegram_replies(fake, alice, alice, "!echo ready", quiet=0.3, timeout=3),
               lambda: len(telegram_sent(fake, alice)))
    steps = {}
    steps["echo"] = telegram_replies(fake, alice, alice, "!echo hello world")
    steps["group"] = telegram_replies(fake, bob, group, "!echo in the group")
    steps["unknown"] = telegram_replies(fake, alice, alice, "!nosuch")
    steps["markdown"] = telegram_replies(fake, alice, alice, "!echo **bold** and `code`")
    steps["command for the bot"] = telegram_replies(
        fake, bob, group, f"/echo@{fake.bot['username']} addressed", timeout=4)
    steps["help"] = telegram_replies(fake, alice, alice, "!help")
    return steps


@pytest.fixture
def both(tmp_path):
    return side_by_side(tmp_path, FakeTelegram,
                        [("errbot", start_errbot), ("errbot-rs", start_errbotd)], conversation)


def test_errbot_and_errbot_rs_give_the_same_replies(both):
    errbot, ours = both["errbot"], both["errbot-rs"]
    report = "\n".join(
        f"{step}:\n  errbot:    {texts(errbot[step])!r}\n  errbot-rs: {texts(ours[step])!r}"
        for step in ["echo", "group", "unknown", "markdown", "command for the bot", "help"]
    )
    print(report)
    for step in ["echo", "group"]:
        assert texts(errbot[step]) == texts(ours[step]), f"{step}\n{report}"
        chats = lambda bot: [m["chat"]["id"] for m in bot[step]]  # noqa: E731
        assert chats(errbot) == chats(ours), f"{step}\n{report}"
    assert texts(ours["echo"]) == ["hello world"]
    assert texts(errbot["unknown"]) == ['Command "nosuch" not found.'], report
    assert texts(ours["unknown"]) == [
        'Command "nosuch" not found.\n\nType "!help" for the list of commands.'
    ], DIFFERENCES["unknown"]
    # Both list their commands.
    for bot in (errbot, ours):
        assert "echo" in "\n".join(texts(bot["help"])), report
    # On purpose: fewer, longer parts, never cut through the markup.
    assert len(errbot["help"]) > len(ours["help"]), DIFFERENCES["split"]
    assert any("**" in t for t in texts(errbot["help"])), DIFFERENCES["split"]
    assert not any("**" in t for t in texts(ours["help"])), DIFFERENCES["split"]
    # On purpose: Markdown as HTML; the text people read is the same.
    assert texts(errbot["markdown"]) == texts(ours["markdown"]) == ["bold and code"], report
    assert [e["type"] for e in ours["markdown"][0]["entities"]] == ["bold", "code"], \
        DIFFERENCES["markdown"]
    assert "entities" not in errbot["markdown"][0], DIFFERENCES["markdown"]
    # On purpose: a command addressed to the bot in a group.
    assert texts(errbot["command for the bot"]) == [], DIFFERENCES["command for the bot"]
    assert texts(ours["command for the bot"]) == ["addressed"], DIFFERENCES["command for the bot"]
