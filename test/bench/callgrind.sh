#!/usr/bin/env bash
# test/bench/callgrind.sh - instruction profile of the request hot path.
#
# Usage: test/bench/callgrind.sh [shmcached|memcached|both]   (default shmcached)
#        CG_REQS=20000 CG_TOP=25 (environment)
#
# Runs the server (build/shmcached -t 1, or /usr/bin/memcached -t 1) under
# valgrind --tool=callgrind --trace-children=yes, on a free 127.0.0.1 port.
# shmcached's worker is a forked child of the master: callgrind writes one
# callgrind.out.<pid> per process, and we profile the worker's pid (the
# child of the master). memcached is one process (its threads are summed).
#
# The fixed load (test/bench/benchlib.py load): one connection, CG_REQS
# sequential round trips, 90% "get key:%07d" (always a hit) / 10% "set" of
# 100-byte values over 1000 keys, which are set before measuring.
# Around that load the counters are zeroed (callgrind_control -z) and dumped
# (callgrind_control -d), so start-up, priming and shutdown are excluded and
# "Ir/request" = instructions executed by the serving process / CG_REQS
# (including libc and the syscall wrappers, not the kernel).
#
# Prints callgrind_annotate's top CG_TOP functions by self instruction count
# and the same as instructions per request. Output: build/callgrind/<server>/.
# The server is stopped by PID on exit; never by name. Loops are bounded.
set -u -o pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=/usr/bin/python3
LIB=$ROOT/test/bench/benchlib.py
REQS=${CG_REQS:-20000}
TOP=${CG_TOP:-25}
WHICH=${1:-shmcached}

die() { echo "callgrind: $*" >&2; exit 1; }
command -v valgrind >/dev/null || die "valgrind missing: apt-get install valgrind"
command -v callgrind_control >/dev/null || die "callgrind_control missing"
USER_FLAG=()
[ "$(id -u)" = 0 ] && USER_FLAG=(-u root)

# do not profile while a bench (or another profile) runs: share its lock
mkdir -p "$ROOT/build"
exec 9> "$ROOT/build/bench.lock"
flock -w 600 9 || die "build/bench.lock held for 10 minutes"

VPID=
cleanup() {
    if [ -n "$VPID" ]; then
        kill "$VPID" 2>/dev/null
        local i
        for i in $(seq 1 100); do kill -0 "$VPID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$VPID" 2>/dev/null
        wait "$VPID" 2>/dev/null
        VPID=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ctl PID OPTION: callgrind_control, bounded
ctl() { timeout 60 callgrind_control "$2" "$1" > /dev/null 2>&1; }

profile() {
    local srv=$1 bin dir port target i
    case $srv in
        shmcached) bin=$ROOT/build/shmcached; [ -x "$bin" ] || die "$bin missing: run make" ;;
        memcached) bin=/usr/bin/memcached ;;
        *) die "unknown server $srv" ;;
    esac
    dir=$ROOT/build/callgrind/$srv
    rm -rf "$dir"; mkdir -p "$dir"
    port=$($PY "$LIB" freeport) || die "no free port"
    local cmd=(valgrind --tool=callgrind --trace-children=yes
               --callgrind-out-file="$dir/callgrind.out.%p"
               "$bin" -p "$port" -l 127.0.0.1 -U 0 -t 1 -m 64 -c 1024 "${USER_FLAG[@]}")
    echo "== $srv: ${cmd[*]}"
    "${cmd[@]}" > "$dir/valgrind.log" 2>&1 &
    VPID=$!
    $PY "$LIB" wait "$port" 60 || { tail "$dir/valgrind.log" >&2; die "$srv did not start"; }
    target=$VPID
    if [ "$srv" = shmcached ]; then
        target=
        for i in $(seq 1 100); do
            target=$(cat /proc/"$VPID"/task/*/children 2>/dev/null | awk '{print $1}' | head -1)
            [ -n "$target" ] && break
            sleep 0.1
        done
        [ -n "$target" ] || die "no worker child of $VPID"
        echo "   master pid $VPID, worker pid $target (profiled)"
    fi
    $PY "$LIB" load "$port" 0 1 > /dev/null || die "priming failed"
    ctl "$target" -z || echo "   warning: callgrind_control -z failed; start-up is included" >&2
    local t0 t1
    t0=$(date +%s.%N)
    $PY "$LIB" load "$port" "$REQS" 0 > /dev/null || die "load failed"
    t1=$(date +%s.%N)
    ctl "$target" -d || echo "   warning: callgrind_control -d failed; using the final dump" >&2
    echo "   $REQS requests in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s under valgrind"
    local out=
    for i in $(seq 1 100); do       # the dump is written asynchronously
        out=$(ls "$dir"/callgrind.out."$target".1 2>/dev/null || true)
        [ -n "$out" ] && break
        sleep 0.1
    done
    cleanup
    [ -n "$out" ] || out=$dir/callgrind.out.$target
    [ -s "$out" ] || die "no callgrind output for pid $target in $dir"
    echo "   profile: $out"
    echo
    callgrind_annotate --inclusive=no "$out" 2>/dev/null | sed -n '1,/^-* *$/!p' | head -n $((TOP + 25)) \
        > "$dir/annotate.txt"
    callgrind_annotate --inclusive=no "$out" 2>/dev/null | head -n $((TOP + 25))
    echo
    echo "-- $srv: self instructions per request (top $TOP)"
    $PY "$LIB" cgtop "$out" "$REQS" "$TOP" | tee "$dir/per_request.txt"
    echo
}

case $WHICH in
    both) profile memcached; profile shmcached ;;
    *) profile "$WHICH" ;;
esac
