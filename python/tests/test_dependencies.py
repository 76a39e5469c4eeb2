"""FastAPI dependencies in tasks (`db: Session = Depends(get_session)`), resolved per job on
the worker with FastAPI's machinery: sub-dependencies, `yield` dependencies closed after
success, failure and cancel, overrides, and thread tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import Depends

from tests.apps import basic
from tests.support import wait_until
from workhorse import JobCancelled, JobFailed, JobState, Workhorse
from workhorse.testing import WorkhorseEnv

RESULT_WAIT = 20.0


def test_dependencies_are_not_arguments_of_the_job() -> None:
    request = basic.uses_session.call("ok").request()
    assert request["args"] == ["ok"] and "kwargs" not in request
    with pytest.raises(TypeError, match="unexpected keyword argument 'db'"):
        basic.uses_session.call("ok", db="not an argument")


async def test_a_yield_dependency_is_closed_after_success(env: WorkhorseEnv) -> None:
    result = await (await basic.uses_session.enqueue("ok")).result(timeout=RESULT_WAIT)
    assert result == {"dsn": "postgresql://app", "session": 0}
    assert basic.seen["sessions"] == [("open", 0), ("close", 0)]


async def test_a_yield_dependency_sees_the_failure_and_is_closed(
    env: WorkhorseEnv,
) -> None:
    job = await basic.uses_session.enqueue("fail")
    with pytest.raises(JobFailed) as caught:
        await job.result(timeout=RESULT_WAIT)
    assert caught.value.error is not None
    assert caught.value.error.message == "the task failed"
    assert basic.seen["sessions"] == [
        ("open", 0),
        ("rollback", 0, "RuntimeError"),
        ("close", 0),
    ]


async def test_a_yield_dependency_is_closed_when_the_job_is_cancelled(
    env: WorkhorseEnv,
) -> None:
    job = await basic.uses_session.enqueue("wait")
    await asyncio.to_thread(basic.gates["uses_session"].wait, RESULT_WAIT)
    await job.cancel()
    with pytest.raises(JobCancelled):
        await job.result(timeout=RESULT_WAIT)
    assert (await job.status()).state is JobState.CANCELLED
    closed = lambda: ("close", 0) in basic.seen["sessions"]
    await asyncio.to_thread(wait_until, closed, what="the session is closed")
    assert basic.seen["sessions"] == [("open", 0), ("close", 0)]


async def test_each_job_gets_its_own_dependencies_and_overrides_apply(
    env: WorkhorseEnv,
) -> None:
    first = await (await basic.uses_session.enqueue("ok")).result(timeout=RESULT_WAIT)
    basic.wh.dependency_overrides[basic.get_settings] = lambda: {"dsn": "sqlite://test"}
    try:
        second = await (await basic.uses_session.enqueue("ok")).result(
            timeout=RESULT_WAIT
        )
    finally:
        basic.wh.dependency_overrides.clear()
    assert (first["session"], second["session"]) == (0, 2)
    assert second["dsn"] == "sqlite://test", "the sub-dependency was overridden"


async def test_a_thread_task_gets_a_sync_yield_dependency(env: WorkhorseEnv) -> None:
    job = await basic.thread_uses_box.enqueue(7)
    assert await job.result(timeout=RESULT_WAIT) == 7, "ran in a worker thread"
    assert basic.seen["box closed"] == [[7]]


def test_a_process_task_cannot_take_dependencies() -> None:
    wh = Workhorse(url="http://127.0.0.1:9")

    def get_thing() -> Iterator[int]:
        yield 1

    with pytest.raises(ValueError, match=r"takes dependencies \(thing\).*isolation"):

        @wh.task(isolation="process")
        def crunch(n: int, thing: int = Depends(get_thing)) -> int:
            return n
