"""Helpers shared by the end-to-end tests (not a test itself: ctest runs only test_*.py).

A case folder is laid out as ../shared/conformance/cases: model.wsm, inputs/NAME.npy,
expected/NAME.npy, optionally weights.safetensors and an `args` file of extra wsc arguments."""
import os, subprocess
import numpy as np

TIMEOUT = 300


def case_command(wsc, d, out, extra=()):
    """The `wsc eval` command line for case folder d, writing its outputs to out."""
    args = open(os.path.join(d, "args")).read().split() if os.path.exists(os.path.join(d, "args")) else []
    model = os.path.join(d, "model.wsm" if os.path.exists(os.path.join(d, "model.wsm")) else "model.onnx")
    if os.path.exists(os.path.join(d, "weights.safetensors")):
        args += ["--weights", os.path.join(d, "weights.safetensors")]
    ins = []
    for f in sorted(os.listdir(os.path.join(d, "inputs"))):
        ins += ["-i", f[:-4] + "=" + os.path.join(d, "inputs", f)]
    return [wsc, "eval", model] + args + list(extra) + ins + ["-o", out]


def run(cmd, timeout=TIMEOUT):
    """Runs cmd; returns (status, stdout, stderr). A timeout gives status None."""
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "timed out"
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def compare_outputs(expected_dir, out):
    """Compares every expected/NAME.npy with out/NAME.npy as conformance/check.py does:
    |got - want| <= 1e-4 + 1e-3 |want| element by element, same shape, same finiteness.
    Returns None when all match, else a one-line reason."""
    for f in sorted(os.listdir(expected_dir)):
        want = np.load(os.path.join(expected_dir, f))
        gp = os.path.join(out, f)
        if not os.path.exists(gp):
            return f"no output {f}"
        try:
            got = np.load(gp)
        except Exception as e:          # a malformed file wsc wrote
            return f"{f}: unreadable ({e})"
        if got.dtype != want.dtype:
            return f"{f}: dtype {got.dtype} != {want.dtype}"
        got = got.astype(np.float64)
        if got.shape != want.shape:
            return f"{f}: shape {got.shape} != {want.shape}"
        err = np.abs(got - want) - (1e-4 + 1e-3 * np.abs(want))
        if not np.all(err <= 0) or not np.all(np.isfinite(got) == np.isfinite(want)):
            i = np.unravel_index(np.nanargmax(np.where(np.isnan(err), np.inf, err)), err.shape) if err.ndim else ()
            return (f"{f}: max excess error {np.nanmax(err):.3g}"
                    f" (at {list(i)}: got {got[i]:.6g}, want {float(want[i]):.6g})")
    return None
