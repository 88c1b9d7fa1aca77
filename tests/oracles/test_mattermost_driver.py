"""The fake Mattermost's fidelity, checked by Mattermost's Python driver (mattermostdriver from
PyPI, what Errbot's Mattermost backend is built on): its REST calls and its websocket work
against the fake as against a server."""

import asyncio
import json
import threading

import pytest
from mattermostdriver import Driver
from mattermostdriver.exceptions import InvalidOrMissingParameters, NoAccessTokenProvided


def driver(fake, **options):
    d = Driver(
        {
            "url": fake.host,
            "port": fake.port,
            "scheme": "http",
            "basepath": "/api/v4",
            "verify": False,
            "timeout": 10,
            **options,
        }
    )
    d.login()
    return d


def test_token_and_password_logins(fake):
    bot = driver(fake, token=fake.bot_token)
    assert bot.users.get_user("me")["username"] == "errbot"
    alice = driver(fake, login_id="alice", password="alice-password")
    assert alice.client.userid == fake.users["alice"]
    assert alice.client.username == "alice"
    with pytest.raises(NoAccessTokenProvided):
        driver(fake, login_id="alice", password="wrong")


def test_teams_channels_posts_and_threads(fake):
    alice = driver(fake, login_id="alice", password="alice-password")
    team = alice.teams.get_team_by_name("testteam")
    town = alice.channels.get_channel_by_name(team["id"], "town-square")
    assert town["type"] == "O" and town["display_name"] == "Town Square"
    mine = alice.channels.get_channels_for_user("me", team["id"])
    assert {"town-square", "dev", "secret"} <= {c["name"] for c in mine}

    root = alice.posts.create_post({"channel_id": town["id"], "message": "root"})
    reply = alice.posts.create_post(
        {"channel_id": town["id"], "message": "in the thread", "root_id": root["id"]}
    )
    assert reply["root_id"] == root["id"]
    # A reply's id is not a thread root: the server refuses it.
    with pytest.raises(InvalidOrMissingParameters):
        alice.posts.create_post(
            {"channel_id": town["id"], "message": "x", "root_id": reply["id"]}
        )
    posts = alice.posts.get_posts_for_channel(town["id"])
    assert posts["order"][:2] == [reply["id"], root["id"]]

    bob = alice.users.get_user_by_username("bob")
    dm = alice.channels.create_direct_message_channel([alice.client.userid, bob["id"]])
    assert dm["type"] == "D"
    assert dm["name"] == "__".join(sorted([alice.client.userid, bob["id"]]))
    # The same pair gets the same channel.
    again = alice.channels.create_direct_message_channel([bob["id"], alice.client.userid])
    assert again["id"] == dm["id"]

    alice.reactions.create_reaction(
        {"user_id": alice.client.userid, "post_id": root["id"], "emoji_name": "tada"}
    )
    uploaded = alice.files.upload_file(
        town["id"], {"files": ("notes.txt", b"some notes")}
    )
    assert uploaded["file_infos"][0]["name"] == "notes.txt"


def test_the_websocket_says_hello_and_delivers_posts(fake):
    bot = driver(fake, token=fake.bot_token)
    alice = driver(fake, login_id="alice", password="alice-password")
    team = alice.teams.get_team_by_name("testteam")
    secret = alice.channels.get_channel_by_name(team["id"], "secret")
    events = []
    got_post = threading.Event()

    async def handler(raw):
        event = json.loads(raw)
        events.append(event)
        if event.get("event") == "posted":
            got_post.set()

    def listen():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(bot.websocket.connect(handler))
        except Exception:
            pass

    bot.options["keepalive"] = False
    from mattermostdriver.websocket import Websocket

    bot.websocket = Websocket(bot.options, bot.client.token)
    threading.Thread(target=listen, daemon=True).start()
    # The driver treats the first frames as the authentication; then a post arrives.
    for _ in range(100):
        if any(e.get("event") == "hello" for e in events):
            break
        threading.Event().wait(0.05)
    alice.posts.create_post({"channel_id": secret["id"], "message": "hello bot"})
    assert got_post.wait(10), events
    bot.websocket.disconnect()
    hello = next(e for e in events if e.get("event") == "hello")
    assert hello["seq"] == 0 and hello["broadcast"]["user_id"] == fake.users["errbot"]
    posted = next(e for e in events if e.get("event") == "posted")
    post = json.loads(posted["data"]["post"])
    assert post["message"] == "hello bot"
    assert posted["data"]["channel_name"] == "secret"
    assert posted["data"]["sender_name"] == "@alice"
    assert posted["broadcast"]["channel_id"] == secret["id"]
