"""Fixtures shared by the SDK's tests: a real server (in-process, or a `workhorse serve`
process), and the test apps pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps import basic
from tests.support import ServeProcess
from workhorse import EmbeddedServer, Workhorse
from workhorse.testing import WorkhorseEnv

pytest_plugins = ["workhorse.testing"]

LEASE = 1.5
"""Seconds. Short, so cancels and lost leases reach workers within a second."""


@pytest.fixture(params=["embedded", "serve"])
def server_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A real server: the in-process engine, or a `workhorse serve` process."""
    if request.param == "embedded":
        server = EmbeddedServer(str(tmp_path / "embedded"), lease=LEASE)
        try:
            yield server.url
        finally:
            server.stop()
    else:
        with ServeProcess(tmp_path / "serve", lease=LEASE) as serve:
            yield serve.url


@pytest.fixture
def app(server_url: str) -> Iterator[Workhorse]:
    """The basic test app, pointed at the server, with no worker running."""
    with WorkhorseEnv(basic.wh, url=server_url, worker=False):
        basic.reset()
        yield basic.wh


@pytest.fixture
def env(server_url: str) -> Iterator[WorkhorseEnv]:
    """The basic test app with a worker running in this process."""
    basic.reset()
    with WorkhorseEnv(basic.wh, url=server_url) as env:
        yield env
