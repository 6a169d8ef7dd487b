#!/usr/bin/python3
"""Runs every case of tests/ref/cases (written by tests/ref/gen.py from PyTorch) through `wsc eval`
and compares each output with the spec's tolerance, as ../shared/conformance/check.py does (and,
in addition, requires each output's dtype to be the expected one).

usage: test_ref_cases.py WSC [CASE ...]     (run from the repository root; CASE filters by name)
Prints one line per failing case and ends with `N passed, M failed`; exits 1 on any failure."""
import os, sys, tempfile
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import case_command, compare_outputs, run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(ROOT, "tests", "ref", "cases")


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip())
        return 2
    wsc, only = sys.argv[1], set(sys.argv[2:])
    if not os.path.isdir(CASES):
        print(f"no cases in {CASES}: run /usr/bin/python3 tests/ref/gen.py")
        return 1
    passed, failed = 0, 0
    for name in sorted(os.listdir(CASES)):
        if only and name not in only:
            continue
        d = os.path.join(CASES, name)
        with tempfile.TemporaryDirectory() as out:
            cmd = case_command(wsc, d, out)
            rc, so, se = run(cmd)
            if rc is None:
                bad = "timed out"
            elif rc != 0:
                msg = (se or so).strip().replace("\n", " | ")
                bad = f"eval exit {rc}: {msg[:300]}"
            else:
                bad = compare_outputs(os.path.join(d, "expected"), out)
        if bad:
            failed += 1
            print(f"FAIL {name}: {bad}")
        else:
            passed += 1
    if passed + failed == 0:
        print("no case matched")
        return 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
