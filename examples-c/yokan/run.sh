#!/usr/bin/env bash
# Builds the C and C++ Yokan clients through find_package(yokan) from an
# installed prefix and runs them against a bedrock daemon serving a map
# (provider 42, spread over a one-member Flock group) and an lmdb (provider
# 43) database; the C and C++ collections examples against the lmdb one, a
# plain map (44), an unordered_map (45), and 42 (a shard of a database
# spread over the group); then the programs that register providers themselves
# (yokan/server.h, yokan::Provider).
# Usage: run.sh PREFIX [PROTOCOL]
set -euo pipefail
prefix=$(cd "$1" && pwd)
protocol=${2:-na+sm}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
cd "$work"
cat > config.json <<JSON
{
  "libraries": ["$prefix/lib/libflock-bedrock-module.so", "$prefix/lib/libyokan-bedrock-module.so"],
  "providers": [
    {"name": "group", "type": "flock", "provider_id": 1,
     "config": {"bootstrap": "self", "group": {"type": "static"}, "file": "group.flock"}},
    {"name": "kv_map", "type": "yokan", "provider_id": 42,
     "config": {"database": {"type": "map"}}, "dependencies": {"group": "group"}},
    {"name": "kv_lmdb", "type": "yokan", "provider_id": 43,
     "config": {"database": {"type": "lmdb", "config": {"path": "$work/lmdb"}}}},
    {"name": "kv_plain", "type": "yokan", "provider_id": 44,
     "config": {"database": {"type": "map"}}},
    {"name": "kv_unordered", "type": "yokan", "provider_id": 45,
     "config": {"database": {"type": "unordered_map"}}}
  ]
}
JSON
"$prefix/bin/bedrock" "$protocol" -c config.json -v warning &
for _ in $(seq 300); do [[ -s group.flock ]] && break; sleep 0.05; done
address=$(python3 -c 'import json; print(json.load(open("group.flock"))["members"][0]["address"])')
for id in 42 43; do
    echo "== $protocol, provider $id"
    "$work/build/yokan-client-c" "$protocol" "$address" "$id"
    "$work/build/yokan-client-cxx" "$protocol" "$address" "$id"
done
for id in 43 44 45 42; do
    echo "== $protocol, collections, provider $id"
    "$work/build/yokan-collection-cxx" "$protocol" "$address" "$id"
    "$work/build/yokan-collection-c" "$protocol" "$address" "$id"
done
"$prefix/bin/bedrock-shutdown" "$protocol" -f group.flock
wait
test -f "$work/lmdb/data.mdb" || { echo "the lmdb files were removed at shutdown" >&2; exit 1; }
echo "== $protocol, providers the program registers (yokan/server.h)"
mkdir -p "$work/own-lmdb"
"$work/build/yokan-server-c" "$protocol" "$work/own-lmdb"
"$work/build/yokan-server-cxx" "$protocol"
echo "yokan clients done ($protocol)"
