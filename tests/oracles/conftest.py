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
        deadline = time.monotonic() + timeout
        seen, last_change = before, time.monotonic()
        while time.monotonic() < deadline:
            now = len(self.bot_posts(channel_id))
            if now != seen:
                seen, last_change = now, time.monotonic()
            elif now > before and time.monotonic() - last_change >= quiet:
                break
            time.sleep(0.05)
        return self.bot_posts(channel_id)[before:]


@pytest.fixture
def fake():
    server = FakeMattermost()
    yield server
    server.stop()
