#!/usr/bin/env bash
# fuzz/valgrind.sh HYPERC — runs the CLI paths under valgrind memcheck on
# stories260K (and resnet20): compress (with and without --calib self, two
# threads), info --verify, decompress, compare, generate, perplexity, and
# refusals of damaged input. Any memcheck error or definite/indirect leak
# fails. Ends with "valgrind: N passed, N failed".
set -u
bin=$1
sh=${HYPERC_SHARED:-../shared}
m=$sh/models
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
[ -r "$m/stories260K.safetensors" ] || { echo "valgrind: shared models not found in $m (set HYPERC_SHARED)"; echo "valgrind: 0 passed, 1 failed"; exit 1; }
# vg NAME EXPECTED_EXIT ARGS...
vg() {
    local name=$1 want=$2; shift 2
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect "$bin" "$@" >"$t/$name.out" 2>"$t/$name.err"
    local rc=$?
    if [ "$rc" -eq 99 ] || grep -q '^==[0-9]*== ' "$t/$name.err"; then
        fail=$((fail + 1)); echo "valgrind: $name: ERRORS"; grep '^==' "$t/$name.err" | head -30
    elif [ "$rc" -ne "$want" ]; then
        fail=$((fail + 1)); echo "valgrind: $name: exit $rc, expected $want"; tail -3 "$t/$name.err"
    else
        pass=$((pass + 1)); echo "valgrind: $name: clean (exit $rc)"
    fi
}
vg compress 0 compress "$m/stories260K.safetensors" -o "$t/s.hyc" -q --threads 2
vg compress_calib 0 compress "$m/stories260K.safetensors" -o "$t/sc.hyc" -q --threads 2 --calib self --calib-tokens 128
vg compress_paper 0 compress "$m/resnet20.safetensors" -o "$t/r.hyc" -q --threads 2 --preset paper-llm
vg info_verify 0 info "$t/s.hyc" --verify
vg decompress 0 decompress "$t/s.hyc" -o "$t/s.safetensors" -q --threads 2
vg compare 0 compare -q "$m/stories260K.safetensors" "$t/s.safetensors"
vg generate 0 generate "$t/s.hyc" --tokenizer "$m/tok512.bin" -n 24 --temp 0 --threads 2
vg generate_bin 0 generate "$m/stories260K.bin" --tokenizer "$m/tok512.bin" -n 16 --temp 0.8 --seed 3
printf 'Once upon a time there was a little girl.\n\nShe liked to play with her dog in the park every day.\n' >"$t/text.txt"
vg perplexity 0 perplexity "$t/s.hyc" --tokenizer "$m/tok512.bin" --text "$t/text.txt" --ctx 16 --threads 2
# refusals: a flipped payload bit, a truncated file
cp "$t/s.hyc" "$t/bad.hyc"; printf '\x55' | dd of="$t/bad.hyc" bs=1 seek=5000 conv=notrunc 2>/dev/null
vg refuse_flip 1 decompress "$t/bad.hyc" -o "$t/bad.safetensors" -q
head -c 30000 "$t/s.hyc" >"$t/cut.hyc"
vg refuse_cut 1 info "$t/cut.hyc" --verify
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
