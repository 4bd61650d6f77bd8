#!/usr/bin/env bash
# tests/bedrock/run.sh PREFIX [PROTOCOL]
#
# Bedrock tests with real processes, against the libmochi installed in
# PREFIX (make install PREFIX=...), in a temporary directory:
#   1. every <bedrock/*.hpp> together compiles with g++ and clang++
#      (-std=c++17 -Wall -Wextra -Werror; each alone: run-examples.sh), and
#      so do the C++ test module,
#      the C++ tests and the example that instantiate them; every
#      bedrock_* function exported by libmochi is declared in a C header;
#   2. builds, through CMake find_package(bedrock) / find_package(flock)
#      from PREFIX (with -Werror): the test modules (tests/bedrock/modules:
#      C module test_c, C++ module test_cxx, module_a, module_b, and
#      test_c_dyn when bedrock/module.h has get_dependencies) and the
#      in-process module API test, the client tests (tests/bedrock/client),
#      examples-c/bedrock (C++-only project) and examples-c/flock (the
#      discovery client); runs the module API test;
#   3. the tutorial's basic config: daemon up, group file (mode 0600),
#      bedrock-query (-f and -a) prints {address: config}, the example
#      print-config, the C++ client test and the C API test against it,
#      bedrock-shutdown stops it (both exit 0);
#   4. the tutorial's dependency config without Yokan: test_c (flock
#      dependency, checks its flock_provider_t) and test_cxx (pool, flock,
#      margo, peer, xstream dependencies), libraries in the tutorial's
#      object form and in the array form;
#   5. per-provider dependencies through get_dependencies (test_c_dyn);
#   6. provider creation failures reported by the daemon;
#   7. the tutorial's distributed config (minus Yokan) under each MPI's
#      launcher (mpiexec.mpich, mpirun.openmpi) -n 4: 4 members in the group
#      file, the Flock discovery client lists them, bedrock-shutdown -f stops
#      all 4; MPI rank locators under each; the other MPI's library under a
#      launcher fails every daemon with a message and no group file;
#   8. "file" bootstrap of the centralized backend across 4 daemons started
#      one after the other: the group file lists 4 members, and stopping the
#      whole group logs no warning; a ["join", "mpi"] bootstrap list whose
#      "join" fails as expected logs no warning either;
#   9. every case of tests/data/bedrock/invalid-configs.json: non-zero exit
#      and the expected message (tests/bedrock/invalid-expected.json);
#  10. a TOML config (-t, with -o), and CLI errors.
# Prints one line per check and "N passed, N failed" last; exits non-zero if
# any check failed. Every process runs under a timeout.
#
# Environment: TIMEOUT (seconds per daemon, default 120), KEEP_TMP=1 (keep
# the temporary directory), CMAKE, MPI_LAUNCHERS (default "mpich openmpi":
# mpiexec.mpich and mpirun.openmpi, by their explicit names, never the plain
# mpiexec, which is whichever MPI was installed last; another word is run as
# the launcher command), CXX_COMPILERS (default "g++ clang++").

set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PREFIX [PROTOCOL]" >&2
    exit 2
fi
PREFIX=$(cd "$1" 2>/dev/null && pwd) || { echo "error: no such prefix: $1" >&2; exit 2; }
PROTOCOL=${2:-na+sm}
TIMEOUT=${TIMEOUT:-120}
CMAKE=${CMAKE:-cmake}
MPI_LAUNCHERS=${MPI_LAUNCHERS:-mpich openmpi}
CXX_COMPILERS=${CXX_COMPILERS:-g++ clang++}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=$PREFIX/bin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bedrock-tests.XXXXXX")
MODULES=$WORK/build/modules
PIDS=()

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
# launcher_of NAME: LAUNCH=(the launcher command of MPI NAME); fails if it
# is not installed.
launcher_of() {
    case $1 in
        mpich) LAUNCH=(mpiexec.mpich) ;;
        # Open MPI refuses root, and more processes than cores, by default.
        openmpi) LAUNCH=(mpirun.openmpi --allow-run-as-root --oversubscribe) ;;
        *) LAUNCH=("$1") ;;
    esac
    command -v "${LAUNCH[0]}" >/dev/null
}
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
show() { sed 's/^/    /' "$@" | head -n 40; }

cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        wait "$pid" 2>/dev/null
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

# py CODE ARGS...: runs a Python snippet (sys.argv[1:] = ARGS).
py() { local code=$1; shift; python3 -c "$code" "$@"; }

# Number of members in a group file (0 if unreadable).
members_of() {
    py 'import json,sys
try: print(len(json.load(open(sys.argv[1]))["members"]))
except Exception: print(0)' "$1"
}
first_address() {
    py 'import json,sys; print(json.load(open(sys.argv[1]))["members"][0]["address"])' "$1" 2>/dev/null
}

# start NAME DIR CMD...: runs CMD in DIR in the background (stdout/stderr
# in DIR/NAME.out, NAME.err) under `timeout`; sets LAST_PID.
start() {
    local name=$1 dir=$2
    shift 2
    (cd "$dir" && exec env LD_LIBRARY_PATH="$MODULES${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        timeout "$TIMEOUT" "$@" >"$name.out" 2>"$name.err") &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_exit PID SECONDS: waits for a process started by start(); sets
# EXIT_RC (its exit status, or "timeout" after killing it).
wait_exit() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        EXIT_RC=timeout
        forget "$pid"
        return 1
    fi
    wait "$pid"
    EXIT_RC=$?
    forget "$pid"
}

# forget PID: a reaped process; cleanup must not signal its (reusable) id.
forget() {
    local p keep=()
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

# wait_for SECONDS PID CMD...: polls CMD until it succeeds (0), the process
# PID dies or SECONDS pass.
wait_for() {
    local secs=$1 pid=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || { "$@"; return $?; }
        sleep 0.1
    done
    return 1
}
file_has_members() { [ "$(members_of "$1")" -ge "$2" ]; }
# no_warnings FILE...: no line logged at warning level or above.
no_warnings() { ! grep -q '^\[\(warning\|error\|critical\)\]' "$@"; }
log_has() { grep -q -- "$2" "$1" 2>/dev/null; }

# expect_failure LABEL NAME DIR EXPECTED ARGS...: starts the daemon with
# ARGS; it must exit non-zero (not by timeout) with EXPECTED in its stderr.
# Checked (in start order) by check_failures, so that cases run in parallel.
FAILURE_CASES=()
expect_failure() {
    local label=$1 name=$2 dir=$3 expected=$4
    shift 4
    start "$name" "$dir" "$BIN/bedrock" "$PROTOCOL" "$@"
    FAILURE_CASES+=("$LAST_PID"$'\t'"$dir/$name.err"$'\t'"$expected"$'\t'"$label")
}
check_failures() {
    local entry pid err expected label
    for entry in "${FAILURE_CASES[@]+"${FAILURE_CASES[@]}"}"; do
        IFS=$'\t' read -r pid err expected label <<<"$entry"
        wait_exit "$pid" 60
        if [ "$EXIT_RC" != timeout ] && [ "$EXIT_RC" -ne 0 ] && grep -qF -- "$expected" "$err"; then
            pass "$label: exit $EXIT_RC with \"$expected\""
        else
            fail "$label: exit $EXIT_RC, expected non-zero with \"$expected\"; stderr:"
            show "$err"
        fi
    done
    FAILURE_CASES=()
}

# query_json DIR NAME ARGS...: bedrock-query ARGS > DIR/NAME.json.
query() {
    local dir=$1 name=$2
    shift 2
    (cd "$dir" && timeout 30 "$BIN/bedrock-query" "$PROTOCOL" "$@" >"$name.json" 2>"$name.qerr")
}

# ready NAME DIR PID: the daemon started by `start NAME DIR ...` logged
# "Bedrock daemon now running" and is still alive.
ready() {
    wait_for 30 "$3" log_has "$2/$1.err" "now running" && kill -0 "$3" 2>/dev/null
}

# shutdown_all DIR NAME GROUPFILE PID...: bedrock-shutdown -f GROUPFILE
# must exit 0 and every PID must then exit 0.
shutdown_all() {
    local dir=$1 name=$2 groupfile=$3 rc pid all_ok=1
    shift 3
    timeout 30 "$BIN/bedrock-shutdown" "$PROTOCOL" -f "$groupfile" >"$dir/$name-shutdown.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then pass "$name: bedrock-shutdown -f exits 0"; else
        fail "$name: bedrock-shutdown exit $rc"; show "$dir/$name-shutdown.out"; fi
    for pid in "$@"; do
        wait_exit "$pid" 20
        [ "$EXIT_RC" = 0 ] || all_ok=0
    done
    if [ $all_ok = 1 ]; then pass "$name: daemon(s) stopped, exit 0"; else
        fail "$name: a daemon did not stop cleanly (last exit $EXIT_RC)"; fi
}

for b in bedrock bedrock-query bedrock-shutdown; do
    [ -x "$BIN/$b" ] || { fail "$BIN/$b is missing"; finish; }
done

# ---------------------------------------------------------------------------
echo "== 1. C++ headers with ${CXX_COMPILERS} (t=${SECONDS}s)"
mkdir -p "$WORK/headers"
# The compilations are independent: they run one per core, each with its
# own log, and are reported in order once all have finished.
# (Each header alone and included twice: tests/cmake/run-examples.sh.)
# shellcheck source=../lib/steps.sh
. "$HERE/../lib/steps.sh"
for cxx in $CXX_COMPILERS; do
    if ! command -v "$cxx" >/dev/null; then fail "$cxx not found"; continue; fi
    CXXFLAGS_CHECK=(-std=c++17 -Wall -Wextra -Werror -I"$PREFIX/include" -fsyntax-only)
    tag=$(basename "$cxx")
    # All headers together, then the sources that instantiate them.
    : >"$WORK/headers/$tag-all.cpp"
    for h in "$PREFIX"/include/bedrock/*.hpp; do
        grep -q BEDROCK_NOT_PROVIDED "$h" && continue
        printf '#include <bedrock/%s>\n' "$(basename "$h")" >>"$WORK/headers/$tag-all.cpp"
    done
    bg_step "$cxx: all <bedrock/*.hpp> together, warning-free" "$WORK/headers/$tag-all.log" \
        "$cxx" "${CXXFLAGS_CHECK[@]}" "$WORK/headers/$tag-all.cpp"
    for src in "$HERE/modules/cxx_module.cpp" "$HERE/modules/module_api_test.cpp" \
               "$HERE/client/client_test.cpp" "$REPO/examples-c/bedrock/print-config.cpp"; do
        bg_step "$cxx: $(basename "$src") compiles warning-free" "$WORK/headers/$tag-src-$(basename "$src" .cpp).log" \
            "$cxx" "${CXXFLAGS_CHECK[@]}" "$src"
    done
done
report_steps

# Every bedrock_* function libmochi exports must be declared in a C header.
if command -v nm >/dev/null; then
    undeclared=""
    for sym in $(nm -D --defined-only "$PREFIX/lib/libmochi.so" | awk '$2 == "T" && $3 ~ /^bedrock_/ {print $3}'); do
        grep -q "\b$sym(" "$PREFIX"/include/bedrock/*.h || undeclared="$undeclared $sym"
    done
    if [ -z "$undeclared" ]; then pass "every exported bedrock_* function is declared in <bedrock/*.h>"; else
        fail "exported but not declared in <bedrock/*.h>:$undeclared"; fi
fi

# ---------------------------------------------------------------------------
echo "== 2. builds through find_package from $PREFIX (t=${SECONDS}s)"
# The four projects are built in parallel; results are reported in order.
build_start() { # NAME SOURCE-DIR [CMAKE ARGS...]
    local name=$1 src=$2
    shift 2
    ( "$CMAKE" -S "$src" -B "$WORK/build/$name" -DCMAKE_PREFIX_PATH="$PREFIX" "$@" \
        && "$CMAKE" --build "$WORK/build/$name" ) >"$WORK/build-$name.log" 2>&1 &
    BUILDS+=("$!:$name:$(basename "$src")")
}
BUILDS=()
build_start modules "$HERE/modules"
build_start client "$HERE/client"
build_start example "$REPO/examples-c/bedrock" -DEXAMPLES_WERROR=ON
build_start flock-examples "$REPO/examples-c/flock" -DEXAMPLES_WERROR=ON
for b in "${BUILDS[@]}"; do
    IFS=: read -r pid name src <<<"$b"
    if wait "$pid"; then pass "build $name ($src)"; else
        fail "build $name (log below)"; show "$WORK/build-$name.log"
        [ "$name" = modules ] && finish
    fi
done
for lib in libtest-c-module.so libtest-cxx-module.so libModuleA.so libModuleB.so; do
    [ -f "$MODULES/$lib" ] || fail "module $lib not built"
done
if timeout 60 "$MODULES/bedrock-module-api-test" "$MODULES/libModuleA.so" "$MODULES/libModuleB.so" \
        >"$WORK/module-api.out" 2>&1; then
    pass "C++ module API in one process ($(grep -c '^ok' "$WORK/module-api.out") checks)"
else
    fail "C++ module API in one process"; grep -v '^ok' "$WORK/module-api.out" | show
fi

# ---------------------------------------------------------------------------
echo "== 3. tutorial: basic config (bootstrap self, static group, group file) (t=${SECONDS}s)"
D=$WORK/basic
mkdir -p "$D"
cp "$REPO/tests/data/bedrock/seed-basic-config.json" "$D/basic-config.json"
start daemon "$D" "$BIN/bedrock" "$PROTOCOL" -c basic-config.json
BASIC_PID=$LAST_PID
if ready daemon "$D" "$BASIC_PID" && file_has_members "$D/my_group.flock" 1; then
    pass "basic: daemon up, my_group.flock written"
    mode=$(stat -c %a "$D/my_group.flock")
    if [ "$mode" = 600 ]; then pass "basic: group file mode 0600"; else fail "basic: group file mode $mode"; fi
    ADDR=$(first_address "$D/my_group.flock")
    if query "$D" query-f -f my_group.flock && query "$D" query-a -a "$ADDR"; then
        if py 'import json,sys
addr=sys.argv[1]
for f in sys.argv[2:]:
    d=json.load(open(f))
    assert list(d)==[addr], list(d)
    c=d[addr]
    assert set(["bedrock","libraries","margo","providers"]) <= set(c), list(c)
    p=c["providers"]
    assert [x["name"] for x in p]==["my_group"] and p[0]["type"]=="flock" and p[0]["provider_id"]==1, p
    assert p[0]["config"]["group"]["type"]=="static", p[0]
' "$ADDR" "$D/query-f.json" "$D/query-a.json"; then
            pass "basic: bedrock-query -f / -a print {\"$ADDR\": config} with provider my_group"
        else
            fail "basic: bedrock-query output"; show "$D/query-f.json"
        fi
    else
        fail "basic: bedrock-query failed"; show "$D/query-f.qerr" "$D/query-a.qerr"
    fi
    # A reader that stops early is not an error for bedrock-query.
    (cd "$D" && timeout 30 "$BIN/bedrock-query" "$PROTOCOL" -f my_group.flock -p | true; \
        echo "${PIPESTATUS[0]}" >"$D/query-pipe.rc")
    if [ "$(cat "$D/query-pipe.rc")" = 0 ]; then
        pass "basic: bedrock-query into a closed pipe exits 0 (no panic)"
    else
        fail "basic: bedrock-query into a closed pipe exited $(cat "$D/query-pipe.rc")"
    fi
    if timeout 30 "$WORK/build/example/print-config" "$ADDR" >"$D/print.out" 2>"$D/print.err" \
        && py 'import json,sys; c=json.load(open(sys.argv[1])); assert c["providers"][0]["name"]=="my_group"' "$D/print.out" \
        && grep -q "not supported" "$D/print.err"; then
        pass "basic: examples-c/bedrock print-config prints the config, queryConfig throws"
    else
        fail "basic: print-config"; show "$D/print.out" "$D/print.err"
    fi
    if timeout 60 "$WORK/build/client/bedrock-c-api-test" "$ADDR" >"$D/capi.out" 2>&1; then
        pass "basic: C client API survives NULL/garbage ($(grep -c '^ok' "$D/capi.out") checks)"
    else
        fail "basic: C client API test"; grep -v '^ok' "$D/capi.out" | show
    fi
    if timeout 60 "$WORK/build/client/bedrock-client-test" "$ADDR" "$D/my_group.flock" \
            "$MODULES/libModuleB.so" >"$D/client.out" 2>&1; then
        pass "basic: C++ client API ($(grep -c '^ok' "$D/client.out") checks)"
    else
        fail "basic: C++ client API test"; grep -v '^ok' "$D/client.out" | show
    fi
    shutdown_all "$D" basic "$D/my_group.flock" "$BASIC_PID"
else
    fail "basic: no group file; daemon stderr:"; show "$D/daemon.err"
fi

# ---------------------------------------------------------------------------
echo "== 4. tutorial: dependency config with a C and a C++ module (no Yokan) (t=${SECONDS}s)"
check_dependency_config() { # DIR FORM
    local dir=$1 form=$2
    start daemon "$dir" "$BIN/bedrock" "$PROTOCOL" -c config.json
    local pid=$LAST_PID
    if ! ready daemon "$dir" "$pid"; then
        fail "dependencies ($form): daemon did not start"; show "$dir/daemon.err"
        return
    fi
    pass "dependencies ($form): daemon up with test_c and test_cxx providers"
    if query "$dir" query -f my_group.flock && py 'import json,sys
form=sys.argv[2]
d=json.load(open(sys.argv[1])); c=list(d.values())[0]
p={x["name"]:x for x in c["providers"]}
k=p["my_checker"]["config"]
assert k["flock_handle_ok"] and k["flock_config_ok"] and k["flock_provider_id"]==1, k
assert p["my_checker"]["dependencies"]=={"flock_group":k["flock_group"]}, p["my_checker"]
x=p["my_cxx"]["config"]
assert x["pool_ok"] and x["group_ok"] and x["margo_ok"] and x["bad_cast_throws"], x
assert x["pool"]=="__primary__" and x["group_provider_id"]==1 and x["margo"]=="0", x
if form=="object":
    assert k["flock_group"]=="my_group" and k["num_tags"]==1 and k["config"]=={"database":{"type":"map"}}, k
    assert x["tags"]==["a","b"] and x["config"]=={"x":1} and x["xs"]=="__primary__", x
    y=p["my_cxx2"]["config"]
    assert y["peer"]=="my_cxx" and y["peer_is_cxx"] and y["pool"]=="__primary__", y
    assert p["my_cxx2"]["provider_id"]==2, p["my_cxx2"]
    assert c["libraries"]=={"flock":"libflock-bedrock-module.so","test_c":"libtest-c-module.so","test_cxx":"libtest-cxx-module.so"}, c["libraries"]
else:
    assert k["flock_group"]=="my_group", k
    assert x["group"].startswith("flock:1@") and x["group"].endswith(x["group_address"]), x
    assert len(c["libraries"])==3 and c["libraries"][1].endswith("/libtest-c-module.so"), c["libraries"]
' "$dir/query.json" "$form"; then
        pass "dependencies ($form): test_c got a working flock_provider_t; test_cxx got pool/flock/margo/peer handles"
    else
        fail "dependencies ($form): reported configs"; show "$dir/query.json" "$dir/query.qerr"
    fi
    shutdown_all "$dir" "dependencies ($form)" "$dir/my_group.flock" "$pid"
}
D=$WORK/dep-object
mkdir -p "$D"
cp "$HERE/configs/with-dependency-object.json" "$D/config.json"
check_dependency_config "$D" object
D=$WORK/dep-array
mkdir -p "$D"
sed "s|@MODULES@|$MODULES|g" "$HERE/configs/with-dependency-array.json" >"$D/config.json"
check_dependency_config "$D" array

# In-process server managed through bedrock/server.h (pools, xstreams,
# modules, providers with a dependency between them, NULL/garbage).
D=$WORK/c-server
mkdir -p "$D"
if (cd "$D" && timeout 60 "$WORK/build/client/bedrock-c-server-test" "$MODULES") >"$D/out" 2>&1; then
    pass "in-process server managed through the C API (bedrock_server_add_pool/…/remove_provider)"
else
    fail "C server management API"; show "$D/out"
fi
if (cd "$D" && timeout 60 "$WORK/build/client/bedrock-cxx-server-test" "$MODULES") >"$D/cxx.out" 2>&1; then
    pass "bedrock/Server.hpp: embedded server, MargoManager, ProviderManager ($(grep -c '^ok' "$D/cxx.out") checks)"
else
    fail "bedrock/Server.hpp"; grep -v '^ok' "$D/cxx.out" | show
fi

# ---------------------------------------------------------------------------
echo "== 5. per-provider dependencies (get_dependencies of bedrock/module.h) (t=${SECONDS}s)"
if [ -f "$MODULES/libtest-c-dyn-module.so" ]; then
    D=$WORK/dyn
    mkdir -p "$D"
    cp "$HERE/configs/dynamic-dependencies.json" "$D/config.json"
    start daemon "$D" "$BIN/bedrock" "$PROTOCOL" -c config.json
    DYN_PID=$LAST_PID
    if ready daemon "$D" "$DYN_PID"; then
        if query "$D" query -f my_group.flock && py 'import json,sys
c=list(json.load(open(sys.argv[1])).values())[0]
p={x["name"]:x for x in c["providers"]}
s1=p["my_dyn"]["config"]["seen"]; s2=p["my_dyn2"]["config"]["seen"]
assert "flock_group:flock;" in s1 and "extra_pool:pool;" in s1, s1
assert s2=="flock_group:flock;", s2
assert set(p["my_dyn"]["dependencies"])=={"flock_group","extra_pool"}, p["my_dyn"]
assert set(p["my_dyn2"]["dependencies"])=={"flock_group"}, p["my_dyn2"]
' "$D/query.json"; then
            pass "get_dependencies: per-provider declarations, resolved with their types"
        else
            fail "get_dependencies: reported configs"; show "$D/query.json"
        fi
        shutdown_all "$D" get_dependencies "$D/my_group.flock" "$DYN_PID"
    else
        wait_exit "$DYN_PID" 10
        fail "get_dependencies: daemon did not start (exit $EXIT_RC); stderr:"; show "$D/daemon.err"
    fi
else
    echo "note: bedrock/module.h has no get_dependencies; test_c_dyn not built"
fi

# ---------------------------------------------------------------------------
echo "== 6. provider creation failures (t=${SECONDS}s)"
D=$WORK/failures
mkdir -p "$D"
GROUP='{"name":"g","type":"flock","provider_id":1,"config":{"bootstrap":"self","group":{"type":"static"}}}'
LIBS='"libraries":["libflock-bedrock-module.so","libtest-c-module.so","libtest-cxx-module.so"]'
failure_case() { # NAME EXPECTED PROVIDERS...
    local name=$1 expected=$2
    shift 2
    local IFS=,
    printf '{%s,"providers":[%s]}\n' "$LIBS" "$*" >"$D/$name.json"
    expect_failure "$name" "$name" "$D" "$expected" -c "$name.json"
}
failure_case c-module-fails 'While creating provider "bad" of type "test_c"' "$GROUP" \
    '{"name":"bad","type":"test_c","config":{"fail":true},"dependencies":{"flock_group":"g"}}'
failure_case c-module-message 'test_c: asked to fail' "$GROUP" \
    '{"name":"bad","type":"test_c","config":{"fail":true},"dependencies":{"flock_group":"g"}}'
failure_case cxx-module-fails 'test_cxx: asked to fail (bad)' \
    '{"name":"bad","type":"test_cxx","config":{"fail":true},"dependencies":{"pool":"__primary__"}}'
failure_case missing-flock-dependency 'Missing dependency "flock_group" of type "flock"' "$GROUP" \
    '{"name":"bad","type":"test_c"}'
failure_case wrong-dependency-type 'Invalid type test_cxx for dependency "c" (expected flock)' "$GROUP" \
    '{"name":"c","type":"test_cxx","dependencies":{"pool":0}}' \
    '{"name":"bad","type":"test_c","dependencies":{"flock_group":"c"}}'
failure_case missing-pool 'Could not find pool with name "nope"' \
    '{"name":"bad","type":"test_cxx","dependencies":{"pool":"nope"}}'
failure_case per-provider-required 'Missing dependency "margo" of type "margo"' \
    '{"name":"bad","type":"test_cxx","config":{"need_margo":true},"dependencies":{"pool":0}}'
printf '{"libraries":{"test_x":"libModuleA.so"}}\n' >"$D/wrong-module-name.json"
expect_failure wrong-module-name wrong-module-name "$D" 'did not register module "test_x"' \
    -c wrong-module-name.json
check_failures

# ---------------------------------------------------------------------------
echo "== 7. tutorial: distributed config under each MPI's launcher, -n 4 (t=${SECONDS}s)"
for MPI in $MPI_LAUNCHERS; do
    launcher_of "$MPI" || { fail "mpi ($MPI): ${LAUNCH[0]} not found"; continue; }
    D=$WORK/mpi-$MPI
    mkdir -p "$D"
    cp "$HERE/configs/distributed.json" "$D/config.json"
    start launch "$D" "${LAUNCH[@]}" -n 4 "$BIN/bedrock" "$PROTOCOL" -c config.json
    MPI_PID=$LAST_PID
    if wait_for 60 "$MPI_PID" file_has_members "$D/distributed_service.flock" 4; then
        if py 'import json,sys
m=json.load(open(sys.argv[1]))["members"]
assert len(m)==4 and len(set(x["address"] for x in m))==4 and all(x["provider_id"]==1 for x in m), m' \
            "$D/distributed_service.flock"; then
            pass "mpi ($MPI): group file lists 4 members (4 processes, provider id 1)"
        else
            fail "mpi ($MPI): group file"; show "$D/distributed_service.flock"
        fi
        ADDR=$(first_address "$D/distributed_service.flock")
        if timeout 30 "$WORK/build/flock-examples/client" "$ADDR" 1 >"$D/discovery.out" 2>&1 \
            && [ "$(head -n 1 "$D/discovery.out")" = "Group size: 4 members" ] \
            && [ "$(grep -c 'provider_id=1$' "$D/discovery.out")" = 4 ]; then
            pass "mpi ($MPI): the Flock discovery client (examples-c/flock) lists the 4 members"
        else
            fail "mpi ($MPI): discovery client"; show "$D/discovery.out"
        fi
        if query "$D" query -f distributed_service.flock && py 'import json,sys
d=json.load(open(sys.argv[1])); assert len(d)==4, list(d)
for c in d.values(): assert c["bedrock"]["pool"]=="rpc_pool" and c["providers"][0]["name"]=="service_group", c["bedrock"]' \
            "$D/query.json"; then
            pass "mpi ($MPI): bedrock-query -f prints the 4 daemons' configs"
        else
            fail "mpi ($MPI): bedrock-query"; show "$D/query.json" "$D/query.qerr"
        fi
        shutdown_all "$D" "mpi ($MPI)" "$D/distributed_service.flock" "$MPI_PID"
    else
        fail "mpi ($MPI): group file has $(members_of "$D/distributed_service.flock") members; stderr:"
        show "$D/launch.err"
    fi
done

# ---------------------------------------------------------------------------
echo "== 7b. MPI rank locators in dependencies (name@RANK, type:id@RANK), -n 2 (t=${SECONDS}s)"
log_count_at_least() { [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; }
for MPI in $MPI_LAUNCHERS; do
    launcher_of "$MPI" || { fail "rank locators ($MPI): ${LAUNCH[0]} not found"; continue; }
    D=$WORK/rank-locators-$MPI
    mkdir -p "$D"
    sed "s|@MODULES@|$MODULES|g" "$HERE/configs/rank-locators.json" >"$D/config.json"
    sed 's|"my_group@1"|"my_group@7"|' "$D/config.json" >"$D/bad-rank.json"
    start launch "$D" "${LAUNCH[@]}" -n 2 "$BIN/bedrock" "$PROTOCOL" -c config.json
    RANKS_PID=$LAST_PID
    if wait_for 60 "$RANKS_PID" log_count_at_least "$D/launch.err" "now running" 2; then
        # Each daemon resolved @0 and @1 through the MPI address exchange:
        # its own rank locally (with the C handle), the other rank remotely.
        if query "$D" query -f ranks.flock && py 'import json,sys
d=json.load(open(sys.argv[1])); assert len(d)==2, list(d)
a0=a1=None
for addr,c in d.items():
    p={x["name"]:x["config"] for x in c["providers"]}
    r0,r1=p["to_rank0"],p["to_rank1"]
    a0=a0 or r0["group_address"]; a1=a1 or r1["group_address"]
    assert r0["group_address"]==a0 and r1["group_address"]==a1, (r0,r1)
    assert r0["group_provider_id"]==1 and r1["group_provider_id"]==1, (r0,r1)
    mine,other=(r0,r1) if addr==a0 else (r1,r0)
    assert mine.get("group_ok") and not mine.get("group_remote"), mine
    assert other.get("group_remote") and not other.get("group_ok"), other
assert a0!=a1 and {a0,a1}==set(d), (a0,a1,list(d))' "$D/query.json"; then
            pass "rank locators ($MPI): @0/@1 resolve to the right daemon (own rank local, other rank remote)"
        else
            fail "rank locators ($MPI): resolved dependencies"; show "$D/query.json" "$D/query.qerr" "$D/launch.err"
        fi
        shutdown_all "$D" "rank locators ($MPI)" "$D/ranks.flock" "$RANKS_PID"
    else
        fail "rank locators ($MPI): daemons did not start"; show "$D/launch.err"
    fi
    start bad-rank "$D" "${LAUNCH[@]}" -n 2 "$BIN/bedrock" "$PROTOCOL" -c bad-rank.json
    wait_exit "$LAST_PID" 60
    if [ "$EXIT_RC" != timeout ] && [ "$EXIT_RC" -ne 0 ] && grep -qF "Requesting address of an invalid rank (7)" "$D/bad-rank.err"; then
        pass "rank locators ($MPI): a rank outside the job fails with \"Requesting address of an invalid rank (7)\""
    else
        fail "rank locators ($MPI): invalid rank (exit $EXIT_RC)"; show "$D/bad-rank.err"
    fi
done

# ---------------------------------------------------------------------------
echo "== 7c. the other MPI's library under a launcher: an error, never a 1-member group (t=${SECONDS}s)"
# What a user gets by pointing MOCHI_MPI_LIBRARY at the wrong MPI: each
# process sees a world of 1. Every daemon must fail, naming the launcher,
# the library and MOCHI_MPI_LIBRARY, and no group file (not even a
# temporary one) may be left behind.
for MPI in $MPI_LAUNCHERS; do
    case $MPI in
        mpich) wrong=libmpi.so.40 size_var=PMI_SIZE=4 ;;
        openmpi) wrong=libmpich.so.12 size_var=OMPI_COMM_WORLD_SIZE=4 ;;
        *) continue ;;
    esac
    launcher_of "$MPI" || { fail "mismatch ($MPI): ${LAUNCH[0]} not found"; continue; }
    D=$WORK/mismatch-$MPI
    mkdir -p "$D"
    cp "$HERE/configs/distributed.json" "$D/config.json"
    start mismatch "$D" env MOCHI_MPI_LIBRARY="$wrong" "${LAUNCH[@]}" -n 4 "$BIN/bedrock" "$PROTOCOL" -c config.json
    wait_exit "$LAST_PID" 60
    leftovers=$(cd "$D" && ls -A | grep -v -e '^config.json$' -e '^mismatch\.out$' -e '^mismatch\.err$')
    if [ "$EXIT_RC" != timeout ] && [ "$EXIT_RC" -ne 0 ] \
        && grep -qF "the launcher started 4 processes but the MPI library loaded here sees an MPI world of 1" "$D/mismatch.err" \
        && grep -qF "$size_var" "$D/mismatch.err" && grep -qF "MOCHI_MPI_LIBRARY=$wrong" "$D/mismatch.err" \
        && [ -z "$leftovers" ]; then
        pass "mismatch ($MPI with $wrong): exit $EXIT_RC, the message names launcher, library and MOCHI_MPI_LIBRARY; no group file"
    else
        fail "mismatch ($MPI with $wrong): exit $EXIT_RC, files left: ${leftovers:-none}"; show "$D/mismatch.err"
    fi
done
D=$WORK/no-launcher
mkdir -p "$D"
sed "s|@MODULES@|$MODULES|g" "$HERE/configs/rank-locators.json" >"$D/config.json"
expect_failure "rank locator without an MPI launcher" no-mpi "$D" "needs the daemon to be started by an MPI launcher" -c config.json
# libmochi loads MPI only when a bootstrap needs it; a missing MPI is a
# clear error, not a failure to start every program.
printf '%s\n' '{"providers":[{"name":"g","type":"flock","provider_id":1,"config":{"bootstrap":"mpi","group":{"type":"static"}}}]}' >"$D/mpi-bootstrap.json"
if (cd "$D" && MOCHI_MPI_LIBRARY=/nonexistent/libmpi.so timeout 30 "$BIN/bedrock" "$PROTOCOL" -c mpi-bootstrap.json) >"$D/nompi.out" 2>&1; then
    fail "missing MPI library: the daemon started"
elif grep -q "no MPI library could be loaded" "$D/nompi.out"; then
    pass "missing MPI library: mpi bootstrap fails, naming the library it tried"
else
    fail "missing MPI library: message"; show "$D/nompi.out"
fi
printf '%s\n' '{"providers":[{"name":"g","type":"flock","provider_id":1,"config":{"bootstrap":"mpi","group":{"type":"static"},"file":"notmpi.flock"}}]}' >"$D/not-mpi.json"
if (cd "$D" && MOCHI_MPI_LIBRARY=libz.so.1 timeout 30 "$BIN/bedrock" "$PROTOCOL" -c not-mpi.json) >"$D/notmpi.out" 2>&1; then
    fail "a library that is not MPI: the daemon started"
elif grep -q "libz.so.1: loaded, but it is not an MPI library" "$D/notmpi.out" && grep -q "MOCHI_MPI_LIBRARY=libz.so.1" "$D/notmpi.out" \
    && ! ls -A "$D" | grep -q notmpi.flock; then
    pass "a library that is not MPI: mpi bootstrap fails, saying so; no group file"
else
    fail "a library that is not MPI: message or group file"; show "$D/notmpi.out"
fi
if (cd "$D" && MOCHI_MPI_LIBRARY=/nonexistent/libmpi.so timeout 30 "$BIN/bedrock-query" "$PROTOCOL" -a na+sm://999999-0) >"$D/nompi-q.out" 2>&1 \
    || grep -q "nobody listens" "$D/nompi-q.out"; then
    pass "missing MPI library: programs that do not bootstrap through MPI run"
else
    fail "missing MPI library: bedrock-query"; show "$D/nompi-q.out"
fi

# ---------------------------------------------------------------------------
echo "== 8. \"file\" bootstrap, centralized backend, 4 daemons one after the other (t=${SECONDS}s)"
D=$WORK/centralized
mkdir -p "$D"
cp "$HERE/configs/file-centralized.json" "$D/config.json"
CPIDS=()
ok=1
for i in 1 2 3 4; do
    start "daemon$i" "$D" "$BIN/bedrock" "$PROTOCOL" -c config.json
    CPIDS+=("$LAST_PID")
    if ! ready "daemon$i" "$D" "$LAST_PID"; then
        fail "centralized: daemon $i did not start; stderr:"; show "$D/daemon$i.err"
        ok=0
        break
    fi
done
if [ $ok = 1 ]; then
    pass "centralized: 4 daemons running"
    if wait_for 30 "${CPIDS[3]}" file_has_members "$D/centralized.flock" 4; then
        pass "centralized: the group file lists 4 members"
    else
        fail "centralized: the group file lists $(members_of "$D/centralized.flock") members"
        show "$D/centralized.flock"
    fi
    if query "$D" query -f centralized.flock && py 'import json,sys
d=json.load(open(sys.argv[1])); assert len(d)==4, list(d)
for c in d.values(): assert c["providers"][0]["config"]["group"]["type"]=="centralized", c["providers"]' \
        "$D/query.json"; then
        pass "centralized: bedrock-query -f reaches the 4 daemons"
    else
        fail "centralized: bedrock-query"; show "$D/query.json" "$D/query.qerr"
    fi
    shutdown_all "$D" centralized "$D/centralized.flock" "${CPIDS[@]}"
    # Stopping the whole group at once is normal operation: nothing at
    # warning level or above (leaves and hand-overs find everybody leaving).
    if no_warnings "$D"/daemon*.err; then
        pass "centralized: whole-group shutdown logs no warning"
    else
        fail "centralized: whole-group shutdown logged:"; grep -h '^\[\(warning\|error\|critical\)\]' "$D"/daemon*.err | show /dev/stdin
    fi
fi

# A bootstrap list whose first method fails as expected: ["join", "mpi"]
# before the group file exists (the first daemon founds the group through
# MPI, as a singleton; the second joins through the file it wrote).
D=$WORK/join-mpi
mkdir -p "$D"
printf '%s\n' '{"libraries":["libflock-bedrock-module.so"],"providers":[{"name":"g","type":"flock","provider_id":1,"config":{"bootstrap":["join","mpi"],"group":{"type":"centralized","config":{}},"file":"jm.flock"}}]}' >"$D/config.json"
JPIDS=()
for i in 1 2; do
    start "daemon$i" "$D" "$BIN/bedrock" "$PROTOCOL" -c config.json
    JPIDS+=("$LAST_PID")
    ready "daemon$i" "$D" "$LAST_PID" || { fail "[join, mpi]: daemon $i did not start"; show "$D/daemon$i.err"; }
done
if wait_for 30 "${JPIDS[1]}" file_has_members "$D/jm.flock" 2; then
    pass "[join, mpi]: the first daemon founds the group, the second joins it"
else
    fail "[join, mpi]: the group file lists $(members_of "$D/jm.flock") members"; show "$D/jm.flock"
fi
shutdown_all "$D" "[join, mpi]" "$D/jm.flock" "${JPIDS[@]}"
if no_warnings "$D"/daemon*.err && grep -q 'did not apply, trying the next one' "$D/daemon1.err"; then
    pass "[join, mpi]: the expected failure of \"join\" is not a warning"
else
    fail "[join, mpi]: logs"; show "$D/daemon1.err" "$D/daemon2.err"
fi

# ---------------------------------------------------------------------------
echo "== 9. invalid configs (tests/data/bedrock/invalid-configs.json) (t=${SECONDS}s)"
D=$WORK/invalid
mkdir -p "$D"
if py 'import json,sys
cases=json.load(open(sys.argv[1])); expected=json.load(open(sys.argv[2]))
out=open(sys.argv[3]+"/cases.tsv","w")
for i,c in enumerate(cases):
    open("%s/case%d.json" % (sys.argv[3], i),"w").write(json.dumps(c["input"]))
    out.write("case%d\t%s\t%s\n" % (i, c["test"], expected[c["test"]]))
' "$REPO/tests/data/bedrock/invalid-configs.json" "$HERE/invalid-expected.json" "$D"; then
    while IFS=$'\t' read -r name title expected; do
        expect_failure "invalid config \"$title\"" "$name" "$D" "$expected" -c "$name.json"
    done <"$D/cases.tsv"
    check_failures
else
    fail "invalid configs: could not read the cases"
fi

# ---------------------------------------------------------------------------
echo "== 10. TOML config (-t) and CLI errors (t=${SECONDS}s)"
D=$WORK/toml
mkdir -p "$D"
cp "$HERE/configs/config.toml" "$D/config.toml"
start daemon "$D" "$BIN/bedrock" "$PROTOCOL" -t -c config.toml -o effective.json
TOML_PID=$LAST_PID
if ready daemon "$D" "$TOML_PID" && wait_for 10 "$TOML_PID" test -s "$D/effective.json"; then
    if py 'import json,sys
c=json.load(open(sys.argv[1]))
pools=[p["name"] for p in c["margo"]["argobots"]["pools"]]
assert pools[:2]==["my_pool_1","my_pool_2"] and len(pools)==3, pools
p={x["name"]:x for x in c["providers"]}
x=p["my_cxx"]
assert x["provider_id"]==7 and x["tags"]==["from_toml"] and x["dependencies"]["pool"]=="my_pool_2", x
assert x["config"]["pool"]=="my_pool_2" and x["config"]["group_ok"] and x["config"]["config"]=={"answer":42}, x["config"]
assert p["my_group"]["config"]["group"]["type"]=="static"
' "$D/effective.json"; then
        pass "toml: pools my_pool_1, my_pool_2 (+ __primary__), test_cxx on my_pool_2 (-o output)"
    else
        fail "toml: effective config"; show "$D/effective.json"
    fi
    shutdown_all "$D" toml "$D/toml_group.flock" "$TOML_PID"
else
    fail "toml: daemon did not start"; show "$D/daemon.err"
fi
printf 'libraries = [\n' >"$D/bad.toml"
printf 'return {};\n' >"$D/config.jx9"
expect_failure "toml syntax error" toml-syntax-error "$D" "error" -t -c bad.toml
expect_failure "missing config file" missing-config-file "$D" "could not read configuration file" \
    -c no-such-file.json
expect_failure "-j with -t" jx9-and-toml "$D" "cannot use both --jx9/-j and --toml/-t" -j -t -c bad.toml
expect_failure "Jx9 config" jx9-config "$D" "not supported" -j -c config.jx9
expect_failure "--jx9-context without -j" jx9-context-without-j "$D" \
    "passing Jx9 parameters for a JSON configuration" --jx9-context x=1 -c no-such-file.json
check_failures

finish
