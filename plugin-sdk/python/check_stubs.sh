#!/usr/bin/env bash
# Fails when errbot/v1 no longer matches what generate_stubs.sh produces from ../../proto.
exec bash "$(dirname "${BASH_SOURCE[0]}")/generate_stubs.sh" --check
