"""Historical bars from CryptoCompare's REST history, for periods the tick log does not cover.

Rules (README "Backfill and verify" says the same to users):

* **Sources.** `histominute` rows become `1` bars; `5 15 30 60` are rolled up from the
  stored REST minute bars. `histohour` rows become `60` bars only for hours older than
  the symbol's oldest REST minute bar (the free tier keeps about 7 days of minutes), so
  every 60-minute bucket has exactly one origin. `240` is rolled up from the REST `60`
  bars. `histoday` rows become `1D` bars; `1W` and `1M` are rolled up from them.
  Roll-ups: open = first, close = last, high/low extremes, volume = sum of
  `volumefrom`; trades = 0 (unknown); open_ts = close_ts = bucket; seqs = -1.
* **Only complete periods.** A row is used when its period ended before `--until`; a
  rolled-up bucket is written when it ends inside the fetched span and does not start
  before the oldest REST bar it is built from (no half-filled bucket at either end).
  `--since` is first floored to a 4-hour boundary (minutes, hours) or to the start of
  its week or month (days), so the first rolled-up bucket is whole.
  CryptoCompare's filler rows (zero volume) are skipped, as the engine makes no bar
  for a period without trades; a whole page of them means the pair's history starts.
* **Ticks win.** For each symbol and resolution, REST bars are written only for buckets
  before the first bar built from ticks (`source = 'ticks'`) of that resolution, so no
  period mixes both. Writes are `ON CONFLICT ... DO UPDATE ... WHERE bars.source =
  'rest'`: a tick bar is never overwritten, a REST bar is refreshed.
* **Resumable.** `backfill_progress` holds, per symbol and endpoint, the span of row
  times done; it grows page by page in the same transaction as the page's bars. A new
  run fetches only what lies outside it: newer rows first (paging up from the span),
  then older ones (paging down from it).
* Afterwards each written series' functions (indicators and signals) are recomputed
  from scratch (`candleflow.store.series`, the series' bars locked `FOR SHARE`).

Memory: roll-ups and indicator recomputation hold one symbol's series in memory
(about 200 bytes a bar: a year of minutes is ~100 MB).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from candleflow.core.settings import Settings
from candleflow.domain.bars import Bar, LevelKey, roll_into
from candleflow.domain.exceptions import CandleflowError
from candleflow.domain.resolution import BY_CODE, Resolution
from candleflow.domain.symbols import Symbol, SymbolSeen, parse_symbol
from candleflow.domain.ticks import price_decimals
from candleflow.functions.failures import report_failures
from candleflow.functions.registry import from_settings
from candleflow.sources.cryptocompare_rest import ENDPOINTS, LIMIT, HistoryClient, HistoryRow, Page, RestError
from candleflow.store import bars as store
from candleflow.store import rest_bars as rest_store
from candleflow.store import series
from candleflow.store.connection import Connection, connect
from candleflow.store.sql import REST, TICKS

log = logging.getLogger(__name__)

Report = Callable[[str], None]
#: One symbol's bars of one resolution, `(symbol, bucket ms)` -> bar, oldest first.
RestBars = dict[LevelKey, Bar]


class BackfillError(CandleflowError):
    """A backfill cannot go on; the message names the symbol and says what to do."""


# ------------------------------------------------------------------ pure logic


def bars_of(symbol: str, rows: Iterable[HistoryRow]) -> RestBars:
    """The traded rows as bars (filler rows without trades dropped), oldest first."""
    traded = sorted((r for r in rows if r.traded), key=lambda r: r.time)
    return {
        (symbol, r.time * 1000): Bar.of_rest(r.time * 1000, r.open, r.high, r.low, r.close, r.volume) for r in traded
    }


def whole(bars: Mapping[LevelKey, Bar], resolution: Resolution, start_ms: int, end_ms: int) -> RestBars:
    """The rolled-up buckets that lie entirely in `[start_ms, end_ms)`."""
    return {k: b for k, b in bars.items() if k[1] >= start_ms and resolution.next(k[1]) <= end_ms}


def before(bars: Mapping[LevelKey, Bar], limit_ms: int | None) -> RestBars:
    return {k: b for k, b in bars.items() if limit_ms is None or k[1] < limit_ms}


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    endpoint: str
    base: str  # the resolution rows become
    derived: tuple[str, ...]  # rolled up from the stored REST base bars

    @property
    def step(self) -> int:
        return ENDPOINTS[self.endpoint]


PHASES: dict[str, Phase] = {
    "minute": Phase("minute", "histominute", "1", ("5", "15", "30", "60")),
    "hour": Phase("hour", "histohour", "60", ()),
    "day": Phase("day", "histoday", "1D", ("1W", "1M")),
}
RESOLUTION_CHOICES = ("minute", "hour", "day", "all")
FOUR_HOURS = BY_CODE["240"]


def phases_for(choice: str) -> tuple[Phase, ...]:
    if choice == "all":
        return tuple(PHASES.values())
    return (PHASES[choice],)


def align_since(phase: Phase, since_ms: int) -> int:
    """`since` floored so that the first rolled-up bucket of the phase is whole (ms)."""
    if phase.name == "day":
        return min(BY_CODE["1W"].floor(since_ms), BY_CODE["1M"].floor(since_ms))
    return FOUR_HOURS.floor(since_ms)


def newest_row(step: int, until_ms: int, limit_ms: int | None) -> int:
    """Time (s) of the newest row to use: its period ends by `until`, it starts before `limit`."""
    top = (until_ms // 1000) // step * step - step
    if limit_ms is not None:
        top = min(top, ((limit_ms - 1) // 1000) // step * step)
    return top


@dataclass(frozen=True, slots=True)
class Span:
    """Row times (s, inclusive) already fetched and written for one symbol and endpoint."""

    lower: int
    upper: int


@dataclass(frozen=True, slots=True)
class Segment:
    direction: str  # "up" or "down"
    start: int  # up: the span's upper (exclusive); down: the first toTs
    stop: int  # up: the newest row wanted; down: the oldest row wanted
    fresh: bool = False  # down from nothing: the first page starts the span


def segments(stored: Span | None, bottom: int, top: int, step: int) -> list[Segment]:
    """What is left to fetch of `[bottom, top]` given what `stored` covers."""
    if top < bottom:
        return []
    if stored is None or stored.upper + step < bottom or stored.lower - step > top:
        return [Segment("down", top, bottom, fresh=True)]
    found = []
    if top > stored.upper:
        found.append(Segment("up", stored.upper, top))
    if bottom < stored.lower:
        found.append(Segment("down", stored.lower, bottom))
    return found


def next_up_to_ts(upper: int, top: int, step: int, limit: int = LIMIT) -> int:
    return min(upper + limit * step, top)


def new_rows_down(page: Page, lower: int | None, bottom: int, top: int) -> list[HistoryRow]:
    """Rows of a page fetched downwards that are new: older than `lower` (the span's
    oldest row; None on a fresh start), not older than `bottom`, not newer than `top`."""
    return [r for r in page.rows if bottom <= r.time <= top and (lower is None or r.time < lower)]


def history_ends(new: Sequence[HistoryRow], page: Page, bottom: int) -> bool:
    """Whether paging down stops after this page: nothing new, no trade in it (the
    pair's history starts), or the page reached `bottom`."""
    return not new or not any(r.traded for r in new) or page.time_from <= bottom


# ----------------------------------------------------------------------- SQL


async def read_progress(conn: Connection, symbol: str, endpoint: str) -> Span | None:
    found = await rest_store.read_progress(conn, symbol, endpoint)
    return None if found is None else Span(*found)


# --------------------------------------------------------------------- runner


@dataclass(frozen=True, slots=True)
class Plan:
    symbols: tuple[str, ...]
    since: int  # ms
    until: int  # ms
    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        if self.since >= self.until:
            raise ValueError("--since must be before --until")


@dataclass
class PhaseReport:
    symbol: str
    endpoint: str
    pages: int = 0
    rows: int = 0
    written: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        bars = ", ".join(f"{code}: {n}" for code, n in self.written.items() if n) or "none"
        return f"{self.symbol} {self.endpoint}: {self.pages} pages, {self.rows} new rows; bars written {bars}"


class SymbolBackfill:
    """One symbol's phases, then its 240 roll-up, indicators and marks."""

    def __init__(
        self, conn: Connection, client: HistoryClient, settings: Settings, plan: Plan, symbol: str, report: Report
    ) -> None:
        self.conn = conn
        self.client = client
        self.settings = settings
        self.plan = plan
        self.name = symbol
        self.symbol: Symbol = parse_symbol(symbol)
        self.report = report
        self.touched: set[str] = set()
        self.ticks: dict[str, int | None] = {}

    async def run(self) -> list[PhaseReport]:
        self.ticks = await rest_store.first_bars(self.conn, self.name, [r.code for r in BY_CODE.values()], TICKS)
        reports = []
        for phase in self.plan.phases:
            reports.append(await self.phase(phase))
        if any(p.name in ("minute", "hour") for p in self.plan.phases):
            written = await self.four_hours()
            reports[-1].written["240"] = written
        await self.indicators()
        return reports

    def _limit(self, resolution: str, extra: int | None = None) -> int | None:
        limits = [x for x in (self.ticks.get(resolution), extra) if x is not None]
        return min(limits) if limits else None

    async def phase(self, phase: Phase) -> PhaseReport:
        report = PhaseReport(self.name, phase.endpoint)
        extra = None
        if phase.name == "hour":  # hours only where no REST minute exists
            extra = (await rest_store.first_bars(self.conn, self.name, ["1"], REST))["1"]
        limit = self._limit(phase.base, extra)
        bottom = align_since(phase, self.plan.since) // 1000
        top = newest_row(phase.step, self.plan.until, limit)
        stored = await read_progress(self.conn, self.name, phase.endpoint)
        for segment in segments(stored, bottom, top, phase.step):
            if segment.direction == "up":
                stored = await self._page_up(phase, segment, stored, limit, report)
            else:
                stored = await self._page_down(phase, segment, stored, limit, report)
        if stored is not None and phase.derived:
            await self._derive(phase, stored, report)
        return report

    async def _fetch(self, phase: Phase, to_ts: int) -> Page:
        try:
            return await self.client.page(phase.endpoint, self.symbol, to_ts)
        except RestError as exc:
            raise BackfillError(
                f"{self.name}: CryptoCompare {phase.endpoint} (toTs={to_ts}) failed: {exc} — check that "
                f"{self.symbol.exchange} trades {self.symbol.base}/{self.symbol.quote} on CryptoCompare, or "
                "leave the symbol out of --symbols; a rerun continues where this one stopped"
            ) from exc

    async def _page_up(
        self, phase: Phase, segment: Segment, stored: Span | None, limit: int | None, report: PhaseReport
    ) -> Span:
        assert stored is not None
        upper = segment.start
        while upper < segment.stop:
            to_ts = next_up_to_ts(upper, segment.stop, phase.step)
            page = await self._fetch(phase, to_ts)
            new = [r for r in page.rows if upper < r.time <= to_ts]
            stored = Span(stored.lower, to_ts)
            await self._save_page(phase, new, stored, limit, report, fresh=False)
            upper = to_ts
        return stored

    async def _page_down(
        self, phase: Phase, segment: Segment, stored: Span | None, limit: int | None, report: PhaseReport
    ) -> Span | None:
        to_ts = segment.start
        lower = None if segment.fresh else segment.start
        upper = segment.start if segment.fresh else (stored.upper if stored is not None else segment.start)
        bottom = segment.stop
        fresh = segment.fresh
        while True:
            page = await self._fetch(phase, to_ts)
            new = new_rows_down(page, lower, bottom, segment.start if fresh else upper)
            done = history_ends(new, page, bottom)
            lower = bottom if done else min(r.time for r in new)
            stored = Span(lower, upper)
            await self._save_page(phase, new, stored, limit, report, fresh=fresh)
            fresh = False
            if done:
                return stored
            to_ts = lower

    async def _save_page(
        self,
        phase: Phase,
        rows: Sequence[HistoryRow],
        span: Span,
        limit: int | None,
        report: PhaseReport,
        *,
        fresh: bool,
    ) -> None:
        bars = before(bars_of(self.name, rows), limit)
        async with self.conn.transaction():
            written = await rest_store.write_rest_bars(self.conn, self.name, phase.base, bars)
            if bars:
                decimals = max(price_decimals(x) for b in bars.values() for x in (b.open, b.high, b.low, b.close))
                buckets = [bucket for _, bucket in bars]
                seen = SymbolSeen(min(decimals, 12), buckets[0], buckets[-1])
                await store.upsert_symbols(self.conn, {self.name: seen})
            await rest_store.save_progress(self.conn, self.name, phase.endpoint, span.lower, span.upper, fresh=fresh)
        report.pages += 1
        report.rows += len(rows)
        report.written[phase.base] = report.written.get(phase.base, 0) + written
        if written:
            self.touched.add(phase.base)
        self.report(f"{self.name} {phase.endpoint}: page {report.pages}, rows down to {span.lower}")

    async def _roll_up_into(self, base: str, codes: Sequence[str], start_ms: int, end_ms: int) -> dict[str, int]:
        """Roll the stored REST `base` bars of `[start_ms, end_ms)` up into `codes`."""
        source = await rest_store.rest_bars(self.conn, self.name, base, start_ms, end_ms)
        written: dict[str, int] = {}
        if not source:
            return written
        oldest = next(iter(source))[1]
        async with self.conn.transaction():
            for code in codes:
                resolution = BY_CODE[code]
                bars = before(whole(roll_into(resolution, source), resolution, oldest, end_ms), self.ticks[code])
                written[code] = await rest_store.write_rest_bars(self.conn, self.name, code, bars)
                if written[code]:
                    self.touched.add(code)
        return written

    async def _derive(self, phase: Phase, span: Span, report: PhaseReport) -> None:
        end = (span.upper + phase.step) * 1000
        report.written.update(await self._roll_up_into(phase.base, phase.derived, span.lower * 1000, end))

    async def four_hours(self) -> int:
        """`240` from the REST `60` bars (from minutes or hours) of both endpoints' spans."""
        spans = [
            (span, PHASES[name].step)
            for name in ("minute", "hour")
            if (span := await read_progress(self.conn, self.name, PHASES[name].endpoint)) is not None
        ]
        if not spans:
            return 0
        start = min(span.lower for span, _ in spans) * 1000
        end = max((span.upper + step) * 1000 for span, step in spans)
        return (await self._roll_up_into("60", ["240"], start, end)).get("240", 0)

    async def indicators(self) -> None:
        """Recompute the functions of every series this run wrote, from its first bar."""
        functions = from_settings(self.settings)
        for code in sorted(self.touched, key=list(BY_CODE).index):
            async with self.conn.transaction():
                spans = [((self.name, code), series.WHOLE_HISTORY)]
                for item, computed in await series.recompute(self.conn, functions, spans, lock=True):
                    report_failures(item.key, computed.failures)
                await store.bump_epoch(self.conn)


async def backfill(settings: Settings, plan: Plan, client: HistoryClient, report: Report) -> list[PhaseReport]:
    """Backfill every symbol of the plan, one after the other."""
    conn = await connect(settings.database_url)
    try:
        await _check_schema(conn)
        reports: list[PhaseReport] = []
        for symbol in plan.symbols:
            reports.extend(await SymbolBackfill(conn, client, settings, plan, symbol, report).run())
        return reports
    finally:
        await conn.close()


async def _check_schema(conn: Connection) -> None:
    if not await rest_store.has_progress_table(conn):
        raise BackfillError("the database has no backfill_progress table: run `candleflow db migrate` first")
