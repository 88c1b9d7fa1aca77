#!/usr/bin/env python3
"""Runs an unmodified Errbot plugin under errbotd: `python3 host.py PLUGIN_DIR [PLUG_FILE]`
(errbotd starts it for each `.plug` file of a plugin directory; without PLUG_FILE the directory
must hold only one). This directory goes first on sys.path, so that
`import errbot` is the compatibility package beside this file."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from errbot_host.service import serve  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print("usage: host.py PLUGIN_DIR [PLUG_FILE]", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(sys.argv[1], plug=sys.argv[2] if len(sys.argv) == 3 else None))
