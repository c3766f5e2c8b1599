"""Replay files: NDJSON, gzip, CSV, malformed lines with reasons, pacing."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import orjson
import pytest

from candleflow.domain.ticks import Tick
from candleflow.sources.exceptions import ReplayFileError
from candleflow.sources.replay import MAX_RAW, CsvLayout, Pacer, detect_format, parse_speed, replay_file
from tests.fakes.collecting_sink import CollectingSink

NOW = int(time.time() * 1000)
T0 = NOW - 3_600_000
GOOD = [
    Tick("Coinbase:BTC/USD", T0, 97000.5, 0.0123, "buy", "81234"),
    Tick("Kraken:ETH/EUR", T0 + 250, 3400.25, 1.5, "sell", None),
    Tick("Binance:DOGE/USDT", T0 + 1000, 0.39123, 1000.0, "unknown", "7"),
]
BAD_LINES: list[tuple[bytes, str]] = [
    (b"this is not json", "not JSON"),
    (b"", "empty line"),
    (b"[1, 2, 3]", "tick is not a JSON object"),
    (b'{"symbol": "BTCUSD", "ts": %d, "price": 1, "qty": 1}' % T0, "is not written Exchange:BASE/QUOTE"),
    (b'{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": "abc", "qty": 1}' % T0, "price is not a number"),
    (b'{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": 0, "qty": 1}' % T0, "price must be > 0"),
    (b'{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": 1, "qty": -2}' % T0, "qty must be >= 0"),
    (b'{"symbol": "Coinbase:BTC/USD", "ts": 1000, "price": 1, "qty": 1}', "before 2009"),
    (b'{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": 1, "qty": 1}' % (NOW + 86_400_000), "in the future"),
    (b'{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": 1}' % T0, "missing qty"),
    (b'{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": 1, "qty": 1, "side": "long"}' % T0, "side must be"),
]


def ndjson(ticks: list[Tick], bad: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    lines = [t.to_json() for t in ticks] + list(bad)
    return b"\n".join(lines) + b"\n"


async def test_ndjson_publishes_valid_and_dead_letters_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "ticks.ndjson"
    path.write_bytes(ndjson(GOOD, [line for line, _ in BAD_LINES]))
    sink = CollectingSink()
    report = await replay_file(path, sink)
    assert sink.ticks == GOOD
    assert (report.lines, report.valid, report.invalid) == (len(GOOD) + len(BAD_LINES), 3, len(BAD_LINES))
    for (raw, reason), (line, expected) in zip(sink.rejected, BAD_LINES, strict=True):
        assert raw == line.decode()
        assert expected in reason


async def test_gzip_is_recognised_by_content(tmp_path: Path) -> None:
    path = tmp_path / "ticks.ndjson.gz"
    path.write_bytes(gzip.compress(ndjson(GOOD, [b"{oops"])))
    sink = CollectingSink()
    report = await replay_file(path, sink)
    assert sink.ticks == GOOD
    assert report.invalid == 1
    assert sink.rejected[0][0] == "{oops"


async def test_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "ticks.ndjson"
    path.write_bytes(GOOD[0].to_json() + b"\r\n" + GOOD[1].to_json())
    sink = CollectingSink()
    report = await replay_file(path, sink)
    assert sink.ticks == GOOD[:2]
    assert report.lines == 2


async def test_id_is_normalised_to_text_and_side_defaults_to_unknown(tmp_path: Path) -> None:
    path = tmp_path / "ticks.ndjson"
    path.write_bytes(b'{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": 5, "qty": 1, "id": 42}\n' % T0)
    sink = CollectingSink()
    await replay_file(path, sink)
    assert sink.ticks == [Tick("Coinbase:BTC/USD", T0, 5.0, 1.0, "unknown", "42")]


async def test_csv_with_header_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text(
        "ts,symbol,price,qty,side,id\n"
        f"{T0},Coinbase:BTC/USD,97000.5,0.0123,buy,81234\n"
        f"{T0 + 250},Kraken:ETH/EUR,3400.25,1.5,sell,\n"
        f"{T0 + 1000},Binance:DOGE/USDT,0.39123,1000,,7\n"
        f"{T0},Coinbase:BTC/USD,97000.5\n"
        f"soon,Coinbase:BTC/USD,97000.5,1,buy,1\n"
        f"{T0},Coinbase:BTC/USD,-5,1,buy,1\n"
    )
    sink = CollectingSink()
    report = await replay_file(path, sink)
    assert sink.ticks == GOOD
    assert (report.lines, report.invalid) == (6, 3)
    reasons = [reason for _, reason in sink.rejected]
    assert "CSV line has 3 fields, expected 6" in reasons[0]
    assert "ts is not integer milliseconds: 'soon'" in reasons[1]
    assert "price must be > 0" in reasons[2]


async def test_csv_without_header_and_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv.gz"
    path.write_bytes(gzip.compress(f"Coinbase:BTC/USD,{T0},97000.5,0.0123,buy,81234\n".encode()))
    sink = CollectingSink()
    report = await replay_file(path, sink)
    assert sink.ticks == GOOD[:1]
    assert report.lines == 1


def test_csv_header_must_name_known_columns() -> None:
    with pytest.raises(ReplayFileError, match="must name the columns"):
        CsvLayout.header(b"symbol,time,price,qty\n")
    assert CsvLayout.header(b"Coinbase:BTC/USD,1,2,3\n") is None


async def test_overlong_line_is_clipped_in_its_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "ticks.ndjson"
    path.write_bytes(b"x" * (MAX_RAW + 10) + b"\n")
    sink = CollectingSink()
    await replay_file(path, sink)
    raw, reason = sink.rejected[0]
    assert len(raw) == MAX_RAW
    assert f"line of {MAX_RAW + 10} bytes" in reason


def test_formats_and_speeds() -> None:
    assert detect_format(Path("a.csv")) == "csv"
    assert detect_format(Path("a.CSV.gz")) == "csv"
    assert detect_format(Path("a.ndjson.gz")) == "ndjson"
    assert detect_format(Path("a.jsonl")) == "ndjson"
    assert parse_speed("max") is None
    assert parse_speed("2.5") == 2.5
    for bad in ("0", "-1", "fast", "inf"):
        with pytest.raises(ValueError, match="speed"):
            parse_speed(bad)


async def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayFileError, match="cannot open replay file"):
        await replay_file(tmp_path / "nope.ndjson", CollectingSink())


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


async def test_pacing_follows_tick_time_at_speed(tmp_path: Path) -> None:
    ticks = [Tick("Coinbase:BTC/USD", T0 + ms, 1.0, 1.0) for ms in (0, 1000, 1000, 500, 3000)]
    path = tmp_path / "ticks.ndjson"
    path.write_bytes(ndjson(ticks))
    fake = FakeTime()
    sink = CollectingSink()
    await replay_file(path, sink, speed=2.0, pacer=Pacer(2.0, clock=fake.clock, sleep=fake.sleep))
    # 1 s of tick time = 0.5 s at speed 2; ties and late ticks go out at once.
    assert fake.sleeps == [0.5, 1.0]
    assert len(sink.ticks) == 5


def test_tick_json_round_trips_through_a_replay_line() -> None:
    for tick in GOOD:
        assert orjson.loads(tick.to_json())["symbol"] == tick.symbol
