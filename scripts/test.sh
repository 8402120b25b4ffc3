#!/usr/bin/env bash
# The whole test suite: format, lints, unit tests, and (as root) integration, conformance and interop
# tests against runc, crun, podman and containerd. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Release binaries too: berth-init's freestanding (no libc) build is the release profile.
cargo build --workspace --all-targets
cargo build --workspace --release
cargo test --release -p berth-init
cargo test --workspace
