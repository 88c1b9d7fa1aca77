#!/usr/bin/env bash
# Generates the Python stubs of the errbot.v1 protocol (the package errbot.v1) from ../../proto,
# with the grpcio-tools pinned in requirements-tools.txt, in a throw-away virtualenv.
#
#   ./generate_stubs.sh [DIR]           regenerate DIR/v1 (commit the result)
#   ./generate_stubs.sh --check [DIR]   regenerate into a temporary directory and compare with
#                                       DIR/v1; exits 1 when they differ (what CI runs)
#
# DIR is the `errbot` package that holds the stubs: by default errbot_stubs/errbot, this
# plugin's; the Errbot compatibility host keeps them in its own `errbot` package
# (plugin-sdk/python/errbot, see its generate_stubs.sh).
#
# Environment: PYTHON (default python3) creates the virtualenv; STUBS_VENV, when set, is a
# virtualenv directory to create once and reuse instead of a temporary one; STUBS_PROTOS names
# more .proto files (relative to proto/) to generate.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
proto_dir="$(cd "$here/../../proto" && pwd)"
package="$here/errbot_stubs/errbot"
# The files a plugin needs: its own service, the shared types, and errbotd's BotService and
# StorageService (and control.proto, whose plugin and process states BotService.Status answers).
# STUBS_PROTOS (space-separated) adds more: the compatibility host also drives the test gateway.
protos=(errbot/v1/common.proto errbot/v1/plugin.proto errbot/v1/bot.proto errbot/v1/storage.proto
        errbot/v1/control.proto ${STUBS_PROTOS:-})

check=false
if [ "${1:-}" = --check ]; then
    check=true
    shift
fi
case "$#:${1:-}" in
    0:) ;;
    1:-*) echo "usage: $0 [--check] [DIR]" >&2; exit 2 ;;
    1:*) package="$(cd "$1" && pwd)" ;;
    *) echo "usage: $0 [--check] [DIR]" >&2; exit 2 ;;
esac
stubs="$package/v1"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

venv="${STUBS_VENV:-$tmp/venv}"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements-tools.txt"

out="$tmp/errbot_stubs"
mkdir -p "$out"
"$venv/bin/python" -m grpc_tools.protoc -I "$proto_dir" \
    --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "${protos[@]}"
# Regular packages (not namespace packages), so that errbot_stubs/ first on sys.path always wins.
touch "$out/errbot/__init__.py" "$out/errbot/v1/__init__.py"

# The generated code checks the protobuf and grpcio runtimes when imported: import it with the
# pinned runtime of requirements.txt (installed in the same virtualenv).
(cd "$tmp" && "$venv/bin/python" -B -c '
import sys
sys.path.insert(0, "errbot_stubs")
from errbot.v1 import bot_pb2, bot_pb2_grpc, common_pb2, plugin_pb2, plugin_pb2_grpc
from errbot.v1 import storage_pb2, storage_pb2_grpc
from grpc_health.v1 import health_pb2_grpc
')

if $check; then
    if diff -r -x __pycache__ "$out/errbot/v1" "$stubs"; then
        echo "$stubs is up to date with proto/"
    else
        echo "$stubs is stale: run $0 ${1:-} and commit the result" >&2
        exit 1
    fi
else
    rm -rf "$stubs"
    cp -r "$out/errbot/v1" "$stubs"
    echo "wrote $stubs"
fi
