#!/usr/bin/env bash
# Membership benchmark of Flock's centralized backend with real processes:
# joins (8 and 32 at once), graceful leave, SIGKILL of a follower, SIGKILL of
# the primary, over na+sm and ofi+tcp. Prints markdown tables.
# Usage: bash benches/flock-membership.sh [samples per failure row]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-7}
cargo build --release --bins -q
bin=${CARGO_TARGET_DIR:-target}/release
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for protocol in na+sm ofi+tcp; do
    echo
    echo "## $protocol"
    "$bin/mochi-flock-bench" --protocol "$protocol" --joiners 8,32 --repeat "$repeat"
done
