#!/usr/bin/env bash
# The distributed Yokan store (docs/distributed-yokan.md), 4 bedrock daemons
# in a centralized group (tests/yokan_dist.rs with YOKAN_DIST_BENCH set):
#  * single-key put/get, 64 B values, median and p99 of 2 000 each, through
#    every way of reaching the data, in one run, taking turns 200 keys at a
#    time: a plain provider (no group) at one member and at the key's
#    primary; the replicated database (replication 2) through the key's
#    primary, through a member that holds no copy (one extra hop), and
#    through the group-aware handle; a database with one copy per key
#    (replication 1) through the primary and the group-aware handle;
#  * the idle cost of the four members once the calls stop: CPU and
#    wake-ups per second of each over 10 s;
#  * KEYS keys (default 100 000, ~16-64 B): the time until all are readable
#    after a member is SIGKILLed, and to restore both copies of every key.
# Both transports. Prints the load average before and after (other work on
# the machine changes the numbers a lot: see the README).
#   usage: benches/yokan-dist.sh [KEYS]
# YOKAN_DIST_BEDROCK=/path/to/other/build/bedrock runs the daemons of another
# build (e.g. the previous commit) under the same client, for before/after.
# BUSY=1 runs it all with one busy loop pinned to each core (started and
# stopped here), the way an application's ranks sit on the node.
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-100000}
cargo build --release >/dev/null 2>&1
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hogs=()
trap '((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null; true' EXIT
if [[ ${BUSY:-0} == 1 ]]; then
    for cpu in $(seq 0 $(($(nproc) - 1))); do
        taskset -c "$cpu" sh -c 'while :; do :; done' &
        hogs+=($!)
    done
    echo "one busy loop pinned to each of $(nproc) cores"
fi
YOKAN_DIST_BENCH=1 YOKAN_DIST_KEYS="$keys" cargo test --release --test yokan_dist -- --nocapture --test-threads=1 2>&1 \
    | sed 's/^test [a-z_]* \.\.\. //' | grep -E "^(na\+sm|ofi\+tcp):|test result"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
