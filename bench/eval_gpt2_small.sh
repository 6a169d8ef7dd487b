#!/usr/bin/env bash
# Times `wsc eval examples/gpt2_small.wsm` on 64 random tokens (weights from the model's normal()
# initializers) and, in the same run, bench/torch_gpt2_small.py doing the same forward in PyTorch
# float32 with as many threads. Reports both wall times (whole command: start-up, weight
# generation, forward, writing the logits) and their ratio, plus PyTorch's forward alone.
# With REPEAT > 1 the two commands alternate REPEAT times and the fastest run of each counts.
# With CHECK=1 it then also runs wsc eval with PyTorch's weights (--weights DIR of NAME.npy) and
# compares the logits with PyTorch's under the spec's tolerance: a full-size correctness check.
#
# usage: [CHECK=1] bench/eval_gpt2_small.sh [WSC] [THREADS] [REPEAT]   (defaults: build/wsc, 2, 1)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WSC=${1:-$ROOT/build/wsc}
THREADS=${2:-2}
REPEAT=${3:-1}
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

$PY -c "import numpy as np; np.save('$TMP/tokens.npy', np.random.default_rng(0).integers(0, 50257, 64).astype(np.int32))"
now() { date +%s.%N; }
# init.wsm: the params of gpt2_small.wsm and one output that reads each once, to tell how much of
# wsc's wall time goes to start-up and generating the 124M normal() weights
$PY - "$ROOT/examples/gpt2_small.wsm" "$TMP/init.wsm" <<'PYEOF'
import re, sys
src = open(sys.argv[1]).read().split("\nfn ")[0]
names = re.findall(r"^param\s+(\w+)", src, re.M)
open(sys.argv[2], "w").write(src + "\noutput s = " + " + ".join(f"sum({n})" for n in names) + ";\n")
PYEOF

for r in $(seq 1 "$REPEAT"); do
  t0=$(now)
  /usr/bin/time -v -o "$TMP/wsc.time.$r" "$WSC" eval "$ROOT/examples/gpt2_small.wsm" --threads "$THREADS" \
    -i tokens="$TMP/tokens.npy" -o "$TMP/out"
  t1=$(now)
  # OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines for old OpenBLAS builds) slow a
  # current OpenBLAS down: unset them for this command only.
  (unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
   OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS /usr/bin/time -v -o "$TMP/torch.time.$r" \
     $PY "$ROOT/bench/torch_gpt2_small.py" --threads "$THREADS" --tokens "$TMP/tokens.npy" > "$TMP/torch.json.$r")
  t2=$(now)
  "$WSC" eval "$TMP/init.wsm" --threads "$THREADS" -i tokens="$TMP/tokens.npy" -o "$TMP/init"
  t3=$(now)
  echo "$t0 $t1 $t2 $t3" >> "$TMP/times"
done

if [ "${CHECK:-0}" = 1 ]; then
  (unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
   $PY "$ROOT/bench/torch_gpt2_small.py" --threads "$THREADS" --tokens "$TMP/tokens.npy" \
     --out "$TMP/torch_logits.npy" --save-weights "$TMP/w" > /dev/null)
  t0=$(now)
  "$WSC" eval "$ROOT/examples/gpt2_small.wsm" --threads "$THREADS" --weights "$TMP/w" \
    -i tokens="$TMP/tokens.npy" -o "$TMP/check"
  t1=$(now)
  $PY - "$TMP" "$t0" "$t1" <<'PYEOF'
import sys
import numpy as np
got = np.load(f"{sys.argv[1]}/check/logits.npy").astype(np.float64)
want = np.load(f"{sys.argv[1]}/torch_logits.npy")
excess = np.abs(got - want) - (1e-4 + 1e-3 * np.abs(want))
print(f"check: wsc eval with PyTorch's weights (--weights DIR of .npy, no normal()): wall "
      f"{float(sys.argv[3]) - float(sys.argv[2]):.2f} s")
print(f"check: wsc eval with PyTorch's weights vs PyTorch: max |diff| {np.abs(got - want).max():.3g}, "
      f"max excess over the tolerance {excess.max():.3g} -> {'MATCH' if excess.max() <= 0 else 'MISMATCH'}")
sys.exit(0 if excess.max() <= 0 else 1)
PYEOF
fi

$PY - "$TMP" "$THREADS" "$(nproc)" <<'PYEOF'
import json, re, sys
import numpy as np
tmp, threads, ncpu = sys.argv[1:]
runs = []
for r, line in enumerate(open(f"{tmp}/times"), 1):
    t0, t1, t2, t3 = map(float, line.split())
    peak = lambda f: int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f).read()).group(1)) / 1024
    runs.append(dict(wsc=t1 - t0, torch=t2 - t1, init=t3 - t2, tj=json.load(open(f"{tmp}/torch.json.{r}")),
                     wmem=peak(f"{tmp}/wsc.time.{r}"), tmem=peak(f"{tmp}/torch.time.{r}")))
lg = np.load(f"{tmp}/out/logits.npy")
assert lg.shape == (64, 50257) and lg.dtype == np.float32, (lg.shape, lg.dtype)
assert np.all(np.isfinite(lg)), "non-finite logits"
w = min(runs, key=lambda x: x["wsc"])
t = min(runs, key=lambda x: x["torch"])
fw = min(x["tj"]["forward_s"] for x in runs)
tj = t["tj"]
n = len(runs)
every = lambda key: "   (all runs: " + ", ".join("%.2f" % x[key] for x in runs) + ")" if n > 1 else ""
print(f"gpt2_small (124M params, T=64), {threads} thread(s) on {ncpu} CPUs, best of {n}")
print(f"  wsc eval   wall {w['wsc']:7.2f} s   peak RSS {w['wmem']:5.0f} MB"
      + every("wsc"))
print(f"  wsc eval of the params alone (start-up + normal() for 124M weights + one sum each): "
      f"{min(x['init'] for x in runs):.2f} s")
print(f"  PyTorch    wall {t['torch']:7.2f} s   peak RSS {t['tmem']:5.0f} MB   (import {tj['import_s']} s, "
      f"init {tj['init_s']} s, forward {tj['forward_s']} s)"
      + every("torch"))
print(f"  ratio wsc/PyTorch: wall {w['wsc'] / t['torch']:.2f}x; wsc wall / PyTorch forward {w['wsc'] / fw:.1f}x")
print(f"  PyTorch {tj['torch']}, BLAS: {tj['blas']}")
PYEOF
