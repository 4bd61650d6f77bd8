#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through cargo-fuzz) of every decoder of
# bytes that come from the network or from files: the fragment header,
# every RPC message type (flock, centralized, swim, bedrock, yokan), the
# group-file parser and both config loaders. Targets: fuzz/fuzz_targets/.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Each target runs SECONDS_PER_TARGET (default 60) seconds, all of them if
# none is named. Its corpus is fuzz/corpus/<target>/: the seeds (seed-*,
# committed; rewritten first from the current encoders) plus what the
# fuzzer finds (kept between runs, not committed). A crash, a leak, an
# allocation over 128 MiB or an input taking over 10 s fails the script and
# leaves the input in fuzz/artifacts/<target>/; reproduce it with
#   cd fuzz && cargo +nightly fuzz run <target> artifacts/<target>/<file>
# Needs the nightly toolchain (`cargo +nightly`) and cargo-fuzz (installed
# with `cargo install cargo-fuzz` when missing). Builds with one job unless
# CARGO_BUILD_JOBS says otherwise.
set -euo pipefail

secs="${1:-60}"
[ $# -gt 0 ] && shift
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
"target/$host/release/write-seeds"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list | grep -v '^write-seeds$')
fi

mkdir -p target/logs
failed=0
printf '%-22s %8s %12s %9s %8s  %s\n' target seconds executions exec/s corpus result
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="target/logs/$t.log"
    start=$(date +%s)
    if cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=16384 -timeout=10 -malloc_limit_mb=128 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see fuzz/$log)"
        failed=1
    fi
    took=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(find "corpus/$t" -type f | wc -l)
    printf '%-22s %8s %12s %9s %8s  %s\n' "$t" "$took" "${runs:-?}" "${rate:-?}" "$corpus" "$result"
done
exit $failed
