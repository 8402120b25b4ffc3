#!/usr/bin/env python3
"""berth-runtime vs crun vs runc: `run` of a busybox bundle running /bin/true, interleaved.

Usage (as root): bench/runtime_bench.py [--runs N] [--sequential N] [--out bench/RESULTS.md]

The bundle uses pid, net, ipc, uts and mount namespaces with cgroups on (runc's default spec, the
cgroup namespace left out because runc 1.1 does not add it by default). crun 1.8 refuses hybrid cgroup
layouts, so the whole benchmark runs inside a private mount namespace in which the cgroup2 mount is
unmounted: every runtime sees the same v1-only layout. berth-runtime is also measured outside that
namespace, on the real hybrid layout, as `berth-runtime (hybrid)`.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BERTH = os.path.join(ROOT, "target/x86_64-unknown-linux-gnu/release/berth-runtime")


def make_bundle(d):
    rootfs = os.path.join(d, "rootfs")
    for sub in ["bin", "proc", "dev", "sys", "tmp", "etc"]:
        os.makedirs(os.path.join(rootfs, sub), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
    for a in ["sh", "true", "sleep"]:
        os.symlink("busybox", os.path.join(rootfs, "bin", a))
    subprocess.run(["runc", "spec"], cwd=d, check=True)
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/true"]
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    return d


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode()}")
    return dt * 1000


def inner(args):
    """Runs inside the private mount namespace."""
    bundle = args.bundle
    states = tempfile.mkdtemp(prefix="berth-bench-state-")
    runtimes = {
        "berth-runtime": lambda i: [BERTH, "--root", f"{states}/berth", "run", "--bundle", bundle, f"bb{os.getpid()}x{i}"],
        "crun": lambda i: ["crun", "--root", f"{states}/crun", "run", "--bundle", bundle, f"bc{os.getpid()}x{i}"],
        "runc": lambda i: ["runc", "--root", f"{states}/runc", "run", "--bundle", bundle, f"br{os.getpid()}x{i}"],
    }
    samples = {k: [] for k in runtimes}
    for name, cmd in runtimes.items():  # warm-up
        timed(cmd("w"))
    for i in range(args.runs):
        for name, cmd in runtimes.items():
            samples[name].append(timed(cmd(i)))
    seq = {}
    for name, cmd in runtimes.items():
        t = time.perf_counter()
        for i in range(args.sequential):
            subprocess.run(cmd(f"s{i}"), stdout=subprocess.DEVNULL, check=True)
        seq[name] = (time.perf_counter() - t) * 1000
    # Where berth-runtime's time goes: its own per-step trace, medians over the runs.
    steps = {}
    for i in range(args.runs):
        env = dict(os.environ, BERTH_TRACE="1")
        r = subprocess.run(runtimes["berth-runtime"](f"t{i}"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        prev = 0
        for line in r.stderr.decode().splitlines():
            if not line.startswith("[trace]"):
                continue
            parts = line.split(None, 3)
            us = int(parts[1].rstrip("us"))
            label = parts[3]
            steps.setdefault(label, []).append((us - prev, us))
            prev = us
    shutil.rmtree(states, ignore_errors=True)
    json.dump({"samples": samples, "sequential": seq, "steps": steps}, sys.stdout)


def stats(v):
    v = sorted(v)
    q = statistics.quantiles(v, n=20)
    return statistics.median(v), q[0], q[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--sequential", type=int, default=100)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/RESULTS.md"))
    ap.add_argument("--inner", action="store_true")
    ap.add_argument("--bundle")
    args = ap.parse_args()
    if args.inner:
        return inner(args)
    if os.geteuid() != 0:
        sys.exit("run as root")
    if not os.path.exists(BERTH):
        sys.exit(f"{BERTH} missing: cargo build --release")
    tmp = tempfile.mkdtemp(prefix="berth-bench-")
    try:
        bundle = make_bundle(tmp)
        me = os.path.abspath(__file__)
        script = f"umount -l /sys/fs/cgroup/unified 2>/dev/null; exec python3 {me} --inner --bundle {bundle} --runs {args.runs} --sequential {args.sequential}"
        out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], check=True, stdout=subprocess.PIPE)
        res = json.loads(out.stdout)
        # berth-runtime on the host's real (hybrid) layout, interleaved with a second round of itself.
        states = tempfile.mkdtemp(prefix="berth-bench-state-")
        hybrid = [timed([BERTH, "--root", states, "run", "--bundle", bundle, f"bh{os.getpid()}x{i}"]) for i in range(args.runs)]
        shutil.rmtree(states, ignore_errors=True)
        res["samples"]["berth-runtime (hybrid)"] = hybrid
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    crun_med = statistics.median(res["samples"]["crun"])
    lines = [
        "## berth-runtime vs crun vs runc: `run` of busybox `/bin/true`",
        "",
        f"Command (as root): `bench/runtime_bench.py --runs {args.runs} --sequential {args.sequential}` ({time.strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} cores). Namespaces pid, net, ipc, uts, mount; cgroups on. Interleaved, {args.runs} runs each, "
        "times include process spawn from Python.",
        "",
        "| runtime | median ms | p5 ms | p95 ms | median / crun |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, v in res["samples"].items():
        m, lo, hi = stats(v)
        lines.append(f"| {name} | {m:.2f} | {lo:.2f} | {hi:.2f} | {m / crun_med:.2f} |")
    lines += ["", f"{args.sequential} sequential containers, total:", ""]
    for name, ms in res["sequential"].items():
        lines.append(f"- {name}: {ms:.0f} ms ({ms / args.sequential:.2f} ms each)")
    lines += [
        "",
        "Where berth-runtime's time goes (`BERTH_TRACE=1`, medians over the runs; microseconds since the",
        "runtime's start, and since the previous step). `create: clone` to `init: go` is the clone itself",
        "(new pid, net, ipc, uts and mount namespaces); `run: container exited` includes `/bin/true` and",
        "the kernel's teardown of the namespaces; `run: deleted` is the cgroup and state removal.",
        "",
        "| step | at µs | step µs |",
        "| --- | ---: | ---: |",
    ]
    for label, v in res["steps"].items():
        lines.append(f"| {label} | {statistics.median(x[1] for x in v):.0f} | {statistics.median(x[0] for x in v):.0f} |")
    text = "\n".join(lines) + "\n"
    write_section(args.out, "runtime", text)
    print(text)


def write_section(path, name, text):
    """Replaces this benchmark's section of RESULTS.md, keeping the other benchmarks' sections."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text}{end}\n"
    old = open(path).read() if os.path.exists(path) else "# Benchmark results\n\nEach section is written by its script; rerun the command it names to refresh it.\n\n"
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end) + 1 :]
    else:
        new = old + block
    open(path, "w").write(new)


if __name__ == "__main__":
    main()
