#!/bin/bash
# test/compat/run.sh - memcached's own test suite (t/*.t of Debian's
# memcached source package) against build/shmcached: `make compat`.
#
# How: Debian's memcached source package is fetched at run time with
# `apt-get source`, through a private apt configuration under
# build/compat/apt (its own sources list with one deb-src entry, its own
# lists and cache: nothing is written to the system's apt configuration,
# and nothing of memcached's is committed here). Its t/lib/MemcachedTest.pm
# runs "$builddir/timedrun 600 $builddir/memcached-debug ARGS" with
# builddir = the current directory, so the extracted source directory gets
# a `memcached-debug` symlink to our binary and memcached's own timedrun.c
# compiled next to it; each t/*.t then runs with Debian's perl from there.
#
# test/compat/skip.txt names the tests that are not run, one per line:
#   <test>.t  n/a: <why it does not apply to shmcached>
#   <test>.t  pending: <the feature it needs, still being built>
# Every other test must pass. A test that skips itself (TAP "1..0 # SKIP")
# is reported as skipped with the test's own reason.
#
# Usage: test/compat/run.sh [name.t ...]   (default: every t/*.t)
# Environment: SHMC_SERVER (binary, default build/shmcached),
#   COMPAT_JOBS (tests run at once, default 4: most of the suite sleeps),
#   COMPAT_TIMEOUT (seconds per test, default 300),
#   COMPAT_DIR (work directory, default build/compat).
# Output: one line per test (PASS / FAIL / SKIP), the first failures of each
# failed test, then "compat: N passed, N failed, N skipped" and the time.
# Exit status 0 only when no test failed.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/test/compat"
WORK=${COMPAT_DIR:-$ROOT/build/compat}
SERVER=${SHMC_SERVER:-$ROOT/build/shmcached}
JOBS=${COMPAT_JOBS:-4}
TIMEOUT=${COMPAT_TIMEOUT:-300}
SKIPFILE="$HERE/skip.txt"
PKG=memcached

case "$SERVER" in /*) ;; *) SERVER="$ROOT/$SERVER" ;; esac
[ -x "$SERVER" ] || { echo "compat: $SERVER is not built (run make)"; exit 1; }
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# ---- fetch Debian's memcached source (once; kept under build/) ----------
fetch_source() {
    local apt="$WORK/apt" codename mirror
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    mirror=${COMPAT_MIRROR:-http://deb.debian.org/debian}
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/src"
    {
        echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $codename main"
        echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror}-security $codename-security main"
    } > "$apt/sources.list"
    local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list"
                -o "Dir::Etc::sourceparts=-"
                -o "Dir::State::Lists=$apt/lists"
                -o "Dir::Cache=$apt/cache"
                -o "APT::Get::List-Cleanup=0"
                -o "APT::Sandbox::User=root")
    echo "compat: fetching Debian's $PKG source package (private apt configuration in $apt)"
    apt-get -qq "${opts[@]}" update || return 1
    rm -rf "$apt/src" && mkdir -p "$apt/src"
    (cd "$apt/src" && apt-get -qq "${opts[@]}" source "$PKG" >/dev/null) || return 1
    local dir
    dir=$(find "$apt/src" -maxdepth 1 -type d -name "$PKG-*" | head -n 1)
    [ -n "$dir" ] && [ -f "$dir/t/lib/MemcachedTest.pm" ] || return 1
    rm -rf "$WORK/$PKG"
    mv "$dir" "$WORK/$PKG"
    (cd "$apt/src" && ls "$PKG"_*.dsc) | sed -e "s/^${PKG}_//" -e 's/\.dsc$//' \
        > "$WORK/$PKG/.debian-version"
    rm -rf "$apt/src"
}

SRC="$WORK/$PKG"
if [ ! -f "$SRC/t/lib/MemcachedTest.pm" ] || [ ! -f "$SRC/.debian-version" ]; then
    fetch_source || { echo "compat: could not fetch the $PKG source package"; exit 1; }
fi
if [ ! -x "$SRC/timedrun" ] || [ "$SRC/timedrun.c" -nt "$SRC/timedrun" ]; then
    cc -O2 -o "$SRC/timedrun" "$SRC/timedrun.c" || exit 1
fi
ln -sfn "$SERVER" "$SRC/memcached-debug"

# ---- which tests, which skips ---------------------------------------------
declare -A SKIP
if [ -f "$SKIPFILE" ]; then
    while IFS= read -r line; do
        line=${line%%#*}
        [ -z "${line// /}" ] && continue
        name=${line%%[[:space:]]*}
        why=$(echo "${line#"$name"}" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//')
        SKIP[$name]=$why
    done < "$SKIPFILE"
fi

if [ $# -gt 0 ]; then
    TESTS=("$@")
else
    TESTS=()
    for f in "$SRC"/t/*.t; do TESTS+=("$(basename "$f")"); done
fi

LOGS="$WORK/logs"
rm -rf "$LOGS" && mkdir -p "$LOGS"

# Runs one test; writes LOGS/<t>.log and LOGS/<t>.rc ("rc seconds").
run_one() {
    local t=$1 start end rc
    start=$EPOCHREALTIME
    # RUN_SASL_TESTS: binary-sasl.t runs its SASL tests (-S is supported)
    (cd "$SRC" && RUN_SASL_TESTS=1 timeout -k 10 "$TIMEOUT" perl "t/$t" \
        > "$LOGS/$t.log" 2>&1 < /dev/null)
    rc=$?
    end=$EPOCHREALTIME
    echo "$rc $(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" > "$LOGS/$t.rc"
}

echo "compat: memcached $(cat "$SRC/.debian-version") t/*.t against $SERVER ($JOBS at a time)"
T0=$(date +%s)
running=0
for t in "${TESTS[@]}"; do
    if [ ! -f "$SRC/t/$t" ]; then
        echo "compat: no such test: $t"
        exit 1
    fi
    if [ $# -eq 0 ] && [ -n "${SKIP[$t]+x}" ]; then
        continue
    fi
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
T1=$(date +%s)

# ---- report -------------------------------------------------------------
pass=0; fail=0; skip=0
failed=()
for t in "${TESTS[@]}"; do
    if [ ! -f "$LOGS/$t.rc" ]; then
        printf 'SKIP  %-28s %s\n' "$t" "${SKIP[$t]}"
        skip=$((skip + 1))
        continue
    fi
    read -r rc secs < "$LOGS/$t.rc"
    log="$LOGS/$t.log"
    oks=$(grep -c '^ok ' "$log")
    nots=$(grep -c '^not ok ' "$log")
    selfskip=$(sed -n -E 's/^1\.\.0 # SKIP (.*)/\1/p' "$log" | head -n 1)
    if [ "$rc" = 0 ] && [ -n "$selfskip" ]; then
        printf 'SKIP  %-28s the test skips itself: %s\n' "$t" "$selfskip"
        skip=$((skip + 1))
    elif [ "$rc" = 0 ] && [ "$nots" = 0 ]; then
        printf 'PASS  %-28s %6d ok %6.1fs\n' "$t" "$oks" "$secs"
        pass=$((pass + 1))
    else
        why="exit $rc"
        [ "$rc" = 124 ] && why="timed out after ${TIMEOUT}s"
        printf 'FAIL  %-28s %6d ok, %d not ok, %s %6.1fs\n' "$t" "$oks" "$nots" "$why" "$secs"
        fail=$((fail + 1))
        failed+=("$t")
    fi
done
for t in "${failed[@]}"; do
    echo
    echo "--- $t (full log: $LOGS/$t.log)"
    grep -v -E "^ok " "$LOGS/$t.log" | cut -c1-240 | head -n 40
done
echo
echo "compat: duration $((T1 - T0))s"
echo "compat: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
