#!/usr/bin/env bash
# The distributed Yokan store (docs/distributed-yokan.md): 4 bedrock daemons,
# replication 2, KEYS keys (default 100 000 of ~16-64 B): put/get through the
# key's primary vs through a member that owns no copy (one extra hop), and the
# time to restore both copies of every key after a member is SIGKILLed.
#   usage: benches/yokan-dist.sh [KEYS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-100000}
cargo build --release >/dev/null 2>&1
YOKAN_DIST_BENCH=1 YOKAN_DIST_KEYS="$keys" cargo test --release --test yokan_dist -- --nocapture --test-threads=1 2>&1 \
    | grep -E "^(na\+sm|ofi\+tcp):|test result"
