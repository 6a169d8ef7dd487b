#!/usr/bin/python3
"""Issue 3's scale item in CI (release builds only: tests/CMakeLists.txt): the GPT-2-small-sized
model (examples/gpt2_small.wsm, 124M parameters, 64 tokens, weights from its initializers)
compiles for the whole wse3 fabric, with the placement and route checkers that every compile runs,
within a wall-time and memory budget far above what it takes on the 2-core machine
(docs/PERFORMANCE.md: about 15 s and 2.8 GB) so that a shared CI machine does not fail it, yet far
below what it took before the compile was made to scale (84 s, 10.9 GB). Its dump and SVG picture
must come out.

usage: scale_gpt2_small.py WSC"""
import json, os, re, subprocess, sys, tempfile

wsc = os.path.abspath(sys.argv[1])
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MAX_WALL_S, MAX_PEAK_MIB = 90.0, 6144.0

with tempfile.TemporaryDirectory() as tmp:
    art = os.path.join(tmp, "gs.wsa")
    p = subprocess.run([wsc, "compile", os.path.join(root, "examples", "gpt2_small.wsm"), "-o", art,
                        "--time-report"], capture_output=True, text=True, timeout=600)
    print(p.stderr.strip())
    if p.returncode != 0:
        sys.exit(f"FAIL: compile exit {p.returncode}")
    total = float(re.search(r"\n  total +([\d.]+)", p.stderr).group(1))
    peak = float(re.search(r"peak memory +([\d.]+) MiB", p.stderr).group(1))
    fails = []
    if total > MAX_WALL_S:
        fails.append(f"compile took {total:.1f} s, over {MAX_WALL_S} s")
    if peak > MAX_PEAK_MIB:
        fails.append(f"compile peaked at {peak:.0f} MiB, over {MAX_PEAK_MIB} MiB")
    d = subprocess.run([wsc, "dump", art, "--placement", "--format", "json"], capture_output=True, text=True,
                       timeout=300)
    if d.returncode != 0:
        sys.exit(f"FAIL: dump exit {d.returncode}: {d.stderr[:300]}")
    doc = json.loads(d.stdout)
    t, s = doc["target"], doc["summary"]
    print(f"{len(doc['kernels'])} kernels on {s['pes_used']} PEs of {t['width']}x{t['height']}, "
          f"SRAM max {s['sram_bytes_max']}, colours max {s['colors_max']}, busiest link {s['link_load_max']}")
    if (t["name"], t["width"], t["height"]) != ("wse3", 762, 1172):
        fails.append(f"target {t['name']} {t['width']}x{t['height']}, want the whole wse3")
    if s["sram_bytes_max"] > t["sram_bytes"] or s["colors_max"] > t["colors"] or s["link_load_max"] > 1:
        fails.append("the dump's summary is over the target's limits")
    v = subprocess.run([wsc, "dump", art, "--placement", "--format", "svg"], capture_output=True, text=True,
                       timeout=300)
    if v.returncode != 0 or not v.stdout.lstrip().startswith("<svg") or len(doc["kernels"]) > v.stdout.count("<rect"):
        fails.append(f"the SVG placement did not come out (exit {v.returncode})")
    for f in fails:
        print("FAIL " + f)
    print("ok" if not fails else f"{len(fails)} failed")
    sys.exit(1 if fails else 0)
