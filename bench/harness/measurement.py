"""One measurement: a fresh broker, the probe file, and the processes of one system, all
torn down when it ends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from harness import probe
from harness.processes import Processes
from harness.records import ProbeFile
from harness.servers import Broker, start_redis, start_workhorse
from harness.systems import BENCH, Command, System, with_broker

PRODUCER_TIMEOUT_SECONDS = 1800.0
FILL_PRODUCERS = 2
"""Producer processes that fill a backlog together (one per core)."""


@dataclass(frozen=True)
class Run:
    """What every measurement of a run shares."""

    workhorse_binary: Path
    log_dir: Path
    pid_file: Path


class Measurement:
    """`with Measurement(run, system, broker_mode) as m:` — a fresh broker for `system`
    (`broker_mode` is the Redis fsync mode; ignored for Workhorse)."""

    def __init__(self, run: Run, system: System, broker_mode: str) -> None:
        self.run = run
        self.system = system
        self.broker_mode = broker_mode
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-{system.name}-", dir=run.log_dir))
        self.processes = Processes(self.dir, run.pid_file)
        self.probe = ProbeFile(self.dir / "probe.log")
        self.release_file = self.dir / "released"
        self.broker: Broker

    def __enter__(self) -> Measurement:
        store = self.dir / "broker"
        store.mkdir()
        if self.system.broker == "workhorse":
            self.broker = start_workhorse(self.run.workhorse_binary, store, self.processes)
        else:
            self.broker = start_redis(self.broker_mode, store, self.processes)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.processes.stop_all()
        if kind is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(BENCH),
            "PYTHONDONTWRITEBYTECODE": "1",
            "BENCH_BROKER_URL": self.broker.url,
            "WORKHORSE_URL": self.broker.url,
            probe.PROBE_ENV: str(self.probe.path),
            probe.RELEASE_ENV: str(self.release_file),
        }

    def start(self, command: Command) -> subprocess.Popen[bytes]:
        command = with_broker(command, self.broker.url)
        return self.processes.start(command.name, command.argv, {**self.env, **command.env}, BENCH)

    def start_workers(self, slots: int | None = None) -> list[subprocess.Popen[bytes]]:
        return [self.start(command) for command in self.system.workers(slots)]

    def produce(self, op: str, *args: object) -> dict[str, Any]:
        """Runs `python -m harness.produce` in the system's venv; returns its JSON."""
        argv = [self.system.python(), "-m", "harness.produce", self.system.app, op, *map(str, args)]
        return self._run_json(argv)

    def fill(self, jobs: int, batch_size: int, producers: int = FILL_PRODUCERS) -> dict[str, Any]:
        """Enqueues `jobs` waiting jobs in batches from `producers` processes at once (the
        untimed fill before a drain, the memory scenario's backlog); returns the combined rate."""
        shares = [jobs // producers + (1 if i < jobs % producers else 0) for i in range(producers)]
        firsts = [sum(shares[:i]) for i in range(producers)]  # each producer numbers its own jobs
        argv = [self.system.python(), "-m", "harness.produce", self.system.app, "batch"]
        started = time.monotonic()
        running = [
            subprocess.Popen(
                [*argv, str(share), str(batch_size), str(first)],
                env=self.env,
                cwd=BENCH,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for share, first in zip(shares, firsts, strict=True)
            if share
        ]
        for process in running:
            _, stderr = process.communicate(timeout=PRODUCER_TIMEOUT_SECONDS)
            if process.returncode != 0:
                raise RuntimeError(f"fill producer failed ({process.returncode}): {stderr[-2000:]}")
        seconds = time.monotonic() - started
        return {"jobs": jobs, "seconds": seconds, "jobs_per_second": jobs / max(seconds, 1e-9)}

    def workhorse_bench(self, *args: str) -> dict[str, Any]:
        """Runs `workhorse bench` against this measurement's server; returns its JSON."""
        out = self.dir / f"workhorse-bench-{time.monotonic_ns()}.json"
        argv = [
            str(self.run.workhorse_binary),
            "bench",
            "--url",
            self.broker.url,
            *args,
            "--json-out",
            str(out),
        ]
        self._run_json(argv, json_file=out)
        return dict(json.loads(out.read_text()))

    def _run_json(self, argv: list[str], json_file: Path | None = None) -> dict[str, Any]:
        done = subprocess.run(
            argv,
            env=self.env,
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=PRODUCER_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[1:4]} failed ({done.returncode}): {done.stderr[-2000:]}")
        if json_file is not None:
            return {}
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Polls `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
