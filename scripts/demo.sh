#!/usr/bin/env bash
# berth's main job today: install what is needed, build, and run the container scenario of seed 001
# with berth-runtime, then the image workflow of seed 002 with berthd and the berth CLI (bootstrap a
# base image, push it to a local registry, pull it back, save/load, the docker CLI against berthd).
# Then the container scenarios of seed 001 §3.2 and §3.5.6 and seed 003 with berth run/exec/ps.
# Originally:
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

# ---- Images (issue 3): berthd, the berth CLI, a registry ----
# A daemon of the demo's own (socket, data root), so nothing here touches /var/lib/berth; with no
# -H/BERTH_HOST, `berth` would start berthd on /run/berth/berth.sock by itself.
img=$(mktemp -d /var/tmp/berth-demo-images.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\nhttp:\n  addr: 127.0.0.1:%s\n' "$img" "$port" >"$img/registry.yml"
docker-registry serve "$img/registry.yml" >"$img/registry.log" 2>&1 & regpid=$!
"$BIN/berthd" -H "unix://$img/berth.sock" --data-root "$img/data" --exec-root "$img/run" 2>"$img/berthd.log" & bdpid=$!
images_cleanup() {
  # Containers outlive berthd by design: remove them first.
  ids_left=$("$BIN/berth" -H "unix://$img/berth.sock" ps -aq 2>/dev/null || true)
  [ -z "$ids_left" ] || "$BIN/berth" -H "unix://$img/berth.sock" rm -f $ids_left >/dev/null 2>&1 || true
  kill "$bdpid" "$regpid" 2>/dev/null || true
  wait "$bdpid" "$regpid" 2>/dev/null || true
  rm -rf "$img"
}
trap 'images_cleanup; cleanup' EXIT
export BERTH_HOST="unix://$img/berth.sock"
for _ in $(seq 100); do [ -S "$img/berth.sock" ] && curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
B="$BIN/berth"
REG="127.0.0.1:$port"

say "Images without Docker Hub: a busybox base image made from Debian's busybox-static"
step "berth image bootstrap busybox"; $B image bootstrap busybox
step "berth images"; $B images
step "berth history busybox"; $B history busybox
step "berth image inspect -f ..."; $B image inspect -f '{{.Id}} {{.Os}}/{{.Architecture}} Cmd={{json .Config.Cmd}} layers={{len .RootFS.Layers}}' busybox

say "A registry (Debian's docker-registry on $REG): push, remove, pull back: same digests"
step "berth tag busybox $REG/demo/busybox:1"; $B tag busybox "$REG/demo/busybox:1"
step "berth push $REG/demo/busybox:1"; $B push "$REG/demo/busybox:1"
step "berth rmi busybox $REG/demo/busybox:1"; $B rmi busybox "$REG/demo/busybox:1"
step "berth pull $REG/demo/busybox:1"; $B pull "$REG/demo/busybox:1"
step "berth images --digests"; $B images --digests
step "berth pull again (nothing to download)"; $B pull "$REG/demo/busybox:1"

say "Archives: berth save is read by skopeo; berth load takes it back"
step "berth save -o busybox.tar $REG/demo/busybox:1"; $B save -o "$img/busybox.tar" "$REG/demo/busybox:1"
step "skopeo inspect docker-archive:busybox.tar"; skopeo inspect "docker-archive:$img/busybox.tar" | grep -E '"(Digest|Architecture|Os)"'
step "berth rmi + berth load -i busybox.tar"; $B rmi -f "$REG/demo/busybox:1" >/dev/null; $B load -i "$img/busybox.tar"

say "The real docker CLI against berthd (Docker Engine API $($B version -f '{{.Server.APIVersion}}'))"
step "docker images"; DOCKER_HOST=$BERTH_HOST /usr/local/bin/docker images 2>/dev/null || DOCKER_HOST=$BERTH_HOST docker images
step "berth system df"; $B system df

# ---- Containers (issue 4): seed 001 §3.2 and §3.5.6, seed 003's limits, with berth ----
say "Seed 001 §3.2: run a container, see it exited in ps -a, remove it"
step "berth run --name hello busybox echo Hello from a container"; $B run --name hello busybox echo Hello from a container
step "berth ps -a"; $B ps -a
step "berth rm hello"; $B rm hello

say "Seed 001 §3.2.3: isolation (its own pid, uts and mount namespaces; its own writable layer)"
step "berth run --rm busybox sh -c 'echo PID 1 is \$(cat /proc/1/cmdline); hostname; echo x > /only-here'"
$B run --rm busybox sh -c 'echo "PID 1 is $(tr "\0" " " </proc/1/cmdline)"; hostname; echo x > /only-here'
step "berth run --rm busybox cat /only-here   # not there: each container has its own layer"
$B run --rm busybox cat /only-here || true

say "Seed 001 §3.2.4: exec into a running --init --rm container, killall sleep ends it"
step "berth run -d --name deadlock-app --rm --init busybox sleep 1d"; $B run -d --name deadlock-app --rm --init busybox sleep 1d
step "berth exec deadlock-app ps -a"; $B exec deadlock-app ps -a
step "berth exec deadlock-app killall sleep"; $B exec deadlock-app killall sleep
for _ in $(seq 50); do $B ps -a --format '{{.Names}}' | grep -q deadlock-app || break; sleep 0.1; done
step "berth ps -a   # removed by --rm"; $B ps -a

say "Seed 003: limits are cgroups (--cpus 1 --memory 100m), and enforced (OOM kill)"
step "berth run -d --name limited --cpus 1 --memory 100m busybox sleep 100"
cid=$($B run -d --name limited --cpus 1 --memory 100m busybox sleep 100)
step "cat /sys/fs/cgroup/memory/berth/<id>/memory.limit_in_bytes"; cat "/sys/fs/cgroup/memory/berth/$cid/memory.limit_in_bytes" 2>/dev/null || cat "/sys/fs/cgroup/berth/$cid/memory.max"
step "berth inspect --format '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}' limited"; $B inspect --format '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}' limited
step "berth stop -t 1 limited && berth rm limited"; $B stop -t 1 limited; $B rm limited
step "berth run --name hungry --memory 50m --memory-swap 50m busybox sh -c 'x=\$(head -c 300000000 /dev/zero | tr ...)'"
$B run --name hungry --memory 50m --memory-swap 50m busybox sh -c 'x=$(head -c 300000000 /dev/zero | tr "\0" x); echo survived' || echo "exit status $?"
step "berth inspect --format '{{.State.OOMKilled}} {{.State.ExitCode}}' hungry"; $B inspect --format '{{.State.OOMKilled}} {{.State.ExitCode}}' hungry
$B rm hungry >/dev/null

say "Seed 001 §3.5.6: zombies stay without --init and are reaped with it"
z='(sleep 0.2 &); exec sleep 100'
$B run -d --name no-init busybox sh -c "$z" >/dev/null; $B run -d --name with-init --init busybox sh -c "$z" >/dev/null; sleep 1
for n in no-init with-init; do
  printf '%s: %s zombie(s)\n' "$n" "$($B exec $n sh -c 'cat /proc/[0-9]*/stat' | awk '{print $3}' | grep -c Z || true)"
done
$B rm -f no-init with-init >/dev/null

say "The docker CLI runs containers on berthd too"
step "docker run --rm busybox sh -c 'echo out; echo err >&2'"; DOCKER_HOST=$BERTH_HOST /usr/local/bin/docker run --rm busybox sh -c 'echo out; echo err >&2'

say "Done. Benchmarks: bench/runtime_bench.py, bench/pull_bench.py, bench/run_bench.py (results in bench/RESULTS.md)"
