#!/usr/bin/env bash
# How the engine waits: RPC latency on a quiet machine and with a busy-loop
# process pinned to each core (the way MPI ranks sit on a node), the idle
# cost of a bedrock daemon with a static flock group and of the daemons of
# a 3-member centralized group with the default ping settings (CPU over
# 10 s and wake-ups per second, from /proc), and flock handle create +
# get_view; each over na+sm and ofi+tcp. Prints a markdown table.
#
# Usage: bash benches/engine-wait.sh [calls] [bin-dir]
#   bin-dir: where mochi-echo and bedrock are (default: this tree's release
#   build); pass another build's to compare two versions in the same run.
#   SIZE=N: payload bytes of the RPC rows (default 0, an empty RPC).
#   IDLE_ONLY=1: only the idle rows (no busy loops: harmless beside other
#   work on the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20000}
bin=${2:-}
if [[ -z $bin ]]; then
    cargo build --release --bins -q
    bin=${CARGO_TARGET_DIR:-target}/release
fi
bin=$(cd "$bin" && pwd)
work=$(mktemp -d)
hogs=()
cleanup() {
    ((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null
    kill $(jobs -p) 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

start_hogs() {
    for cpu in $(seq 0 $(($(nproc) - 1))); do
        taskset -c "$cpu" sh -c 'while :; do :; done' &
        hogs+=($!)
    done
}
stop_hogs() {
    kill "${hogs[@]}" 2>/dev/null || true
    wait "${hogs[@]}" 2>/dev/null || true
    hogs=()
}

# field NAME LINE: the value of NAME=... in a result line.
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
# wakeups PID: voluntary context switches of all its threads.
wakeups() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
# idle_cost PID...: "CPU %, wake-ups/s" of each process over 10 s.
idle_cost() {
    local pid t0=() w0=() out=() i=0
    for pid in "$@"; do t0+=("$(ticks "$pid")"); w0+=("$(wakeups "$pid")"); done
    sleep 10
    for pid in "$@"; do
        local t=$(($(ticks "$pid") - t0[i])) w=$(($(wakeups "$pid") - w0[i]))
        out+=("$(awk -v t="$t" -v w="$w" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f %%, %.1f /s", t / hz / 10 * 100, w / 10}')")
        i=$((i + 1))
    done
    local IFS=';'
    echo "${out[*]}"
}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r), libfabric $(pkg-config --modversion libfabric), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binaries: $bin"
echo
echo "| | na+sm | ofi+tcp |"
echo "|---|---|---|"
declare -A cell
idle_only=${IDLE_ONLY:-0}
for protocol in na+sm ofi+tcp; do
    if [[ $idle_only != 1 ]]; then
        # RPC: an echo server and a client in separate processes.
        rm -f "$work/addr"
        "$bin/mochi-echo" server "$protocol" --addr-file "$work/addr" >/dev/null &
        server=$!
        for _ in $(seq 200); do [[ -s $work/addr ]] && break; sleep 0.05; done
        addr=$(cat "$work/addr")
        quiet=$("$bin/mochi-echo" client "$addr" --count "$count" --size "${SIZE:-0}")
        start_hogs
        loaded=$("$bin/mochi-echo" client "$addr" --count "$count" --size "${SIZE:-0}")
        stop_hogs
        "$bin/mochi-echo" client "$addr" --count 1 --shutdown >/dev/null
        wait "$server" || true
        cell[q,$protocol]="$(field median_us "$quiet") µs / $(field p99_us "$quiet") µs"
        cell[h,$protocol]="$(field median_us "$loaded") µs / $(field p99_us "$loaded") µs"
    fi

    # Idle daemon: bedrock with a static flock group.
    dir="$work/$protocol"
    mkdir -p "$dir"
    cat >"$dir/config.json" <<JSON
{"libraries": {"flock": "libflock-bedrock-module.so"},
 "providers": [{"name": "g", "type": "flock", "provider_id": 1, "pool": "__primary__",
   "config": {"bootstrap": "self", "group": {"type": "static", "config": {}}, "file": "$dir/g.flock"}}]}
JSON
    (cd "$dir" && exec "$bin/bedrock" "$protocol" -c config.json >/dev/null 2>&1) &
    daemon=$!
    for _ in $(seq 200); do [[ -s $dir/g.flock ]] && break; sleep 0.05; done
    if [[ $idle_only != 1 ]]; then
        flock_quiet=$("$bin/mochi-echo" flock "$dir/g.flock" --count 2000 2>/dev/null || true)
        start_hogs
        flock_loaded=$("$bin/mochi-echo" flock "$dir/g.flock" --count 2000 2>/dev/null || true)
        stop_hogs
        cell[fq,$protocol]="$(field median_us "$flock_quiet") µs / $(field p99_us "$flock_quiet") µs"
        cell[fh,$protocol]="$(field median_us "$flock_loaded") µs / $(field p99_us "$flock_loaded") µs"
    fi
    sleep 1
    cost=$(idle_cost "$daemon")
    kill -TERM "$daemon"; wait "$daemon" || true
    cell[i,$protocol]=$(sed 's|%, \(.*\) /s|% of a core, \1 wake-ups/s|' <<<"$cost")

    # Idle daemons of a centralized group: three bedrock daemons, the first
    # creates the group (primary), the others join it through the group
    # file; default ping settings (1 s interval and timeout).
    cat >"$dir/central.json" <<JSON
{"libraries": {"flock": "libflock-bedrock-module.so"},
 "providers": [{"name": "g", "type": "flock", "provider_id": 1, "pool": "__primary__",
   "config": {"bootstrap": ["join", "self"], "group": {"type": "centralized", "config": {}}, "file": "$dir/c.flock"}}]}
JSON
    members=()
    for n in 1 2 3; do
        (cd "$dir" && exec "$bin/bedrock" "$protocol" -c central.json >/dev/null 2>"$dir/central-$n.log") &
        members+=($!)
        for _ in $(seq 400); do
            [[ $(grep -o '"address"' "$dir/c.flock" 2>/dev/null | wc -l) -ge $n ]] && break
            sleep 0.05
        done
    done
    # Past the joins and the start-up grace.
    sleep 6
    IFS=';' read -r c1 c2 c3 <<<"$(idle_cost "${members[@]}")"
    kill -TERM "${members[@]}"; wait "${members[@]}" || true
    cell[c,$protocol]="primary $c1; followers $c2 and $c3"
done
if [[ $idle_only != 1 ]]; then
    echo "| empty RPC (${SIZE:-0} B echo), quiet: median / p99 | ${cell[q,na+sm]} | ${cell[q,ofi+tcp]} |"
    echo "| same, one busy loop pinned on each core | ${cell[h,na+sm]} | ${cell[h,ofi+tcp]} |"
    echo "| flock handle create + get_view, quiet | ${cell[fq,na+sm]} | ${cell[fq,ofi+tcp]} |"
    echo "| same, one busy loop pinned on each core | ${cell[fh,na+sm]} | ${cell[fh,ofi+tcp]} |"
fi
echo "| idle bedrock daemon (static group) over 10 s | ${cell[i,na+sm]} | ${cell[i,ofi+tcp]} |"
echo "| idle bedrock daemons (centralized group of 3, default pings) over 10 s: CPU, wake-ups | ${cell[c,na+sm]} | ${cell[c,ofi+tcp]} |"
