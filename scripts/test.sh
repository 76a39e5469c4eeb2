#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, conformance, integration and end-to-end tests
# that start the real binary).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
