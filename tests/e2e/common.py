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


def case_compile_args(d):
    """The extra `wsc compile`/`eval` arguments of case folder d: its `args` file and its weights."""
    args = open(os.path.join(d, "args")).read().split() if os.path.exists(os.path.join(d, "args")) else []
    if os.path.exists(os.path.join(d, "weights.safetensors")):
        args += ["--weights", os.path.join(d, "weights.safetensors")]
    return args


def case_inputs(d):
    """The `-i NAME=FILE.npy` arguments for every inputs/NAME.npy of case folder d."""
    ins = []
    for f in sorted(os.listdir(os.path.join(d, "inputs"))):
        ins += ["-i", f[:-4] + "=" + os.path.join(d, "inputs", f)]
    return ins


# ---- the .wsa container (docs/artifact.md), to build tampered artifacts in tests

_M64 = (1 << 64) - 1
_P1, _P2, _P3, _P4, _P5 = (11400714785074694791, 14029467366897019727, 1609587929392839161,
                           9650029242287828579, 2870177450012600261)


def _rotl64(x, r):
    return ((x << r) | (x >> (64 - r))) & _M64


def _xxh_round(acc, v):
    return (_rotl64((acc + v * _P2) & _M64, 31) * _P1) & _M64


def xxh64(data, seed=0):
    """XXH64 of bytes (pure Python; about 10 MB/s, enough for test artifacts)."""
    import struct
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + _P1 + _P2) & _M64, (seed + _P2) & _M64, seed & _M64, (seed - _P1) & _M64]
        for a, b, c, e in struct.iter_unpack("<4Q", memoryview(data)[: n - n % 32]):
            v = [_xxh_round(v[0], a), _xxh_round(v[1], b), _xxh_round(v[2], c), _xxh_round(v[3], e)]
        i = n - n % 32
        h = (_rotl64(v[0], 1) + _rotl64(v[1], 7) + _rotl64(v[2], 12) + _rotl64(v[3], 18)) & _M64
        for x in v:
            h = ((h ^ _xxh_round(0, x)) * _P1 + _P4) & _M64
    else:
        h = (seed + _P5) & _M64
    h = (h + n) & _M64
    while i + 8 <= n:
        h = (_rotl64(h ^ _xxh_round(0, struct.unpack_from("<Q", data, i)[0]), 27) * _P1 + _P4) & _M64
        i += 8
    if i + 4 <= n:
        h = (_rotl64(h ^ (struct.unpack_from("<I", data, i)[0] * _P1 & _M64), 23) * _P2 + _P3) & _M64
        i += 4
    while i < n:
        h = (_rotl64(h ^ (data[i] * _P5 & _M64), 11) * _P1) & _M64
        i += 1
    h ^= h >> 33
    h = h * _P2 & _M64
    h ^= h >> 29
    h = h * _P3 & _M64
    return h ^ (h >> 32)


def wsa_read(path):
    """An artifact's (model hash, [(tag, bytes, file offset)]) in file order; no validation."""
    import struct
    b = open(path, "rb").read()
    n, = struct.unpack_from("<I", b, 20)
    model_hash, = struct.unpack_from("<Q", b, 32)
    secs = []
    for i in range(n):
        tag, _, off, ln, _ = struct.unpack_from("<4sIQQQ", b, 48 + 32 * i)
        secs.append((tag.decode("latin-1"), b[off:off + ln], off))
    return model_hash, secs


def wsa_bytes(sections, model_hash=0, version=1):
    """A valid artifact file (canonical layout, every checksum right) of (tag, bytes) sections,
    as the compiler's writer makes it: what a crafted file that passes the container checks is."""
    import struct
    sections = [(tag, bytes(data)) for tag, data, *_ in sections]
    n = len(sections)
    pos, table, offsets = 48 + 32 * n, b"", []
    for tag, data in sections:
        pos = (pos + 63) // 64 * 64
        offsets.append(pos)
        table += struct.pack("<4sIQQQ", tag.encode("latin-1"), 0, pos, len(data), xxh64(data))
        pos += len(data)
    head = b"WSCARTIFACT\x00\r\n\x1a\n" + struct.pack("<IIQQ", version, n, pos, model_hash)
    out = bytearray(head + struct.pack("<Q", xxh64(head + table)) + table)
    for (tag, data), off in zip(sections, offsets):
        out += b"\x00" * (off - len(out)) + data
    return bytes(out)
