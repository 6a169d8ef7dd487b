#!/usr/bin/python3
"""Golden tests: diagnostics (tests/golden/diag/*.wsm -> .err, exit status 1),
IR dumps (tests/golden/ir/*.wsm -> .ir from `wsc check --emit ir`), and
artifact dumps (tests/golden/dump/*.wsm compiled for a 16x16 fabric -> .sum,
.map and .json from `wsc dump`, `--placement`, `--placement --format json`).

usage: test_golden.py WSC [--update]
--update rewrites the expected files from wsc's output; review the diff."""
import os, subprocess, sys

wsc = os.path.abspath(sys.argv[1])
update = "--update" in sys.argv[2:]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
passed = failed = 0


def run(sub, name, args, want_status, suffix, stream):
    global passed, failed
    d = os.path.join(root, sub)
    p = subprocess.run([wsc] + args + [name], cwd=d, capture_output=True, text=True, timeout=60)
    got = p.stderr if stream == "stderr" else p.stdout
    exp_path = os.path.join(d, name[:-4] + suffix)
    if update:
        with open(exp_path, "w") as f:
            f.write(got)
    want = open(exp_path).read() if os.path.exists(exp_path) else None
    if p.returncode != want_status:
        failed += 1
        print(f"FAIL {sub}/{name}: exit {p.returncode}, want {want_status}\n{p.stderr}")
    elif got != want:
        failed += 1
        print(f"FAIL {sub}/{name}: output differs from {os.path.basename(exp_path)}")
        print("--- want\n" + (want or "(missing)") + "--- got\n" + got)
    else:
        passed += 1


for name in sorted(os.listdir(os.path.join(root, "diag"))):
    if name.endswith(".wsm") and not name.startswith("lib_"):
        run("diag", name, ["check"], 1, ".err", "stderr")
for name in sorted(os.listdir(os.path.join(root, "ir"))):
    if name.endswith(".wsm"):
        run("ir", name, ["check", "--emit", "ir"], 0, ".ir", "stdout")

def dump(name):
    global passed, failed
    import tempfile
    d = os.path.join(root, "dump")
    model = os.path.join(d, name)
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([wsc, "compile", model, "--fabric", "16x16", "-o", "m.wsa"], cwd=tmp,
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            failed += 1
            print(f"FAIL dump/{name}: compile exit {p.returncode}\n{p.stderr}")
            return
        for suffix, args in ((".sum", []), (".map", ["--placement"]), (".json", ["--placement", "--format", "json"]),
                             (".mem", ["--memory"])):
            q = subprocess.run([wsc, "dump", "m.wsa"] + args, cwd=tmp, capture_output=True, text=True, timeout=60)
            exp_path = os.path.join(d, name[:-4] + suffix)
            if update:
                with open(exp_path, "w") as f:
                    f.write(q.stdout)
            want = open(exp_path).read() if os.path.exists(exp_path) else None
            if q.returncode != 0 or q.stdout != want:
                failed += 1
                print(f"FAIL dump/{name} {' '.join(args)}: exit {q.returncode}, output differs from {os.path.basename(exp_path)}")
                print("--- want\n" + (want or "(missing)") + "--- got\n" + q.stdout)
            else:
                passed += 1


for name in sorted(os.listdir(os.path.join(root, "dump"))):
    if name.endswith(".wsm"):
        dump(name)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
