#!/bin/bash
# Runs each libFuzzer target named on the command line (text, binary, meta,
# settings) for FUZZ_SECONDS seconds (default 60), one after the other,
# from its seed corpus (test/fuzz/corpus/<t>/, never written to: new inputs
# go to build/fuzz/corpus/<t>/) with its dictionary (test/fuzz/<t>.dict).
# Every seed, including the regress-* inputs of past bugs, runs first.
#
# Prints per target the seconds, executions, exec/s, coverage (cov: edges,
# ft: features) and corpus size from libFuzzer's final stats, and ends with
# "N passed, N failed". A target fails on any crash, leak, timeout (10 s
# per input), sanitizer report, or when it ran nothing; its log is printed
# and the input is saved as build/fuzz/artifacts/<t>-crash-*.
#
# Env: FUZZ_SECONDS, FUZZ_BUILD (default build/fuzz), FUZZ_ARGS (extra
# libFuzzer flags, e.g. "-seed=1" or "-max_len=16384").

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD:-$ROOT/build/fuzz}
pass=0
fail=0
summary=()

# ASan: report leaks; UBSan: stop at the first report with a stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

stat_of() {     # stat_of LOG NAME: a value of -print_final_stats
    sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1
}

for t in "$@"; do
    bin=$BUILD/fuzz_$t
    seeds=$ROOT/test/fuzz/corpus/$t
    work=$BUILD/corpus/$t
    log=$BUILD/logs/$t.log
    mkdir -p "$work" "$BUILD/logs" "$BUILD/artifacts"
    dict=()
    [ -f "$ROOT/test/fuzz/$t.dict" ] && dict=(-dict="$ROOT/test/fuzz/$t.dict")
    echo "### fuzz $t: ${SECONDS_EACH} s"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=2048 -print_pcs=0 \
        -artifact_prefix="$BUILD/artifacts/$t-" "${dict[@]}" \
        ${FUZZ_ARGS:-} "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(stat_of "$log" number_of_executed_units)
    rate=$(stat_of "$log" average_exec_per_sec)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+[[:space:]]+(pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
    cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$done_line" | sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    line=$(printf 'fuzz %-8s %4s s, %9s execs (%s/s), cov %s, ft %s, corpus %s' \
           "$t" "$SECONDS_EACH" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
           "${ft:-?}" "${corp:-?}")
    bad=0
    [ "$rc" -ne 0 ] && bad=1
    grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log" && bad=1
    [ -z "$execs" ] || [ "$execs" -eq 0 ] && bad=1
    if [ $bad = 1 ]; then
        echo "FAIL $line (exit $rc)"
        echo "---- $log (last 60 lines)"
        tail -n 60 "$log"
        echo "----"
        ls -1 "$BUILD/artifacts/$t-"* 2>/dev/null
        fail=$((fail + 1))
        summary+=("FAIL $line")
    else
        echo "PASS $line"
        pass=$((pass + 1))
        summary+=("PASS $line")
    fi
done

echo
echo "### fuzz summary"
for s in "${summary[@]}"; do
    echo "$s"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
