#!/usr/bin/env bash
# End-to-end throughput with Rust workers: SQLite (one node), PostgreSQL with one node, and
# PostgreSQL with three nodes, in one run on this machine.
#
#   bash bench/cluster.sh [--jobs N] [--workers N] [--concurrency N]
#
# Each setup gets a fresh store. A "node" is a `workhorse serve` process; in the three-node
# run every node gets its own `workhorse bench --phases e2e` process (its producer enqueues
# N/3 jobs through that node, then its workers drain them through the same node), all three
# started together, so producers and workers are spread over the nodes and every commit,
# fetch and acknowledgement goes to the one PostgreSQL. jobs/s = all jobs ÷ the wall time
# from the first drain's start to the last drain's end (the drains overlap).
#
# PostgreSQL runs with its defaults for durability (fsync on, synchronous_commit on) from
# Debian's packages (initdb/pg_ctl run as the `postgres` user), on a temporary directory.
set -euo pipefail

JOBS=60000
WORKERS=2
CONCURRENCY=128
while [[ $# -gt 0 ]]; do
  case "$1" in
    --jobs) JOBS="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARY="$ROOT/target/release/workhorse"
[[ -x "$BINARY" ]] || (cd "$ROOT" && cargo build --release -p workhorse-cli)
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
WORK="$(mktemp -d /tmp/workhorse-cluster-bench.XXXXXX)"
chmod 755 "$WORK"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -d "$WORK/pg" ]]; then
    su postgres -c "$PG_BIN/pg_ctl -D $WORK/pg -m immediate stop" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "node on port $1 did not become ready" >&2
  return 1
}

start_node() { # start_node NAME PORT ARGS...: starts `workhorse serve`, waits until ready
  local name="$1" port="$2"
  shift 2
  "$BINARY" serve --listen "127.0.0.1:$port" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  wait_ready "$port"
}

stop_nodes() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

start_postgres() {
  local port
  port="$(free_port)"
  mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
  su postgres -c "$PG_BIN/initdb -D $WORK/pg -A trust -U postgres" >/dev/null
  su postgres -c "$PG_BIN/pg_ctl -D $WORK/pg -w -l $WORK/pg/log -o '-p $port -k $WORK/pg -c max_connections=200 -c shared_buffers=256MB' start" >/dev/null
  su postgres -c "$PG_BIN/createdb -h 127.0.0.1 -p $port workhorse"
  echo "postgres://postgres@127.0.0.1:$port/workhorse"
}

drain() { # drain PORT JOBS OUT: one `workhorse bench --phases e2e` through the node on PORT
  "$BINARY" bench --url "http://127.0.0.1:$1" --phases e2e --jobs "$2" --workers "$WORKERS" \
    --concurrency "$CONCURRENCY" --json-out "$3" >/dev/null 2>"$3.log"
}

# rate FILES...: all jobs of the reports ÷ the span from the first drain's start to the last
# drain's end, in jobs/s.
rate() {
  python3 - "$@" <<'EOF'
import json, sys
reports = [json.load(open(path))["end_to_end"] for path in sys.argv[1:]]
jobs = sum(r["jobs"] for r in reports)
first_start = min(r["ended_at_unix"] - r["seconds"] for r in reports)
last_end = max(r["ended_at_unix"] for r in reports)
seconds = last_end - first_start
print(f"{jobs} {seconds:.2f} {jobs / seconds:.0f}")
EOF
}

printf '%-28s %10s %10s %10s\n' setup jobs seconds jobs/s
report() { read -r jobs seconds per_second <<<"$2"; printf '%-28s %10s %10s %10s\n' "$1" "$jobs" "$seconds" "$per_second"; }

port="$(free_port)"
start_node sqlite "$port" --data-dir "$WORK/sqlite"
drain "$port" "$JOBS" "$WORK/sqlite.json"
stop_nodes
report "SQLite, 1 node" "$(rate "$WORK/sqlite.json")"

url="$(start_postgres)"
"$BINARY" migrate --database "$url" --data-dir "$WORK/migrate" >/dev/null
port="$(free_port)"
start_node pg1 "$port" --database "$url" --data-dir "$WORK/pg1"
drain "$port" "$JOBS" "$WORK/pg1.json"
stop_nodes
report "PostgreSQL, 1 node" "$(rate "$WORK/pg1.json")"

ports=()
for i in 1 2 3; do
  ports+=("$(free_port)")
  start_node "pg3-$i" "${ports[-1]}" --database "$url" --data-dir "$WORK/pg3-$i"
done
share=$((JOBS / 3))
bench_pids=()
for i in 0 1 2; do
  drain "${ports[$i]}" "$share" "$WORK/pg3-$i.json" &
  bench_pids+=("$!")
done
for pid in "${bench_pids[@]}"; do wait "$pid"; done
stop_nodes
report "PostgreSQL, 3 nodes" "$(rate "$WORK"/pg3-*.json)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); jobs=$JOBS workers=$WORKERS×$CONCURRENCY per bench process"
