"""`Workhorse`, the app object: the registry of tasks, schedules and start-up hooks, and
the client that enqueues jobs and reads them."""

from __future__ import annotations

import inspect
import json
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
)

from workhorse._native import Client
from workhorse.context import JobContext, Resources
from workhorse.errors import UnknownTask
from workhorse.jobs import Job
from workhorse.manage import Management
from workhorse.options import (
    Backoff,
    Duration,
    EnqueueOptions,
    KeySource,
    options_from,
)
from workhorse.schedules import Overlap, Schedule
from workhorse.tasks import AsyncTask, Isolation, RemoteTask, Task, TaskCall, encode
from workhorse.workflows import (
    Canvas,
    OnParentFailure,
    Workflow,
    chain,
    chord,
    group,
)

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

__all__ = ["Workhorse"]

P = ParamSpec("P")
T = TypeVar("T")

StartupHook = Callable[[Resources], Awaitable[Any] | Any]
"""An `on_startup`/`on_shutdown` hook: takes the app's `Resources`; may be async."""


def _declared(answer: str) -> dict[str, dict[str, Any]]:
    """The schedules of a declared set's answer, by name."""
    declared = json.loads(answer)
    return {one["schedule"]["name"]: one["schedule"] for one in declared["schedules"]}


class TaskDecorator(Protocol):
    """What `@wh.task(...)` with options returns."""

    @overload
    def __call__(
        self, fn: Callable[Concatenate[JobContext, P], Awaitable[T]], /
    ) -> AsyncTask[P, T]: ...
    @overload
    def __call__(self, fn: Callable[P, Awaitable[T]], /) -> AsyncTask[P, T]: ...
    @overload
    def __call__(
        self, fn: Callable[Concatenate[JobContext, P], T], /
    ) -> Task[P, T]: ...
    @overload
    def __call__(self, fn: Callable[P, T], /) -> Task[P, T]: ...


class Workhorse(Management):
    """A Workhorse app: declare tasks and schedules on it, enqueue jobs through it, and
    run its tasks with `workhorse worker module:app`.

    `url` defaults to `WORKHORSE_URL`, else `http://127.0.0.1:7431`; `token` to
    `WORKHORSE_TOKEN`. A request that takes longer than `timeout` seconds raises
    `WorkhorseTimeout` (waits for a result get their wait on top); calls safe to repeat
    are retried up to `retries` times after a dropped connection or a 502/503/504 (0:
    never); `ca_file` (default `WORKHORSE_CA_FILE`) is a PEM bundle of extra roots, for a
    server whose certificate comes from an internal CA. Nothing connects until the first
    request. `name` owns the app's schedules in the server (see `name`).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        name: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self._url = url
        self._token = token
        self._name = name
        self._timeout = timeout
        self._retries = retries
        self._ca_file = None if ca_file is None else os.fspath(ca_file)
        self._client: Client | None = None
        self._client_lock = threading.Lock()
        self._tasks: dict[str, Task[Any, Any]] = {}
        self._schedules: dict[str, Schedule] = {}
        self._startup: list[StartupHook] = []
        self._shutdown: list[StartupHook] = []
        self.resources = Resources()
        """What the `on_startup` hooks stored, shared by the tasks (`ctx.resources`)."""
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        """Replacements for the FastAPI dependencies tasks declare (`Depends(get_db)`),
        by the dependency they replace, as FastAPI's `app.dependency_overrides`."""

    def __repr__(self) -> str:
        return f"<Workhorse {self.url} tasks={len(self._tasks)}>"

    @property
    def name(self) -> str | None:
        """The app's name: the owner of its schedules in the server, whose set workers
        declare at start (a schedule removed from the code is deleted there). The `name=`
        given, else the module of the first task registered (e.g. `app.tasks`): stable
        across deploys and distinct between apps as long as that module stays. `None` for an
        unnamed app without tasks (it declares no set)."""
        if self._name is not None:
            return self._name
        first = next(iter(self._tasks.values()), None)
        return None if first is None else first.fn.__module__

    # -- connection ------------------------------------------------------------------

    def configure(self, *, url: str | None = None, token: str | None = None) -> None:
        """Points the app at another server (e.g. an embedded one in tests). Jobs already
        enqueued keep the client they were enqueued with."""
        with self._client_lock:
            self._url, self._token = url or self._url, token or self._token
            self._client = None

    def _connection(self) -> tuple[str | None, str | None]:
        return self._url, self._token

    def _set_connection(self, url: str | None, token: str | None) -> None:
        with self._client_lock:
            self._url, self._token, self._client = url, token, None

    @property
    def client(self) -> Client:
        """The native HTTP client (made on first use, shared by threads and loops)."""
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = Client(
                        self._url,
                        self._token,
                        timeout=self._timeout,
                        retries=self._retries,
                        ca_file=self._ca_file,
                    )
                client = self._client
        return client

    @property
    def url(self) -> str:
        return self._client.url if self._client else (self._url or _env_url())

    @property
    def token(self) -> str | None:
        return self._token or os.environ.get("WORKHORSE_TOKEN")

    # -- declaring tasks -------------------------------------------------------------

    @overload
    def task(
        self, fn: Callable[Concatenate[JobContext, P], Awaitable[T]], /
    ) -> AsyncTask[P, T]: ...
    @overload
    def task(self, fn: Callable[P, Awaitable[T]], /) -> AsyncTask[P, T]: ...
    @overload
    def task(self, fn: Callable[Concatenate[JobContext, P], T], /) -> Task[P, T]: ...
    @overload
    def task(self, fn: Callable[P, T], /) -> Task[P, T]: ...
    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        retries: int | None = None,
        timeout: Duration | None = None,
        backoff: Backoff | None = None,
        key: KeySource | None = None,
        key_window: Duration | None = None,
        expires: Duration | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        isolation: Isolation | None = None,
    ) -> TaskDecorator: ...

    def task(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        isolation: Isolation | None = None,
        **options: Any,
    ) -> Any:
        """Registers a function as a task; use as `@wh.task` or `@wh.task(queue=...)`.

        - `name`: default `module.qualname` of the function (e.g. `app.tasks.send_email`);
          workers find the function by this name, so keep it stable once jobs exist.
        - `queue` (default `default`), `priority` (0-9), `retries` (retries after the first
          attempt; the server default allows 25 attempts), `timeout` (time limit of one
          attempt, seconds), `backoff` (`Backoff(base, max)`), `key` (idempotency key: a
          string or a function of the task's arguments; held while the job is live and,
          once it succeeded, until retention deletes it; a dead, cancelled or expired job
          releases it), `key_window` (hold the key this long after the job finished,
          however it finished, instead; 0: only while live), `expires`,
          `concurrency_key`, `concurrency_limit`, `metadata`: default options of its jobs
          (a schedule's jobs take them all but `key`: see `cron`).
        - `isolation`: where a plain function runs, `"thread"` (default) or `"process"`
          (its own process, for CPU-heavy work; killed at its time limit). Async
          functions run on the worker's event loop (or, with `"process"`, in a process).
        """
        defaults = options_from(options)

        def register(fn: Callable[..., Any]) -> Task[Any, Any]:
            if isinstance(fn, Task):
                raise TypeError(f"{fn.name} is already a task")
            task_name = name or f"{fn.__module__}.{fn.__qualname__}"
            task: Task[Any, Any] = Task(
                fn, app=self, name=task_name, defaults=defaults, isolation=isolation
            )
            self._add_task(task)
            return task

        return register(fn) if fn is not None else register

    def _add_task(self, task: Task[Any, Any]) -> None:
        existing = self._tasks.get(task.name)
        if existing is not None and existing.fn is not task.fn:
            raise ValueError(
                f"a task named {task.name!r} is already registered "
                f"({existing.fn.__module__}.{existing.fn.__qualname__}); pass name= to tell them apart"
            )
        self._tasks[task.name] = task

    @property
    def tasks(self) -> Mapping[str, Task[Any, Any]]:
        """The registered tasks by name."""
        return MappingProxyType(self._tasks)

    def task_named(self, name: str) -> Task[Any, Any]:
        """The registered task of that name; `UnknownTask` (listing the registered names)
        if there is none."""
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTask(name, self._tasks) from None

    def remote_task(self, name: str, **options: Any) -> RemoteTask:
        """A handle to enqueue jobs of a task this process does not define (another
        service's workers run it), with default options (`queue`, `retries`...)."""
        defaults = options_from(options)
        return RemoteTask(name, app=self, defaults=defaults)

    # -- schedules --------------------------------------------------------------------

    def cron(
        self,
        expression: str,
        *,
        tz: str = "UTC",
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        misfire: str | None = None,
        overlap: Overlap | None = None,
        grace: Duration | None = None,
        paused: bool | None = None,
    ) -> Callable[[Callable[P, T]], Task[P, T]]:
        """Runs the decorated task on a cron schedule (5 fields, or 6 with seconds) in the
        IANA time zone `tz`, DST-correct: `@wh.cron("0 8 * * *", tz="Europe/Berlin")`.

        The function becomes a task with default options if it is not one already (put
        `@wh.task(...)` under it for options). The schedule is named after the task unless
        `name` is given; `args`/`kwargs` are the arguments of each fire's job. `misfire`:
        `"coalesce"` (default), `"skip"` or `"all:N"`; `overlap`: `"allow"` (default) or
        `"skip"` while the previous fire's job still waits or runs.

        Each fire's job takes the task's options: queue, priority, retries, backoff,
        timeout, `expires` (counted from the fire time), concurrency key and limit, and
        metadata. A task with a `key` is refused (`ValueError`): each fire already makes
        exactly one job. `delay`, `run_at`, `expires_at` and `key_window` do not apply to a
        schedule's jobs and are not sent.
        """
        fields = {"cron": expression, "timezone": tz}
        return self._schedule_decorator(
            fields,
            name,
            args,
            kwargs,
            misfire=misfire,
            overlap=overlap,
            grace=grace,
            paused=paused,
        )

    def every(
        self,
        seconds: float | None = None,
        *,
        minutes: float | None = None,
        hours: float | None = None,
        anchor: datetime | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        misfire: str | None = None,
        overlap: Overlap | None = None,
        grace: Duration | None = None,
        paused: bool | None = None,
    ) -> Callable[[Callable[P, T]], Task[P, T]]:
        """Runs the decorated task at a fixed interval: `@wh.every(minutes=5)`. Fires fall
        at `anchor + k·interval` (default anchor: the Unix epoch, so `minutes=1` fires on
        every whole minute). Other parameters as for `cron`."""
        interval = timedelta(
            seconds=seconds or 0, minutes=minutes or 0, hours=hours or 0
        )
        if interval <= timedelta(0):
            raise ValueError(
                "every() needs a positive interval (seconds=, minutes= or hours=)"
            )
        fields = {"every": interval, "anchor": anchor}
        return self._schedule_decorator(
            fields,
            name,
            args,
            kwargs,
            misfire=misfire,
            overlap=overlap,
            grace=grace,
            paused=paused,
        )

    def _schedule_decorator(
        self,
        when: dict[str, Any],
        name: str | None,
        args: Iterable[Any],
        kwargs: Mapping[str, Any] | None,
        **policy: Any,
    ) -> Callable[[Callable[P, T]], Task[P, T]]:
        def declare(fn: Callable[P, T]) -> Task[P, T]:
            task = fn if isinstance(fn, Task) else self.task(fn)
            defaults = task.defaults
            if defaults.key is not None:
                raise ValueError(
                    f"task {task.name!r} has a key, which a schedule cannot apply: each fire "
                    "of a schedule already makes exactly one job (its fire key)"
                )
            schedule = Schedule(
                name=name or task.name,
                task=task.name,
                queue=defaults.queue,
                args=tuple(args),
                kwargs=dict(kwargs or {}),
                priority=defaults.priority,
                max_attempts=None if defaults.retries is None else defaults.retries + 1,
                timeout=defaults.timeout,
                backoff=defaults.backoff,
                expires=defaults.expires,
                concurrency_key=defaults.concurrency_key,
                concurrency_limit=defaults.concurrency_limit,
                metadata=defaults.metadata,
                **when,
                **policy,
            )
            schedule.definition()  # refuses a bad definition now, not at worker start
            self.add_schedule(schedule)
            return task

        return declare

    def add_schedule(self, schedule: Schedule) -> None:
        """Declares a schedule (what `@wh.cron` and `@wh.every` do)."""
        if (
            schedule.name in self._schedules
            and self._schedules[schedule.name] != schedule
        ):
            raise ValueError(
                f"a schedule named {schedule.name!r} is already declared; pass name= to tell "
                "schedules of the same task apart"
            )
        self._schedules[schedule.name] = schedule

    @property
    def schedules(self) -> Mapping[str, Schedule]:
        """The declared schedules by name."""
        return MappingProxyType(self._schedules)

    async def declare_schedules(self) -> dict[str, dict[str, Any]]:
        """Declares the app's whole set of schedules in the server, owned by `name`, in one
        call (workers do this at start): unchanged schedules change nothing, and the
        schedules this app declared before but no longer does are deleted. Schedules made at
        run time (`set_schedule`) and other apps' are never touched; a name one of them
        holds is refused (`ApiError`, 409) and nothing changes. Returns the stored schedules
        (the `GET /v1/schedules/{name}` documents, with `next_fire_at`) by name. An app
        without a name (no `name=`, no tasks) declares nothing."""
        if self.name is None:
            return {}
        answer = await self.client.declare_schedule_set(self.name, self._schedule_set())
        return _declared(answer)

    def declare_schedules_sync(self) -> dict[str, dict[str, Any]]:
        if self.name is None:
            return {}
        answer = self.client.declare_schedule_set_sync(self.name, self._schedule_set())
        return _declared(answer)

    def _schedule_set(self) -> str:
        """The `PUT /v1/schedule-sets/{owner}` document."""
        schedules = {s.name: s.definition() for s in self._schedules.values()}
        return json.dumps({"schedules": schedules})

    # -- start-up and shut-down hooks -------------------------------------------------

    def on_startup(self, hook: StartupHook) -> StartupHook:
        """Registers a hook the worker runs before its first job, in order. It gets the
        app's `Resources` to store shared objects in (`resources["db"] = pool`); a mapping
        it returns is stored too."""
        self._startup.append(hook)
        return hook

    def on_shutdown(self, hook: StartupHook) -> StartupHook:
        """Registers a hook the worker runs after its last job (in reverse order of
        registration), with the app's `Resources`, to close what start-up opened."""
        self._shutdown.append(hook)
        return hook

    async def startup(self) -> None:
        """Runs the `on_startup` hooks (the worker and the test helpers call this)."""
        for hook in self._startup:
            returned = await _maybe_await(hook(self.resources))
            if isinstance(returned, Mapping):
                self.resources.update(returned)

    async def shutdown(self) -> None:
        """Runs the `on_shutdown` hooks, last registered first."""
        for hook in reversed(self._shutdown):
            await _maybe_await(hook(self.resources))

    # -- enqueueing and reading jobs --------------------------------------------------

    def _target(self, task: str | Task[Any, Any]) -> Task[Any, Any] | RemoteTask:
        if isinstance(task, Task):
            return task
        registered = self._tasks.get(task)
        return registered or RemoteTask(task, app=self, defaults=EnqueueOptions())

    async def enqueue(
        self, task: str | Task[Any, Any], /, *args: Any, **kwargs: Any
    ) -> Job[Any]:
        """Enqueues a job of `task` (a registered task, or any task name: another
        service's workers may run it) with these arguments."""
        return await self._target(task).enqueue(*args, **kwargs)

    def enqueue_sync(
        self, task: str | Task[Any, Any], /, *args: Any, **kwargs: Any
    ) -> Job[Any]:
        return self._target(task).enqueue_sync(*args, **kwargs)

    async def enqueue_many(self, calls: Iterable[TaskCall[Any]]) -> list[Job[Any]]:
        """Enqueues several calls (`task.call(...)`) atomically: all jobs are committed
        together, or none is. Returns their handles in order."""
        calls = list(calls)
        if not calls:
            return []
        answer = await self.client.enqueue_many(_batch(calls))
        return self._jobs(answer, calls)

    def enqueue_many_sync(self, calls: Iterable[TaskCall[Any]]) -> list[Job[Any]]:
        calls = list(calls)
        if not calls:
            return []
        return self._jobs(self.client.enqueue_many_sync(_batch(calls)), calls)

    def _jobs(self, answer: str, calls: list[TaskCall[Any]]) -> list[Job[Any]]:
        client = self.client
        return [
            Job(view["id"], client, view, call.target.types)
            for view, call in zip(json.loads(answer), calls)
        ]

    def job(self, job_id: str) -> Job[Any]:
        """A handle on an existing job (no request is made)."""
        return Job(job_id, self.client)

    # -- workflows --------------------------------------------------------------------

    def chain(
        self, *steps: Canvas, on_parent_failure: OnParentFailure = "cancel"
    ) -> Workflow:
        """A workflow of steps one after another, each receiving the result of the one
        before it: `await wh.chain(a.s(1), b.s(), c.s()).enqueue()`. With
        `on_parent_failure="run_anyway"`, jobs waiting on a job that ends dead, cancelled
        or expired run anyway (receiving `None` for its result) instead of being cancelled."""
        return Workflow(chain(*steps), self, on_parent_failure=on_parent_failure)

    def group(
        self,
        *members: Canvas | Iterable[Canvas],
        on_parent_failure: OnParentFailure = "cancel",
    ) -> Workflow:
        """A workflow of steps side by side; its result is the list of theirs, in order."""
        return Workflow(group(*members), self, on_parent_failure=on_parent_failure)

    def chord(
        self,
        members: Canvas | Iterable[Canvas],
        callback: Canvas,
        *,
        on_parent_failure: OnParentFailure = "cancel",
    ) -> Workflow:
        """A workflow of a group, then `callback`, which receives the list of the group's
        results in group order: `wh.chord(wh.group(a.s(1), a.s(2)), total.s())`."""
        return Workflow(
            chord(members, callback), self, on_parent_failure=on_parent_failure
        )

    def workflow(self, workflow_id: str) -> Workflow:
        """A handle on an enqueued workflow (no request is made)."""
        return Workflow(None, self, workflow_id=workflow_id)

    # -- FastAPI ------------------------------------------------------------------------

    def router(self, prefix: str = "/jobs", **kwargs: Any) -> APIRouter:
        """A FastAPI router with `GET {prefix}/{id}` (the job's state, progress and result
        or error) and `DELETE {prefix}/{id}` (cancel); see `workhorse.fastapi.job_router`."""
        from workhorse.fastapi import job_router

        return job_router(self, prefix=prefix, **kwargs)

    def lifespan(self, app: FastAPI) -> AbstractAsyncContextManager[None]:
        """FastAPI lifespan: `FastAPI(lifespan=wh.lifespan)`; see
        `workhorse.fastapi.workhorse_lifespan`."""
        from workhorse.fastapi import workhorse_lifespan

        return workhorse_lifespan(self)(app)

    async def client_dependency(self) -> AsyncIterator[Workhorse]:
        """A FastAPI dependency yielding this app: `wh: Workhorse = Depends(wh.client_dependency)`
        (override it in tests with `app.dependency_overrides`)."""
        yield self


def _batch(calls: list[TaskCall[Any]]) -> str:
    text = encode(calls)
    return text if len(calls) > 1 else f"[{text}]"


def _env_url() -> str:
    return os.environ.get("WORKHORSE_URL") or "http://127.0.0.1:7431"


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
