"""Fixtures: the app's database in a temp dir, and an HTTP client of the FastAPI app
whose jobs go to a real, in-process Workhorse server and worker (`workhorse_env`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from workhorse import Workhorse
from workhorse.testing import WorkhorseEnv

from app.main import app
from app.tasks import wh


@pytest.fixture(autouse=True)
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own database; reports run without their simulated slowness."""
    path = tmp_path / "app.db"
    monkeypatch.setenv("APP_DB", str(path))
    monkeypatch.setenv("REPORT_SECONDS_PER_DAY", "0")
    return path


@pytest.fixture
def workhorse_app() -> Workhorse:
    """The app `workhorse_env` points at its server and runs a worker for."""
    return wh


@pytest.fixture
async def client(workhorse_env: WorkhorseEnv) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the FastAPI app, with Workhorse running."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
