#!/usr/bin/env bash
# The platform's floor for the ofi+tcp rows of engine-wait.sh: a 64-byte
# ping-pong over loopback TCP with blocking send/recv and no library, quiet
# and with a busy-loop process pinned to each core; also with a 50 µs poll
# of non-blocking reads before each blocking one (how a tcp progress loop
# polls). Prints one line per case and round.
#
# Usage: bash benches/tcp-floor.sh [calls] [rounds]
set -euo pipefail
cd "$(dirname "$0")"
count=${1:-20000}
rounds=${2:-3}
work=$(mktemp -d)
pids=()
cleanup() {
    ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -o "$work/pingpong" tcp-floor/pingpong.c

run() { # label busy poll_us
    local port=$((20000 + RANDOM % 20000))
    POLL_US=$3 "$work/pingpong" server $port &
    local server=$!
    pids=($server)
    if [[ $2 == 1 ]]; then
        for cpu in $(seq 0 $(($(nproc) - 1))); do
            taskset -c "$cpu" sh -c 'while :; do :; done' &
            pids+=($!)
        done
    fi
    echo "$1: $(POLL_US=$3 "$work/pingpong" client $port "$count")"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
}

for round in $(seq "$rounds"); do
    run "round $round quiet, blocking" 0 0
    run "round $round busy cores, blocking" 1 0
    run "round $round busy cores, 50 us poll" 1 50
done
