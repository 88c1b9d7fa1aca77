#!/usr/bin/env bash
# Runs every test of errbot-rs: unit tests, end-to-end tests against the built binaries, the
# Python plugin's own test, the Errbot compatibility host's, the checks that their generated
# stubs match proto/, and the oracle tests (tests/oracles: official clients and Errbot's own
# backends against the fakes).
# Needs only what a fresh machine has (Rust, Python 3 with pip and venv, network access to the
# package registries); everything else is installed on the way.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

# What the tests need from the system, from Debian's packages when missing (this needs root;
# otherwise the tests that need a missing program say so and are skipped, or fail under CI).
install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    else
        echo "WARNING: cannot install $* (not root, or no apt-get)" >&2
    fi
}
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then install python3-venv; fi
# The IRC end-to-end tests start their own ngircd servers (127.0.0.1 only, free ports); the TLS
# one makes its certificate with openssl.
command -v openssl >/dev/null 2>&1 || install openssl
if [ ! -x /usr/sbin/ngircd ]; then
    install ngircd
    # The package may start the system-wide server: the tests do not use it.
    if command -v service >/dev/null 2>&1; then service ngircd stop >/dev/null 2>&1 || true; fi
fi
# The XMPP end-to-end tests start their own prosody servers the same way (accounts registered
# with prosodyctl in each server's temporary directory).
if [ ! -x /usr/bin/prosody ]; then
    install prosody
    if command -v service >/dev/null 2>&1; then service prosody stop >/dev/null 2>&1 || true; fi
fi
# PostgreSQL for the storage tests: a throw-away server on 127.0.0.1 (installed when missing),
# unless ERRBOT_TEST_POSTGRES_URL names one already.
if [ -z "${ERRBOT_TEST_POSTGRES_URL:-}" ]; then
    echo "==> PostgreSQL (loopback only)"
    if pg_env="$(bash tests/postgres.sh start)"; then
        eval "$pg_env"
        trap 'bash tests/postgres.sh stop "$ERRBOT_TEST_POSTGRES_DIR"' EXIT
    fi
fi

# Errbot 6.2.1 itself, which errbot_compat.rs runs the Errbot plugins of tests/errbot-plugins on
# to compare its replies with errbot-rs's (made once, shared with the benchmarks).
echo "==> Errbot 6.2.1's virtualenv"
bash tests/bench/errbot-venv.sh >/dev/null

echo "==> building every binary (the end-to-end tests run them)"
cargo build --workspace --bins

if [ -z "${ERRBOT_TEST_POSTGRES_URL:-}" ]; then
    echo "WARNING: no PostgreSQL: the PostgreSQL halves of the storage tests are SKIPPED" >&2
fi

echo "==> Rust tests"
if [ ! -x /usr/sbin/ngircd ]; then
    echo "WARNING: ngircd is not installed: the IRC end-to-end tests are SKIPPED" \
         "(apt-get install ngircd; .ci/run installs it)" >&2
fi
if [ ! -x /usr/bin/prosody ]; then
    echo "WARNING: prosody is not installed: the XMPP end-to-end tests are SKIPPED" \
         "(apt-get install prosody; .ci/run installs it)" >&2
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

echo "==> Errbot compatibility host (plugin-sdk/python)"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r plugin-sdk/python/requirements.txt
"$venv/bin/python" -m pytest -q plugin-sdk/python
bash plugin-sdk/python/check_stubs.sh
# An Errbot plugin's own tests (errbot.backends.test's testbot), unchanged: on errbot-rs (the
# built errbotd, the compatibility `errbot` first on the path), then on Errbot 6.2.1 itself.
PYTHONPATH=plugin-sdk/python ERRBOT_BIN_DIR="$CARGO_TARGET_DIR/debug" \
    ERRBOT_TESTBOT_VENVS="$CARGO_TARGET_DIR/debug/test-venvs" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/errbot-plugins/notebook \
    tests/errbot-plugins/toolbox
"$(bash tests/bench/errbot-venv.sh)" -m pytest -q -p no:cacheprovider tests/errbot-plugins/notebook \
    tests/errbot-plugins/toolbox

# The fakes' fidelity (official client libraries against them) and Errbot's own backends as
# oracles (the same conversation, the same replies), in their own virtualenv.
echo "==> Oracles and official clients against the fakes"
oracle_venv="$CARGO_TARGET_DIR/oracle-venv"
if [ ! -x "$oracle_venv/bin/python" ]; then
    python3 -m venv "$oracle_venv"
fi
"$oracle_venv/bin/pip" install --quiet --disable-pip-version-check -r tests/oracles/requirements.txt
"$oracle_venv/bin/python" -m pytest -q -p no:cacheprovider tests/oracles
