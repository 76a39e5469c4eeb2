"""Workflows through the Python SDK against a real server (the in-process engine and a
`workhorse serve` process), with a worker running the canvas app in this process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.apps import canvas
from tests.support import job_counts, wait_until
from workhorse import (
    ApiError,
    JobState,
    Workflow,
    WorkflowFailed,
    WorkflowState,
    Workhorse,
)
from workhorse.testing import WorkhorseEnv

DEADLINE = 30.0


@pytest.fixture
def wh(server_url: str) -> Iterator[Workhorse]:
    """The canvas app, pointed at the server, with a worker running its tasks."""
    canvas.gates.clear()
    with WorkhorseEnv(canvas.wh, url=server_url):
        yield canvas.wh
    canvas.gates.clear()


@pytest.fixture
def idle(server_url: str) -> Iterator[Workhorse]:
    """The canvas app, pointed at the server, with no worker: jobs wait."""
    with WorkhorseEnv(canvas.wh, url=server_url, worker=False):
        yield canvas.wh


async def test_a_chain_passes_each_result_on(wh: Workhorse) -> None:
    flow = wh.chain(canvas.add.s(1, 2), canvas.add.s(10), canvas.double.s())
    await flow.enqueue()
    assert await flow.result(timeout=DEADLINE) == 26  # double(add(add(1, 2), 10))
    info = await flow.status()
    assert info.state is WorkflowState.SUCCEEDED
    assert [job.args for job in info.jobs] == [[1, 2], [3, 10], [13]]
    assert all(job.workflow_id == flow.id for job in info.jobs)


def test_a_chain_from_synchronous_code(wh: Workhorse) -> None:
    flow = wh.chain(canvas.add.s(1, 1) | canvas.double.s()).enqueue_sync()
    assert flow.result_sync(timeout=DEADLINE) == 4


async def test_a_chord_callback_gets_the_results_in_group_order(wh: Workhorse) -> None:
    gates = ["first", "second", "third"]
    flow = wh.chord(
        wh.group(canvas.at_gate.s(gate) for gate in gates),
        canvas.collect.s("done"),
    )
    await flow.enqueue()
    enqueued = flow.enqueued
    assert enqueued is not None
    member_of = {job.args[0]: wh.job(job.id) for job in enqueued.jobs[:-1]}
    # Finish the members last to first: the callback still gets them in group order.
    for gate in reversed(gates):
        canvas.gates[gate].set()
        assert await member_of[gate].result(timeout=DEADLINE) == gate
    result = await flow.result(timeout=DEADLINE)
    assert result == {"label": "done", "results": gates}


async def test_a_group_result_is_the_list_of_its_members(wh: Workhorse) -> None:
    flow = wh.group(canvas.double.s(n) for n in range(5))
    assert await (await flow.enqueue()).result(timeout=DEADLINE) == [0, 2, 4, 6, 8]


async def test_an_immutable_job_ignores_its_parents(wh: Workhorse) -> None:
    flow = wh.chain(canvas.add.s(1, 2), canvas.add.si(5, 5))
    await flow.enqueue()
    assert await flow.result(timeout=DEADLINE) == 10


async def test_cancel_stops_every_unfinished_job(wh: Workhorse) -> None:
    flow = wh.chain(canvas.at_gate.s("never"), canvas.double.s(), canvas.double.s())
    await flow.enqueue()
    assert flow.enqueued is not None
    first = wh.job(flow.enqueued.jobs[0].id)
    wait_until(
        lambda: first.status_sync().state is JobState.RUNNING,
        what="the first job running",
    )
    await flow.cancel()
    with pytest.raises(WorkflowFailed) as failed:
        await flow.result(timeout=DEADLINE)
    info = failed.value.info
    assert info.state is WorkflowState.FAILED
    assert [job.state for job in info.jobs] == [JobState.CANCELLED] * 3


async def test_a_failed_job_cancels_the_jobs_waiting_on_it(wh: Workhorse) -> None:
    flow = wh.chain(canvas.fails.s(), canvas.double.s())
    await flow.enqueue()
    with pytest.raises(WorkflowFailed, match="fails") as failed:
        await flow.result(timeout=DEADLINE)
    states = [job.state for job in failed.value.info.jobs]
    assert states == [JobState.DEAD, JobState.CANCELLED]


async def test_run_anyway_passes_none_for_a_failed_parent(wh: Workhorse) -> None:
    flow = wh.chain(
        canvas.fails.s(), canvas.collect.s("after"), on_parent_failure="run_anyway"
    )
    await flow.enqueue()
    with pytest.raises(WorkflowFailed) as failed:
        await flow.result(timeout=DEADLINE)
    dead, after = failed.value.info.jobs
    assert failed.value.info.failed_jobs == [dead]
    assert after.result == {"label": "after", "results": None}


async def test_an_invalid_job_is_refused_naming_its_field(idle: Workhorse) -> None:
    bad = canvas.double.options(queue="no spaces allowed").s()
    flow = idle.chain(canvas.add.s(1, 2), idle.chord([bad], canvas.add.s(1)))
    with pytest.raises(ApiError) as refused:
        await flow.enqueue()
    assert refused.value.status == 422
    problem = json.loads(refused.value.problem)
    assert problem["field"] == "workflow.chain[1].chord.group[0].job.queue"
    assert "no spaces allowed" in str(refused.value)
    assert flow.id is None
    assert sum(job_counts(idle.client).values()) == 0


def test_bad_steps_are_refused_before_sending(idle: Workhorse) -> None:
    with pytest.raises(
        ValueError, match=r"workflow\.chain\[1\]\.group: an empty group"
    ):
        idle.chain(canvas.add.s(1, 2), idle.group()).request()
    with pytest.raises(TypeError, match=r"workflow\.chain\[1\]\.job \(.*add\)"):
        idle.chain(canvas.add.s(1, 2), canvas.add.s(1, 2)).request()
    with pytest.raises(ValueError, match="cannot have the 'key' option"):
        idle.group(canvas.double.options(key="once").s(1)).request()
    with pytest.raises(TypeError, match="a workflow step is a signature"):
        idle.chain(canvas.add)  # type: ignore[arg-type]
    assert sum(job_counts(idle.client).values()) == 0


def test_a_workflow_is_enqueued_once(idle: Workhorse) -> None:
    flow = idle.group(canvas.double.s(1)).enqueue_sync()
    with pytest.raises(RuntimeError, match="already enqueued"):
        flow.enqueue_sync()
    again = idle.workflow(flow.id or "")
    assert isinstance(again, Workflow)
    assert again.status_sync().state is WorkflowState.RUNNING
