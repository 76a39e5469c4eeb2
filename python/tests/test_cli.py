"""The `workhorse` command: `worker` is Python, everything else the Rust command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.support import PYTHON_DIR, wait_until


def workhorse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workhorse", *args],
        cwd=PYTHON_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_rust_commands_and_worker() -> None:
    done = workhorse("--help")
    assert done.returncode == 0, done.stderr
    for command in ("serve", "enqueue", "jobs", "queues", "schedules", "dlq", "worker"):
        assert command in done.stdout
    assert "workhorse worker app.tasks:wh" in done.stdout


def test_version_comes_from_the_native_command_line() -> None:
    done = workhorse("--version")
    assert done.returncode == 0
    assert done.stdout.strip().startswith("workhorse ")


def test_a_usage_error_exits_2_without_a_traceback() -> None:
    done = workhorse("serve", "--no-such-flag")
    assert done.returncode == 2
    assert "--no-such-flag" in done.stderr
    assert "Traceback" not in done.stderr


def test_worker_help() -> None:
    done = workhorse("worker", "--help")
    assert done.returncode == 0
    for option in (
        "--concurrency",
        "--queues",
        "--grace",
        "--log-level",
        "module:attribute",
    ):
        assert option in done.stdout


def test_worker_explains_an_app_that_is_not_there() -> None:
    missing_module = workhorse("worker", "no_such_module:wh")
    assert missing_module.returncode == 2
    assert "No module named 'no_such_module'" in missing_module.stderr
    not_an_app = workhorse("worker", "tests.apps.crashy:note")
    assert not_an_app.returncode == 2
    assert (
        "tests.apps.crashy:note is not a Workhorse app (found function)"
        in not_an_app.stderr
    )
    bad_spec = workhorse("worker", "tests.apps.crashy")
    assert "expected module:attribute" in bad_spec.stderr
    assert (
        "Traceback" not in missing_module.stderr + not_an_app.stderr + bad_spec.stderr
    )


def test_a_worker_waits_for_a_server_that_is_down(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "workhorse", "worker", "tests.apps.crashy:wh"],
            cwd=PYTHON_DIR,
            env={**os.environ, "WORKHORSE_URL": "http://127.0.0.1:9"},
            stderr=stderr,
        )
    try:
        wait_until(
            lambda: "cannot reach Workhorse at http://127.0.0.1:9" in log.read_text(),
            what="a log line naming the URL",
        )
        assert worker.poll() is None, "it keeps retrying, as after a server restart"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert "Traceback" not in log.read_text()


def test_ctrl_c_stops_a_client_command_that_waits() -> None:
    """The Rust command line runs with the GIL released and never returns to Python's
    signal handler; ctrl-c must still end it (as it ends the Rust binary)."""
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(30)
        port = silent.getsockname()[1]
        command = subprocess.Popen(
            [sys.executable, "-m", "workhorse", "jobs", "list"],
            cwd=PYTHON_DIR,
            env={**os.environ, "WORKHORSE_URL": f"http://127.0.0.1:{port}"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            connection, _ = silent.accept()  # the command is waiting for its answer
            with connection:
                command.send_signal(signal.SIGINT)
                assert command.wait(10) != 0
        finally:
            if command.poll() is None:
                command.kill()
                command.wait()
