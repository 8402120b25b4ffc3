#!/usr/bin/env python3
"""`run --rm busybox true` with no network: berth vs podman (crun) vs docker, interleaved; the memory
of idle containers' monitors (berth-shim vs conmon vs containerd-shim); `berth ps -a` with 500 containers.

Usage (as root): bench/run_bench.py [--runs N] [--idle N] [--ps-containers N] [--out bench/RESULTS.md]

Everything is private to the run: berthd with its own socket, data root and exec root; podman with its
own storage (--root/--runroot) and containers.conf, run with crun inside a private mount namespace
whose cgroup2 mount is unmounted (crun 1.8 refuses this machine's hybrid layout otherwise; see
MACHINE-NOTES); Debian's dockerd with its own socket, data root and exec root, no bridge, no
iptables. The busybox image is made by `berth image bootstrap busybox` and loaded into podman and
docker from `berth save`, so all three run the same bytes.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target/x86_64-unknown-linux-gnu/release")
BERTH, BERTHD = os.path.join(REL, "berth"), os.path.join(REL, "berthd")
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def wait_for(pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def run(cmd, env=None, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if check and r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode()}{r.stdout.decode()}")
    return r.stdout.decode()


def timed(cmd, env=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode()}")
    return dt * 1000


def mem_kb(pid):
    """(RSS, PSS) in KiB from smaps_rollup."""
    rss = pss = 0
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def procs_matching(exe_names, needle):
    """Pids whose executable's name is in exe_names and whose command line mentions needle."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            comm = open(f"/proc/{p}/comm").read().strip()
            cmdline = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if comm in exe_names and needle in cmdline:
            out.append(int(p))
    return out


def stats(v):
    v = sorted(v)
    return statistics.median(v), v[max(0, int(len(v) * 0.05))], v[min(len(v) - 1, int(len(v) * 0.95))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--idle", type=int, default=20)
    ap.add_argument("--ps-containers", type=int, default=500)
    ap.add_argument("--no-peers", action="store_true", help="berth only (no podman, no docker)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/RESULTS.md"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    for b in (BERTH, BERTHD):
        if not os.path.exists(b):
            sys.exit(f"{b} missing: cargo build --release")
    work = tempfile.mkdtemp(prefix="berth-run-bench-", dir="/var/tmp")
    procs = []

    def start(cmd, log, env=None):
        p = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        procs.append(p)
        return p

    berth = podman = None
    denv = penv = None
    try:
        b_sock = f"{work}/berth.sock"
        start([BERTHD, "-H", f"unix://{b_sock}", "--data-root", f"{work}/berth", "--exec-root", f"{work}/berth-run"],
              f"{work}/berthd.log")
        wait_for(lambda: os.path.exists(b_sock), "berthd")
        berth = [BERTH, "-H", f"unix://{b_sock}"]
        run(berth + ["image", "bootstrap", "busybox", "--tag", "busybox:latest"])
        run(berth + ["save", "-o", f"{work}/busybox.tar", "busybox:latest"])

        tools = {"berth": (berth + ["run", "--rm", "--network", "none", "busybox", "true"], None)}
        if not args.no_peers:
            with open(f"{work}/containers.conf", "w") as f:
                f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n')
            penv = dict(os.environ, CONTAINERS_CONF=f"{work}/containers.conf")
            podman_cmd = (f"podman --root {work}/podman/root --runroot {work}/podman/run --storage-driver overlay "
                          f"--runtime crun --cgroup-manager cgroupfs")
            # crun refuses the hybrid layout: a private mount namespace without the cgroup2 mount.
            podman = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                      f'umount -l /sys/fs/cgroup/unified; exec {podman_cmd} "$@"', "podman"]
            run(podman + ["load", "-i", f"{work}/busybox.tar"], env=penv)
            tools["podman"] = (podman + ["run", "--rm", "--network", "none", "busybox", "true"], penv)

            d_sock = f"{work}/docker.sock"
            start(["dockerd", "-H", f"unix://{d_sock}", "--pidfile", f"{work}/docker.pid", "--data-root",
                   f"{work}/docker", "--exec-root", f"{work}/docker-exec", "--storage-driver", "overlay2",
                   "--bridge", "none", "--iptables=false", "--ip6tables=false"], f"{work}/dockerd.log")
            denv = dict(os.environ, DOCKER_HOST=f"unix://{d_sock}")
            wait_for(lambda: subprocess.run([DOCKER, "version"], env=denv, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL).returncode == 0, "dockerd", 60)
            run([DOCKER, "load", "-i", f"{work}/busybox.tar"], env=denv)
            tools["docker"] = ([DOCKER, "run", "--rm", "--network", "none", "busybox", "true"], denv)

        samples = {t: [] for t in tools}
        names = list(tools)
        for i in range(args.runs + 3):  # three warm-up rounds, dropped
            for t in names[i % len(names):] + names[:i % len(names)]:
                cmd, env = tools[t]
                dt = timed(cmd, env)
                if i >= 3:
                    samples[t].append(dt)
        results = {t: stats(v) for t, v in samples.items()}
        print({t: round(v[0], 1) for t, v in results.items()}, flush=True)

        # Idle containers: the per-container monitor's memory.
        memory = {}
        idle = {
            "berth": (berth, None, ["berth-shim"], f"{work}/berth-run"),
        }
        if not args.no_peers:
            idle["podman"] = (podman, penv, ["conmon"], f"{work}/podman")
            idle["docker"] = ([DOCKER], denv, ["containerd-shim", "containerd-shim-runc-v2"], "moby")
        for t, (cli, env, exes, needle) in idle.items():
            for n in range(args.idle):
                run(cli + ["run", "-d", "--network", "none", "--name", f"idle-{n}", "busybox", "sleep", "1000"], env=env)
            time.sleep(2)
            pids = procs_matching(exes, needle)
            rss = sum(mem_kb(p)[0] for p in pids)
            pss = sum(mem_kb(p)[1] for p in pids)
            memory[t] = (len(pids), rss / args.idle, pss / args.idle)
            for n in range(args.idle):
                run(cli + ["rm", "-f", f"idle-{n}"], env=env, check=False)
            print(t, "idle", memory[t], flush=True)

        # `ps -a` with many containers.
        for n in range(args.ps_containers):
            run(berth + ["create", "--network", "none", "--name", f"many-{n}", "busybox", "true"])
        ps = [timed(berth + ["ps", "-a"]) for _ in range(25)]
        ps_stats = stats(ps[3:])
        count = len(run(berth + ["ps", "-aq"]).split())
        print("ps -a", round(ps_stats[0], 1), "ms with", count, flush=True)
        run(berth + ["container", "prune", "-f"], check=False)
        write(args, results, memory, ps_stats, count)
    finally:
        if berth:
            out = subprocess.run(berth + ["ps", "-aq"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.split()
            if out:
                subprocess.run(berth + ["rm", "-f"] + [o.decode() for o in out], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        if podman:
            subprocess.run(podman + ["rm", "-af"], env=penv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if denv:
            out = subprocess.run([DOCKER, "ps", "-aq"], env=denv, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL).stdout.split()
            if out:
                subprocess.run([DOCKER, "rm", "-f"] + [o.decode() for o in out], env=denv, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
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


def write(args, results, memory, ps_stats, count):
    base = results.get("podman", (None,))[0]
    lines = ["<!-- run:begin -->", "## `run --rm busybox true`, no network (issue 4)", "",
             f"`{' '.join(['bench/run_bench.py'] + sys.argv[1:])}` (as root), "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 2 cores. Each tool's whole CLI command, "
             f"interleaved, order rotating every round, {args.runs} runs each after 3 warm-up rounds.", "",
             "| tool | median ms | p5 ms | p95 ms | median / podman |", "| --- | ---: | ---: | ---: | ---: |"]
    for t, (m, p5, p95) in results.items():
        ratio = f"{m / base:.3f}" if base else "–"
        lines.append(f"| {t} | {m:.1f} | {p5:.1f} | {p95:.1f} | {ratio} |")
    lines += ["", f"Idle containers ({args.idle} × `sleep 1000`), memory of the per-container monitor processes:", "",
              "| tool | processes | RSS per container | PSS per container |", "| --- | ---: | ---: | ---: |"]
    label = {"berth": "berth (berth-shim)", "podman": "podman (conmon)", "docker": "docker (containerd-shim)"}
    for t, (n, rss, pss) in memory.items():
        lines.append(f"| {label[t]} | {n} | {rss:.0f} KiB | {pss:.0f} KiB |")
    lines += ["", f"`berth ps -a` with {count} containers: median {ps_stats[0]:.1f} ms (p5 {ps_stats[1]:.1f}, "
              f"p95 {ps_stats[2]:.1f}; 22 runs).", "<!-- run:end -->"]
    section = "\n".join(lines)
    text = open(args.out).read() if os.path.exists(args.out) else "# Benchmark results\n"
    if "<!-- run:begin -->" in text:
        a = text.index("<!-- run:begin -->")
        b = text.index("<!-- run:end -->") + len("<!-- run:end -->")
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(args.out, "w").write(text)
    print(section)


if __name__ == "__main__":
    main()
