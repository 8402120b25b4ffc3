#!/usr/bin/env bash
# Installs everything berth's build, tests and benchmarks need on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

PKGS=(
  busybox-static   # the test image's /bin/busybox
  runc crun        # reference OCI runtimes for the conformance suite and the benchmark
  podman           # interop: podman --runtime berth-runtime
  containerd       # interop: ctr run --runc-binary berth-runtime
  hyperfine        # not used for timing tests; handy for ad-hoc comparisons
  iproute2 strace util-linux
  docker-registry  # a real registry on 127.0.0.1 for pull/push tests
  skopeo           # interop: copies images to and from berth
  debootstrap      # berth image bootstrap debian:...
  docker.io        # dockerd for side-by-side benchmarks (started by hand, own socket and data root)
  pigz curl
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
