#!/usr/bin/env bash
# test/bench/callgrind.sh - instruction profile of the request hot path.
#
# Usage: test/bench/callgrind.sh [shmcached|shmcached_uring|memcached|both|all]
#        (default shmcached; shmcached_uring: shmcached -o io_uring; both:
#        memcached and shmcached; all: the three)
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
# 100-byte values over 1000 keys, which are set first. Each server is run
# twice: once with priming only, once with priming + CG_REQS requests; the
# difference, divided by CG_REQS, is the cost per request, with start-up,
# priming and shutdown cancelled out ("Ir/request" = instructions executed
# in the serving process, including libc and syscall wrappers, not the
# kernel). (callgrind_control -z/-d would do it in one run but needs vgdb
# and proved unreliable with the forked worker.)
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

VPID=   # the valgrind wrapper script's pid (/usr/bin/valgrind is sh)
cleanup() {
    if [ -n "$VPID" ]; then
        local p i
        # the server (valgrind.bin) is the wrapper's child: stop it by PID
        p=$(server_pid "$VPID")
        [ -n "$p" ] && [ "$p" != "$VPID" ] && kill "$p" 2>/dev/null
        kill "$VPID" 2>/dev/null
        for i in $(seq 1 150); do kill -0 "$VPID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$VPID" 2>/dev/null
        wait "$VPID" 2>/dev/null
        VPID=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# memcached sets RLIMIT_NOFILE soft = hard = -c, and valgrind refuses a hard
# limit other than its own (the shell's minus the fds it reserves): so -c is
# exactly the limit seen under valgrind (for both servers, same flags).
CONNS=$(valgrind --tool=none /bin/sh -c 'ulimit -Hn' 2>/dev/null | tail -1)
case $CONNS in ''|*[!0-9]*) CONNS=1024 ;; esac

# server_pid VPID: /usr/bin/valgrind is a sh wrapper that may or may not exec
# valgrind.bin: the server is VPID itself, or VPID's child
server_pid() {
    case $(readlink /proc/"$1"/exe 2>/dev/null) in
        */sh|*/dash|*/bash) cat /proc/"$1"/task/*/children 2>/dev/null | awk '{print $1; exit}' ;;
        *) echo "$1" ;;
    esac
}

# run SERVER BIN DIR NREQS: one valgrind run; prints the profile file
run() {
    local srv=$1 bin=$2 dir=$3 nreq=$4 port target i
    port=$($PY "$LIB" freeport) || die "no free port"
    local cmd=(valgrind --tool=callgrind --trace-children=yes
               --callgrind-out-file="$dir/callgrind.out.$nreq.%p"
               "$bin" -p "$port" -l 127.0.0.1 -U 0 -t 1 -m 64 -c "$CONNS" "${USER_FLAG[@]}"
               "${EXTRA[@]}")
    echo "   ${cmd[*]}" >&2
    "${cmd[@]}" > "$dir/valgrind.$nreq.log" 2>&1 9>&- &
    VPID=$!
    $PY "$LIB" wait "$port" 60 || { tail "$dir/valgrind.$nreq.log" >&2; die "$srv did not start"; }
    target=
    for i in $(seq 1 100); do
        target=$(server_pid "$VPID")
        # shmcached: the forked worker (the master's child) serves requests
        [ -n "$target" ] && [ "$srv" != memcached ] && \
            target=$(cat /proc/"$target"/task/*/children 2>/dev/null | awk '{print $1; exit}')
        [ -n "$target" ] && break
        sleep 0.1
    done
    [ -n "$target" ] || die "no server process under $VPID"
    echo "   profiled pid $target (requests: $nreq)" >&2
    $PY "$LIB" load "$port" 0 1 > /dev/null || die "priming failed"
    if [ "$nreq" -gt 0 ]; then
        local t0 t1
        t0=$(date +%s.%N)
        $PY "$LIB" load "$port" "$nreq" 0 > /dev/null || die "load failed"
        t1=$(date +%s.%N)
        echo "   $nreq requests in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s under valgrind" >&2
    fi
    cleanup
    [ -s "$dir/callgrind.out.$nreq.$target" ] || die "no callgrind output for pid $target in $dir"
    echo "$dir/callgrind.out.$nreq.$target"
}

profile() {
    local srv=$1 bin dir base full
    EXTRA=()
    case $srv in
        shmcached) bin=$ROOT/build/shmcached; [ -x "$bin" ] || die "$bin missing: run make" ;;
        shmcached_uring) bin=$ROOT/build/shmcached; EXTRA=(-o io_uring)
                   [ -x "$bin" ] || die "$bin missing: run make" ;;
        memcached) bin=/usr/bin/memcached ;;
        *) die "unknown server $srv" ;;
    esac
    dir=$ROOT/build/callgrind/$srv
    rm -rf "$dir"; mkdir -p "$dir"
    echo "== $srv"
    base=$(run "$srv" "$bin" "$dir" 0) || exit 1
    full=$(run "$srv" "$bin" "$dir" "$REQS") || exit 1
    echo "   profile: $full (baseline $base)"
    echo
    callgrind_annotate --inclusive=no --auto=no "$full" 2>/dev/null | head -n $((TOP + 20)) \
        | tee "$dir/annotate.txt"
    echo
    echo "-- $srv: self instructions per request, top $TOP (load run - baseline run) / $REQS"
    $PY "$LIB" cgtop "$full" "$base" "$REQS" "$TOP" | tee "$dir/per_request.txt"
    echo
}

case $WHICH in
    both) profile memcached; profile shmcached ;;
    all) profile memcached; profile shmcached; profile shmcached_uring ;;
    *) profile "$WHICH" ;;
esac
