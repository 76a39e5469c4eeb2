"""Enqueueing and reading jobs through a `Workhorse` app, against a real server (the
in-process engine and a `workhorse serve` process); no worker runs here."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.apps import basic
from tests.support import job_counts, unused_port
from workhorse import (
    ApiError,
    ArgumentNotSerializable,
    Client,
    InvalidRequest,
    Job,
    JobCancelled,
    JobState,
    ServerUnavailable,
    Workhorse,
    WorkhorseError,
    WorkhorseTimeout,
)


async def test_enqueue_returns_a_committed_job(app: Workhorse) -> None:
    job = await basic.send_email.enqueue("a@b.c", subject="welcome")
    enqueued = job.enqueued
    assert enqueued is not None
    assert (enqueued.state, enqueued.queue, enqueued.task) == (
        JobState.READY,
        "emails",
        "emails.send",
    )
    info = await job.status()
    assert info.id == job.id
    assert (info.args, info.kwargs) == (["a@b.c"], {"subject": "welcome"})
    assert (info.attempt, info.progress, info.result, info.errors) == (
        0,
        None,
        None,
        [],
    )
    assert info.created_at <= datetime.now(timezone.utc)
    assert not info.finished


def test_enqueue_sync_for_synchronous_code(app: Workhorse) -> None:
    job = basic.add.enqueue_sync(1, 2)
    assert job.status_sync().state is JobState.READY
    assert app.job(job.id).status_sync().args == [1, 2]


async def test_options_reach_the_server(app: Workhorse) -> None:
    job = await basic.add.options(delay=60, priority=9, retries=2, timeout=5).enqueue(
        1, 2
    )
    info = await job.status()
    assert info.state is JobState.SCHEDULED
    assert info.run_at - info.created_at >= timedelta(seconds=59)
    assert (info.priority, info.max_attempts, info.timeout) == (9, 3, 5.0)


async def test_a_key_makes_enqueue_idempotent(app: Workhorse) -> None:
    welcome = basic.send_email.options(key=lambda to, **_: f"welcome:{to}")
    first = await welcome.enqueue("a@b.c")
    again = await welcome.enqueue("a@b.c", subject="ignored: the job exists")
    other = await welcome.enqueue("z@b.c")
    assert first.id == again.id
    assert other.id != first.id
    assert (await again.status()).key == "welcome:a@b.c"


async def test_enqueue_many_commits_in_order(app: Workhorse) -> None:
    jobs = await app.enqueue_many(
        [basic.add.call(1, 2), basic.send_email.call("a@b.c"), basic.add.call(3, 4)]
    )
    infos = await asyncio.gather(*(job.status() for job in jobs))
    assert [info.task for info in infos] == [
        basic.add.name,
        "emails.send",
        basic.add.name,
    ]
    assert [info.args for info in infos] == [[1, 2], ["a@b.c"], [3, 4]]
    assert await app.enqueue_many([]) == []
    assert len(app.enqueue_many_sync([basic.add.call(5, 6)])) == 1


async def test_a_bad_batch_commits_nothing(app: Workhorse) -> None:
    good = basic.add.call(1, 2)
    with pytest.raises(ArgumentNotSerializable, match="argument 'to'"):
        await app.enqueue_many([good, basic.send_email.call(to=object())])  # type: ignore[arg-type]
    with pytest.raises(ApiError) as refused:
        await app.enqueue_many(
            [good, basic.add.options(queue="no spaces allowed").call(1, 2)]
        )
    assert refused.value.status == 422
    assert job_counts(app.client)["ready"] == 0


async def test_cancel_a_waiting_job(app: Workhorse) -> None:
    job = await basic.add.options(delay=60).enqueue(1, 2)
    assert (await job.cancel()).state is JobState.CANCELLED
    with pytest.raises(JobCancelled, match=f"job {job.id}.*was cancelled") as caught:
        await job.result(timeout=5)
    assert caught.value.info.state is JobState.CANCELLED


async def test_result_times_out_for_a_job_nobody_runs(app: Workhorse) -> None:
    job = await basic.add.enqueue(1, 2)
    with pytest.raises(TimeoutError, match=f"job {job.id} did not finish within 0.3 s"):
        await job.result(timeout=0.3)
    with pytest.raises(TimeoutError):
        job.result_sync(timeout=0.1)


async def test_any_task_name_may_be_enqueued(app: Workhorse) -> None:
    job = await app.enqueue("billing.charge", "cus_1", amount=100)
    info = await job.status()
    assert (info.task, info.args, info.kwargs) == (
        "billing.charge",
        ["cus_1"],
        {"amount": 100},
    )
    charge = app.remote_task("billing.charge", queue="billing", retries=0)
    remote = await charge.options(priority=3).enqueue("cus_2")
    assert (await remote.status()).queue == "billing"
    registered = await app.enqueue(basic.send_email.name, "a@b.c")
    assert (await registered.status()).queue == "emails", (
        "a registered name keeps its options"
    )


async def test_an_unknown_job_is_an_api_error(app: Workhorse) -> None:
    with pytest.raises(ApiError) as caught:
        await app.job("01900000-0000-7000-8000-000000000000").status()
    assert caught.value.status == 404


async def test_server_down_names_the_url() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    app = Workhorse(url)

    @app.task
    async def anything() -> None: ...

    with pytest.raises(ServerUnavailable, match=f"127.0.0.1:{url.rsplit(':', 1)[1]}"):
        await anything.enqueue()
    with pytest.raises(ServerUnavailable, match="127.0.0.1"):
        Job("01900000-0000-7000-8000-000000000000", app.client).status_sync()


def test_the_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKHORSE_URL", "http://workhorse.internal:7431")
    assert Workhorse().url == "http://workhorse.internal:7431"
    assert Workhorse().client.url.startswith("http://workhorse.internal:7431")
    monkeypatch.delenv("WORKHORSE_URL")
    assert Workhorse().url == "http://127.0.0.1:7431"
    assert Workhorse("http://other:1").url == "http://other:1"


# -- connecting: timeouts and retries over real sockets ------------------------------


class _Silent:
    """A TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._listener.close()
        for conn in self._held:
            conn.close()


class _CuttingProxy:
    """A TCP proxy to `upstream` that cuts the first `POST /v1/jobs` connection after
    forwarding the request and once the answer began (the job is committed), without
    relaying the answer. Other connections are relayed as they are."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").rsplit(":", 1)
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.cut = False
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, inbound: socket.socket) -> None:
        outbound = socket.create_connection(self._upstream)
        first = inbound.recv(65536)
        outbound.sendall(first)
        with self._lock:
            cut_this = first.startswith(b"POST /v1/jobs ") and not self.cut
            self.cut = self.cut or cut_this
        if cut_this:
            outbound.recv(1)
            inbound.close()
            outbound.close()
            return
        pipes = [(inbound, outbound), (outbound, inbound)]
        for source, sink in pipes:
            threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        sink.close()


async def test_a_server_that_never_answers_raises_workhorse_timeout() -> None:
    silent = _Silent()
    try:
        client = Client(silent.url, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(WorkhorseTimeout, match=r"timed out after 300ms") as caught:
            await client.get_job("01900000-0000-7000-8000-000000000000")
        assert 0.3 <= time.monotonic() - started < 2.3
        assert isinstance(caught.value, TimeoutError)
        assert isinstance(caught.value, WorkhorseError)
        with pytest.raises(TimeoutError):
            client.health_sync()
    finally:
        silent.close()


async def test_an_enqueue_cut_before_its_answer_makes_one_job(server_url: str) -> None:
    proxy = _CuttingProxy(server_url)
    try:
        app = Workhorse(proxy.url)

        @app.task
        async def once() -> None: ...

        job = await once.enqueue()
        assert proxy.cut
        assert job_counts(Client(server_url))["ready"] == 1
        assert (await job.status()).id == job.id
    finally:
        proxy.close()


async def test_retries_zero_raises_at_once(server_url: str) -> None:
    proxy = _CuttingProxy(server_url)
    try:
        app = Workhorse(proxy.url, retries=0)

        @app.task
        async def once() -> None: ...

        with pytest.raises(ServerUnavailable):
            await once.enqueue()
        assert job_counts(Client(server_url))["ready"] == 1
    finally:
        proxy.close()
    started = time.monotonic()
    with pytest.raises(ServerUnavailable):
        Client(f"http://127.0.0.1:{unused_port()}", retries=0).health_sync()
    assert time.monotonic() - started < 1.0


def test_a_missing_ca_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="CA file"):
        Client("https://127.0.0.1:1", ca_file=str(tmp_path / "missing.pem"))
