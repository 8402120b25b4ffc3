#!/usr/bin/env python3
"""Cold pulls from a loopback registry: berth vs podman vs docker, interleaved; berthd's idle memory.

Usage (as root): bench/pull_bench.py [--runs N] [--debian-runs N] [--no-debian] [--out bench/RESULTS.md]

Everything is private to the run: Debian's docker-registry on 127.0.0.1 with its own storage, berthd
with its own socket and data root, podman with its own storage (--root/--runroot) and containers.conf,
Debian's dockerd with its own socket, data root, exec root, no bridge and no iptables. Images:
(a) busybox (berth image bootstrap busybox: one ~1 MB gzip layer), (b) Debian bookworm minbase (berth
image bootstrap debian:bookworm, cached under /var/tmp/berth-bench: the first run takes ~2 minutes).
Before every pull each tool's copy of the image is removed (layers and blobs), so every pull is cold.
The Debian layer is also extracted with plain `gzip -dc | tar -x` in the same run as the floor.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target/x86_64-unknown-linux-gnu/release")
BERTH, BERTHD = os.path.join(REL, "berth"), os.path.join(REL, "berthd")
CACHE = "/var/tmp/berth-bench"
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode()}{r.stdout.decode()}")
    return r.stdout.decode()


def timed(cmd, env=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode()}")
    return dt * 1000


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--debian-runs", type=int, default=5)
    ap.add_argument("--no-debian", action="store_true")
    ap.add_argument("--settle", type=float, default=0.0, help="sync and sleep this many seconds after each removal")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/RESULTS.md"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    for b in (BERTH, BERTHD):
        if not os.path.exists(b):
            sys.exit(f"{b} missing: cargo build --release")
    # /var/tmp, not /tmp: on this machine creating a symlink under /tmp costs ~470 µs against
    # ~15 µs under /var (measured), which would dominate a busybox pull (~270 symlinks) for every tool.
    work = tempfile.mkdtemp(prefix="berth-pull-bench-", dir="/var/tmp")
    procs = []

    def start(cmd, log, env=None):
        p = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        procs.append(p)
        return p

    try:
        # The registry.
        port = free_port()
        reg = f"127.0.0.1:{port}"
        with open(f"{work}/registry.yml", "w") as f:
            f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {work}/registry\n"
                    f"http:\n  addr: {reg}\n")
        start(["docker-registry", "serve", f"{work}/registry.yml"], f"{work}/registry.log")
        wait_for(lambda: subprocess.run(["curl", "-sf", f"http://{reg}/v2/"], stdout=subprocess.DEVNULL).returncode == 0, "registry")

        # A source berthd (persistent, so the Debian bootstrap is cached) pushes the images.
        os.makedirs(CACHE, exist_ok=True)
        src_sock = f"{work}/src.sock"
        start([BERTHD, "-H", f"unix://{src_sock}", "--data-root", f"{CACHE}/src", "--exec-root", f"{work}/src-run"],
              f"{work}/src-berthd.log")
        wait_for(lambda: os.path.exists(src_sock), "source berthd")
        src = [BERTH, "-H", f"unix://{src_sock}"]
        run(src + ["image", "bootstrap", "busybox", "--tag", "bench/busybox:1"])
        images = {"busybox": f"{reg}/bench/busybox:1"}
        if not args.no_debian:
            run(src + ["image", "bootstrap", "debian:bookworm", "--tag", "bench/debian:bookworm"])
            images["debian"] = f"{reg}/bench/debian:bookworm"
        for name, ref in images.items():
            local = "bench/busybox:1" if name == "busybox" else "bench/debian:bookworm"
            run(src + ["tag", local, ref])
            run(src + ["push", ref])

        # berthd under test.
        b_sock = f"{work}/berth.sock"
        bd = start([BERTHD, "-H", f"unix://{b_sock}", "--data-root", f"{work}/berth", "--exec-root", f"{work}/berth-run"],
                   f"{work}/berthd.log")
        wait_for(lambda: os.path.exists(b_sock), "berthd")
        berth = [BERTH, "-H", f"unix://{b_sock}"]

        # podman with private storage.
        with open(f"{work}/containers.conf", "w") as f:
            f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n')
        penv = dict(os.environ, CONTAINERS_CONF=f"{work}/containers.conf")
        podman = ["podman", "--root", f"{work}/podman/root", "--runroot", f"{work}/podman/run", "--storage-driver", "overlay"]

        # dockerd with its own everything.
        d_sock = f"{work}/docker.sock"
        dd = start(["dockerd", "-H", f"unix://{d_sock}", "--pidfile", f"{work}/docker.pid", "--data-root", f"{work}/docker",
                    "--exec-root", f"{work}/docker-exec", "--storage-driver", "overlay2", "--bridge", "none",
                    "--iptables=false", "--ip6tables=false"], f"{work}/dockerd.log")
        denv = dict(os.environ, DOCKER_HOST=f"unix://{d_sock}")
        wait_for(lambda: subprocess.run([DOCKER, "version"], env=denv, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL).returncode == 0, "dockerd", 60)

        tools = {
            "berth": (lambda ref: berth + ["pull", "-q", ref], lambda ref: berth + ["rmi", "-f", ref], None),
            "podman": (lambda ref: podman + ["pull", "-q", "--tls-verify=false", ref],
                       lambda ref: podman + ["rmi", "-f", ref], penv),
            "docker": (lambda ref: [DOCKER, "pull", "-q", ref], lambda ref: [DOCKER, "rmi", "-f", ref], denv),
        }
        results = {}
        for name, ref in images.items():
            n = args.runs if name == "busybox" else args.debian_runs
            samples = {t: [] for t in tools}
            if name == "debian":
                samples["gzip -dc | tar -x"] = []
                blob = max((os.path.join(dp, f) for dp, _, fs in os.walk(f"{CACHE}/src/blobs") for f in fs),
                           key=os.path.getsize)
            names = list(tools)
            for i in range(n + 1):  # the first round warms caches and is dropped
                # The order rotates every round so that no tool always follows the same one (docker's
                # containerd removes layers in the background, which lands on whoever pulls next).
                # --settle adds a flush and a pause after each removal.
                for t in names[i % len(names):] + names[:i % len(names)]:
                    pull, rm, env = tools[t]
                    dt = timed(pull(ref), env)
                    timed(rm(ref), env)
                    if t == "podman":
                        subprocess.run(podman + ["image", "prune", "-f"], env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
                    if args.settle:
                        subprocess.run(["sync"])
                        time.sleep(args.settle)
                    if i:
                        samples[t].append(dt)
                if name == "debian":
                    dest = f"{work}/untar"
                    os.makedirs(dest)
                    dt = timed(["sh", "-c", f"gzip -dc < {blob} | tar -x -C {dest}"])
                    shutil.rmtree(dest)
                    if i:
                        samples["gzip -dc | tar -x"].append(dt)
            results[name] = {t: statistics.median(v) for t, v in samples.items()}
            print(name, {t: round(v, 1) for t, v in results[name].items()}, flush=True)

        # Idle memory.
        time.sleep(2)
        berthd_rss = rss_kb(bd.pid)
        docker_rss = rss_kb(dd.pid)
        containerd = subprocess.run(["pgrep", "-P", str(dd.pid)], stdout=subprocess.PIPE).stdout.decode().split()
        docker_rss += sum(rss_kb(int(p)) for p in containerd)
        write(args, results, berthd_rss, docker_rss)
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=20)
            except Exception:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                except Exception:
                    pass
        subprocess.run(["sh", "-c", f"grep -o ' {work}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l"],
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def write(args, results, berthd_rss, docker_rss):
    lines = ["<!-- pull:begin -->", "## Cold pull from a loopback registry (issue 3)", "",
             f"`{' '.join(['bench/pull_bench.py'] + sys.argv[1:])}` (as root), "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Medians; every pull cold (image, layers "
             "and blobs removed before each); tools interleaved in one run, their order rotating every round.", "",
             "| image | berth | podman | docker | berth / podman | other |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        other = ""
        if "gzip -dc | tar -x" in r:
            other = f"`gzip -dc \\| tar -x` {r['gzip -dc | tar -x']:.0f} ms (berth / that: {r['berth'] / r['gzip -dc | tar -x']:.2f}×)"
        lines.append(f"| {name} | {r['berth']:.0f} ms | {r['podman']:.0f} ms | {r['docker']:.0f} ms | "
                     f"{r['berth'] / r['podman']:.2f}× | {other} |")
    lines += ["", f"Idle memory: berthd {berthd_rss / 1024:.1f} MB RSS; dockerd + containerd {docker_rss / 1024:.1f} MB.",
              "<!-- pull:end -->"]
    section = "\n".join(lines)
    text = open(args.out).read() if os.path.exists(args.out) else "# Benchmark results\n"
    if "<!-- pull:begin -->" in text:
        a = text.index("<!-- pull:begin -->")
        b = text.index("<!-- pull:end -->") + len("<!-- pull:end -->")
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(args.out, "w").write(text)
    print(section)


if __name__ == "__main__":
    main()
