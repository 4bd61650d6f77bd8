#!/usr/bin/env bash
# RPC latency and throughput between two processes (release build).
# Usage: bash benches/rpc-latency.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20000}
cargo build --release --bins -q
bin=target/release/mochi-echo
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), libfabric $(pkg-config --modversion libfabric)"
for protocol in na+sm ofi+tcp; do
    "$bin" server "$protocol" --addr-file "$work/addr" >/dev/null &
    server=$!
    for _ in $(seq 200); do [[ -s $work/addr ]] && break; sleep 0.05; done
    addr=$(cat "$work/addr")
    echo "== $protocol"
    "$bin" client "$addr" --count "$count" --size 64
    "$bin" client "$addr" --count "$count" --size 64 --threads 4
    "$bin" client "$addr" --count 200 --size $((1 << 20))
    "$bin" client "$addr" --count 20 --size $((64 << 20))
    # Idle CPU of the server over two seconds (clock ticks from /proc).
    t0=$(awk '{print $14+$15}' /proc/$server/stat); sleep 2; t1=$(awk '{print $14+$15}' /proc/$server/stat)
    echo "idle server CPU: $(( (t1 - t0) * 100 / $(getconf CLK_TCK) / 2 ))% of one core"
    "$bin" client "$addr" --count 1 --shutdown >/dev/null
    wait "$server"
    rm -f "$work/addr"
done
