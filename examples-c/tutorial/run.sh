#!/usr/bin/env bash
# The Flock-integration tutorial, for real, from an installed prefix:
#  1. basic-config.json and with-dependency.json (Flock + Yokan, the yokan
#     provider depending on the group): one daemon each, queried with
#     bedrock-query, stopped with bedrock-shutdown;
#  2. both published forms of the distributed config, verbatim (with Yokan):
#     distributed-config.json (libraries as an object, mpi bootstrap, static
#     group) and distributed-config-variant.json (libraries as an array,
#     ["join", "mpi"] bootstrap, centralized group), under each MPI's
#     launcher, `mpiexec.mpich -n 4` then `mpirun.openmpi -n 4`: a 4-process
#     group with a yokan provider (id 42) on each member; the documented C++
#     service-discovery client (examples-c/flock/discovery.cpp, built with
#     find_package) lists every member; the Yokan client (examples-c/yokan/
#     kv.c, built with find_package(yokan)) stores 100 keys in each member's
#     yokan provider and reads them back; bedrock-shutdown stops the group
#     through its file.
# The clients are built once; steps 1 and 2 run for each PROTOCOL.
# The JSON files are verbatim copies of the tutorial's.
# Usage: run.sh PREFIX [PROTOCOL...]   (default: na+sm)
set -euo pipefail
prefix=$(cd "$1" && pwd)
shift
protocols=("${@:-na+sm}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
bin=$prefix/bin
wait_for() { for _ in $(seq 300); do [[ -s $1 ]] && return 0; sleep 0.05; done; echo "timed out waiting for $1" >&2; return 1; }

echo "== building the documented discovery client against $prefix"
cmake -S "$here/../flock" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" --target client >/dev/null
echo "== building the Yokan key-value client against $prefix (find_package(yokan))"
cmake -S "$here/../yokan" -B "$work/yokan-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/yokan-build" --target yokan-kv >/dev/null

cd "$work"
for protocol in "${protocols[@]}"; do
    # (Group files the previous protocol's daemons left.)
    rm -f my_group.flock distributed_service.flock
    echo "== basic-config.json: bedrock $protocol -c basic-config.json"
    "$bin/bedrock" "$protocol" -c "$here/basic-config.json" -v warning &
    wait_for my_group.flock
    echo "group file: $(cat my_group.flock)"
    "$bin/bedrock-query" "$protocol" -f my_group.flock | head -c 200; echo " ..."
    "$bin/bedrock-shutdown" "$protocol" -f my_group.flock
    wait

    rm -f my_group.flock
    echo "== with-dependency.json: bedrock $protocol -c with-dependency.json (flock + yokan)"
    "$bin/bedrock" "$protocol" -c "$here/with-dependency.json" -v warning &
    wait_for my_group.flock
    "$bin/bedrock-query" "$protocol" -f my_group.flock > query.json
    python3 - query.json <<'PY'
import json, sys
(server,) = json.load(open(sys.argv[1])).values()
kv = [p for p in server["providers"] if p["type"] == "yokan"]
assert len(kv) == 1 and kv[0]["provider_id"] == 42, kv
assert kv[0]["dependencies"] == {"flock_group": "my_group"}, kv[0]
assert kv[0]["config"]["database"]["type"] == "map", kv[0]
print("yokan provider:", json.dumps(kv[0]["config"]["database"]))
PY
    "$bin/bedrock-shutdown" "$protocol" -f my_group.flock
    wait

    # Each MPI's launcher by its explicit name: the plain `mpiexec` is whichever
    # MPI was installed last, and libmochi loads the launcher's MPI either way.
    # MPI_LAUNCHERS (default "mpich openmpi") picks which run.
    for mpi in ${MPI_LAUNCHERS:-mpich openmpi}; do
        case $mpi in
            mpich) launch=(mpiexec.mpich) ;;
            # Open MPI refuses root, and more processes than cores, by default.
            openmpi) launch=(mpirun.openmpi --allow-run-as-root --oversubscribe) ;;
            *) echo "unknown MPI \"$mpi\" in MPI_LAUNCHERS (mpich, openmpi)" >&2; exit 2 ;;
        esac
        command -v "${launch[0]}" >/dev/null || { echo "${launch[0]} not found: run scripts/install-deps.sh" >&2; exit 1; }
      for config in distributed-config.json distributed-config-variant.json; do
        rm -f distributed_service.flock
        echo "== $config: ${launch[*]} -n 4 bedrock $protocol -c $config"
        "${launch[@]}" -n 4 "$bin/bedrock" "$protocol" -c "$here/$config" -v warning &
        job=$!
        members=0
        for _ in $(seq 600); do
            [[ -s distributed_service.flock ]] && members=$(grep -o '"address"' distributed_service.flock | wc -l)
            ((members == 4)) && break
            kill -0 "$job" 2>/dev/null || break
            sleep 0.05
        done
        if ((members != 4)); then
            echo "expected a 4-member group file under ${launch[0]}, got ${members} members" >&2
            exit 1
        fi
        first=$(python3 -c 'import json; v=json.load(open("distributed_service.flock")); print(v["members"][0]["address"])')
        echo "== discovery client asking $first (provider 1)"
        "$work/build/client" "$first" 1 | tee client.out
        grep -qx "Group size: 4 members" client.out || { echo "the discovery client did not list 4 members" >&2; exit 1; }
        "$bin/bedrock-query" "$protocol" -f distributed_service.flock > query.json
        python3 - query.json <<'PY'
import json, sys
servers = json.load(open(sys.argv[1]))
assert len(servers) == 4, list(servers)
for addr, s in servers.items():
    kv = [p for p in s["providers"] if p["type"] == "yokan" and p["provider_id"] == 42]
    assert len(kv) == 1, (addr, s["providers"])
print("a yokan provider (id 42) on each of the", len(servers), "members")
PY
        # Store and read keys through the group's yokan providers.
        mapfile -t addresses < <(python3 -c 'import json; [print(m["address"]) for m in json.load(open("distributed_service.flock"))["members"]]')
        echo "== yokan: 100 keys through each member's provider (id 42)"
        "$work/yokan-build/yokan-kv" "$protocol" 42 100 "${addresses[@]}"
        "$bin/bedrock-shutdown" "$protocol" -f distributed_service.flock
        wait "$job"
      done
    done
done
echo "tutorial done"
