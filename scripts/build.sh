#!/usr/bin/env bash
# Builds every berth binary, statically linked (see docs/decisions/0002-static-binaries.md).
# Usage: scripts/build.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install the Rust toolchain (rustup) first" >&2
  exit 1
fi
cargo build --workspace --all-targets "$@"
