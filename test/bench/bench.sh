#!/usr/bin/env bash
# test/bench/bench.sh - shmcached vs Debian's memcached, same load, same flags.
# Run through `make bench` (builds first). Takes about 7 minutes.
#
# What it does
#   * builds nothing: `make bench` builds build/shmcached and build/loadgen
#     (test/bench/loadgen.c, our load generator: N connections, exactly
#     DEPTH requests in flight on each, a fixed get/set mix, a latency
#     histogram);
#   * starts /usr/bin/memcached, build/shmcached (epoll, the default) and
#     build/shmcached -o io_uring ("shmcached_uring") with identical
#     -t/-m/-c on free 127.0.0.1 ports (UDP off), only 127.0.0.1;
#   * per workload, fresh servers, every key set once (loadgen --prefill: the
#     gets all hit), then ROUNDS rounds of DURATION seconds alternating
#     memcached, shmcached, shmcached_uring, memcached, ... The workloads
#     (issue 14):
#       mix100     90% get / 10% set, 100 B values, 100,000 keys
#       set1k      set only, 1 KB values, 100,000 keys
#       mix64k     20% get / 80% set, 64 KB values, 8,000 keys (512 MB)
#     each with 50 connections and one request in flight per connection
#     (request/response), and again with 32 in flight per connection
#     (pipelined: mix100_p32, set1k_p32, mix64k_p32);
#   * per round: ops/s, p50 and p99 latency (loadgen), and server CPU per
#     request = (utime+stime) of ALL server processes (shmcached: the master
#     and every worker, found via /proc/<pid>/task/*/children; memcached:
#     its one process, all threads) from /proc/<pid>/stat before/after the
#     round, over the requests of the round. "server CPU %" = that CPU time
#     / wall time (100% = one core busy): it tells whether the server or
#     the load generator was the bottleneck;
#   * system calls per request, per workload and server: a separate run of
#     SYSCALL_REQS requests (loadgen -n) counted twice: with
#     `perf stat -e raw_syscalls:sys_enter` on every server process (cheap:
#     the server runs at full speed), and with `strace -c -f` (slow, but it
#     names the calls; strace's slowdown lets more requests gather per
#     wake-up, so its total is lower than perf's);
#   * memory efficiency: fresh servers with -m 64 get 1,000,000 pipelined
#     noreply sets of key:%07d with 100-byte values; we report curr_items.
#   * prints a median table (+ each shmcached's ratio to memcached) and writes it to
#     build/bench.md; raw rounds and loadgen logs go to build/bench/run.<pid>/.
#   * holds build/bench.lock (flock) while it runs: concurrent `make bench`s
#     wait for each other instead of sharing the CPUs.
#
# Why -t 1 by default (override: BENCH_THREADS=2)
#   The machine has 2 cores and the load generator needs most of one. With
#   -t 2 both servers' workers would fight the load generator for the same
#   2 cores and the numbers would mostly measure the scheduler. With -t 1
#   we pin the server (all of its processes/threads) to CPU 0 and loadgen
#   to CPU 1: each side owns a core and CPU/request is a clean per-request
#   cost. With BENCH_THREADS >= 2 nothing is pinned.
#   memcached's extra background threads (LRU maintainer/crawler, etc.) are
#   pinned to CPU 0 too, and counted in its CPU time, as shmcached's master is.
#
# Knobs (environment): BENCH_THREADS (1), BENCH_ROUNDS (5), BENCH_DURATION (4),
#   BENCH_MEM (1024, MB for the throughput runs, so every working set fits;
#   the memory test always uses -m 64), BENCH_CONNS (1024, -c), BENCH_FILL
#   (1000000), BENCH_WORKLOADS ("mix100 set1k mix64k mix100_p32 set1k_p32
#   mix64k_p32"), BENCH_SYSCALL_REQS (20000; 0 skips the system call
#   counts), BENCH_SHMC_OPTS (extra flags for both shmcacheds),
#   BENCH_SERVERS ("memcached shmcached shmcached_uring"; memcached first:
#   the ratios are to it).
#
# Servers are stopped by PID on exit (trap EXIT); never by name. Every wait
# loop is bounded.
set -u -o pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=/usr/bin/python3
LIB=$ROOT/test/bench/benchlib.py
SHMC=$ROOT/build/shmcached
MEMC=/usr/bin/memcached
LOADGEN=$ROOT/build/loadgen

THREADS=${BENCH_THREADS:-1}
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-4}
MEM=${BENCH_MEM:-1024}
CONNS=${BENCH_CONNS:-1024}
FILL=${BENCH_FILL:-1000000}
WORKLOADS=${BENCH_WORKLOADS:-"mix100 set1k mix64k mix100_p32 set1k_p32 mix64k_p32"}
SYSCALL_REQS=${BENCH_SYSCALL_REQS:-20000}
SHMC_OPTS=${BENCH_SHMC_OPTS:-}
SERVERS=${BENCH_SERVERS:-"memcached shmcached shmcached_uring"}
MD=$ROOT/build/bench.md

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$SHMC" ] || die "$SHMC missing: run make"
[ -x "$LOADGEN" ] || die "$LOADGEN missing: run make bench"
[ -x "$MEMC" ] || die "$MEMC missing: apt-get install memcached"
[ -x "$PY" ] || die "$PY missing"

NCPU=$(nproc)
USER_FLAG=()
[ "$(id -u)" = 0 ] && USER_FLAG=(-u root)
if [ "$THREADS" -lt 2 ] && [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0); CLI_PIN=(taskset -c 1)
else
    SRV_PIN=(); CLI_PIN=()
fi

# Two benches at once would share the 2 cores (and this script pins both to
# CPU 0/1): serialize them with a lock; each run writes its own directory.
mkdir -p "$ROOT/build"
exec 9> "$ROOT/build/bench.lock"
if ! flock -n 9; then
    echo "bench: another bench holds build/bench.lock; waiting (max 10 min)"
    flock -w 600 9 || die "build/bench.lock still held after 10 minutes"
fi
OUT=$ROOT/build/bench/run.$$
TSV=$OUT/results.tsv
rm -rf "$OUT"; mkdir -p "$OUT"
: > "$TSV"
COMMAND="make bench  (BENCH_THREADS=$THREADS BENCH_ROUNDS=$ROUNDS BENCH_DURATION=$DURATION BENCH_MEM=$MEM BENCH_CONNS=$CONNS BENCH_FILL=$FILL BENCH_SYSCALL_REQS=$SYSCALL_REQS${SHMC_OPTS:+ BENCH_SHMC_OPTS=\"$SHMC_OPTS\"})"

PIDS=()
cleanup() {
    local p i
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME MB -> sets PID_<NAME>, PORT_<NAME>
start() {
    local name=$1 mb=$2 port pid bin extra=()
    port=$($PY "$LIB" freeport) || die "no free port"
    case $name in
        memcached) bin=$MEMC ;;
        shmcached) bin=$SHMC
                   # shellcheck disable=SC2206
                   extra=($SHMC_OPTS) ;;
        shmcached_uring) bin=$SHMC
                   # shellcheck disable=SC2206
                   extra=(-o io_uring $SHMC_OPTS) ;;
    esac
    local args=(-p "$port" -l 127.0.0.1 -U 0 -t "$THREADS" -m "$mb" -c "$CONNS" "${USER_FLAG[@]}" "${extra[@]}")
    "${SRV_PIN[@]}" "$bin" "${args[@]}" > "$OUT/$name.log" 2>&1 9>&- &
    pid=$!
    PIDS+=("$pid")
    echo "  $name: pid $pid: ${SRV_PIN[*]} $bin ${args[*]}"
    $PY "$LIB" wait "$port" 10 || { cat "$OUT/$name.log" >&2; die "$name did not start"; }
    printf -v "PID_$name" %s "$pid"
    printf -v "PORT_$name" %s "$port"
}

# loadgen arguments per workload (request/response: -d 1; _p32: -d 32)
wl_args() {
    local depth=1 base=${1%_p32}
    [ "$base" != "$1" ] && depth=32
    case $base in
        mix100) echo "-c 50 -d $depth -g 90 -v 100 -k 100000" ;;
        set1k)  echo "-c 50 -d $depth -g 0 -v 1024 -k 100000" ;;
        mix64k) echo "-c 50 -d $depth -g 20 -v 65536 -k 8000" ;;
        *) die "unknown workload $1" ;;
    esac
}

# prefill WORKLOAD PORT: every key of the workload set once
prefill() {
    local a k v
    a=$(wl_args "$1")
    k=$(sed 's/.*-k \([0-9]*\).*/\1/' <<< "$a")
    v=$(sed 's/.*-v \([0-9]*\).*/\1/' <<< "$a")
    "${CLI_PIN[@]}" "$LOADGEN" -p "$2" --prefill -c 8 -d 32 -k "$k" -v "$v" \
        > "$OUT/prefill.$1.$2.log" 2>&1 || die "prefill $1 on port $2 failed"
}

# field NAME LINE: the value of NAME=... in loadgen's output line
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<< "$2"; }

# run_one WORKLOAD SERVER ROUND
run_one() {
    local wl=$1 srv=$2 r=$3 pid port log c0 c1 line reqs
    pid=PID_$srv; pid=${!pid}
    port=PORT_$srv; port=${!port}
    kill -0 "$pid" 2>/dev/null || die "$srv (pid $pid) died"
    log=$OUT/$wl.$srv.$r.log
    c0=$($PY "$LIB" cpu "$pid")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2046
    timeout $(( DURATION + 30 )) "${CLI_PIN[@]}" "$LOADGEN" -p "$port" \
        -t "$DURATION" -s "$r" $(wl_args "$wl") > "$log" 2>&1
    local rc=$?
    t1=$(date +%s.%N)
    c1=$($PY "$LIB" cpu "$pid")
    line=$(grep '^requests=' "$log")
    reqs=$(field requests "$line")
    if [ "$rc" != 0 ] || [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
        echo "  $wl $srv round $r: loadgen failed, see $log" >&2
        return
    fi
    local tck; tck=$(getconf CLK_TCK)
    local cpu_us util ops p50 p99
    ops=$(field ops_s "$line"); p50=$(field p50_us "$line"); p99=$(field p99_us "$line")
    cpu_us=$(awk -v a="$c0" -v b="$c1" -v n="$reqs" -v h="$tck" 'BEGIN{printf "%.4f", (b-a)/h*1e6/n}')
    util=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v h="$tck" 'BEGIN{printf "%.1f", (b-a)/h/(t1-t0)*100}')
    printf '  %-10s %-15s round %d: %8.0f ops/s  p50 %7.1f us  p99 %7.1f us  %6.3f us CPU/req  server CPU %5.1f%%\n' \
        "$wl" "$srv" "$r" "$ops" "$p50" "$p99" "$cpu_us" "$util"
    {
        printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "ops/s" "$ops"
        printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "p50 latency us" "$p50"
        printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "p99 latency us" "$p99"
        printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "server CPU us/request" "$cpu_us"
        printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "server CPU % of 1 core" "$util"
    } >> "$TSV"
}

# syscalls WORKLOAD SERVER: SYSCALL_REQS requests counted by perf, then by
# strace (every process of the server's tree, all threads)
syscalls() {
    local wl=$1 srv=$2 pid port pids=() p n log
    pid=PID_$srv; pid=${!pid}
    port=PORT_$srv; port=${!port}
    # shellcheck disable=SC2207
    pids=($($PY "$LIB" tree "$pid"))
    if command -v perf >/dev/null; then
        log=$OUT/$wl.$srv.perf
        perf stat -x, -e raw_syscalls:sys_enter -p "$(IFS=,; echo "${pids[*]}")" \
            -o "$log" &
        p=$!
        sleep 0.5
        # shellcheck disable=SC2046
        "${CLI_PIN[@]}" "$LOADGEN" -p "$port" -n "$SYSCALL_REQS" $(wl_args "$wl") \
            > "$log.load" 2>&1
        kill -INT "$p"; wait "$p"
        n=$(awk -F, '/raw_syscalls:sys_enter/{print $1; exit}' "$log")
        if [ -n "$n" ] && [ "$n" != "<not" ]; then
            n=$(awk -v n="$n" -v r="$SYSCALL_REQS" 'BEGIN{printf "%.3f", n/r}')
            echo "  $wl $srv: $n system calls/request (perf stat, $SYSCALL_REQS requests)"
            printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "syscalls/request (perf)" "$n" >> "$TSV"
        fi
    fi
    if command -v strace >/dev/null; then
        log=$OUT/$wl.$srv.strace
        local sargs=()
        for p in "${pids[@]}"; do sargs+=(-p "$p"); done
        strace -c -f -o "$log" "${sargs[@]}" 2> "$log.err" &
        p=$!
        for n in $(seq 1 50); do
            [ "$(grep -c attached "$log.err")" -ge "${#pids[@]}" ] && break
            sleep 0.1
        done
        # shellcheck disable=SC2046
        "${CLI_PIN[@]}" "$LOADGEN" -p "$port" -n "$SYSCALL_REQS" $(wl_args "$wl") \
            > "$log.load" 2>&1
        kill -INT "$p"; wait "$p"
        $PY "$LIB" strace_summary "$log" "$SYSCALL_REQS" "$wl" "$srv" "$TSV" \
            || echo "  $wl $srv: strace gave no summary ($log)"
    fi
}

echo "machine: nproc $NCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -sr)"
echo "command: $COMMAND"
echo "versions: $($SHMC -V 2>&1 | head -1); $($MEMC -V 2>&1); loadgen: test/bench/loadgen.c"
echo "server pinning: ${SRV_PIN[*]:-none}; loadgen: ${CLI_PIN[*]:-unpinned}"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shares the cores)"

echo "== throughput: -t $THREADS -m $MEM -c $CONNS, $ROUNDS rounds x ${DURATION}s"
for wl in $WORKLOADS; do
    # fresh servers per workload: otherwise memory (slab pages) taken by
    # the previous workload's items starves the next one
    for srv in $SERVERS; do
        start "$srv" "$MEM"
        port=PORT_$srv
        prefill "$wl" "${!port}"
    done
    echo "  $wl: loadgen $(wl_args "$wl")"
    for r in $(seq 1 "$ROUNDS"); do
        for srv in $SERVERS; do
            run_one "$wl" "$srv" "$r"
        done
    done
    if [ "$SYSCALL_REQS" -gt 0 ]; then
        for srv in $SERVERS; do
            syscalls "$wl" "$srv"
        done
    fi
    for srv in $SERVERS; do
        port=PORT_$srv
        echo "  $srv after $wl: $($PY "$LIB" stat "${!port}" curr_items evictions get_misses | tr '\n' ' ')"
    done
    cleanup
done

for size in 100 1024; do
    echo "== memory efficiency: -m 64, $FILL sets of key:%07d, $size-byte values"
    for srv in memcached shmcached; do
        start "$srv" 64
        port=PORT_$srv; port=${!port}
        log="$OUT/fill.$size.$srv.log"
        $PY "$LIB" fill "$port" "$FILL" "$size" > "$log" || die "fill $srv failed"
        sed 's/^/    /' "$log"
        for m in curr_items overhead_per_item memory_per_item; do
            v=$(awk -v m="$m" '$1==m{print $2}' "$log")
            printf 'fill -m 64 (%s B values)\t%s\t%s\t%s\n' "$size" "$srv" "$m" "$v" >> "$TSV"
        done
        cleanup
    done
done

$PY "$LIB" report "$TSV" "$MD" "$COMMAND"
echo
echo "raw rounds: $TSV; loadgen logs: $OUT/; table: $MD"
