"""What a replay tells its client: one `Event` per SSE event, in the order it happened.

Every event's data carries `clock_ms`, the replay clock (see `candleflow.replay.clock`)
when it was sent; the session adds it. Kinds, with the rest of their data:

* `hello`: `replay` (the id the controls name), `series` (per series: `symbol`,
  `resolution` and `history_to`, the `to` of the `/udf/history` request that gives the
  bars before the replay: the start of the bucket holding the start time, in seconds),
  and the clock's `speed` (null: max) and `paused`.
* `bar`: a bar formed or grew, the series' newest: `symbol`, `resolution`, `time`
  (seconds), `open`, `high`, `low`, `close`, `volume`, `trades` — the live streams' bar.
* `correction`: the same fields for an older bar a late tick changed: apply in place.
* `indicators`: values and marks of closed bars (and, at the end, of the newest bar):
  `symbol`, `resolution`, `from` and `to` (seconds, both inclusive), `bars` (`time` and
  `values`: every registered indicator's outputs by its key, as `/api/functions` names
  them, null where it has none) and `marks` (`time`, `signal`, `kind`, `label`, `text`,
  `tone`): the marks of the bars from `from` to `to` replace those held for them.
* `reset`: `symbol`, `resolution`, `from`, `to` (seconds, `to` exclusive): a late tick
  changed bars older than the replay keeps in memory; the client refetches bars,
  indicators and marks of that range from the store (`/udf/history`, `/api/indicators`,
  `/udf/marks`), which already hold it.
* `clock`: the clock moved or its state changed: `speed`, `paused`.
* `caught_up`: the replay reached the end of the log, the present: switch to live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from candleflow.domain.bars import Bar
from candleflow.functions.api import Values
from candleflow.functions.recompute import MarkRow

#: The kinds, as SSE event names.
KINDS = ("hello", "bar", "correction", "indicators", "reset", "clock", "caught_up")


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    data: dict[str, Any]


def bar_event(symbol: str, resolution: str, bucket: int, bar: Bar, *, correction: bool) -> Event:
    data = {
        "symbol": symbol,
        "resolution": resolution,
        "time": bucket // 1000,
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": float(bar.volume),
        "trades": bar.trades,
    }
    return Event("correction" if correction else "bar", data)


def values_json(values: Values | None) -> dict[str, list[float] | None]:
    if values is None:
        return {}
    return {key: None if outputs is None else list(outputs) for key, outputs in values.items()}


def indicators_event(
    symbol: str, resolution: str, bars: list[tuple[int, Values | None]], marks: list[MarkRow]
) -> Event:
    """`bars`: (bucket ms, outputs) ascending; `marks`: every mark among them."""
    return Event(
        "indicators",
        {
            "symbol": symbol,
            "resolution": resolution,
            "from": bars[0][0] // 1000,
            "to": bars[-1][0] // 1000,
            "bars": [{"time": bucket // 1000, "values": values_json(values)} for bucket, values in bars],
            "marks": [
                {
                    "time": m.bucket // 1000,
                    "signal": m.signal,
                    "kind": m.kind,
                    "label": m.label,
                    "text": m.text,
                    "tone": m.tone,
                }
                for m in marks
            ],
        },
    )


def reset_event(symbol: str, resolution: str, start: int, end: int) -> Event:
    return Event("reset", {"symbol": symbol, "resolution": resolution, "from": start // 1000, "to": end // 1000})
