"""Schedules declared in code with `@wh.cron(...)` and `@wh.every(...)`.

A schedule lives in the server, which turns each fire into exactly one job however many
replicas declare it (docs/schedules.md). Workers declare their app's whole set at start,
owned by the app's name: declaring an unchanged set changes nothing, so every replica may do
it, and a schedule removed from the code is deleted from the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from workhorse import _json
from workhorse.options import Backoff, Duration, milliseconds, rfc3339

__all__ = ["Schedule"]

Overlap = Literal["allow", "skip"]


@dataclass(frozen=True)
class Schedule:
    """One declared schedule: when it fires (exactly one of `cron`, `every`, `at`) and the
    job each fire makes."""

    name: str
    task: str
    cron: str | None = None
    timezone: str | None = None
    every: Duration | None = None
    anchor: datetime | None = None
    at: datetime | None = None
    queue: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    priority: int | None = None
    max_attempts: int | None = None
    timeout: Duration | None = None
    backoff: Backoff | None = None
    expires: Duration | None = None
    """A fire's job not started this long after its fire time expires."""
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    metadata: Mapping[str, Any] | None = None
    misfire: str | None = None
    """`"coalesce"` (default: one run for many missed fires), `"skip"`, or `"all:N"` (run
    each of the latest N missed fires)."""
    grace: Duration | None = None
    overlap: Overlap | None = None
    paused: bool | None = None

    def definition(self) -> dict[str, Any]:
        """The `PUT /v1/schedules/{name}` document."""
        document: dict[str, Any] = {"task": self.task}
        if self.cron is not None:
            document["cron"] = self.cron
        if self.timezone is not None:
            document["timezone"] = self.timezone
        if self.every is not None:
            document["every_ms"] = milliseconds(self.every, "every")
        if self.anchor is not None:
            document["anchor"] = rfc3339(self.anchor)
        if self.at is not None:
            document["at"] = rfc3339(self.at)
        optional = {
            "queue": self.queue,
            "args": list(self.args) or None,
            "kwargs": self.kwargs or None,
            "priority": self.priority,
            "max_attempts": self.max_attempts,
            "timeout_ms": _ms(self.timeout, "timeout"),
            "backoff": None if self.backoff is None else self.backoff.document(),
            "expires_ms": _ms(self.expires, "expires"),
            "concurrency_key": self.concurrency_key,
            "concurrency_limit": self.concurrency_limit,
            "metadata": None if self.metadata is None else dict(self.metadata),
            "misfire": _misfire(self.misfire),
            "grace_ms": _ms(self.grace, "grace"),
            "overlap": self.overlap,
            "paused": self.paused,
        }
        document.update({k: v for k, v in optional.items() if v is not None})
        _json.check_serializable(
            [
                ("args", document.get("args")),
                ("kwargs", document.get("kwargs")),
                ("metadata", document.get("metadata")),
            ],
            f"schedule {self.name!r}",
        )
        return document


def _ms(duration: Duration | None, what: str) -> int | None:
    return None if duration is None else milliseconds(duration, what)


def _misfire(misfire: str | None) -> Any:
    if misfire is None or misfire in ("coalesce", "skip"):
        return misfire
    kind, _, count = misfire.partition(":")
    if kind == "all" and count.isdigit():
        return {"all": {"max": int(count)}}
    raise ValueError(f'misfire must be "coalesce", "skip" or "all:N" (got {misfire!r})')
