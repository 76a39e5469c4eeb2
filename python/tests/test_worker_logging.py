"""The worker command's logging, with real `workhorse worker` processes: JSON lines with
job ids, a logging configuration file, and an app's own logging left as it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps import crashy
from tests.support import PYTHON_DIR, ServeProcess
from workhorse import Workhorse


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path / "serve") as serve:
        yield serve


@pytest.fixture
def app(serve: ServeProcess) -> Iterator[Workhorse]:
    saved = crashy.wh._connection()
    crashy.wh.configure(url=serve.url)
    yield crashy.wh
    crashy.wh._set_connection(*saved)


def run_worker(
    app: str, url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workhorse", "worker", app, *args],
        cwd=PYTHON_DIR,
        env={**os.environ, "WORKHORSE_URL": url, **(env or {})},
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(worker: subprocess.Popen[str]) -> str:
    """SIGTERM, then everything the worker wrote to stderr."""
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr
    return stderr


def test_log_format_json_writes_one_object_per_line_with_the_job_id(
    app: Workhorse, serve: ServeProcess
) -> None:
    worker = run_worker("tests.apps.crashy:wh", serve.url, "--log-format", "json")
    try:
        job = crashy.logs_a_warning.enqueue_sync("café")
        job.result_sync(timeout=30)
    finally:
        stderr = stop(worker)
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    (record,) = [r for r in records if r["message"] == "from the job: café"]
    assert record["job_id"] == job.id
    assert record["task"] == crashy.logs_a_warning.name
    assert record["level"] == "WARNING" and record["time"].endswith("+00:00")
    outside = [r for r in records if r["message"] != record["message"]]
    assert outside and all(r["job_id"] is None for r in outside), "worker records too"


def test_log_config_file_configures_logging_instead(
    app: Workhorse, serve: ServeProcess, tmp_path: Path
) -> None:
    log_file = tmp_path / "worker.log"
    config = {
        "version": 1,
        "formatters": {"plain": {"format": "CONFIGURED %(message)s %(job_id)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "formatter": "plain",
            }
        },
        "root": {"level": "WARNING", "handlers": ["file"]},
    }
    config_file = tmp_path / "logging.json"
    config_file.write_text(json.dumps(config))
    worker = run_worker(
        "tests.apps.crashy:wh", serve.url, "--log-config", str(config_file)
    )
    try:
        job = crashy.logs_a_warning.enqueue_sync("configured")
        job.result_sync(timeout=30)
    finally:
        stderr = stop(worker)
    assert f"CONFIGURED from the job: configured {job.id}" in log_file.read_text()
    assert "from the job" not in stderr


def test_a_bad_log_config_file_is_a_readable_error(
    serve: ServeProcess, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.ini"
    worker = run_worker("tests.apps.crashy:wh", serve.url, "--log-config", str(missing))
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 2
    assert f"workhorse worker: --log-config {missing}" in stderr


def test_an_apps_own_logging_is_kept(serve: ServeProcess, tmp_path: Path) -> None:
    own_log = tmp_path / "own.log"
    worker = run_worker(
        "tests.apps.own_logging:wh", serve.url, env={"OWN_LOG_FILE": str(own_log)}
    )
    try:
        producer = Workhorse(url=serve.url)
        job = producer.remote_task("tests.apps.own_logging.says_hello").enqueue_sync()
        job.result_sync(timeout=30)
    finally:
        stderr = stop(worker)
    assert (
        f"OWN INFO hello from the app's own logging job={job.id}" in own_log.read_text()
    )
    assert "hello from the app's own logging" not in stderr, (
        "no handler of the worker's"
    )
