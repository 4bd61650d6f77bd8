#!/usr/bin/env bash
# Runs the Python binding tests against the build tree's library,
# target/release/libmochi.so (build it first: `cargo build --release` in the
# repository root). Extra arguments go to pytest. Needs pytest
# (`pip install pytest`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
lib="${CARGO_TARGET_DIR:-$root/target}/release/libmochi.so"
case "$lib" in /*) ;; *) lib="$root/$lib" ;; esac
if [ ! -e "$lib" ]; then
    echo "run-tests.sh: $lib not found; run 'cargo build --release' in $root first" >&2
    exit 2
fi
export MOCHI_LIBRARY="$lib"
export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
cd "$here"
exec "${PYTHON:-python3}" -m pytest -p no:cacheprovider tests "$@"
