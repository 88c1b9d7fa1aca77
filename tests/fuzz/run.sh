#!/usr/bin/env bash
# Builds and runs the fuzz targets (cargo-fuzz, libFuzzer) of tests/fuzz/.
#
#   tests/fuzz/run.sh --smoke              what CI runs: every target for 6 s
#   tests/fuzz/run.sh --time 7200          every target for two hours, one after the other
#   tests/fuzz/run.sh --time 600 irc acl   some targets only
#   tests/fuzz/run.sh --long               every target at once (nice 19), each until 10 million
#                                          executions or two hours: the long run of BENCHMARKS.md
#   tests/fuzz/run.sh --build              build only; --no-build runs the targets as last built
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
ALL=(dispatch args config acl reply_split storage webhook irc console slack slack_events mattermost mattermost_events xmpp xmpp_events telegram telegram_events backend_settings)

time_per_target=60
build_only=false
build=true
parallel=false
runs=-1
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
        --no-build) build=false ;;
        --long) parallel=true; runs=10000000; time_per_target=7200 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
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

if $build; then
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
fi
$build_only && exit 0

bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/$profile_dir"
python3 "$here/seeds.py" "$FUZZ_DIR/seeds" >/dev/null
# Fuzzes one target; its log is $FUZZ_DIR/TARGET.log. Fails on a crash, hang or OOM.
fuzz_one() {
    local t="$1" corpus="$FUZZ_DIR/corpus/$1" artifacts="$FUZZ_DIR/artifacts/$1/"
    mkdir -p "$corpus" "$artifacts"
    # The IRC reader cuts lines at 8703 bytes: its inputs must be able to be longer.
    local max_len=4096
    [ "$t" = irc ] && max_len=20000
    if ! "$bin/$t" "$corpus" "$FUZZ_DIR/seeds/$t" \
        -max_total_time="$time_per_target" -runs="$runs" -rss_limit_mb=2048 -timeout=10 \
        -max_len="$max_len" -artifact_prefix="$artifacts" -print_final_stats=1 \
        </dev/null >"$FUZZ_DIR/$t.log" 2>&1; then
        tail -n 40 "$FUZZ_DIR/$t.log" >&2
        echo "fuzz target $t failed; reproduce with: $bin/$t $(ls -t "$artifacts" | head -n 1 | sed "s|^|$artifacts|")" >&2
        return 1
    fi
}
# The figures of a finished run: executions, coverage, features, corpus, seconds.
summary() {
    local log="$FUZZ_DIR/$1.log"
    printf '%-18s executions %s, cov %s, ft %s, corpus %s, %s s\n' "$1" \
        "$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")" \
        "$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)" \
        "$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)" \
        "$(grep -oE 'corp: [0-9]+/[0-9a-zA-Z]+' "$log" | tail -n 1 | cut -d' ' -f2)" \
        "$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 | awk '{print $5}')"
}
failed=()
if $parallel; then
    echo "==> fuzzing ${targets[*]} at once, each until $runs executions or ${time_per_target} s"
    declare -A pids=()
    for t in "${targets[@]}"; do
        ( renice -n 19 -p $BASHPID >/dev/null; fuzz_one "$t" ) &
        pids[$t]=$!
    done
    for t in "${targets[@]}"; do
        wait "${pids[$t]}" || failed+=("$t")
    done
else
    for t in "${targets[@]}"; do
        echo "==> fuzzing $t for ${time_per_target} s"
        fuzz_one "$t" || { failed+=("$t"); continue; }
    done
fi
for t in "${targets[@]}"; do
    summary "$t"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing passed"
