#!/usr/bin/env bash
# Margo bulk throughput between two processes: 4 x 64 MiB pulled, then
# pushed, by a server through a handle the client sent in an RPC input
# (benches/bulk-throughput/bulk-bench.c), with margo_bulk_transfer,
# margo_bulk_itransfer + margo_wait and margo_bulk_parallel_transfer
# (1 MiB and 4 MiB chunks), on na+sm and ofi+tcp; medians of RUNS runs.
#
# Usage: bash benches/bulk-throughput.sh PREFIX [RUNS] [BASELINE_LIBMOCHI_SO]
#   PREFIX: an installed libmochi (make install PREFIX=...); with a
#   baseline libmochi.so (another build's), margo_bulk_transfer runs are
#   interleaved with runs of the same program against it (it only needs
#   the blocking transfer), for an A/B on a busy machine.
set -euo pipefail
prefix=$(cd "$1" && pwd)
runs=${2:-4}
baseline=${3:-}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cc -O2 -Wall -Wextra -o "$work/bulk-bench" "$(dirname "$0")/bulk-throughput/bulk-bench.c" \
    -I"$prefix/include" -L"$prefix/lib" -lmochi -Wl,-rpath,"$prefix/lib"
if [[ -n $baseline ]]; then
    mkdir -p "$work/baseline"
    cp "$baseline" "$work/baseline/libmochi.so.0"
fi
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# one LIBDIR PROTOCOL MODE CHUNK: one server + client pair; prints the client's line.
one() {
    local libdir=$1 protocol=$2 mode=$3 chunk=$4
    rm -f "$work/addr"
    (
        [[ -n $libdir ]] && export LD_LIBRARY_PATH=$libdir
        timeout 120 "$work/bulk-bench" server "$protocol" "$work/addr" >/dev/null &
        server=$!
        for _ in $(seq 600); do [[ -s $work/addr ]] && break; sleep 0.05; done
        timeout 120 "$work/bulk-bench" client "$protocol" "$(cat "$work/addr")" "$mode" "$chunk"
        wait "$server"
    )
}

# median LABEL < lines of "pull N MiB/s push N MiB/s"
median() {
    python3 -c '
import re, statistics, sys
pulls, pushes = [], []
for l in sys.stdin:
    m = re.search(r"pull (\d+) MiB/s push (\d+) MiB/s", l)
    if m:
        pulls.append(int(m[1])); pushes.append(int(m[2]))
if pulls:
    print("%-44s pull %5d MiB/s  push %5d MiB/s  (median of %d; pull %d-%d)" % (
        sys.argv[1], statistics.median(pulls), statistics.median(pushes), len(pulls), min(pulls), max(pulls)))
else:
    print("%-44s no result" % sys.argv[1])' "$1"
}

for protocol in na+sm ofi+tcp; do
    echo "== $protocol"
    for spec in "0 0 margo_bulk_transfer" "1 0 margo_bulk_itransfer+margo_wait" \
                "2 1048576 parallel_transfer, 1 MiB chunks" "2 4194304 parallel_transfer, 4 MiB chunks"; do
        read -r mode chunk label <<<"$spec"
        : >"$work/new" && : >"$work/old"
        for _ in $(seq "$runs"); do
            one "" "$protocol" "$mode" "$chunk" >>"$work/new"
            if [[ -n $baseline && $mode == 0 ]]; then one "$work/baseline" "$protocol" 0 0 >>"$work/old"; fi
        done
        median "$label" <"$work/new"
        if [[ -n $baseline && $mode == 0 ]]; then median "$label (baseline)" <"$work/old"; fi
    done
done
