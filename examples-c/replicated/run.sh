#!/usr/bin/env bash
# The tutorial's distributed deployment as a replicated key-value store:
# 4 bedrock daemons (the tutorial's flock + yokan providers, provider ids 1
# and 42, with a centralized group and "replication": 2) started one by one
# (an MPI launcher would end the whole job when one rank dies), keys written
# through one member, another member killed with SIGKILL, every key read
# back through a third. Prints the counts; fails if a key is lost.
#   usage: run.sh PREFIX [PROTOCOL] [KEYS]
set -euo pipefail
prefix=$(cd "$1" && pwd)
protocol=${2:-na+sm}
keys=${3:-1000}
bin="$prefix/bin"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
cat > member.json <<JSON
{
  "libraries": ["libflock-bedrock-module.so", "libyokan-bedrock-module.so"],
  "providers": [
    {"name": "service_group", "type": "flock", "provider_id": 1, "pool": "__primary__",
     "config": {"bootstrap": ["join", "self"], "file": "$work/distributed_service.flock",
                "group": {"type": "centralized",
                          "config": {"ping_timeout_ms": 400, "ping_interval_ms": [800, 1000], "ping_max_num_timeouts": 2}}}},
    {"name": "kv_store", "type": "yokan", "provider_id": 42, "pool": "__primary__",
     "config": {"database": {"type": "map"}, "replication": 2},
     "dependencies": {"group": "service_group"}}
  ]
}
JSON
members() { python3 -c 'import json,sys; [print(m["address"]) for m in json.load(open(sys.argv[1]))["members"]]' distributed_service.flock 2>/dev/null || true; }
for i in 0 1 2 3; do
    "$bin/bedrock" "$protocol" -c member.json -o "out$i.json" 2>"member$i.log" &
    pids+=($!)
    disown
    for _ in $(seq 200); do [ "$(members | wc -l)" -gt "$i" ] && break; sleep 0.05; done
done
mapfile -t addresses < <(for i in 0 1 2 3; do python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["margo"]["mercury"]["address"])' "out$i.json"; done)
echo "== 4 members, replication 2: ${addresses[*]}"
site=$(echo "$prefix"/lib/python3*/site-packages)
PYTHONPATH="$site" python3 - "$protocol" "$keys" "${pids[1]}" "${addresses[@]}" <<'PY'
import os, signal, sys, time
from mochi.margo import Engine
from mochi.yokan.client import Client
protocol, keys, victim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
addresses = sys.argv[4:]
engine = Engine(protocol)
client = Client(engine)
db = [client.make_database_handle(engine.lookup(a), 42) for a in addresses]
pairs = [(f"key{i:06d}", f"value of key {i}") for i in range(keys)]
for start in range(0, keys, 100):
    db[0].put_multi(pairs[start:start + 100])
print(f"wrote {keys} keys through member 0; the group counts {db[3].count()}")
os.kill(victim, signal.SIGKILL)
print(f"killed member 1 ({addresses[1]}) with SIGKILL")
buf = bytearray(64)
def readable():
    good = 0
    for k, v in pairs:
        try:
            n = db[2].get(k, buf)
            good += bytes(buf[:n]) == v.encode()
        except Exception:
            pass
    return good
start = time.time()
good = readable()
print(f"read {good} of {keys} keys back through member 2 ({time.time() - start:.2f} s after the kill)")
deadline = time.time() + 30
while time.time() < deadline and db[2].count() != keys:
    time.sleep(0.2)
print(f"after the group dropped member 1: the group counts {db[2].count()}, {readable()} of {keys} readable through member 2")
del db, client
engine.finalize()
sys.exit(0 if good == keys else 1)
PY
# The survivors stop gracefully (SIGTERM: each hands its keys off and leaves).
for i in 0 2 3; do kill -TERM "${pids[$i]}"; done
for i in 0 2 3; do
    for _ in $(seq 200); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.05; done
done
echo "replicated store done"
