#!/usr/bin/python3
"""Inputs that once made wsc misbehave without crashing: each must now end with exit 1 and a
`wsc: error:` line naming the problem, in bounded time and memory.

- `compile -o PATH` where PATH is a FIFO or a directory: refused, the FIFO left as it was; a
  symlink planted at the old fixed temporary name (PATH.tmp) is never followed;
- `run` with a gather index out of range (the dedicated gather kernel and the generic one):
  refused like `eval` refuses it, naming the gather and the index, for any --threads; negative
  indices in range still work;
- a resident value too big for the host's memory, or for the whole fabric's SRAM: exit 1, not
  an internal error (70), and quickly;
- /dev/zero or /dev/urandom as an input .npy, an artifact or weights, and a FIFO nobody writes
  as weights: refused at once (they used to be read without limit, or to block forever in open);
  a pipe is read no further than its header allows;
- a target whose clock_hz is so small that latencies overflow: refused.

usage: test_hardening.py WSC     (works with the release or ASan binary)"""
import os, resource, stat, subprocess, sys, tempfile, time
import numpy as np

wsc = os.path.abspath(sys.argv[1])
passed = failed = 0
tmp = tempfile.mkdtemp(prefix="wsc-hardening-")
ASAN = b"__asan_init" in open(wsc, "rb").read()


def path(*p):
    return os.path.join(tmp, *p)


def write(name, text):
    with open(path(name), "w") as f:
        f.write(text)
    return path(name)


def run(args, timeout=60, limit_as=None):
    def pre():
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
    t0 = time.monotonic()
    try:
        p = subprocess.run([wsc] + args, capture_output=True, timeout=timeout, preexec_fn=pre)
    except subprocess.TimeoutExpired:
        return None, "timed out", timeout
    return p.returncode, p.stderr.decode("utf-8", "replace"), time.monotonic() - t0


def check(name, args, status, mention=(), timeout=60, max_secs=None, limit_as=None):
    global passed, failed
    rc, err, secs = run(args, timeout, limit_as)
    why = None
    if rc != status:
        why = f"status {rc}, want {status}"
    elif status == 1 and "wsc: error:" not in err and ": error:" not in err:
        why = "no error diagnostic"
    elif "Sanitizer" in err or "runtime error" in err:
        why = "sanitizer report"
    else:
        for m in mention:
            if m not in err:
                why = f"the message does not mention {m!r}"
    if why is None and max_secs is not None and secs > max_secs:
        why = f"took {secs:.1f} s (at most {max_secs})"
    if why:
        failed += 1
        print(f"FAIL {name}: {why}\n{err[-600:]}", flush=True)
    else:
        passed += 1
    return err


def expect(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", flush=True)


TINY = write("tiny.wsm", "input x: f32[2,3]; param w: f32[3,4]; output y = x @ w;\n")
os.makedirs(path("wd"))
np.save(path("wd", "w.npy"), np.ones((3, 4), np.float32))
X = path("x.npy")
np.save(X, np.ones((2, 3), np.float32))
COMPILE = ["compile", TINY, "--weights", path("wd")]

# ---- 1. compile -o: never replace what is not a regular file, never follow a planted name
fifo = path("out.fifo")
os.mkfifo(fifo)
check("-o a FIFO", COMPILE + ["-o", fifo], 1, mention=["not a regular file"], timeout=30)
expect("-o a FIFO leaves it a FIFO", stat.S_ISFIFO(os.lstat(fifo).st_mode))
os.makedirs(path("outdir"))
check("-o a directory", COMPILE + ["-o", path("outdir")], 1, mention=["not a regular file"])
victim = write("victim.txt", "precious\n")
os.symlink(victim, path("a.wsa.tmp"))
check("-o with a symlink at PATH.tmp", COMPILE + ["-o", path("a.wsa")], 0)
expect("the planted symlink's target is untouched", open(victim).read() == "precious\n")
expect("the artifact is a regular file", stat.S_ISREG(os.lstat(path("a.wsa")).st_mode))
expect("no temporary is left behind",
       sorted(n for n in os.listdir(tmp) if n.startswith(".wsa-")) == [], str(os.listdir(tmp)))
check("-o an existing artifact is replaced", COMPILE + ["-o", path("a.wsa")], 0)
check("-o in a missing directory", COMPILE + ["-o", path("nodir", "sub", "x.wsa")], 1)

# ---- 2. gather index out of range at run time: refused by run as by eval
G = write("g.wsm", "input idx: i32[2];\nparam t: f32[4, 3] = ones;\noutput g = gather(t, idx);\n")
G2 = write("g2.wsm", "input idx: i32[2];\ninput t: i32[4, 3];\noutput g = gather(t, idx);\n")
np.save(path("t.npy"), np.arange(12, dtype=np.int32).reshape(4, 3))
check("compile gather", ["compile", G, "--fabric", "32x32", "-o", path("g.wsa")], 0)
check("compile generic gather", ["compile", G2, "--fabric", "32x32", "-o", path("g2.wsa")], 0)
for idx, good in (([0, 7], False), ([0, -1], True), ([-4, 3], True), ([-5, 0], False),
                  ([4, 0], False), ([0, -2147483648], False)):
    np.save(path("gi.npy"), np.array(idx, np.int32))
    bad = [i for i in idx if not -4 <= i < 4]
    mention = [] if good else ["gather", f"index {bad[0]} is out of range", "4 rows"]
    want = 0 if good else 1
    for threads in ("1", "4"):
        check(f"run gather {idx} --threads {threads}",
              ["run", path("g.wsa"), "-i", f"idx={path('gi.npy')}", "-o", path("go"), "--threads",
               threads], want, mention=mention)
        check(f"run generic gather {idx} --threads {threads}",
              ["run", path("g2.wsa"), "-i", f"idx={path('gi.npy')}", "-i", f"t={path('t.npy')}",
               "-o", path("go2"), "--threads", threads], want, mention=mention)
    check(f"eval gather {idx}", ["eval", G, "-i", f"idx={path('gi.npy')}", "-o", path("ge")], want,
          mention=["gather"] if not good else [])
    if good:
        got = np.load(path("go", "g.npy"))
        expect(f"run gather {idx} gives the table's rows", np.array_equal(got, np.ones((2, 3))))
        got = np.load(path("go2", "g.npy"))
        want_rows = np.arange(12, dtype=np.int32).reshape(4, 3)[np.array(idx)]
        expect(f"run generic gather {idx} gives the table's rows", np.array_equal(got, want_rows),
               str(got))
# several bad indices: the same one reported whatever the thread count
np.save(path("gi8.npy"), np.array([9, 0, 5, -7, 1, 2, 3, 6], np.int32))
G8 = write("g8.wsm", "input idx: i32[8];\nparam t: f32[4, 3] = ones;\noutput g = gather(t, idx);\n")
check("compile gather of 8", ["compile", G8, "--fabric", "32x32", "-o", path("g8.wsa")], 0)
msgs = set()
for threads in ("1", "2", "8"):
    msgs.add(check(f"run gather of 8 --threads {threads}",
                   ["run", path("g8.wsa"), "-i", f"idx={path('gi8.npy')}", "-o", path("go8"),
                    "--threads", threads], 1, mention=["out of range"]))
expect("the same fault is reported for any thread count", len(msgs) == 1, str(msgs))

# ---- 3. resident values too big: exit 1 (not 70), and refused before evaluating them
BIG1 = write("big1.wsm", "input x: f32[4];\nparam a: f32[16777216,1] = ones;\n"
             "param b: f32[1,16777216] = ones;\noutput y = x + sum(a + b);\n")
BIG2 = write("big2.wsm", "input x: f32[4];\nparam a: f32[65536,65536] = ones;\n"
             "output y = x + sum(a @ a);\n")
check("value bigger than the fabric's SRAM", ["compile", BIG1, "--fabric", "32x32", "-o",
                                              path("b1.wsa")], 1, mention=["does not fit"],
      max_secs=30)
check("matmul of values bigger than the fabric's SRAM",
      ["compile", BIG2, "--fabric", "32x32", "-o", path("b2.wsa")], 1, mention=["does not fit"],
      max_secs=30)
if not ASAN:  # ASan reserves terabytes of address space: no RLIMIT_AS under it
    BIG3 = write("big3.wsm", "input x: f32[4];\nparam a: f32[65536,1] = ones;\n"
                 "param b: f32[1,65536] = ones;\noutput y = x + sum(a + b);\n")
    check("value bigger than the host's memory", ["compile", BIG3, "-o", path("b3.wsa")], 1,
          mention=["out of memory"], limit_as=3 << 30, max_secs=60)

# ---- 4. endless and writerless files: refused at once, in little memory
# (A named FIFO for an input or an artifact is still opened blocking, like cat does: its writer
# may come after us. Weights are never read from one, so that open must not wait.)
noone = path("nobody-writes.fifo")
os.mkfifo(noone)
for dev in ("/dev/zero", "/dev/urandom"):
    check(f"-i x={dev}", ["eval", TINY, "--weights", path("wd"), "-i", f"x={dev}", "-o",
                          path("eo")], 1, timeout=30, max_secs=20)
    check(f"run {dev}", ["run", dev, "-i", f"x={X}", "-o", path("ro")], 1, timeout=30,
          max_secs=20)
for dev in ("/dev/zero", noone):
    check(f"--weights {dev}", COMPILE[:2] + ["--weights", dev, "-o", path("w.wsa")], 1,
          timeout=30, max_secs=20)
check("compile tiny", COMPILE + ["-o", path("t.wsa")], 0)


def piped(name, args, data, status):
    global passed, failed
    p = subprocess.run([wsc] + args, input=data, capture_output=True, timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != status:
        failed += 1
        print(f"FAIL {name}: status {p.returncode}, want {status}\n{err[-600:]}")
    else:
        passed += 1


art = open(path("t.wsa"), "rb").read()
npy = open(X, "rb").read()
piped("artifact through a pipe", ["run", "/dev/stdin", "-i", f"x={X}", "-o", path("p1")], art, 0)
piped(".npy through a pipe", ["run", path("t.wsa"), "-i", "x=/dev/stdin", "-o", path("p2")], npy, 0)
piped("artifact with trailing bytes through a pipe",
      ["run", "/dev/stdin", "-i", f"x={X}", "-o", path("p3")], art + bytes(3 << 20), 1)
piped(".npy with trailing bytes through a pipe",
      ["run", path("t.wsa"), "-i", "x=/dev/stdin", "-o", path("p4")], npy + bytes(3 << 20), 1)

# ---- 5. a clock so slow that latencies overflow
for clock in ("4.9e-324", "1e-300", "999"):
    tgt = write("slow.target", f"clock_hz = {clock}\n")
    check(f"clock_hz = {clock}", COMPILE + ["--target", tgt, "-o", path("slow.wsa")], 1,
          mention=["clock_hz"])

# ---- 6. usage: single-valued options given twice, --emit of a compile stage elsewhere: exit 2
for opt, v1, v2 in (("-o", path("u1.wsa"), path("u2.wsa")), ("--weights", path("wd"), path("wd")),
                    ("--target", "wse3", "wse2"), ("--fabric", "32x32", "16x16"),
                    ("--seed", "1", "2"), ("--threads", "1", "2")):
    if opt == "--threads":  # an option of eval and run
        args = ["eval", TINY, "--weights", path("wd"), "-i", f"x={X}", "-o", path("u")]
    else:
        args = ["compile", TINY] + (["--weights", path("wd")] if opt != "--weights" else [])
        args += ["-o", path("u.wsa")] if opt != "-o" else []
    check(f"{opt} given twice", args + [opt, v1, opt, v2], 2, mention=[f"{opt} given twice"])
check("check --emit kernels", ["check", TINY, "--emit", "kernels"], 2, mention=["compile"])
check("eval --emit llvm", ["eval", TINY, "--weights", path("wd"), "-i", f"x={X}", "-o", path("e"),
                           "--emit", "llvm"], 2, mention=["compile"])
p = subprocess.run([wsc, "help", "compile"], capture_output=True, text=True)
line = [l for l in p.stdout.splitlines() if l.startswith("  -o ")]
expect("help compile describes -o as the artifact", p.returncode == 0 and line and
       ".wsa" in line[0] and "NAME.npy" not in line[0], str(line))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
