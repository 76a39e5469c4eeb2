"""`JobContext`, what a running task may ask about its job, and `Resources`, what the
app's start-up hooks made for its tasks to share."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ContextSlot", "JobContext", "Resources"]


class Resources(dict[str, Any]):
    """Shared objects for tasks (database pools, HTTP clients...), filled by the app's
    `@wh.on_startup` hooks before the worker takes its first job:

    ```python
    @wh.on_startup
    async def connect(resources: Resources) -> None:
        resources["db"] = await create_pool(DSN)

    @wh.task
    async def charge(ctx: JobContext, payment_id: str) -> None:
        db = ctx.resources["db"]
    ```
    """

    unavailable_reason: str | None = None

    def __missing__(self, key: str) -> Any:
        if self.unavailable_reason:
            raise KeyError(
                f"resource {key!r} is not available: {self.unavailable_reason}"
            )
        stored = ", ".join(sorted(self)) or "none"
        raise KeyError(
            f"no resource {key!r}; the on_startup hooks stored: {stored} "
            "(store one with `resources[name] = value` in an @wh.on_startup hook)"
        )


class JobLink(Protocol):
    """What a context needs from whoever runs the job (the native job, a pipe to the
    worker process, or nothing at all for a direct call)."""

    @property
    def cancelled(self) -> bool: ...
    @property
    def stop_reason(self) -> str | None: ...
    def progress(self, fraction: float, message: str | None = None) -> None: ...


class JobContext:
    """What a running task knows about its job. A task gets one by declaring a parameter
    annotated `JobContext` (or named `ctx`)."""

    __slots__ = (
        "_link",
        "attempt",
        "job_id",
        "max_attempts",
        "queue",
        "resources",
        "task",
    )

    def __init__(
        self,
        link: JobLink,
        *,
        job_id: str,
        task: str,
        queue: str,
        attempt: int,
        max_attempts: int,
        resources: Resources,
    ) -> None:
        self._link = link
        self.job_id = job_id
        self.task = task
        self.queue = queue
        self.attempt = attempt
        """1 during the first run."""
        self.max_attempts = max_attempts
        self.resources = resources

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Reports how far the job is (`fraction` from 0 to 1) and what it is doing; sent
        with the next heartbeat and shown on the job. Cheap: call it as often as you like."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(
                f"progress fraction must be between 0 and 1 (got {fraction})"
            )
        self._link.progress(float(fraction), message)

    @property
    def cancelled(self) -> bool:
        """Whether the job was told to stop: cancelled, past its time limit, its lease lost,
        or the worker shutting down. Async tasks are cancelled for you; a plain function
        running in a thread should check this in its loops and return early."""
        return self._link.cancelled

    @property
    def stop_reason(self) -> str | None:
        """Why the job was told to stop (`"Cancelled"`, `"TimeLimitExceeded"`,
        `"LeaseLost"` or `"WorkerShutdown"`), if it was."""
        return self._link.stop_reason

    @property
    def is_last_attempt(self) -> bool:
        """Whether a failure now sends the job to the dead-letter set."""
        return self.attempt >= self.max_attempts

    @property
    def logger(self) -> logging.Logger:
        """The task's logger (named after the task). While the job runs, its records carry
        `job_id` and `task`, as every record logged from the task does."""
        return logging.getLogger(self.task)

    def __repr__(self) -> str:
        return f"JobContext(job_id={self.job_id!r}, task={self.task!r}, attempt={self.attempt})"


@dataclass(frozen=True)
class ContextSlot:
    """Where a task takes its `JobContext`: the parameter's name, and its index among the
    positional parameters (`None` if it is keyword-only). Enqueued arguments never
    include the context, so it is slotted in when the task is called."""

    name: str
    position: int | None

    def insert(
        self, context: JobContext, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, ...]:
        """The positional arguments of the call, `kwargs` updated in place."""
        position = self.position
        if position is not None and len(args) >= position:
            return (*args[:position], context, *args[position:])
        kwargs[self.name] = context
        return args


class LocalJobLink:
    """The link of a task called directly (in a test, say): nothing is sent; the reported
    progress is kept in `reports`."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, str | None]] = []
        self.stop_reason: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.stop_reason is not None

    def progress(self, fraction: float, message: str | None = None) -> None:
        self.reports.append((fraction, message))


def local_context(task: str, queue: str, *, max_attempts: int) -> JobContext:
    """A context for a direct call of a task, outside any worker."""
    return JobContext(
        LocalJobLink(),
        job_id="local",
        task=task,
        queue=queue,
        attempt=1,
        max_attempts=max_attempts,
        resources=Resources(),
    )
