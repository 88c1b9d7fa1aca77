#!/usr/bin/env bash
# Benchmarks errbot-rs side by side with Errbot 6.2.1 (BENCHMARKS.md):
#   tests/bench/run.sh            full run, writes the report into BENCHMARKS.md
#   tests/bench/run.sh --smoke    tiny counts, writes nothing (CI: checks that it all works)
# Builds the release binaries, makes Errbot's virtualenv from PyPI once (cached in the target
# directory), then runs errbot-bench (tests/src/bin/errbot-bench) with the given options; see
# `--help` for the others.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

# Every binary of the workspace: the bots' and the benchmark's own (errbot-bench, its plugin).
echo "==> building the release binaries" >&2
cargo build --release --quiet --workspace --bins

errbot_python="$(bash tests/bench/errbot-venv.sh)"

echo "==> benchmarking" >&2
exec "$CARGO_TARGET_DIR/release/errbot-bench" \
    --errbot-python "$errbot_python" \
    --command "$(printf '%s' "tests/bench/run.sh${*:+ $*}")" \
    "$@"
