#!/usr/bin/python3
"""Exit statuses and messages of the `wsc` command line (../shared/spec/cli.md, "Exit status"):
0 success; 1 the input is wrong or does not fit (a diagnostic says why, naming the input, param
or file); 2 bad command-line usage; never a crash (a signal) and never 70 (internal error) here.
usage: test_cli.py WSC"""
import os, re, shutil, sys, tempfile
import numpy as np
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import run

MODEL = """model cli;
const N = 4;
input feats: f32[N, 3];
input idx: i32[2];
param scale: f32[3];
output y = feats * scale;
output g = gather(feats, idx);
"""

BAD_MODEL = """model bad;
input feats: f32[4, 3];
output y = feats + undefined_name;
"""

SUBCOMMANDS = ["check", "eval", "compile", "run", "dump", "import"]


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip())
        return 2
    wsc = sys.argv[1]
    passed, failed = 0, 0
    tmp = tempfile.mkdtemp(prefix="wsc-cli-")

    def path(*p):
        return os.path.join(tmp, *p)

    def save(name, a):
        np.save(path(name), a)
        return path(name)

    with open(path("m.wsm"), "w") as f:
        f.write(MODEL)
    with open(path("bad.wsm"), "w") as f:
        f.write(BAD_MODEL)
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((4, 3)).astype(np.float32)
    scale = rng.standard_normal(3).astype(np.float32)
    idx = np.array([1, -1], dtype=np.int32)
    os.makedirs(path("w"))
    np.save(path("w", "scale.npy"), scale)
    os.makedirs(path("wbad"))
    np.save(path("wbad", "scale.npy"), np.zeros(4, np.float32))
    os.makedirs(path("wextra"))
    np.save(path("wextra", "scale.npy"), scale)
    np.save(path("wextra", "unused_entry.npy"), scale)
    F = save("feats.npy", feats)
    I = save("idx.npy", idx)
    with open(path("v2.npy"), "wb") as f:
        np.lib.format.write_array(f, feats, version=(2, 0))
    with open(path("v3.npy"), "wb") as f:
        np.lib.format.write_array(f, feats, version=(3, 0))
    FF = save("feats_fortran.npy", np.asfortranarray(feats))     # fortran_order: True
    F5 = save("feats5.npy", rng.standard_normal((5, 3)).astype(np.float32))
    F64 = save("feats64.npy", feats.astype(np.float64))
    FI = save("featsi.npy", feats.astype(np.int32))
    IOOR = save("idx_oob.npy", np.array([0, 9], dtype=np.int32))
    with open(path("garbage.npy"), "wb") as f:
        f.write(b"this is not a npy file at all\n" * 4)
    raw = open(F, "rb").read()
    with open(path("trunc.npy"), "wb") as f:
        f.write(raw[:-7])
    with open(path("hdr.npy"), "wb") as f:          # magic and a broken header
        f.write(raw[:10] + b"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3" + b" " * 40)
    with open(path("big_endian.npy"), "wb") as f:
        np.save(f, feats.astype(">f4"))
    M, W = path("m.wsm"), path("w")

    def ev(*extra, ins=None, out="out", weights=W, model=M):
        cmd = [wsc, "eval", model]
        if weights:
            cmd += ["--weights", weights]
        for k, v in (ins if ins is not None else {"feats": F, "idx": I}).items():
            cmd += ["-i", f"{k}={v}"]
        cmd += list(extra)
        if out:
            cmd += ["-o", path(out)]
        return cmd

    def check(name, cmd, want, mention=(), stdout_empty=False, post=None):
        nonlocal passed, failed
        rc, so, se = run(cmd, timeout=120)
        text = se + so
        bad = None
        if rc is None:
            bad = "hung (timed out)"
        elif rc < 0 or rc >= 128 or "Sanitizer" in text or "runtime error" in text:
            bad = f"crashed (status {rc})"
        elif rc not in (want if isinstance(want, tuple) else (want,)):
            bad = f"status {rc}, want {want}"
        else:
            for m in mention:
                if not re.search(m, text):
                    bad = f"message does not match /{m}/"
                    break
            if not bad and stdout_empty and (so or se):
                bad = f"printed {(so + se).strip()[:100]!r}"
            if not bad and post:
                bad = post()
        if bad:
            failed += 1
            first = text.strip().splitlines()[0][:200] if text.strip() else "(nothing printed)"
            print(f"FAIL {name}: {bad}\n     $ {' '.join(cmd)}\n     {first}")
        else:
            passed += 1

    def outputs_ok(out, feats_=feats):
        def f():
            try:
                y, g = np.load(path(out, "y.npy")), np.load(path(out, "g.npy"))
            except Exception as e:
                return f"outputs not readable: {e}"
            if y.dtype != np.float32 or not np.allclose(y, feats_ * scale, rtol=1e-6, atol=0):
                return "y is wrong"
            if not np.array_equal(g, feats_[[1, -1]]):
                return "g is wrong"
            return None
        return f

    # usage errors: 2
    check("no arguments", [wsc], 2)
    check("unknown command", [wsc, "frobnicate"], 2)
    check("unknown option", ev("--no-such-option"), 2)
    check("eval without -o", ev(out=None), 2)
    check("-o without a value", ev("-o", out=None), 2)
    check("-i without NAME=", ev(ins={}, out=None) + ["-i", F, "-o", path("out")], 2)
    check("-D unknown const (eval)", ev("-D", "NOPE=3"), 2, mention=[r"NOPE"])
    check("-D unknown const (check)", [wsc, "check", M, "-D", "NOPE=3"], 2, mention=[r"NOPE"])
    check("-D value not a number", [wsc, "check", M, "-D", "N=abc"], 2)
    check("--threads not a number", ev("--threads", "abc"), 2)
    check("--seed not a number", ev("--seed", "abc"), 2)
    check("help unknown command", [wsc, "help", "frobnicate"], 2)

    # help: 0
    check("wsc help", [wsc, "help"], 0, mention=[r"eval", r"check"])
    check("wsc help eval", [wsc, "help", "eval"], 0, mention=[r"-o"])
    for sc in SUBCOMMANDS:
        check(f"wsc {sc} -h", [wsc, sc, "-h"], 0)

    # success: 0
    check("check a good model", [wsc, "check", M, "--weights", W], 0, stdout_empty=True)
    check("check --emit ir", [wsc, "check", M, "--weights", W, "--emit", "ir"], 0, mention=[r"\S"])
    # cli.md leaves open whether `check` (parse and type-check) needs the weights: either it
    # passes, or it names the param that has none
    check("check without --weights", [wsc, "check", M], (0, 1), mention=[r"\bscale\b|^$"])
    check("eval", ev(out="out1"), 0, post=outputs_ok("out1"))
    check("eval creates nested -o", ev(out="new/nested/dir"), 0, post=outputs_ok("new/nested/dir"))
    check("eval npy format 2.0", ev(ins={"feats": path("v2.npy"), "idx": I}, out="out2"), 0, post=outputs_ok("out2"))
    check("eval npy format 3.0", ev(ins={"feats": path("v3.npy"), "idx": I}, out="out3"), 0, post=outputs_ok("out3"))
    check("eval npy in Fortran order", ev(ins={"feats": FF, "idx": I}, out="out4"), 0, post=outputs_ok("out4"))
    check("-D N=5 changes the input shape", ev("-D", "N=5", ins={"feats": F5, "idx": I}, out="out5"), 0)
    check("unused weights entry is a warning", ev(weights=path("wextra"), out="out6"), 0,
          mention=[r"unused_entry"], post=outputs_ok("out6"))

    # wrong input: 1, naming what is wrong
    check("-i for an unknown input", ev(ins={"feats": F, "idx": I, "nosuch": F}), (1, 2), mention=[r"nosuch"])
    check("input given twice", ev(ins={"feats": F, "idx": I}, out=None) + ["-i", f"feats={F}", "-o", path("out")],
          (1, 2),
          mention=[r"\bfeats\b"])
    check("missing input", ev(ins={"feats": F}), 1, mention=[r"\bidx\b"])
    check("wrong input shape", ev(ins={"feats": F5, "idx": I}), 1, mention=[r"\bfeats\b", r"4", r"5"])
    check("-D N=5 with a [4, 3] input", ev("-D", "N=5"), 1, mention=[r"\bfeats\b"])
    check("wrong input dtype f64", ev(ins={"feats": F64, "idx": I}), 1, mention=[r"\bfeats\b"])
    check("wrong input dtype i32", ev(ins={"feats": FI, "idx": I}), 1, mention=[r"\bfeats\b"])
    check("malformed npy", ev(ins={"feats": path("garbage.npy"), "idx": I}), 1, mention=[r"feats|garbage"])
    check("truncated npy", ev(ins={"feats": path("trunc.npy"), "idx": I}), 1, mention=[r"feats|trunc"])
    check("broken npy header", ev(ins={"feats": path("hdr.npy"), "idx": I}), 1, mention=[r"feats|hdr"])
    check("big-endian npy (refused or converted)", ev(ins={"feats": path("big_endian.npy"), "idx": I}, out="out7"),
          (0, 1))
    check("nonexistent input file", ev(ins={"feats": path("nope.npy"), "idx": I}), 1, mention=[r"nope\.npy|feats"])
    check("nonexistent model", ev(model=path("nope.wsm")), 1, mention=[r"nope\.wsm"])
    check("check nonexistent model", [wsc, "check", path("nope.wsm")], 1, mention=[r"nope\.wsm"])
    check("model with an error", [wsc, "check", path("bad.wsm")], 1, mention=[r"bad\.wsm:3:\d+: error"])
    check("missing weights", ev(weights=None), 1, mention=[r"\bscale\b"])
    check("wrongly shaped weight", ev(weights=path("wbad")), 1, mention=[r"\bscale\b"])
    check("nonexistent weights", ev(weights=path("nope.safetensors")), 1, mention=[r"nope\.safetensors"])
    check("gather index out of range", ev(ins={"feats": F, "idx": IOOR}, out="out8"), 1, mention=[r"gather"])

    # --time-report: every phase of a compile that writes an artifact, the total and the peak
    # memory, on standard error; a usage error outside compile
    phases = ["front end", "passes", "lower and tile", "place", "nets", "route", "check routes",
              "codegen \\(LLVM\\)", "SRAM images", "encode", "write", "total"]
    check("compile --time-report", [wsc, "compile", M, "--weights", W, "--fabric", "16x16", "--time-report",
                                    "-o", path("t.wsa")], 0,
          mention=[r"compile time report"] + [rf"\n  {p} +\d+\.\d{{3}}\n" for p in phases] +
          [r"peak memory +\d+\.\d MiB"])
    check("compile --time-report stopping early", [wsc, "compile", M, "--weights", W, "--stop-after", "infer",
                                                   "--emit", "ir", "--time-report"], 0,
          mention=[r"\n  front end +\d", r"\n  total +\d"])
    check("run --time-report", [wsc, "run", path("t.wsa"), "--time-report"], 2, mention=[r"time-report"])

    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
