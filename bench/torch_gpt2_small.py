#!/usr/bin/python3
"""PyTorch twin of examples/gpt2_small.wsm for bench/eval_gpt2_small.sh: the same shapes and ops in
float32 (embedding gather + positions, 12 pre-LayerNorm blocks of causal 12-head attention and a
tanh-GELU MLP, final LayerNorm, logits tied to wte), weights drawn like the model's initializers
(normal std 0.02, residual projections 0.02/sqrt(2L), LayerNorm gains 1, biases 0).

usage: torch_gpt2_small.py --tokens T.npy [--threads N] [--out LOGITS.npy] [--save-weights DIR]
--save-weights writes the weights as DIR/NAME.npy, for `wsc eval --weights DIR` (a full-size
correctness check: bench/eval_gpt2_small.sh with CHECK=1).
Prints `init_s`, `forward_s` (one forward pass, the one wsc eval does) and the BLAS in use."""
import argparse, ctypes, json, time

t_start = time.perf_counter()
import numpy as np
import torch
import torch.nn.functional as F

T, D, H, L, V, NPOS = 64, 768, 12, 12, 50257, 1024
Dh = D // H


def blas_info():
    """Which BLAS (and, for OpenBLAS, which kernel) this process runs."""
    libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and "/" in l})
    for p in libs:
        try:
            lib = ctypes.CDLL(p)
            f = lib.openblas_get_config
            f.restype = ctypes.c_char_p
            return f().decode()
        except (OSError, AttributeError):
            continue
    return ", ".join(libs) or "none loaded"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--save-weights")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    n = lambda *s, std=0.02: torch.randn(*s) * std
    std_res = 0.02 * (2 * L) ** -0.5
    w = dict(wte=n(V, D), wpe=n(NPOS, D, std=0.01), ln1_g=torch.ones(L, D), ln1_b=torch.zeros(L, D),
             w_qkv=n(L, D, 3 * D), b_qkv=torch.zeros(L, 3 * D), w_o=n(L, D, D, std=std_res), b_o=torch.zeros(L, D),
             ln2_g=torch.ones(L, D), ln2_b=torch.zeros(L, D), w_fc=n(L, D, 4 * D), b_fc=torch.zeros(L, 4 * D),
             w_pr=n(L, 4 * D, D, std=std_res), b_pr=torch.zeros(L, D), lnf_g=torch.ones(D), lnf_b=torch.zeros(D))
    tok = torch.from_numpy(np.load(a.tokens)).long()
    assert tok.shape == (T,)
    t1 = time.perf_counter()

    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    heads = lambda t: t.reshape(T, H, Dh).transpose(0, 1)
    with torch.no_grad():
        x = w["wte"][tok] + w["wpe"][:T]
        for l in range(L):
            h = F.layer_norm(x, (D,), w["ln1_g"][l], w["ln1_b"][l])
            qkv = h @ w["w_qkv"][l] + w["b_qkv"][l]
            q, k, v = heads(qkv[:, :D]), heads(qkv[:, D:2 * D]), heads(qkv[:, 2 * D:])
            p = torch.softmax((q @ k.transpose(1, 2) * Dh ** -0.5).masked_fill(mask, float("-inf")), -1)
            x = x + (p @ v).transpose(0, 1).reshape(T, D) @ w["w_o"][l] + w["b_o"][l]
            h = F.layer_norm(x, (D,), w["ln2_g"][l], w["ln2_b"][l])
            x = x + F.gelu(h @ w["w_fc"][l] + w["b_fc"][l], approximate="tanh") @ w["w_pr"][l] + w["b_pr"][l]
        logits = F.layer_norm(x, (D,), w["lnf_g"], w["lnf_b"]) @ w["wte"].T
    t2 = time.perf_counter()
    if a.out:
        np.save(a.out, logits.numpy())
    if a.save_weights:
        import os
        os.makedirs(a.save_weights, exist_ok=True)
        for k, v in w.items():
            np.save(os.path.join(a.save_weights, k + ".npy"), v.numpy())
    print(json.dumps(dict(threads=a.threads, import_s=round(t0 - t_start, 3), init_s=round(t1 - t0, 3),
                          forward_s=round(t2 - t1, 3), logits=list(logits.shape), torch=torch.__version__,
                          blas=blas_info())))


if __name__ == "__main__":
    main()
