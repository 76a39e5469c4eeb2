"""The SDK's types, as `mypy --strict` sees them (`typed_usage.py`): results keep the
task's return type, and a wrong argument is a type error."""

from __future__ import annotations

import subprocess
import sys

from tests.support import PYTHON_DIR


def test_task_results_are_typed_and_wrong_arguments_are_errors() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "tests/typed_usage.py"],
        cwd=PYTHON_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert 'Revealed type is "tests.apps.basic.Receipt"' in output, output
