/**
 * One chart's load lifecycle: candles, volume, moving averages and marks for one
 * symbol and resolution, read through `HistorySource` and `LiveBars` and drawn by
 * a `ChartView`.
 *
 * Realtime pattern: `showBars(history)` once per load, then `updateBar(bar)` for
 * each live bar. Older history is fetched when the view scrolls near the left
 * edge. Every load bumps `generation`; an answer that arrives for an older
 * generation (the user switched symbol or resolution meanwhile) is dropped.
 */
import { BarStore } from '../model/bar-store';
import { IndicatorLines } from '../model/indicator-lines';
import type { MovingAverageLine } from '../model/indicators';
import { placeMarks } from '../model/marks';
import { priceFormatOf } from '../model/price-format';
import { parseResolution, resolutionName, resolutionSeconds } from '../model/resolution';
import type { ConnectionState } from '../datafeed/streaming';
import { browserTimers, type Timers } from '../wire/transport';
import type { LibrarySymbolInfo } from '../wire/tv-types';
import { UNKNOWN_SYMBOL, type CandleflowMark, type WireBar } from '../wire/answers';
import type { ChartView } from './chart-view';
import { HistorySource, type HistoryDatafeed } from './history-source';
import { LiveBars, type LiveDatafeed } from './live-bars';
import type { Theme } from './theme';

/** Bars asked for when a chart opens, and per page when scrolling back. */
export const INITIAL_BARS = 300;
export const OLDER_PAGE_BARS = 300;
/** Fetch an older page once fewer than this many bars are left of the view. */
export const LOAD_MORE_WITHIN_BARS = 30;
export const RETRY_LOAD_MS = 3_000;

export type ChartDatafeed = HistoryDatafeed & LiveDatafeed;

/** `idle`: the server answered, but there is nothing to stream (an unknown symbol). */
export type ChartConnection = ConnectionState | 'loading' | 'idle';

export interface ChartAppHooks {
  /** Connection of the live stream; `loading` while history loads. */
  onConnection(state: ChartConnection): void;
  /** After every change to the newest bar. */
  onLastBar(bar: WireBar | undefined, symbolInfo: LibrarySymbolInfo | undefined): void;
  /** A message for the user, or undefined to clear it. */
  onStatus(message: string | undefined): void;
  /** After anything in `snapshot()` changed: a load, a page of older bars, a live bar. */
  onChange(snapshot: ChartSnapshot): void;
  /** The server does not know `symbol` (after `onStatus` said so): a page may offer others. */
  onUnknownSymbol?(symbol: string): void;
}

/** What the debug hook and tests read. Times in seconds. */
export interface ChartSnapshot {
  symbol: string;
  resolution: string;
  connection: ChartConnection;
  loading: boolean;
  loadingOlder: boolean;
  historyExhausted: boolean;
  loads: number;
  olderLoads: number;
  ticks: number;
  corrections: number;
  bars: number;
}

export interface ChartAppOptions {
  timers?: Timers;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ChartApp {
  readonly store = new BarStore();
  readonly lines = new IndicatorLines();
  private readonly history: HistorySource;
  private readonly live: LiveBars;
  private readonly timers: Timers;
  private readonly now: () => number;
  private marks: CandleflowMark[] = [];
  private marksVisible = true;
  private symbolInfo: LibrarySymbolInfo | undefined;
  private generation = 0;
  private retryTimer: unknown;
  /** Lines and marks whose last fetch failed, with why: in the state line until a retry works. */
  private readonly failures = new Map<string, string>();

  symbol = '';
  resolution = '1';
  connection: ChartConnection = 'loading';
  loading = false;
  loadingOlder = false;
  historyExhausted = false;
  /** Completed full loads (open, resolution switch, reset). */
  loads = 0;
  /** Completed scroll-back pages. */
  olderLoads = 0;
  /** Live bars applied since the page opened. */
  ticks = 0;
  /** Corrections of older bars received (applied in place, or before the loaded history). */
  corrections = 0;
  /** Set while something else (a replay) draws on the view: no live bars, loads or redraws. */
  detached = false;

  constructor(
    private readonly view: ChartView,
    datafeed: ChartDatafeed,
    private readonly hooks: ChartAppHooks,
    options: ChartAppOptions = {},
  ) {
    this.history = new HistorySource(datafeed);
    this.live = new LiveBars(datafeed);
    this.timers = options.timers ?? browserTimers;
    this.now = options.now ?? Date.now;
    view.onScroll((firstVisibleLogical) => {
      this.onScroll(firstVisibleLogical);
    });
  }

  /** Opens a chart; resolves false when a newer `open` superseded it or it failed. */
  async open(symbol: string, resolution: string): Promise<boolean> {
    const generation = ++this.generation;
    this.timers.clearTimeout(this.retryTimer);
    this.live.stop();
    this.detached = false;
    this.symbol = symbol;
    this.resolution = resolution;
    this.loading = true;
    this.historyExhausted = false;
    this.store.reset([]);
    this.marks = [];
    this.symbolInfo = undefined;
    this.lines.clear();
    this.failures.clear();
    this.view.showBars([]);
    // Nothing of the previous chart stays on screen: legend, last price and title follow.
    this.hooks.onLastBar(undefined, undefined);
    for (const line of this.lines.definitions) this.view.showLine(line.id, []);
    this.showMarks();
    this.setConnection('loading');
    this.hooks.onChange(this.snapshot());
    this.view.setTimeAxis(parseResolution(resolution).unit);
    try {
      const info = await this.history.resolve(symbol);
      if (generation !== this.generation) return false;
      this.symbolInfo = info;
      this.view.setPriceFormat(priceFormatOf(info));

      const to = Math.floor(this.now() / 1000) + resolutionSeconds(resolution);
      const page = await this.history.page(info, resolution, to, INITIAL_BARS, true);
      if (generation !== this.generation) return false;
      this.store.reset(page.bars);
      this.historyExhausted = page.exhausted;
      this.view.showBars(this.store.bars);
      this.view.frame(this.store.length);
      this.hooks.onLastBar(this.store.last, info);
      this.hooks.onStatus(
        page.bars.length === 0
          ? `no bars for ${symbol} at ${resolutionName(resolution)} yet: they appear with its next trade`
          : undefined,
      );

      const first = this.store.first;
      if (first) {
        await this.loadLinesAndMarks(first.time, to);
        if (generation !== this.generation) return false;
      }
      this.startLive(info, generation);
      this.loading = false;
      this.loads += 1;
      this.hooks.onChange(this.snapshot());
      return true;
    } catch (error) {
      if (generation !== this.generation) return false;
      this.loading = false;
      this.hooks.onChange(this.snapshot());
      const text = message(error);
      if (text === UNKNOWN_SYMBOL) {
        // The server answered: it is reachable, there is just nothing to stream.
        this.setConnection('idle');
        this.hooks.onStatus(`unknown symbol ${symbol}: this server has no trades of it`);
        this.hooks.onUnknownSymbol?.(symbol);
        return false;
      }
      this.setConnection('offline');
      this.hooks.onStatus(`cannot load ${symbol}: ${text}; retrying`);
      this.retryTimer = this.timers.setTimeout(() => void this.open(symbol, resolution), RETRY_LOAD_MS);
      return false;
    }
  }

  /** Reloads the current chart, e.g. after `onResetCacheNeeded`. */
  reload(): Promise<boolean> {
    return this.open(this.symbol, this.resolution);
  }

  /** Hands the view to someone else (a replay) until the next `open`/`reload`: stops the
   * live stream and drops every answer still in flight. */
  detach(): void {
    this.generation += 1;
    this.timers.clearTimeout(this.retryTimer);
    this.live.stop();
    this.detached = true;
    this.loading = false;
    this.loadingOlder = false;
  }

  /** The symbol info of the open chart (undefined before it resolved). */
  get info(): LibrarySymbolInfo | undefined {
    return this.symbolInfo;
  }

  setTheme(theme: Theme): void {
    this.view.setTheme(theme);
    if (this.detached) return;
    this.view.showBars(this.store.bars);
    this.showMarks();
  }

  /** Adds an indicator line (e.g. from the server's catalogue) to the model and the view. */
  addLine(line: MovingAverageLine): void {
    if (this.lines.add(line)) this.view.addLine(line);
  }

  setLineVisible(id: string, visible: boolean): void {
    if (!this.lines.setVisible(id, visible)) return;
    this.view.setLineVisible(id, visible);
    if (this.detached) return;
    const line = this.lines.definitions.find((candidate) => candidate.id === id);
    const first = this.store.first;
    const last = this.store.last;
    if (visible && line && first && last) {
      void this.loadLine(line, first.time, last.time + resolutionSeconds(this.resolution));
    }
  }

  lineVisible(id: string): boolean {
    return this.lines.isVisible(id);
  }

  /** Shows or hides the signal marks (crossovers and the functions' marks); they stay loaded. */
  setMarksVisible(visible: boolean): void {
    if (this.marksVisible === visible) return;
    this.marksVisible = visible;
    this.showMarks();
  }

  get marksShown(): boolean {
    return this.marksVisible;
  }

  /** Connection updates from the datafeed, for every subscription; only ours counts. */
  handleConnection(guid: string, state: ConnectionState): void {
    if (this.live.owns(guid) && !this.loading) this.setConnection(state);
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
      corrections: this.corrections,
      bars: this.store.length,
    };
  }

  /** Scrolls the view `bars` bars into the past (negative: towards now). */
  scrollBack(bars: number): void {
    this.view.scrollBack(bars);
  }

  private startLive(info: LibrarySymbolInfo, generation: number): void {
    const state = this.live.start(info, this.resolution, generation, {
      onBar: (bar) => {
        this.onLiveBar(bar);
      },
      onCorrection: (bar) => {
        this.onCorrection(bar);
      },
      onReset: () => void this.reload(),
    });
    this.setConnection(state);
  }

  private onLiveBar(bar: WireBar): void {
    if (this.store.applyTick(bar) === 'stale') return;
    this.view.updateBar(bar);
    for (const { id, point } of this.lines.applyLiveBar(this.store.lastCloses(200), bar.time, bar.close)) {
      this.view.updateLine(id, point);
    }
    this.ticks += 1;
    if (this.connection !== 'live') this.setConnection('live');
    this.hooks.onLastBar(bar, this.symbolInfo);
    this.hooks.onChange(this.snapshot());
  }

  /**
   * A late tick changed an older bar: update it in place (v5 `update(bar, true)`); a bar
   * new to a gap cannot be updated, so the store's bars are redrawn — never refetched.
   */
  private onCorrection(bar: WireBar): void {
    if (this.loading) return; // the load in flight reads the corrected bar from the database
    const outcome = this.store.applyCorrection(bar);
    if (outcome === 'replaced') this.view.updateHistoricalBar(bar);
    else if (outcome === 'inserted') this.view.showBars(this.store.bars);
    this.corrections += 1;
    this.hooks.onChange(this.snapshot());
  }

  private onScroll(firstVisibleLogical: number): void {
    if (this.detached || this.loading || this.loadingOlder || this.historyExhausted || this.store.length === 0) return;
    if (firstVisibleLogical < LOAD_MORE_WITHIN_BARS) void this.loadOlder();
  }

  private async loadOlder(): Promise<void> {
    const info = this.symbolInfo;
    const first = this.store.first;
    if (!info || !first) return;
    const generation = this.generation;
    this.loadingOlder = true;
    try {
      const page = await this.history.page(info, this.resolution, first.time, OLDER_PAGE_BARS, false);
      if (generation !== this.generation) return;
      const added = this.store.prepend(page.bars);
      // Nothing older than what we hold: stop asking, whatever the server says.
      if (page.exhausted || added === 0) this.historyExhausted = true;
      if (added > 0) {
        this.view.showBars(this.store.bars);
        await this.loadLinesAndMarks(page.bars[0]?.time ?? first.time, first.time);
      }
      this.olderLoads += 1;
      this.hooks.onChange(this.snapshot());
    } catch (error) {
      console.warn(`candleflow: loading older bars failed: ${message(error)}`);
    } finally {
      if (generation === this.generation) this.loadingOlder = false;
    }
  }

  /** Visible lines for `[from, to)` and the marks of every bar held. */
  private async loadLinesAndMarks(from: number, to: number): Promise<void> {
    await Promise.all([
      ...this.lines.visibleDefinitions().map((line) => this.loadLine(line, from, to)),
      this.loadMarks(),
    ]);
  }

  /** Fetches a line's server values for `[from, to)` and merges them in. */
  private async loadLine(line: MovingAverageLine, from: number, to: number): Promise<void> {
    const generation = this.generation;
    const query = {
      symbol: this.symbol,
      resolution: this.resolution,
      kind: line.kind,
      period: line.period,
      ...(line.params ? { params: line.params } : {}),
      ...(line.output ? { output: line.output } : {}),
      from,
      to,
    };
    try {
      const points = await this.history.line(query);
      if (generation !== this.generation) return;
      this.view.showLine(line.id, this.lines.merge(line.id, points));
      this.seriesLoaded(line.id);
    } catch (error) {
      this.seriesFailed(line.id, error, generation, () => this.loadLine(line, from, to));
    }
  }

  private async loadMarks(): Promise<void> {
    const first = this.store.first;
    const last = this.store.last;
    if (!first || !last) return;
    const generation = this.generation;
    const to = last.time + resolutionSeconds(this.resolution);
    try {
      const marks = await this.history.marks({
        symbol: this.symbol,
        resolution: this.resolution,
        from: first.time,
        to,
      });
      if (generation !== this.generation) return;
      this.marks = marks;
      this.showMarks();
      this.seriesLoaded('marks');
    } catch (error) {
      this.seriesFailed('marks', error, generation, () => this.loadMarks());
    }
  }

  /** A line or the marks could not be fetched: say so and try again, never drop it silently. */
  private seriesFailed(name: string, error: unknown, generation: number, retry: () => Promise<void>): void {
    if (generation !== this.generation) return;
    this.failures.set(name, message(error));
    this.showFailures();
    this.timers.setTimeout(() => {
      if (generation === this.generation) void retry();
    }, RETRY_LOAD_MS);
  }

  private seriesLoaded(name: string): void {
    if (this.failures.delete(name)) this.showFailures();
  }

  private showFailures(): void {
    const parts = [...this.failures].map(([name, why]) => `${name} unavailable (${why})`);
    this.hooks.onStatus(parts.length > 0 ? `${parts.join('; ')}; retrying` : undefined);
  }

  private showMarks(): void {
    const marks = this.marksVisible ? this.marks : [];
    this.view.showMarks(placeMarks(marks, (time) => this.store.barTimeAtOrBefore(time)));
  }

  private setConnection(state: ChartConnection): void {
    this.connection = state;
    this.hooks.onConnection(state);
  }
}
