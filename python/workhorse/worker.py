"""The worker runtime: runs an app's tasks for the jobs its native worker session hands
over, on one asyncio event loop.

- Async tasks run on the loop (their first step at once; an asyncio task is made only
  for one that has to wait); plain functions in a thread pool; tasks declared
  `isolation="process"` in child processes (`workhorse._process`).
- The native worker (Rust) holds the WebSocket session: it receives jobs, sends heartbeats
  from its own threads (a blocked thread or a busy loop here never delays them), enforces
  time limits, and batches the outcomes. Python gets jobs and stop notices in batches, one
  await per batch, and answers each job with one plain call (`complete` or `fail`).
- A stop notice (cancel, time limit, lost lease, shutdown) cancels the job's asyncio task,
  kills its child process, or, for a function in a thread, turns `ctx.cancelled` true. The
  native side has already recorded why the job stopped; nothing more is sent for it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import signal
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from workhorse import _json
from workhorse._native import ApiError, NativeJob, NativeWorker, ServerUnavailable
from workhorse._process import (
    EncodedResult,
    ProcessFailure,
    ProcessPool,
    ProcessRequest,
    Recycling,
)
from workhorse.context import JobContext
from workhorse.errors import ArgumentInvalid, ArgumentNotSerializable
from workhorse.logs import current_job, install_job_records
from workhorse.outcomes import failure_of

if TYPE_CHECKING:
    from collections.abc import Coroutine, Generator, Iterable

    from workhorse.app import Workhorse
    from workhorse.tasks import Task

__all__ = ["Worker"]

logger = logging.getLogger("workhorse.worker")

# Jobs taken from the native worker per await: large enough that the per-batch cost
# vanishes at 10,000 jobs/s, small enough to start the first jobs of a burst at once.
BATCH = 256


class Worker:
    """Runs the tasks of `app` until `stop()` is called (or the session is refused).

    `queues`: the queues to take jobs from (default: every queue the app's tasks use).
    `concurrency`: jobs run at once. `grace`: seconds in-flight jobs get to finish after
    `stop()`; those still running then are stopped and run again elsewhere. `processes`:
    child processes for `isolation="process"` tasks (default: the CPU count);
    `max_jobs_per_child` and `max_memory_per_child` (KiB of resident memory after a job)
    replace a child between jobs once it reaches either.
    """

    def __init__(
        self,
        app: Workhorse,
        *,
        queues: Iterable[str] | None = None,
        concurrency: int = 100,
        grace: float = 30.0,
        processes: int | None = None,
        name: str | None = None,
        declare_schedules: bool = True,
        max_jobs_per_child: int | None = None,
        max_memory_per_child: int | None = None,
    ) -> None:
        if not app.tasks:
            raise ValueError(f"{app!r} has no tasks: declare some with @wh.task")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1 (got {concurrency})")
        self.app = app
        self.queues = sorted(set(queues) if queues else _queues_of(app))
        self.concurrency = concurrency
        self.grace = grace
        self.name = name
        self._declare_schedules = declare_schedules
        self._tasks = dict(app.tasks)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._threads = ThreadPoolExecutor(
            concurrency, thread_name_prefix="workhorse-task"
        )
        recycling = Recycling(max_jobs_per_child, max_memory_per_child)
        self._processes = ProcessPool(processes or os.cpu_count() or 1, recycling)
        self._native: NativeWorker | None = None
        self._stopping = False
        self._refused: ApiError | None = None
        self.schedules_declared = threading.Event()
        """Set once the app's schedules are stored in the server."""

    @property
    def stopping(self) -> bool:
        """Whether `stop()` was called."""
        return self._stopping

    @property
    def running_jobs(self) -> int:
        """Jobs being run right now."""
        return len(self._running)

    def stop(self) -> None:
        """Stops taking jobs; in-flight jobs get the grace period to finish. Safe to call
        from a signal handler on the loop, more than once, and before `run` started."""
        if self._stopping:
            return
        self._stopping = True
        logger.info(
            "worker stopping: waiting up to %ss for %d job(s)",
            self.grace,
            len(self._running),
        )
        if self._native is not None:
            self._native.shutdown()

    async def run(self) -> None:
        """Runs the start-up hooks, then runs jobs until `stop()` and the in-flight jobs
        are done, then the shut-down hooks. The app's schedules are declared meanwhile.
        Raises `ApiError` when the server refuses the session or a schedule."""
        install_job_records()
        await self.app.startup()
        declaring = None
        try:
            native = self._start_session()
            if self._declare_schedules and self.app.name is not None:
                declaring = asyncio.get_running_loop().create_task(self._declare())
            else:
                self.schedules_declared.set()
            await self._dispatch(native)
            await native.wait_closed()
        finally:
            if declaring is not None:
                declaring.cancel()
                await asyncio.gather(declaring, return_exceptions=True)
            await self._finish_running()
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._processes.close()
            await self.app.shutdown()
        logger.info("worker stopped")
        if self._refused is not None:
            raise self._refused

    async def _declare(self) -> None:
        """Declares the app's set of schedules (owned by the app's name), retrying while
        the server is unreachable (as the session reconnects); a refused set stops the
        worker, as it is a bug (a bad definition, or a name another owner holds)."""
        delay = 0.5
        while True:
            try:
                await self.app.declare_schedules()
            except ServerUnavailable as error:
                logger.warning("cannot declare the schedules yet (%s); retrying", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            except ApiError as error:
                logger.error(
                    "the server refused the schedules of %r: %s", self.app.name, error
                )
                self._refused = error
                self.stop()
                return
            else:
                logger.info(
                    "declared %d schedule(s) as owner %r",
                    len(self.app.schedules),
                    self.app.name,
                )
                self.schedules_declared.set()
                return

    def _start_session(self) -> NativeWorker:
        native = NativeWorker(
            self.app.url,
            self.app.token,
            tasks=list(self._tasks),
            queues=self.queues,
            concurrency=self.concurrency,
            grace=self.grace,
            name=self.name,
        )
        native.start()
        self._native = native
        if self._stopping:
            native.shutdown()
        logger.info(
            "worker %s: %d task(s) on queue(s) %s, concurrency %d",
            native.name,
            len(self._tasks),
            ",".join(self.queues),
            self.concurrency,
        )
        return native

    async def _dispatch(self, native: NativeWorker) -> None:
        running = self._running
        start = self._start
        while True:
            jobs, stops = await native.next_batch(BATCH)
            if not jobs and not stops:
                return
            for job_id, reason in stops:
                runner = running.get(job_id)
                if runner is not None:
                    logger.info("job %s told to stop: %s", job_id, reason)
                    runner.cancel()
            for job in jobs:
                start(job)

    def _start(self, job: NativeJob) -> None:
        task = self._tasks.get(job.task)
        if task is None:
            known = ", ".join(sorted(self._tasks))
            job.fail(
                "UnknownTask",
                f"this worker has no task named {job.task!r} (it has: {known})",
            )
            return
        job_id = job.id
        # The job's first step runs now, in a context of its own (for its log records);
        # only a job that has to wait becomes an asyncio task. Most jobs of a quick task
        # finish here, which spares the loop a task, two callbacks and a context switch.
        context = contextvars.copy_context()
        run = self._run(task, job, job_id)
        try:
            waiting_on = context.run(run.send, None)
        except StopIteration:
            return
        self._running[job_id] = context.run(
            asyncio.get_running_loop().create_task, _resume(run, waiting_on)
        )

    async def _run(self, task: Task[Any, Any], job: NativeJob, job_id: str) -> None:
        current_job.set((job_id, task.name))
        try:
            args, kwargs = self._arguments(task, job, job_id)
            if task.dependencies is None:
                result = await self._execute(task, job, job_id, args, kwargs)
            else:
                async with task.dependencies.resolved(self.app) as values:
                    kwargs.update(values)
                    result = await self._execute(task, job, job_id, args, kwargs)
        except asyncio.CancelledError:
            # A stopped job was already reported by the native worker; one cancelled by
            # anything else (the task itself) is a failed attempt.
            if not job.cancelled:
                job.fail("CancelledError", "the task was cancelled", None)
        except ProcessFailure as error:
            job.fail(*error.failure)
        except ArgumentInvalid as error:
            job.fail("ArgumentInvalid", str(error), None, None, True)
        except Exception as error:  # noqa: BLE001 - every task error is reported, never raised
            job.fail(*failure_of(error))
        else:
            _complete(job, task, result)
        finally:
            self._running.pop(job_id, None)

    async def _execute(
        self,
        task: Task[Any, Any],
        job: NativeJob,
        job_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if task.isolation == "async":
            return await task.fn(*args, **kwargs)
        if task.isolation == "thread":
            return await self._in_thread(task, args, kwargs)
        request = _process_request(task, job, job_id, args, kwargs)
        return await self._processes.run(task, job, request)

    def _arguments(
        self, task: Task[Any, Any], job: NativeJob, job_id: str
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        raw_args, raw_kwargs = job.args, job.kwargs
        args = tuple(_json.loads(raw_args)) if raw_args != "[]" else ()
        kwargs = _json.loads(raw_kwargs) if raw_kwargs != "{}" else {}
        args, kwargs = task.types.decode_arguments(args, kwargs)
        slot = task.context_slot
        if slot is not None and task.isolation != "process":
            args = slot.insert(self._context(job, job_id, task), args, kwargs)
        return args, kwargs

    def _in_thread(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        call = functools.partial(
            contextvars.copy_context().run, task.fn, *args, **kwargs
        )
        return asyncio.get_running_loop().run_in_executor(self._threads, call)

    def _context(self, job: NativeJob, job_id: str, task: Task[Any, Any]) -> JobContext:
        return JobContext(
            job,
            job_id=job_id,
            task=task.name,
            queue=job.queue,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            resources=self.app.resources,
        )

    async def _finish_running(self) -> None:
        """Cancels what still runs after the session ended (nothing, normally)."""
        leftovers = list(self._running.values())
        for runner in leftovers:
            runner.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def blocked_threads(self) -> int:
        """Task threads still running (plain functions that ignored `ctx.cancelled`)."""
        return sum(
            1 for thread in getattr(self._threads, "_threads", ()) if thread.is_alive()
        )


@types.coroutine
def _resume(
    run: Coroutine[Any, Any, None], waiting_on: Any
) -> Generator[Any, Any, None]:
    """Drives on a coroutine whose first step already ran (`waiting_on` is what it
    yielded), as the body of an asyncio task: the task waits on what the coroutine
    yields, and sends or throws (a cancel) the outcome back into it."""
    while True:
        try:
            sent = yield waiting_on
        except BaseException as error:  # noqa: BLE001 - handed to the coroutine
            try:
                waiting_on = run.throw(error)
            except StopIteration:
                return
        else:
            try:
                waiting_on = run.send(sent)
            except StopIteration:
                return


def _complete(job: NativeJob, task: Task[Any, Any], result: Any) -> None:
    if result is None:
        job.complete("null")
        return
    if type(result) is EncodedResult:
        job.complete(result)
        return
    try:
        text = _json.dumps_result(result, task.name)
    except ArgumentNotSerializable as error:
        job.fail("ResultNotSerializable", str(error), None, None, True)
        return
    job.complete(text)


def _process_request(
    task: Task[Any, Any], job: NativeJob, job_id: str, args: Any, kwargs: dict[str, Any]
) -> ProcessRequest:
    return ProcessRequest(
        module=task.fn.__module__,
        qualname=task.fn.__qualname__,
        task=task.name,
        job_id=job_id,
        queue=job.queue,
        attempt=job.attempt,
        max_attempts=job.max_attempts,
        args=tuple(args),
        kwargs=kwargs,
        context_slot=task.context_slot,
    )


def _queues_of(app: Workhorse) -> set[str]:
    return {task.defaults.queue or "default" for task in app.tasks.values()}


async def serve(worker: Worker) -> None:
    """Runs `worker` until SIGTERM or SIGINT (ctrl-c), then stops it gracefully; a
    second signal quits at once (the server runs the interrupted jobs again)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal() -> None:
        if not worker.stopping:
            worker.stop()
            logger.warning("stopping; send the signal again to quit now")
            return
        logger.warning("quitting now; the jobs in flight will run again")
        logging.shutdown()
        os._exit(1)

    for signum in signals:
        loop.add_signal_handler(signum, on_signal)
    try:
        await worker.run()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
