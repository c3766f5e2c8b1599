"""The `bars.updates` wire format: what the engine encodes, every hub decodes."""

from __future__ import annotations

import orjson

from candleflow.domain.updates import BarUpdate, decode, encode


def test_round_trip_with_and_without_commit_time() -> None:
    for committed_at, republished in ((None, False), (1_700_000_000.25, True)):
        update = BarUpdate("Coinbase:BTC/USD", "1S", 60, 1.0, 2.0, 0.5, 1.5, 3.0, 4, True, committed_at, republished)
        key, value = encode(update)
        assert key == b"Coinbase:BTC/USD|1S"
        assert decode(value) == update


def test_decode_reads_records_of_older_engines() -> None:
    record = {
        "symbol": "Coinbase:BTC/USD",
        "resolution": "1",
        "time": 60,
        "open": 1,
        "high": 2,
        "low": 0.5,
        "close": 1.5,
        "volume": 3,
        "trades": 4,
        "correction": True,
    }
    update = decode(orjson.dumps(record))
    assert update == BarUpdate("Coinbase:BTC/USD", "1", 60, 1.0, 2.0, 0.5, 1.5, 3.0, 4, True)
    assert orjson.loads(update.bar_json()) == {k: v for k, v in record.items() if k != "correction"}


def test_decode_refuses_malformed_records() -> None:
    assert decode(b"not json") is None
    assert decode(b"[1, 2]") is None
    assert decode(orjson.dumps({"symbol": "x"})) is None
    assert decode(None) is None
    nan = {"symbol": "a", "resolution": "1", "time": 1, "open": "nan", "high": 1, "low": 1, "close": 1}
    assert decode(orjson.dumps({**nan, "volume": 1, "trades": 1})) is None
