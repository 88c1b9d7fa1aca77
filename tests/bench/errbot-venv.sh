#!/usr/bin/env bash
# Makes Errbot 6.2.1's virtualenv (errbot-requirements.txt) in $CARGO_TARGET_DIR/bench once, and
# again when the requirements change; prints its python. Used by the benchmarks (run.sh) and by
# tests/run.sh for the comparison with Errbot itself (tests/tests/errbot_compat.rs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/bench/errbot-6.2.1-venv"
requirements="$root/tests/bench/errbot-requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
    echo "==> creating Errbot's virtualenv in $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venv/requirements.txt"
fi
echo "$venv/bin/python"
