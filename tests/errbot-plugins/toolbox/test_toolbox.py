"""The Toolbox plugins' tests, as their author writes them for Errbot (errbot.backends.test's
testbot). They pass on Errbot 6.2.1 and, unchanged, on errbot-rs (tests/run.sh runs both)."""

import os
from unittest.mock import MagicMock

pytest_plugins = ["errbot.backends.test"]
extra_plugin_dir = os.path.dirname(os.path.abspath(__file__))


def test_a_method_of_a_dependency_is_called_with_its_arguments(testbot):
    assert testbot.exec_command("!measure hello") == "'hello' is 5 letters (call 1)"
    # The same Tools each time: its state is kept between calls.
    assert testbot.exec_command("!measure hi") == "'hi' is 2 letters (call 2)"
    assert testbot.exec_command("!tools asked") == "Tools was asked 2 time(s)."


def test_an_attribute_of_a_dependency_is_read(testbot):
    assert testbot.exec_command("!tools version") == "Tools 1.2"


def test_an_exception_of_a_dependency_reaches_the_caller_as_itself(testbot):
    assert testbot.exec_command("!divide 7 2") == "3.5"
    assert testbot.exec_command("!divide 1 0") == (
        "Tools refused: ZeroDivisionError: division by zero")


def test_a_plugin_that_is_no_dependency_is_refused(testbot):
    assert "needs to be listed in section [Core] key" in testbot.exec_command("!borrow")


def test_activating_a_plugin_activates_its_dependency(testbot):
    manager = testbot.bot.plugin_manager
    for name in ("Workbench", "Tools"):
        manager.deactivate_plugin(name)
    assert "Tools" not in manager.get_all_active_plugin_names()
    manager.activate_plugin("Workbench")
    active = manager.get_all_active_plugin_names()
    assert "Workbench" in active and "Tools" in active
    assert testbot.exec_command("!measure abc") == "'abc' is 3 letters (call 1)"


def test_mocks_replace_a_method_and_a_value(testbot):
    measure = MagicMock(return_value={"text": "x", "length": 42, "unit": "mocks", "asked": 7})
    testbot.inject_mocks("Tools", {"measure": measure, "asked": 99})
    assert testbot.exec_command("!measure abc") == "'x' is 42 mocks (call 7)"
    measure.assert_called_once_with("abc", unit="letters")
    assert testbot.exec_command("!tools asked") == "Tools was asked 99 time(s)."


def test_a_plugin_judges_its_own_configuration(testbot):
    assert "Incorrect plugin configuration: a gauge needs a UNIT" in testbot.exec_command(
        '!plugin config Gauge {"SIZE": 3}')
    assert testbot.exec_command('!plugin config Gauge {"UNIT": "mm", "SIZE": 3}') == (
        "Plugin configuration done.")
    assert testbot.exec_command("!gauge") == "measuring in mm (also: SIZE)"


def test_dynamic_plugins_come_and_go(testbot):
    assert testbot.exec_command("!shortcut add greet hello there") == "greet added"
    assert testbot.exec_command("!greet") == "hello there"
    # A name taken: the dynamic command is renamed, and the admins are told first.
    testbot.push_message("!shortcut add measure mine")
    assert testbot.pop_message() == (
        "Shortcutmeasure.measure clashes with Workbench.measure so it has been renamed "
        "shortcutmeasure-measure")
    assert testbot.pop_message() == "measure added"
    assert testbot.exec_command("!shortcutmeasure-measure") == "mine"
    assert testbot.exec_command("!measure abc") == "'abc' is 3 letters (call 1)"
    assert testbot.exec_command("!shortcut drop greet") == "greet dropped"
    assert 'Command "greet" not found.' in testbot.exec_command("!greet")
