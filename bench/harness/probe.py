"""What the benchmark tasks record: one line per event, appended to a shared file.

Imported by worker processes of every system, so it needs the standard library only.
Every event is one `os.write` to a file opened with `O_APPEND` (atomic on Linux for lines
this short): nothing is buffered in the process, so a worker killed with `kill -9` loses no
record it wrote, and forking workers (RQ, Celery prefork) need no flush.

Line format: `<kind> <job> <start_ns> <end_ns> <pid>`, times from `time.time_ns()` (the
wall clock, shared by every process on the machine).
"""

from __future__ import annotations

import os
import time

PROBE_ENV = "BENCH_PROBE_FILE"
RELEASE_ENV = "BENCH_RELEASE_FILE"

_fd: int | None = None
_fd_pid: int | None = None


def _descriptor() -> int:
    global _fd, _fd_pid
    pid = os.getpid()
    if _fd is None or _fd_pid != pid:
        _fd = os.open(os.environ[PROBE_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _fd_pid = pid
    return _fd


def record(kind: str, job: int, start_ns: int, end_ns: int = 0) -> None:
    """Appends one event line."""
    line = f"{kind} {job} {start_ns} {end_ns} {os.getpid()}\n"
    os.write(_descriptor(), line.encode())


def noop(job: int) -> None:
    """The body of the no-op task: records its own start and end."""
    start = time.time_ns()
    record("done", job, start, time.time_ns())


def stamp(job: int, enqueued_ns: int) -> None:
    """The body of the latency task: records its start against its enqueue time (the
    `end` field carries the enqueue time)."""
    record("start", job, time.time_ns(), enqueued_ns)


def tick() -> None:
    """The body of the scheduled task: records when this fire started."""
    record("tick", 0, time.time_ns())


def released() -> bool:
    """Whether the orchestrator has released the held jobs (scenario 4)."""
    return os.path.exists(os.environ[RELEASE_ENV])


def hold_started(job: int) -> int:
    """Records the start of a held job and returns its start time."""
    start = time.time_ns()
    record("held", job, start)
    return start


def hold_finished(job: int, start: int) -> None:
    record("done", job, start, time.time_ns())


HOLD_POLL_SECONDS = 0.05
"""How often a held job checks whether it was released."""


def hold_sync(job: int) -> None:
    """The body of the held task, for thread and process workers."""
    start = hold_started(job)
    while not released():
        time.sleep(HOLD_POLL_SECONDS)
    hold_finished(job, start)


async def hold_async(job: int) -> None:
    """The body of the held task, for asyncio workers."""
    import asyncio

    start = hold_started(job)
    while not released():
        await asyncio.sleep(HOLD_POLL_SECONDS)
    hold_finished(job, start)
