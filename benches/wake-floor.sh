#!/usr/bin/env bash
# The platform's floor for a client that spreads single calls over several
# server processes, as the group-aware Yokan handle does (README,
# "Distributed Yokan"): a library-free ping-pong over shared memory where
# each server sleeps on a futex unless it is still polling from its last
# answer (wake-floor/wake.c). Cases: one server or 4 taken in turn, servers
# that block at once or poll 50 µs after answering; quiet, and with a
# busy-loop process pinned to each core. Prints one line per case.
#
# Usage: bash benches/wake-floor.sh [calls]
set -euo pipefail
cd "$(dirname "$0")"
calls=${1:-20000}
work=$(mktemp -d)
hogs=()
cleanup() {
    ((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -o "$work/wake" wake-floor/wake.c
cases() {
    for servers in 1 2 4; do
        for poll in 0 50; do
            echo "$1: $("$work/wake" "$servers" "$calls" "$poll")"
        done
    done
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cpuidle $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo '?')"
cases quiet
for cpu in $(seq 0 $(($(nproc) - 1))); do
    taskset -c "$cpu" sh -c 'while :; do :; done' &
    hogs+=($!)
done
cases busy
