"""A process that exits while native calls are still resolving exits cleanly.

The native runtime's threads hand outcomes to asyncio; if one did so after the event loop
closed or while the interpreter finalized, the process used to abort (SIGABRT) or crash
(SIGSEGV) at exit, about one run in four.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, sys
from workhorse import _native

async def main() -> None:
    server = _native.EmbeddedServer(sys.argv[1])
    client = _native.Client(server.url)
    calls = [asyncio.ensure_future(client.health()) for _ in range(200)]
    await asyncio.sleep(0.001)
    server.stop()

asyncio.run(main())
"""

RUNS = 12


def test_exiting_with_calls_in_flight_is_clean(tmp_path: Path) -> None:
    for run in range(RUNS):
        data_dir = tmp_path / f"run{run}"
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (
            f"run {run} exited {done.returncode}: {done.stderr[-2000:]}"
        )
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
