"""End to end with real processes: a `workhorse serve` process with a short lease, and
`workhorse worker tests.apps.crashy:wh` processes that get killed, stopped and blocked."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps import crashy
from tests.support import ServeProcess, start_worker, wait_until
from workhorse import JobFailed, JobState, Workhorse

LEASE = 2.0
APP = "tests.apps.crashy:wh"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path / "serve", lease=LEASE) as serve:
        yield serve


@pytest.fixture
def app(serve: ServeProcess) -> Iterator[Workhorse]:
    saved = crashy.wh._connection()
    crashy.wh.configure(url=serve.url)
    yield crashy.wh
    crashy.wh._set_connection(*saved)


@pytest.fixture
def workers(serve: ServeProcess) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started worker processes; any still running at the end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_job_of_a_killed_worker_runs_again(
    app: Workhorse,
    serve: ServeProcess,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes"
    workers.append(start_worker(APP, serve.url))
    job = crashy.hangs_on_first_attempt.enqueue_sync(str(notes))
    wait_until(lambda: lines(notes) == ["attempt 1"], what="the first attempt started")
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    workers.append(start_worker(APP, serve.url))
    assert job.result_sync(timeout=30) == 2
    info = job.status_sync()
    assert lines(notes) == ["attempt 1", "attempt 2"]
    assert [error.type for error in info.errors] in (["WorkerLost"], ["LeaseExpired"])


def test_sigterm_lets_in_flight_jobs_finish_and_loses_nothing(
    app: Workhorse,
    serve: ServeProcess,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes"
    worker = start_worker(APP, serve.url, "--concurrency", "4", "--grace", "20")
    workers.append(worker)
    jobs = app.enqueue_many_sync(
        [crashy.takes_a_while.call(str(notes), 1.5, n) for n in range(10)]
    )
    wait_until(lambda: len(lines(notes)) >= 4, what="four jobs started")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    started = {line.split()[1] for line in lines(notes) if line.startswith("started")}
    finished = {line.split()[1] for line in lines(notes) if line.startswith("finished")}
    assert started == finished, "every job that started finished before the worker left"
    infos = [job.status_sync() for job in jobs]
    assert {info.state for info in infos} <= {JobState.SUCCEEDED, JobState.READY}
    assert all(info.attempt == 1 for info in infos if info.state is JobState.SUCCEEDED)

    workers.append(start_worker(APP, serve.url))
    results = [job.result_sync(timeout=30) for job in jobs]
    assert results == list(range(10))
    assert all(job.status_sync().errors == [] for job in jobs), "no attempt was lost"


def test_a_blocked_thread_does_not_delay_heartbeats(
    app: Workhorse,
    serve: ServeProcess,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes"
    workers.append(start_worker(APP, serve.url))
    blocker = crashy.blocks_its_thread.enqueue_sync(str(notes), 3 * LEASE)
    wait_until(lambda: lines(notes) == ["blocking"], what="the thread blocks")
    async_job = crashy.outlives_the_lease.enqueue_sync(2 * LEASE)
    assert async_job.result_sync(timeout=30) == 1, "its lease held: attempt 1 succeeded"
    blocker.result_sync(timeout=30)
    assert blocker.status_sync().attempt == 1


def test_a_process_task_past_its_time_limit_is_killed(
    app: Workhorse,
    serve: ServeProcess,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes"
    workers.append(start_worker(APP, serve.url))
    job = crashy.spins.enqueue_sync(str(notes))
    with pytest.raises(JobFailed) as caught:
        job.result_sync(timeout=30)
    error = caught.value.error
    assert error is not None and error.type == "TimeLimitExceeded"
    (pid,) = (int(line) for line in lines(notes))
    wait_until(lambda: not _alive(pid), what="the spinning process is gone")
    fresh = crashy.pid.enqueue_sync().result_sync(timeout=30)
    assert fresh != pid, "a fresh process runs the next job"


def test_cancel_reaches_a_running_task_in_a_worker_process(
    app: Workhorse,
    serve: ServeProcess,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes"
    workers.append(start_worker(APP, serve.url))
    job = crashy.waits_for_cancel.enqueue_sync(str(notes))
    wait_until(lambda: lines(notes) == ["started"], what="the task started")
    job.cancel_sync()
    wait_until(
        lambda: lines(notes) == ["started", "cancelled"], what="the task saw the cancel"
    )
    assert job.wait_sync(timeout=30).state is JobState.CANCELLED


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_process_child_is_replaced_after_max_jobs_per_child(
    app: Workhorse,
    serve: ServeProcess,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    workers.append(
        start_worker(APP, serve.url, "--processes", "1", "--max-jobs-per-child", "2")
    )
    pids = [crashy.pid.enqueue_sync().result_sync(timeout=30) for _ in range(5)]
    # One child at a time, each replaced after its second job; every job ran once.
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4], pids
    assert len(set(pids)) == 3, pids


def test_a_process_child_over_max_memory_is_replaced_between_jobs(
    app: Workhorse,
    serve: ServeProcess,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    limit_kib = 200 * 1024
    workers.append(
        start_worker(
            APP, serve.url, "--processes", "1", "--max-memory-per-child", str(limit_kib)
        )
    )
    small = [crashy.grows.enqueue_sync(1).result_sync(timeout=30) for _ in range(2)]
    assert small[0] == small[1], "under the limit the child is reused"
    big = crashy.grows.enqueue_sync(300).result_sync(timeout=30)
    assert big == small[0], "the job that crosses the limit finishes in its child"
    after = crashy.grows.enqueue_sync(1).result_sync(timeout=30)
    assert after != big, "the next job runs in a fresh child"
    wait_until(lambda: not _alive(big), what="the replaced child exits")
