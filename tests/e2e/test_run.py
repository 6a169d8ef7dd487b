#!/usr/bin/python3
"""`wsc run` end to end: every case of tests/ref/cases (PyTorch references) and of
../shared/conformance/cases is compiled (with the case's args and weights) and run on the modeled
wafer, and each output is compared with the expected one: same shape and dtype, and
|got - want| <= 1e-4 + 1e-3 |want| element by element (common.compare_outputs).

- Every case at --fabric 32x32, with `--check` (the interpreter on the artifact's graph) when it
  is expected to pass: exit 0.
- The small cases (all but BIG) also at 16x16, 64x64 and on the whole default target (wse3,
  762x1172: a tiny model compiles for it in a second or two, so the test uses the real wafer, not
  a smaller stand-in, and fails if a compile or run there takes longer than WAFER_LIMIT seconds).
  With every kernel kind running, a case costs 1 to 12 s per fabric (compile + run, mostly LLVM),
  so the full matrix takes about 5 minutes on 2 cores; by default each small case gets ONE of the
  three extra fabrics, in rotation (so each fabric sees a third of the cases), and the cases in
  EVERY_FABRIC get all three. `--all` (or WSC_TEST_ALL_FABRICS=1) runs the full matrix.
  A compile refused (exit 1) because the model does not fit the 16x16 fabric is noted, not a
  failure.
- UNSUPPORTED lists the cases `wsc run` cannot execute yet. For those, compile or run must fail
  with exit 1 and a message containing "without a PE program"; a listed case that runs and
  matches is a failure ("remove it from UNSUPPORTED"), so the list shrinks as support lands.

Under the sanitizer build (the binary's path contains 'asan'; 2 to 3 times slower) the small
cases other than EVERY_FABRIC run at 32x32 only (unless --all), and the wafer time limit is
tripled. Two cases run at a time.

usage: test_run.py WSC [--all] [-v] [CASE ...]   (from the repository root; CASE filters by name;
                                                 -v prints every step's timing)
Prints one line per failure and ends with `N passed, M failed`; exits 1 on any failure."""
import concurrent.futures, os, re, sys, tempfile, time
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import case_compile_args, case_inputs, compare_outputs, run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASES = [os.path.join(ROOT, "tests", "ref", "cases"),
         os.path.normpath(os.path.join(ROOT, "..", "shared", "conformance", "cases"))]

# Cases `wsc run` cannot execute yet: {"case": "reason"}, the reason being what `wsc compile`
# notes about its kernels without a PE program (e.g. "cast_bf16": "bf16 element types; cast ops").
# Filled by running every case; remove an entry as soon as its case passes (the test says so).
# Empty since every kernel kind (generic included) and element type has a program.
UNSUPPORTED = {}
# Too large to run at every fabric size in a few minutes: 32x32 only.
BIG = {"ex_gpt2", "ex_llama", "p_gpt"}
# Run at every fabric size even without --all (cheap, and they cover gemv, map and row kernels).
EVERY_FABRIC = {"ex_mlp", "p_mlp"}
EXTRA_FABRICS = ["16x16", "64x64", None]  # None: the whole default target
MESSAGE = "without a PE program"
WAFER_LIMIT = 20  # seconds for one compile or run of a small case on the whole wafer (x3 under ASan)


def cases():
    out = []
    for base in BASES:
        if os.path.isdir(base):
            out += [(n, os.path.join(base, n)) for n in sorted(os.listdir(base))
                    if os.path.isfile(os.path.join(base, n, "model.wsm"))]
    return out


def one_line(s):
    return s.strip().replace("\n", " | ")[:300]


def does_not_fit(status, err):
    """A compile refused because the model does not fit the fabric (exit 1, a clean message)."""
    return status == 1 and "wsc: error:" in err and re.search(r"fabric|PEs|does not fit|edge", err)


def run_case(wsc, name, d, fabric, check, limit):
    """Compiles and runs one case at one fabric (None: the whole default target). Returns
    (failures, notes, timing): failures and notes are lists of one-line strings."""
    label = f"{name} at {fabric or 'wse3'}"
    fails, notes, timing = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        art, out = os.path.join(tmp, "m.wsa"), os.path.join(tmp, "out")
        cmd = [wsc, "compile", os.path.join(d, "model.wsm")] + case_compile_args(d)
        cmd += (["--fabric", fabric] if fabric else []) + ["-o", art]
        t0 = time.time()
        rc, so, se = run(cmd, timeout=3 * limit if limit else 300)
        timing["compile"] = time.time() - t0
        if rc is None:
            return [f"{label}: compile timed out after {timing['compile']:.0f} s"], notes, timing
        if limit and timing["compile"] > limit:
            fails.append(f"{label}: compiling for the whole wafer took {timing['compile']:.1f} s "
                         f"(limit {limit} s)")
        if name in UNSUPPORTED and rc == 1 and MESSAGE in se:
            return fails, notes, timing
        if rc != 0:
            if fabric == "16x16" and does_not_fit(rc, se):
                return fails, [f"{label}: does not fit: {one_line(se)}"], timing
            return fails + [f"{label}: compile exit {rc}: {one_line(se)}"], notes, timing
        cmd = [wsc, "run", art] + case_inputs(d) + ["-o", out] + (["--check"] if check else [])
        t0 = time.time()
        rc, so, se = run(cmd)
        timing["run"] = time.time() - t0
        if rc is None:
            return fails + [f"{label}: run timed out"], notes, timing
        if name in UNSUPPORTED:
            if rc == 1 and MESSAGE in se and ": error:" in se:
                return fails, notes, timing
            if rc == 0 and compare_outputs(os.path.join(d, "expected"), out) is None:
                return fails + [f"{label}: runs and matches now: remove it from UNSUPPORTED"], notes, timing
            bad = compare_outputs(os.path.join(d, "expected"), out) if rc == 0 else one_line(se)
            return fails + [f"{label} (UNSUPPORTED: {UNSUPPORTED[name]}): run exit {rc}, want exit 1 "
                            f"and a message with '{MESSAGE}': {bad}"], notes, timing
        if rc != 0:
            return fails + [f"{label}: run{' --check' if check else ''} exit {rc}: {one_line(se)}"], notes, timing
        if limit and timing["run"] > limit:
            fails.append(f"{label}: running on the whole wafer took {timing['run']:.1f} s (limit {limit} s)")
        bad = compare_outputs(os.path.join(d, "expected"), out)
        if bad:
            fails.append(f"{label}: {bad}")
        if check and "--check" not in se:
            fails.append(f"{label}: --check exit 0 but it reports no comparison: {one_line(se)}")
    return fails, notes, timing


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip())
        return 2
    wsc = os.path.abspath(sys.argv[1])
    only = set(sys.argv[2:])
    verbose, full = "-v" in only, "--all" in only or os.environ.get("WSC_TEST_ALL_FABRICS") == "1"
    only -= {"-v", "--all"}
    asan = "asan" in wsc
    limit = WAFER_LIMIT * (3 if asan else 1)
    all_cases = cases()
    if not all_cases:
        print("no cases found")
        return 1
    names = {n for n, _ in all_cases}
    for n in sorted(set(UNSUPPORTED) - names):
        print(f"note: UNSUPPORTED names '{n}', which is not a case")
    jobs = []  # (name, dir, fabric, check, limit)
    small = 0
    for name, d in all_cases:
        if only and name not in only:
            continue
        jobs.append((name, d, "32x32", name not in UNSUPPORTED, 0))
        if name in BIG or name in UNSUPPORTED:
            continue  # runs fail fast at 32x32 already; other fabrics add nothing yet
        if full or name in EVERY_FABRIC:
            fabrics = EXTRA_FABRICS
        elif asan:
            fabrics = []  # 32x32 only: the sanitizer build is 2 to 3 times slower
        else:
            fabrics = [EXTRA_FABRICS[small % len(EXTRA_FABRICS)]]
            small += 1
        for fab in fabrics:
            jobs.append((name, d, fab, False, 0 if fab else limit))
    passed = failed = 0
    t_start = time.time()
    # two at a time: compiles are single-threaded, and the machine has at least two cores
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda j: run_case(wsc, *j), jobs))
    per_case = {}
    for (name, d, fab, check, limit), (fails, notes, timing) in zip(jobs, results):
        for f in fails:
            print("FAIL " + f)
        for n in notes:
            print("note: " + n)
        if verbose:
            print(f"  {name} at {fab or 'wse3'}{' --check' if check else ''}: " +
                  ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()))
        per_case.setdefault(name, []).append(not fails)
    for name in per_case:
        if all(per_case[name]):
            passed += 1
        else:
            failed += 1
    if passed + failed == 0:
        print("no case matched")
        return 1
    ok = sorted(n for n in per_case if n not in UNSUPPORTED and all(per_case[n]))
    print(f"running and matching: {', '.join(ok) or 'none'}; unsupported: "
          f"{len([n for n in per_case if n in UNSUPPORTED])}; {time.time() - t_start:.0f} s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
