"""Shared fixtures of the oracle tests: the tests' fake servers, started as programs from the
cargo target directory (tests/run.sh builds them first), and a small Mattermost client to act
as people and read what the bot wrote."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def program(name: str) -> Path:
    path = target_dir() / "debug" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build --workspace --bins` first")
    return path


class FakeMattermost:
    """A running fake-mattermost and the people on it."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [str(program("fake-mattermost"))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("fake-mattermost printed nothing")
        info = json.loads(line)
        self.url = info["url"]
        self.team = info["team"]
        self.bot_token = info["bot_token"]
        self.users = {u["username"]: u["id"] for u in info["users"]}
        self.host, port = self.url.removeprefix("http://").split(":")
        self.port = int(port)
        self.sessions = {}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def api(self, method, path, who, **kwargs):
        """A request as `who` ("alice", "bob"), logged in with their password once."""
        token = self.sessions.get(who)
        if token is None:
            r = requests.post(
                f"{self.url}/api/v4/users/login",
                json={"login_id": who, "password": f"{who}-password"},
                timeout=10,
            )
            r.raise_for_status()
            token = self.sessions[who] = r.headers["Token"]
        r = requests.request(
            method,
            f"{self.url}/api/v4{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            **kwargs,
        )
        r.raise_for_status()
        return r.json()

    def channel_id(self, name, who="alice"):
        team = self.api("GET", f"/teams/name/{self.team}", who)
        return self.api("GET", f"/teams/{team['id']}/channels/name/{name}", who)["id"]

    def dm_channel(self, who):
        return self.api(
            "POST", "/channels/direct", who, json=[self.users[who], self.users["errbot"]]
        )["id"]

    def post(self, who, channel_id, message, root_id=""):
        return self.api(
            "POST",
            "/posts",
            who,
            json={"channel_id": channel_id, "message": message, "root_id": root_id},
        )

    def bot_posts(self, channel_id, who="alice"):
        """The bot's posts in a channel, oldest first."""
        got = self.api("GET", f"/channels/{channel_id}/posts", who)
        posts = [got["posts"][i] for i in reversed(got["order"])]
        return [p for p in posts if p["user_id"] == self.users["errbot"]]

    def replies_to(self, who, channel_id, message, root_id="", quiet=1.0, timeout=30.0):
        """Posts `message` and returns the bot's new posts in that channel, once no new one
        came for `quiet` seconds (none at all after `timeout`: an empty list)."""
        before = len(self.bot_posts(channel_id))
        self.post(who, channel_id, message, root_id)
        new_posts_settled(lambda: len(self.bot_posts(channel_id)), before, quiet, timeout)
        return self.bot_posts(channel_id)[before:]


def new_posts_settled(count, before, quiet, timeout):
    """Waits until `count()` grew past `before` and then stayed the same for `quiet` seconds,
    or `timeout` passed: the bot's answer to one message, however many posts it takes."""
    deadline = time.monotonic() + timeout
    seen, last_change = before, time.monotonic()
    while time.monotonic() < deadline:
        now = count()
        if now != seen:
            seen, last_change = now, time.monotonic()
        elif now > before and time.monotonic() - last_change >= quiet:
            return
        time.sleep(0.05)


def wait_ready(probe, count):
    """Calls `probe()` (say something the bot answers; true once answered) until it answers,
    then waits until `count()` (the bot's posts) is still for 2 s: late answers to the earlier
    probes must not count as the next message's."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if probe():
                break
        except Exception:
            time.sleep(0.5)
    else:
        pytest.fail("the bot never answered")
    stable, last = time.monotonic(), count()
    while time.monotonic() - stable < 2.0:
        time.sleep(0.1)
        if count() != last:
            stable, last = time.monotonic(), count()


def side_by_side(tmp_path, make_fake, starters, conversation):
    """Runs `conversation(fake)` for each `(name, start)` of `starters`, each bot started by
    `start(fake, its own directory)` on a fresh fake, stopped afterwards: results by name."""
    results = {}
    for name, start in starters:
        fake = make_fake()
        work = tmp_path / name
        work.mkdir()
        proc = start(fake, work)
        try:
            results[name] = conversation(fake)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            fake.stop()
    return results


@pytest.fixture
def fake():
    server = FakeMattermost()
    yield server
    server.stop()


class FakeTelegram:
    """A running fake-telegram: its Bot API and the levers that play the people."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [str(program("fake-telegram"))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("fake-telegram printed nothing")
        info = json.loads(line)
        self.url = info["url"]
        self.token = info["token"]
        self.bot = info["bot"]
        self.users = info["users"]
        self.chats = info["chats"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def lever(self, name, **body):
        """Pulls a lever (`say`, `edit`, `upgrade`, `block`, `rate_limit`, `sent`...)."""
        r = requests.post(f"{self.url}/control/{name}", json=body, timeout=10)
        r.raise_for_status()
        return r.json()["result"]


@pytest.fixture
def telegram_fake():
    server = FakeTelegram()
    yield server
    server.stop()


def telegram_sent(fake, chat):
    """What the bot sent to `chat`, oldest first."""
    return [m for m in fake.lever("sent") if m["chat"]["id"] == chat]


def telegram_replies(fake, who, chat, text, quiet=1.0, timeout=30.0):
    """`who` (a user id) writes `text` in `chat`; the bot's new messages there, once no new one
    came for `quiet` seconds (none after `timeout`: an empty list)."""
    before = len(telegram_sent(fake, chat))
    fake.lever("say", user=who, chat=chat, text=text)
    new_posts_settled(lambda: len(telegram_sent(fake, chat)), before, quiet, timeout)
    return telegram_sent(fake, chat)[before:]
