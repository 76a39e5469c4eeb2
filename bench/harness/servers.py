"""The brokers under test, each started fresh for every measurement on a free loopback port
with its own temporary data folder: Redis (AOF with `appendfsync everysec` or `always`)
and the Workhorse server (SQLite, fsync per group commit)."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.processes import Processes

READY_TIMEOUT_SECONDS = 30.0

REDIS_BASE = {
    "bind": "127.0.0.1",
    "protected-mode": "yes",
    "appendonly": "yes",
    "save": '""',
    "appendfilename": "appendonly.aof",
}
REDIS_MODES = {
    "always": {**REDIS_BASE, "appendfsync": "always"},
    "everysec": {**REDIS_BASE, "appendfsync": "everysec"},
}
"""Redis configurations: AOF on, RDB snapshots off, fsync per write or per second."""

WORKHORSE_SETTINGS = {
    "store": "SQLite (WAL), fsync per group commit: an enqueue or ack is answered after it is on disk",
    "lease_ms": 8000,
    "flags": "serve --listen 127.0.0.1:0 --data-dir <temp> --port-file <temp>/port",
}


@dataclass
class Broker:
    """A running broker: its URL, process and data folder."""

    kind: str
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def rss_bytes(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def disk_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.data_dir.rglob("*") if path.is_file())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(mode: str, data_dir: Path, processes: Processes) -> Broker:
    port = free_port()
    config = {**REDIS_MODES[mode], "port": str(port), "dir": str(data_dir)}
    config_file = data_dir / "redis.conf"
    config_file.write_text("".join(f"{key} {value}\n" for key, value in config.items()))
    process = processes.start(f"redis-{mode}", ["redis-server", str(config_file)], {}, data_dir)
    _wait_for_redis(port, process)
    return Broker(f"redis-{mode}", f"redis://127.0.0.1:{port}/0", process, data_dir)


def _wait_for_redis(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("redis-server did not answer PING in time")


def start_workhorse(binary: Path, data_dir: Path, processes: Processes) -> Broker:
    port_file = data_dir / "port"
    command = [
        str(binary),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        str(data_dir / "store"),
        "--port-file",
        str(port_file),
    ]
    process = processes.start("workhorse-serve", command, {"RUST_LOG": "warn"}, data_dir)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("workhorse serve did not start (see its log)")
        time.sleep(0.02)
    address = port_file.read_text().strip()
    return Broker("workhorse", f"http://{address}", process, data_dir / "store")
