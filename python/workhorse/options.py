"""Enqueue options: what a task declares by default and what `.options(...)` overrides,
and how they become an EnqueueRequest document (docs/jobs.md lists its fields)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["Backoff", "Duration", "EnqueueOptions"]

Duration = float | timedelta
"""A length of time: seconds (int or float) or a `timedelta`."""

KeySource = str | Callable[..., str]
"""An idempotency key, or a function of the task's arguments that returns one.

While a job holds the key, enqueueing with it returns that job instead of a new one. A job
holds its key while it is live; once it has succeeded, until retention deletes it (unless
`key_window` says otherwise); a job that ended dead, cancelled or expired releases it at
once, so enqueueing again makes a new job."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter between attempts: the wait before retry *n*
    is uniform in `[0, min(max, base · 2^(n-1))]`. Defaults: 1 s doubling up to 1 hour."""

    base: Duration = 1.0
    max: Duration = 3600.0

    def document(self) -> dict[str, int]:
        base_ms, max_ms = (
            milliseconds(self.base, "backoff base"),
            milliseconds(self.max, "backoff max"),
        )
        if base_ms > max_ms:
            raise ValueError(
                f"backoff base ({self.base}) must not exceed its max ({self.max})"
            )
        return {"base_ms": base_ms, "max_ms": max_ms}


@dataclass(frozen=True)
class EnqueueOptions:
    """Every option of one enqueue; `None` leaves the server's default.

    Times are seconds or `timedelta`s; absolute times are timezone-aware `datetime`s.
    """

    queue: str | None = None
    priority: int | None = None
    delay: Duration | None = None
    run_at: datetime | None = None
    expires: Duration | None = None
    """Not started within this long after enqueue: `expired`, never run."""
    expires_at: datetime | None = None
    retries: int | None = None
    """Retries after the first attempt (`retries=5`: at most 6 attempts)."""
    backoff: Backoff | None = None
    timeout: Duration | None = None
    """Time limit of one attempt."""
    key: KeySource | None = None
    key_window: Duration | None = None
    """Instead of the default, hold the key this long after the job finished, however it
    finished (0: only while live; at most 365 days)."""
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    metadata: Mapping[str, Any] | None = None

    def merged(self, overrides: EnqueueOptions) -> EnqueueOptions:
        """These options with every option set in `overrides` replacing its own (an
        absolute time replaces a relative one and the other way round)."""
        changes = {f.name: getattr(overrides, f.name) for f in fields(overrides)}
        changes = {k: v for k, v in changes.items() if v is not None}
        for one, other in (("delay", "run_at"), ("expires", "expires_at")):
            if one in changes:
                changes.setdefault(other, None)
            if other in changes:
                changes.setdefault(one, None)
        return replace(self, **changes)

    def validate(self) -> None:
        """Raises `ValueError`/`TypeError` for options that can never be valid."""
        if self.delay is not None and self.run_at is not None:
            raise ValueError("give delay or run_at, not both")
        if self.expires is not None and self.expires_at is not None:
            raise ValueError("give expires or expires_at, not both")
        if self.retries is not None and self.retries < 0:
            raise ValueError(f"retries must not be negative (got {self.retries})")
        if self.priority is not None and not 0 <= self.priority <= 9:
            raise ValueError(f"priority must be 0-9 (got {self.priority})")
        for name in ("run_at", "expires_at"):
            moment = getattr(self, name)
            if moment is not None:
                _require_aware(moment, name)

    def request(
        self, task: str, args: list[Any], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """The EnqueueRequest document for a call of `task` with these options."""
        request: dict[str, Any] = {"task": task}
        if args:
            request["args"] = args
        if kwargs:
            request["kwargs"] = kwargs
        if self.queue is not None:
            request["queue"] = self.queue
        if self.priority is not None:
            request["priority"] = self.priority
        if self.delay is not None:
            request["delay_ms"] = milliseconds(self.delay, "delay")
        if self.run_at is not None:
            request["run_at"] = rfc3339(self.run_at)
        expires_at = self._expires_at()
        if expires_at is not None:
            request["expires_at"] = rfc3339(expires_at)
        if self.retries is not None:
            request["max_attempts"] = self.retries + 1
        if self.backoff is not None:
            request["backoff"] = self.backoff.document()
        if self.timeout is not None:
            request["timeout_ms"] = milliseconds(self.timeout, "timeout")
        key = self._key(args, kwargs)
        if key is not None:
            request["key"] = key
        if self.key_window is not None:
            request["key_window_ms"] = milliseconds(self.key_window, "key_window")
        if self.concurrency_key is not None:
            request["concurrency_key"] = self.concurrency_key
        if self.concurrency_limit is not None:
            request["concurrency_limit"] = self.concurrency_limit
        if self.metadata is not None:
            request["metadata"] = dict(self.metadata)
        return request

    def _expires_at(self) -> datetime | None:
        if self.expires is not None:
            return datetime.now(timezone.utc) + timedelta(seconds=seconds(self.expires))
        return self.expires_at

    def _key(self, args: list[Any], kwargs: dict[str, Any]) -> str | None:
        if self.key is None or isinstance(self.key, str):
            return self.key
        key = self.key(*args, **kwargs)
        if not isinstance(key, str):
            raise TypeError(
                f"the key function must return a str (got {type(key).__name__})"
            )
        return key


def options_from(values: Mapping[str, Any]) -> EnqueueOptions:
    """Validated options from keyword arguments; an unknown name is a `TypeError`
    listing the known ones."""
    known = {f.name for f in fields(EnqueueOptions)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TypeError(
            f"unknown option {unknown[0]!r}; the options are: {', '.join(sorted(known))}"
        )
    options = EnqueueOptions(**values)
    options.validate()
    return options


def seconds(duration: Duration) -> float:
    """A duration in seconds."""
    if isinstance(duration, timedelta):
        return duration.total_seconds()
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise TypeError(f"expected seconds or a timedelta, got {duration!r}")
    return float(duration)


def milliseconds(duration: Duration, what: str) -> int:
    """A non-negative duration in whole milliseconds."""
    value = seconds(duration)
    if value < 0:
        raise ValueError(f"{what} must not be negative (got {duration!r})")
    return round(value * 1000)


def rfc3339(moment: datetime) -> str:
    """An aware `datetime` as RFC 3339 in UTC."""
    _require_aware(moment, "time")
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _require_aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(
            f"{what} must be a timezone-aware datetime (e.g. datetime.now(timezone.utc)), "
            f"got {moment!r}"
        )
