#!/usr/bin/python3
"""Times `wsc run` of the GPT-2-style example (examples/gpt2.wsm with the weights and tokens of
tests/ref/cases/ex_gpt2) beside PyTorch running the same forward on the same machine with the same
thread count, in one run, and reports the ratio, the modeled cycles and latency, the simulated
wavelet-hops per second, and a lower bound of the cycles: the model's multiply-adds spread over
the PEs the artifact uses at one fp32 multiply-add per PE per cycle (machine.md).

usage: bench/run_gpt2.py [WSC] [THREADS] [FABRIC...]   (defaults: build/wsc, 2, 64x64 full)
FABRIC is WxH or `full` (the whole target); TARGET=wse2 selects the other preset."""
import json, os, subprocess, sys, tempfile, time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASE = os.path.join(ROOT, "tests", "ref", "cases", "ex_gpt2")


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    head = json.loads(raw[8:8 + n])
    out = {}
    for name, e in head.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        dt = {"F32": np.float32, "I32": np.int32}[e["dtype"]]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dt).reshape(e["shape"])
    return out


def torch_forward(w, tok, threads, repeat=20):
    """tests/ref/gen.py's forward of ex_gpt2; the best of `repeat` timings after a warm-up."""
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
    sys.dont_write_bytecode = True  # keep the source tree clean
    from gen import gpt2_forward  # imports torch, so after the caller's environment changes
    torch.set_num_threads(threads)
    w = {k: torch.from_numpy(v.copy()) for k, v in w.items()}
    tok = torch.from_numpy(tok.astype(np.int64))
    best = float("inf")
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            logits = gpt2_forward(w, tok, 4)
        if i:
            best = min(best, time.perf_counter() - t0)
    return best, logits.numpy()


def macs(w, tok):
    B, T = tok.shape
    D = w["wte"].shape[1]
    V = w["wte"].shape[0]
    L = w["ln1_g"].shape[0]
    per_layer = T * D * 3 * D + 2 * T * T * D + T * D * D + 2 * T * D * 4 * D
    return B * (L * per_layer + T * D * V)


def main():
    # set on some machines for old OpenBLAS builds, they slow a current one down: unset for the
    # PyTorch peer of this benchmark only (torch is imported after this)
    os.environ.pop("OPENBLAS_CORETYPE", None)
    os.environ.pop("OPENBLAS_L2_SIZE", None)
    wsc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "wsc")
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    fabrics = sys.argv[3:] or ["64x64", "full"]
    target = os.environ.get("TARGET", "wse3")
    w = load_safetensors(os.path.join(CASE, "weights.safetensors"))
    tok = np.load(os.path.join(CASE, "inputs", "tokens.npy"))
    want = np.load(os.path.join(CASE, "expected", "logits.npy"))
    print(f"GPT-2-style example (examples/gpt2.wsm), {tok.shape[0]} x {tok.shape[1]} tokens, "
          f"{macs(w, tok)} multiply-adds; target {target}; {threads} threads")
    for fab in fabrics:
        with tempfile.TemporaryDirectory() as tmp:
            art = os.path.join(tmp, "g.wsa")
            extra = [] if fab == "full" else ["--fabric", fab]
            subprocess.run([wsc, "compile", os.path.join(ROOT, "examples", "gpt2.wsm"), "--target",
                            target, "--weights", os.path.join(CASE, "weights.safetensors"), "-o", art]
                           + extra, check=True)
            t0 = time.perf_counter()
            p = subprocess.run([wsc, "run", art, "-i", "tokens=" + os.path.join(CASE, "inputs",
                                                                              "tokens.npy"),
                                "-o", os.path.join(tmp, "out"), "--stats", "--format", "json",
                                "--threads", str(threads)], check=True, capture_output=True,
                               text=True)
            t_wsc = time.perf_counter() - t0
            st = json.loads(p.stdout)
            got = np.load(os.path.join(tmp, "out", "logits.npy"))
            err = float(np.max(np.abs(got - want) - (1e-4 + 1e-3 * np.abs(want))))
            t_torch, _ = torch_forward(w, tok, threads)
            bound = macs(w, tok) / st["pes"]
            print(f"  {target} {fab}: wsc run {t_wsc:.3f} s wall, PyTorch forward {t_torch * 1e3:.3f} ms"
                  f" (ratio {t_wsc / t_torch:.0f}x); modeled {st['cycles']} cycles = "
                  f"{st['latency_s'] * 1e6:.1f} us; lower bound {bound:.0f} cycles on {st['pes']} PEs "
                  f"({st['cycles'] / bound:.1f}x); {st['hops'] / t_wsc / 1e6:.2f} M wavelet-hops/s; "
                  f"max excess error {err:.2g} ({'match' if err <= 0 else 'MISMATCH'})")


if __name__ == "__main__":
    main()
