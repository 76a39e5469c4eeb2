"""Starting and stopping the processes of a run: every one in its own process group (so a
worker's children go with it), its output in the run's log folder, its id in `pids` (for
run.sh's trap). Only processes started here are ever signalled."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

STOP_GRACE_SECONDS = 10.0


class Processes:
    """The processes of one measurement; `stop_all` ends every one still running."""

    _counter = itertools.count()

    def __init__(self, log_dir: Path, pid_file: Path) -> None:
        self.log_dir = log_dir
        self.pid_file = pid_file
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, command: Sequence[str], env: Mapping[str, str], cwd: Path
    ) -> subprocess.Popen[bytes]:
        log = self.log_dir / f"{next(self._counter):04d}-{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                list(command),
                env=dict(env),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        with self.pid_file.open("a") as pids:
            pids.write(f"{process.pid}\n")
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """`kill -9` the worker and everything it forked: its process group, and
        descendants that left the group (RQ's work horse calls `setsid`)."""
        descendants = psutil.Process(process.pid).children(recursive=True)
        _signal_group(process, signal.SIGKILL)
        for child in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        process.wait()

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the group, then SIGKILL after the grace period."""
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_GRACE_SECONDS)
        _signal_group(process, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in reversed(self.running):
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in reversed(self.running):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
            # Children left behind in the group (pool processes) go too.
            _signal_group(process, signal.SIGKILL)
            process.wait()
        self.running.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
