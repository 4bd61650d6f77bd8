#!/usr/bin/env bash
# Yokan latency next to the empty-RPC round trip, same run: a bedrock daemon
# with a yokan `map` provider (id 42), the C client examples-c/yokan/bench.c
# built through find_package(yokan) from an installed prefix; na+sm and
# ofi+tcp, quiet and with a busy loop pinned to each core; and the daemon's
# idle cost once the calls stop (CPU and wake-ups per second over 10 s,
# keys still stored).
# Usage: bash benches/yokan.sh [PREFIX] [COUNT]   (PREFIX default build/prefix,
# installed with `make install PREFIX=...`)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(cd "${1:-build/prefix}" && pwd)
count=${2:-20000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cmake -S examples-c/yokan -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" --target yokan-bench >/dev/null
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r), load: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$work"
# idle_cost PID: "CPU %, wake-ups/s" over 10 s (wake-ups: voluntary context
# switches of all its threads).
idle_cost() {
    local t0 w0 t1 w1
    ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
    wakeups() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
    t0=$(ticks "$1"); w0=$(wakeups "$1")
    sleep 10
    t1=$(ticks "$1"); w1=$(wakeups "$1")
    awk -v t=$((t1 - t0)) -v w=$((w1 - w0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%.2f %% of a core, %.1f wake-ups/s\n", t / hz / 10 * 100, w / 10}'
}
run() {
    protocol=$1
    measure_idle=${2:-0}
    cat > config.json <<JSON
{"libraries": ["libflock-bedrock-module.so", "libyokan-bedrock-module.so"],
 "providers": [
   {"name": "g", "type": "flock", "provider_id": 1,
    "config": {"bootstrap": "self", "group": {"type": "static"}, "file": "g.flock"}},
   {"name": "kv", "type": "yokan", "provider_id": 42, "config": {"database": {"type": "map"}}}]}
JSON
    rm -f g.flock
    "$prefix/bin/bedrock" "$protocol" -c config.json -v warning &
    daemon=$!
    for _ in $(seq 300); do [[ -s g.flock ]] && break; sleep 0.05; done
    address=$(python3 -c 'import json; print(json.load(open("g.flock"))["members"][0]["address"])')
    echo "== $protocol"
    "$work/build/yokan-bench" "$protocol" "$address" 42 "$count"
    if [[ $measure_idle == 1 ]]; then
        echo "idle daemon after the calls, over 10 s: $(idle_cost "$daemon")"
    fi
    "$prefix/bin/bedrock-shutdown" "$protocol" -f g.flock >/dev/null
    wait "$!" 2>/dev/null || true
    # The empty-RPC round trip in the same run, for comparison.
    rm -f addr
    "$prefix/bin/mochi-echo" server "$protocol" --addr-file addr >/dev/null &
    for _ in $(seq 300); do [[ -s addr ]] && break; sleep 0.05; done
    "$prefix/bin/mochi-echo" client "$(cat addr)" --count "$count" --size 64 | sed 's/^/empty RPC (64 B echo): /'
    "$prefix/bin/mochi-echo" client "$(cat addr)" --count 1 --shutdown >/dev/null
    wait "$!" 2>/dev/null || true
}
for protocol in na+sm ofi+tcp; do
    echo "-- quiet"
    run "$protocol" 1
    # One busy-loop process pinned to each core, as MPI ranks sit on a node.
    hogs=()
    for c in $(seq 0 $(($(nproc) - 1))); do
        taskset -c "$c" sh -c 'while :; do :; done' &
        hogs+=($!)
    done
    echo "-- one busy loop pinned to each core"
    run "$protocol"
    kill "${hogs[@]}"
    wait "${hogs[@]}" 2>/dev/null || true
done
