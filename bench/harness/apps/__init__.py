"""One module per system: its tasks (what the worker processes import) and its producer
(what `python -m harness.produce` drives). Each is imported only by that system's venv."""

from collections.abc import Iterator


def chunks(jobs: range, size: int) -> Iterator[range]:
    """`jobs` in consecutive ranges of at most `size` (a producer's batches)."""
    for first in range(jobs.start, jobs.stop, size):
        yield range(first, min(jobs.stop, first + size))
