#!/usr/bin/python3
"""Writes tests/ref/cases/: one folder per case, laid out as ../shared/conformance/cases:
model.wsm (plus any .wsm it imports and .npy files it reads with file()), inputs/NAME.npy,
expected/NAME.npy (computed here by PyTorch, never by wsc), optionally weights.safetensors and an
`args` file of extra wsc arguments.

Run from anywhere with Debian's python3 (packages python3-torch, python3-numpy):
    /usr/bin/python3 tests/ref/gen.py
It is deterministic: each case draws from its own generator seeded by the case's name, so adding
or changing one case leaves the others' files byte-identical.

Choices that keep the spec's tolerance |got - want| <= 1e-4 + 1e-3 |want| meaningful: values are
O(1); inputs of max/min/compare are free of ties (or exactly representable where ties are the
point); no output holds an infinity or NaN (masked values are shown through exp/softmax); f16 and
bf16 outputs come from one rounding of values that are exact before it, so they may differ from
PyTorch by at most one unit in the last place, which the tolerance admits for f16.

PyTorch 1.13 on the CPU lacks f16 kernels for most ops (matmul, exp, softmax, gelu, layer_norm);
there the reference computes in f32 from the f16 operands and rounds the result to f16 once, which
is what the spec prescribes for f16 ("round each built-in's result to that dtype once").
"""
import json, math, os, shutil, struct, sys, zlib
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "cases")
torch.set_num_threads(1)
DT = torch.float32        # float64 with --check64
CHECK64 = {}              # --check64: case -> worst |f64 - expected| / tolerance

# ---------------------------------------------------------------------------------------------
# writing cases

def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)

def save_safetensors(path, tensors):
    dt = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int32): "I32"}
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(_np(t))
        b = a.tobytes()
        header[name] = {"dtype": dt[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)

NAMES = []

def case(name, model, inputs, outputs, weights=None, args=None, files=None):
    """model: WSM source text, or "@examples/X.wsm" to copy that file of the repo.
    files: extra files of the case, relative path -> WSM source (str) or array (saved as .npy)."""
    assert name not in NAMES, name
    NAMES.append(name)
    if DT == torch.float64:
        worst = 0.0
        for k, v in outputs.items():
            if not (isinstance(v, torch.Tensor) and v.dtype == torch.float64):
                continue            # f16, bf16, bool and i32 outputs are not recomputed
            want = np.load(os.path.join(OUT, name, "expected", k + ".npy")).astype(np.float64)
            worst = max(worst, float(np.max(np.abs(_np(v) - want) / (1e-4 + 1e-3 * np.abs(want)), initial=0)))
        CHECK64[name] = worst
        return
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "inputs"))
    os.makedirs(os.path.join(d, "expected"))
    if model.startswith("@"):
        shutil.copy(os.path.join(ROOT, model[1:]), os.path.join(d, "model.wsm"))
    else:
        with open(os.path.join(d, "model.wsm"), "w") as f:
            f.write(model.lstrip("\n"))
    for rel, v in (files or {}).items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(v, str):
            with open(p, "w") as f:
                f.write(v.lstrip("\n"))
        else:
            np.save(p, _np(v))
    if weights:
        save_safetensors(os.path.join(d, "weights.safetensors"), weights)
    if args:
        with open(os.path.join(d, "args"), "w") as f:
            f.write(args + "\n")
    for k, v in inputs.items():
        np.save(os.path.join(d, "inputs", k + ".npy"), _np(v))
    for k, v in outputs.items():
        a = _np(v)
        assert np.all(np.isfinite(a.astype(np.float64))), (name, k, "non-finite expected value")
        np.save(os.path.join(d, "expected", k + ".npy"), a)

class Rng:
    """Per-case random numbers (torch generator seeded by the case name)."""
    def __init__(self, name):
        self.g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    def n(self, *shape, std=1.0, mean=0.0):
        return (torch.randn(shape, generator=self.g, dtype=torch.float32) * std + mean).to(DT)
    def u(self, *shape, lo=0.0, hi=1.0):
        return (torch.rand(shape, generator=self.g, dtype=torch.float32) * (hi - lo) + lo).to(DT)
    def i(self, lo, hi, *shape):            # integers in [lo, hi), int32
        return torch.randint(lo, hi, shape, generator=self.g, dtype=torch.int32)
    def grid(self, *shape, step=0.125, lo=-16, hi=17):   # exact small multiples of step
        return self.i(lo, hi, *shape).to(DT) * step

def f16(fn, *xs):
    """f16 reference: compute in f32 from f16 operands, round the result to f16 once."""
    return fn(*[x.float() for x in xs]).half()

# ---------------------------------------------------------------------------------------------
# the example models

def ex_mlp(name, B, args=None):
    r = Rng(name)
    D, Hd, C = 32, 64, 10
    w = dict(w1=r.n(D, Hd, std=0.2), b1=r.n(Hd, std=0.1), w2=r.n(Hd, Hd, std=0.15),
             b2=r.n(Hd, std=0.1), ln_g=r.n(Hd, std=0.1, mean=1.0), ln_b=r.n(Hd, std=0.1),
             w3=r.n(Hd, C, std=0.3), b3=r.n(C, std=0.1))
    x = r.n(B, D)
    h = torch.relu(x @ w["w1"] + w["b1"])
    h = h + F.gelu(h @ w["w2"] + w["b2"])
    h = F.layer_norm(h, (Hd,), w["ln_g"], w["ln_b"])
    logits = h @ w["w3"] + w["b3"]
    case(name, "@examples/mlp.wsm", dict(x=x), dict(logits=logits, probs=torch.softmax(logits, -1)),
         weights=w, args=args)

def gpt2_forward(w, tok, H):
    """examples/gpt2.wsm's forward: the logits of tokens tok [B, T] under weights w (tensors
    named as the model's params, layers stacked), H heads. bench/run_gpt2.py times it too."""
    B, T = tok.shape
    D, L = w["wte"].shape[1], w["ln1_g"].shape[0]
    Dh = D // H
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    heads = lambda t: t.reshape(B, T, H, Dh).permute(0, 2, 1, 3)
    x = w["wte"][tok.long()] + w["wpe"]
    for l in range(L):
        h = F.layer_norm(x, (D,), w["ln1_g"][l], w["ln1_b"][l])
        qkv = h @ w["w_qkv"][l] + w["b_qkv"][l]
        q, k, v = heads(qkv[..., :D]), heads(qkv[..., D:2 * D]), heads(qkv[..., 2 * D:])
        s = (q @ k.transpose(-1, -2) * Dh ** -0.5).masked_fill(mask, float("-inf"))
        a = torch.softmax(s, -1) @ v
        x = x + a.permute(0, 2, 1, 3).reshape(B, T, D) @ w["w_o"][l] + w["b_o"][l]
        h = F.layer_norm(x, (D,), w["ln2_g"][l], w["ln2_b"][l])
        x = x + F.gelu(h @ w["w_fc"][l] + w["b_fc"][l], approximate="tanh") @ w["w_pr"][l] + w["b_pr"][l]
    x = F.layer_norm(x, (D,), w["lnf_g"], w["lnf_b"])
    return x @ w["wte"].T


def ex_gpt2():
    r = Rng("ex_gpt2")
    B, T, D, H, L, V = 2, 16, 64, 4, 2, 97
    w = dict(wte=r.n(V, D, std=0.3), wpe=r.n(T, D, std=0.1),
             ln1_g=r.n(L, D, std=0.1, mean=1.0), ln1_b=r.n(L, D, std=0.05),
             w_qkv=r.n(L, D, 3 * D, std=0.12), b_qkv=r.n(L, 3 * D, std=0.05),
             w_o=r.n(L, D, D, std=0.1), b_o=r.n(L, D, std=0.05),
             ln2_g=r.n(L, D, std=0.1, mean=1.0), ln2_b=r.n(L, D, std=0.05),
             w_fc=r.n(L, D, 4 * D, std=0.12), b_fc=r.n(L, 4 * D, std=0.05),
             w_pr=r.n(L, 4 * D, D, std=0.06), b_pr=r.n(L, D, std=0.05),
             lnf_g=r.n(D, std=0.1, mean=1.0), lnf_b=r.n(D, std=0.05))
    tok = r.i(0, V, B, T)
    x = gpt2_forward(w, tok, H)
    case("ex_gpt2", "@examples/gpt2.wsm", dict(tokens=tok), dict(logits=x), weights=w)

def ex_llama():
    r = Rng("ex_llama")
    T, D, H, Fh, L, V, eps = 16, 64, 4, 96, 2, 97, 1e-5
    Dh = D // H
    inv = 1.0 / (10000.0 ** (torch.arange(0, Dh, 2, dtype=torch.float64) / Dh))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    emb = torch.cat([freqs, freqs], -1)
    w = dict(tok_emb=r.n(V, D, std=0.5), rope_cos=emb.cos().float().to(DT),
             rope_sin=emb.sin().float().to(DT),
             attn_norm=r.n(L, D, std=0.1, mean=1.0),
             wq=r.n(L, D, D, std=0.15), wk=r.n(L, D, D, std=0.15), wv=r.n(L, D, D, std=0.12),
             wo=r.n(L, D, D, std=0.1), ffn_norm=r.n(L, D, std=0.1, mean=1.0),
             w1=r.n(L, D, Fh, std=0.12), w3=r.n(L, D, Fh, std=0.12), w2=r.n(L, Fh, D, std=0.1),
             norm=r.n(D, std=0.1, mean=1.0), lm_head=r.n(D, V, std=0.15))
    tok = r.i(0, V, T)
    rms = lambda t, g: t / torch.sqrt((t * t).mean(-1, keepdim=True) + eps) * g
    heads = lambda t: t.reshape(T, H, Dh).transpose(0, 1)
    rot = lambda t: torch.cat([-t[..., Dh // 2:], t[..., :Dh // 2]], -1)
    rope = lambda t: t * w["rope_cos"] + rot(t) * w["rope_sin"]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    x = w["tok_emb"][tok.long()]
    for l in range(L):
        h = rms(x, w["attn_norm"][l])
        q, k, v = rope(heads(h @ w["wq"][l])), rope(heads(h @ w["wk"][l])), heads(h @ w["wv"][l])
        p = torch.softmax((q @ k.transpose(1, 2) * Dh ** -0.5).masked_fill(mask, float("-inf")), -1)
        x = x + (p @ v).transpose(0, 1).reshape(T, D) @ w["wo"][l]
        h = rms(x, w["ffn_norm"][l])
        x = x + (F.silu(h @ w["w1"][l]) * (h @ w["w3"][l])) @ w["w2"][l]
    case("ex_llama", "@examples/llama.wsm", dict(tokens=tok),
         dict(logits=rms(x, w["norm"]) @ w["lm_head"]), weights=w)

# ---------------------------------------------------------------------------------------------
# built-ins

def arith_broadcast():
    r = Rng("arith_broadcast")
    a, b, c, d = r.n(2, 3, 4), r.n(4), r.n(3, 1), r.u(2, 1, 4, lo=0.5, hi=2.0)
    s = r.n()
    case("arith_broadcast", """
model arith_broadcast;
// + - * / and unary minus with NumPy broadcasting, scalar inputs and compile-time numbers
input a: f32[2, 3, 4];
input b: f32[4];
input c: f32[3, 1];
input d: f32[2, 1, 4];
input s: f32[];

output add   = a + b;                 // [2,3,4] + [4]
output sub   = a - c;                 // [2,3,4] - [3,1]
output outer = c * b;                 // [3,1] * [4] -> [3,4]: both sides broadcast
output div   = a / d;                 // [2,3,4] / [2,1,4]
output neg   = -a;
output negn  = -(-b) - -b;            // nested unary minus
output scal  = a * s + s;             // f32[] input
output lit   = 1 - b / 4 + 0.5 * b;   // literals take the tensor's dtype
output mixed = (a + c * b) * (b - a) / 3;
output ssum  = s * 2 - 1;             // scalar stays scalar
""", dict(a=a, b=b, c=c, d=d, s=s),
        dict(add=a + b, sub=a - c, outer=c * b, div=a / d, neg=-a, negn=-(-b) - -b, scal=a * s + s,
             lit=1 - b / 4 + 0.5 * b, mixed=(a + c * b) * (b - a) / 3, ssum=s * 2 - 1))

def unary_math():
    r = Rng("unary_math")
    x, p = r.u(3, 5, lo=-3, hi=3), r.u(3, 5, lo=0.5, hi=3.0)
    case("unary_math", """
model unary_math;
// every unary math built-in; log, sqrt and rsqrt on positive inputs
input x: f32[3, 5];
input p: f32[3, 5];
output o_abs = abs(x);
output o_exp = exp(x);
output o_log = log(p);
output o_sqrt = sqrt(p);
output o_rsqrt = rsqrt(p);
output o_sin = sin(x);
output o_cos = cos(x);
output o_tanh = tanh(x);
output o_erf = erf(x);
output o_sigmoid = sigmoid(x);
output o_relu = relu(x);
output o_silu = silu(x);
output o_nested = exp(-abs(sin(x))) * sqrt(p);
""", dict(x=x, p=p),
        dict(o_abs=x.abs(), o_exp=x.exp(), o_log=p.log(), o_sqrt=p.sqrt(), o_rsqrt=p.rsqrt(),
             o_sin=x.sin(), o_cos=x.cos(), o_tanh=x.tanh(), o_erf=torch.erf(x), o_sigmoid=x.sigmoid(),
             o_relu=x.relu(), o_silu=F.silu(x), o_nested=torch.exp(-x.sin().abs()) * p.sqrt()))

def pow_maxmin():
    r = Rng("pow_maxmin")
    x, y, p, e = r.n(3, 4), r.n(4), r.u(3, 4, lo=0.5, hi=2.0), r.u(3, 4, lo=-2, hi=2)
    case("pow_maxmin", """
model pow_maxmin;
input x: f32[3, 4];
input y: f32[4];
input p: f32[3, 4];     // positive
input e: f32[3, 4];
output pw    = pow(p, e);         // tensor ** tensor
output sq    = pow(x, 2);         // negative bases with whole exponents
output cube  = pow(x, 3.0);
output root  = pow(p, 0.5);
output base2 = pow(2.0, e);       // a compile-time base
output bpow  = pow(p, y);         // broadcast [3,4] ** [4]
output mx    = maximum(x, y);
output mn    = minimum(x, y);
output relu0 = maximum(x, 0);
output clip  = minimum(maximum(x, -0.5), 0.5);
output mx2   = maximum(0.25, y);  // a number first
""", dict(x=x, y=y, p=p, e=e),
        dict(pw=p.pow(e), sq=x.pow(2), cube=x.pow(3.0), root=p.pow(0.5), base2=torch.pow(2.0, e),
             bpow=p.pow(y), mx=torch.maximum(x, y), mn=torch.minimum(x, y), relu0=x.clamp(min=0),
             clip=x.clamp(-0.5, 0.5), mx2=y.clamp(min=0.25)))

def gelu_case():
    r = Rng("gelu")
    x = r.u(4, 6, lo=-4, hi=4)
    case("gelu", """
model gelu;
input x: f32[4, 6];
output exact = gelu(x);                         // erf form
output tanh_form = gelu(x, approximate: "tanh"); // GPT-2's form
output scaled = gelu(x * 0.5, approximate: "tanh") - gelu(-x);
""", dict(x=x), dict(exact=F.gelu(x), tanh_form=F.gelu(x, approximate="tanh"),
                     scaled=F.gelu(x * 0.5, approximate="tanh") - F.gelu(-x)))

def compare_where():
    r = Rng("compare_where")
    a, b = r.i(-3, 4, 3, 4).to(DT), r.i(-3, 4, 4).to(DT)     # whole numbers: equal() has hits
    m = r.i(0, 2, 3, 4).bool()
    y = r.n(3, 1)
    case("compare_where", """
model compare_where;
input a: f32[3, 4];
input b: f32[4];
input m: bool[3, 4];
input y: f32[3, 1];
output lt = less(a, b);                     // bool outputs, broadcast
output gt = greater(a, b);
output eq = equal(a, b);
output gt0 = greater(a, 0);
output bb = equal(less(a, 0), less(b, 0));  // equal on bools
output w1 = where(less(a, b), a, b);        // [3,4] from [3,4], [3,4], [4]
output w2 = where(greater(a, 0), a, 0.0);   // a number as a branch
output w3 = where(m, a, y);                 // bool input; [3,1] branch broadcasts
output w4 = where(less(b, 0), y, -1);       // [4] condition, [3,1] branch -> [3,4]
output w5 = where(equal(m, greater(a, 1)), 1.5, a * 2);
""", dict(a=a, b=b, m=m, y=y),
        dict(lt=a < b, gt=a > b, eq=a == b, gt0=a > 0, bb=(a < 0) == (b < 0), w1=torch.where(a < b, a, b),
             w2=torch.where(a > 0, a, torch.tensor(0.0)), w3=torch.where(m, a, y),
             w4=torch.where(b < 0, y, torch.tensor(-1.0)), w5=torch.where(m == (a > 1), torch.tensor(1.5), a * 2)))

def reduce_case():
    r = Rng("reduce")
    x = r.n(2, 3, 4)
    case("reduce", """
model reduce;
// sum mean max min: one axis, negative axes, keepdims, lists of axes, all axes
input x: f32[2, 3, 4];
output s_all  = sum(x);                               // f32[]
output s1     = sum(x, axis: 1);
output s_neg3 = sum(x, axis: -3);
output m_last = mean(x, axis: -1, keepdims: true);    // [2,3,1]
output m_all  = mean(x);
output m_one  = mean(x, axis: [1]);                   // a one-element list
output mx02   = max(x, axis: [0, 2]);                 // [3]
output mx_all = max(x);
output mx_k   = max(x, axis: 1, keepdims: true);
output mn_l   = min(x, axis: [-1, 0], keepdims: true);// [1,3,1]
output mn_all = min(x, keepdims: true);               // [1,1,1]
output mn0    = min(x, axis: 0, keepdims: false);
output s_list = sum(x, axis: [2, 0, 1]);              // all axes, listed out of order
output center = x - mean(x, axis: [0, 2], keepdims: true);
""", dict(x=x),
        dict(s_all=x.sum(), s1=x.sum(1), s_neg3=x.sum(-3), m_last=x.mean(-1, keepdim=True), m_all=x.mean(),
             m_one=x.mean(1), mx02=x.amax((0, 2)), mx_all=x.max(), mx_k=x.amax(1, keepdim=True),
             mn_l=x.amin((2, 0), keepdim=True), mn_all=x.amin((0, 1, 2), keepdim=True), mn0=x.amin(0),
             s_list=x.sum(), center=x - x.mean((0, 2), keepdim=True)))

def softmax_axes():
    r = Rng("softmax_axes")
    x = r.n(2, 3, 5, std=2.0)
    case("softmax_axes", """
model softmax_axes;
input x: f32[2, 3, 5];
output last = softmax(x, axis: -1);
output mid  = softmax(x, axis: 1);      // a middle axis
output mid2 = softmax(x, axis: -2);
output first = softmax(x, axis: 0);
output big  = softmax(x * 100, axis: -1);   // large logits: needs the max subtracted
""", dict(x=x), dict(last=x.softmax(-1), mid=x.softmax(1), mid2=x.softmax(-2), first=x.softmax(0),
                     big=(x * 100).softmax(-1)))

def norms():
    r = Rng("norms")
    x = r.n(2, 3, 8, std=0.1)      # variance ~ eps, so a wrong eps shows
    y = r.n(5, 8, mean=0.3)
    g, b = r.n(8, std=0.2, mean=1.0), r.n(8, std=0.2)
    z = r.n(4, 8) + 300.0           # a large mean: E[x^2] - E[x]^2 in f32 fails by ~2e-2; two-pass passes
    case("norms", """
model norms;
input x: f32[2, 3, 8];
input y: f32[5, 8];
input z: f32[4, 8];
input g: f32[8];
input b: f32[8];
output ln_eps = layernorm(x, g, b, eps: 1e-2);
output ln_y   = layernorm(y, g, b, eps: 1e-5);
output ln_big = layernorm(z, g, b, eps: 1e-5);
output rn_eps = rmsnorm(x, g, eps: 0.02);
output rn_y   = rmsnorm(y, g, eps: 1e-6);
output ln_rn  = rmsnorm(layernorm(y, g, b), g * 2, eps: 1e-3);
""", dict(x=x, y=y, z=z, g=g, b=b),
        dict(ln_eps=F.layer_norm(x, (8,), g, b, 1e-2), ln_y=F.layer_norm(y, (8,), g, b, 1e-5),
             ln_big=F.layer_norm(z, (8,), g, b, 1e-5),
             rn_eps=x / torch.sqrt((x * x).mean(-1, keepdim=True) + 0.02) * g,
             rn_y=y / torch.sqrt((y * y).mean(-1, keepdim=True) + 1e-6) * g,
             ln_rn=(lambda t: t / torch.sqrt((t * t).mean(-1, keepdim=True) + 1e-3) * (g * 2))(
                 F.layer_norm(y, (8,), g, b))))

def defaults():
    r = Rng("defaults")
    x = r.n(2, 3, 4)
    xs, xr = r.n(3, 8, std=0.003), r.n(3, 8, std=0.001)   # variance ~ the default eps
    g, b = r.n(8, std=0.2, mean=1.0), r.n(8, std=0.2)
    case("defaults", """
model defaults;
// the attributes' defaults
input x: f32[2, 3, 4];
input xs: f32[3, 8];
input xr: f32[3, 8];
input g: f32[8];
input b: f32[8];
output sm = softmax(x);                       // axis: -1
output ln = layernorm(xs, g, b);              // eps: 1e-5
output rn = rmsnorm(xr, g);                   // eps: 1e-6
output cc = concat([x, x * 2]);               // axis: 0
output sl = slice(x, axis: 1);                // start 0, end the axis length
output sk = sum(x, axis: 1) + mean(x, axis: 1, keepdims: false);
output ge = gelu(x);                          // exact
""", dict(x=x, xs=xs, xr=xr, g=g, b=b),
        dict(sm=x.softmax(-1), ln=F.layer_norm(xs, (8,), g, b, 1e-5),
             rn=xr / torch.sqrt((xr * xr).mean(-1, keepdim=True) + 1e-6) * g, cc=torch.cat([x, x * 2], 0),
             sl=x, sk=x.sum(1) + x.mean(1), ge=F.gelu(x)))

def matmul_case():
    r = Rng("matmul")
    v, u, m, n = r.n(4), r.n(4), r.n(4, 3), r.n(5, 4)
    bt, b4, w3 = r.n(2, 5, 4), r.n(2, 1, 3, 4), r.n(5, 4, 6)
    case("matmul", """
model matmul;
// NumPy matmul: 1-D operands, 2-D, batched, broadcast batch dimensions
input v: f32[4];
input u: f32[4];
input m: f32[4, 3];
input n: f32[5, 4];
input bt: f32[2, 5, 4];
input b4: f32[2, 1, 3, 4];
input w3: f32[5, 4, 6];
output dot  = v @ u;                 // f32[]
output vm   = v @ m;                 // [3]
output mv   = n @ v;                 // [5]
output mm   = n @ m;                 // [5, 3]
output bm   = bt @ m;                // [2, 5, 3]
output bv   = bt @ v;                // [2, 5]
output vb   = v @ w3;                // [5, 6]
output bb   = matmul(b4, w3);        // [2, 5, 3, 6]: batch [2, 1] with [5]
output prec = n @ m * 2 + 1;         // * and @ share a level, left to right
output left = v * 2 @ m;             // (v * 2) @ m
output tt   = transpose(m) @ transpose(n);   // [3, 5]
""", dict(v=v, u=u, m=m, n=n, bt=bt, b4=b4, w3=w3),
        dict(dot=v @ u, vm=v @ m, mv=n @ v, mm=n @ m, bm=bt @ m, bv=bt @ v, vb=v @ w3, bb=b4 @ w3,
             prec=n @ m * 2 + 1, left=(v * 2) @ m, tt=m.T @ n.T))

def shapes():
    r = Rng("shapes")
    x, y = r.n(2, 3, 4), r.n(6)
    case("shapes", """
model shapes;
input x: f32[2, 3, 4];
input y: f32[6];
output r1 = reshape(x, [6, -1]);                      // [6, 4]
output r2 = reshape(x, [2, -1, 3]);                   // [2, 4, 3]
output r3 = reshape(y, [1, 6, 1]);
output r4 = reshape(reshape(y, [2, 3]), [-1]);
output t0 = transpose(x);                             // no perm: reversed, [4, 3, 2]
output t1 = transpose(x, [1, 0, 2]);
output t2 = transpose(x, [2, 0, 1]);
output t3 = transpose(reshape(y, [2, 3]));
output s1 = slice(x, axis: 2, start: 1, end: -1);     // [2, 3, 2]
output s2 = slice(x, axis: -1, start: -3);            // [2, 3, 3]
output s3 = slice(x, axis: 1, start: -100, end: 100); // clamped: all of axis 1
output s4 = slice(x, axis: 0, end: 1);                // [1, 3, 4]
output s5 = slice(y, axis: 0, start: 4, end: 99);     // [2]
output s6 = slice(x, axis: 1, start: 1, end: -100 + 102);
output i0 = x[1];                                     // [3, 4]
output i1 = x[-1][0];                                 // [4]
output i2 = y[-2];                                    // f32[]
output i3 = x[0:1];                                   // [1, 3, 4]
output i4 = y[-4:-1];
output i5 = y[1:];
output i6 = y[:2];
output i7 = x[:];
output i8 = y[-100:2];                                // clamped
output i9 = x[1][1:3];                                // [2, 4]
output c3 = concat([x, slice(x, axis: 1, end: 1), x * 2], axis: 1);  // [2, 7, 4]
output cn = concat([x, slice(x, axis: -1, end: 2) * 3], axis: -1);  // [2, 3, 6]
output c0 = concat([y, y[1:3], -y], axis: 0);         // [14]
output dm = x * dim(x, 2) + dim(x, -2);               // dim() is a compile-time int
output rt = reshape(transpose(x), [dim(x, 2), -1]);   // [4, 6]
""", dict(x=x, y=y),
        dict(r1=x.reshape(6, -1), r2=x.reshape(2, -1, 3), r3=y.reshape(1, 6, 1), r4=y, t0=x.permute(2, 1, 0),
             t1=x.permute(1, 0, 2), t2=x.permute(2, 0, 1), t3=y.reshape(2, 3).T, s1=x[:, :, 1:-1],
             s2=x[..., -3:], s3=x, s4=x[:1], s5=y[4:99], s6=x[:, 1:2], i0=x[1], i1=x[-1][0], i2=y[-2],
             i3=x[0:1], i4=y[-4:-1], i5=y[1:], i6=y[:2], i7=x, i8=y[-100:2], i9=x[1][1:3],
             c3=torch.cat([x, x[:, :1], x * 2], 1), cn=torch.cat([x, x[..., :2] * 3], -1),
             c0=torch.cat([y, y[1:3], -y]), dm=x * 4 + 3, rt=x.permute(2, 1, 0).reshape(4, 6)))

def gather_case():
    r = Rng("gather")
    table, t3 = r.n(7, 3), r.n(5, 2, 2)
    idx = torch.tensor([0, -1, 2, -3], dtype=torch.int32)
    idx2 = torch.tensor([[6, -7, 1], [-2, 3, 0]], dtype=torch.int32)
    g = lambda t, i: t[i.long()]        # PyTorch indexing: negatives count from the end
    case("gather", """
model gather;
input table: f32[7, 3];
input t3: f32[5, 2, 2];
input idx: i32[4];          // [0, -1, 2, -3]
input idx2: i32[2, 3];      // includes -7 and 6, the two ends
output g1 = gather(table, idx);            // [4, 3]
output g2 = gather(table, idx2);           // [2, 3, 3]
output g3 = gather(t3, idx);               // [4, 2, 2]
output g4 = gather(table, idx * 2 - 1);    // computed indices [-1, -3, 3, -7]
output g5 = gather(table, idx[1]);         // a scalar index: [3]
output g6 = gather(transpose(table), idx[0:3] - 1);   // [-1, -2, 1] into [3, 7]: [3, 7]
""", dict(table=table, t3=t3, idx=idx, idx2=idx2),
        dict(g1=g(table, idx), g2=g(table, idx2), g3=g(t3, idx), g4=g(table, idx * 2 - 1), g5=table[-1],
             g6=g(table.T, idx[0:3] - 1)))

def causal():
    r = Rng("causal")
    s, sb, w, sq = r.n(3, 5), r.n(2, 4, 4), r.n(4, 2), r.n(2, 2, 3, 6)
    def mask(t):
        T, S = t.shape[-2:]
        return t.masked_fill(torch.triu(torch.ones(T, S, dtype=torch.bool), 1 + S - T), float("-inf"))
    case("causal", """
model causal;
// causal_mask: entries with column j > i + (S - T) become -inf (shown through softmax and exp)
input s: f32[3, 5];         // T < S: a decoding step that sees earlier context
input sb: f32[2, 4, 4];     // T = S, batched
input w: f32[4, 2];         // T > S: the first rows are entirely masked
input sq: f32[2, 2, 3, 6];
output p_short = softmax(causal_mask(s), axis: -1);
output p_batch = softmax(causal_mask(sb), axis: -1);
output p_4d    = softmax(causal_mask(sq * 2), axis: -1);
output e_short = exp(causal_mask(s));
output e_tall  = exp(causal_mask(w));
output floor   = maximum(causal_mask(sb), -30.0);
""", dict(s=s, sb=sb, w=w, sq=sq),
        dict(p_short=mask(s).softmax(-1), p_batch=mask(sb).softmax(-1), p_4d=mask(sq * 2).softmax(-1),
             e_short=mask(s).exp(), e_tall=mask(w).exp(), floor=mask(sb).clamp(min=-30.0)))

def i32_arith():
    r = Rng("i32_arith")
    a, b = r.i(-20, 21, 3, 4), r.i(-20, 21, 4)
    a[0, :2] = b[:2]      # some equal pairs
    case("i32_arith", """
model i32_arith;
const D = 2;
input a: i32[3, 4];
input b: i32[4];
output add = a + b;
output sub = a - b;
output mul = a * b;
output neg = -a;
output lit = a * 3 + 1 - D;          // whole compile-time numbers take i32
output sq  = a * a - 2 * a + (6 / 3);
output mx  = maximum(a, b);
output mn  = minimum(a, 0);
output lt  = less(a, b);
output gt  = greater(a, 2);
output eq  = equal(a, b);
output wh  = where(less(a, b), a, b * 10);
output neg0 = where(greater(a, 0), a, -a);   // |a|
""", dict(a=a, b=b),
        dict(add=a + b, sub=a - b, mul=a * b, neg=-a, lit=a * 3 + 1 - 2, sq=a * a - 2 * a + 2,
             mx=torch.maximum(a, b), mn=torch.minimum(a, torch.tensor(0, dtype=torch.int32)), lt=a < b,
             gt=a > 2, eq=a == b, wh=torch.where(a < b, a, b * 10), neg0=a.abs()))

def cast_f16():
    r = Rng("cast_f16")
    x = r.n(3, 8)                                  # arbitrary: cast rounds to nearest
    y = r.grid(3, 8)                               # multiples of 1/8: exact in f16
    z = r.grid(8, 4, lo=-8, hi=9)
    h = r.n(3, 8).half()                           # an f16 input
    g, b = r.n(8, std=0.2, mean=1.0), r.n(8, std=0.2)
    a, wz, gh, bh = y.half(), z.half(), g.half(), b.half()
    case("cast_f16", """
model cast_f16;
// f16: each built-in rounds its result to f16 once; composites compute inside in f32
input x: f32[3, 8];
input y: f32[3, 8];
input z: f32[8, 4];
input h: f16[3, 8];
input g: f32[8];
input b: f32[8];
let a = cast(y, f16);
let w = cast(z, f16);
output c   = cast(x, f16);
output add = a + h;
output mul = a * h;
output sc  = a * 0.5 + 1;                       // numbers take f16
output mm  = a @ w;                             // [3, 4]
output sm  = softmax(a, axis: -1);
output smm = softmax(a, axis: 0);
output ge  = gelu(a, approximate: "tanh");
output gx  = gelu(a);
output ln  = layernorm(a, cast(g, f16), cast(b, f16), eps: 1e-3);
output ex  = exp(h);
output s   = sum(a, axis: -1);
output mx  = max(h, axis: 0);
output back = cast(a * h, f32);                  // f32
""", dict(x=x, y=y, z=z, h=h, g=g, b=b),
        dict(c=x.half(), add=a + h, mul=a * h, sc=a * 0.5 + 1, mm=f16(torch.matmul, a, wz),
             sm=f16(lambda t: t.softmax(-1), a), smm=f16(lambda t: t.softmax(0), a),
             ge=f16(lambda t: F.gelu(t, approximate="tanh"), a), gx=f16(F.gelu, a),
             ln=f16(lambda t, gg, bb: F.layer_norm(t, (8,), gg, bb, 1e-3), a, gh, bh), ex=f16(torch.exp, h),
             s=a.sum(-1), mx=h.amax(0), back=(a * h).float()))

def cast_bf16():
    r = Rng("cast_bf16")
    x = torch.cat([r.n(12), torch.tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8, -1 - 2 ** -8, 3 * (1 + 2 ** -9)])])
    a, b = r.n(16).bfloat16(), r.n(16).bfloat16()
    case("cast_bf16", """
model cast_bf16;
// bf16 rounds to nearest, ties to even (the last four values of x are ties and near-ties)
input x: f32[16];
input a: f32[16];       // exact in bf16
input b: f32[16];
output r = cast(cast(x, bf16), f32);
output s = cast(cast(a, bf16) + cast(b, bf16), f32);
output p = cast(cast(a, bf16) * cast(b, bf16), f32);
""", dict(x=x, a=a.float(), b=b.float()),
        dict(r=x.bfloat16().float(), s=(a + b).float(), p=(a * b).float()))

def cast_misc():
    r = Rng("cast_misc")
    k, x, h = r.i(-5, 6, 6), r.n(6), r.n(6).half()
    case("cast_misc", """
model cast_misc;
input k: i32[6];
input x: f32[6];
input h: f16[6];
output kf = cast(k, f32) * 0.5;
output bf = cast(greater(x, 0), f32);
output hf = cast(h, f32) + x;
output hh = cast(cast(x, f16), f32);
""", dict(k=k, x=x, h=h),
        dict(kf=k.float() * 0.5, bf=(x > 0).float(), hf=h.float() + x, hh=x.half().float()))

def dtypes_misc():
    r = Rng("dtypes_misc")
    k, t = r.i(-9, 10, 3, 4), r.i(-50, 50, 6, 2)
    x = r.n(3, 4)
    idx = torch.tensor([5, -6, 2], dtype=torch.int32)
    c = k > 0
    case("dtypes_misc", """
model dtypes_misc;
// shape ops, gather and where on i32 and bool tensors; outputs that alias
input k: i32[3, 4];
input t: i32[6, 2];
input x: f32[3, 4];
input idx: i32[3];
let c = greater(k, 0);
output gi = gather(t, idx);                        // an i32 table
output ci = concat([k, -k, t[0:3] * slice(k, axis: 1, end: 2)], axis: 1);
output ti = transpose(reshape(k, [2, 6]));
output si = slice(k, axis: -1, start: 1, end: -1) + k[2][0];
output cb = concat([c, transpose(reshape(c, [4, 3]))[0:3]], axis: 0);
output rb = reshape(transpose(c), [-1]);
output wb = where(c, less(x, 0.0), greater(x, 0.0));   // bool branches
output eb = equal(c[1], c[-1]);
output mx = maximum(k, slice(t[0:3], axis: 1, end: 1) * 2 - 3);   // [3,4] with [3,1]
output same1 = x * 2;
output same2 = same1;                              // two outputs of one value
output ident = x;                                  // an input passed through
""", dict(k=k, t=t, x=x, idx=idx),
        dict(gi=t[idx.long()], ci=torch.cat([k, -k, t[0:3] * k[:, :2]], 1), ti=k.reshape(2, 6).T,
             si=k[:, 1:-1] + k[2][0], cb=torch.cat([c, c.reshape(4, 3).T[0:3]], 0), rb=c.T.reshape(-1),
             wb=torch.where(c, x < 0, x > 0), eb=c[1] == c[-1], mx=torch.maximum(k, t[0:3, :1] * 2 - 3),
             same1=x * 2, same2=x * 2, ident=x))

def f16_shapes():
    r = Rng("f16_shapes")
    a = r.grid(2, 3, 4).half()            # exact in f16: shape ops, gather and sums stay exact
    b = r.grid(4, 5, lo=-8, hi=9).half()
    p = r.u(2, 3, 4, lo=0.5, hi=2.0).half()
    idx = torch.tensor([1, -1, 0], dtype=torch.int32)
    case("f16_shapes", """
model f16_shapes;
input a: f16[2, 3, 4];
input b: f16[4, 5];
input p: f16[2, 3, 4];
input idx: i32[3];
output t  = transpose(a, [2, 0, 1]);
output rs = reshape(a, [-1, 6]);
output sl = slice(a, axis: 1, start: -2);
output cc = concat([a, p, a], axis: 1);
output ga = gather(reshape(a, [6, 4]), idx);
output bm = a @ b;                              // batched, f32 accumulation, one rounding
output mn = mean(p, axis: [0, 2]);
output mx = max(a, axis: -1, keepdims: true);
output lg = log(p);
output sq = rsqrt(p) * a;
output wh = where(greater(a, 0), a, p);
""", dict(a=a, b=b, p=p, idx=idx),
        dict(t=a.permute(2, 0, 1), rs=a.reshape(-1, 6), sl=a[:, -2:], cc=torch.cat([a, p, a], 1),
             ga=a.reshape(6, 4)[idx.long()], bm=f16(torch.matmul, a, b), mn=f16(lambda u: u.mean((0, 2)), p),
             mx=a.amax(-1, keepdim=True), lg=f16(torch.log, p), sq=f16(torch.rsqrt, p) * a,
             wh=torch.where(a > 0, a, p)))

# ---------------------------------------------------------------------------------------------
# the language around the built-ins

def fn_shapevars():
    r = Rng("fn_shapevars")
    C = 6
    x, y = r.n(4, C), r.n(2, 3, C)
    w, g = r.n(C, C, std=0.4), r.n(C, std=0.1, mean=1.0)
    def block(t, scale=0.5, eps=1e-6):
        h = t @ w
        return t + h / torch.sqrt((h * h).mean(-1, keepdim=True) + eps) * g * scale
    rowsum = lambda t: t.sum(1, keepdim=True) / t.shape[1]
    case("fn_shapevars", """
model fn_shapevars;
const C = 6;
input x: f32[4, C];
input y: f32[2, 3, C];
param w: f32[C, C];
param g: f32[C];

// expression body; N, K, M are shape variables bound at each call
fn linear(x: f32[N, K], w: f32[K, M]) -> f32[N, M] = x @ w;

// an int parameter with a default, used in the result type
fn head(x: f32[N, E], k: int = 2) -> f32[k, E] = slice(x, axis: 0, end: k);

// float parameters with defaults; a block body with lets; fn parameters shadow the params w, g
fn block(x: f32[N, C], w: f32[C, C], g: f32[C], scale: float = 0.5, eps: float = 1e-6) -> f32[N, C] {
  let h = linear(x, w);
  let n = rmsnorm(h, g, eps: eps);
  return x + n * scale;
}

// shape-variable arithmetic in types and values
fn flat(t: f32[A, B, E]) -> f32[A * B, E] = reshape(t, [A * B, E]);
fn rowsum(t: f32[N, E]) -> f32[N, 1] = sum(t, axis: 1, keepdims: true) / E;

// untyped parameters, no declared result
fn scale2(t, f: float) = t * f;

output o1 = block(x, w, g);
output o2 = block(x, w, g, scale: 2.0);
output o3 = block(x, w, g, eps: 0.1, scale: 0.25);     // named arguments in any order
output o4 = head(x);
output o5 = head(x, k: 3);
output o6 = head(x, 1);
output o7 = linear(flat(y), w);                        // [6, C]
output o8 = scale2(rowsum(x), 3.0);
output o9 = block(flat(y), w * 0.5, g);                // N = 6 here, 4 above
""", dict(x=x, y=y), dict(o1=block(x), o2=block(x, 2.0), o3=block(x, 0.25, 0.1), o4=x[:2], o5=x[:3],
                          o6=x[:1], o7=y.reshape(6, C) @ w, o8=rowsum(x) * 3.0,
                          o9=(lambda t: t + (lambda h: h / torch.sqrt((h * h).mean(-1, keepdim=True) + 1e-6))(
                              t @ (w * 0.5)) * g * 0.5)(y.reshape(6, C))),
         weights=dict(w=w, g=g))

def fn_named_args():
    r = Rng("fn_named_args")
    x, w1, b1 = r.n(3, 4), r.n(4, 5), r.n(5)
    case("fn_named_args", """
model fn_named_args;
const OFF = 0.25;
input x: f32[3, 4];
param w1: f32[4, 5];
param b1: f32[5];
fn dense(x: f32[N, K], w: f32[K, M], b: f32[M]) -> f32[N, M] = x @ w + b;
fn shift(x, by: float = OFF) = x + by;          // a default from a const
fn twice(x) = shift(shift(x));                  // an fn calling an fn
output a = dense(x, w: w1, b: b1);              // tensors passed by name
output b = dense(b: b1, w: w1, x: x);           // all named, in another order
output c = shift(x);
output d = shift(x, by: -1.0);
output e = twice(dense(x, w1, b1));
""", dict(x=x), dict(a=x @ w1 + b1, b=x @ w1 + b1, c=x + 0.25, d=x - 1.0, e=x @ w1 + b1 + 0.5),
         weights=dict(w1=w1, b1=b1))

def for_rebind():
    r = Rng("for_rebind")
    x, w = r.n(4), r.n(3, 4, std=0.5, mean=1.0)
    h = x
    for i in range(3):
        h = h * w[i] + i
    acc = x.clone()
    for i in range(1, 4):
        for j in range(i):
            acc = acc + (i * 10 + j) * 0.01
    q = x * x
    r2 = q + 1
    for k in range(2, 4):
        r2 = r2 + x * k
    t = x.clone()
    for i in range(1, 3):
        t = t * 0.5 + i
    case("for_rebind", """
model for_rebind;
const L = 3;
input x: f32[4];
param w: f32[L, 4];

let h = x;
for i in 0..L {
  let t = h * w[i];            // a per-iteration let
  h = t + i;                   // the loop variable is a compile-time int
}
output y = h;

let acc = x;
for i in 1..L + 1 {
  for j in 0..i {              // an inner range that depends on the outer variable
    acc = acc + (i * 10 + j) * 0.01;
  }
}
output z = acc;

output first = x * 2;
first = first + 1;             // rebinding an output after marking it: the output keeps x * 2
output second = first;

let q = x;
q = q * q;
output q;                      // marks the current value of q
q = q + 1;
for k in 2..4 { let t = x; q = q + t * k; }
output rr = q;

let u = x;
for k in 0..2 {
  let u = x * 100;             // shadows the outer u within the iteration
  u = u + 1;
}
output uo = u;                 // still x

let v = x;
for i in L - 2..L {            // bounds are expressions: 1..3
  v = v * 0.5 + i;
}
output vo = v;
""", dict(x=x), dict(y=h, z=acc, first=x * 2, second=x * 2 + 1, q=q, rr=r2, uo=x, vo=t),
         weights=dict(w=w))

def defines():
    r = Rng("defines")
    x = r.n(6, 3)
    case("defines", """
model defines;
// run with -D B=3 -D S=0.25 (the args file): N and HALF follow the overrides
const B = 2;
const S = 1.0;
const N = 2 * B;
const HALF = N / 2;
input x: f32[N, 3];
output y = x * S + HALF;
output n = sum(x, axis: 0) / N;
output r = reshape(x, [B, -1]);
""", dict(x=x), dict(y=x * 0.25 + 3, n=x.sum(0) / 6, r=x.reshape(3, -1)), args="-D B=3 -D S=0.25")

def imports():
    r = Rng("imports")
    x, y = r.n(5, 6), r.n(2, 3)
    sq = lambda t: t * t
    files = {
        "nn/base.wsm": """
// reached from nn/lib.wsm as "base.wsm" and from act.wsm as "nn/base.wsm": read once
const K = 3;
fn sq(x) = x * x;
""",
        "nn/lib.wsm": """
import "base.wsm";
const WIDTH = 2 * K;
// N is a shape variable here, although the importing model has a const N
fn norm_rows(x: f32[N, E]) -> f32[N, E] = x / sqrt(sum(sq(x), axis: -1, keepdims: true) + 1e-3);
""",
        "act.wsm": """
import "nn/base.wsm";
/* a leaky activation shifted by base's K */
fn act(x, slope: float = 0.1) = where(greater(x, 0.0), x, x * slope) + K;
""",
    }
    case("imports", """
model imports;
import "nn/lib.wsm";
import "act.wsm";
const N = 2;                       // unrelated to lib's shape variable N
input x: f32[5, WIDTH];            // WIDTH comes from nn/lib.wsm
input y: f32[N, K];                // K from nn/base.wsm, imported in turn
output a = norm_rows(x);           // N = 5 inside norm_rows
output b = act(y, slope: 0.5);
output c = sq(y) * WIDTH + act(y);
""", dict(x=x, y=y),
        dict(a=x / torch.sqrt(sq(x).sum(-1, keepdim=True) + 1e-3), b=torch.where(y > 0, y, y * 0.5) + 3,
             c=sq(y) * 6 + torch.where(y > 0, y, y * 0.1) + 3), files=files)

def param_file():
    r = Rng("param_file")
    x, w, b, s, u = r.n(3, 4), r.n(4, 2), r.n(2), r.n(2), r.n(2)
    case("param_file", """
model param_file;
input x: f32[3, 4];
param w: f32[4, 2] = file("w.npy");          // next to the model
param b: f32[2] = file("data/b.npy");        // relative to the model's folder
param s: f32[2] = normal(0.0, 1.0);          // replaced by the weights file
param u: f32[2] = uniform(-1.0, 1.0);        // replaced by the weights file
param o: f32[3, 2] = ones;
param z: f32[2] = zeros;
output y = (x @ w + b) * s + o + z + u;
""", dict(x=x), dict(y=(x @ w + b) * s + 1 + u), weights=dict(s=s, u=u),
         files={"w.npy": w, "data/b.npy": b})

def scalars():
    r = Rng("scalars")
    x, s = r.n(4), r.n()
    R, HALF, E, Fc, G = 0.125, 3.5, 33, 3.0, 1e-2
    acc = x.clone()
    for i in range(1, 3):
        acc = acc + x * i
    cm = (abs(-2) + math.cos(0.0) + math.sin(0.0) + math.tanh(0.5) + math.erf(0.5) + 0.5 + 0.0
          + 1.0 / (1.0 + math.exp(-1.0)))
    case("scalars", """
/* no `model` line: it is optional.
   compile-time numbers, literals and lexing */
const D = 64;
const R = rsqrt(D);           // 0.125
const HALF = 7.0 / 2;         // 3.5
const E = 2 * D / 4 + 1;      // exact integer arithmetic: 33
const F = 3.;                 // a float written "3."
const G = 1e-2;
const L = 3;
const CM = abs(-2) + cos(0.0) + sin(0.0) + tanh(0.5) + erf(0.5) + sigmoid(0.0) + relu(-1.5) + silu(1.0);
input x: f32[4];
input s: f32[];
output a = x * R + HALF;
output b = x * sqrt(2.0) + exp(0.0) + log(1.0);
output c = x / E - F * G;
output d = exp(where(less(x, 0.0), -inf, x));    // -inf becomes 0
output e = minimum(x, inf) + maximum(x, -inf);   // 2 x
output f = s * s + x;
output g = x * -2 - -x;                          // -x
let acc = x;
for i in 1..L{acc = acc + x * i;}                // "1..L" lexes as 1 .. L
output h = acc;
output k = x * CM;
output m = x[0] * L + x[-1] / (L * 1.0);         // f32[]
""", dict(x=x, s=s),
        dict(a=x * R + HALF, b=x * 2 ** 0.5 + 1.0, c=x / E - Fc * G, d=torch.where(x < 0, torch.tensor(0.0), x.exp()),
             e=2 * x, f=s * s + x, g=-x, h=acc, k=x * float(cm), m=x[0] * 3 + x[-1] / 3.0))

# ---------------------------------------------------------------------------------------------

def main():
    global DT
    if sys.argv[1:] == ["--check64"]:
        # recompute every reference in float64 from the same (f32) inputs and weights, and report
        # how much of the tolerance PyTorch's own f32 rounding uses in the written expected files
        DT = torch.float64
        torch.set_default_dtype(torch.float64)
    else:
        shutil.rmtree(OUT, ignore_errors=True)
        os.makedirs(OUT)
    with torch.no_grad():
        ex_mlp("ex_mlp", 8)
        ex_mlp("ex_mlp_b3", 3, args="-D B=3")
        ex_gpt2()
        ex_llama()
        for f in (arith_broadcast, unary_math, pow_maxmin, gelu_case, compare_where, reduce_case, softmax_axes,
                  norms, defaults, matmul_case, shapes, gather_case, causal, i32_arith, cast_f16, cast_bf16,
                  cast_misc, dtypes_misc, f16_shapes, fn_shapevars, fn_named_args, for_rebind, defines, imports, param_file, scalars):
            f()
    if DT == torch.float64:
        for k, v in sorted(CHECK64.items(), key=lambda kv: -kv[1]):
            print(f"{k:16s} f32 reference error / tolerance <= {v:.3f}")
        bad = [k for k, v in CHECK64.items() if v > 0.25]
        print("references are well inside the tolerance" if not bad else f"too close to the tolerance: {bad}")
        return 1 if bad else 0
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"{len(NAMES)} cases written to {os.path.relpath(OUT)} ({total / 1e6:.2f} MB)")

if __name__ == "__main__":
    sys.exit(main())
