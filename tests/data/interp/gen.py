#!/usr/bin/python3
"""Writes torch_ref.h: inputs and the results PyTorch (float32, CPU) gives
for them, the expected values of tests/test_interp.c. Run with Debian's
/usr/bin/python3 (python3-torch, python3-numpy):

    /usr/bin/python3 tests/data/interp/gen.py

f16 and bf16 expectations are PyTorch's float32 result on the rounded inputs,
rounded once to the dtype: that is the rule of docs/language.md ("Numerics").
PyTorch 1.13 on the CPU has no f16 kernels for most ops, and its bf16 silu,
gelu and layer_norm round intermediate values, so its native results would
not be the spec's."""
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20240229)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_ref.h")
lines = []


def c_float(v):
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return float(v).hex()  # exact: every value is a float32


def emit(name, t):
    """A float array NAME with NAME_RANK and NAME_SHAPE, or an int32 one."""
    shape = list(t.shape)
    lines.append(f"#define {name}_RANK {len(shape)}")
    dims = ", ".join(str(d) for d in shape) or "1"
    lines.append(f"static const int64_t {name}_SHAPE[] = {{{dims}}};")
    flat = t.reshape(-1)
    if t.dtype in (torch.int32, torch.int64, torch.bool):
        vals = ", ".join(str(int(v)) for v in flat.tolist())
        lines.append(f"static const int32_t {name}[] = {{{vals}}};")
    else:
        vals = ", ".join(c_float(v) for v in flat.float().tolist())
        lines.append(f"static const float {name}[] = {{{vals}}};")


def rnd(x, dtype):
    """Rounded to dtype, held as float32."""
    return x.to(dtype).float()


def randn(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).float()


# --- unary math on special and ordinary values, per dtype
U_X = torch.tensor([-math.inf, -20.0, -3.0, -1.5, -0.5, -0.0, 0.0, 1e-3, 0.3, 0.5, 1.0, 2.5,
                    10.0, 20.0, 88.5, math.inf, math.nan])
UNARY = {
    "NEG": torch.neg, "ABS": torch.abs, "EXP": torch.exp, "LOG": torch.log, "SQRT": torch.sqrt,
    "RSQRT": torch.rsqrt, "SIN": torch.sin, "COS": torch.cos, "TANH": torch.tanh,
    "ERF": torch.erf, "SIGMOID": torch.sigmoid, "RELU": torch.relu, "SILU": F.silu,
    "GELU": F.gelu, "GELU_TANH": lambda x: F.gelu(x, approximate="tanh"),
}
# Expected: the exact value (float64) rounded to the dtype; the interpreter
# evaluates these functions in double. U_F32T_* is PyTorch's own float32
# result, which the spec's tolerance compares against.
for tag, dt in (("F32", torch.float32), ("F16", torch.float16), ("BF16", torch.bfloat16)):
    x = rnd(U_X, dt)
    emit(f"U_{tag}_X", x)
    for name, fn in UNARY.items():
        emit(f"U_{tag}_{name}", rnd(fn(x.double()), dt))
        if dt == torch.float32:
            emit(f"U_F32T_{name}", fn(x))

# --- binary ops with broadcasting [2, 3, 1] with [4]
B_A = torch.tensor([-2.0, -0.5, 0.0, 0.75, 1.5, 3.0]).reshape(2, 3, 1)
B_B = torch.tensor([-1.0, 0.0, 0.5, 2.0])
emit("B_A", B_A)
emit("B_B", B_B)
BINARY = {"ADD": torch.add, "SUB": torch.sub, "MUL": torch.mul, "DIV": torch.div,
          "POW": torch.pow, "MAXIMUM": torch.maximum, "MINIMUM": torch.minimum}
for name, fn in BINARY.items():
    emit(f"B_F32_{name}", fn(B_A.double(), B_B.double()).float())
for tag, dt in (("F16", torch.float16), ("BF16", torch.bfloat16)):
    a = rnd(randn(16, scale=30.0), dt)
    b = rnd(randn(16, scale=3.0), dt)
    emit(f"BH_{tag}_A", a)
    emit(f"BH_{tag}_B", b)
    for name in ("ADD", "SUB", "MUL", "DIV", "MAXIMUM"):
        emit(f"BH_{tag}_{name}", rnd(BINARY[name](a, b), dt))
    emit(f"BH_{tag}_POW", rnd(torch.pow(a.abs().double(), b.double()), dt))

# --- softmax: -inf entries, a row of -inf only, and a non-last axis
sm = randn(3, 5, scale=2.0)
sm[1, 1] = -math.inf
sm[1, 3] = -math.inf
sm[2, :] = -math.inf
emit("SM_X", sm)
emit("SM_Y", torch.softmax(sm, dim=-1))
sm0 = randn(3, 4, scale=3.0)
emit("SM0_X", sm0)
emit("SM0_Y", torch.softmax(sm0, dim=0))
smb = rnd(randn(2, 7, scale=4.0), torch.bfloat16)
emit("SMB_X", smb)
emit("SMB_Y", rnd(torch.softmax(smb, dim=-1), torch.bfloat16))

# --- layernorm and rmsnorm over the last axis
ln_x = randn(3, 8, scale=2.0, shift=1.0)
ln_g = randn(8, scale=0.5, shift=1.0)
ln_b = randn(8, scale=0.5)
emit("LN_X", ln_x)
emit("LN_G", ln_g)
emit("LN_B", ln_b)
emit("LN_Y", F.layer_norm(ln_x, (8,), ln_g, ln_b, eps=1e-5))
xd = ln_x.double()
emit("RMS_Y", (xd / torch.sqrt((xd * xd).mean(-1, keepdim=True) + 1e-6) * ln_g.double()).float())
for tag, dt in (("F16", torch.float16), ("BF16", torch.bfloat16)):
    x, g, b = rnd(ln_x, dt), rnd(ln_g, dt), rnd(ln_b, dt)
    emit(f"LNH_{tag}_X", x)
    emit(f"LNH_{tag}_G", g)
    emit(f"LNH_{tag}_B", b)
    emit(f"LNH_{tag}_Y", rnd(F.layer_norm(x, (8,), g, b, eps=1e-5), dt))

# --- matmul: 1-D operands, batch broadcasting, stored-transposed operands
def mm_case(name, a_shape, b_shape, ta=False, tb=False, dt=None):
    a, b = randn(*a_shape), randn(*b_shape)
    if dt is not None:
        a, b = rnd(a, dt), rnd(b, dt)
    emit(f"{name}_A", a)
    emit(f"{name}_B", b)
    ua = a.transpose(-1, -2) if ta else a
    ub = b.transpose(-1, -2) if tb else b
    y = torch.matmul(ua, ub)
    emit(f"{name}_Y", rnd(y, dt) if dt is not None else y)


mm_case("MM_VM", (5,), (5, 3))
mm_case("MM_MV", (2, 5), (5,))
mm_case("MM_VV", (5,), (5,))
mm_case("MM_VBATCH", (4,), (3, 4, 2))
mm_case("MM_BATCH", (2, 1, 3, 4), (5, 4, 2))
mm_case("MM_BATCHB", (3, 4), (2, 4, 5))
mm_case("MM_TA", (4, 3), (4, 2), ta=True)
mm_case("MM_TB", (3, 4), (2, 4), tb=True)
mm_case("MM_TATB", (2, 4, 3), (2, 4), ta=True, tb=True)
mm_case("MM_BF16", (3, 9), (9, 2), dt=torch.bfloat16)
mm_case("MM_F16", (3, 9), (9, 2), dt=torch.float16)
lin_x, lin_w, lin_b = randn(2, 3, 4), randn(4, 5), randn(5)
emit("LIN_X", lin_x)
emit("LIN_W", lin_w)
emit("LIN_B", lin_b)
emit("LIN_WT", lin_w.t().contiguous())
emit("LIN_Y", F.linear(lin_x, lin_w.t(), lin_b))

# --- reductions of [2, 3, 4]
rd = randn(2, 3, 4, scale=2.0)
emit("RD_X", rd)
emit("RD_SUM_1", rd.sum(dim=1))
emit("RD_MEAN_02K", rd.mean(dim=(0, 2), keepdim=True))
emit("RD_MAX_2", rd.amax(dim=2))
emit("RD_MIN_ALL", rd.amin())
emit("RD_SUM_ALLK", rd.sum(dim=(0, 1, 2), keepdim=True))
emit("RD_MAX_0K", rd.amax(dim=0, keepdim=True))

# --- casts
ct = torch.tensor([-2.7, -0.5, 0.5, 2.7, 3e9, math.nan, -math.inf, 65519.0, 1e-8, 0.0, -0.0,
                   65520.0, 1.00390625, 1.005859375, -2147483648.0, 2147483648.0, 2147483520.0])
emit("CT_X", ct)
emit("CT_I32", ct.to(torch.int32))
emit("CT_F16", rnd(ct, torch.float16))
emit("CT_BF16", rnd(ct, torch.bfloat16))
emit("CT_BOOL", ct.to(torch.bool))
cti = torch.tensor([16777217, 70000, 65504, -3, 0, 2049, 257], dtype=torch.int32)
emit("CTI_X", cti)
emit("CTI_F32", cti.float())
emit("CTI_F16", rnd(cti.float(), torch.float16))
emit("CTI_BF16", rnd(cti.float(), torch.bfloat16))

with open(OUT, "w") as f:
    f.write("/* torch_ref.h - generated by gen.py with PyTorch %s; do not edit. */\n" % torch.__version__)
    f.write("#include <math.h>\n#include <stdint.h>\n\n")
    f.write("\n".join(lines) + "\n")
print("wrote", OUT, len(lines), "lines")
