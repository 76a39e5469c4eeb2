#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, conformance, integration and end-to-end tests
# that start the real binary), the `otel` feature's export test, then the Python package's and the FastAPI example's pytest
# suites in ./.venv (made, or brought up to date, by scripts/python-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
# OpenTelemetry export is behind a feature: its end-to-end test (a real OTLP receiver).
cargo test -p workhorse-cli --features otel --test otel --locked
bash scripts/python-env.sh
.venv/bin/python -m pytest -q python/tests
(cd examples/fastapi_app && ../../.venv/bin/python -m pytest -q)
