#!/usr/bin/env bash
# Yokan latency next to the empty-RPC round trip, same run: a bedrock daemon
# with a yokan `map` provider (id 42), the C client examples-c/yokan/bench.c
# built through find_package(yokan) from an installed prefix; na+sm and
# ofi+tcp, quiet machine.
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
run() {
    protocol=$1
    cat > config.json <<JSON
{"libraries": ["libflock-bedrock-module.so", "libyokan-bedrock-module.so"],
 "providers": [
   {"name": "g", "type": "flock", "provider_id": 1,
    "config": {"bootstrap": "self", "group": {"type": "static"}, "file": "g.flock"}},
   {"name": "kv", "type": "yokan", "provider_id": 42, "config": {"database": {"type": "map"}}}]}
JSON
    rm -f g.flock
    "$prefix/bin/bedrock" "$protocol" -c config.json -v warning &
    for _ in $(seq 300); do [[ -s g.flock ]] && break; sleep 0.05; done
    address=$(python3 -c 'import json; print(json.load(open("g.flock"))["members"][0]["address"])')
    echo "== $protocol"
    "$work/build/yokan-bench" "$protocol" "$address" 42 "$count"
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
    run "$protocol"
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
