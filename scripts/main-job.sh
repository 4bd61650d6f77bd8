#!/usr/bin/env bash
# The main job: installs what it needs, builds, then runs a server process and
# client processes exchanging RPCs over na+sm and ofi+tcp.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --bins
bin=target/release/mochi-echo
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
for protocol in na+sm ofi+tcp; do
    "$bin" server "$protocol" --addr-file "$work/server.addr" >/dev/null &
    server=$!
    for _ in $(seq 200); do [[ -s $work/server.addr ]] && break; sleep 0.05; done
    addr=$(cat "$work/server.addr")
    echo "== server listening at $addr"
    "$bin" client "$addr" --count 20000 --size 64
    "$bin" client "$addr" --count 2000 --size 64 --threads 4
    "$bin" client "$addr" --count 20 --size $((64 << 20)) --shutdown
    wait "$server"
    rm -f "$work/server.addr"
done
