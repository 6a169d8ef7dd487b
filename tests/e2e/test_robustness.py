#!/usr/bin/python3
"""No input makes wsc crash or hang: mutated and truncated models, binary
garbage, deep nesting, huge dimensions and long unrolled loops must end with
exit status 0 or 1 (never a signal, a sanitizer report, or status 70), in
bounded time. Deterministic: mutations come from a seeded generator.

usage: test_robustness.py WSC"""
import os, random, subprocess, sys, tempfile

wsc = os.path.abspath(sys.argv[1])
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
rng = random.Random(1234)
passed = failed = 0


def check(name, data, allowed=(0, 1), timeout=60):
    global passed, failed
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.wsm")
        with open(path, "wb") as f:
            f.write(data)
        try:
            p = subprocess.run([wsc, "check", path], capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            failed += 1
            print(f"FAIL {name}: hung")
            return
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode not in allowed or "Sanitizer" in err or "runtime error" in err:
            failed += 1
            print(f"FAIL {name}: status {p.returncode}\n{err[-800:]}")
            with open(f"/tmp/wsc-robustness-{name}.wsm", "wb") as f:
                f.write(data)
        elif p.returncode == 1 and ": error:" not in err:
            failed += 1
            print(f"FAIL {name}: status 1 without a diagnostic")
        else:
            passed += 1


models = []
for sub in ("examples", os.path.join("tests", "golden", "diag")):
    for n in sorted(os.listdir(os.path.join(root, sub))):
        if n.endswith(".wsm") and not n.startswith("lib_"):
            models.append((n, open(os.path.join(root, sub, n), "rb").read()))

# Truncations and byte mutations of real models (weights-free check is fine:
# missing weights are ordinary errors).
for n, text in models:
    for k in range(4):
        check(f"trunc-{n}-{k}", text[: rng.randrange(len(text) + 1)])
    for k in range(6):
        b = bytearray(text)
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(b))
            op = rng.randrange(3)
            if op == 0:
                b[i] = rng.randrange(256)
            elif op == 1:
                del b[i]
            else:
                b[i:i] = rng.choice([b"(", b")", b"[", b"]", b"{", b"}", b";", b",", b"..", b"\"", b"/*", b"-", b"@", b"99999999999"])
        check(f"mutate-{n}-{k}", bytes(b))

# Binary garbage, NUL bytes, invalid UTF-8.
for k in range(10):
    check(f"garbage-{k}", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000))))
check("nul-bytes", b"input x: f32[4];\x00\x00output y = x;\n")

# Deep nesting: 10,000 levels work or are refused with a location; far
# deeper is refused, never a stack overflow.
for depth in (10000, 100000):
    check(f"parens-{depth}", b"input x: f32[4];\noutput y = " + b"(" * depth + b"x" + b")" * depth + b";\n")
    check(f"calls-{depth}", b"input x: f32[4];\noutput y = " + b"relu(" * depth + b"x" + b")" * depth + b";\n")
    check(f"neg-{depth}", b"input x: f32[4];\noutput y = " + b"-" * depth + b"x;\n")
    check(f"lists-{depth}", b"const a = " + b"[" * depth + b"1" + b"]" * depth + b";\n")
    check(f"chain-{depth}", b"input x: f32[4];\noutput y = x" + b" + x" * depth + b";\n")
check("unclosed-parens", b"input x: f32[4];\noutput y = " + b"(" * 200000 + b"\n")
check("unclosed-braces", b"fn f(x) {" * 50000)

# Huge dimensions and overflowing arithmetic.
check("huge-dims", b"input x: f32[2147483647, 2147483647];\noutput y = x;\n")
check("overflow-product", b"const A = 3037000500 * 3037000500;\n")
check("overflow-matmul", b"input a: f32[2147483647, 2]; input b: f32[2, 2147483647];\noutput y = a @ b;\n")
check("huge-broadcast", b"input a: f32[2147483647, 1]; input b: f32[1, 2147483647];\noutput y = a + b;\n")
check("huge-gather", b"input t: f32[2147483647, 2147483647]; input i: i32[3];\noutput y = gather(t, i);\n")
check("neg-reshape", b"input x: f32[4];\noutput y = reshape(x, [-1, -1]);\n")
check("long-loop", b"input x: f32[4];\nlet y = x;\nfor i in 0..200000 { y = y + 1.0; }\noutput z = y;\n", timeout=120)
check("huge-loop", b"input x: f32[4];\nlet y = x;\nfor i in 0..100000000 { y = y + 1.0; }\noutput z = y;\n", timeout=120)
check("nested-loops", b"input x: f32[4];\nlet y = x;\nfor i in 0..100000 { for j in 0..100000 { y = y * 1.0; } }\noutput z = y;\n", timeout=120)

check("empty-huge-loop", b"input x: f32[2];\nfor i in 0..10000000000 { }\noutput y = x;\n", timeout=60)
chain = [b"input x: f32[2];", b"fn g0(x) = x;"] + [b"fn g%d(x) = g%d(x);" % (i, i - 1) for i in range(1, 50000)]
check("deep-fn-chain", b"\n".join(chain + [b"output y = g49999(x);"]) + b"\n", timeout=60)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
