#!/usr/bin/env bash
# Builds the Flock C conformance tests against an installed Flock and runs them.
#
#   tests/c/flock/run.sh PREFIX [extra ctest arguments...]
#
# PREFIX is an installation prefix holding lib/cmake/flock (e.g. the one of
# `make install PREFIX=...`). The tests are configured and built in a fresh
# temporary directory (removed afterwards unless KEEP_BUILD=1), then run with
# ctest. The last line printed is ctest's summary line; the exit status is
# non-zero if configuring, building or any test failed.
#
# Environment:
#   FLOCK_TEST_PROTOCOLS  protocols of the networked cases (default "na+sm;ofi+tcp")
#   FLOCK_TEST_MPI        ON/OFF: the MPI test, once per MPI found (MPICH, Open MPI; default ON)
#   CTEST_JOBS            tests run in parallel (default 4)
#   KEEP_BUILD=1          keep the build directory (its path is printed)
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 PREFIX [ctest arguments...]" >&2
    exit 2
fi
prefix=$(cd "$1" 2>/dev/null && pwd) || { echo "$0: no such prefix: $1" >&2; exit 2; }
shift
src=$(cd "$(dirname "$0")" && pwd)
build=$(mktemp -d "${TMPDIR:-/tmp}/flock-c-tests.XXXXXX")

cleanup() {
    if [ "${KEEP_BUILD:-0}" = 1 ]; then
        echo "build directory kept: $build"
    else
        rm -rf "$build"
    fi
}
trap cleanup EXIT

cmake_args=(-S "$src" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
[ -n "${FLOCK_TEST_PROTOCOLS:-}" ] && cmake_args+=(-DFLOCK_TEST_PROTOCOLS="$FLOCK_TEST_PROTOCOLS")
[ -n "${FLOCK_TEST_MPI:-}" ] && cmake_args+=(-DFLOCK_TEST_MPI="$FLOCK_TEST_MPI")

echo "== configuring against $prefix"
if ! cmake "${cmake_args[@]}" > "$build/configure.log" 2>&1; then
    cat "$build/configure.log"
    echo "configuration failed"
    exit 1
fi
echo "== building"
if ! cmake --build "$build" -j "$(nproc 2>/dev/null || echo 4)" > "$build/build.log" 2>&1; then
    cat "$build/build.log"
    echo "build failed"
    exit 1
fi
grep -i "warning" "$build/build.log" || true

echo "== running ctest"
cd "$build" || exit 1
ctest --output-on-failure -j "${CTEST_JOBS:-4}" "$@" 2>&1 | tee "$build/ctest.log"
status=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+% tests passed' "$build/ctest.log" | tail -n 1)
echo
if [ -n "$summary" ]; then
    echo "$summary"
else
    echo "ctest printed no summary (exit status $status)"
    [ "$status" -eq 0 ] && status=1
fi
exit "$status"
