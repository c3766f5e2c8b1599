"""A dead letter is bounded whatever it reports, and says enough to find its record again."""

from __future__ import annotations

import hashlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from candleflow.domain.dead_letters import (
    HEAD_BYTES,
    MAX_BYTES,
    MAX_KEY_BYTES,
    Origin,
    dead_key,
    dead_letter,
    origin_headers,
    origin_of,
)

ORIGIN = Origin("ticks.raw", 3, 1234)


def test_a_short_record_is_kept_whole_with_its_reason_and_origin() -> None:
    record = orjson.loads(dead_letter(b'{"price": "x"}', "price is not a number", "engine", ORIGIN, at_ms=5))
    assert record == {
        "reason": "price is not a number",
        "raw": '{"price": "x"}',
        "raw_length": 14,
        "raw_sha256": hashlib.sha256(b'{"price": "x"}').hexdigest(),
        "source": "engine",
        "at": 5,
        "topic": "ticks.raw",
        "partition": 3,
        "offset": 1234,
    }


def test_the_300_kb_record_of_the_report_becomes_a_small_dead_letter() -> None:
    raw = b"\x01" * 300_000
    value = dead_letter(raw, "not JSON: unexpected character", "engine", ORIGIN)
    record = orjson.loads(value)
    assert len(value) <= MAX_BYTES
    assert record["raw"] == "\x01" * HEAD_BYTES
    assert record["raw_length"] == 300_000
    assert record["raw_sha256"] == hashlib.sha256(raw).hexdigest()


#: any text, and text of lone surrogates (an exception's message may hold them)
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=20)


@given(
    st.one_of(st.binary(max_size=4096), st.text(max_size=4096), surrogates, st.none()),
    st.one_of(st.text(max_size=5000), surrogates),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**63 - 1),
)
def test_any_input_and_reason_make_a_bounded_dead_letter(
    raw: bytes | str | None, reason: str, partition: int, offset: int
) -> None:
    value = dead_letter(raw, reason, "engine", Origin("t" * 249, partition, offset))
    assert len(value) <= MAX_BYTES
    record = orjson.loads(value)
    data = b"" if raw is None else raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
    assert record["raw_length"] == len(data)
    assert record["raw_sha256"] == hashlib.sha256(data).hexdigest()
    assert (record["partition"], record["offset"]) == (partition, offset)


@given(st.binary(min_size=0, max_size=2 * HEAD_BYTES))
def test_the_head_is_the_start_of_the_input(raw: bytes) -> None:
    record = orjson.loads(dead_letter(raw, "r", "engine"))
    assert record["raw"] == raw[:HEAD_BYTES].decode("utf-8", "replace")


def test_a_key_is_cut() -> None:
    assert dead_key(None) is None
    assert dead_key(b"k" * 10_000) == b"k" * MAX_KEY_BYTES
    assert dead_key(b"Coinbase:BTC/USD") == b"Coinbase:BTC/USD"


def test_headers_name_the_origin_for_their_engine_only() -> None:
    headers = origin_headers(ORIGIN, "candleflow")
    assert origin_of(headers, "candleflow") == ORIGIN
    assert origin_of(tuple(headers), "candleflow") == ORIGIN
    assert origin_of(headers, "another-app") is None
    assert origin_of([], "candleflow") is None
    assert origin_of(None, "candleflow") is None
    assert origin_of([("source_offset", b"x"), *headers[:1], headers[3]], "candleflow") is None
