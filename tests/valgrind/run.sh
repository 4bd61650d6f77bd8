#!/usr/bin/env bash
# run.sh PREFIX [PROTOCOL]
#
# Valgrind memcheck over a short scenario, from an installed prefix: the
# `bedrock` daemon (tutorial's basic-config.json: a one-member Flock group)
# and the C Flock discovery client (examples-c/flock/discovery.c, built with
# find_package) both run under memcheck; the client lists the group, then
# bedrock-shutdown stops the daemon. Any memcheck error (invalid read or
# write, use of uninitialised values, bad free, ...) or definitely lost
# block in either program, or a failed step, fails the run. Memory still
# reachable at exit (process-lifetime allocations: libfabric's, the engine
# registry's) is not counted.
# Environment: TIMEOUT (seconds per step, default 120), KEEP_TMP=1.
set -euo pipefail
prefix=$(cd "$1" && pwd)
protocol=${2:-na+sm}
timeout=${TIMEOUT:-120}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mochi-valgrind.XXXXXX")
daemon=
cleanup() {
    if [[ -n $daemon ]]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
    if [[ ${KEEP_TMP:-0} = 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
command -v valgrind >/dev/null || { echo "valgrind not found: run scripts/install-deps.sh" >&2; exit 1; }
# --error-exitcode makes any memcheck error the program's exit status.
memcheck=(valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes --quiet --leak-check=full --errors-for-leak-kinds=definite)

echo "== building the C discovery client against $prefix"
cmake -S "$repo/examples-c/flock/c" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DEXAMPLES_WERROR=ON >/dev/null
cmake --build "$work/build" >/dev/null

cd "$work"
echo "== memcheck: bedrock $protocol -c basic-config.json"
timeout -k 5 "$timeout" "${memcheck[@]}" --log-file="$work/daemon.vg" \
    "$prefix/bin/bedrock" "$protocol" -c "$repo/examples-c/tutorial/basic-config.json" -v warning \
    >"$work/daemon.out" 2>&1 &
daemon=$!
for _ in $(seq $((timeout * 10))); do
    [[ -s my_group.flock ]] && break
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.1
done
[[ -s my_group.flock ]] || { echo "the daemon wrote no group file" >&2; cat "$work/daemon.out" "$work/daemon.vg" >&2; exit 1; }
address=$(python3 -c 'import json; print(json.load(open("my_group.flock"))["members"][0]["address"])')

echo "== memcheck: discovery-c $address 1"
if ! timeout -k 5 "$timeout" "${memcheck[@]}" --log-file="$work/client.vg" \
        "$work/build/discovery-c" "$address" 1 >"$work/client.out" 2>&1; then
    echo "the client failed under memcheck:" >&2; cat "$work/client.out" "$work/client.vg" >&2; exit 1
fi
grep -qx "Group size: 1 members" "$work/client.out" \
    || { echo "unexpected client output:" >&2; cat "$work/client.out" >&2; exit 1; }
echo "client: $(head -n 1 "$work/client.out"), no memcheck error"

echo "== bedrock-shutdown, then the daemon's memcheck verdict"
timeout -k 5 "$timeout" "$prefix/bin/bedrock-shutdown" "$protocol" -f my_group.flock
rc=0
wait "$daemon" || rc=$?
daemon=
if ((rc != 0)); then
    echo "the daemon exited $rc under memcheck (99: memcheck errors):" >&2
    cat "$work/daemon.out" "$work/daemon.vg" >&2
    exit 1
fi
echo "daemon: exited 0, no memcheck error"
