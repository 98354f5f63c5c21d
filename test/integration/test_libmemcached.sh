#!/bin/bash
# libmemcached-tools against the server: memccapable -a (ASCII protocol
# conformance), a short memcaslap load run, and the small command line tools
# (memccp, memccat, memcexist, memctouch, memcdump, memcstat, memcping,
# memcrm, memcflush).
#
# SHMC_SERVER selects the binary (default build/shmcached under the repo
# root); "-u root" is added when running as root (memcached's rule, which
# shmcached follows).
# Every server is started on a free 127.0.0.1 port and stopped by PID.
# Prints PASS/FAIL per test and a final "N passed, N failed" line.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3

SERVER=${SHMC_SERVER:-build/shmcached}
case "$SERVER" in
    /*) ;;
    */*) SERVER="$ROOT/$SERVER" ;;
esac

PASSED=0
FAILED=0
FAILED_NAMES=""
SERVER_PID=""
PORT=""
TMP=$(mktemp -d /tmp/shmc_libmc.XXXXXX)

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            kill -TERM "$SERVER_PID" 2>/dev/null
            for _ in $(seq 1 50); do
                kill -0 "$SERVER_PID" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$SERVER_PID" 2>/dev/null; then
                kill -KILL "$SERVER_PID" 2>/dev/null
            fi
        fi
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=""
    fi
}

cleanup() {
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_server [extra args...]: sets PORT and SERVER_PID; waits <= 10 s.
start_server() {
    local extra=("$@") attempt i
    if [ ! -x "$SERVER" ]; then
        echo "server binary not found: $SERVER"
        return 1
    fi
    if [ "$(id -u)" = 0 ]; then
        extra+=(-u root)
    fi
    for attempt in 1 2 3; do
        PORT=$(free_port)
        # shellcheck disable=SC2086
        "$SERVER" -p "$PORT" -l 127.0.0.1 -U 0 "${extra[@]}" ${SHMC_SERVER_ARGS:-} \
            >"$TMP/server.log" 2>&1 </dev/null &
        SERVER_PID=$!
        for i in $(seq 1 100); do
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then
                break
            fi
            if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
                return 0
            fi
            sleep 0.1
        done
        stop_server
    done
    echo "could not start $SERVER; its output:"
    tail -n 5 "$TMP/server.log" | sed 's/^/     | /'
    return 1
}

pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() {
    FAILED=$((FAILED + 1)); FAILED_NAMES="$FAILED_NAMES $1"
    echo "FAIL $1: $2"
    if [ -n "${3:-}" ] && [ -f "$3" ]; then
        tail -n 25 "$3" | sed 's/^/     | /'
    fi
}

echo "== test_libmemcached (server: $SERVER)"

# --------------------------------------------------------------- memccapable
test_memccapable() {
    local out="$TMP/memccapable.out" rc
    start_server || { fail memccapable_ascii "server did not start"; return; }
    timeout 60 memccapable -a -t 5 -h 127.0.0.1 -p "$PORT" >"$out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && grep -qx "All tests passed" "$out" \
            && ! grep -q "\[FAIL\]" "$out" \
            && [ "$(grep -c '\[pass\]' "$out")" -ge 27 ]; then
        pass memccapable_ascii
    else
        fail memccapable_ascii "rc=$rc" "$out"
    fi
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        pass memccapable_server_alive
    else
        fail memccapable_server_alive "server died during memccapable"
    fi
    stop_server
}

# ---------------------------------------------------------------- memcaslap
test_memcaslap() {
    local out="$TMP/memcaslap.out" rc gets sets tps vfail
    start_server -m 256 || { fail memcaslap_load "server did not start"; return; }
    timeout 20 memcaslap -s "127.0.0.1:$PORT" -t 5s -T 2 -c 16 -v 0.1 \
        >"$out" 2>&1
    rc=$?
    gets=$(sed -n 's/^cmd_get: *\([0-9]*\).*/\1/p' "$out" | tail -n 1)
    sets=$(sed -n 's/^cmd_set: *\([0-9]*\).*/\1/p' "$out" | tail -n 1)
    vfail=$(sed -n 's/^verify_failed: *\([0-9]*\).*/\1/p' "$out" | tail -n 1)
    tps=$(sed -n 's/.*TPS: *\([0-9]*\).*/\1/p' "$out" | tail -n 1)
    if [ $rc -ne 0 ]; then
        fail memcaslap_load "exit status $rc" "$out"
    elif grep -qiE "error|refused|reset by peer|broken pipe|timed? ?out|failed to|disconnect" "$out"; then
        fail memcaslap_load "errors reported" "$out"
    elif [ -z "$gets" ] || [ -z "$sets" ] || [ -z "$tps" ] \
            || [ "$gets" -le 0 ] || [ "$sets" -le 0 ] || [ "$tps" -le 0 ]; then
        fail memcaslap_load "no operations counted (get=$gets set=$sets tps=$tps)" "$out"
    elif [ "${vfail:-0}" != 0 ]; then
        fail memcaslap_load "verify_failed=$vfail" "$out"
    else
        pass "memcaslap_load (get=$gets set=$sets tps=$tps)"
    fi
    if kill -0 "$SERVER_PID" 2>/dev/null \
            && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        pass memcaslap_server_alive
    else
        fail memcaslap_server_alive "server gone after the load run"
    fi
    stop_server
}

# ------------------------------------------------------------ small tools
expect_eq() {  # name expected actual
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected [$2] got [$3]"; fi
}

test_tools() {
    local S out rc i
    start_server || { fail tools "server did not start"; return; }
    S="127.0.0.1:$PORT"
    printf 'hello world\n' >"$TMP/f1.txt"
    (cd "$TMP" && timeout 10 memccp -s "$S" f1.txt) ; rc=$?
    expect_eq memccp_rc 0 "$rc"
    out=$(timeout 10 memccat -s "$S" f1.txt); rc=$?
    expect_eq memccat_value "hello world|0" "$out|$rc"
    timeout 10 memcexist -s "$S" f1.txt; expect_eq memcexist_hit 0 $?
    timeout 10 memcexist -s "$S" nokey; expect_eq memcexist_miss 1 $?
    timeout 10 memctouch -s "$S" -e 100 f1.txt; expect_eq memctouch_rc 0 $?
    # the dump may lag behind the store on memcached (LRU maintainer)
    out=""
    for i in $(seq 1 30); do
        out=$(timeout 10 memcdump -s "$S" 2>/dev/null)
        [ "$out" = f1.txt ] && break
        sleep 0.1
    done
    expect_eq memcdump_keys f1.txt "$out"
    out=$(timeout 10 memcstat -s "$S"); rc=$?
    if [ $rc -eq 0 ] && echo "$out" | grep -q "^Server: 127.0.0.1 ($PORT)" \
            && echo "$out" | grep -qE "^[[:space:]]+curr_items: 1$" \
            && echo "$out" | grep -qE "^[[:space:]]+pid: [0-9]+$"; then
        pass memcstat
    else
        fail memcstat "rc=$rc output: $(echo "$out" | head -n 5 | tr '\n' ' ')"
    fi
    timeout 10 memcping -s "$S"; expect_eq memcping_rc 0 $?
    timeout 10 memcrm -s "$S" f1.txt; expect_eq memcrm_rc 0 $?
    timeout 10 memccat -s "$S" f1.txt >/dev/null 2>&1; expect_eq memccat_after_rm_rc 1 $?
    (cd "$TMP" && timeout 10 memccp -s "$S" f1.txt)
    timeout 10 memcflush -s "$S"; expect_eq memcflush_rc 0 $?
    timeout 10 memcexist -s "$S" f1.txt; expect_eq memcexist_after_flush 1 $?
    stop_server
}

test_memccapable
test_memcaslap
test_tools

if [ -n "$FAILED_NAMES" ]; then
    echo "failed tests:$FAILED_NAMES"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
