#!/usr/bin/env bash
# Same-run latency of an empty RPC: upstream Mochi margo (margo-echo, built
# against an upstream install) against our engine (mochi-echo --size 0).
#
# Usage: bash benches/upstream-echo.sh [COUNT]        (COUNT defaults to 20000)
# Environment:
#   UPSTREAM_PREFIX  upstream install (default /work/upstream/prefix), made by
#                    benches/upstream-echo/build-upstream.sh
#   ROUNDS           alternating rounds (default 3)
#   IDLE_SECS        idle-server sampling window (default 10)
#   JOBS             cargo build jobs (default 1)
#
# For each round, protocol (na+sm, ofi+tcp) and load (quiet; busy = one
# `while :; do :; done` pinned to each core, started once the server is up
# and killed when the client ends) it runs upstream then ours, one fresh
# server per run, and prints one line per run.  Then it samples the CPU time
# (utime+stime) and voluntary context switches (all threads) of each idle
# server over IDLE_SECS, and of client and server while calls run back to
# back (quiet machine, a 2 s sample well after start-up and warm-up; margo
# polls Mercury without blocking while RPCs are in flight and for 10 ms
# after, which this shows).
#
# Not the same client loop on both sides, necessarily: margo-echo times
# margo_create+margo_forward+margo_destroy after 1000 warm-up calls;
# mochi-echo times Engine::call after min(COUNT, 100) warm-up calls.  Both
# take median and p99 the same way (sorted sample at floor((n-1)*p)).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20000}
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "upstream-echo.sh: COUNT must be a positive integer, got '$count'" >&2; exit 2; }
prefix=${UPSTREAM_PREFIX:-/work/upstream/prefix}
rounds=${ROUNDS:-3}
idle_secs=${IDLE_SECS:-10}

if [[ ! -f $prefix/lib/pkgconfig/margo.pc ]]; then
    cat >&2 <<EOF
upstream-echo.sh: no upstream margo install at $prefix (looked for lib/pkgconfig/margo.pc).
Build one (argobots v1.2, mercury v2.4.1 with NA SM + OFI, mochi-margo v0.23.1):
  1. put the sources in SRC_DIR (argobots/, mercury/ with its submodules, margo/);
     the header of benches/upstream-echo/build-upstream.sh says exactly what and how
     (it needs the network, or source trees fetched beforehand);
  2. apt install libfabric-dev libjson-c-dev cmake autoconf automake libtool pkg-config
  3. bash benches/upstream-echo/build-upstream.sh SRC_DIR $prefix
Or point UPSTREAM_PREFIX at an existing install.
EOF
    exit 1
fi

work=$(mktemp -d)
server=
client=
hogs=()
cleanup() {
    # Only what this script started and has not reaped yet.
    for p in $server $client "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

make -s -C benches/upstream-echo PREFIX="$prefix" OUT="$work" >/dev/null
upstream_bin=$work/margo-echo
cargo build --release -q -j "${JOBS:-1}" --bin mochi-echo
ours_bin=${CARGO_TARGET_DIR:-target}/release/mochi-echo

pcv() { PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --modversion "$1"; }
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), libfabric $(pkg-config --modversion libfabric)"
echo "upstream: margo $(pcv margo), mercury $(pcv mercury), argobots $(pcv argobots) in $prefix"
echo "ours: $ours_bin ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ', dirty'))"
echo "count=$count rounds=$rounds; load at start:$(cut -d' ' -f1-3 /proc/loadavg)"

# start_server IMPL PROTO: sets $server (pid) and $addr.
start_server() {
    rm -f "$work/addr"
    case $1 in
        upstream) "$upstream_bin" server "$2" "$work/addr" >/dev/null 2>>"$work/upstream.err" & ;;
        ours) "$ours_bin" server "$2" --addr-file "$work/addr" >/dev/null 2>>"$work/ours.err" & ;;
    esac
    server=$!
    for _ in $(seq 200); do [[ -s $work/addr ]] && break; sleep 0.05; done
    [[ -s $work/addr ]] || { echo "upstream-echo.sh: $1 server on $2 wrote no address" >&2; cat "$work/$1.err" >&2; exit 1; }
    addr=$(cat "$work/addr")
}

stop_server() {
    case $1 in
        upstream) timeout 30 "$upstream_bin" shutdown "$addr" >/dev/null 2>>"$work/upstream.err" ;;
        ours) timeout 30 "$ours_bin" client "$addr" --count 1 --size 0 --shutdown >/dev/null 2>>"$work/ours.err" ;;
    esac
    local rc=0
    wait "$server" || rc=$?
    server=
    ((rc == 0)) || { echo "upstream-echo.sh: $1 server exited with status $rc" >&2; tail -5 "$work/$1.err" >&2; exit 1; }
}

run_client() {
    case $1 in
        upstream) timeout 600 "$upstream_bin" client "$addr" "$count" 2>>"$work/upstream.err" ;;
        ours) timeout 600 "$ours_bin" client "$addr" --count "$count" --size 0 2>>"$work/ours.err" ;;
    esac
}

: >"$work/results"
for round in $(seq "$rounds"); do
    for proto in na+sm ofi+tcp; do
        for load in quiet busy; do
            for impl in upstream ours; do
                start_server "$impl" "$proto"
                hogs=()
                if [[ $load == busy ]]; then
                    for cpu in $(seq 0 $(($(nproc) - 1))); do
                        taskset -c "$cpu" sh -c 'while :; do :; done' &
                        hogs+=($!)
                    done
                fi
                if ! out=$(run_client "$impl"); then
                    echo "upstream-echo.sh: $impl client on $proto failed:" >&2
                    tail -5 "$work/$impl.err" >&2
                    exit 1
                fi
                if ((${#hogs[@]})); then
                    kill "${hogs[@]}"
                    wait "${hogs[@]}" 2>/dev/null || true
                    hogs=()
                fi
                stop_server "$impl"
                median=$(grep -o 'median_us=[0-9.]*' <<<"$out" | cut -d= -f2)
                p99=$(grep -o 'p99_us=[0-9.]*' <<<"$out" | cut -d= -f2)
                printf 'round=%d impl=%-8s proto=%-7s %-5s median_us=%s p99_us=%s load1=%s at=%s\n' \
                    "$round" "$impl" "$proto" "$load" "$median" "$p99" "$(cut -d' ' -f1 /proc/loadavg)" "$(date +%T)"
                echo "$impl $proto $load $median $p99" >>"$work/results"
            done
        done
    done
done

echo "== median over $rounds rounds of each run's median / p99 (us)"
sort -k1,1 -k2,2 -k3,3 "$work/results" | awk '
    function med(s,   a, n, i, j, t) {
        n = split(s, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { k = $1 " " $2 " " $3; m[k] = m[k] " " $4; p[k] = p[k] " " $5; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    END { for (i = 1; i <= n; i++) { k = order[i]; split(k, f, " ");
          printf "%-8s %-7s %-5s median_us=%.1f p99_us=%.1f\n", f[1], f[2], f[3], med(m[k]), med(p[k]) } }'

# Idle cost: a fresh server, one second to settle, then IDLE_SECS of nothing.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
vol_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
echo "== idle server over ${idle_secs}s (fresh server, 1 s after start-up)"
tck=$(getconf CLK_TCK)
for proto in na+sm ofi+tcp; do
    for impl in upstream ours; do
        start_server "$impl" "$proto"
        sleep 1
        t0=$(cpu_ticks "$server"); v0=$(vol_switches "$server")
        sleep "$idle_secs"
        t1=$(cpu_ticks "$server"); v1=$(vol_switches "$server")
        threads=$(ls "/proc/$server/task" | wc -l)
        stop_server "$impl"
        awk -v i="$impl" -v p="$proto" -v t="$((t1 - t0))" -v v="$((v1 - v0))" -v tck="$tck" -v s="$idle_secs" -v n="$threads" \
            'BEGIN { printf "idle impl=%-8s proto=%-7s cpu_ms=%d (%.2f%% of a core) voluntary_switches=%d (%.1f/s) threads=%d\n",
                     i, p, t * 1000 / tck, t * 100 / tck / s, v, v / s, n }'
    done
done
# Busy cost: a client calling back to back (far more calls than the sample
# needs; it is stopped after the sample), both processes sampled over 2 s.
echo "== CPU while one client calls back to back (2 s sample, 2 s after the client starts)"
for proto in na+sm ofi+tcp; do
    for impl in upstream ours; do
        start_server "$impl" "$proto"
        case $impl in
            upstream) "$upstream_bin" client "$addr" 5000000 >/dev/null 2>>"$work/upstream.err" & ;;
            ours) "$ours_bin" client "$addr" --count 5000000 --size 0 >/dev/null 2>>"$work/ours.err" & ;;
        esac
        client=$!
        sleep 2
        c0=$(cpu_ticks "$client"); t0=$(cpu_ticks "$server"); v0=$(vol_switches "$server")
        sleep 2
        c1=$(cpu_ticks "$client"); t1=$(cpu_ticks "$server"); v1=$(vol_switches "$server")
        alive=yes
        kill "$client" 2>/dev/null || alive=no
        wait "$client" 2>/dev/null || true
        client=
        stop_server "$impl"
        [[ $alive == yes ]] || echo "upstream-echo.sh: the $impl client finished before the sample ended; raise its count" >&2
        awk -v i="$impl" -v p="$proto" -v c="$((c1 - c0))" -v t="$((t1 - t0))" -v v="$((v1 - v0))" -v tck="$tck" \
            'BEGIN { printf "calling impl=%-8s proto=%-7s client_cpu=%.0f%% server_cpu=%.0f%% (of one core) server_voluntary_switches=%.0f/s\n",
                     i, p, c * 50 / tck, t * 50 / tck, v / 2 }'
        echo "  (load1=$(cut -d' ' -f1 /proc/loadavg) at=$(date +%T))"
    done
done
echo "load at end:$(cut -d' ' -f1-3 /proc/loadavg)"
