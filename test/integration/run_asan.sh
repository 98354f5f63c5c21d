#!/bin/bash
# The integration suite (run_all.sh) against the AddressSanitizer + UBSan
# build of the server (build/asan/shmcached, from `make asan`), leak
# detection on. Every sanitizer report, from the master or any worker,
# goes to a file of its own (ASAN_OPTIONS / UBSAN_OPTIONS log_path, one
# file per pid) in build/asan/logs/; a worker checks for leaks itself
# before it exits (worker.c: a forked process ends with _exit()), the
# master at exit. SIGKILLed workers report nothing, by design.
#
# Fails when a test fails or when any report was written; prints every
# report. Tests whose premise ASan changes skip themselves with the reason
# printed (harness.skip_under_asan; SHMC_ASAN=1 tells them).
#
# Env: SHMC_ASAN_SERVER (default build/asan/shmcached).

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SHMC_ASAN_SERVER:-$ROOT/build/asan/shmcached}
LOGS=$ROOT/build/asan/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

export SHMC_SERVER=$BIN SHMC_ASAN=1
export ASAN_OPTIONS="detect_leaks=1:log_path=$LOGS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LOGS/ubsan"

out=$(mktemp /tmp/shmc_asan.XXXXXX)
trap 'rm -f "$out"' EXIT
"$ROOT/test/integration/run_all.sh" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}

line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
passed=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
failed=$(echo "$line" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')
reports=$(find "$LOGS" -type f | sort)
nreports=$(echo "$reports" | grep -c . || true)

echo
echo "### sanitizer reports (server: $BIN)"
for f in $reports; do
    echo "---- $f"
    cat "$f"
done
echo "$nreports report(s) in $LOGS"
echo "${passed:-0} passed, $(( ${failed:-1} + nreports )) failed"
[ "$rc" -eq 0 ] && [ "$nreports" -eq 0 ]
