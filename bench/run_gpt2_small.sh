#!/usr/bin/env bash
# wsc run of the GPT-2-small-sized model (examples/gpt2_small.wsm, 124M parameters, 64 tokens) on
# the whole wse3 fabric (TARGET=wse2 for the other preset), beside PyTorch running the same forward
# (bench/torch_gpt2_small.py) with the same thread count, in one run. PyTorch draws the weights and
# saves them; wsc compiles the model with those weights, runs the artifact on the modeled wafer and
# its logits are checked against PyTorch's with the conformance tolerance (|diff| <= 1e-4 + 1e-3
# |want|). Reports compile and run wall times, the modeled cycles and latency, a lower bound of the
# cycles (the forward's multiply-adds over the PEs the artifact uses, one fp32 multiply-add per PE
# per cycle, machine.md), simulated wavelet-hops per second, and wsc run's wall time over PyTorch's.
#
# usage: [TARGET=wse3] bench/run_gpt2_small.sh [WSC] [THREADS]   (defaults: build/wsc, 2)
# The run takes about 20 minutes and 8 GB of memory on the 2-core machine (docs/PERFORMANCE.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WSC=${1:-$ROOT/build/wsc}
THREADS=${2:-2}
TARGET=${TARGET:-wse3}
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

$PY -c "import numpy as np; np.save('$TMP/tokens.npy', np.random.default_rng(0).integers(0, 50257, 64).astype(np.int32))"
# the PyTorch peer: OpenBLAS as Debian ships it, nothing tuned by the environment
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $PY "$ROOT/bench/torch_gpt2_small.py" --tokens "$TMP/tokens.npy" \
    --threads "$THREADS" --out "$TMP/torch.npy" --save-weights "$TMP/w" > "$TMP/torch.json"
"$WSC" compile "$ROOT/examples/gpt2_small.wsm" --weights "$TMP/w" --target "$TARGET" -o "$TMP/gs.wsa" \
    --time-report 2> "$TMP/compile.txt"
grep -E "route|total|peak" "$TMP/compile.txt"
"$WSC" compile "$ROOT/examples/gpt2_small.wsm" --weights "$TMP/w" --target "$TARGET" --emit kernels | tail -n 1
t0=$(date +%s.%N)
"$WSC" run "$TMP/gs.wsa" -i tokens="$TMP/tokens.npy" -o "$TMP/out" --threads "$THREADS" --stats --format json \
    > "$TMP/stats.json"
t1=$(date +%s.%N)
"$WSC" dump "$TMP/gs.wsa" --placement --format json > "$TMP/dump.json"
$PY - "$TMP" "$t0" "$t1" <<'PYEOF'
import json, sys
import numpy as np
tmp, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
torch_s = json.load(open(f"{tmp}/torch.json"))
st = json.load(open(f"{tmp}/stats.json"))
dump = json.load(open(f"{tmp}/dump.json"))
got, want = np.load(f"{tmp}/out/logits.npy"), np.load(f"{tmp}/torch.npy")
excess = np.abs(got - want) - (1e-4 + 1e-3 * np.abs(want))
T, D, H, L, V = 64, 768, 12, 12, 50257
macs = L * (T * D * 3 * D + 2 * H * T * T * (D // H) + T * D * D + 2 * T * D * 4 * D) + T * D * V
pes = dump["summary"]["pes_used"]
wall = t1 - t0
print(f"logits vs PyTorch: max |diff| {np.abs(got - want).max():.3g}, max excess over the tolerance "
      f"{excess.max():.3g} -> {'MATCH' if excess.max() <= 0 else 'MISMATCH'}")
print(f"modeled: {st['cycles']} cycles = {st['latency_s'] * 1e6:.1f} us at the target's clock; lower bound "
      f"{macs / pes:.0f} cycles ({macs} multiply-adds over {pes} PEs): {st['cycles'] / (macs / pes):.0f}x it")
print(f"wsc run: {wall:.1f} s wall ({st['hops'] / wall / 1e6:.2f} M wavelet-hops/s simulated); "
      f"PyTorch forward {torch_s['forward_s']} s with {torch_s['threads']} threads ({torch_s['blas']}): "
      f"ratio {wall / torch_s['forward_s']:.0f}")
PYEOF
