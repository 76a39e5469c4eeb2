"""Process isolation: tasks declared `isolation="process"` run in child processes.

Each child is a fresh interpreter (the "spawn" start method: the worker's native threads
must never be forked) that imports the task by module and qualified name and runs one job
at a time. Children are reused from job to job; a job told to stop (cancel, time limit,
shutdown) gets its child killed, which is the only way to stop CPU-bound Python code, and
a fresh child takes its place on demand.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import multiprocessing
import signal
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from workhorse import _json
from workhorse.context import ContextSlot, JobContext, Resources
from workhorse.errors import ArgumentNotSerializable
from workhorse.logs import configure_logging, current_job, install_job_records
from workhorse.outcomes import Failure, failure_of

if TYPE_CHECKING:
    from workhorse.context import JobLink
    from workhorse.tasks import Task

__all__ = ["EncodedResult", "ProcessFailure", "ProcessPool"]

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


class ProcessPool:
    """Up to `size` children, each running one job at a time."""

    def __init__(self, size: int) -> None:
        self._spawn = multiprocessing.get_context("spawn")
        self._free = asyncio.Semaphore(size)
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()

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
            self._idle.append(child)
            return result

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

    @classmethod
    def start(cls, spawn: Any) -> _Child:
        parent_end, child_end = spawn.Pipe()
        level = logging.getLogger().level if logging.getLogger().handlers else None
        process = spawn.Process(
            target=child_main,
            args=(child_end, level),
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
                elif message[0] == "result":
                    return EncodedResult(message[1])
                else:
                    raise ProcessFailure(Failure(*message[1:]))
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


def child_main(conn: Connection, log_level: int | None) -> None:
    """The child process: runs the jobs it is sent until told to exit."""
    # The worker handles ctrl-c and stops its children; they must not die of it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    install_job_records()
    if log_level is not None:
        configure_logging(logging.getLevelName(log_level))
    functions: dict[tuple[str, str], Callable[..., Any]] = {}
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the worker is gone
            return
        if request is None:
            return
        conn.send(_run(request, conn, functions))


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
