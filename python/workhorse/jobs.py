"""Jobs as Python sees them: a `Job` handle to poll, wait on and cancel, and `JobInfo`,
the typed view of a job's state (the `GET /v1/jobs/{id}` document)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from workhorse._native import Client
from workhorse.errors import JobCancelled, JobExpired, JobFailed

if TYPE_CHECKING:
    from workhorse._values import TaskTypes

__all__ = ["AttemptError", "Job", "JobInfo", "JobState", "Progress"]

T = TypeVar("T")

# The server answers a long poll after at most 60 s; ask for less and poll again.
_LONGEST_POLL = 50.0


class JobState(str, Enum):
    """Where a job is in its life (see docs/jobs.md)."""

    SCHEDULED = "scheduled"
    READY = "ready"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    WAITING = "waiting"
    """Part of a workflow: waits for its parent jobs to finish."""

    @property
    def finished(self) -> bool:
        """Whether the job will never run again (unless redriven)."""
        return self in _FINISHED

    def __str__(self) -> str:
        return self.value


_FINISHED = frozenset(
    {JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED, JobState.EXPIRED}
)


@dataclass(frozen=True)
class Progress:
    """What a running job last reported: `fraction` from 0 to 1, and a message."""

    fraction: float
    message: str | None = None


@dataclass(frozen=True)
class AttemptError:
    """The error of one failed attempt."""

    attempt: int
    at: datetime
    type: str
    message: str
    traceback: str | None = None

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True)
class JobInfo:
    """A job as it stood when it was read."""

    id: str
    task: str
    queue: str
    state: JobState
    priority: int
    args: list[Any]
    kwargs: dict[str, Any]
    attempt: int
    """Attempts started so far (1 while the first runs)."""
    max_attempts: int
    progress: Progress | None
    result: Any
    """The task's return value, once `state` is `succeeded`."""
    errors: list[AttemptError]
    """Every failed attempt's error, oldest first."""
    cancel_requested: bool
    created_at: datetime
    run_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = None
    lease_expires_at: datetime | None = None
    timeout: float | None = None
    """The time limit of one attempt, in seconds."""
    key: str | None = None
    concurrency_key: str | None = None
    metadata: Any = None
    worker: str | None = None
    schedule: str | None = None
    """The schedule whose fire made this job."""
    scheduled_for: datetime | None = None
    workflow_id: str | None = None

    @property
    def error(self) -> AttemptError | None:
        """The last failed attempt's error, if any."""
        return self.errors[-1] if self.errors else None

    @property
    def finished(self) -> bool:
        return self.state.finished

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> JobInfo:
        """Reads a job view document."""
        progress = view.get("progress")
        timeout_ms = view.get("timeout_ms")
        return cls(
            id=view["id"],
            task=view["task"],
            queue=view["queue"],
            state=JobState(view["state"]),
            priority=view["priority"],
            args=view["args"],
            kwargs=view["kwargs"],
            attempt=view["attempt"],
            max_attempts=view["max_attempts"],
            progress=Progress(progress["fraction"], progress.get("message"))
            if progress
            else None,
            result=view.get("result"),
            errors=[_attempt_error(error) for error in view.get("errors", ())],
            cancel_requested=view["cancel_requested"],
            created_at=parse_time(view["created_at"]),
            run_at=parse_time(view["run_at"]),
            started_at=_maybe_time(view.get("started_at")),
            finished_at=_maybe_time(view.get("finished_at")),
            expires_at=_maybe_time(view.get("expires_at")),
            lease_expires_at=_maybe_time(view.get("lease_expires_at")),
            timeout=timeout_ms / 1000 if timeout_ms is not None else None,
            key=view.get("key"),
            concurrency_key=view.get("concurrency_key"),
            metadata=view.get("metadata"),
            worker=view.get("worker"),
            schedule=view.get("schedule"),
            scheduled_for=_maybe_time(view.get("scheduled_for")),
            workflow_id=view.get("workflow_id"),
        )


class Job(Generic[T]):
    """A handle on an enqueued job: its `id`, and calls to read, await and cancel it.

    `Job[T]` is the job of a task returning `T`: `await job.result()` is a `T`, validated
    into the task's return annotation when the handle came from enqueueing a task defined
    in this process (a handle made from an id gives the result as JSON decoded it).

    Each coroutine has a blocking twin named `<name>_sync` for synchronous code.
    """

    __slots__ = ("_client", "_types", "_view", "id")

    def __init__(
        self,
        job_id: str,
        client: Client,
        view: dict[str, Any] | None = None,
        types: TaskTypes | None = None,
    ) -> None:
        self.id = job_id
        self._client = client
        self._view = view
        self._types = types

    @classmethod
    def _from_view_text(
        cls, text: str, client: Client, types: TaskTypes | None = None
    ) -> Job[T]:
        view = json.loads(text)
        return cls(view["id"], client, view, types)

    @property
    def enqueued(self) -> JobInfo | None:
        """The job as the enqueue answer showed it (`None` for a handle made from an id).
        With an idempotency key that matched, this is the existing job."""
        return JobInfo.from_view(self._view) if self._view is not None else None

    def __repr__(self) -> str:
        return f"Job({self.id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    async def status(self) -> JobInfo:
        """The job as it stands now."""
        return _info(await self._client.get_job(self.id))

    def status_sync(self) -> JobInfo:
        return _info(self._client.get_job_sync(self.id))

    async def cancel(self) -> JobInfo:
        """Cancels the job: at once if it waits; a running job is told on its next heartbeat
        and stops. A finished job stays as it is. Returns the job after the request."""
        return _info(await self._client.cancel_job(self.id))

    def cancel_sync(self) -> JobInfo:
        return _info(self._client.cancel_job_sync(self.id))

    async def retry(self) -> JobInfo:
        """Runs a dead, cancelled or expired job again, with fresh attempts (its errors
        are kept). Returns the job after the request."""
        return _info(await self._client.retry_job(self.id))

    def retry_sync(self) -> JobInfo:
        return _info(self._client.retry_job_sync(self.id))

    async def wait(self, timeout: float | None = None) -> JobInfo:
        """Waits until the job is finished (in any state) and returns it. Raises
        `TimeoutError` if it is not finished within `timeout` seconds (`None`: no limit)."""
        deadline = _deadline(timeout)
        while True:
            info = _info(await self._client.wait_for_job(self.id, _next_poll(deadline)))
            if info.finished:
                return info
            _check_deadline(deadline, self.id, timeout)
            # The long poll may answer early (e.g. a retry was scheduled); don't spin.
            await asyncio.sleep(0.01)

    def wait_sync(self, timeout: float | None = None) -> JobInfo:
        deadline = _deadline(timeout)
        while True:
            info = _info(self._client.wait_for_job_sync(self.id, _next_poll(deadline)))
            if info.finished:
                return info
            _check_deadline(deadline, self.id, timeout)
            time.sleep(0.01)

    async def result(self, timeout: float | None = None) -> T:
        """Waits for the job to finish and returns the task's return value.

        Raises `JobFailed` (the job is dead; `.error` has the last attempt's error),
        `JobCancelled`, `JobExpired`, or `TimeoutError` when the job is not finished
        within `timeout` seconds (`None`: wait as long as it takes); `ArgumentInvalid`
        when the result does not fit the task's return annotation.
        """
        return self._decoded(outcome(await self.wait(timeout)))

    def result_sync(self, timeout: float | None = None) -> T:
        return self._decoded(outcome(self.wait_sync(timeout)))

    def _decoded(self, result: Any) -> T:
        if self._types is None:
            return cast("T", result)
        return cast("T", self._types.decode_result(result))


def outcome(info: JobInfo) -> Any:
    """The result of a finished job, or the exception saying why there is none."""
    if info.state is JobState.SUCCEEDED:
        return info.result
    if info.state is JobState.DEAD:
        error = info.error
        why = f": {error}" if error else ""
        raise JobFailed(
            f"job {info.id} ({info.task}) is dead after {info.attempt} attempt(s){why}",
            info,
        )
    if info.state is JobState.CANCELLED:
        raise JobCancelled(f"job {info.id} ({info.task}) was cancelled", info)
    if info.state is JobState.EXPIRED:
        raise JobExpired(f"job {info.id} ({info.task}) expired before it started", info)
    raise AssertionError(f"job {info.id} is not finished (state {info.state})")


def _info(text: str) -> JobInfo:
    return JobInfo.from_view(json.loads(text))


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _next_poll(deadline: float | None) -> float:
    if deadline is None:
        return _LONGEST_POLL
    return min(_LONGEST_POLL, max(0.0, deadline - time.monotonic()))


def _check_deadline(deadline: float | None, job_id: str, timeout: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError(f"job {job_id} did not finish within {timeout} s")


def _attempt_error(error: dict[str, Any]) -> AttemptError:
    return AttemptError(
        attempt=error["attempt"],
        at=parse_time(error["at"]),
        type=error["type"],
        message=error["message"],
        traceback=error.get("traceback"),
    )


_FRACTION = re.compile(r"\.(\d+)")


def parse_time(text: str) -> datetime:
    """Reads an RFC 3339 time as the server writes it (`Z`, up to nanoseconds)."""
    text = text.replace("Z", "+00:00").replace("z", "+00:00")
    # `fromisoformat` before Python 3.11 takes exactly 3 or 6 fraction digits.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _maybe_time(text: str | None) -> datetime | None:
    return parse_time(text) if text is not None else None
