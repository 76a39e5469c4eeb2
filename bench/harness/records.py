"""Reading what the tasks recorded (see `probe`) and the statistics drawn from it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Event:
    kind: str
    job: int
    start_ns: int
    end_ns: int
    pid: int


class ProbeFile:
    """The probe file of one measurement, read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.touch()
        self._offset = 0
        self._partial = b""
        self.events: list[Event] = []

    def poll(self) -> list[Event]:
        """Reads the lines appended since the last call; returns the new events."""
        with self.path.open("rb") as file:
            file.seek(self._offset)
            data = file.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        new = [_parse(line) for line in lines if line]
        self.events.extend(new)
        return new

    def count(self, kind: str) -> int:
        self.poll()
        return sum(1 for event in self.events if event.kind == kind)


def _parse(line: bytes) -> Event:
    kind, job, start, end, pid = line.decode().split()
    return Event(kind, int(job), int(start), int(end), int(pid))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in 0..1) of non-empty `values`."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_summary(millis: list[float]) -> dict[str, float]:
    if not millis:
        return {}
    return {
        "p50_ms": percentile(millis, 0.50),
        "p95_ms": percentile(millis, 0.95),
        "p99_ms": percentile(millis, 0.99),
        "max_ms": max(millis),
        "mean_ms": statistics.fmean(millis),
    }
