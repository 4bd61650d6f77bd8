#!/usr/bin/env bash
# The group-aware Yokan handle from C and C++ (group.c, group.cpp), built
# through find_package(yokan) and find_package(flock) from an installed
# prefix, against 3 bedrock daemons in a centralized group with replication
# 2: keys written through the handle, one member killed with SIGKILL, every
# key read back through a new handle made from the group file.
# Usage: run-group.sh PREFIX [PROTOCOL] [KEYS]
set -euo pipefail
prefix=$(cd "$1" && pwd)
protocol=${2:-na+sm}
keys=${3:-600}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
cd "$work"
cat > member.json <<JSON
{
  "libraries": ["libflock-bedrock-module.so", "libyokan-bedrock-module.so"],
  "providers": [
    {"name": "service_group", "type": "flock", "provider_id": 1,
     "config": {"bootstrap": ["join", "self"], "file": "$work/group.flock",
                "group": {"type": "centralized",
                          "config": {"ping_timeout_ms": 400, "ping_interval_ms": [800, 1000], "ping_max_num_timeouts": 2}}}},
    {"name": "kv_store", "type": "yokan", "provider_id": 42,
     "config": {"database": {"type": "map"}, "replication": 2},
     "dependencies": {"group": "service_group"}},
    {"name": "kv_plain", "type": "yokan", "provider_id": 43, "config": {"database": {"type": "map"}}}
  ]
}
JSON
members() { python3 -c 'import json,sys; [print(m["address"]) for m in json.load(open(sys.argv[1]))["members"]]' group.flock 2>/dev/null || true; }
for i in 0 1 2; do
    "$prefix/bin/bedrock" "$protocol" -c member.json 2>"member$i.log" &
    pids+=($!)
    disown
    for _ in $(seq 200); do [ "$(members | wc -l)" -gt "$i" ] && break; sleep 0.05; done
done
echo "== $protocol: 3 members, replication 2"
"$work/build/yokan-group" "$protocol" group.flock 42 43 write "$keys"
"$work/build/yokan-group-cxx" "$protocol" group.flock 42
kill -9 "${pids[1]}"
echo "killed one member with SIGKILL"
"$work/build/yokan-group" "$protocol" group.flock 42 43 read "$keys"
echo "group-aware yokan handle done ($protocol)"
