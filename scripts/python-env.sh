#!/usr/bin/env bash
# Makes ./.venv: a virtualenv with the Python package `workhorse` built from this tree (native
# module in the dev profile, installed in place with `maturin develop`) and the test tools.
# Idempotent; re-running rebuilds the native module only when the Rust sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  "maturin>=1.9,<2" pytest pytest-asyncio httpx "fastapi>=0.121" uvicorn ruff mypy "pydantic>=2.7,<3"
(cd python && ../"$venv"/bin/maturin develop -q --profile "${WORKHORSE_PY_PROFILE:-dev}")
