"""Helpers for tests that drive real processes: a `workhorse serve` process, worker
processes, and polling with a deadline (never a fixed sleep)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from workhorse import Client, ServerUnavailable

if TYPE_CHECKING:
    from typing_extensions import Self

T = TypeVar("T")

PYTHON_DIR = Path(__file__).resolve().parent.parent
"""`python/`: worker processes run here, so `tests.apps...` imports."""

DEADLINE = 30.0


def wait_until(
    condition: Callable[[], T], timeout: float = DEADLINE, what: str = "condition"
) -> T:
    """Polls `condition` until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout} s")
        time.sleep(0.02)


def job_counts(client: Client) -> Counter[str]:
    """Jobs per state, over every queue."""
    document = json.loads(client.list_queues_sync())
    queues = document["queues"] if isinstance(document, dict) else document
    counts: Counter[str] = Counter()
    for queue in queues:
        counts.update(queue["counts"])
    return counts


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServeProcess:
    """`python -m workhorse serve` on a free port and `data_dir`, ready once `/healthz`
    answers; stopped with SIGTERM."""

    def __init__(self, data_dir: Path, *, lease: float | None = None) -> None:
        self.data_dir = data_dir
        self.lease = lease
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        port_file = self.data_dir / "port"
        command = [
            sys.executable, "-m", "workhorse", "serve", "--listen", "127.0.0.1:0",
            "--data-dir", str(self.data_dir), "--port-file", str(port_file),
        ]  # fmt: skip
        if self.lease is not None:
            command += ["--lease-ms", str(round(self.lease * 1000))]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        address = wait_until(lambda: self._address(port_file), what="serve listening")
        self.url = f"http://{address}"
        wait_until(self._healthy, what="/healthz")
        return self

    def _address(self, port_file: Path) -> str | None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"workhorse serve exited with {self.process.returncode}")
        text = port_file.read_text().strip() if port_file.exists() else ""
        return text or None

    def _healthy(self) -> bool:
        try:
            Client(self.url).health_sync()
        except ServerUnavailable:
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_worker(app: str, url: str, *args: str) -> subprocess.Popen[bytes]:
    """`python -m workhorse worker APP` against `url`, from `python/`."""
    env = {**os.environ, "WORKHORSE_URL": url}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workhorse",
            "worker",
            app,
            "--log-level",
            "warning",
            *args,
        ],
        cwd=PYTHON_DIR,
        env=env,
    )
