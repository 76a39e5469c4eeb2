"""Exceptions of the pure-Python layer, and the ones a task raises to steer its job.

Every error Workhorse raises derives from `WorkhorseError` (from the native module), so
`except workhorse.WorkhorseError` catches them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from workhorse._native import WorkhorseError

if TYPE_CHECKING:
    from workhorse.jobs import AttemptError, JobInfo

__all__ = [
    "Abort",
    "ArgumentInvalid",
    "ArgumentNotSerializable",
    "JobCancelled",
    "JobExpired",
    "JobFailed",
    "Retry",
    "UnknownTask",
]


class Retry(Exception):
    """Raised by a task to ask for another attempt.

    `raise Retry(delay=10)` runs the job again in 10 seconds (it counts as an attempt, so
    a job out of attempts goes to the dead-letter set). Without `delay`, the task's backoff
    decides when.
    """

    def __init__(
        self, message: str = "", *, delay: float | timedelta | None = None
    ) -> None:
        super().__init__(message or "the task asked for a retry")
        if isinstance(delay, timedelta):
            delay = delay.total_seconds()
        if delay is not None and delay < 0:
            raise ValueError(f"Retry delay must not be negative (got {delay})")
        self.delay: float | None = delay


class Abort(Exception):
    """Raised by a task to fail its job for good: no more attempts, straight to the
    dead-letter set (where it can be redriven). For errors a retry cannot fix, such as
    bad input."""


class UnknownTask(WorkhorseError, LookupError):
    """No task of that name is registered with this `Workhorse` app."""

    def __init__(self, name: str, registered: Iterable[str]) -> None:
        names = sorted(registered)
        listed = ", ".join(names) if names else "none"
        super().__init__(
            f"no task named {name!r} is registered; registered tasks: {listed}"
        )
        self.name = name
        self.registered = names


class ArgumentNotSerializable(WorkhorseError, TypeError):
    """An argument (or a result) does not serialize to JSON. Raised before anything is sent."""


class ArgumentInvalid(WorkhorseError, ValueError):
    """A value does not fit the type it is annotated with: an argument a worker received
    (the attempt fails for good: another attempt would get the same arguments), or a
    result `job.result()` read. The message names the parameter and the first mismatch."""


class _JobNotSucceeded(WorkhorseError):
    """A job finished without a result; `info` is the job as it then stood."""

    def __init__(self, message: str, info: JobInfo) -> None:
        super().__init__(message)
        self.info = info


class JobFailed(_JobNotSucceeded):
    """The job is dead: its last attempt failed. `error` is that attempt's error (type,
    message, traceback); `info.errors` has every attempt's."""

    @property
    def error(self) -> AttemptError | None:
        return self.info.error


class JobCancelled(_JobNotSucceeded):
    """The job was cancelled before it finished."""


class JobExpired(_JobNotSucceeded):
    """The job was not started before its `expires_at`, so it never ran."""
