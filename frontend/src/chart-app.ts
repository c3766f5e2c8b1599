/**
 * The lightweight-charts view: candles, volume, moving averages and crossover
 * marks for one symbol and resolution, fed by `CandleflowDatafeed`.
 *
 * Realtime pattern: `setData(history)` once per load, then `update(bar)` for each
 * live bar. Older history is fetched when the visible range nears the left edge.
 * Every load bumps `generation`; an answer that arrives for an older generation
 * (the user switched symbol or resolution meanwhile) is dropped.
 */
import {
  CandlestickSeries,
  ColorType,
  createChart,
  CrosshairMode,
  createSeriesMarkers,
  HistogramSeries,
  LineSeries,
  type CandlestickData,
  type HistogramData,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type LineData,
  type LogicalRange,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { BarStore } from './bar-store';
import type { CandleflowDatafeed } from './datafeed';
import { livePoint, mergePoints, MOVING_AVERAGES, type MovingAverageLine } from './indicators';
import { parseResolution, resolutionSeconds } from './resolution';
import type { ConnectionState } from './streaming';
import { PALETTES, type ChartPalette, type Theme } from './theme';
import type { Bar, HistoryMetadata, LibrarySymbolInfo, Mark, MarkCustomColor } from './tv-types';
import type { IndicatorPoint, WireBar } from './udf-client';

/** Bars asked for when a chart opens, and per page when scrolling back. */
export const INITIAL_BARS = 300;
export const OLDER_PAGE_BARS = 300;
/** Fetch an older page once fewer than this many bars are left of the view. */
export const LOAD_MORE_WITHIN_BARS = 30;
/** Gaps (`nextTime`) followed per page before giving up for this scroll. */
const MAX_GAP_HOPS = 3;
const RETRY_LOAD_MS = 3_000;

export interface ChartAppHooks {
  /** Connection of the live stream; `loading` while history loads. */
  onConnection(state: ConnectionState | 'loading'): void;
  /** After every change to the newest bar. */
  onLastBar(bar: WireBar | undefined, symbolInfo: LibrarySymbolInfo | undefined): void;
  /** A message for the user, or undefined to clear it. */
  onStatus(message: string | undefined): void;
  /** After anything in `snapshot()` changed: a load, a page of older bars, a live bar. */
  onChange(snapshot: ChartSnapshot): void;
}

interface LineState {
  definition: MovingAverageLine;
  series: ISeriesApi<'Line'>;
  points: IndicatorPoint[];
  visible: boolean;
}

/** What the debug hook and tests read. Times in seconds. */
export interface ChartSnapshot {
  symbol: string;
  resolution: string;
  connection: ConnectionState | 'loading';
  loading: boolean;
  loadingOlder: boolean;
  historyExhausted: boolean;
  loads: number;
  olderLoads: number;
  ticks: number;
  bars: number;
}

const asTime = (seconds: number): UTCTimestamp => seconds as UTCTimestamp;

function fromLibraryBar(bar: Bar): WireBar {
  return {
    time: Math.round(bar.time / 1000),
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume ?? 0,
  };
}

export function priceFormatOf(info: LibrarySymbolInfo): { type: 'price'; precision: number; minMove: number } {
  const pricescale = info.pricescale > 0 ? info.pricescale : 100;
  const precision = Math.max(0, Math.round(Math.log10(pricescale)));
  return { type: 'price', precision, minMove: (info.minmov > 0 ? info.minmov : 1) / pricescale };
}

export class ChartApp {
  readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly volume: ISeriesApi<'Histogram'>;
  private readonly markers: ISeriesMarkersPluginApi<Time>;
  private readonly lines = new Map<string, LineState>();
  private readonly store = new BarStore();
  private palette: ChartPalette;
  private marks: Mark[] = [];
  private symbolInfo: LibrarySymbolInfo | undefined;
  private guid: string | undefined;
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  symbol = '';
  resolution = '1';
  connection: ConnectionState | 'loading' = 'loading';
  loading = false;
  loadingOlder = false;
  historyExhausted = false;
  /** Completed full loads (open, resolution switch, reset). */
  loads = 0;
  /** Completed scroll-back pages. */
  olderLoads = 0;
  /** Live bars applied since the page opened. */
  ticks = 0;

  constructor(
    container: HTMLElement,
    private readonly datafeed: CandleflowDatafeed,
    private readonly hooks: ChartAppHooks,
    theme: Theme,
  ) {
    this.palette = PALETTES[theme];
    this.chart = createChart(container, {
      autoSize: true,
      timeScale: { timeVisible: true, rightOffset: 4 },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, { priceLineVisible: true });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: 'volume',
      priceFormat: { type: 'volume' },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    for (const definition of MOVING_AVERAGES) {
      const series = this.chart.addSeries(LineSeries, {
        color: definition.color,
        lineWidth: 2,
        visible: definition.defaultVisible,
        priceLineVisible: false,
        lastValueVisible: false,
        crosshairMarkerVisible: false,
        title: `${definition.kind.toUpperCase()} ${definition.period}`,
      });
      this.lines.set(definition.id, { definition, series, points: [], visible: definition.defaultVisible });
    }
    this.markers = createSeriesMarkers(this.candles, []);
    this.applyPalette();
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => this.onVisibleRangeChange(range));
  }

  /** Opens a chart; resolves false when a newer `open` superseded it or it failed. */
  async open(symbol: string, resolution: string): Promise<boolean> {
    const generation = ++this.generation;
    clearTimeout(this.retryTimer);
    this.stopStream();
    this.symbol = symbol;
    this.resolution = resolution;
    this.loading = true;
    this.historyExhausted = false;
    this.store.reset([]);
    this.marks = [];
    for (const line of this.lines.values()) line.points = [];
    this.renderAll();
    this.setConnection('loading');
    this.hooks.onChange(this.snapshot());
    this.chart.applyOptions({ timeScale: { secondsVisible: parseResolution(resolution).unit === 'second' } });
    try {
      const info = await this.resolve(symbol);
      if (generation !== this.generation) return false;
      this.symbolInfo = info;
      const format = priceFormatOf(info);
      this.candles.applyOptions({ priceFormat: format });
      for (const line of this.lines.values()) line.series.applyOptions({ priceFormat: format });

      const to = Math.floor(Date.now() / 1000) + resolutionSeconds(resolution);
      const page = await this.fetchPage(info, to, INITIAL_BARS, true);
      if (generation !== this.generation) return false;
      this.store.reset(page.bars);
      this.historyExhausted = page.exhausted;
      this.renderBars();
      this.chart.timeScale().scrollToRealTime();
      this.hooks.onLastBar(this.store.last, info);
      this.hooks.onStatus(page.bars.length === 0 ? `no bars yet for ${symbol} at this resolution` : undefined);

      const first = this.store.first;
      if (first) {
        await Promise.all([
          ...[...this.lines.values()].filter((line) => line.visible).map((line) => this.loadLine(line, first.time, to)),
          this.loadMarks(),
        ]);
        if (generation !== this.generation) return false;
      }
      this.startStream(info, generation);
      this.loading = false;
      this.loads += 1;
      this.hooks.onChange(this.snapshot());
      return true;
    } catch (error) {
      if (generation !== this.generation) return false;
      this.loading = false;
      this.hooks.onChange(this.snapshot());
      const text = error instanceof Error ? error.message : String(error);
      if (text === 'unknown_symbol') {
        this.hooks.onStatus(`unknown symbol ${symbol}`);
        this.setConnection('offline');
        return false;
      }
      this.hooks.onStatus(`cannot load ${symbol}: ${text}; retrying`);
      this.setConnection('offline');
      this.retryTimer = setTimeout(() => void this.open(symbol, resolution), RETRY_LOAD_MS);
      return false;
    }
  }

  /** Reloads the current chart, e.g. after `onResetCacheNeeded`. */
  reload(): Promise<boolean> {
    return this.open(this.symbol, this.resolution);
  }

  setTheme(theme: Theme): void {
    this.palette = PALETTES[theme];
    this.applyPalette();
    this.renderBars();
    this.renderMarkers();
  }

  setLineVisible(id: string, visible: boolean): void {
    const line = this.lines.get(id);
    if (!line || line.visible === visible) return;
    line.visible = visible;
    line.series.applyOptions({ visible });
    const first = this.store.first;
    const last = this.store.last;
    if (visible && first && last) {
      void this.loadLine(line, first.time, last.time + resolutionSeconds(this.resolution));
    }
  }

  lineVisible(id: string): boolean {
    return this.lines.get(id)?.visible ?? false;
  }

  /** Connection updates from the datafeed, for every subscription; only ours counts. */
  handleConnection(guid: string, state: ConnectionState): void {
    if (guid === this.guid && !this.loading) this.setConnection(state);
  }

  bars(): WireBar[] {
    return this.store.bars.map((bar) => ({ ...bar }));
  }

  lastBar(): WireBar | undefined {
    const last = this.store.last;
    return last && { ...last };
  }

  lineData(): Record<string, { visible: boolean; points: IndicatorPoint[] }> {
    const result: Record<string, { visible: boolean; points: IndicatorPoint[] }> = {};
    for (const [id, line] of this.lines) result[id] = { visible: line.visible, points: [...line.points] };
    return result;
  }

  seriesMarkers(): SeriesMarker<Time>[] {
    return [...this.markers.markers()];
  }

  snapshot(): ChartSnapshot {
    return {
      symbol: this.symbol,
      resolution: this.resolution,
      connection: this.connection,
      loading: this.loading,
      loadingOlder: this.loadingOlder,
      historyExhausted: this.historyExhausted,
      loads: this.loads,
      olderLoads: this.olderLoads,
      ticks: this.ticks,
      bars: this.store.length,
    };
  }

  /** Scrolls the view `bars` bars into the past (negative: towards now). */
  scrollBack(bars: number): void {
    const timeScale = this.chart.timeScale();
    timeScale.scrollToPosition(timeScale.scrollPosition() - bars, false);
  }

  private resolve(symbol: string): Promise<LibrarySymbolInfo> {
    return new Promise((resolve, reject) =>
      this.datafeed.resolveSymbol(symbol, resolve, (reason) => reject(new Error(reason))),
    );
  }

  private getBars(
    info: LibrarySymbolInfo,
    from: number,
    to: number,
    countBack: number,
    firstDataRequest: boolean,
  ): Promise<{ bars: Bar[]; meta: HistoryMetadata }> {
    return new Promise((resolve, reject) =>
      this.datafeed.getBars(
        info,
        this.resolution,
        { from, to, countBack, firstDataRequest },
        (bars, meta) => resolve({ bars, meta }),
        (reason) => reject(new Error(reason)),
      ),
    );
  }

  /**
   * Up to `countBack` bars before `to`. An empty answer with `nextTime` is a gap:
   * ask again ending just after `nextTime` (`to` is exclusive). Empty without
   * `nextTime` means nothing older exists.
   */
  private async fetchPage(
    info: LibrarySymbolInfo,
    to: number,
    countBack: number,
    firstDataRequest: boolean,
  ): Promise<{ bars: WireBar[]; exhausted: boolean }> {
    const span = countBack * resolutionSeconds(this.resolution);
    let end = to;
    for (let hop = 0; hop <= MAX_GAP_HOPS; hop += 1) {
      const { bars, meta } = await this.getBars(info, end - span, end, countBack, firstDataRequest);
      if (bars.length > 0) return { bars: bars.map(fromLibraryBar), exhausted: false };
      const nextTime = meta.nextTime;
      if (nextTime === undefined || nextTime === null || nextTime >= end) return { bars: [], exhausted: true };
      end = nextTime + 1;
    }
    return { bars: [], exhausted: false };
  }

  private startStream(info: LibrarySymbolInfo, generation: number): void {
    const guid = `${info.ticker ?? info.full_name}|${this.resolution}|${generation}`;
    this.guid = guid;
    this.datafeed.subscribeBars(
      info,
      this.resolution,
      (bar) => {
        if (this.guid === guid) this.onLiveBar(fromLibraryBar(bar));
      },
      guid,
      () => {
        if (this.guid === guid) void this.reload();
      },
    );
    this.setConnection(this.datafeed.connectionState(guid) ?? 'connecting');
  }

  private stopStream(): void {
    if (this.guid !== undefined) this.datafeed.unsubscribeBars(this.guid);
    this.guid = undefined;
  }

  private onLiveBar(bar: WireBar): void {
    if (this.store.applyTick(bar) === 'stale') return;
    this.candles.update(this.candle(bar));
    this.volume.update(this.volumeBar(bar));
    const closes = this.store.lastCloses(200);
    for (const line of this.lines.values()) {
      if (!line.visible || line.points.length === 0) continue;
      const point = livePoint(line.definition, line.points, closes, bar.time, bar.close);
      if (!point) continue;
      const last = line.points[line.points.length - 1];
      if (last && last.time === point.time) line.points[line.points.length - 1] = point;
      else line.points.push(point);
      line.series.update({ time: asTime(point.time), value: point.value });
    }
    this.ticks += 1;
    if (this.connection !== 'live') this.setConnection('live');
    this.hooks.onLastBar(bar, this.symbolInfo);
    this.hooks.onChange(this.snapshot());
  }

  private onVisibleRangeChange(range: LogicalRange | null): void {
    if (!range || this.loading || this.loadingOlder || this.historyExhausted || this.store.length === 0) return;
    if (range.from < LOAD_MORE_WITHIN_BARS) void this.loadOlder();
  }

  private async loadOlder(): Promise<void> {
    const info = this.symbolInfo;
    const first = this.store.first;
    if (!info || !first) return;
    const generation = this.generation;
    this.loadingOlder = true;
    try {
      const page = await this.fetchPage(info, first.time, OLDER_PAGE_BARS, false);
      if (generation !== this.generation) return;
      const added = this.store.prepend(page.bars);
      // Nothing older than what we hold: stop asking, whatever the server says.
      if (page.exhausted || added === 0) this.historyExhausted = true;
      if (added > 0) {
        this.renderBars();
        const newFirst = this.store.first as WireBar;
        await Promise.all([
          ...[...this.lines.values()].filter((line) => line.visible).map((line) => this.loadLine(line, newFirst.time, first.time)),
          this.loadMarks(),
        ]);
      }
      this.olderLoads += 1;
      this.hooks.onChange(this.snapshot());
    } catch (error) {
      console.warn(`candleflow: loading older bars failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      if (generation === this.generation) this.loadingOlder = false;
    }
  }

  /** Fetches a line's server values for `[from, to)` and merges them in. */
  private async loadLine(line: LineState, from: number, to: number): Promise<void> {
    const generation = this.generation;
    try {
      const points = await this.datafeed.client.indicator({
        symbol: this.symbol,
        resolution: this.resolution,
        kind: line.definition.kind,
        period: line.definition.period,
        from,
        to,
      });
      if (generation !== this.generation) return;
      line.points = mergePoints(line.points, points);
      line.series.setData(line.points.map((point) => ({ time: asTime(point.time), value: point.value }) satisfies LineData));
    } catch (error) {
      console.warn(`candleflow: ${line.definition.id} unavailable: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private loadMarks(): Promise<void> {
    const info = this.symbolInfo;
    const first = this.store.first;
    const last = this.store.last;
    if (!info || !first || !last) return Promise.resolve();
    const generation = this.generation;
    return new Promise((resolve) => {
      this.datafeed.getMarks(
        info,
        first.time,
        last.time + resolutionSeconds(this.resolution),
        (marks) => {
          if (generation === this.generation) {
            this.marks = marks;
            this.renderMarkers();
          }
          resolve();
        },
        this.resolution,
      );
    });
  }

  private renderAll(): void {
    this.renderBars();
    for (const line of this.lines.values()) line.series.setData([]);
    this.renderMarkers();
  }

  private renderBars(): void {
    this.candles.setData(this.store.bars.map((bar) => this.candle(bar)));
    this.volume.setData(this.store.bars.map((bar) => this.volumeBar(bar)));
  }

  /** Crossover marks as series markers, each pinned to the bar it falls in. */
  private renderMarkers(): void {
    const markers: SeriesMarker<Time>[] = [];
    for (const mark of this.marks) {
      const time = this.store.barTimeAtOrBefore(mark.time);
      if (time === undefined) continue;
      const direction = markDirection(mark);
      markers.push({
        time: asTime(time),
        position: direction === 'up' ? 'belowBar' : 'aboveBar',
        shape: direction === 'up' ? 'arrowUp' : direction === 'down' ? 'arrowDown' : 'circle',
        color: direction === 'up' ? this.palette.markUp : direction === 'down' ? this.palette.markDown : this.palette.markOther,
        text: mark.label || mark.text,
        id: String(mark.id),
      });
    }
    markers.sort((a, b) => (a.time as number) - (b.time as number));
    this.markers.setMarkers(markers);
  }

  private candle(bar: WireBar): CandlestickData<Time> {
    return { time: asTime(bar.time), open: bar.open, high: bar.high, low: bar.low, close: bar.close };
  }

  private volumeBar(bar: WireBar): HistogramData<Time> {
    return {
      time: asTime(bar.time),
      value: bar.volume,
      color: bar.close >= bar.open ? this.palette.volumeUp : this.palette.volumeDown,
    };
  }

  private applyPalette(): void {
    const palette = this.palette;
    this.chart.applyOptions({
      layout: { background: { type: ColorType.Solid, color: palette.background }, textColor: palette.text },
      grid: { vertLines: { color: palette.grid }, horzLines: { color: palette.grid } },
      rightPriceScale: { borderColor: palette.border },
      timeScale: { borderColor: palette.border },
    });
    this.candles.applyOptions({
      upColor: palette.up,
      downColor: palette.down,
      borderUpColor: palette.up,
      borderDownColor: palette.down,
      wickUpColor: palette.up,
      wickDownColor: palette.down,
    });
  }

  private setConnection(state: ConnectionState | 'loading'): void {
    this.connection = state;
    this.hooks.onConnection(state);
  }
}

/** Up for a bullish crossover (green), down for a bearish one (red), neutral otherwise. */
export function markDirection(mark: Pick<Mark, 'color' | 'text' | 'label'>): 'up' | 'down' | 'neutral' {
  const color = typeof mark.color === 'string' ? mark.color : (mark.color as MarkCustomColor).background;
  const text = `${mark.label} ${mark.text}`.toLowerCase();
  if (color === 'green' || /golden|bull|cross(es)? above|\bup\b|buy/.test(text)) return 'up';
  if (color === 'red' || /death|bear|cross(es)? below|\bdown\b|sell/.test(text)) return 'down';
  return 'neutral';
}
