"""Process isolation: tasks declared `isolation="process"` run in child processes.

Each child is a fresh interpreter (the "spawn" start method: the worker's native threads
must never be forked) that imports the task by module and qualified name and runs one job
at a time. Children are reused from job to job (up to `Recycling`'s limits on jobs and
memory); a job told to stop (cancel, time limit, shutdown) gets its child killed, which is
the only way to stop CPU-bound Python code, and a fresh child takes its place on demand.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from workhorse import _json
from workhorse.context import ContextSlot, JobContext, Resources
from workhorse.errors import ArgumentNotSerializable
from workhorse.logs import (
    JobJsonFormatter,
    LogFormat,
    configure_logging,
    current_job,
    install_job_records,
)
from workhorse.outcomes import Failure, failure_of

if TYPE_CHECKING:
    from workhorse.context import JobLink
    from workhorse.tasks import Task

__all__ = ["EncodedResult", "ProcessFailure", "ProcessPool", "Recycling"]

logger = logging.getLogger("workhorse.worker")


@dataclass(frozen=True)
class ProcessRequest:
    """What a child needs to run one job (sent pickled over its pipe)."""

    module: str
    qualname: str
    task: str
    job_id: str
    queue: str
    attempt: int
    max_attempts: int
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    context_slot: ContextSlot | None


class EncodedResult(str):
    """A task's result, already JSON text (the child encoded it)."""

    __slots__ = ()


class ProcessFailure(Exception):
    """A job's attempt failed in its child process; `failure` is the report."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class Recycling:
    """When a child is replaced, between two jobs (`celery worker --max-tasks-per-child`
    and `--max-memory-per-child`): after `max_jobs` jobs, or once its resident memory
    after a job is over `max_memory_kib`. A child is never stopped mid-job for this: the
    job it ran is reported first, and the next job starts in a fresh child."""

    max_jobs: int | None = None
    max_memory_kib: int | None = None

    def is_due(self, child: _Child) -> bool:
        return (self.max_jobs is not None and child.jobs_run >= self.max_jobs) or (
            self.max_memory_kib is not None and child.rss_kib > self.max_memory_kib
        )


class ProcessPool:
    """Up to `size` children, each running one job at a time, replaced as `recycling`
    says."""

    def __init__(self, size: int, recycling: Recycling | None = None) -> None:
        self._spawn = multiprocessing.get_context("spawn")
        self._free = asyncio.Semaphore(size)
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()
        self._recycling = recycling or Recycling()

    async def run(
        self, task: Task[Any, Any], link: JobLink, request: ProcessRequest
    ) -> EncodedResult:
        """Runs the job described by `request` in a child; raises `ProcessFailure` when it
        failed, and kills the child when the waiting task is cancelled."""
        async with self._free:
            child = (
                self._idle.pop() if self._idle else await self._start_child(task.name)
            )
            try:
                result = await child.run(request, link)
            except BaseException:
                self._children.discard(child)
                child.kill()
                raise
            self._settle(child)
            return result

    def _settle(self, child: _Child) -> None:
        """After a job: the child waits for the next one, or is replaced."""
        if not child.process.is_alive():
            self._children.discard(child)
        elif self._recycling.is_due(child):
            logger.info(
                "replacing task process %s after %d job(s) at %d KiB resident",
                child.process.pid,
                child.jobs_run,
                child.rss_kib,
            )
            self._children.discard(child)
            child.ask_to_exit()
            child.stop_later()
        else:
            self._idle.append(child)

    async def _start_child(self, task: str) -> _Child:
        logger.debug("starting a process for task %s", task)
        loop = asyncio.get_running_loop()
        child = await loop.run_in_executor(None, _Child.start, self._spawn)
        self._children.add(child)
        return child

    def close(self) -> None:
        """Stops every child: idle ones are asked to exit, the others are killed."""
        for child in self._idle:
            child.ask_to_exit()
        for child in self._children:
            child.stop()
        self._idle.clear()
        self._children.clear()


class _Child:
    """One child process and the parent's end of its pipe."""

    def __init__(
        self, process: multiprocessing.process.BaseProcess, conn: Connection
    ) -> None:
        self.process = process
        self.conn = conn
        self.jobs_run = 0
        self.rss_kib = 0
        """Resident memory after the last job, as the child reported it."""

    @classmethod
    def start(cls, spawn: Any) -> _Child:
        parent_end, child_end = spawn.Pipe()
        root = logging.getLogger()
        level = root.level if root.handlers else None
        json_logs = any(
            isinstance(h.formatter, JobJsonFormatter) for h in root.handlers
        )
        process = spawn.Process(
            target=child_main,
            args=(child_end, level, "json" if json_logs else "text"),
            name="workhorse-task",
            daemon=True,
        )
        process.start()
        child_end.close()
        return cls(process, parent_end)

    async def run(self, request: ProcessRequest, link: JobLink) -> EncodedResult:
        try:
            self.conn.send(request)
            while True:
                message = await self._receive()
                if message[0] == "progress":
                    link.progress(message[1], message[2])
                    continue
                self.jobs_run += 1
                self.rss_kib = message[-1]
                if message[0] == "result":
                    return EncodedResult(message[1])
                raise ProcessFailure(Failure(*message[1:-1]))
        except (EOFError, OSError):
            self.process.join(1.0)
            raise ProcessFailure(
                Failure(
                    "ProcessDied",
                    f"the task's process exited with code {self.process.exitcode} before "
                    "the task finished",
                    None,
                )
            ) from None

    async def _receive(self) -> Any:
        if not self.conn.poll():
            loop = asyncio.get_running_loop()
            readable: asyncio.Future[None] = loop.create_future()
            fd = self.conn.fileno()

            def wake() -> None:
                if not readable.done():
                    readable.set_result(None)

            loop.add_reader(fd, wake)
            try:
                await readable
            finally:
                loop.remove_reader(fd)
        return self.conn.recv()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(1.0)
        self.conn.close()

    def ask_to_exit(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass

    def stop(self) -> None:
        self.process.join(1.0)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()

    def stop_later(self) -> None:
        """Reaps the child, asked to exit, off the event loop (its exit takes a moment)."""
        threading.Thread(target=self.stop, name="workhorse-reap", daemon=True).start()


def child_main(
    conn: Connection, log_level: int | None, log_format: LogFormat = "text"
) -> None:
    """The child process: runs the jobs it is sent until told to exit. Each answer ends
    with the child's resident memory (KiB), for recycling."""
    # The worker handles ctrl-c and stops its children; they must not die of it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    install_job_records()
    if log_level is not None:
        configure_logging(logging.getLevelName(log_level), log_format)
    functions: dict[tuple[str, str], Callable[..., Any]] = {}
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the worker is gone
            return
        if request is None:
            return
        conn.send((*_run(request, conn, functions), _resident_kib()))


def _resident_kib() -> int:
    """This process's resident memory now (Linux `/proc`), else its peak (`getrusage`)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run(
    request: ProcessRequest,
    conn: Connection,
    functions: dict[tuple[str, str], Callable[..., Any]],
) -> tuple[Any, ...]:
    token = current_job.set((request.job_id, request.task))
    try:
        where = (request.module, request.qualname)
        fn = functions.get(where) or _resolve(*where)
        functions[where] = fn
        args, kwargs = request.args, request.kwargs
        if request.context_slot is not None:
            args = request.context_slot.insert(_context(conn, request), args, kwargs)
        if inspect.iscoroutinefunction(fn):
            result = asyncio.run(fn(*args, **kwargs))
        else:
            result = fn(*args, **kwargs)
        return ("result", _json.dumps_result(result, request.task))
    except ArgumentNotSerializable as error:
        return ("error", "ResultNotSerializable", str(error), None, None, True)
    except Exception as error:  # noqa: BLE001 - every task error is reported, never raised
        return ("error", *failure_of(error))
    finally:
        current_job.reset(token)


def _resolve(module: str, qualname: str) -> Callable[..., Any]:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    from workhorse.tasks import Task

    return target.fn if isinstance(target, Task) else target


class _PipeLink:
    """A child's link to its job: progress goes to the worker over the pipe. The job is
    never seen cancelled here: a stopped job's process is killed."""

    cancelled = False
    stop_reason = None

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def progress(self, fraction: float, message: str | None = None) -> None:
        self._conn.send(("progress", fraction, message))


def _context(conn: Connection, request: ProcessRequest) -> JobContext:
    resources = Resources()
    resources.unavailable_reason = (
        "on_startup resources live in the worker process; a task with "
        'isolation="process" must open what it needs itself'
    )
    return JobContext(
        _PipeLink(conn),
        job_id=request.job_id,
        task=request.task,
        queue=request.queue,
        attempt=request.attempt,
        max_attempts=request.max_attempts,
        resources=resources,
    )
