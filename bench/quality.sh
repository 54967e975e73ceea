#!/usr/bin/env bash
# quality.sh — what compression costs a real model, measured in one run:
#   stories260K perplexity on tinystories_val.txt (ctx 256, docs/PERPLEXITY.md),
#   float32 against each setting, with bits per weight side by side (the
#   --calib rows calibrate on text sampled from the model itself, never on
#   the evaluation text); and,
#   when Debian's python3-torch is installed, ResNet-56 CIFAR-10 top-1
#   (bench/cifar_eval.py) for the same settings.
# usage: bench/quality.sh [BUILD_DIR]   (HYPERC_SHARED defaults to ../shared)
set -euo pipefail
build=${1:-build}
shared=${HYPERC_SHARED:-../shared}
bin=$build/hyperc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
settings=(
  "paper-llm|--preset paper-llm"
  "default|"
  "hlat m=17|--bits 17"
  "default --bpw 5.5|--bpw 5.5"
  "default --bpw 4.5|--bpw 4.5"
  "default --calib self|--calib self"
  "--bpw 5.5 --calib self|--bpw 5.5 --calib self"
  "--bpw 4.5 --calib self|--bpw 4.5 --calib self"
)
model=$shared/models/stories260K.safetensors
ppl() { "$bin" perplexity "$1" --tokenizer "$shared/models/tok512.bin" --text "$shared/data/tinystories_val.txt" --ctx 256 2>/dev/null | awk '/^perplexity/{print $2}'; }
base=$(ppl "$model")
echo "stories260K perplexity, tinystories_val.txt, ctx 256 (1503 windows)"
printf "  %-18s %8s %10s %9s\n" setting bpw perplexity change
printf "  %-18s %8s %10s %9s\n" float32 32 "$base" ""
for s in "${settings[@]}"; do
  label=${s%%|*}; opts=${s#*|}
  # shellcheck disable=SC2086
  "$bin" compress "$model" -o "$out/s.hyc" -f $opts > "$out/log"
  bpw=$(awk '/^  coded/{for(i=1;i<=NF;i++) if($i=="bpw,") print $(i-1)}' "$out/log")
  p=$(ppl "$out/s.hyc")
  printf "  %-18s %8s %10s %+8.2f%%\n" "$label" "$bpw" "$p" "$(echo "$p $base" | awk '{print ($1/$2-1)*100}')"
done

py=/usr/bin/python3
if $py -c 'import torch, numpy' 2>/dev/null; then
  r56=$shared/models/resnet56.safetensors
  files=("$r56"); labels=("float32")
  for s in "paper-vision|--preset paper-vision" "default|" "default --bpw 4.5|--bpw 4.5"; do
    label=${s%%|*}; opts=${s#*|}; f=$out/r56-${#files[@]}
    # shellcheck disable=SC2086
    "$bin" compress "$r56" -o "$f.hyc" -f -q $opts
    "$bin" decompress "$f.hyc" -o "$f.safetensors" -f -q
    files+=("$f.safetensors"); labels+=("$label ($("$bin" info "$f.hyc" | awk '/^weights/{print $6}') bpw)")
  done
  echo
  echo "ResNet-56 CIFAR-10 top-1 (cifar10_test_from_jpg.bin): ${labels[*]}"
  $py bench/cifar_eval.py "${files[@]}"
else
  echo; echo "(ResNet-56 accuracy skipped: apt-get install -y python3-torch python3-numpy)"
fi
