"""The native module against a real server: `EmbeddedServer`, `Client`, `NativeWorker`,
`run_cli`. No mocks: every call crosses HTTP or the worker WebSocket."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from workhorse import _native
from workhorse._native import (
    ApiError,
    Client,
    EmbeddedServer,
    InvalidRequest,
    NativeJob,
    NativeWorker,
    ServerUnavailable,
    WorkhorseError,
)

# Short leases: heartbeats (a third of the lease) carry cancellations to the worker.
LEASE = 1.5
DEADLINE = 15.0
MISSING_JOB = "01900000-0000-7000-8000-000000000000"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(str(tmp_path / "data"), lease=LEASE)
    yield server
    server.stop()


@pytest.fixture
def client(server: EmbeddedServer) -> Client:
    return Client(server.url)


@pytest.fixture
async def worker(server: EmbeddedServer) -> AsyncIterator[NativeWorker]:
    worker = NativeWorker(
        server.url, tasks=["t"], queues=["default"], name="test-worker"
    )
    worker.start()
    yield worker
    worker.shutdown()
    await asyncio.wait_for(worker.wait_closed(), DEADLINE)


def enqueue(client: Client, **request: Any) -> dict[str, Any]:
    job: dict[str, Any] = json.loads(
        client.enqueue_sync(json.dumps({"task": "t", **request}))
    )
    return job


async def next_jobs(worker: NativeWorker, count: int) -> list[NativeJob]:
    """The next `count` jobs, however they are batched."""
    jobs: list[NativeJob] = []
    while len(jobs) < count:
        batch, _stops = await asyncio.wait_for(
            worker.next_batch(count - len(jobs)), DEADLINE
        )
        jobs.extend(batch)
    return jobs


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_enqueue_get_and_wait(client: Client) -> None:
    job = enqueue(client, args=[1, 2], kwargs={"to": "a@b.c"})
    assert job["state"] == "ready"
    assert (job["task"], job["args"], job["kwargs"]) == ("t", [1, 2], {"to": "a@b.c"})
    assert json.loads(client.get_job_sync(job["id"]))["id"] == job["id"]
    waited = json.loads(client.wait_for_job_sync(job["id"], 0.2))
    assert waited["state"] == "ready"


async def test_async_twins_answer_like_the_sync_ones(client: Client) -> None:
    await client.health()
    job = json.loads(await client.enqueue(json.dumps({"task": "t", "queue": "emails"})))
    assert json.loads(await client.get_job(job["id"]))["queue"] == "emails"
    cancelled = json.loads(await client.cancel_job(job["id"]))
    assert cancelled["state"] == "cancelled"
    retried = json.loads(await client.retry_job(job["id"]))
    assert retried["state"] == "ready"
    queues = {q["name"] for q in json.loads(await client.list_queues())}
    assert "emails" in queues


def test_enqueue_many_keeps_order(client: Client) -> None:
    requests = [{"task": "t", "args": [i]} for i in range(5)]
    jobs = json.loads(client.enqueue_many_sync(json.dumps(requests)))
    assert [job["args"] for job in jobs] == [[i] for i in range(5)]
    assert len({job["id"] for job in jobs}) == 5


def test_a_bad_request_is_refused_before_it_is_sent(client: Client) -> None:
    with pytest.raises(InvalidRequest, match="priority"):
        client.enqueue_sync('{"task": "t", "priority": "high"}')
    with pytest.raises(InvalidRequest, match="unknown field `tsk`"):
        client.enqueue_sync('{"tsk": "t"}')
    with pytest.raises(InvalidRequest, match=r"\[1\]\.max_attempts"):
        client.enqueue_many_sync('[{"task": "t"}, {"task": "t", "max_attempts": "x"}]')
    with pytest.raises(InvalidRequest, match="not-json|expected"):
        client.enqueue_sync("not-json")
    with pytest.raises(InvalidRequest, match="job id"):
        client.get_job_sync("42")
    assert json.loads(client.list_queues_sync()) == []


def test_an_invalid_url_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="http://"):
        Client("ftp://example.invalid")


def test_a_server_that_is_down_is_named() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    client = Client(url)
    with pytest.raises(ServerUnavailable, match=url) as raised:
        client.health_sync()
    assert isinstance(raised.value, WorkhorseError)


async def test_a_server_that_is_down_is_named_when_awaited() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    with pytest.raises(ServerUnavailable, match=url):
        await Client(url).enqueue('{"task": "t"}')


def test_an_unknown_job_is_a_404(client: Client) -> None:
    with pytest.raises(ApiError) as raised:
        client.get_job_sync(MISSING_JOB)
    error = raised.value
    assert error.status == 404
    problem = json.loads(error.problem)
    assert problem["status"] == 404
    assert MISSING_JOB in problem["detail"]
    assert str(error) == problem["detail"]
    assert error.args == (problem["detail"], 404, error.problem)


def test_a_refused_schedule_names_the_field(client: Client) -> None:
    with pytest.raises(InvalidRequest, match="unknown field `crn`"):
        client.upsert_schedule_sync("nightly", '{"task": "t", "crn": "0 3 * * *"}')


async def test_worker_round_trip(client: Client, worker: NativeWorker) -> None:
    job = enqueue(client, args=[2, 3], kwargs={"op": "add"}, metadata={"trace": "x"})
    [handed] = await next_jobs(worker, 1)
    assert (handed.id, handed.task, handed.queue) == (job["id"], "t", "default")
    assert (handed.attempt, handed.max_attempts) == (1, job["max_attempts"])
    assert json.loads(handed.args) == [2, 3]
    assert json.loads(handed.kwargs) == {"op": "add"}
    assert handed.metadata is not None and json.loads(handed.metadata) == {"trace": "x"}
    assert (handed.timeout, handed.cancelled, handed.stop_reason) == (None, False, None)
    handed.progress(0.5, "halfway")
    handed.complete('{"sum": 5}')
    handed.complete('{"ignored": true}')
    done = json.loads(await client.wait_for_job(job["id"], DEADLINE))
    assert (done["state"], done["result"]) == ("succeeded", {"sum": 5})


async def test_many_jobs_come_in_batches(client: Client, worker: NativeWorker) -> None:
    ids = {
        job["id"]
        for job in json.loads(client.enqueue_many_sync(json.dumps([{"task": "t"}] * 8)))
    }
    handed = await next_jobs(worker, 8)
    assert {job.id for job in handed} == ids
    for job in handed:
        job.complete("null")
    for job_id in ids:
        assert (
            json.loads(await client.wait_for_job(job_id, DEADLINE))["state"]
            == "succeeded"
        )


async def test_a_failed_attempt_is_retried_when_asked(
    client: Client, worker: NativeWorker
) -> None:
    job = enqueue(client, max_attempts=3)
    [first] = await next_jobs(worker, 1)
    first.fail("Flaky", "try again", traceback="Traceback: here", retry_in=0.05)
    [second] = await next_jobs(worker, 1)
    assert (second.id, second.attempt) == (job["id"], 2)
    second.complete('"ok"')
    done = json.loads(await client.wait_for_job(job["id"], DEADLINE))
    assert (done["state"], done["attempt"], done["result"]) == ("succeeded", 2, "ok")
    [error] = done["errors"]
    assert (error["type"], error["message"], error["traceback"]) == (
        "Flaky",
        "try again",
        "Traceback: here",
    )


async def test_a_fatal_failure_dead_letters_the_job(
    client: Client, worker: NativeWorker
) -> None:
    job = enqueue(client, max_attempts=5)
    [handed] = await next_jobs(worker, 1)
    handed.fail("ValueError", "bad input", fatal=True)
    done = json.loads(await client.wait_for_job(job["id"], DEADLINE))
    assert (done["state"], done["errors"][0]["type"]) == ("dead", "ValueError")


async def test_a_result_that_is_not_json_fails_the_attempt(
    client: Client, worker: NativeWorker
) -> None:
    job = enqueue(client)
    [handed] = await next_jobs(worker, 1)
    handed.complete("{not json")
    done = json.loads(await client.wait_for_job(job["id"], DEADLINE))
    assert (done["state"], done["errors"][0]["type"]) == ("dead", "InvalidResult")


async def test_a_dropped_job_fails_its_attempt(
    client: Client, worker: NativeWorker
) -> None:
    job = enqueue(client, max_attempts=1)
    [handed] = await next_jobs(worker, 1)
    del handed
    gc.collect()
    done = json.loads(await client.wait_for_job(job["id"], DEADLINE))
    assert done["state"] == "dead"
    assert done["errors"][0]["type"] == "WorkerError"


async def test_cancel_reaches_a_running_job(
    client: Client, worker: NativeWorker
) -> None:
    job = enqueue(client)
    [handed] = await next_jobs(worker, 1)
    client.cancel_job_sync(job["id"])
    deadline = time.monotonic() + DEADLINE
    stops: list[tuple[str, str]] = []
    while not stops and time.monotonic() < deadline:
        jobs, stops = await asyncio.wait_for(worker.next_batch(10), DEADLINE)
        assert jobs == []
    assert stops == [(job["id"], "Cancelled")]
    assert (handed.cancelled, handed.stop_reason) == (True, "Cancelled")
    handed.complete('"too late"')
    done = json.loads(await client.wait_for_job(job["id"], DEADLINE))
    assert done["state"] == "cancelled"
    assert done.get("result") is None


async def next_stops(worker: NativeWorker) -> list[tuple[str, str]]:
    """The next stop notices; no new job may come meanwhile."""
    while True:
        jobs, stops = await asyncio.wait_for(worker.next_batch(10), DEADLINE)
        assert jobs == []
        if stops:
            return stops


async def test_the_time_limit_stops_a_job(client: Client, worker: NativeWorker) -> None:
    job = enqueue(client, timeout_ms=100, max_attempts=1)
    [handed] = await next_jobs(worker, 1)
    assert handed.timeout == pytest.approx(0.1)
    assert await next_stops(worker) == [(job["id"], "TimeLimitExceeded")]
    done = json.loads(await client.wait_for_job(job["id"], DEADLINE))
    assert (done["state"], done["errors"][0]["type"]) == ("dead", "TimeLimitExceeded")


async def test_shutdown_stops_running_jobs_after_the_grace(
    server: EmbeddedServer, client: Client
) -> None:
    worker = NativeWorker(server.url, tasks=["t"], queues=["default"], grace=0.1)
    worker.start()
    job = enqueue(client)
    [handed] = await next_jobs(worker, 1)
    worker.shutdown()
    assert await next_stops(worker) == [(job["id"], "WorkerShutdown")]
    assert handed.stop_reason == "WorkerShutdown"
    await asyncio.wait_for(worker.wait_closed(), DEADLINE)
    assert await worker.next_batch(10) == ([], [])
    again = json.loads(client.get_job_sync(job["id"]))
    # Handed back for a retry at once: the interruption says nothing about the job.
    assert again["state"] in ("scheduled", "ready")
    assert again["errors"][0]["type"] == "WorkerShutdown"


async def test_after_shutdown_there_is_nothing_more(server: EmbeddedServer) -> None:
    worker = NativeWorker(server.url, tasks=["t"], queues=["default"])
    with pytest.raises(WorkhorseError, match="start"):
        await worker.next_batch(1)
    worker.start()
    with pytest.raises(WorkhorseError, match="already started"):
        worker.start()
    worker.shutdown()
    await asyncio.wait_for(worker.wait_closed(), DEADLINE)
    assert await worker.next_batch(10) == ([], [])


async def test_a_refused_session_surfaces_in_wait_closed(
    server: EmbeddedServer,
) -> None:
    worker = NativeWorker(server.url, tasks=["t"], queues=["not a queue!"])
    worker.start()
    with pytest.raises(ApiError) as raised:
        await asyncio.wait_for(worker.wait_closed(), DEADLINE)
    assert raised.value.status < 500
    assert await worker.next_batch(1) == ([], [])


def test_the_embedded_server_stops_once(tmp_path: Path) -> None:
    server = EmbeddedServer(str(tmp_path))
    client = Client(server.url)
    client.health_sync()
    server.stop()
    server.stop()
    with pytest.raises(ServerUnavailable):
        client.health_sync()


def test_run_cli_exit_codes(
    server: EmbeddedServer, capfd: pytest.CaptureFixture[str]
) -> None:
    assert _native.run_cli(["--version"]) == 0
    assert _native.__version__ in capfd.readouterr().out
    assert _native.run_cli(["no-such-command"]) == 2
    assert "no-such-command" in capfd.readouterr().err
    assert _native.run_cli(["--url", server.url, "queues", "list", "--json"]) == 0
    assert json.loads(capfd.readouterr().out) == {"queues": []}
    down = f"http://127.0.0.1:{unused_port()}"
    assert _native.run_cli(["--url", down, "jobs", "get", MISSING_JOB]) == 1
    assert down in capfd.readouterr().err


def test_run_cli_says_where_bench_is(capfd: pytest.CaptureFixture[str]) -> None:
    # The wheel leaves the benchmark out; asking for it names the binary that has it.
    for argv in (
        ["bench"],
        ["bench", "--help"],
        ["--url", "http://127.0.0.1:1", "bench", "--jobs", "5"],
    ):
        assert _native.run_cli(argv) == 1
        err = capfd.readouterr().err
        assert "`workhorse bench` is not in this build" in err
        assert "cargo build --release -p workhorse-cli" in err
