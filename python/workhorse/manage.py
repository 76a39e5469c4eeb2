"""Managing schedules, jobs and queues from code: what APScheduler users do from endpoints
(`add_job(..., replace_existing=True)`, `get_jobs()`, `remove_job(id)`), and what an admin
endpoint needs (list, cancel and retry jobs, redrive dead letters, pause queues).

Every call is a method of the app (`await wh.list_schedules()`), with a blocking twin named
`<name>_sync`. Bad input raises before anything is sent (`ValueError`, `TypeError`) or comes
back from the server as `InvalidRequest`, naming the field; nothing is changed then.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workhorse.jobs import JobInfo, JobState, parse_time
from workhorse.options import Duration, milliseconds
from workhorse.schedules import Overlap, Schedule

if TYPE_CHECKING:
    from workhorse._native import Client
    from workhorse.tasks import Enqueueable

__all__ = [
    "CancelCounts",
    "Fire",
    "Management",
    "QueueInfo",
    "RateLimit",
    "ScheduleInfo",
]

_PAGE = 200
"""Jobs read per request by `list_jobs`."""


@dataclass(frozen=True)
class Fire:
    """One fire of a schedule: when, and the job it made (or why it made none)."""

    fire_at: datetime
    job_id: str | None
    skipped: str | None
    triggered: bool
    """Fired by hand (`trigger_schedule`), not by the clock."""

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> Fire:
        return cls(
            fire_at=parse_time(view["fire_at"]),
            job_id=view.get("job_id"),
            skipped=view.get("skipped"),
            triggered=view["triggered"],
        )


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as the server holds it (the `GET /v1/schedules/{name}` document)."""

    name: str
    task: str
    paused: bool
    next_fire_at: datetime | None
    """The next fire (`None`: a one-off schedule that fired)."""
    next_fires: list[datetime]
    """The next few fire times, when read one by one (`get_schedule`, `set_schedule`)."""
    last_fire_at: datetime | None
    last_job_id: str | None
    history: list[Fire]
    definition: dict[str, Any]
    """The stored definition: `cron`/`every_ms`/`at`, `timezone`, `args`, options."""
    created_at: datetime
    updated_at: datetime
    owner: str | None = None
    """The app whose declared set holds it (`Workhorse.name`); `None`: made at run time
    (`set_schedule`, the HTTP API or the CLI)."""

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> ScheduleInfo:
        return cls(
            name=view["name"],
            task=view["definition"]["task"],
            paused=view["paused"],
            next_fire_at=_maybe_time(view.get("next_fire_at")),
            next_fires=[parse_time(t) for t in view.get("next_fires", [])],
            last_fire_at=_maybe_time(view.get("last_fire_at")),
            last_job_id=view.get("last_job"),
            history=[Fire.from_view(f) for f in view.get("history", [])],
            definition=view["definition"],
            owner=view.get("owner"),
            created_at=parse_time(view["created_at"]),
            updated_at=parse_time(view["updated_at"]),
        )


@dataclass(frozen=True)
class CancelCounts:
    """What one `cancel_jobs` call did, in one transaction."""

    cancelled: int
    """Jobs cancelled at once (they were scheduled, ready or waiting)."""
    cancel_requested: int
    """Running jobs told to stop: each stops on its worker's next heartbeat."""
    more: bool
    """More jobs matched than the call's limit: call again to cancel the rest."""

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> CancelCounts:
        return cls(
            cancelled=int(view["cancelled"]),
            cancel_requested=int(view["cancel_requested"]),
            more=bool(view["more"]),
        )


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` job starts per `period` seconds."""

    limit: int
    period: float


@dataclass(frozen=True)
class QueueInfo:
    """A queue: its controls and its jobs per state."""

    name: str
    paused: bool
    max_running: int | None
    rate_limit: RateLimit | None
    counts: dict[str, int]
    oldest_ready_at: datetime | None

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> QueueInfo:
        limit = view.get("rate_limit")
        return cls(
            name=view["name"],
            paused=view["paused"],
            max_running=view.get("max_running"),
            rate_limit=RateLimit(limit["limit"], limit["period_ms"] / 1000)
            if limit
            else None,
            counts=dict(view["counts"]),
            oldest_ready_at=_maybe_time(view.get("oldest_ready_at")),
        )


class Management:
    """The managing calls of a `Workhorse` app (mixed into it)."""

    if TYPE_CHECKING:

        @property
        def client(self) -> Client: ...

    # -- schedules ---------------------------------------------------------------------

    async def set_schedule(
        self, name: str, *, task: str | Enqueueable, **definition: Any
    ) -> ScheduleInfo:
        """Creates the schedule `name`, or replaces its definition (APScheduler's
        `add_job(..., replace_existing=True)`): exactly one of `cron` (with `tz`), `every`
        (seconds or a `timedelta`, with `anchor`) or `at` (an aware `datetime`), and the
        jobs it makes: `args`, `kwargs`, `queue`, `priority`, `retries`, `timeout`,
        `misfire`, `grace`, `overlap`, `paused`. A schedule made here belongs to no app:
        no app's declared set deletes it. Returns it with its next fire times."""
        document = _schedule(name, task, definition).definition()
        await self.client.upsert_schedule(name, json.dumps(document))
        return await self.get_schedule(name)

    def set_schedule_sync(
        self, name: str, *, task: str | Enqueueable, **definition: Any
    ) -> ScheduleInfo:
        document = _schedule(name, task, definition).definition()
        self.client.upsert_schedule_sync(name, json.dumps(document))
        return self.get_schedule_sync(name)

    async def list_schedules(self) -> list[ScheduleInfo]:
        """Every schedule, by name."""
        return _schedules(await self.client.list_schedules())

    def list_schedules_sync(self) -> list[ScheduleInfo]:
        return _schedules(self.client.list_schedules_sync())

    async def get_schedule(self, name: str) -> ScheduleInfo:
        """One schedule, with its next fire times and recent fires (`ApiError` with
        status 404 when there is none)."""
        return _schedule_info(await self.client.get_schedule(name))

    def get_schedule_sync(self, name: str) -> ScheduleInfo:
        return _schedule_info(self.client.get_schedule_sync(name))

    async def pause_schedule(self, name: str) -> ScheduleInfo:
        """Stops the schedule firing; on resume, missed fires follow its misfire policy."""
        return _schedule_info(await self.client.pause_schedule(name, True))

    def pause_schedule_sync(self, name: str) -> ScheduleInfo:
        return _schedule_info(self.client.pause_schedule_sync(name, True))

    async def resume_schedule(self, name: str) -> ScheduleInfo:
        return _schedule_info(await self.client.pause_schedule(name, False))

    def resume_schedule_sync(self, name: str) -> ScheduleInfo:
        return _schedule_info(self.client.pause_schedule_sync(name, False))

    async def trigger_schedule(self, name: str) -> Fire:
        """Fires the schedule now, whatever its state; its next fire stays as it was."""
        return Fire.from_view(json.loads(await self.client.trigger_schedule(name)))

    def trigger_schedule_sync(self, name: str) -> Fire:
        return Fire.from_view(json.loads(self.client.trigger_schedule_sync(name)))

    async def delete_schedule(self, name: str) -> ScheduleInfo:
        """Deletes the schedule (the jobs it made stay); returns it as it was."""
        return _schedule_info(await self.client.delete_schedule(name))

    def delete_schedule_sync(self, name: str) -> ScheduleInfo:
        return _schedule_info(self.client.delete_schedule_sync(name))

    # -- jobs --------------------------------------------------------------------------

    async def list_jobs(
        self,
        *,
        queue: str | None = None,
        state: JobState | str | None = None,
        task: str | Enqueueable | None = None,
        key: str | None = None,
    ) -> AsyncIterator[JobInfo]:
        """The jobs matching every filter given, newest first, read a page at a time as
        you iterate (`async for job in wh.list_jobs(state="dead")`)."""
        query = _job_query(queue, state, task, key)
        while True:
            page = json.loads(await self.client.list_jobs(json.dumps(query)))
            for view in page["jobs"]:
                yield JobInfo.from_view(view)
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]

    def list_jobs_sync(
        self,
        *,
        queue: str | None = None,
        state: JobState | str | None = None,
        task: str | Enqueueable | None = None,
        key: str | None = None,
    ) -> Iterator[JobInfo]:
        query = _job_query(queue, state, task, key)
        while True:
            page = json.loads(self.client.list_jobs_sync(json.dumps(query)))
            yield from (JobInfo.from_view(view) for view in page["jobs"])
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]

    async def redrive(
        self,
        *,
        queue: str | None = None,
        task: str | Enqueueable | None = None,
        state: JobState | str = JobState.DEAD,
    ) -> int:
        """Runs again, with fresh attempts, the dead jobs (or `cancelled`, `expired`) of
        `queue` and/or `task` (every dead job when neither is given), up to 10,000 per
        call; returns how many."""
        request = _redrive(queue, task, state)
        return int(json.loads(await self.client.redrive(request))["count"])

    def redrive_sync(
        self,
        *,
        queue: str | None = None,
        task: str | Enqueueable | None = None,
        state: JobState | str = JobState.DEAD,
    ) -> int:
        request = _redrive(queue, task, state)
        return int(json.loads(self.client.redrive_sync(request))["count"])

    async def cancel_jobs(
        self,
        *,
        queue: str | None = None,
        task: str | Enqueueable | None = None,
        state: JobState | str | None = None,
        all: bool = False,
        limit: int | None = None,
    ) -> CancelCounts:
        """Cancels the unfinished jobs of `queue` and/or `task` (`state`: only `scheduled`,
        `ready`, `waiting` or `running` ones; default all four), up to `limit` (default and
        maximum 10,000) in one transaction: waiting jobs at once, running ones on their
        next heartbeat. With neither `queue` nor `task`, `all=True` is required (every
        unfinished job). When `more` is true, call again for the rest."""
        request = _cancel(queue, task, state, all, limit)
        return CancelCounts.from_view(
            json.loads(await self.client.cancel_jobs(request))
        )

    def cancel_jobs_sync(
        self,
        *,
        queue: str | None = None,
        task: str | Enqueueable | None = None,
        state: JobState | str | None = None,
        all: bool = False,
        limit: int | None = None,
    ) -> CancelCounts:
        request = _cancel(queue, task, state, all, limit)
        return CancelCounts.from_view(json.loads(self.client.cancel_jobs_sync(request)))

    # -- queues ------------------------------------------------------------------------

    async def list_queues(self) -> list[QueueInfo]:
        """Every known queue with its controls and counts."""
        return _queues(await self.client.list_queues())

    def list_queues_sync(self) -> list[QueueInfo]:
        return _queues(self.client.list_queues_sync())

    async def pause_queue(self, name: str) -> QueueInfo:
        """No job of the queue starts until it is resumed (running ones go on)."""
        return await self._update_queue(name, {"paused": True})

    def pause_queue_sync(self, name: str) -> QueueInfo:
        return self._update_queue_sync(name, {"paused": True})

    async def resume_queue(self, name: str) -> QueueInfo:
        return await self._update_queue(name, {"paused": False})

    def resume_queue_sync(self, name: str) -> QueueInfo:
        return self._update_queue_sync(name, {"paused": False})

    async def set_queue(
        self, name: str, *, max_running: Any = ..., rate_limit: Any = ...
    ) -> QueueInfo:
        """Changes the queue's limits: `max_running` (jobs running at once across every
        worker), `rate_limit` (`(limit, period_seconds)`, or a `RateLimit`); `None`
        removes a limit, an omitted one stays as it is."""
        return await self._update_queue(name, _queue_patch(max_running, rate_limit))

    def set_queue_sync(
        self, name: str, *, max_running: Any = ..., rate_limit: Any = ...
    ) -> QueueInfo:
        return self._update_queue_sync(name, _queue_patch(max_running, rate_limit))

    async def _update_queue(self, name: str, patch: dict[str, Any]) -> QueueInfo:
        answer = await self.client.update_queue(name, json.dumps(patch))
        return QueueInfo.from_view(json.loads(answer))

    def _update_queue_sync(self, name: str, patch: dict[str, Any]) -> QueueInfo:
        answer = self.client.update_queue_sync(name, json.dumps(patch))
        return QueueInfo.from_view(json.loads(answer))


def _schedule(
    name: str, task: str | Enqueueable, definition: dict[str, Any]
) -> Schedule:
    """The `Schedule` a `set_schedule` call describes (its task's queue by default)."""
    known = {
        "cron", "tz", "every", "anchor", "at", "args", "kwargs", "queue", "priority",
        "retries", "timeout", "misfire", "grace", "overlap", "paused",
    }  # fmt: skip
    unknown = sorted(set(definition) - known)
    if unknown:
        raise TypeError(
            f"set_schedule() got unknown options {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(known))}"
        )
    if sum(definition.get(k) is not None for k in ("cron", "every", "at")) != 1:
        raise ValueError(f"schedule {name!r} needs exactly one of cron, every or at")
    task_name = task if isinstance(task, str) else task.name
    queue = definition.get("queue")
    if queue is None and not isinstance(task, str):
        queue = task.defaults.queue
    retries = definition.get("retries")
    overlap: Overlap | None = definition.get("overlap")
    return Schedule(
        name=name,
        task=task_name,
        cron=definition.get("cron"),
        timezone=definition.get("tz"),
        every=definition.get("every"),
        anchor=definition.get("anchor"),
        at=definition.get("at"),
        queue=queue,
        args=tuple(definition.get("args") or ()),
        kwargs=dict(definition.get("kwargs") or {}),
        priority=definition.get("priority"),
        max_attempts=None if retries is None else retries + 1,
        timeout=definition.get("timeout"),
        misfire=definition.get("misfire"),
        grace=definition.get("grace"),
        overlap=overlap,
        paused=definition.get("paused"),
    )


def _job_query(
    queue: str | None,
    state: JobState | str | None,
    task: str | Enqueueable | None,
    key: str | None,
) -> dict[str, Any]:
    query: dict[str, Any] = {"limit": _PAGE}
    if queue is not None:
        query["queue"] = queue
    if state is not None:
        query["state"] = JobState(state).value
    if task is not None:
        query["task"] = task if isinstance(task, str) else task.name
    if key is not None:
        query["key"] = key
    return query


def _redrive(
    queue: str | None, task: str | Enqueueable | None, state: JobState | str
) -> str:
    request: dict[str, Any] = {"state": JobState(state).value}
    if queue is not None:
        request["queue"] = queue
    if task is not None:
        request["task"] = task if isinstance(task, str) else task.name
    return json.dumps(request)


def _cancel(
    queue: str | None,
    task: str | Enqueueable | None,
    state: JobState | str | None,
    every: bool,
    limit: int | None,
) -> str:
    if queue is None and task is None and not every:
        raise ValueError(
            "cancel_jobs() needs queue, task or both, or all=True to cancel every "
            "unfinished job"
        )
    request: dict[str, Any] = {}
    if queue is not None:
        request["queue"] = queue
    if task is not None:
        request["task"] = task if isinstance(task, str) else task.name
    if state is not None:
        request["state"] = JobState(state).value
    if every:
        request["all"] = True
    if limit is not None:
        request["limit"] = limit
    return json.dumps(request)


def _queue_patch(max_running: Any, rate_limit: Any) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    if max_running is not ...:
        if max_running is not None and (
            not isinstance(max_running, int) or max_running < 1
        ):
            raise ValueError(f"max_running must be at least 1 (got {max_running!r})")
        patch["max_running"] = max_running
    if rate_limit is not ...:
        patch["rate_limit"] = _rate_limit(rate_limit)
    if not patch:
        raise TypeError("set_queue() needs max_running, rate_limit or both")
    return patch


def _rate_limit(rate_limit: Any) -> dict[str, int] | None:
    if rate_limit is None:
        return None
    limit, period = (
        (rate_limit.limit, rate_limit.period)
        if isinstance(rate_limit, RateLimit)
        else rate_limit
    )
    period_value: Duration = period
    return {"limit": int(limit), "period_ms": milliseconds(period_value, "rate_limit")}


def _schedules(text: str) -> list[ScheduleInfo]:
    document = json.loads(text)
    views = document["schedules"] if isinstance(document, dict) else document
    return [ScheduleInfo.from_view(view) for view in views]


def _schedule_info(text: str) -> ScheduleInfo:
    return ScheduleInfo.from_view(json.loads(text))


def _queues(text: str) -> list[QueueInfo]:
    document = json.loads(text)
    views = document["queues"] if isinstance(document, dict) else document
    return [QueueInfo.from_view(view) for view in views]


def _maybe_time(text: str | None) -> datetime | None:
    return parse_time(text) if text is not None else None
