#!/bin/bash
# The SysV init script (conf/shmcached.init) against build/shmcached with a
# temporary pidfile, sysconfig and config file: bash -n, start, status,
# reload (the master's `reloads` counter of "stats shmcached" moves, the
# pid stays), restart, stop (pidfile gone, process gone), status after
# stop. 127.0.0.1 only; stops only the server it started (by the pid in
# its pidfile).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
INIT="$ROOT/conf/shmcached.init"
BIN=${SHMC_SERVER:-$ROOT/build/shmcached}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac

pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

if [ "$(basename "$BIN")" != shmcached ]; then
    echo "SKIP init script tests (server is not shmcached)"
    echo "0 passed, 0 failed"
    exit 0
fi

TMP=$(mktemp -d /tmp/shmc_init.XXXXXX)
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SHMCACHED_BIN="$BIN"
export SHMCACHED_PIDFILE="$TMP/run/shmcached.pid"
export SHMCACHED_CONFIG="$TMP/shmcached.conf"
export SHMCACHED_SYSCONFIG="$TMP/sysconfig"
export SHMCACHED_STOP_TIMEOUT=20
export SHMCACHED_MEMORY_FILE="$TMP/cache"
cat > "$SHMCACHED_SYSCONFIG" <<EOT
PORT="$PORT"
USER="root"
MAXCONN="256"
CACHESIZE="32"
OPTIONS="-l 127.0.0.1"
EOT
cp "$ROOT/conf/shmcached.conf" "$SHMCACHED_CONFIG"
sed -i 's/^# threads = .*/threads = 2/' "$SHMCACHED_CONFIG"

cleanup() {
    if [ -r "$SHMCACHED_PIDFILE" ]; then
        pid=$(cat "$SHMCACHED_PIDFILE")
        case "$pid" in ''|*[!0-9]*) ;; *) kill -TERM "$pid" 2>/dev/null ;; esac
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# one request over bash's /dev/tcp; prints the reply
req() {
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT || exit 1
        printf '$1quit\r\n' >&3
        cat <&3" 2>/dev/null | tr -d '\r'
}

# "stats shmcached" (shmcached's own lines: workers, reloads, ...) over
# bash's /dev/tcp; prints the value of STAT $1
stat() {
    local line
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT || exit 1
        printf 'stats shmcached\r\nquit\r\n' >&3
        cat <&3" 2>/dev/null | tr -d '\r' |
        while read -r _ name value; do
            [ "$name" = "$1" ] && echo "$value"
        done
}

if bash -n "$INIT"; then ok bash_n; else ko bash_n "syntax"; fi

out=$("$INIT" start 2>&1)
if [ $? -eq 0 ] && [ -s "$SHMCACHED_PIDFILE" ]; then ok start; else ko start "$out"; fi
pid=$(cat "$SHMCACHED_PIDFILE" 2>/dev/null)

out=$("$INIT" status 2>&1)
if [ $? -eq 0 ] && echo "$out" | grep -q "pid $pid"; then ok status_running; else ko status_running "$out"; fi

w=$(stat workers)
if [ "$w" = 2 ]; then ok config_threads; else ko config_threads "workers=$w"; fi

out=$("$INIT" reload 2>&1)
r=""
for _ in $(seq 1 50); do
    r=$(stat reloads)
    [ "$r" = 1 ] && break
    sleep 0.1
done
if [ "$r" = 1 ] && [ "$(cat "$SHMCACHED_PIDFILE")" = "$pid" ]; then ok reload; else ko reload "reloads=$r; $out"; fi

out=$("$INIT" start 2>&1)
if echo "$out" | grep -q "already running"; then ok start_twice; else ko start_twice "$out"; fi

req 'set kept 0 0 4\r\nwarm\r\n' >/dev/null
out=$("$INIT" restart 2>&1)
npid=$(cat "$SHMCACHED_PIDFILE" 2>/dev/null)
if [ $? -eq 0 ] && [ -n "$npid" ] && [ "$npid" != "$pid" ] && kill -0 "$npid" 2>/dev/null; then
    ok restart
else
    ko restart "$out"
fi
if req 'get kept\r\n' | grep -q '^warm$'; then ok restart_keeps_cache; else ko restart_keeps_cache "$(req 'get kept\r\n')"; fi

out=$("$INIT" upgrade 2>&1)
upid=$(cat "$SHMCACHED_PIDFILE" 2>/dev/null)
if [ $? -eq 0 ] && [ "$upid" != "$npid" ] && kill -0 "$upid" 2>/dev/null &&
   ! kill -0 "$npid" 2>/dev/null && req 'get kept\r\n' | grep -q '^warm$'; then
    ok upgrade
else
    ko upgrade "$out"
fi
npid=$upid

out=$("$INIT" stop 2>&1)
if [ $? -eq 0 ] && [ ! -e "$SHMCACHED_PIDFILE" ] && ! kill -0 "$npid" 2>/dev/null; then
    ok stop
else
    ko stop "$out"
fi

"$INIT" status >/dev/null 2>&1
rc=$?
if [ $rc -eq 3 ]; then ok status_stopped; else ko status_stopped "exit $rc"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
