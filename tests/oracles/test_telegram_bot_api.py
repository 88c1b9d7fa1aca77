"""The fake Bot API's fidelity, checked by python-telegram-bot (from PyPI, the library most
Telegram bots in Python use, Errbot's own backend among them): its calls, the objects it
parses (entities with UTF-16 offsets), and the exceptions it raises for the API's errors work
against the fake as against Telegram."""

import asyncio
import datetime

import pytest
import telegram
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter


def bot(fake, token=None):
    return telegram.Bot(token or fake.token, base_url=f"{fake.url}/bot")


def run(coro):
    return asyncio.run(coro)


def test_get_me_and_a_refused_token(telegram_fake):
    async def go():
        async with bot(telegram_fake) as b:
            me = await b.get_me()
            assert (me.id, me.username, me.is_bot) == (
                telegram_fake.bot["id"], telegram_fake.bot["username"], True)
        with pytest.raises(InvalidToken):
            async with bot(telegram_fake, "1:wrong") as b:
                await b.get_me()
    run(go())


def test_updates_offsets_and_utf16_entities(telegram_fake):
    fake = telegram_fake
    alice, group = fake.users["alice"], fake.chats["group"]
    fake.lever("say", user=alice, chat=group, text=f"/echo@{fake.bot['username']} hi")
    fake.lever("say", user=alice, chat=group, text="😀 @bob look")
    first = fake.lever("say", user=alice, chat=alice, text="private")
    fake.lever("edit", chat=alice, id=first, text="private, edited")

    async def go():
        async with bot(fake) as b:
            updates = await b.get_updates(timeout=1)
            assert len(updates) == 4
            command, mention, private, edit = updates
            assert [u.update_id for u in updates] == list(
                range(command.update_id, command.update_id + 4))
            assert list(command.message.parse_entities().values()) == [
                f"/echo@{fake.bot['username']}"]
            assert command.message.chat.type == "group"
            # Offsets count UTF-16 code units: the emoji is two.
            assert list(mention.message.parse_entities().values()) == ["@bob"]
            assert mention.message.entities[0].offset == 3
            assert private.message.chat.type == "private"
            assert edit.edited_message.text == "private, edited"
            # The same updates until an offset confirms them; then the long poll waits.
            again = await b.get_updates(timeout=0)
            assert [u.update_id for u in again] == [u.update_id for u in updates]
            rest = await b.get_updates(offset=edit.update_id + 1, timeout=1)
            assert rest == ()
    run(go())


def test_send_message_html_limits_and_errors(telegram_fake):
    fake = telegram_fake
    alice, bob, group = fake.users["alice"], fake.users["bob"], fake.chats["group"]

    async def go():
        async with bot(fake) as b:
            m = await b.send_message(alice, "<b>bold</b> &amp; <code>x</code>", parse_mode="HTML")
            assert m.text == "bold & x"
            assert [(e.type, e.offset, e.length) for e in m.entities] == [
                ("bold", 0, 4), ("code", 7, 1)]
            with pytest.raises(BadRequest, match="(?i)can't parse entities"):
                await b.send_message(alice, "<b>open", parse_mode="HTML")
            with pytest.raises(BadRequest, match="(?i)message is too long"):
                await b.send_message(alice, "😀" * 2049)
            assert (await b.send_message(alice, "😀" * 2048)).text == "😀" * 2048
            with pytest.raises(BadRequest, match="(?i)chat not found"):
                await b.send_message(-42, "nobody")
            fake.lever("block", user=bob)
            with pytest.raises(Forbidden, match="(?i)blocked"):
                await b.send_message(bob, "hello?")
            new = fake.lever("upgrade", group=group)
            with pytest.raises(ChatMigrated) as migrated:
                await b.send_message(group, "hello group")
            assert migrated.value.new_chat_id == new
            fake.lever("rate_limit", n=1, secs=1)
            with pytest.raises(RetryAfter) as limited:
                await b.send_message(alice, "too fast")
            assert limited.value.retry_after in (1, datetime.timedelta(seconds=1))
            # As Telegram, the fake refuses every call until retry_after is over.
            with pytest.raises(RetryAfter):
                await b.send_message(alice, "still too fast")
            await asyncio.sleep(1.2)
            topic = await b.send_message(fake.chats["forum"], "in topic",
                                         message_thread_id=fake.chats["topic"])
            assert topic.message_thread_id == fake.chats["topic"]
            with pytest.raises(BadRequest, match="(?i)thread not found"):
                await b.send_message(fake.chats["forum"], "x", message_thread_id=999)
    run(go())


def test_documents_and_reactions(telegram_fake):
    fake = telegram_fake
    alice = fake.users["alice"]
    said = fake.lever("say", user=alice, chat=alice, text="react to me")

    async def go():
        async with bot(fake) as b:
            m = await b.send_document(alice, b"hello file", filename="report.txt",
                                      caption="a report")
            assert (m.document.file_name, m.caption) == ("report.txt", "a report")
            assert await b.set_message_reaction(alice, said, "👍")
            with pytest.raises(BadRequest, match="(?i)reaction_invalid"):
                await b.set_message_reaction(alice, said, "🦀")
    run(go())


def test_two_pollers_conflict(telegram_fake):
    async def go():
        async with bot(telegram_fake) as one, bot(telegram_fake) as two:
            first = asyncio.create_task(one.get_updates(timeout=5))
            await asyncio.sleep(1.0)
            second = asyncio.create_task(two.get_updates(timeout=1))
            with pytest.raises(Conflict, match="terminated by other getUpdates"):
                await first
            assert await second == ()
    run(go())
