"""The Notebook plugin's own tests, as its author writes them for Errbot (errbot.backends.test's
testbot fixture). They pass on Errbot 6.2.1 and, unchanged, on errbot-rs (tests/run.sh runs
them with plugin-sdk/python first on PYTHONPATH)."""

import os

pytest_plugins = ["errbot.backends.test"]
extra_plugin_dir = os.path.dirname(os.path.abspath(__file__))

CONFIG = '!plugin config Notebook {"GREETING": "Hi", "MAX_NOTES": 2}'


def test_greet_uses_the_configuration(testbot):
    testbot.assertInCommand(CONFIG, "Plugin configuration done.")
    testbot.push_message("!greet Ana")
    assert testbot.pop_message() == "Hi, Ana!"


def test_notes_fill_up(testbot):
    testbot.assertInCommand(CONFIG, "Plugin configuration done.")
    testbot.assertInCommand("!note add buy milk", "Noted (1).")
    testbot.assertInCommand("!note add call mum", "Noted (2).")
    testbot.assertInCommand("!note add more", "full")
    testbot.assertInCommand("!note clear", "Notebook cleared.")


def test_dice(testbot):
    testbot.assertInCommand(CONFIG, "Plugin configuration done.")
    testbot.push_message("!roll 6 --count 2")
    assert [testbot.pop_message(), testbot.pop_message()] == ["die shows 1", "die shows 2"]
    testbot.assertInCommand("!roll six", "I couldn't parse the arguments")
    testbot.assertCommandFound("!shout ana")


def test_facts(testbot):
    testbot.assertInCommand(CONFIG, "Plugin configuration done.")
    testbot.assertInCommand("!remember sky is blue", "I will remember sky.")
    testbot.assertInCommand("what is sky", "sky is blue")
    testbot.assertInCommand("2+2", "2+2=4")
