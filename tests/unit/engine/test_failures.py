"""What a failed commit means: the database or broker unavailable (wait), the data refused
(isolate the records), or something else (retry a few times, then isolate)."""

from __future__ import annotations

import decimal

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from asyncpg.exceptions import _base as asyncpg_base

from candleflow.domain.exceptions import InvalidTick
from candleflow.engine.failures import Failure, classify, describe
from candleflow.kafka.exceptions import LogUnavailable
from candleflow.store.connection import DatabaseUnavailable


def postgres(sqlstate: str, message: str = "failed") -> asyncpg.PostgresError:
    error = asyncpg.PostgresError.new({"C": sqlstate, "M": message})
    assert isinstance(error, asyncpg.PostgresError)
    return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        OSError("no route"),
        TimeoutError(),
        asyncpg.InterfaceError("connection is closed"),
        KafkaConnectionError(),
        DatabaseUnavailable("cannot reach PostgreSQL"),  # the engine's Database could not connect
        LogUnavailable("cannot reach Kafka"),
        postgres("08006"),  # connection failure
        postgres("57P01"),  # admin shutdown
        postgres("57P03"),  # cannot connect now
        postgres("53300"),  # too many connections
        postgres("40P01"),  # deadlock
        postgres("40001"),  # serialization failure
        postgres("55P03"),  # lock not available
        postgres("42P01"),  # undefined table: the store is broken for every record alike
        postgres("42883"),  # undefined function (a migration missing)
        postgres("42501"),  # permission denied
    ],
    ids=repr,
)
def test_an_unavailable_or_broken_store_is_an_outage(error: BaseException) -> None:
    assert classify(error) is Failure.OUTAGE


@pytest.mark.parametrize(
    "error",
    [
        postgres("22003", "value out of range: overflow"),  # the 1e308 volume of the report
        postgres("22P05", "unsupported Unicode escape sequence"),
        postgres("22021", "invalid byte sequence for encoding UTF8"),
        postgres("23505"),
        postgres("54000", "index row size exceeds maximum"),
        asyncpg_base.DataError("invalid input for query argument $4"),
        ValueError("x"),
        OverflowError("int too large"),
        decimal.InvalidOperation(),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        InvalidTick("bad"),
    ],
    ids=repr,
)
def test_refused_data_is_a_refusal(error: BaseException) -> None:
    assert classify(error) is Failure.REFUSAL


@pytest.mark.parametrize("error", [KeyError("x"), TypeError("x"), AssertionError(), postgres("P1000")], ids=repr)
def test_anything_else_is_a_fault(error: BaseException) -> None:
    assert classify(error) is Failure.FAULT


def test_a_reason_names_the_sqlstate_and_is_bounded() -> None:
    assert describe(postgres("22003", "value out of range: overflow")).endswith("(22003): value out of range: overflow")
    assert len(describe(ValueError("x" * 10_000))) <= 303
