#!/usr/bin/env python3
"""The oracle for tests/tests/errbot_compat.rs: runs a conversation with the Errbot plugins of
tests/errbot-plugins on Errbot 6.2.1 itself (its Test backend, in Errbot's virtualenv, the one
tests/bench/run.sh makes) and prints what Errbot answered, so that the same conversation on
errbot-rs can be compared with it.

    ERRBOT_VENV/bin/python tests/errbot_oracle.py DATA_DIR < messages.json > replies.json

stdin: a JSON list of messages (sent privately by the Test backend's admin, one at a time);
stdout: a JSON list with, for each, the list of replies Errbot sent (each yield its own). A
message's replies are collected until none came for a moment (`QUIET` seconds after the first
one; `FIRST` seconds when there is none yet)."""

import json
import logging
import os
import sys
import threading
from queue import Empty

FIRST, QUIET = 2.0, 0.3
PLUGINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "errbot-plugins")


def main(data_dir):
    messages = json.load(sys.stdin)
    # Errbot logs to stdout too: the answers get a copy of it, the rest goes to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from errbot.backends.test import TestBot
    from errbot.bootstrap import setup_bot

    testbot = TestBot(extra_plugin_dir=PLUGINS, loglevel=logging.WARNING,
                      extra_config={"BOT_DATA_DIR": data_dir,
                                    "BOT_LOG_FILE": os.path.join(data_dir, "errbot.log")})
    testbot._bot = setup_bot("Test", testbot.logger, testbot.bot_config)
    threading.Thread(target=testbot.bot.serve_forever, daemon=True).start()
    bot = testbot.bot
    bot.push_message("!echo ready")
    bot.pop_message(timeout=120)
    answers = []
    for body in messages:
        bot.push_message(body)
        replies, timeout = [], FIRST
        while True:
            try:
                replies.append(bot.pop_message(timeout=timeout))
            except Empty:
                break
            timeout = QUIET
        answers.append(replies)
    json.dump(answers, out)
    out.flush()
    os._exit(0)  # Errbot's threads (and DailyMessage's timer) need not be waited for


if __name__ == "__main__":
    main(sys.argv[1])
