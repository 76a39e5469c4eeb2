"""What a type checker sees of tasks, jobs and results: checked by `mypy --strict` in
`test_typing.py`, never run. `assert_type` fails the check when a type is lost; each
`type: ignore[...]` marks a call that must be an error (strict mode reports an ignore that
is not needed, so a wrong argument that type-checks would fail the check too)."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type, reveal_type

from tests.apps import basic
from workhorse import Job, JobContext, Workhorse

wh = Workhorse()


@wh.task
async def total(prices: list[float], *, discount: float = 0.0) -> float:
    return sum(prices) - discount


@wh.task(queue="reports")
def render(ctx: JobContext, month: str) -> bytes:
    return month.encode()


async def enqueue_and_read() -> None:
    job = await total.enqueue([1.0, 2.5], discount=0.5)
    assert_type(job, Job[float])
    assert_type(await job.result(), float)
    assert_type(total.enqueue_sync([1.0]).result_sync(timeout=1), float)

    configured = total.options(priority=9, delay=5)
    assert_type(await (await configured.enqueue([3.0])).result(), float)
    assert_type(await total.call([2.0]).enqueue(), Job[float])

    report = await render.enqueue("2026-10")  # the context is not an argument
    assert_type(await report.result(), bytes)

    values = _values()
    receipt = await basic.take_values.enqueue(*values[:6], point=values[6])
    reveal_type(await receipt.result())

    # A direct call runs the function: an async task gives a coroutine of its result.
    assert_type(await total([1.0]), float)
    assert_type(render("2026-11"), bytes)

    await total.enqueue(["not", "floats"])  # type: ignore[list-item]
    await total.enqueue([1.0], discount="big")  # type: ignore[arg-type]
    await render.enqueue(2026)  # type: ignore[arg-type]
    await total.options(priority=1).enqueue(prices=[1.0], rebate=1.0)  # type: ignore[call-arg]

    by_id = wh.job("0190e4a8-0000-7000-8000-000000000001")
    assert_type(await by_id.result(), Any)


def _values() -> Any:
    return ()
