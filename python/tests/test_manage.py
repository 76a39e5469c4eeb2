"""Managing schedules, jobs and queues from code (`wh.set_schedule`, `wh.list_jobs`,
`wh.cancel_jobs`, `wh.redrive`, `wh.pause_queue`...), against both servers, async and sync."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.apps import basic
from workhorse import (
    ApiError,
    CancelCounts,
    JobFailed,
    JobState,
    RateLimit,
    Workhorse,
)
from workhorse.testing import WorkhorseEnv

RESULT_WAIT = 20.0


async def test_a_schedule_is_added_listed_paused_triggered_and_removed(
    app: Workhorse,
) -> None:
    added = await app.set_schedule(
        "reports.nightly",
        task=basic.add,
        cron="30 2 * * *",
        tz="Europe/Berlin",
        args=[1, 2],
    )
    assert added.task == basic.add.name and not added.paused
    assert added.definition["timezone"] == "Europe/Berlin"
    assert len(added.next_fires) >= 2 and added.next_fires[0] == added.next_fire_at
    assert added.next_fire_at is not None
    berlin = added.next_fire_at.astimezone(timezone(timedelta(hours=1)))
    assert (berlin.hour, berlin.minute) in ((2, 30), (3, 30)), "02:30 Berlin time"

    # Replacing the definition (APScheduler's replace_existing=True) keeps one schedule.
    replaced = await app.set_schedule(
        "reports.nightly", task=basic.add, every=3600, args=[2, 3]
    )
    assert replaced.definition["every_ms"] == 3_600_000
    names = [s.name for s in await app.list_schedules()]
    assert names.count("reports.nightly") == 1

    assert (await app.pause_schedule("reports.nightly")).paused
    assert not (await app.resume_schedule("reports.nightly")).paused
    fire = await app.trigger_schedule("reports.nightly")
    assert fire.triggered and fire.job_id is not None
    job = await app.job(fire.job_id).status()
    assert job.task == basic.add.name and job.args == [2, 3]

    removed = await app.delete_schedule("reports.nightly")
    assert removed.name == "reports.nightly"
    assert "reports.nightly" not in [s.name for s in await app.list_schedules()]
    with pytest.raises(ApiError, match="reports.nightly"):
        await app.get_schedule("reports.nightly")


def test_schedule_mistakes_are_refused_and_change_nothing(app: Workhorse) -> None:
    before = app.list_schedules_sync()
    with pytest.raises(ApiError, match="cron: minute 61 is out of range") as caught:
        app.set_schedule_sync("bad", task="t", cron="61 * * * *")
    assert caught.value.status == 422
    with pytest.raises(ValueError, match="exactly one of cron, every or at"):
        app.set_schedule_sync("bad", task="t", cron="* * * * *", every=60)
    with pytest.raises(TypeError, match="unknown options tzinfo"):
        app.set_schedule_sync("bad", task="t", cron="* * * * *", tzinfo="UTC")
    assert app.list_schedules_sync() == before


def test_a_one_off_schedule_and_the_sync_twins(app: Workhorse) -> None:
    when = datetime.now(timezone.utc) + timedelta(days=2)
    once = app.set_schedule_sync(
        "once", task="cleanup.run", at=when, queue="maintenance"
    )
    assert once.definition["queue"] == "maintenance"
    assert once.next_fire_at is not None
    assert abs((once.next_fire_at - when).total_seconds()) < 0.001
    assert app.get_schedule_sync("once").name == "once"
    assert app.delete_schedule_sync("once").name == "once"


async def test_jobs_are_listed_by_filter_across_pages(app: Workhorse) -> None:
    jobs = await app.enqueue_many(
        [basic.add.call(i, i) for i in range(450)]
        + [basic.send_email.call("a@b.c") for _ in range(3)]
    )
    listed = [job async for job in app.list_jobs(task=basic.add)]
    assert len(listed) == 450, "three pages of 200, 200 and 50"
    assert [j.id for j in listed] == [j.id for j in reversed(jobs[:450])], (
        "newest first"
    )
    emails = [j.id for j in app.list_jobs_sync(queue="emails", state=JobState.READY)]
    assert emails == [j.id for j in reversed(jobs[450:])]
    assert [j async for j in app.list_jobs(task="no.such.task")] == []
    with pytest.raises(ValueError, match="not a valid JobState"):
        [j async for j in app.list_jobs(state="finished")]


async def test_dead_letters_are_redriven_and_a_job_retried(env: WorkhorseEnv) -> None:
    app = env.app
    assert app is not None
    failing = [await basic.always_fails.enqueue(i) for i in range(3)]

    async def errors_once_dead() -> list[int]:
        counts = []
        for job in failing:
            with pytest.raises(JobFailed) as caught:
                await job.result(timeout=RESULT_WAIT)
            counts.append(len(caught.value.info.errors))
        return counts

    assert await errors_once_dead() == [3, 3, 3], "three attempts each"
    assert await app.redrive(task="no.such.task") == 0, "a filter that matches nothing"
    assert await app.redrive(task=basic.always_fails) == 3
    assert await errors_once_dead() == [6, 6, 6], "fresh attempts, errors kept"
    await failing[0].retry()
    assert await errors_once_dead() == [9, 6, 6]


async def test_waiting_jobs_are_cancelled_by_filter(app: Workhorse) -> None:
    adds = await app.enqueue_many([basic.add.call(i, i) for i in range(3)])
    later = await basic.add.options(delay=3600).enqueue(9, 9)
    email = await basic.send_email.enqueue("a@b.c")
    nothing = await app.cancel_jobs(task="no.such.task")
    assert nothing == CancelCounts(cancelled=0, cancel_requested=0, more=False)

    first = await app.cancel_jobs(task=basic.add, state=JobState.READY, limit=2)
    assert first == CancelCounts(cancelled=2, cancel_requested=0, more=True)
    rest = app.cancel_jobs_sync(task=basic.add.name, state="ready")
    assert rest == CancelCounts(cancelled=1, cancel_requested=0, more=False)
    for job in adds:
        assert (await job.status()).state == JobState.CANCELLED
    assert (await later.status()).state == JobState.SCHEDULED, "another state"
    assert (await email.status()).state == JobState.READY, "another task"
    assert (await app.cancel_jobs(queue="emails")).cancelled == 1
    assert (await email.status()).state == JobState.CANCELLED


def test_a_cancel_by_filter_refuses_bad_input(app: Workhorse) -> None:
    job = basic.add.enqueue_sync(1, 2)
    with pytest.raises(ValueError, match="needs queue, task or both, or all=True"):
        app.cancel_jobs_sync(state="ready")
    with pytest.raises(ApiError, match="succeeded") as caught:
        app.cancel_jobs_sync(task=basic.add, state=JobState.SUCCEEDED)
    assert caught.value.status == 422
    with pytest.raises(ApiError, match="limit"):
        app.cancel_jobs_sync(task=basic.add, limit=0)
    with pytest.raises(ValueError, match="not a valid JobState"):
        app.cancel_jobs_sync(task=basic.add, state="finished")
    assert job.status_sync().state == JobState.READY, "a refusal changes nothing"
    every = app.cancel_jobs_sync(all=True)
    assert every == CancelCounts(cancelled=1, cancel_requested=0, more=False)


async def test_queues_are_paused_resumed_and_limited(app: Workhorse) -> None:
    await basic.send_email.enqueue("a@b.c")
    paused = await app.pause_queue("emails")
    assert paused.paused and paused.counts.get("ready") == 1
    limited = await app.set_queue("emails", max_running=3, rate_limit=(10, 1.5))
    assert (limited.max_running, limited.rate_limit) == (3, RateLimit(10, 1.5))
    assert limited.paused, "an omitted control stays as it is"
    cleared = app.set_queue_sync("emails", rate_limit=None)
    assert cleared.rate_limit is None and cleared.max_running == 3
    assert not app.resume_queue_sync("emails").paused
    emails = [q for q in await app.list_queues() if q.name == "emails"]
    assert len(emails) == 1 and emails[0].max_running == 3
    with pytest.raises(ValueError, match="max_running must be at least 1"):
        await app.set_queue("emails", max_running=0)
    with pytest.raises(TypeError, match="needs max_running, rate_limit or both"):
        await app.set_queue("emails")
