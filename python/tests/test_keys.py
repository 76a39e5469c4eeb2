"""How long a job holds its idempotency key, through a real server (the in-process engine
and a `workhorse serve` process) and a real worker: a job that succeeded keeps it, a dead
one releases it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.apps import basic
from workhorse import ApiError, JobFailed, JobState, Workhorse
from workhorse.testing import WorkhorseEnv

RESULT_WAIT = 20.0


async def test_a_succeeded_job_keeps_its_key(env: WorkhorseEnv) -> None:
    welcome = basic.send_email.options(key=lambda to, **_: f"welcome:{to}")
    first = await welcome.enqueue("a@b.c")
    await first.result(timeout=RESULT_WAIT)
    again = await welcome.enqueue("a@b.c", subject="a second signup")
    assert again.id == first.id
    assert again.enqueued is not None
    assert again.enqueued.state is JobState.SUCCEEDED


async def test_a_dead_job_releases_its_key(env: WorkhorseEnv) -> None:
    failing = basic.always_fails.options(key="fails:7", retries=0)
    first = await failing.enqueue(7)
    with pytest.raises(JobFailed):
        await first.result(timeout=RESULT_WAIT)
    again = await failing.enqueue(7)
    assert again.id != first.id
    assert again.enqueued is not None
    assert again.enqueued.state is JobState.READY


async def test_a_key_window_over_365_days_is_refused(app: Workhorse) -> None:
    too_long = basic.add.options(key="k", key_window=timedelta(days=366))
    with pytest.raises(ApiError) as refused:
        await too_long.enqueue(1, 2)
    assert refused.value.status == 422
    assert json.loads(refused.value.problem)["field"] == "key_window_ms"
