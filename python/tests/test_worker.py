"""The worker runtime in this process (a `WorkhorseEnv`), against a real server (the
in-process engine and a `workhorse serve` process)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import httpx
import pytest

from tests.apps import basic
from tests.support import wait_until
from workhorse import Abort, JobFailed, JobState
from workhorse.testing import WorkhorseEnv

RESULT_WAIT = 20.0


async def test_async_thread_and_process_tasks_run(env: WorkhorseEnv) -> None:
    added = await basic.add.enqueue(2, 3)
    multiplied = await basic.multiply.enqueue(2.5, 4)
    squared = await basic.square.enqueue(7)
    emailed = await basic.send_email.enqueue("a@b.c", subject="welcome")
    assert await added.result(timeout=RESULT_WAIT) == 5
    assert await multiplied.result(timeout=RESULT_WAIT) == 10.0
    assert basic.seen["multiply-thread"][0].startswith("workhorse-task")
    result = await squared.result(timeout=RESULT_WAIT)
    assert (result["square"], result["job_id"]) == (49, squared.id)
    assert result["pid"] != os.getpid(), "isolation='process' runs in another process"
    assert await emailed.result(timeout=RESULT_WAIT) == {
        "to": "a@b.c",
        "subject": "welcome",
    }
    info = await added.status()
    assert (info.state, info.attempt, info.errors) == (JobState.SUCCEEDED, 1, [])
    assert info.started_at is not None and info.finished_at is not None


async def test_retry_asks_for_another_attempt(env: WorkhorseEnv) -> None:
    job = await basic.retries_once.enqueue()
    assert await job.result(timeout=RESULT_WAIT) == 2
    info = await job.status()
    assert [(e.attempt, e.type) for e in info.errors] == [(1, "Retry")]


async def test_an_exception_follows_the_retry_policy_to_the_dead_letters(
    env: WorkhorseEnv,
) -> None:
    job = await basic.always_fails.enqueue(7)
    with pytest.raises(
        JobFailed, match="dead after 3 attempt.*ValueError: no good: 7"
    ) as caught:
        await job.result(timeout=RESULT_WAIT)
    info = caught.value.info
    assert info.state is JobState.DEAD
    assert [(e.attempt, e.type, e.message) for e in info.errors] == [
        (n, "ValueError", "no good: 7") for n in (1, 2, 3)
    ]
    error = caught.value.error
    assert error is not None and error.traceback is not None
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert 'raise ValueError(f"no good: {x}")' in error.traceback
    assert "workhorse/worker.py" not in error.traceback, "runtime frames are left out"


async def test_abort_skips_the_remaining_attempts(env: WorkhorseEnv) -> None:
    job = await basic.aborts.enqueue()
    with pytest.raises(JobFailed) as caught:
        await job.result(timeout=RESULT_WAIT)
    assert caught.value.info.attempt == 1
    assert caught.value.error is not None
    assert (caught.value.error.type, caught.value.error.message) == (
        Abort.__name__,
        "the input can never work",
    )


async def test_progress_is_seen_while_the_job_runs(env: WorkhorseEnv) -> None:
    job = await basic.waits_at_gate.enqueue("progress")

    def progress_reported() -> bool:
        progress = job.status_sync().progress
        return progress is not None and progress.fraction == 0.5

    wait_until(progress_reported, what="progress 0.5")
    info = await job.status()
    assert info.state is JobState.RUNNING
    assert info.progress is not None and info.progress.message == "halfway"
    basic.gates["progress"].set()
    assert await job.result(timeout=RESULT_WAIT) == "progress"


async def test_cancel_reaches_a_running_async_task(env: WorkhorseEnv) -> None:
    job = await basic.cancellable.enqueue("cancel-async")
    wait_until(lambda: basic.seen["cancel-async"], what="the task started")
    await job.cancel()
    wait_until(
        lambda: "cancelled" in basic.seen["cancel-async"],
        what="CancelledError in the task",
    )
    info = await job.wait(timeout=RESULT_WAIT)
    assert info.state is JobState.CANCELLED


async def test_cancel_turns_ctx_cancelled_true_in_a_thread(env: WorkhorseEnv) -> None:
    job = await basic.thread_sees_cancel.enqueue("cancel-thread")
    wait_until(lambda: basic.seen["cancel-thread"], what="the task started")
    await job.cancel()
    wait_until(lambda: len(basic.seen["cancel-thread"]) == 2, what="ctx.cancelled")
    assert basic.seen["cancel-thread"] == ["started", "Cancelled"]
    assert (await job.wait(timeout=RESULT_WAIT)).state is JobState.CANCELLED


async def test_the_time_limit_cancels_an_async_task(env: WorkhorseEnv) -> None:
    job = await basic.overruns.enqueue()
    with pytest.raises(JobFailed, match="TimeLimitExceeded"):
        await job.result(timeout=RESULT_WAIT)


async def test_a_result_that_is_not_json_fails_for_good(env: WorkhorseEnv) -> None:
    job = await basic.bad_result.enqueue()
    with pytest.raises(JobFailed) as caught:
        await job.result(timeout=RESULT_WAIT)
    error = caught.value.error
    assert error is not None and error.type == "ResultNotSerializable"
    assert "the result of task 'tests.apps.basic.bad_result'" in error.message


async def test_a_job_for_a_task_the_worker_lacks_records_why(env: WorkhorseEnv) -> None:
    job = await env.app.remote_task("tests.apps.basic.renamed", retries=0).enqueue()  # type: ignore[union-attr]
    with pytest.raises(JobFailed) as caught:
        await job.result(timeout=RESULT_WAIT)
    error = caught.value.error
    assert error is not None and error.type == "UnknownTask"
    assert "tests.apps.basic.renamed" in error.message


async def test_start_up_resources_reach_the_tasks(env: WorkhorseEnv) -> None:
    job = await basic.uses_resources.enqueue()
    assert await job.result(timeout=RESULT_WAIT) == ["hello", True]


def test_shut_down_hooks_run_after_the_last_job(server_url: str) -> None:
    basic.reset()
    with WorkhorseEnv(basic.wh, url=server_url) as env:
        basic.add.enqueue_sync(1, 1).result_sync(timeout=RESULT_WAIT)
        env.drain_sync()
        assert not basic.seen["shutdown"]
    assert basic.seen["shutdown"] == [["greeting", "started_at"]]


async def test_log_records_carry_the_job_id(
    env: WorkhorseEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    job = await basic.logs.enqueue()
    await job.result(timeout=RESULT_WAIT)
    records = [r for r in caplog.records if r.getMessage().startswith("from ")]
    assert {r.name for r in records} == {basic.logs.name, "somewhere.else"}
    assert {(r.job_id, r.task) for r in records} == {(job.id, basic.logs.name)}  # type: ignore[attr-defined]


def test_schedules_are_declared_when_the_worker_starts(env: WorkhorseEnv) -> None:
    expected: dict[str, dict[str, object]] = {
        basic.nightly_cleanup.name: {"cron": "0 3 * * *", "timezone": "Europe/Berlin"},
        "tick-every-5-minutes": {"every_ms": 300_000},
    }
    stored: dict[str, Any] = {}
    for name, definition in expected.items():
        answer = httpx.get(f"{env.url}/v1/schedules/{name}")
        assert answer.status_code == 200, answer.text
        stored[name] = answer.json()
        assert stored[name]["definition"].items() >= definition.items()
        assert stored[name]["next_fire_at"] is not None
    assert env.app is not None
    again = env.app.declare_schedules_sync()
    assert {name: view["updated_at"] for name, view in again.items()} == {
        name: view["updated_at"] for name, view in stored.items()
    }, "declaring them again changes nothing"


async def test_drain_waits_for_every_ready_job(env: WorkhorseEnv) -> None:
    jobs = await env.app.enqueue_many([basic.add.call(n, n) for n in range(200)])  # type: ignore[union-attr]
    await env.drain()
    infos = [await job.status() for job in jobs]
    assert {info.state for info in infos} == {JobState.SUCCEEDED}
    assert [info.result for info in infos] == [2 * n for n in range(200)]
    assert json.loads(env.client.list_queues_sync())
