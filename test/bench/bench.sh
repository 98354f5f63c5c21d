#!/usr/bin/env bash
# test/bench/bench.sh - shmcached vs Debian's memcached, same load, same flags.
# Run through `make bench` (builds first). Takes about 3.5 minutes.
#
# What it does
#   * starts build/shmcached and /usr/bin/memcached with identical
#     -t/-m/-c on free 127.0.0.1 ports (UDP off), only 127.0.0.1;
#   * runs every workload ROUNDS times, alternating memcached, shmcached,
#     memcached, shmcached, ... (DURATION seconds per run), with Debian's
#     memcaslap (memaslap) as the load generator:
#       mix100   90% get / 10% set, 100-byte values, 64 connections
#       mget16   get-only, 16 keys per "get k1 ... k16" (memaslap --division=16;
#                verified: server cmd_get grows by 16 per request, all hits),
#                64 connections; ops = keys fetched
#       set1k    set-only, 1 KB values, 64 connections
#       mix64k   90% get / 10% set, 64 KB values, 8 connections (see wl_args)
#     (memaslap warms the server up with one set per key of its window
#     before the gets; those sets are counted in its ops, for both servers.)
#   * per run: ops/s as reported by memaslap, and server CPU per op =
#     (utime+stime) of ALL server processes (shmcached: the master and every
#     worker, found via /proc/<pid>/task/*/children; memcached: its one
#     process, all threads) from /proc/<pid>/stat before/after the run,
#     divided by memaslap's op count. "server CPU" = that CPU time / wall time
#     (100% = one core busy): it tells whether the server or the client was
#     the bottleneck.
#   * memory efficiency: fresh servers with -m 64 get 1,000,000 pipelined
#     noreply sets of key:%07d with 100-byte values; we report curr_items.
#   * prints a median table (+ ratio shmcached/memcached) and writes it to
#     build/bench.md; raw rounds and memaslap logs go to build/bench/run.<pid>/.
#   * holds build/bench.lock (flock) while it runs: concurrent `make bench`s
#     wait for each other instead of sharing the CPUs.
#
# Why -t 1 by default (override: BENCH_THREADS=2)
#   The machine has 2 cores and memaslap itself needs a full core to drive a
#   memcached worker. With -t 2 both servers' workers would fight the load
#   generator for the same 2 cores and the numbers would mostly measure the
#   scheduler (and swing a lot). With -t 1 we pin the server (all of its
#   processes/threads) to CPU 0 and memaslap (-T 1) to CPU 1: each side owns
#   a core, runs are repeatable, and CPU/op is a clean per-request cost. With
#   BENCH_THREADS >= 2 nothing is pinned and memaslap gets -T 2.
#   memcached's extra background threads (LRU maintainer/crawler, etc.) are
#   pinned to CPU 0 too, and counted in its CPU time, as shmcached's master is.
#
# Knobs (environment): BENCH_THREADS (1), BENCH_ROUNDS (5), BENCH_DURATION (4),
#   BENCH_MEM (1024, MB for the throughput runs, so every working set fits;
#   the memory test always uses -m 64), BENCH_CONNS (1024, -c), BENCH_FILL
#   (1000000), BENCH_WORKLOADS ("mix100 mget16 set1k mix64k").
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
MEMASLAP=$(command -v memcaslap || command -v memaslap || true)

THREADS=${BENCH_THREADS:-1}
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-4}
MEM=${BENCH_MEM:-1024}
CONNS=${BENCH_CONNS:-1024}
FILL=${BENCH_FILL:-1000000}
WORKLOADS=${BENCH_WORKLOADS:-"mix100 mget16 set1k mix64k"}
MD=$ROOT/build/bench.md

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$SHMC" ] || die "$SHMC missing: run make"
[ -x "$MEMC" ] || die "$MEMC missing: apt-get install memcached"
[ -n "$MEMASLAP" ] || die "memcaslap missing: apt-get install libmemcached-tools"
[ -x "$PY" ] || die "$PY missing"

NCPU=$(nproc)
USER_FLAG=()
[ "$(id -u)" = 0 ] && USER_FLAG=(-u root)
if [ "$THREADS" -lt 2 ] && [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0); CLI_PIN=(taskset -c 1); CLI_THREADS=1
else
    SRV_PIN=(); CLI_PIN=(); CLI_THREADS=$(( THREADS < 2 ? 1 : 2 ))
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
COMMAND="make bench  (BENCH_THREADS=$THREADS BENCH_ROUNDS=$ROUNDS BENCH_DURATION=$DURATION BENCH_MEM=$MEM BENCH_CONNS=$CONNS BENCH_FILL=$FILL)"

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
    local name=$1 mb=$2 port pid bin
    port=$($PY "$LIB" freeport) || die "no free port"
    case $name in
        memcached) bin=$MEMC ;;
        shmcached) bin=$SHMC ;;
    esac
    local args=(-p "$port" -l 127.0.0.1 -U 0 -t "$THREADS" -m "$mb" -c "$CONNS" "${USER_FLAG[@]}")
    "${SRV_PIN[@]}" "$bin" "${args[@]}" > "$OUT/$name.log" 2>&1 9>&- &
    pid=$!
    PIDS+=("$pid")
    echo "  $name: pid $pid: ${SRV_PIN[*]} $bin ${args[*]}"
    $PY "$LIB" wait "$port" 10 || { cat "$OUT/$name.log" >&2; die "$name did not start"; }
    printf -v "PID_$name" %s "$pid"
    printf -v "PORT_$name" %s "$port"
}

# memaslap config: key size, value size, set/get proportions
write_cfg() { # FILE VALUE_SIZE SET_PROP GET_PROP
    cat > "$1" <<EOF
key
16 16 1
value
$2 $2 1
cmd
0 $3
1 $4
EOF
}
write_cfg "$OUT/mix100.cfg" 100 0.1 0.9
write_cfg "$OUT/mget16.cfg" 100 0.0 1.0
write_cfg "$OUT/set1k.cfg" 1024 1.0 0.0
write_cfg "$OUT/mix64k.cfg" 65536 0.1 0.9

# memaslap args per workload. -w = keys per connection (memaslap's minimum is
# 1k): 64 conns x 1k keys. For 64 KB values 64 x 1k keys would be 4 GB (an
# eviction/miss test, dominated by memaslap's warm-up sets), so mix64k uses
# 8 connections: 8 x 1k x 64 KB = 512 MB. (memaslap's sets create new keys,
# so a long run still evicts; its gets aim at recent keys and hit. Its -o 1
# "overwrite" is no fix: it collapses to one key per connection.)
wl_args() {
    case $1 in
        mix100) echo "-F $OUT/mix100.cfg -c 64 -w 1k" ;;
        mget16) echo "-F $OUT/mget16.cfg -c 64 -w 1k -d 16" ;;
        set1k)  echo "-F $OUT/set1k.cfg -c 64 -w 1k" ;;
        mix64k) echo "-F $OUT/mix64k.cfg -c 8 -w 1k" ;;
        *) die "unknown workload $1" ;;
    esac
}

# run_one WORKLOAD SERVER ROUND
run_one() {
    local wl=$1 srv=$2 r=$3 pid port log c0 c1 ops tps secs t0 t1
    pid=PID_$srv; pid=${!pid}
    port=PORT_$srv; port=${!port}
    kill -0 "$pid" 2>/dev/null || die "$srv (pid $pid) died"
    log=$OUT/$wl.$srv.$r.log
    c0=$($PY "$LIB" cpu "$pid")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2046
    timeout $(( DURATION + 30 )) "${CLI_PIN[@]}" "$MEMASLAP" -s "127.0.0.1:$port" \
        -T "$CLI_THREADS" -t "${DURATION}s" $(wl_args "$wl") > "$log" 2>&1
    t1=$(date +%s.%N)
    c1=$($PY "$LIB" cpu "$pid")
    read -r ops tps secs < <($PY "$LIB" memaslap_ops "$log")
    if [ "${ops:-0}" = 0 ]; then
        echo "  $wl $srv round $r: memaslap failed, see $log" >&2
        return
    fi
    local tck; tck=$(getconf CLK_TCK)
    local cpu_us_op util
    cpu_us_op=$(awk -v a="$c0" -v b="$c1" -v n="$ops" -v h="$tck" 'BEGIN{printf "%.4f", (b-a)/h*1e6/n}')
    util=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v h="$tck" 'BEGIN{printf "%.1f", (b-a)/h/(t1-t0)*100}')
    printf '  %-7s %-9s round %d: %9d ops/s  %7.3f us CPU/op  server CPU %5.1f%%\n' \
        "$wl" "$srv" "$r" "$tps" "$cpu_us_op" "$util"
    local ul="ops/s"; [ "$wl" = mget16 ] && ul="ops/s (keys; /16 = requests)"
    printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "$ul" "$tps" >> "$TSV"
    printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "server CPU us/op" "$cpu_us_op" >> "$TSV"
    printf '%s\t%s\t%s\t%s\n' "$wl" "$srv" "server CPU % of 1 core" "$util" >> "$TSV"
}

echo "machine: nproc $NCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -sr)"
echo "command: $COMMAND"
echo "versions: $($SHMC -V 2>&1 | head -1); $($MEMC -V 2>&1); $MEMASLAP $($MEMASLAP -V 2>&1 | head -1)"
echo "server pinning: ${SRV_PIN[*]:-none}; memaslap: ${CLI_PIN[*]:-unpinned} -T $CLI_THREADS"

echo "== throughput: -t $THREADS -m $MEM -c $CONNS, $ROUNDS rounds x ${DURATION}s"
for wl in $WORKLOADS; do
    # fresh servers per workload: otherwise memory (slab pages) taken by
    # the previous workload's items starves the next one (seen: mix64k after
    # set1k was ~100% misses on both servers)
    start memcached "$MEM"
    start shmcached "$MEM"
    echo "  shmcached processes: $($PY "$LIB" nprocs "$PID_shmcached") (master + workers)"
    for r in $(seq 1 "$ROUNDS"); do
        run_one "$wl" memcached "$r"
        run_one "$wl" shmcached "$r"
    done
    for srv in memcached shmcached; do
        port=PORT_$srv
        echo "  $srv after $wl: $($PY "$LIB" stat "${!port}" curr_items evictions get_misses | tr '\n' ' ')"
    done
    cleanup
done

echo "== memory efficiency: -m 64, $FILL sets of key:%07d, 100-byte values"
for srv in memcached shmcached; do
    start "$srv" 64
    port=PORT_$srv; port=${!port}
    $PY "$LIB" fill "$port" "$FILL" 100 > "$OUT/fill.$srv.log" || die "fill $srv failed"
    sed 's/^/    /' "$OUT/fill.$srv.log"
    items=$(awk '$1=="curr_items"{print $2}' "$OUT/fill.$srv.log")
    printf 'fill -m 64 (100 B values)\t%s\tcurr_items\t%s\n' "$srv" "$items" >> "$TSV"
    cleanup
done

$PY "$LIB" report "$TSV" "$MD" "$COMMAND"
echo
echo "raw rounds: $TSV; memaslap logs: $OUT/; table: $MD"
