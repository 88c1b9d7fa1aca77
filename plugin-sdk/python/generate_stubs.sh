#!/usr/bin/env bash
# Generates errbot/v1, the errbot.v1 protocol's stubs inside the compatibility `errbot` package,
# with python-hello's generator (same pinned grpcio-tools). `--check`: compare instead (CI).
# Besides the plugin's protocol, the test gateway's driver (errbot.backends.test drives it).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export STUBS_PROTOS="errbot/v1/backend.proto errbot/v1/testing.proto"
exec bash "$here/../../plugins/python-hello/generate_stubs.sh" "$@" "$here/errbot"
