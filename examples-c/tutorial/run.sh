#!/usr/bin/env bash
# The Flock-integration tutorial, for real, from an installed prefix:
#  1. basic-config.json: one daemon (self bootstrap, static group, group file),
#     queried with bedrock-query, stopped with bedrock-shutdown;
#  2. distributed-config.json (the tutorial's, without Yokan) under each
#     MPI's launcher, `mpiexec.mpich -n 4` then `mpirun.openmpi -n 4`: a
#     4-process group; the documented C++ service-discovery client
#     (examples-c/flock/discovery.cpp, built with find_package) lists every
#     member; bedrock-shutdown stops the group through its file.
# Usage: run.sh PREFIX [PROTOCOL...] (default na+sm); the client is built
# once, then both steps run for each protocol.
set -euo pipefail
prefix=$(cd "$1" && pwd)
protocols=("${@:2}")
((${#protocols[@]})) || protocols=(na+sm)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
bin=$prefix/bin
wait_for() { for _ in $(seq 300); do [[ -s $1 ]] && return 0; sleep 0.05; done; echo "timed out waiting for $1" >&2; return 1; }

echo "== building the documented discovery client against $prefix"
cmake -S "$here/../flock" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" --target client >/dev/null

cd "$work"
for protocol in "${protocols[@]}"; do
    rm -f my_group.flock
    echo "== basic-config.json: bedrock $protocol -c basic-config.json"
    "$bin/bedrock" "$protocol" -c "$here/basic-config.json" -v warning &
    wait_for my_group.flock
    echo "group file: $(cat my_group.flock)"
    "$bin/bedrock-query" "$protocol" -f my_group.flock | head -c 200; echo " ..."
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
        rm -f distributed_service.flock
        echo "== distributed-config.json: ${launch[*]} -n 4 bedrock $protocol -c distributed-config.json"
        "${launch[@]}" -n 4 "$bin/bedrock" "$protocol" -c "$here/distributed-config.json" -v warning &
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
        "$bin/bedrock-shutdown" "$protocol" -f distributed_service.flock
        wait "$job"
    done
done
echo "tutorial done"
