#!/usr/bin/python3
"""`wsc run`'s command line, reports and refusals, on the ex_mlp case compiled once (at 32x32, or
noted, the first of 24x24, 48x48, 64x64 it compiles for):

(a) determinism: --threads 1, 2 and 4, and the same count twice, give byte-identical output .npy
    files, identical `--stats --format json` and identical --trace files;
(b) --stats: the text mentions cycles; the JSON is one object with an integer "cycles" > 0 (and
    the other counts non-negative integers);
(c) --trace: a Chrome trace-event file (a JSON list, or {"traceEvents": [...]}) with "X" events
    that lie within the run's cycles; --check fails when the artifact's graph (its reference)
    differs from what the wafer computes;
(d) refusals, each exit 1 with one `wsc: error:` line (two for an unknown input that also leaves
    x missing), no crash (signal, exit 70, sanitizer report) and no output written:
    inputs missing, twice, unknown, of the wrong shape or dtype, corrupt or missing .npy files;
    artifacts missing, not artifacts, truncated (many points), with a byte flipped (header, table,
    padding and every section), with a section removed (cut out, or repacked into a valid
    container), emptied, of another format version, with sections from another model (refused,
    but for 'KERN' alone, which the run uses only for its kernel count); -o a file; an
    unwritable --trace; and crafted artifacts (random byte changes in the structural sections
    with every checksum recomputed) must end with exit 0 or 1, never a crash;
(e) usage errors exit 2: no artifact, no -o, an unknown option, a bad --threads, a bad -i.

usage: test_run_cli.py WSC     (from the repository root; works with the release or ASan binary)"""
import json, os, random, struct, sys, tempfile
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import case_compile_args, run, wsa_bytes, wsa_read
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE = os.path.join(ROOT, "tests", "ref", "cases", "ex_mlp")
CASE_B3 = os.path.join(ROOT, "tests", "ref", "cases", "ex_mlp_b3")
X = os.path.join(CASE, "inputs", "x.npy")
passed = failed = 0


def fail(msg):
    global failed
    failed += 1
    print("FAIL " + msg, flush=True)


def ok():
    global passed
    passed += 1


def crashed(status, err):
    return status is None or status < 0 or status == 70 or "Sanitizer" in err or "runtime error:" in err \
        or "internal error" in err


def compile_case(wsc, d, art):
    """Compiles case folder d at 32x32, or (noted) at the first other size that works: what this
    test checks does not depend on the fabric, and test_run.py fails for a compile that fails."""
    errs = []
    for fabric in ("32x32", "24x24", "48x48", "64x64"):
        rc, so, se = run([wsc, "compile", os.path.join(d, "model.wsm")] + case_compile_args(d) +
                         ["--fabric", fabric, "-o", art])
        if rc == 0:
            if errs:
                print(f"note: {os.path.basename(d)} compiled at {fabric}, not at " + "; ".join(errs))
            return
        errs.append(f"{fabric} (exit {rc}: {se.strip()[:300]})")
    print(f"cannot compile {d}: " + "; ".join(errs))
    print("0 passed, 1 failed")
    sys.exit(1)


def outputs(out):
    return {f: open(os.path.join(out, f), "rb").read() for f in sorted(os.listdir(out))} if os.path.isdir(out) else {}


# ------------------------------------------------------------------ (a) (b) (c)

def determinism(wsc, art, tmp):
    base = None
    for k, threads in enumerate((1, 2, 4, 2)):
        out, trace = os.path.join(tmp, f"det{k}"), os.path.join(tmp, f"det{k}.json")
        rc, so, se = run([wsc, "run", art, "-i", "x=" + X, "-o", out, "--threads", str(threads),
                          "--stats", "--format", "json", "--trace", trace])
        if rc != 0:
            return fail(f"determinism: --threads {threads}: exit {rc}: {se.strip()[:300]}")
        try:
            stats = json.loads(so)
        except ValueError:
            return fail(f"determinism: --threads {threads}: --stats --format json is not JSON: {so[:200]!r}")
        got = (outputs(out), stats, open(trace, "rb").read())
        if base is None:
            base = got
            if sorted(got[0]) != ["logits.npy", "probs.npy"]:
                return fail(f"determinism: outputs {sorted(got[0])}")
            continue
        what = "the same count again" if k == 3 else f"--threads {threads}"
        if got[0] != base[0]:
            fail(f"determinism: {what}: output files differ from --threads 1's")
        elif got[1] != base[1]:
            fail(f"determinism: {what}: stats {got[1]} differ from --threads 1's {base[1]}")
        elif got[2] != base[2]:
            fail(f"determinism: {what}: the trace differs from --threads 1's")
        else:
            ok()


def stats_and_trace(wsc, art, tmp):
    out = os.path.join(tmp, "st")
    rc, so, se = run([wsc, "run", art, "-i", "x=" + X, "-o", out, "--stats"])
    if rc != 0 or "cycles" not in so:
        fail(f"--stats: exit {rc}, no 'cycles' in {so[:300]!r} {se[:300]!r}")
    else:
        ok()
    rc, so, se = run([wsc, "run", art, "-i", "x=" + X, "-o", out, "--stats", "--format", "json"])
    cycles = None
    try:
        doc = json.loads(so)
        cycles = doc.get("cycles")
        if rc != 0 or not isinstance(doc, dict) or type(cycles) is not int or cycles <= 0:
            fail(f"--stats --format json: exit {rc}, cycles {cycles!r}")
        elif any(type(doc[k]) is not int or doc[k] < 0 for k in ("wavelets", "hops", "tasks", "pes") if k in doc):
            fail(f"--stats --format json: a count is not a non-negative integer: {doc}")
        elif doc.get("wavelets", 1) <= 0 or doc.get("hops", 1) <= 0:
            fail(f"--stats --format json: nothing moved: {doc}")
        else:
            ok()
    except ValueError:
        fail(f"--stats --format json: exit {rc}, not one JSON object: {so[:300]!r}")
    # the outputs are the same with and without --stats
    rc2, _, _ = run([wsc, "run", art, "-i", "x=" + X, "-o", out + "2"])
    if rc2 != 0 or outputs(out) != outputs(out + "2"):
        fail("--stats changes the outputs")
    else:
        ok()

    trace = os.path.join(tmp, "trace.json")
    rc, so, se = run([wsc, "run", art, "-i", "x=" + X, "-o", out, "--trace", trace])
    if rc != 0:
        return fail(f"--trace: exit {rc}: {se.strip()[:300]}")
    try:
        doc = json.load(open(trace))
    except ValueError as e:
        return fail(f"--trace: the file is not JSON: {e}")
    events = doc.get("traceEvents") if isinstance(doc, dict) else doc
    if not isinstance(events, list):
        return fail("--trace: neither a list nor {\"traceEvents\": [...]}")
    xs = [e for e in events if isinstance(e, dict) and e.get("ph") == "X"]
    if not xs:
        return fail(f"--trace: no 'X' events among {len(events)}")
    for e in xs:
        if not all(isinstance(e.get(k), (int, float)) for k in ("ts", "dur")) or e["ts"] < 0 or e["dur"] < 0:
            return fail(f"--trace: a malformed X event {e}")
    end = max(e["ts"] + e["dur"] for e in xs)
    if cycles is not None and end > cycles:
        fail(f"--trace: an event ends at {end}, after the run's {cycles} cycles")
    else:
        ok()


def check_detects(wsc, art, tmp):
    """--check compares with the interpreter on the artifact's own graph: with one weight of that
    graph ('IRGR') changed, and the wafer's copy (SRAM) not, --check must fail (exit 1), while the
    run without --check still succeeds with the original outputs."""
    b = open(os.path.join(CASE, "weights.safetensors"), "rb").read()
    n, = struct.unpack_from("<Q", b, 0)
    entry = json.loads(b[8:8 + n])["w1"]
    w1 = b[8 + n + entry["data_offsets"][0]:8 + n + entry["data_offsets"][1]]
    h, secs = wsa_read(art)
    tags = [t for t, _, _ in secs]
    g = bytearray(secs[tags.index("IRGR")][1])
    at = g.find(w1[:64])
    if at < 0 or g.find(w1[:64], at + 1) >= 0:
        return fail("--check: cannot find w1's data (once) in the artifact's graph")
    g[at:at + 4] = struct.pack("<f", 25.0)
    path = os.path.join(tmp, "check.wsa")
    with open(path, "wb") as f:
        f.write(wsa_bytes([(t, bytes(g) if t == "IRGR" else d) for t, d, _ in secs], h))
    out = os.path.join(tmp, "check")
    rc, so, se = run([wsc, "run", path, "-i", "x=" + X, "-o", out, "--check"])
    if crashed(rc, se) or rc != 1 or "--check" not in se or "wsc: error:" not in se:
        fail(f"--check with the graph's w1[0][0] changed: exit {rc}, want 1 naming --check: {se.strip()[:400]!r}")
    else:
        ok()
    rc, so, se = run([wsc, "run", path, "-i", "x=" + X, "-o", out + "2"])
    rc0, _, _ = run([wsc, "run", art, "-i", "x=" + X, "-o", out + "0"])
    if rc != 0 or rc0 != 0 or outputs(out + "2") != outputs(out + "0"):
        fail(f"the graph's w1 changed: without --check, exit {rc}, and the outputs "
             f"{'equal' if outputs(out + '2') == outputs(out + '0') else 'differ from'} the original's")
    else:
        ok()


# ------------------------------------------------------------------ (d) refusals

def refused(wsc, label, args, tmp, want=None, status=1, nerrors=1):
    """Runs `wsc run ARGS -o OUT` (unless ARGS has -o) and requires exit `status` with `nerrors`
    `wsc: error:` lines (the first containing `want` if given), no crash, and no output files."""
    out = os.path.join(tmp, "refused")
    if os.path.isdir(out):
        for f in os.listdir(out):
            os.remove(os.path.join(out, f))
    cmd = [wsc, "run"] + args + ([] if "-o" in args else ["-o", out])
    rc, so, se = run(cmd, timeout=120)
    errors = [l for l in se.splitlines() if l.startswith("wsc: error:")]
    if crashed(rc, se):
        return fail(f"{label}: a crash, internal error or sanitizer report (exit {rc}): {se.strip()[-600:]}")
    if rc != status:
        return fail(f"{label}: exit {rc}, want {status}: {se.strip()[-600:]}")
    if len(errors) != nerrors:
        return fail(f"{label}: {len(errors)} 'wsc: error:' lines, want {nerrors}: {se.strip()[:400]!r}")
    if want and want.lower() not in errors[0].lower():
        return fail(f"{label}: the error does not mention '{want}': {errors[0]}")
    if outputs(out):
        return fail(f"{label}: refused, but wrote {sorted(outputs(out))}")
    ok()


def refusals(wsc, art, tmp):
    p = lambda name: os.path.join(tmp, name)
    x = np.load(X)
    # inputs
    refused(wsc, "missing input", [art], tmp, "'x'")
    refused(wsc, "input given twice", [art, "-i", "x=" + X, "-i", "x=" + X], tmp, "twice")
    refused(wsc, "unknown input", [art, "-i", "x=" + X, "-i", "y=" + X], tmp, "'y'")
    refused(wsc, "only an unknown input (two errors: unknown z, missing x)", [art, "-i", "z=" + X], tmp,
            "'z'", nerrors=2)
    np.save(p("shape.npy"), x[:, :-1])
    refused(wsc, "input of the wrong shape", [art, "-i", "x=" + p("shape.npy")], tmp, "'x'")
    np.save(p("rank.npy"), x.reshape(-1))
    refused(wsc, "input of the wrong rank", [art, "-i", "x=" + p("rank.npy")], tmp, "'x'")
    np.save(p("i32.npy"), x.astype(np.int32))
    refused(wsc, "input of the wrong dtype (i32)", [art, "-i", "x=" + p("i32.npy")], tmp)
    np.save(p("f16.npy"), x.astype(np.float16))
    refused(wsc, "input of the wrong dtype (f16)", [art, "-i", "x=" + p("f16.npy")], tmp)
    np.save(p("f64.npy"), x.astype(np.float64))
    refused(wsc, "input of an unsupported dtype (f64)", [art, "-i", "x=" + p("f64.npy")], tmp)
    good = open(X, "rb").read()
    corrupt = {"empty": b"", "truncated header": good[:40], "truncated data": good[:-7],
               "bad magic": b"\x93NUMPX" + good[6:], "garbage header": good[:10] + b"{'descr': 7" + good[21:],
               "trailing bytes": good + b"\0" * 12}
    for k, (what, data) in enumerate(corrupt.items()):
        with open(p(f"corrupt{k}.npy"), "wb") as f:
            f.write(data)
        refused(wsc, f"corrupt .npy ({what})", [art, "-i", "x=" + p(f"corrupt{k}.npy")], tmp)
    refused(wsc, "missing .npy", [art, "-i", "x=" + p("nonexistent.npy")], tmp)
    # -o a file; an unwritable trace
    with open(p("afile"), "w") as f:
        f.write("x")
    refused(wsc, "-o names a file", [art, "-i", "x=" + X, "-o", p("afile")], tmp)
    refused(wsc, "--trace in a missing folder", [art, "-i", "x=" + X, "--trace", p("no/such/dir/t.json")], tmp)

    # artifacts that are not artifacts
    refused(wsc, "nonexistent artifact", [p("nonexistent.wsa"), "-i", "x=" + X], tmp, "nonexistent.wsa")
    refused(wsc, "a folder as the artifact", [tmp, "-i", "x=" + X], tmp)
    refused(wsc, "a model as the artifact", [os.path.join(CASE, "model.wsm"), "-i", "x=" + X], tmp, "not a wsc artifact")
    refused(wsc, "a .npy as the artifact", [X, "-i", "x=" + X], tmp, "not a wsc artifact")
    data = open(art, "rb").read()
    h, secs = wsa_read(art)

    def try_bytes(label, b, want=None):
        path = p("bad.wsa")
        with open(path, "wb") as f:
            f.write(b)
        refused(wsc, label, [path, "-i", "x=" + X], tmp, want)

    # truncations: inside the magic, the header, the table, every section, the last byte
    cuts = {0, 1, 15, 16, 30, 47, 48, 60, 48 + 32 * len(secs) - 1, len(data) - 1}
    for tag, s, off in secs:
        cuts |= {off, off + len(s) // 2, off + len(s) - 1} if s else {off}
    for c in sorted(c for c in cuts if 0 <= c < len(data)):
        try_bytes(f"artifact truncated to {c} of {len(data)} bytes", data[:c], "truncated" if c >= 16 else None)
    try_bytes("artifact with bytes appended", data + b"\0" * 64)
    # one byte flipped: magic, version, count, size, model hash, header checksum, the table,
    # the padding, and the first, middle and last byte of every section
    flips = {0: "magic", 13: "magic", 16: "version", 20: "section count", 24: "file size",
             32: "model hash", 40: "header checksum", 48: "table (tag)", 52: "table (reserved)",
             56: "table (offset)", 64: "table (length)", 72: "table (checksum)"}
    table_end = 48 + 32 * len(secs)
    if secs and secs[0][2] > table_end:
        flips[table_end] = "padding after the table"
    for tag, s, off in secs:
        for where, at in (("first", 0), ("middle", len(s) // 2), ("last", len(s) - 1)):
            if s:
                flips[off + at] = f"section '{tag}' ({where} byte)"
        end = off + len(s)
        if end % 64 and end < len(data):
            flips[end] = f"padding after '{tag}'"
    for pos, what in sorted(flips.items()):
        b = bytearray(data)
        b[pos] ^= 0x20
        try_bytes(f"byte {pos} flipped ({what})", bytes(b))
    # a section removed: its bytes cut out of the file, and repacked as a valid container
    for i, (tag, s, off) in enumerate(secs):
        end = secs[i + 1][2] if i + 1 < len(secs) else len(data)
        try_bytes(f"section '{tag}' cut out", data[:off] + data[end:])
        try_bytes(f"section '{tag}' removed (valid container)", wsa_bytes(secs[:i] + secs[i + 1:], h), tag)
    try_bytes("no sections (valid container)", wsa_bytes([], h))
    # another format version, with a right checksum
    for v in (0, 2, 0xffffffff):
        try_bytes(f"format version {v}", wsa_bytes(secs, h, version=v), "version")
    # an empty section in place of each
    for i, (tag, s, off) in enumerate(secs):
        try_bytes(f"section '{tag}' empty", wsa_bytes(secs[:i] + [(tag, b"")] + secs[i + 1:], h))
    # sections from another model (ex_mlp with B = 3: another input shape, other programs and images)
    other = p("b3.wsa")
    compile_case(wsc, CASE_B3, other)
    _, secs3 = wsa_read(other)
    tags3 = {t: s for t, s, _ in secs3}
    # (KERN alone may be accepted: the run uses its kernel count only)
    for tags in (["IRGR"], ["IOMP"], ["KERN"], ["SRAM", "IOMP"], ["IRGR", "KERN"]):
        mixed = [(t, tags3[t] if t in tags else s) for t, s, _ in secs]
        if mixed != [(t, s) for t, s, _ in secs]:
            path = p("mixed.wsa")
            with open(path, "wb") as f:
                f.write(wsa_bytes(mixed, h))
            crafted(wsc, f"sections {'+'.join(tags)} from ex_mlp_b3", path, tmp, must_refuse=tags != ["KERN"])


def crafted(wsc, label, path, tmp, must_refuse=False):
    """A crafted artifact (valid container): exit 0 or 1 with one `wsc: error:` line, no crash."""
    out = os.path.join(tmp, "crafted")
    rc, so, se = run([wsc, "run", path, "-i", "x=" + X, "-o", out], timeout=120)
    if crashed(rc, se) or rc not in ((1,) if must_refuse else (0, 1)):
        return fail(f"{label}: exit {rc}: {se.strip()[-600:]}")
    if rc == 1 and sum(l.startswith("wsc: error:") for l in se.splitlines()) != 1:
        return fail(f"{label}: exit 1 without one 'wsc: error:' line: {se.strip()[:400]!r}")
    ok()


def crafted_flips(wsc, art, tmp):
    """Random changes to the structural sections, every checksum recomputed: the decoders and the
    simulator must refuse or run, never crash. (Not the programs' bitcode, which LLVM reads
    unchecked, nor the SRAM images' bytes: the parameter blocks are checked by test_mutation.)"""
    h, secs = wsa_read(art)
    rng = random.Random(20240611)
    n = 0
    for i, (tag, s, off) in enumerate(secs):
        if not s:
            continue
        spots = list(range(len(s)))
        if tag == "SRAM":      # the records' headers: PE, kernel, program, used, segment counts
            spots, q = [], 4
            spots += range(0, 4)
            while q + 24 <= len(s):
                nseg, = struct.unpack_from("<I", s, q + 20)
                spots += range(q, q + 24)
                q += 24
                for _ in range(nseg):
                    ln, = struct.unpack_from("<I", s, q + 4)
                    spots += range(q, q + 8)
                    q += 8 + ln
        elif tag == "PROG":    # the table of programs and kernels, not the bitcode
            spots, q = list(range(0, 4)), 4
            count, = struct.unpack_from("<I", s, 0)
            for _ in range(count):
                ln, = struct.unpack_from("<Q", s, q + 8)
                spots += range(q, q + 16)
                q += 16 + ln
            spots += range(q, len(s))
        for k in range(6):
            b = bytearray(s)
            pos = rng.choice(spots)
            if k % 3 == 2:
                b[pos] = rng.choice([0, 0xff, 0x7f, 0x80, 1])
            else:
                b[pos] ^= 1 << rng.randrange(8)
            path = os.path.join(tmp, "crafted.wsa")
            with open(path, "wb") as f:
                f.write(wsa_bytes(secs[:i] + [(tag, bytes(b))] + secs[i + 1:], h))
            crafted(wsc, f"crafted '{tag}' byte {pos} changed (0x{s[pos]:02x} -> 0x{b[pos]:02x})", path, tmp)
            n += 1


# ------------------------------------------------------------------ (e) usage

def usage(wsc, art, tmp):
    out = os.path.join(tmp, "usage")
    for label, args in (("no artifact", ["-i", "x=" + X, "-o", out]),
                        ("no -o", [art, "-i", "x=" + X]),
                        ("an unknown option", [art, "-i", "x=" + X, "-o", out, "--bogus"]),
                        ("two artifacts", [art, art, "-i", "x=" + X, "-o", out]),
                        ("--threads 0", [art, "-i", "x=" + X, "-o", out, "--threads", "0"]),
                        ("--threads x", [art, "-i", "x=" + X, "-o", out, "--threads", "x"]),
                        ("--threads without a value", [art, "-i", "x=" + X, "-o", out, "--threads"]),
                        ("-i without =", [art, "-i", "x", "-o", out]),
                        ("-i without a value", [art, "-o", out, "-i"]),
                        ("--trace without a value", [art, "-i", "x=" + X, "-o", out, "--trace"]),
                        ("--format bogus", [art, "-i", "x=" + X, "-o", out, "--stats", "--format", "bogus"])):
        rc, so, se = run([wsc, "run"] + args)
        if crashed(rc, se) or rc != 2 or "wsc: error:" not in se:
            fail(f"usage: {label}: exit {rc}, want 2 with a 'wsc: error:' line: {se.strip()[:300]!r}")
        elif outputs(out):
            fail(f"usage: {label}: wrote outputs")
        else:
            ok()
    rc, so, se = run([wsc, "run"])
    if rc != 2 or crashed(rc, se):
        fail(f"usage: bare 'wsc run': exit {rc}")
    else:
        ok()
    rc, so, se = run([wsc, "help", "run"])
    if rc != 0 or "--threads" not in so or "--trace" not in so:
        fail(f"wsc help run: exit {rc}")
    else:
        ok()


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip())
        return 2
    wsc = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        art = os.path.join(tmp, "mlp.wsa")
        compile_case(wsc, CASE, art)
        determinism(wsc, art, tmp)
        stats_and_trace(wsc, art, tmp)
        check_detects(wsc, art, tmp)
        refusals(wsc, art, tmp)
        crafted_flips(wsc, art, tmp)
        usage(wsc, art, tmp)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
