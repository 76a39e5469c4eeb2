"""Values beyond plain JSON: Pydantic models, dataclasses, times, UUIDs, decimals, enums,
bytes, sets and tuples, encoded at enqueue and validated into the task's annotated types on
the worker (and into its return type by `job.result()`)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.apps import basic
from workhorse import ArgumentInvalid, ArgumentNotSerializable, JobFailed, Workhorse
from workhorse.tasks import encode
from workhorse.testing import WorkhorseEnv

RESULT_WAIT = 20.0

ORDER = basic.Order(
    id=uuid.UUID("0190e4a8-0000-7000-8000-000000000001"),
    amount=Decimal("19.90"),
    placed_at=datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc),
    color=basic.Color.BLUE,
    tags={"gift", "express"},
)
POINT = basic.Point(Decimal("1.5"), Decimal(-2))
BLOB = b"\x00\xff\xfe binary \x80"


def take_values_call() -> Any:
    return basic.take_values.call(
        ORDER,
        date(2026, 3, 29),
        time(2, 30, 15, 500),
        timedelta(days=1, seconds=1, microseconds=7),
        BLOB,
        (7, "seven"),
        point=POINT,
    )


def test_values_are_encoded_as_fastapi_encodes_them() -> None:
    document = json.loads(encode([take_values_call()]))
    order, day, at, span, blob, pair = document["args"]
    assert sorted(order.pop("tags")) == ["express", "gift"]
    assert order == {
        "id": "0190e4a8-0000-7000-8000-000000000001",
        "amount": "19.90",
        "placed_at": "2026-03-29T01:30:00Z",
        "color": "blue",
    }
    assert (day, at, span) == ("2026-03-29", "02:30:15.000500", "P1DT1.000007S")
    assert blob == "AP_-IGJpbmFyeSCA"  # URL-safe base64
    assert pair == [7, "seven"]
    assert document["kwargs"] == {"point": {"x": "1.5", "y": "-2"}}


async def test_every_value_type_round_trips_through_a_worker(env: WorkhorseEnv) -> None:
    job = await take_values_call().enqueue()
    receipt = await job.result(timeout=RESULT_WAIT)
    assert isinstance(receipt, basic.Receipt)
    assert receipt.kinds == [
        "Order",
        "date",
        "time",
        "timedelta",
        "bytes",
        "tuple",
        "Point",
    ]
    assert receipt.order == ORDER
    assert receipt.day == date(2026, 3, 29)
    assert receipt.at == time(2, 30, 15, 500)
    assert receipt.span == timedelta(days=1, seconds=1, microseconds=7)
    assert receipt.blob == BLOB
    assert receipt.pair == (7, "seven")
    assert receipt.point == POINT


async def test_a_thread_task_gets_typed_values_and_the_caller_typed_results(
    env: WorkhorseEnv,
) -> None:
    when = datetime(2026, 10, 25, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    ids = [uuid.uuid4(), uuid.uuid4()]
    job = await basic.thread_values.enqueue(when, ids)
    result = await job.result(timeout=RESULT_WAIT)
    # The return annotation is a plain dict: the caller gets JSON values back.
    assert result == {
        "when": "2026-10-25T02:30:00+02:00",
        "ids": [str(i) for i in ids],
        "types": ["datetime", "UUID"],
    }
    reversed_job = await basic.echo_bytes.enqueue(BLOB)
    assert await reversed_job.result(timeout=RESULT_WAIT) == BLOB[::-1]
    sync_job = basic.echo_bytes.enqueue_sync(b"ab")
    assert sync_job.result_sync(timeout=RESULT_WAIT) == b"ba"


async def test_an_argument_that_does_not_fit_fails_for_good_naming_it(
    env: WorkhorseEnv,
) -> None:
    # Another service (or an older version of this one) sends a bad order.
    remote = basic.wh.remote_task(basic.take_values.name, retries=3)
    bad_order = {**json.loads(ORDER.model_dump_json()), "id": "not-a-uuid"}
    job = await remote.enqueue(bad_order, "2026-03-29", "02:30", "PT1S", "", [1, "a"], point={"x": 1, "y": 2})  # fmt: skip
    with pytest.raises(JobFailed) as caught:
        await job.result(timeout=RESULT_WAIT)
    error = caught.value.error
    assert error is not None and error.type == "ArgumentInvalid"
    assert "argument 'order' of task 'tests.apps.basic.take_values'" in error.message
    assert "id" in error.message and "UUID" in error.message
    assert caught.value.info.attempt == 1, (
        "another attempt would get the same arguments"
    )


class Socketish:
    """Something Pydantic cannot validate (an open connection, say)."""


def test_an_annotation_that_cannot_travel_is_refused_when_decorated() -> None:
    wh = Workhorse(url="http://127.0.0.1:9")
    with pytest.raises(
        TypeError, match=r"task 'bad': parameter 'conn' is annotated .*Socketish"
    ):

        @wh.task(name="bad")
        async def bad(conn: Socketish) -> None: ...

    with pytest.raises(
        TypeError, match=r"task 'bad_result': the return type is annotated"
    ):

        @wh.task(name="bad_result")
        async def bad_result() -> Socketish:
            return Socketish()

    assert "bad" not in wh.tasks and "bad_result" not in wh.tasks


def test_values_that_cannot_be_encoded_name_the_argument() -> None:
    @dataclasses.dataclass
    class Holder:
        lock: Any

    call = basic.take_values.call(ORDER, date.today(), time(), timedelta(), b"", (1, "a"), point=Holder(object()))  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(ArgumentNotSerializable, match="argument 'point' of task"):
        encode([call])


def test_a_result_that_does_not_fit_the_return_type_is_named() -> None:
    types = basic.take_values.types
    assert types is not None
    with pytest.raises(
        ArgumentInvalid, match="the result of task 'tests.apps.basic.take_values'"
    ):
        types.decode_result({"order": "nope"})
