#!/usr/bin/env bash
# Compile time, peak memory and placement quality of the GPT-2-small-sized
# model on the full wse3 fabric, and of the small examples at 32x32.
# usage: bench/compile_gpt2_small.sh [WSC]   (default build/wsc)
set -euo pipefail
wsc=${1:-build/wsc}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== gpt2_small on wse3"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" "$wsc" compile examples/gpt2_small.wsm -o "$out/gs.wsa" --time-report
"$wsc" compile examples/gpt2_small.wsm --emit kernels | tail -n 1
"$wsc" dump "$out/gs.wsa" | sed -n '4,9p'
for c in ex_mlp ex_gpt2 ex_llama; do
    d=tests/ref/cases/$c
    echo "== $c on 32x32"
    "$wsc" compile "$d/model.wsm" --weights "$d/weights.safetensors" --fabric 32x32 --emit kernels | tail -n 1
done
