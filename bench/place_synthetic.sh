#!/usr/bin/env bash
# Places synthetic GPT-like pipelines with pl_place and reports the quality and the time: an
# embedding, L transformer blocks of 20 kernels (layer norms, q/k/v projections, attention,
# output projection, MLP, residual adds, with GPT-2's spread of sizes, identical across blocks)
# and a head, in pipeline order, scaled to cover UTIL of the fabric. Fabrics: 32x32, 64x64 and
# the full wse3 (762x1172). For each run it prints the constructive packing kept, the cost before
# and after annealing (sum of traffic x Manhattan distance between kernel centres), the lower
# bound (docs/placer.md), both ratios to it, the temperatures, the moves and the wall time; then
# the mean ratio and time per configuration over the seeds.
#
# The driver is the placer's test binary: `test_placer --bench W H L UTIL SEED [EFFORT]`.
#
# With WSC=path/to/wsc it also places the compiler's own problems: the kernels and streams that
# `wsc compile --emit kernels` reports for examples/gpt2_small.wsm on wse3 and for the small
# reference models on 32x32 (`test_placer --bench-file`).
#
# usage: [WSC=build/wsc] bench/place_synthetic.sh [TEST_PLACER] [SEEDS] [EFFORT]
#        (defaults: build/tests/test_placer, "1 2 3", 0 = the default effort)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/tests/test_placer}
SEEDS=${2:-1 2 3}
EFFORT=${3:-0}
[ -x "$BIN" ] || { echo "no $BIN: build first (cmake --build build)" >&2; exit 1; }

# fabric W, H, blocks L, utilization
CONFIGS=(
  "32 32 12 0.6"
  "64 64 12 0.6"
  "762 1172 12 0.6"
  "762 1172 20 0.6"
  "762 1172 12 0.3"
  "762 1172 12 0.75"
  "762 1172 12 0.85"
)

printf '%-11s %4s %5s %6s %-40s %11s %11s %11s %6s %6s %5s %9s %7s\n' fabric kern edges util \
  constructive initial final bound init/lb fin/lb temps moves seconds
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for cfg in "${CONFIGS[@]}"; do
  for seed in $SEEDS; do
    # shellcheck disable=SC2086
    "$BIN" --bench $cfg "$seed" "$EFFORT" | tee -a "$TMP/runs"
  done
done

# The compiler's problems: kernel sizes from the kernel table, traffic from the stream lines.
to_problem() { # W H < `wsc compile --emit kernels` > problem
  /usr/bin/python3 -c '
import re, sys
idx, sizes, edges = {}, [], []
for line in sys.stdin:
    m = re.match(r"^(\d+)\s+(\S+)\s+(\S+)\s+(\d+)x(\d+)\s", line)
    if m:
        idx[m.group(2)] = int(m.group(1))
        sizes.append((int(m.group(4)), int(m.group(5)), {"input": 1, "output": 2}.get(m.group(3), 0)))
        continue
    m = re.match(r"^stream (\S+) -> (\S+): (\d+) wavelets", line)
    if m:
        edges.append((idx[m.group(1)], idx[m.group(2)], int(m.group(3))))
print(sys.argv[1], sys.argv[2], len(sizes), len(edges))
for w, h, pin in sizes: print(w, h, pin)
for a, b, t in edges: print(a, b, t)
' "$1" "$2"
}
if [ -n "${WSC:-}" ]; then
  "$WSC" compile "$ROOT/examples/gpt2_small.wsm" --emit kernels | to_problem 762 1172 > "$TMP/gpt2_small"
  problems=("$TMP/gpt2_small")
  for c in ex_mlp ex_gpt2 ex_llama; do
    d=$ROOT/tests/ref/cases/$c
    "$WSC" compile "$d/model.wsm" --weights "$d/weights.safetensors" --fabric 32x32 --emit kernels |
      to_problem 32 32 > "$TMP/$c"
    problems+=("$TMP/$c")
  done
  for f in "${problems[@]}"; do
    for seed in $SEEDS; do
      "$BIN" --bench-file "$f" "$seed" "$EFFORT" | sed "s|\$| $(basename "$f")|" | tee -a "$TMP/runs"
    done
  done
fi
echo
echo "mean over seeds:"
# A run line ends with: init/lb fin/lb temps moves seconds [problem name].
awk '{ m = ($NF ~ /^[0-9.]+$/) ? 0 : 1; key = $1 " " $2 " " $4 (m ? " " $NF : "");
       fin[key] += $(NF-3-m); ini[key] += $(NF-4-m); t[key] += $(NF-m); n[key]++;
       if (!(key in seen)) { seen[key] = 1; keys[++k] = key } }
     END { for (i = 1; i <= k; i++) { key = keys[i];
             printf "  %-36s initial/lb %6.3f  final/lb %6.3f  seconds %5.2f\n", key,
                    ini[key] / n[key], fin[key] / n[key], t[key] / n[key] } }' "$TMP/runs"
