#!/usr/bin/env bash
# Runs every test of errbot-rs: unit tests, end-to-end tests against the built binaries, the
# Python plugin's own test and the check that its generated stubs match proto/.
# Needs only what a fresh machine has (Rust, Python 3 with pip and venv, network access to the
# package registries); everything else is installed on the way.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

echo "==> building every binary (the end-to-end tests run them)"
cargo build --workspace --bins

echo "==> Rust tests"
if [ ! -x /usr/sbin/ngircd ]; then
    echo "WARNING: ngircd is not installed: the IRC end-to-end tests are SKIPPED" \
         "(apt-get install ngircd; .ci/run installs it)" >&2
fi
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi

echo "==> Python plugin"
venv="$CARGO_TARGET_DIR/pytest-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r plugins/python-hello/requirements.txt pytest
"$venv/bin/python" -m pytest -q plugins/python-hello
bash plugins/python-hello/check_stubs.sh
