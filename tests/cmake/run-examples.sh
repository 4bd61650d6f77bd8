#!/usr/bin/env bash
# run-examples.sh PREFIX PROTOCOL...
#
# Checks an installed libmochi (make install PREFIX=...) the way a user of
# upstream Mochi would use it, in a temporary directory:
#   1. the installed layout (library, SONAME, symlinks, headers, packages),
#      and that every installed header compiles alone and included twice;
#   2. the pkg-config files (and building margo-client.c with them);
#   3. the CMake packages from consumers whose project() enables only C, or
#      only CXX (with CMAKE_CXX_STANDARD 14: thallium must raise it to 17),
#      including version checks;
#   4. examples-c/ configured and built through find_package(margo) and
#      find_package(thallium);
#   5. for each PROTOCOL (steps 1-4 build once for all of them):
#      thallium-lifecycle (thallium.hpp ownership rules, one process),
#      thallium-rpc-shapes (thallium's RPC forms, one process),
#      thallium-conveniences (auto_respond, wait_any, get_input, logger,
#      xstreams(), finalize from a handler; one process), margo-abt
#      and thallium-abt (Argobots' objects and threads, in C and through
#      thallium's wrappers, one process each), margo-timer (margo's
#      timers), margo-bulk-pool (bulk buffer pools), margo-layout (pools
#      and xstreams at run time), margo-requests (margo_wait_any and the
#      instance's state), abt-streams (streams and pools of the program's
#      own), then
#      each server (margo-server, thallium-server) run for real on PROTOCOL
#      with each client (margo-client, thallium-client): the client looks the
#      server up, checks addresses and shuts the server down; the server must
#      then exit 0 on its own; then margo-sum-server with margo-sum-client
#      (margo's RPC API: MERCURY_GEN_PROC types, MARGO_REGISTER_PROVIDER,
#      forwards, outputs and the expected errors), thallium-rpc-server
#      with thallium-rpc-client (thallium's RPC model: define, provider<T>,
#      serialization, async, timeouts, errors), and margo-bulk-server with
#      margo-bulk-client (margo's bulk API: handles in RPC inputs, pulls and
#      pushes of 6 MiB over 2 segments, the transfers that must fail), and
#      thallium-bulk-server with thallium-bulk-client (thallium's bulk API:
#      expose, bulks as RPC arguments and results, pulls and pushes of
#      segments up to 9 MiB, async and timed transfers, the transfers that
#      must fail), under the same rules.
# Every process runs under a timeout, so nothing hangs. Prints one line per
# check and a final line "N passed, N failed"; exits non-zero if any failed.
#
# Environment: TIMEOUT (seconds per process, default 60), SHUTDOWN_GRACE
# (seconds a server gets to exit after its client finished, default 15),
# KEEP_TMP=1 (keep the temporary directory), EXAMPLES_DIR (default: the
# repository's examples-c), CMAKE, CC, CXX, PKG_CONFIG.

set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 PREFIX PROTOCOL...   (e.g. $0 /tmp/mochi na+sm ofi+tcp)" >&2
    exit 2
fi

PREFIX=$(cd "$1" 2>/dev/null && pwd) || { echo "error: no such prefix: $1" >&2; exit 2; }
PROTOCOLS=("${@:2}")
PROTOCOL=${PROTOCOLS[0]}
TIMEOUT=${TIMEOUT:-60}
SHUTDOWN_GRACE=${SHUTDOWN_GRACE:-15}
CMAKE=${CMAKE:-cmake}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
CC=${CC:-cc}
CXX=${CXX:-c++}

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
EXAMPLES_DIR=${EXAMPLES_DIR:-$REPO_DIR/examples-c}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mochi-examples.XXXXXX")
SERVER_PIDS=()

cleanup() {
    local pid
    for pid in "${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

# Shows a log file, indented, after a failure.
show() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "  --- $(basename "$f") ---"
        if [ "$(wc -l <"$f")" -le 40 ]; then
            sed -e 's/^/  | /' "$f"
        else
            sed -n -e '1,25s/^/  | /p' "$f"
            echo "  | [...]"
            tail -n 15 "$f" | sed -e 's/^/  | /'
        fi
    done
}

# run_step NAME LOG COMMAND...  -- runs a command under the timeout.
run_step() {
    local name=$1 log=$2
    shift 2
    if timeout -k 5 "$TIMEOUT" "$@" >"$log" 2>&1; then
        pass "$name"
        return 0
    fi
    fail "$name"
    show "$log"
    return 1
}

# bg_step and report_steps: independent checks in the background.
# shellcheck source=../lib/steps.sh
. "$SCRIPT_DIR/../lib/steps.sh"
# stops_with_reason COMMAND...  -- succeeds when the compilation fails and
# says the header is not provided or not supported.
stops_with_reason() {
    local out
    if out=$(timeout -k 5 "$TIMEOUT" "$@" 2>&1); then echo "$out"; echo "(compiled)"; return 1; fi
    echo "$out"
    grep -q "not provided\|not supported" <<<"$out"
}

echo "== libmochi examples: prefix $PREFIX, protocols ${PROTOCOLS[*]} (work dir $WORK)"

# ---------------------------------------------------------------------------
# 1. Installed layout
# ---------------------------------------------------------------------------
LIBDIR=$PREFIX/lib
real_lib=$(ls "$LIBDIR"/libmochi.so.*.*.* 2>/dev/null | head -n 1)
if [ -n "$real_lib" ] && [ -f "$real_lib" ] && [ ! -L "$real_lib" ]; then
    pass "library installed: $(basename "$real_lib")"
else
    fail "library $LIBDIR/libmochi.so.X.Y.Z missing"
fi
soname=$(readelf -d "$LIBDIR/libmochi.so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" = "libmochi.so.0" ]; then
    pass "SONAME is libmochi.so.0"
else
    fail "SONAME is '$soname', expected libmochi.so.0"
fi
if [ -L "$LIBDIR/libmochi.so.0" ] && [ -L "$LIBDIR/libmochi.so" ] \
   && [ "$(readlink -f "$LIBDIR/libmochi.so")" = "$(readlink -f "$real_lib")" ] \
   && [ "$(readlink -f "$LIBDIR/libmochi.so.0")" = "$(readlink -f "$real_lib")" ]; then
    pass "symlinks libmochi.so -> libmochi.so.0 -> $(basename "$real_lib")"
else
    fail "symlinks libmochi.so / libmochi.so.0 missing or wrong"
fi
missing=""
for h in margo.h thallium.hpp; do
    [ -f "$PREFIX/include/$h" ] || missing="$missing $h"
done
if [ -z "$missing" ]; then pass "headers margo.h thallium.hpp installed"; else fail "headers missing:$missing"; fi
missing=""
for p in mochi margo thallium flock bedrock bedrock-module-api; do
    [ -f "$LIBDIR/cmake/$p/$p-config.cmake" ] && [ -f "$LIBDIR/cmake/$p/$p-config-version.cmake" ] \
        || missing="$missing $p"
done
if [ -z "$missing" ]; then pass "CMake packages installed"; else fail "CMake packages missing:$missing"; fi

# Every installed header must compile on its own and when included twice
# (C headers as C11 and as C++17, C++ headers as C++17), and margo.h must
# mix with thallium.hpp in either order.
mkdir -p "$WORK/headers"
header_tu() { # FILE HEADER...  -- a translation unit including each header twice
    local f=$1 h
    shift
    : >"$f"
    for h in "$@"; do echo "#include <$h>" >>"$f"; done
    for h in "$@"; do echo "#include <$h>" >>"$f"; done
    echo "int main(void) { return 0; }" >>"$f"
}
# Headers that include <mpi.h> (as upstream's do) need MPI's include path.
# MPICH's, by its own name (the plain mpicc is whichever MPI was installed
# last); they are also compiled against Open MPI's mpi.h when it is there.
MPI_CFLAGS=$(pkg-config --cflags mpich 2>/dev/null || mpicc.mpich -show 2>/dev/null | grep -o -- '-I[^ ]*' | tr '\n' ' ')
OMPI_CFLAGS=$(pkg-config --cflags ompi-c 2>/dev/null || true)
# The compilations run in parallel (bg_step), reported in order.
n=0
while IFS= read -r h; do
    n=$((n + 1))
    extra=""
    case "$h" in *mpi*) extra=$MPI_CFLAGS ;; esac
    case "$h" in
        *.h)
            header_tu "$WORK/headers/h$n.c" "$h"
            # shellcheck disable=SC2086
            bg_step "header <$h> compiles alone and twice as C11" "$WORK/headers/h$n-c.log" \
                "$CC" -std=c11 -Wall -Wextra -Werror $extra -I"$PREFIX/include" -c "$WORK/headers/h$n.c" -o "$WORK/headers/h$n-c.o"
            cp "$WORK/headers/h$n.c" "$WORK/headers/h$n.cpp"
            # shellcheck disable=SC2086
            bg_step "header <$h> compiles alone and twice as C++17" "$WORK/headers/h$n-cxx.log" \
                "$CXX" -std=c++17 -Wall -Wextra -Werror $extra -I"$PREFIX/include" -c "$WORK/headers/h$n.cpp" -o "$WORK/headers/h$n-cxx.o"
            if [[ $h == *mpi* && -n $OMPI_CFLAGS ]]; then
                # shellcheck disable=SC2086
                bg_step "header <$h> compiles alone and twice as C11 with Open MPI's mpi.h" "$WORK/headers/h$n-ompi.log" \
                    "$CC" -std=c11 -Wall -Wextra -Werror $OMPI_CFLAGS -I"$PREFIX/include" -c "$WORK/headers/h$n.c" -o "$WORK/headers/h$n-ompi.o"
            fi
            ;;
        *.hpp)
            header_tu "$WORK/headers/h$n.cpp" "$h"
            if grep -q BEDROCK_NOT_PROVIDED "$PREFIX/include/$h"; then
                # Deliberately absent: the build must stop with the reason.
                bg_step "header <$h> stops the build, saying why" "$WORK/headers/h$n-cxx.log" \
                    stops_with_reason "$CXX" -std=c++17 -I"$PREFIX/include" -c "$WORK/headers/h$n.cpp" -o /dev/null
                continue
            fi
            bg_step "header <$h> compiles alone and twice as C++17" "$WORK/headers/h$n-cxx.log" \
                "$CXX" -std=c++17 -Wall -Wextra -Werror -I"$PREFIX/include" -c "$WORK/headers/h$n.cpp" -o "$WORK/headers/h$n-cxx.o"
            ;;
    esac
done < <(cd "$PREFIX/include" && find . -type f \( -name '*.h' -o -name '*.hpp' \) | sed 's|^\./||' | LC_ALL=C sort)
header_tu "$WORK/headers/mix1.cpp" margo.h thallium.hpp
bg_step "<margo.h> then <thallium.hpp> in one C++ file" "$WORK/headers/mix1.log" \
    "$CXX" -std=c++17 -I"$PREFIX/include" -c "$WORK/headers/mix1.cpp" -o "$WORK/headers/mix1.o"
header_tu "$WORK/headers/mix2.cpp" thallium.hpp margo.h
bg_step "<thallium.hpp> then <margo.h> in one C++ file" "$WORK/headers/mix2.log" \
    "$CXX" -std=c++17 -I"$PREFIX/include" -c "$WORK/headers/mix2.cpp" -o "$WORK/headers/mix2.o"
report_steps

# ---------------------------------------------------------------------------
# 2. pkg-config
# ---------------------------------------------------------------------------
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
for pc in margo thallium flock-client flock-server bedrock-client bedrock-server; do
    libs=$("$PKG_CONFIG" --libs "$pc" 2>&1)
    cflags=$("$PKG_CONFIG" --cflags "$pc" 2>&1)
    if "$PKG_CONFIG" --exists "$pc" && [[ " $libs " == *" -lmochi "* ]] \
       && [[ " $cflags " == *" -I$PREFIX/include "* ]]; then
        pass "pkg-config $pc ($("$PKG_CONFIG" --modversion "$pc"): $cflags $libs)"
    else
        fail "pkg-config $pc: cflags '$cflags' libs '$libs'"
    fi
done
mkdir -p "$WORK/pkgconfig"
# shellcheck disable=SC2046
run_step "build margo-client.c with pkg-config margo" "$WORK/pkgconfig/build.log" \
    "$CC" -Wall -Wextra -o "$WORK/pkgconfig/margo-client" "$EXAMPLES_DIR/margo-client.c" \
    $("$PKG_CONFIG" --cflags --libs margo) -Wl,-rpath,"$LIBDIR"
# shellcheck disable=SC2046
run_step "build thallium-client.cpp with pkg-config thallium" "$WORK/pkgconfig/build-cxx.log" \
    "$CXX" -std=c++17 -Wall -Wextra -o "$WORK/pkgconfig/thallium-client" "$EXAMPLES_DIR/thallium-client.cpp" \
    $("$PKG_CONFIG" --cflags --libs thallium) -Wl,-rpath,"$LIBDIR"

# ---------------------------------------------------------------------------
# 3. CMake consumers enabling only C, or only CXX
# ---------------------------------------------------------------------------
ALL_PACKAGES="mochi margo thallium flock bedrock bedrock-module-api"

write_consumer() { # DIR LANGUAGE
    local dir=$1 lang=$2
    mkdir -p "$dir"
    {
        echo "cmake_minimum_required(VERSION 3.10)"
        echo "project(consumer-$lang $lang)"
        [ "$lang" = CXX ] && echo "set(CMAKE_CXX_STANDARD 14)"
        echo "foreach(p $ALL_PACKAGES)"
        echo "    find_package(\${p} REQUIRED)"
        echo "endforeach()"
        echo "find_package(thallium 0.10 REQUIRED)"
        echo "find_package(margo 0.9...0.99 REQUIRED)"
        echo "function(expect_too_new pkg)"
        echo "    find_package(\${pkg} 99.0 QUIET)"
        echo "    if(\${pkg}_FOUND)"
        echo "        message(FATAL_ERROR \"find_package(\${pkg} 99.0) accepted version \${\${pkg}_VERSION}\")"
        echo "    endif()"
        echo "endfunction()"
        echo "foreach(p $ALL_PACKAGES)"
        echo "    expect_too_new(\${p})"
        echo "endforeach()"
        echo "foreach(t mochi::mochi margo thallium PkgConfig::margo flock::client flock::server"
        echo "          flock::cxx-headers flock-client flock-server flock-cxx-headers"
        echo "          bedrock::client bedrock::server bedrock::module-api bedrock-client bedrock-server)"
        echo "    if(NOT TARGET \${t})"
        echo "        message(FATAL_ERROR \"target \${t} missing\")"
        echo "    endif()"
        echo "endforeach()"
        echo "message(STATUS \"versions: margo \${margo_VERSION} thallium \${thallium_VERSION} flock \${flock_VERSION} bedrock \${bedrock_VERSION}\")"
    } >"$dir/CMakeLists.txt"
    if [ "$lang" = C ]; then
        cat >"$dir/main.c" <<'EOF'
#include <margo.h>
int main(void)
{
    margo_instance_id mid = MARGO_INSTANCE_NULL;
    /* Referencing functions makes the link step resolve them in libmochi. */
    return (mid == MARGO_INSTANCE_NULL && margo_init != NULL && margo_addr_cmp != NULL) ? 0 : 1;
}
EOF
        cat >>"$dir/CMakeLists.txt" <<'EOF'
add_executable(use-margo main.c)
target_link_libraries(use-margo margo)
add_executable(use-flock main.c)
target_link_libraries(use-flock flock::client flock::server)
add_executable(use-pkgconfig-margo main.c)
target_link_libraries(use-pkgconfig-margo PkgConfig::margo)
EOF
    else
        cat >"$dir/main.cpp" <<'EOF'
#include <thallium.hpp>
#include <string_view>  // C++17: thallium must have raised CMAKE_CXX_STANDARD 14
int main()
{
    thallium::engine e;
    thallium::endpoint ep;
    std::string_view sv{"ok"};
    return (!e && ep.is_null() && sv.size() == 2) ? 0 : 1;
}
EOF
        cat >>"$dir/CMakeLists.txt" <<'EOF'
add_executable(use-thallium main.cpp)
target_link_libraries(use-thallium thallium)
add_executable(use-flock-cxx main.cpp)
target_link_libraries(use-flock-cxx flock::cxx-headers flock::client)
add_executable(use-bedrock main.cpp)
target_link_libraries(use-bedrock bedrock::client)
add_executable(use-bedrock-server main.cpp)
target_link_libraries(use-bedrock-server bedrock::server bedrock::module-api)
EOF
    fi
}

for lang in C CXX; do
    dir=$WORK/consumer-$lang
    write_consumer "$dir" "$lang"
    if run_step "CMake consumer with project(... $lang): configure" "$dir/configure.log" \
        "$CMAKE" -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$PREFIX"; then
        if run_step "CMake consumer with project(... $lang): build" "$dir/build.log" \
            "$CMAKE" --build "$dir/build"; then
            ok=1
            for exe in "$dir"/build/use-*; do
                [ -x "$exe" ] || continue
                timeout -k 5 "$TIMEOUT" "$exe" >"$exe.log" 2>&1 || { ok=0; show "$exe.log"; }
            done
            if [ $ok = 1 ]; then pass "CMake consumer with project(... $lang): programs run"; else fail "CMake consumer with project(... $lang): programs run"; fi
        fi
    fi
done

# ---------------------------------------------------------------------------
# 4. examples-c through find_package
# ---------------------------------------------------------------------------
BUILD=$WORK/examples
built=0
if run_step "examples-c: configure (find_package margo, thallium)" "$WORK/examples-configure.log" \
    "$CMAKE" -S "$EXAMPLES_DIR" -B "$BUILD" -DCMAKE_PREFIX_PATH="$PREFIX" -DEXAMPLES_WERROR=ON; then
    if run_step "examples-c: build (-Wall -Wextra -Werror)" "$WORK/examples-build.log" \
        "$CMAKE" --build "$BUILD"; then
        built=1
        if readelf -d "$BUILD/margo-client" 2>/dev/null | grep -q 'NEEDED.*\[libmochi\.so\.0\]'; then
            pass "examples link libmochi.so.0 by SONAME"
        else
            fail "examples do not record NEEDED libmochi.so.0"
            readelf -d "$BUILD/margo-client" 2>&1 | grep -E 'NEEDED|RUNPATH|RPATH' | sed 's/^/  | /'
        fi
    fi
fi

# ---------------------------------------------------------------------------
# 5. servers and clients for real
# ---------------------------------------------------------------------------
# run_pair SERVER CLIENT
run_pair() {
    local server=$1 client=$2
    local label="$server + $client ($PROTOCOL)"
    local dir=$WORK/run-$server-$client-${PROTOCOL//[^a-z]/_}
    mkdir -p "$dir"
    local addr_file=$dir/address

    timeout -k 5 "$TIMEOUT" "$BUILD/$server" "$PROTOCOL" "$addr_file" \
        >"$dir/server.out" 2>"$dir/server.err" &
    local spid=$!
    SERVER_PIDS+=("$spid")

    # Wait for the server to publish its address (or die).
    local waited=0
    while [ ! -s "$addr_file" ] && kill -0 "$spid" 2>/dev/null \
          && [ $waited -lt $((TIMEOUT * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if [ ! -s "$addr_file" ]; then
        kill -TERM "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
        fail "$label: server did not publish its address"
        show "$dir/server.out" "$dir/server.err"
        return
    fi
    local address
    address=$(head -n 1 "$addr_file")
    case "$address" in
        "$PROTOCOL"://*) pass "$label: server address $address" ;;
        *) fail "$label: server address '$address' does not start with $PROTOCOL://" ;;
    esac

    local crc=0
    timeout -k 5 "$TIMEOUT" "$BUILD/$client" "$PROTOCOL" "$address" \
        >"$dir/client.out" 2>"$dir/client.err" || crc=$?
    if [ $crc -eq 0 ]; then
        pass "$label: client checks ($(grep -c '^ok' "$dir/client.out") ok)"
    else
        if [ $crc -eq 124 ]; then
            fail "$label: client timed out after ${TIMEOUT}s"
        else
            fail "$label: client exited $crc"
        fi
        show "$dir/client.out" "$dir/client.err"
    fi
    if grep -qxF "server address: $address" "$dir/client.out"; then
        pass "$label: client prints the server address back"
    else
        fail "$label: client did not print 'server address: $address'"
    fi

    # The server must exit by itself after the remote shutdown.
    waited=0
    while kill -0 "$spid" 2>/dev/null && [ $waited -lt $((SHUTDOWN_GRACE * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$spid" 2>/dev/null; then
        kill -TERM "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
        fail "$label: server still running ${SHUTDOWN_GRACE}s after the client's shutdown"
        show "$dir/server.out" "$dir/server.err"
        return
    fi
    local src=0
    wait "$spid" || src=$?
    if [ $src -eq 0 ]; then
        pass "$label: server exited 0 after remote shutdown"
    else
        fail "$label: server exited $src"
        show "$dir/server.out" "$dir/server.err"
    fi
    if [ "$(head -n 1 "$dir/server.out")" = "$address" ]; then
        pass "$label: server printed its address on stdout"
    else
        fail "$label: server stdout does not start with its address"
        show "$dir/server.out"
    fi
}

if [ $built = 1 ]; then
    for PROTOCOL in "${PROTOCOLS[@]}"; do
        run_step "thallium-lifecycle ($PROTOCOL): ownership rules of thallium.hpp" \
            "$WORK/thallium-lifecycle-${PROTOCOL//[^a-z]/_}.log" "$BUILD/thallium-lifecycle" "$PROTOCOL"
        run_step "thallium-rpc-shapes ($PROTOCOL): handler, provider method and type forms" \
            "$WORK/thallium-rpc-shapes-${PROTOCOL//[^a-z]/_}.log" "$BUILD/thallium-rpc-shapes" "$PROTOCOL"
        run_step "thallium-conveniences ($PROTOCOL): auto_respond, wait_any, get_input, logger, xstreams(), finalize from a handler" \
            "$WORK/thallium-conveniences-${PROTOCOL//[^a-z]/_}.log" "$BUILD/thallium-conveniences" "$PROTOCOL"
        run_step "margo-abt ($PROTOCOL): Argobots' mutex, eventual, threads, cond, barrier, rwlock in handlers" \
            "$WORK/margo-abt-${PROTOCOL//[^a-z]/_}.log" "$BUILD/margo-abt" "$PROTOCOL"
        run_step "margo-timer ($PROTOCOL): margo's timers" \
            "$WORK/margo-timer-${PROTOCOL//[^a-z]/_}.log" "$BUILD/margo-timer" "$PROTOCOL"
        run_step "margo-bulk-pool ($PROTOCOL): margo's bulk buffer pools" \
            "$WORK/margo-bulk-pool-${PROTOCOL//[^a-z]/_}.log" "$BUILD/margo-bulk-pool" "$PROTOCOL"
        run_step "margo-layout ($PROTOCOL): pools and xstreams at run time" \
            "$WORK/margo-layout-${PROTOCOL//[^a-z]/_}.log" "$BUILD/margo-layout" "$PROTOCOL"
        run_step "abt-streams ($PROTOCOL): Argobots streams, pools and tasklets of the program's own" \
            "$WORK/abt-streams-${PROTOCOL//[^a-z]/_}.log" "$BUILD/abt-streams" "$PROTOCOL"
        run_step "margo-requests ($PROTOCOL): margo_wait_any, a handler's instance, finalize callbacks read back" \
            "$WORK/margo-requests-${PROTOCOL//[^a-z]/_}.log" "$BUILD/margo-requests" "$PROTOCOL"
        run_step "thallium-abt ($PROTOCOL): thallium's Argobots wrappers in handlers" \
            "$WORK/thallium-abt-${PROTOCOL//[^a-z]/_}.log" "$BUILD/thallium-abt" "$PROTOCOL"
        for server in margo-server thallium-server; do
            for client in margo-client thallium-client; do
                run_pair "$server" "$client"
            done
        done
        run_pair margo-sum-server margo-sum-client
        run_pair thallium-rpc-server thallium-rpc-client
        run_pair margo-bulk-server margo-bulk-client
        run_pair thallium-bulk-server thallium-bulk-client
    done
else
    fail "servers and clients not run: examples-c did not build"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
