#!/usr/bin/env bash
# Builds and runs the fuzz targets (cargo-fuzz, libFuzzer) of tests/fuzz/.
#
#   tests/fuzz/run.sh --smoke              what CI runs: every target for 6 s
#   tests/fuzz/run.sh --time 7200          every target for two hours, one after the other
#   tests/fuzz/run.sh --time 600 irc acl   some targets only
#   tests/fuzz/run.sh --build              build only
#
# Installs what it needs (the nightly toolchain, cargo-fuzz) when missing. Seeds come from the
# repository's unit tests (seeds.py) and are added to the corpora, which are kept in
# $FUZZ_DIR (default: $CARGO_TARGET_DIR/fuzz), so each run starts where the last one stopped.
# A crash, hang (-timeout) or OOM (-rss_limit_mb) fails the run and leaves its input under
# $FUZZ_DIR/artifacts/TARGET/; reproduce it with `BINARY ARTIFACT` (the line is printed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/errbot-rs/target}"
FUZZ_DIR="${FUZZ_DIR:-$CARGO_TARGET_DIR/fuzz}"
ALL=(dispatch args config acl reply_split storage webhook irc console slack slack_events mattermost mattermost_events backend_settings)

time_per_target=60
build_only=false
# Optimised builds (release, with debug assertions). `FUZZ_PROFILE=dev` builds unoptimised
# instead: quicker to rebuild after a change, slower to run.
profile=(--release)
profile_dir=release
if [ "${FUZZ_PROFILE:-release}" = dev ]; then
    profile=(--dev)
    profile_dir=debug
fi
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) time_per_target=6 ;;
        --time) time_per_target="$2"; shift ;;
        --build) build_only=true ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1") ;;
    esac
    shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL[@]}")

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "==> installing the nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# The repository's versions of every shared dependency (the fuzz project is its own workspace).
cp "$root/Cargo.lock" "$here/Cargo.lock"
echo "==> building the fuzz targets"
build_started=$SECONDS
# `cargo fuzz build` takes one target or all of them.
if [ ${#targets[@]} -ne ${#ALL[@]} ]; then
    for t in "${targets[@]}"; do
        (cd "$root" && cargo +nightly fuzz build --fuzz-dir tests/fuzz "${profile[@]}" --sanitizer none --debug-assertions "$t")
    done
else
    (cd "$root" && cargo +nightly fuzz build --fuzz-dir tests/fuzz "${profile[@]}" --sanitizer none --debug-assertions)
fi
echo "built in $((SECONDS - build_started)) s"
$build_only && exit 0

bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/$profile_dir"
python3 "$here/seeds.py" "$FUZZ_DIR/seeds" >/dev/null
failed=()
for t in "${targets[@]}"; do
    corpus="$FUZZ_DIR/corpus/$t"
    artifacts="$FUZZ_DIR/artifacts/$t/"
    mkdir -p "$corpus" "$artifacts"
    # The IRC reader cuts lines at 8703 bytes: its inputs must be able to be longer.
    max_len=4096
    [ "$t" = irc ] && max_len=20000
    echo "==> fuzzing $t for ${time_per_target} s"
    if ! "$bin/$t" "$corpus" "$FUZZ_DIR/seeds/$t" \
        -max_total_time="$time_per_target" -rss_limit_mb=2048 -timeout=10 -max_len="$max_len" \
        -artifact_prefix="$artifacts" -print_final_stats=1 </dev/null >"$FUZZ_DIR/$t.log" 2>&1; then
        tail -n 40 "$FUZZ_DIR/$t.log" >&2
        echo "fuzz target $t failed; reproduce with: $bin/$t $(ls -t "$artifacts" | head -n 1 | sed "s|^|$artifacts|")" >&2
        failed+=("$t")
        continue
    fi
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$FUZZ_DIR/$t.log" | tail -n 2 | tr '\n' ' '
    echo
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing passed"
