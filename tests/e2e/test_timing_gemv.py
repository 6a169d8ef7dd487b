#!/usr/bin/python3
"""Timing of a gemv on the modeled wafer against a formula derived by hand from the cost model
(issue 4, item 6): `y = x @ w` with x of shape [1, K] and a weight w of shape [K, N], compiled so
that the gemv gets a rectangle of k rows x n columns (k, n > 1), a single input lane and a single
output lane. The formula (docs/execution.md, "Timing of a gemv") comes from the timing rules of
runtime/rt.h and the charges of codegen/pe/wsl.c:

    c = task_cycles, a = c + 1 (a task that receives one wavelet: start-up + one cycle)
    T_in = max(c, 2) + (a + 1) K            the input PE takes x at one wavelet per a cycles and
                                            sends the row (K more) with its last one
    T = T_in + d_in + d_out + 4 + a e + n_j (K + 1) + (k - 1)(3 + (a + 2) n_j) + (a + 2) N + 1

for the gemv column j that finishes first (n_j of its N/n output columns; d_in the hops from the
input PE to its top PE, d_out from its bottom PE to the output PE), e being the last x column of
the top row's K-slice (x reaches every gemv PE in column order, one per a cycles). The bounds:

- lower: e = floor(K/k) (the smallest slice end), Manhattan distances, the earliest column;
- upper: e = K (the rest of x, reaching the lower rows while they wait for partial sums, costs at
  most a cycles a wavelet on the critical path, which e = K already counts), the latest column,
  plus 2 a k cycles for x wavelets at the chain's hand-overs and DETOUR hops of longer routes.

The interval's width must stay below a quarter of the column's multiply-add term n_j K, so a
factor-of-2 error in the simulator's charging of vector work fails the test. The cases vary the
rectangle (3 x 10, 2 x 11, 3 x 15) and the start-up cost (task_cycles 6 through a target file), and
every output must match NumPy's x @ w within 1e-4 + 1e-3 |want|.

If the compiler maps a case differently (not one input lane, one output lane and a gemv of 2..3
columns and more than one row: with more than three gemv lanes per output lane, relays make the
bottom row wait, which this formula does not model), the case fails with a message saying so:
pick other sizes there.

usage: test_timing_gemv.py WSC     (from the repository root)
Prints the predicted and measured cycles of every case, `N passed, M failed`; exits 1 on failure."""
import json, os, re, sys, tempfile
import numpy as np
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import run

# (fabric, K, N, task_cycles or None for the preset's); the rectangles they get today in brackets
CASES = [
    ("4x16", 256, 1024, None),  # [3 x 10] the input PE below the gemv: its top row takes x's last slice
    ("3x16", 128, 512, None),   # [2 x 11]
    ("3x32", 256, 1024, None),  # [3 x 15] the input PE above: the top row takes the first slice
    ("4x16", 256, 1024, 6),     # [3 x 10] a slower task start-up
]
DETOUR = 8        # hops by which routes may exceed the Manhattan distances, in all
MAX_WIDTH = 0.25  # the interval's width as a fraction of the multiply-add term, at most

passed = failed = 0


def fail(msg):
    global failed
    failed += 1
    print("FAIL " + msg, flush=True)


def preset_task_cycles(wsc):
    """task_cycles of the default target (wse3), from `wsc help targets`."""
    rc, so, se = run([wsc, "help", "targets"])
    m = re.search(r"^\s*task_cycles\s+(\d+)\s+(\d+)\s*$", so, re.M) if rc == 0 else None
    if not m:
        raise SystemExit("FAIL cannot read task_cycles from `wsc help targets`")
    return int(m.group(2))  # columns: wse2, wse3


def layout(pl, width):
    """The input, gemv and output kernels of the placement, or a reason the formula does not
    apply to it."""
    ks = pl["kernels"]
    kinds = sorted(k["kind"] for k in ks)
    if kinds != ["gemv", "input", "output"]:
        return None, f"kernels {kinds}, not one input, one gemv and one output"
    by = {k["kind"]: k for k in ks}
    i, g, o = by["input"], by["gemv"], by["output"]
    if (i["width"], i["height"], o["width"], o["height"]) != (1, 1, 1, 1):
        return None, "the input or output kernel has more than one lane"
    if i["x"] != 0 or o["x"] != width - 1:
        return None, "the input is not on the west edge or the output not on the east edge"
    if not (2 <= g["width"] <= 3 and g["height"] >= 2):
        return None, f"the gemv is {g['width']} x {g['height']} (the formula needs 2..3 columns, k > 1)"
    return (i, g, o), None


def bounds(K, N, i, g, o, c):
    """(lower, upper, e=K value, multiply-add term) of the modeled cycles: see the docstring."""
    a = c + 1
    n, k = g["width"], g["height"]
    t_in = max(c, 2) + (a + 1) * K

    def column(j, e):
        nj = (j + 1) * N // n - j * N // n
        x = g["x"] + j
        d_in = abs(x - i["x"]) + abs(g["y"] - i["y"])
        d_out = abs(o["x"] - x) + abs(o["y"] - (g["y"] + k - 1))
        return (t_in + d_in + d_out + 4 + a * e + nj * (K + 1) + (k - 1) * (3 + (a + 2) * nj)
                + (a + 2) * N + 1)

    lo = min(column(j, K // k) for j in range(n))
    exact = min(column(j, K) for j in range(n))
    hi = max(column(j, K) for j in range(n)) + 2 * a * k + DETOUR
    work = max((j + 1) * N // n - j * N // n for j in range(n)) * K
    return lo, hi, exact, work


def one_case(wsc, tmp, fabric, K, N, tc, preset_tc):
    global passed
    c = preset_tc if tc is None else tc
    label = f"K={K} N={N} at {fabric}" + (f" task_cycles {tc}" if tc is not None else "")
    d = os.path.join(tmp, f"{fabric}_{K}_{N}_{tc}")
    os.makedirs(os.path.join(d, "w"))
    model = os.path.join(d, "gemv.wsm")
    with open(model, "w") as f:
        f.write(f"model gemv_timing;\ninput x: f32[1, {K}];\nparam w: f32[{K}, {N}];\n"
                "output y = x @ w;\n")
    rng = np.random.default_rng(K * 7919 + N)
    w = (rng.standard_normal((K, N)) * 0.05).astype(np.float32)
    x = rng.standard_normal((1, K)).astype(np.float32)
    np.save(os.path.join(d, "w", "w.npy"), w)
    np.save(os.path.join(d, "x.npy"), x)
    art, out = os.path.join(d, "m.wsa"), os.path.join(d, "out")
    cmd = [wsc, "compile", model, "--weights", os.path.join(d, "w"), "--fabric", fabric, "-o", art]
    if tc is not None:
        target = os.path.join(d, "target.txt")
        with open(target, "w") as f:
            f.write(f"base = wse3\ntask_cycles = {tc}\n")
        cmd += ["--target", target]
    rc, so, se = run(cmd)
    if rc != 0:
        return fail(f"{label}: compile exit {rc}: {se.strip()[:300]}")
    rc, so, se = run([wsc, "dump", art, "--placement", "--format", "json"])
    if rc != 0:
        return fail(f"{label}: dump exit {rc}: {se.strip()[:300]}")
    pl = json.loads(so)
    kern, why = layout(pl, pl["target"]["width"])
    if why:
        return fail(f"{label}: {why}; the formula does not apply, choose other sizes for this case")
    i, g, o = kern
    lo, hi, exact, work = bounds(K, N, i, g, o, c)
    rc, so, se = run([wsc, "run", art, "-i", "x=" + os.path.join(d, "x.npy"), "-o", out,
                      "--stats", "--format", "json"])
    if rc != 0:
        return fail(f"{label}: run exit {rc}: {se.strip()[:300]}")
    cycles = json.loads(so)["cycles"]
    rect = f"{g['height']} x {g['width']}"
    print(f"{label}: gemv {rect} (k x n) at ({g['x']},{g['y']}), input ({i['x']},{i['y']}), "
          f"output ({o['x']},{o['y']}): predicted {lo}..{hi} (e = K: {exact}), measured {cycles}; "
          f"multiply-add term {work}, interval width {100 * (hi - lo) / work:.1f}% of it", flush=True)
    bad = False
    if hi - lo > MAX_WIDTH * work:
        bad = True
        fail(f"{label}: the interval {lo}..{hi} is too wide to catch a factor of 2 in the work "
             f"term ({work})")
    if not lo <= cycles <= hi:
        bad = True
        fail(f"{label}: {cycles} cycles, outside the predicted {lo}..{hi}")
    got = np.load(os.path.join(out, "y.npy"))
    want = x.astype(np.float64) @ w.astype(np.float64)
    if got.shape != want.shape or got.dtype != np.float32:
        bad = True
        fail(f"{label}: output {got.dtype}{list(got.shape)}, want float32{list(want.shape)}")
    elif not np.all(np.abs(got - want) <= 1e-4 + 1e-3 * np.abs(want)):
        bad = True
        fail(f"{label}: output differs from x @ w by up to {np.max(np.abs(got - want)):.3g}")
    if not bad:
        passed += 1


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-2])
        return 2
    wsc = os.path.abspath(sys.argv[1])
    preset_tc = preset_task_cycles(wsc)
    with tempfile.TemporaryDirectory() as tmp:
        for fabric, K, N, tc in CASES:
            one_case(wsc, tmp, fabric, K, N, tc, preset_tc)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
