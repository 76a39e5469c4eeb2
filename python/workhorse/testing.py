"""Test helpers: a real Workhorse server and worker inside the test process.

`WorkhorseEnv` starts an embedded server (the real engine, on SQLite in a temp dir) and
runs a worker for your app on a background thread, so a FastAPI app's tests need no
external server and no mocks. As a pytest plugin (`pytest_plugins = ["workhorse.testing"]`
in your `conftest.py`) it gives:

- `workhorse_env`: a running `WorkhorseEnv` for the app your `workhorse_app` fixture
  returns, which it points at the embedded server for the test (and back after);
- `workhorse_server`: just an embedded server (`.url`), no worker.

```python
@pytest.fixture
def workhorse_app() -> Workhorse:
    return wh

async def test_signup_sends_email(workhorse_env):
    job = await send_welcome_email.enqueue("a@b.c")
    await workhorse_env.drain()
    assert (await job.status()).state == "succeeded"
```

PYTEST_DONT_REWRITE: this module may be imported (for `WorkhorseEnv`) before pytest
registers it as a plugin; it has no assertions for pytest to rewrite.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from workhorse._native import Client, EmbeddedServer
from workhorse.app import Workhorse
from workhorse.worker import Worker

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["WorkhorseEnv", "workhorse_app", "workhorse_env", "workhorse_server"]


class WorkhorseEnv:
    """An embedded server, and a worker running `app`'s tasks on a background thread.

    Use it as a context manager. While it runs, `app` is pointed at the server.
    `lease` (seconds) shortens the embedded server's lease; `url` uses a server that
    already runs instead of starting one; `worker=False` starts no worker (jobs then wait,
    e.g. to look at them before they run).
    """

    def __init__(
        self,
        app: Workhorse | None,
        data_dir: str | Path | None = None,
        *,
        url: str | None = None,
        lease: float | None = None,
        worker: bool = True,
        concurrency: int = 100,
        grace: float = 5.0,
    ) -> None:
        if (data_dir is None) == (url is None):
            raise ValueError("give data_dir (to start a server) or url (to use one)")
        self.app = app
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._url = url
        self._client: Client | None = None
        self._lease = lease
        self._start_worker = worker and app is not None and bool(app.tasks)
        self._concurrency = concurrency
        self._grace = grace
        self.server: EmbeddedServer | None = None
        self.worker: Worker | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker_error: BaseException | None = None
        self._saved: tuple[str | None, str | None] | None = None

    @property
    def url(self) -> str:
        """The server's URL."""
        if self._url is None:
            raise RuntimeError("the environment is not started")
        return self._url

    @property
    def client(self) -> Client:
        """A native client of the server."""
        if self._client is None:
            self._client = Client(self.url)
        return self._client

    def __enter__(self) -> Self:
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.server = EmbeddedServer(str(self.data_dir), lease=self._lease)
            self._url = self.server.url
        if self.app is not None:
            self._saved = self.app._connection()
            self.app._set_connection(self.url, None)
        if self._start_worker:
            self._run_worker()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._stop_worker()
        finally:
            if self.server is not None:
                self.server.stop()
            if self.app is not None and self._saved is not None:
                self.app._set_connection(*self._saved)
        if self._worker_error is not None and not exc[0]:
            raise RuntimeError("the test worker failed") from self._worker_error

    def _run_worker(self) -> None:
        assert self.app is not None
        self.worker = Worker(self.app, concurrency=self._concurrency, grace=self._grace)
        started = threading.Event()

        async def run(worker: Worker) -> None:
            self._loop = asyncio.get_running_loop()
            started.set()
            await worker.run()

        def target(worker: Worker) -> None:
            try:
                asyncio.run(run(worker))
            except BaseException as error:  # noqa: BLE001 - surfaced by drain() and __exit__
                self._worker_error = error
            finally:
                started.set()

        self._thread = threading.Thread(
            target=target,
            args=(self.worker,),
            name="workhorse-test-worker",
            daemon=True,
        )
        self._thread.start()
        started.wait()
        # Even an app without schedules declares its (empty) set.
        self._wait_for(self.worker.schedules_declared, "the schedules to be declared")

    def _wait_for(self, event: threading.Event, what: str) -> None:
        deadline = time.monotonic() + 30
        while not event.wait(0.05):
            self._check_worker()
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")

    def _stop_worker(self) -> None:
        if self._thread is None or self.worker is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self.worker.stop)
            except RuntimeError:  # the loop closed in between
                pass
        self._thread.join(self._grace + 15)

    def _check_worker(self) -> None:
        if self._worker_error is not None:
            raise RuntimeError("the test worker failed") from self._worker_error

    def _idle(self, queues_text: str) -> bool:
        document: Any = json.loads(queues_text)
        queues = document["queues"] if isinstance(document, dict) else document
        served = set(self.worker.queues) if self.worker is not None else None
        busy = sum(
            q["counts"].get("ready", 0) + q["counts"].get("running", 0)
            for q in queues
            if served is None or q["name"] in served
        )
        return busy == 0 and (self.worker is None or self.worker.running_jobs == 0)

    async def drain(self, timeout: float = 30.0) -> None:
        """Waits until no job is ready or running in the worker's queues (jobs scheduled
        for later may remain). Raises `TimeoutError` after `timeout` seconds."""
        client = self.client
        deadline = time.monotonic() + timeout
        while not self._idle(await client.list_queues()):
            self._check_worker()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"jobs were still ready or running after {timeout} s"
                )
            await asyncio.sleep(0.01)
        self._check_worker()

    def drain_sync(self, timeout: float = 30.0) -> None:
        """`drain` for synchronous tests."""
        client = self.client
        deadline = time.monotonic() + timeout
        while not self._idle(client.list_queues_sync()):
            self._check_worker()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"jobs were still ready or running after {timeout} s"
                )
            time.sleep(0.01)
        self._check_worker()


@pytest.fixture
def workhorse_app() -> Workhorse:
    """Override this fixture to return your app: `return wh`."""
    pytest.fail(
        "define a `workhorse_app` fixture returning your Workhorse app, e.g.\n"
        "    @pytest.fixture\n    def workhorse_app():\n        return wh",
        pytrace=False,
    )


@pytest.fixture
def workhorse_env(workhorse_app: Workhorse, tmp_path: Path) -> Iterator[WorkhorseEnv]:
    """A running `WorkhorseEnv` for `workhorse_app`: an embedded server and a worker."""
    with WorkhorseEnv(workhorse_app, tmp_path / "workhorse") as env:
        yield env


@pytest.fixture
def workhorse_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """An embedded server on a temp dir (no worker); stopped after the test."""
    server = EmbeddedServer(str(tmp_path / "workhorse-server"))
    try:
        yield server
    finally:
        server.stop()
