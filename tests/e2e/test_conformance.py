#!/usr/bin/python3
"""Runs the shared conformance suite: ../shared/conformance/check.py CASES WSC eval, then
check_bad.py WSC. The path is relative to the repository root (ctest's working directory).
usage: test_conformance.py WSC"""
import os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip())
        return 2
    wsc = os.path.abspath(sys.argv[1])
    conf = os.path.normpath(os.path.join(ROOT, "..", "shared", "conformance"))
    if not os.path.isfile(os.path.join(conf, "check.py")):
        print(f"conformance suite not found at {conf} (expected ../shared/conformance beside the repository)")
        print("0 passed, 1 failed")
        return 1
    passed, failed = 0, 0
    for cmd in ([sys.executable, os.path.join(conf, "check.py"), os.path.join(conf, "cases"), wsc, "eval"],
                [sys.executable, os.path.join(conf, "check_bad.py"), wsc]):
        print("$ " + " ".join(cmd), flush=True)
        try:
            rc = subprocess.run(cmd, timeout=1800).returncode
        except subprocess.TimeoutExpired:
            print("timed out")
            rc = 1
        if rc == 0:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {os.path.basename(cmd[1])} (exit {rc})")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
