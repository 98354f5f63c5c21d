#!/bin/bash
# Runs every black-box integration test in this folder, in order, with the
# right interpreter (/usr/bin/python3 for the Python client tests: the
# Debian interpreter that has pymemcache, memcache and pylibmc), prints each
# script's output and result, and ends with one total line
# "N passed, N failed". Exit code 0 only if everything passed.
#
# Builds nothing (the Makefile builds first). SHMC_SERVER selects the server
# binary (default build/shmcached); e.g. to validate against memcached:
#   SHMC_SERVER=/usr/bin/memcached test/integration/run_all.sh
#
# -o io_uring: test_io_uring.py checks the ring itself; then the scripts of
# RING_TESTS run a second time with SHMC_SERVER_ARGS="-o io_uring" (every
# shmcached they start serves through the ring): the protocols, watch,
# shutdown, hand-off on reload and upgrade, replication's repl_sync.
# SHMC_RING_PASS=all repeats the whole list that way, none skips it. To run
# the whole suite through the ring once:
#   SHMC_SERVER_ARGS="-o io_uring" SHMC_RING_PASS=none test/integration/run_all.sh

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
SCRIPT_TIMEOUT=${SHMC_SCRIPT_TIMEOUT:-150}

TESTS=(
    "$PY test_transcript.py"
    "$PY test_meta.py"
    "$PY test_python_memcache.py"
    "$PY test_pymemcache.py"
    "$PY test_binary.py"
    "$PY test_udp.py"
    "$PY test_crawler.py"
    "$PY test_lru.py"
    "$PY test_slabs.py"
    "$PY test_watch.py"
    "$PY test_auth.py"
    "$PY test_sasl.py"
    "$PY test_shutdown.py"
    "$PY test_stats_conns.py"
    "$PY test_options.py"
    "$PY test_stats.py"
    "bash test_libmemcached.sh"
    "$PY test_reload.py"
    "$PY test_restart.py"
    "$PY test_hashgrow.py"
    "$PY test_upgrade.py"
    "$PY test_repl.py"
    "bash test_init.sh"
    "$PY test_console.py"
    "$PY test_console_browser.py"
    "$PY test_io_uring.py"
)
RING_TESTS=(
    "$PY test_transcript.py"
    "$PY test_meta.py"
    "$PY test_binary.py"
    "$PY test_pymemcache.py"
    "$PY test_watch.py"
    "$PY test_shutdown.py"
    "bash test_libmemcached.sh"
    "$PY test_reload.py"
    "$PY test_upgrade.py"
    "$PY test_repl.py"
)

total_pass=0
total_fail=0
summary=()
out=$(mktemp /tmp/shmc_run_all.XXXXXX)
trap 'rm -f "$out"' EXIT

echo "integration tests, server: ${SHMC_SERVER:-build/shmcached}${SHMC_SERVER_ARGS:+ $SHMC_SERVER_ARGS}"
# run_one "CMD" LABEL: one script; counts its passes and failures
run_one() {
    local t=$1 name=$2 rc line p f
    echo
    echo "### $name"
    # shellcheck disable=SC2086
    (cd "$HERE" && timeout -k 10 "$SCRIPT_TIMEOUT" $t) 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    else
        p=0
        f=0
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # crashed, timed out or exited non-zero without counting a failure
        f=$((f + 1))
        echo "FAIL $name: exit status $rc without a counted failure"
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    summary+=("$(printf '%-40s %4d passed, %d failed (exit %d)' "$name" "$p" "$f" "$rc")")
}

for t in "${TESTS[@]}"; do
    run_one "$t" "${t##* }"
done
ring=${SHMC_RING_PASS:-some}
case ${SHMC_SERVER:-build/shmcached} in
    *shmcached) ;;
    *) ring=none ;;
esac
[ "$ring" = all ] && RING_TESTS=("${TESTS[@]}")
if [ "$ring" != none ]; then
    export SHMC_SERVER_ARGS="${SHMC_SERVER_ARGS:+$SHMC_SERVER_ARGS }-o io_uring"
    for t in "${RING_TESTS[@]}"; do
        run_one "$t" "${t##* } (-o io_uring)"
    done
fi

echo
echo "### summary"
for s in "${summary[@]}"; do
    echo "$s"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
