#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, conformance, integration and end-to-end tests
# that start the real binary), the `otel` feature's export test, then the Python package's
# type check and lint, and its and the FastAPI example's pytest suites in ./.venv (made, or
# brought up to date, by scripts/python-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
# OpenTelemetry export is behind a feature: its end-to-end test (a real OTLP receiver).
cargo test -p workhorse-cli --features otel --test otel --locked
bash scripts/python-env.sh
# The Python package is typed and linted: mypy --strict (pyproject's [tool.mypy]) and ruff.
(cd python && ../.venv/bin/python -m mypy && ../.venv/bin/ruff check . && ../.venv/bin/ruff format --check .)
.venv/bin/ruff check examples/fastapi_app
.venv/bin/python -m pytest -q python/tests
(cd examples/fastapi_app && ../../.venv/bin/python -m pytest -q)
