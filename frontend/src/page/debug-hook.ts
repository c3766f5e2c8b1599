/**
 * `window.__candleflow`: a read-mostly view of the chart for end-to-end tests
 * and curious users. Times are unix seconds (the wire format), not the
 * milliseconds TradingView's library uses.
 */
import type { SeriesMarker, Time } from 'lightweight-charts';
import type { ChartApp, ChartSnapshot } from '../chart/chart-app';
import type { ChartView } from '../chart/chart-view';
import type { Theme } from '../chart/theme';
import type { CandleflowDatafeed } from '../datafeed/datafeed';
import type { LineSnapshot } from '../model/indicator-lines';
import type { CandleflowMark, WireBar } from '../wire/answers';
import type { ReplayChart, ReplayState } from '../chart/replay-chart';
import type { QuoteData } from '../wire/tv-types';
import type { WatchlistPanel } from './watchlist-panel';

/** The chart in Bar Replay, read through the hook. */
export interface ReplayDebug {
  state(): ReplayState;
  /** Every bar the replay chart holds (the history before the start and the replayed ones). */
  bars(): WireBar[];
  /** Times of the `bar` events applied, in order. */
  barTimes(): number[];
  lines(): Record<string, LineSnapshot>;
  marks(): CandleflowMark[];
}

export interface WatchlistDebug {
  symbols(): string[];
  quotes(): Record<string, QuoteData>;
}

export interface CandleflowDebugHook {
  readonly symbol: string;
  readonly resolution: string;
  /** `connecting` | `live` | `reconnecting` | `offline`, as shown by `#conn`. */
  readonly state: string;
  readonly theme: Theme;
  bars(): WireBar[];
  lastBar(): WireBar | undefined;
  /** Moving-average lines by id (`sma20`, `ema200`, ...). */
  lines(): Record<string, LineSnapshot>;
  markers(): SeriesMarker<Time>[];
  /** Panes of the chart (1: price only; functions such as RSI add their own). */
  panes(): number;
  /** The logical range shown (bar 0 is the oldest held) and the bar spacing in pixels. */
  visibleRange(): { from: number; to: number; barSpacing: number } | undefined;
  /** Whether signal marks are drawn (the toolbar's marks switch). */
  marksShown(): boolean;
  snapshot(): ChartSnapshot;
  /** Resolves once no full load is in flight. */
  ready(): Promise<void>;
  setSymbol(symbol: string): Promise<boolean>;
  setResolution(resolution: string): Promise<boolean>;
  /** Scrolls `bars` bars into the past, which triggers loading older history near the edge. */
  scrollBack(bars: number): void;
  readonly app: ChartApp;
  readonly datafeed: CandleflowDatafeed;
  readonly replay?: ReplayDebug;
  readonly watchlist?: WatchlistDebug;
}

export interface DebugHookSources {
  app: ChartApp;
  view: ChartView;
  datafeed: CandleflowDatafeed;
  theme(): Theme;
  state(): string;
  currentLoad(): Promise<unknown>;
  navigate(symbol: string, resolution: string): Promise<boolean>;
  replay?: ReplayChart;
  watchlist?: WatchlistPanel;
}

function replayDebug(replay: ReplayChart): ReplayDebug {
  return {
    state: () => ({ ...replay.state }),
    bars: () => replay.store.bars.map((bar) => ({ ...bar })),
    barTimes: () => [...replay.barTimes],
    lines: () => replay.lines.snapshot(),
    marks: () => replay.marks.map((mark) => ({ ...mark })),
  };
}

function watchlistDebug(panel: WatchlistPanel): WatchlistDebug {
  return { symbols: () => [...panel.symbols()], quotes: () => panel.quotes() };
}

export function createDebugHook(sources: DebugHookSources): CandleflowDebugHook {
  const { app, view, datafeed } = sources;
  return {
    get symbol() {
      return app.symbol;
    },
    get resolution() {
      return app.resolution;
    },
    get state() {
      return sources.state();
    },
    get theme() {
      return sources.theme();
    },
    bars: () => app.store.bars.map((bar) => ({ ...bar })),
    lastBar: () => {
      const last = app.store.last;
      return last && { ...last };
    },
    lines: () => app.lines.snapshot(),
    markers: () => view.markers(),
    panes: () => view.paneCount(),
    visibleRange: () => view.visibleRange(),
    marksShown: () => app.marksShown,
    snapshot: () => app.snapshot(),
    ready: async () => {
      // A load can start another (reset, retry): wait until one settles with nothing newer.
      for (let round = 0; round < 50; round += 1) {
        await sources.currentLoad();
        if (!app.loading) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    setSymbol: (symbol) => sources.navigate(symbol, app.resolution),
    setResolution: (resolution) => sources.navigate(app.symbol, resolution),
    scrollBack: (bars) => app.scrollBack(bars),
    app,
    datafeed,
    ...(sources.replay ? { replay: replayDebug(sources.replay) } : {}),
    ...(sources.watchlist ? { watchlist: watchlistDebug(sources.watchlist) } : {}),
  };
}

declare global {
  interface Window {
    __candleflow?: CandleflowDebugHook;
  }
}
