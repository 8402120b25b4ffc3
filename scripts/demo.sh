#!/usr/bin/env bash
# berth's main job today: install what is needed, build, and run the container scenario of seed 001
# §2 and seed 003 with berth-runtime: namespaces, cgroup limits, exec, pause, kill, an init that reaps
# zombies, and podman using berth-runtime as its OCI runtime. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
./scripts/install-deps.sh
cargo build --workspace --release
BIN=$PWD/target/x86_64-unknown-linux-gnu/release
RT="$BIN/berth-runtime --root /run/berth-demo"
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
ids=()
cleanup() {
  for id in "${ids[@]}"; do $RT delete --force "$id" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step() { printf '$ %s\n' "$*"; }

# A busybox root filesystem (Debian's busybox-static) and an OCI bundle around it.
mkdir -p "$work/rootfs"/{bin,proc,sys,dev,tmp,etc,sbin}
cp /bin/busybox "$work/rootfs/bin/"
for a in sh ps ls cat echo sleep hostname mount id head sort grep cut wc true ip timeout kill; do
  ln -s busybox "$work/rootfs/bin/$a"
done
cp "$BIN/berth-init" "$work/rootfs/sbin/berth-init"
$BIN/berth-runtime spec --bundle "$work"
config() { # config ARGS_JSON [PYTHON_EDIT]
  python3 - "$work/config.json" "$1" "${2:-}" <<'PY'
import json, sys
path, args, edit = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args
c["root"]["readonly"] = False
c["linux"].pop("resources", None)
c["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
if edit:
    exec(edit)
json.dump(c, open(path, "w"), indent=2)
PY
}
run() { local id=demo$$-$1; step "berth-runtime run $id"; $RT run --bundle "$work" "$id"; }

say "PID namespace: the container's process is PID 1 and sees only its own processes"
config '["/bin/sh", "-c", "echo my pid is $$; ps"]'
run pid

say "UTS and network namespaces: own hostname, only a loopback interface"
config '["/bin/sh", "-c", "hostname; ip -o link | cut -d: -f2"]' 'c["hostname"] = "berth-demo"'
run uts

say "Memory limit (seed 003): 16 MiB; allocating 64 MiB gets the process OOM-killed (137)"
config '["/bin/sh", "-c", "head -c 67108864 /dev/zero | sort >/dev/null; echo exit status $?"]' \
  'c["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}'
run mem

say "CPU quota (--cpus=0.1): a busy loop is throttled; the kernel counts it in cpu.stat"
config '["/bin/sh", "-c", "timeout 1 sh -c \"while :; do :; done\"; grep throttled /sys/fs/cgroup/cpu/cpu.stat"]' \
  'c["linux"]["resources"]["cpu"] = {"quota": 10000, "period": 100000}'
run cpu

say "Lifecycle: create, start, exec, ps, pause, resume, kill, delete"
config '["/bin/sh", "-c", "trap \"echo got SIGTERM; exit 0\" TERM; while :; do sleep 0.1; done"]'
id=demo$$-life; ids+=("$id")
step "berth-runtime create + start $id"; $RT create --bundle "$work" "$id" >/dev/null; $RT start "$id"
step "berth-runtime state $id"; $RT state "$id"
step "berth-runtime exec $id ps"; $RT exec "$id" ps
step "berth-runtime pause $id"; $RT pause "$id"; $RT list
step "berth-runtime resume $id"; $RT resume "$id"
step "berth-runtime kill $id TERM"; $RT kill "$id" TERM; sleep 0.3
step "berth-runtime delete $id"; $RT delete "$id"

say "Zombies (seed 000 §6.7): without an init, orphans stay zombies; berth-init reaps them"
config '["/bin/sh", "-c", "(sleep 0.1 &); exec sleep 3"]'
id=demo$$-zomb; ids+=("$id")
$RT create --bundle "$work" "$id" >/dev/null; $RT start "$id"; sleep 0.5
step "without init:"; $RT exec "$id" sh -c 'ps -o pid,stat,comm | grep -E "STAT| Z "'
$RT delete --force "$id"
config '["/sbin/berth-init", "--", "/bin/sh", "-c", "(sleep 0.1 &); exec sleep 3"]'
id=demo$$-init; ids+=("$id")
$RT create --bundle "$work" "$id" >/dev/null; $RT start "$id"; sleep 0.5
step "with berth-init as PID 1:"; $RT exec "$id" sh -c 'ps -o pid,stat,comm'
$RT delete --force "$id"

say "Timing: where a container start spends its time (BERTH_TRACE=1)"
config '["/bin/true"]'
BERTH_TRACE=1 $RT run --bundle "$work" demo$$-trace

say "Done. Benchmarks: bench/runtime_bench.py (results in bench/RESULTS.md)"
