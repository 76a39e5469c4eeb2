#!/usr/bin/env bash
# Workhorse against Celery, Dramatiq, Taskiq, ARQ and RQ, side by side, on this machine.
#
#   bash bench/run.sh [--quick] [--systems a,b] [--scenarios 1,2] [--redis-modes always,everysec]
#                     [--reps N] [--reinstall]
#
# Installs what it needs (redis-server from Debian, the peers into bench/.venv and
# bench/.venv-arq, the workhorse Python package from ./python, the release binary), starts
# every server itself on 127.0.0.1 with temporary data folders, and stops them all at the end.
# Results: bench/results/<date>.{json,md}, one chart per scenario, bench/results/latest.md.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
BINARY="$ROOT/target/release/workhorse"
REINSTALL=0
ARGS=()
for arg in "$@"; do
  if [[ "$arg" == "--reinstall" ]]; then REINSTALL=1; else ARGS+=("$arg"); fi
done

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v redis-server >/dev/null; then
  log "installing redis-server (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

if [[ ! -x "$BINARY" ]]; then
  log "building the workhorse release binary"
  (cd "$ROOT" && cargo build --release -p workhorse-cli)
fi

# make_venv DIR REQUIREMENTS: creates the venv and installs the pinned requirements once
# (again when the requirements file changes).
make_venv() {
  local dir="$1" requirements="$2"
  [[ -x "$dir/bin/python" ]] || python3 -m venv "$dir"
  if ! cmp -s "$requirements" "$dir/.installed-requirements"; then
    log "installing $(basename "$requirements") into $(basename "$dir")"
    "$dir/bin/pip" install -q --upgrade pip
    "$dir/bin/pip" install -q -r "$requirements"
    cp "$requirements" "$dir/.installed-requirements"
  fi
}
make_venv "$BENCH/.venv" "$BENCH/requirements.txt"
make_venv "$BENCH/.venv-arq" "$BENCH/requirements-arq.txt"

if [[ $REINSTALL == 1 ]] || ! "$BENCH/.venv/bin/python" -c "import workhorse._native" 2>/dev/null; then
  log "installing the workhorse Python package (release build through maturin; takes minutes)"
  "$BENCH/.venv/bin/pip" install -q "$ROOT/python"
fi

export BENCH_LOG_DIR="/tmp/workhorse-bench-$(date +%Y%m%d-%H%M%S)-$$"
export BENCH_ARGS="${ARGS[*]:-}"
mkdir -p "$BENCH_LOG_DIR"

# Whatever the harness started and left running (it stops everything itself; this is for
# an interrupted run): only the process groups whose ids it wrote down.
cleanup() {
  if [[ -f "$BENCH_LOG_DIR/pids" ]]; then
    while read -r pid; do kill -9 -- "-$pid" 2>/dev/null || true; done < "$BENCH_LOG_DIR/pids"
  fi
}
trap cleanup EXIT INT TERM

log "running the benchmark (logs of every process: $BENCH_LOG_DIR)"
cd "$BENCH"
"$BENCH/.venv/bin/python" -m harness --binary "$BINARY" "${ARGS[@]}"
