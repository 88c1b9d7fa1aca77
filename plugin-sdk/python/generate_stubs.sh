#!/usr/bin/env bash
# Generates errbot/v1, the errbot.v1 protocol's stubs inside the compatibility `errbot` package,
# with python-hello's generator (same pinned grpcio-tools). `--check`: compare instead (CI).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../plugins/python-hello/generate_stubs.sh" "$@" "$here/errbot"
