#!/usr/bin/env bash
# The Flock-integration tutorial, for real, from an installed prefix:
#  1. basic-config.json: one daemon (self bootstrap, static group, group file),
#     queried with bedrock-query, stopped with bedrock-shutdown;
#  2. distributed-config.json (the tutorial's, without Yokan) under
#     `mpiexec -n 4`: a 4-process group; the documented C++ service-discovery
#     client (examples-c/flock/discovery.cpp, built with find_package) lists
#     every member; bedrock-shutdown stops the group through its file.
# Usage: run.sh PREFIX [PROTOCOL]
set -euo pipefail
prefix=$(cd "$1" && pwd)
protocol=${2:-na+sm}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
bin=$prefix/bin
wait_for() { for _ in $(seq 300); do [[ -s $1 ]] && return 0; sleep 0.05; done; echo "timed out waiting for $1" >&2; return 1; }

echo "== building the documented discovery client against $prefix"
cmake -S "$here/../flock" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" --target client >/dev/null

cd "$work"
echo "== basic-config.json: bedrock $protocol -c basic-config.json"
"$bin/bedrock" "$protocol" -c "$here/basic-config.json" -v warning &
wait_for my_group.flock
echo "group file: $(cat my_group.flock)"
"$bin/bedrock-query" "$protocol" -f my_group.flock | head -c 200; echo " ..."
"$bin/bedrock-shutdown" "$protocol" -f my_group.flock
wait

echo "== distributed-config.json: mpiexec -n 4 bedrock $protocol -c distributed-config.json"
mpiexec -n 4 "$bin/bedrock" "$protocol" -c "$here/distributed-config.json" -v warning &
for _ in $(seq 300); do
    [[ -s distributed_service.flock ]] && [[ $(grep -o '"address"' distributed_service.flock | wc -l) -eq 4 ]] && break
    sleep 0.05
done
first=$(python3 -c 'import json; v=json.load(open("distributed_service.flock")); print(v["members"][0]["address"])')
echo "== discovery client asking $first (provider 1)"
"$work/build/client" "$first" 1
"$bin/bedrock-shutdown" "$protocol" -f distributed_service.flock
wait
echo "tutorial done"
