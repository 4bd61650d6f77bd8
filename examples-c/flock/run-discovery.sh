#!/usr/bin/env bash
# run-discovery.sh PREFIX [PROTOCOL...]
#
# Builds the Flock examples of this directory against the libmochi installed
# in PREFIX (make install PREFIX=...), both CMake projects (C++ here, C in
# c/), once, in a temporary directory, then for each PROTOCOL (default na+sm):
#   1. starts group-server hosting a static group of 4 members (provider ids
#      1-4, one process) on PROTOCOL, with a group file;
#   2. runs the C++ client and the C discovery-c against provider 1 and
#      provider 3: each must report "Group size: 4 members" and list
#      provider ids 1, 2, 3, 4, and both must print the same thing;
#   3. checks that the group file was written;
#   4. stops the server (SIGTERM to the process it started).
# Prints one line per check and "N passed, N failed"; exits non-zero if any
# check failed. Environment: TIMEOUT (seconds per process, default 30),
# KEEP_TMP=1 (keep the temporary directory), CMAKE.

set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 PREFIX [PROTOCOL...]" >&2
    exit 2
fi
PREFIX=$(cd "$1" 2>/dev/null && pwd) || { echo "error: no such prefix: $1" >&2; exit 2; }
PROTOCOLS=("${@:2}")
[ ${#PROTOCOLS[@]} -gt 0 ] || PROTOCOLS=(na+sm)
TIMEOUT=${TIMEOUT:-30}
CMAKE=${CMAKE:-cmake}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/flock-discovery.XXXXXX")
SERVER_PID=

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

build() { # name source-dir
    if "$CMAKE" -S "$2" -B "$WORK/$1" -DCMAKE_PREFIX_PATH="$PREFIX" -DEXAMPLES_WERROR=ON \
            >"$WORK/$1.log" 2>&1 \
        && "$CMAKE" --build "$WORK/$1" >>"$WORK/$1.log" 2>&1; then
        pass "build $1"
    else
        fail "build $1 (log below)"; sed 's/^/    /' "$WORK/$1.log"
        return 1
    fi
}

build cxx "$HERE" || finish
build c "$HERE/c" || finish

# run_protocol PROTOCOL: steps 1-4 on one protocol.
run_protocol() {
    local PROTOCOL=$1
    rm -f "$WORK/address" "$WORK/group.flock"
    echo "== discovery over $PROTOCOL"
    "$WORK/cxx/group-server" -a "$WORK/address" -f "$WORK/group.flock" "$PROTOCOL" 1-4 \
        >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    for _ in $(seq $((TIMEOUT * 10))); do
        [ -s "$WORK/address" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$WORK/address" ]; then
        fail "group-server did not start ($PROTOCOL)"; sed 's/^/    /' "$WORK/server.err"
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
        return
    fi
    ADDRESS=$(cat "$WORK/address")
    pass "group-server listening at $ADDRESS"

    expected="Group size: 4 members"
    for pid in 1 3; do
        timeout "$TIMEOUT" "$WORK/cxx/client" "$ADDRESS" "$pid" >"$WORK/cxx-$pid.out" 2>&1
        rc_cxx=$?
        timeout "$TIMEOUT" "$WORK/c/discovery-c" "$ADDRESS" "$pid" >"$WORK/c-$pid.out" 2>&1
        rc_c=$?
        for lang in cxx c; do
            out="$WORK/$lang-$pid.out"
            rc=$rc_cxx; [ "$lang" = c ] && rc=$rc_c
            ids=$(sed -n 's/.*provider_id=\([0-9]*\)$/\1/p' "$out" | tr '\n' ' ')
            if [ "$rc" -eq 0 ] && [ "$(head -n 1 "$out")" = "$expected" ] && [ "$ids" = "1 2 3 4 " ]; then
                pass "$lang client via provider $pid lists the 4 members"
            else
                fail "$lang client via provider $pid (exit $rc), output:"; sed 's/^/    /' "$out"
            fi
        done
        if cmp -s "$WORK/cxx-$pid.out" "$WORK/c-$pid.out"; then
            pass "C and C++ clients print the same (provider $pid)"
        else
            fail "C and C++ clients differ (provider $pid)"
        fi
    done

    if [ -s "$WORK/group.flock" ] && grep -q '"members"' "$WORK/group.flock"; then
        pass "group file written"
    else
        fail "group file $WORK/group.flock missing or empty"
    fi

    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

for protocol in "${PROTOCOLS[@]}"; do
    run_protocol "$protocol"
done
finish
