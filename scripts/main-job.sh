#!/usr/bin/env bash
# The main job: install what is needed, build and install into build/prefix,
# then run the Flock-integration tutorial for real: Bedrock daemons started
# from the tutorial's configs (one daemon, then a 4-process group under
# each MPI's launcher, mpiexec.mpich and mpirun.openmpi) and the documented
# C++ service-discovery client listing every member of the group; then keys
# stored in and read back from each member's yokan provider, with counts;
# then the same providers as a replicated store (replication 2) surviving a
# member killed with SIGKILL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make --no-print-directory install PREFIX="$PWD/build/prefix" >/dev/null
bash examples-c/tutorial/run.sh build/prefix na+sm
# The distributed deployment as a replicated store: write, SIGKILL a member,
# read every key back through another.
bash examples-c/replicated/run.sh build/prefix na+sm 1000
