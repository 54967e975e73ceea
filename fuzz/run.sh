#!/usr/bin/env bash
# fuzz/run.sh MODE SECONDS BINDIR SEEDDIR HARNESS... — runs the fuzz harnesses
# one after another (called by `make fuzz`, `make fuzz-replay`, `make fuzz-gcc`).
#   MODE fuzz:   libFuzzer binaries: load (= replay) every corpus of the harness,
#                then fuzz for SECONDS; new inputs go to BINDIR/corpus/<harness>,
#                crashes to BINDIR/crashes/<harness>-*.
#   MODE replay: -DHC_FUZZ_MAIN binaries: run every corpus file once.
# Corpora of harness H: BINDIR/corpus/H, SEEDDIR/H, fuzz/corpus/H (those present).
# One line per harness, then "fuzz: N passed, N failed"; exit status 1 if any failed.
set -u
mode=$1 secs=$2 bindir=$3 seeddir=$4
shift 4
pass=0 fail=0 total_execs=0
mkdir -p "$bindir/logs" "$bindir/crashes"
for h in "$@"; do
    bin="$bindir/$h"
    dirs=()
    if [ "$mode" = fuzz ]; then mkdir -p "$bindir/corpus/$h"; dirs+=("$bindir/corpus/$h"); fi
    [ -d "$seeddir/$h" ] && dirs+=("$seeddir/$h")
    [ -d "fuzz/corpus/$h" ] && dirs+=("fuzz/corpus/$h")
    log="$bindir/logs/$h.log"
    t0=$(date +%s)
    if [ "$mode" = fuzz ]; then
        # -rss_limit_mb: a hostile input must not make the reader allocate without bound
        "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$bindir/crashes/$h-" "${dirs[@]}" >"$log" 2>&1
        rc=$?
        execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
        what="${execs:-0} executions in $(( $(date +%s) - t0 )) s (${#dirs[@]} corpus dirs)"
        total_execs=$(( total_execs + ${execs:-0} ))
    else
        if [ ${#dirs[@]} -eq 0 ]; then echo "fuzz: $h: no corpus"; fi
        # files, not folders: a harness may have its own replay main()
        mapfile -t files < <(find "${dirs[@]}" -maxdepth 1 -type f 2>/dev/null | sort)
        "$bin" "${files[@]}" >"$log" 2>&1
        rc=$?
        what=$(grep -E '^replayed' "$log" | tail -1)
    fi
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1)); echo "fuzz: $h: ok, $what"
    else
        fail=$((fail + 1)); echo "fuzz: $h: FAILED (exit $rc), $what; log $log:"; tail -40 "$log" | sed 's/^/    /'
    fi
done
[ "$mode" = fuzz ] && echo "fuzz: $total_execs executions in all"
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
