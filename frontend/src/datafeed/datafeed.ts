/**
 * candleflow's implementation of TradingView's Datafeed API.
 *
 * History, search and symbol info come from the UDF endpoints; live bars are
 * pushed over one SSE connection for all subscriptions (`streaming.ts`) instead
 * of the stock adapter's 10-second `/history` polling. The same object drives our
 * lightweight-charts app and, on tv.html, TradingView's Charting Library.
 *
 * Corrections (an older bar changed): a subscriber that can apply a bar in place
 * passes `onCorrection` (our chart does); the Charting Library cannot, so it gets
 * `onResetCacheNeeded` — at most once per subscription per `resetEveryMs`, so a
 * feed with many late ticks does not make it refetch on every one.
 *
 * Units: the library wants bar times in milliseconds, everything else (period
 * parameters, marks, server time, `nextTime`) in seconds.
 */
import { normalizeResolution, SUPPORTED_RESOLUTIONS } from '../model/resolution';
import { BarStreams, type BackoffPolicy, type ConnectionState } from './streaming';
import {
  browserEventSource,
  browserFetch,
  browserTimers,
  type EventSourceFactory,
  type FetchLike,
  type Timers,
} from '../wire/transport';
import type {
  Bar,
  DatafeedConfiguration,
  ErrorCallback,
  GetMarksCallback,
  HistoryCallback,
  LibrarySymbolInfo,
  Mark,
  OnReadyCallback,
  PeriodParams,
  QuoteData,
  QuotesCallback,
  QuotesErrorCallback,
  ResolutionString,
  ResolveCallback,
  SearchSymbolsCallback,
  ServerTimeCallback,
  SubscribeBarsCallback,
  TimescaleMark,
  TradingViewDatafeed,
} from '../wire/tv-types';
import { UNKNOWN_SYMBOL, type SymbolAnswer, type WireBar } from '../wire/answers';
import { UdfClient, UdfError } from '../wire/udf-client';

export interface CandleflowDatafeedOptions {
  /** Base of the UDF endpoints; `/udf` (same origin) by default. */
  udfUrl?: string;
  /** Base of `/indicators`; `/api` by default. */
  apiUrl?: string;
  fetch?: FetchLike;
  eventSource?: EventSourceFactory;
  timers?: Timers;
  random?: () => number;
  backoff?: Partial<BackoffPolicy>;
  /** Least time between two correction-driven `onResetCacheNeeded` of one subscription. */
  resetEveryMs?: number;
  /** Every connection state change of every bar subscription. */
  onConnectionState?: (listenerGuid: string, state: ConnectionState) => void;
  /**
   * Called after the library's own `onResetCacheNeeded`. The Charting Library only
   * drops its cache there; tv.html uses this hook to call `chart.resetData()`.
   */
  onResetCacheNeeded?: (listenerGuid: string) => void;
}

/** What we answer `onReady` with when `/udf/config` cannot be read. */
export const FALLBACK_CONFIGURATION: DatafeedConfiguration = {
  supported_resolutions: [...SUPPORTED_RESOLUTIONS],
  supports_search: true,
  supports_group_request: false,
  supports_marks: true,
  supports_timescale_marks: true,
  supports_time: true,
  exchanges: [],
  symbols_types: [{ name: 'crypto', value: 'crypto' }],
};

/** Fields the library needs that an older or foreign UDF server may leave out. */
const SYMBOL_DEFAULTS: Omit<LibrarySymbolInfo, 'name' | 'full_name' | 'description' | 'exchange' | 'listed_exchange'> =
  {
    type: 'crypto',
    session: '24x7',
    timezone: 'Etc/UTC',
    format: 'price',
    minmov: 1,
    pricescale: 100,
    has_intraday: true,
    has_seconds: true,
    seconds_multipliers: ['1'],
    intraday_multipliers: ['1', '5', '15', '30', '60', '240'],
    has_daily: true,
    daily_multipliers: ['1'],
    has_weekly_and_monthly: true,
    supported_resolutions: [...SUPPORTED_RESOLUTIONS],
    volume_precision: 8,
    visible_plots_set: 'ohlcv',
    data_status: 'streaming',
  };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Wire bar (seconds) → library bar (milliseconds). */
export function toLibraryBar(bar: WireBar): Bar {
  return { time: bar.time * 1000, open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume };
}

/**
 * Ascending, unique times (the last answer for a time wins), and strictly before
 * the exclusive `to`: a server that treats `to` as inclusive would otherwise hand
 * the library the same bar twice at the seam of two requests.
 */
export function cleanHistory(bars: readonly WireBar[], to: number): WireBar[] {
  const byTime = new Map<number, WireBar>();
  for (const bar of bars) if (bar.time < to) byTime.set(bar.time, bar);
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/** A `/symbols` answer completed with what the library needs; `ticker` falls back to `name`. */
export function toLibrarySymbolInfo(answer: SymbolAnswer): LibrarySymbolInfo {
  const ticker = answer.ticker ?? answer.name;
  const exchange = answer.exchange ?? '';
  return {
    ...SYMBOL_DEFAULTS,
    full_name: ticker,
    description: answer.name,
    exchange,
    listed_exchange: exchange,
    ...answer,
    ticker,
  };
}

/** The ticker to send to the server: the library keeps ours in `ticker`, falling back to `full_name`. */
function tickerOf(symbolInfo: LibrarySymbolInfo): string {
  return symbolInfo.ticker ?? symbolInfo.full_name;
}

export class CandleflowDatafeed implements TradingViewDatafeed {
  readonly client: UdfClient;
  private readonly streams: BarStreams;
  private readonly timers: Timers;
  private readonly resetEveryMs: number;
  /** Per subscription: the open coalescing window, and whether a reset is owed at its end. */
  private readonly resetWindows = new Map<string, { timer: unknown; owed: boolean }>();
  /** Newest bar of each series' first history request, so its stream starts no earlier. */
  private readonly lastHistoryBar = new Map<string, WireBar>();
  private configuration: Promise<DatafeedConfiguration> | undefined;

  constructor(private readonly options: CandleflowDatafeedOptions = {}) {
    this.client = new UdfClient({
      fetch: options.fetch ?? browserFetch,
      ...(options.udfUrl !== undefined ? { udfUrl: options.udfUrl } : {}),
      ...(options.apiUrl !== undefined ? { apiUrl: options.apiUrl } : {}),
    });
    this.timers = options.timers ?? browserTimers;
    this.resetEveryMs = options.resetEveryMs ?? 3_000;
    this.streams = new BarStreams({
      client: this.client,
      eventSource: options.eventSource ?? browserEventSource,
      timers: this.timers,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.onConnectionState ? { onStateChange: options.onConnectionState } : {}),
    });
  }

  onReady(callback: OnReadyCallback): void {
    this.configuration ??= this.client.config().catch((error: unknown) => {
      console.warn(`candleflow: /config unavailable (${message(error)}); using built-in defaults`);
      return FALLBACK_CONFIGURATION;
    });
    void this.configuration.then(callback);
  }

  searchSymbols(userInput: string, exchange: string, symbolType: string, onResult: SearchSymbolsCallback): void {
    this.client.search(userInput, symbolType, exchange, 30).then(onResult, (error: unknown) => {
      console.warn(`candleflow: search failed: ${message(error)}`);
      onResult([]);
    });
  }

  resolveSymbol(symbolName: string, onResolve: ResolveCallback, onError: ErrorCallback): void {
    this.client.symbol(symbolName).then(
      (answer) => {
        onResolve(toLibrarySymbolInfo(answer));
      },
      (error: unknown) => {
        const notFound = error instanceof UdfError && (error.status === 404 || error.message === UNKNOWN_SYMBOL);
        onError(notFound || !(error instanceof UdfError) ? UNKNOWN_SYMBOL : error.message);
      },
    );
  }

  getBars(
    symbolInfo: LibrarySymbolInfo,
    resolution: ResolutionString,
    periodParams: PeriodParams,
    onResult: HistoryCallback,
    onError: ErrorCallback,
  ): void {
    const { from, to, countBack, firstDataRequest } = periodParams;
    const symbol = tickerOf(symbolInfo);
    let canonical: string;
    try {
      canonical = normalizeResolution(resolution);
    } catch (error) {
      void Promise.resolve().then(() => onError(message(error)));
      return;
    }
    this.client
      .history({ symbol, resolution: canonical, from, to, ...(countBack > 0 ? { countback: countBack } : {}) })
      .then((result) => {
        if (result.status === 'no_data') {
          onResult([], result.nextTime === undefined ? { noData: true } : { noData: true, nextTime: result.nextTime });
          return;
        }
        const bars = cleanHistory(result.bars, to);
        const newest = bars[bars.length - 1];
        if (firstDataRequest && newest) this.lastHistoryBar.set(seriesKey(symbol, canonical), newest);
        onResult(bars.map(toLibraryBar), { noData: bars.length === 0 });
      })
      .catch((error: unknown) => onError(message(error)));
  }

  subscribeBars(
    symbolInfo: LibrarySymbolInfo,
    resolution: ResolutionString,
    onTick: SubscribeBarsCallback,
    listenerGuid: string,
    onResetCacheNeeded: () => void,
    onCorrection?: (bar: Bar) => void,
  ): void {
    const symbol = tickerOf(symbolInfo);
    const canonical = normalizeResolution(resolution);
    const key = seriesKey(symbol, canonical);
    const lastTime = this.lastHistoryBar.get(key)?.time;
    const reset = (): void => {
      this.lastHistoryBar.delete(key);
      onResetCacheNeeded();
      this.options.onResetCacheNeeded?.(listenerGuid);
    };
    this.streams.subscribe({
      guid: listenerGuid,
      symbol,
      resolution: canonical,
      ...(lastTime !== undefined ? { lastTime } : {}),
      onBar: (bar) => onTick(toLibraryBar(bar)),
      onCorrection: (bar) => {
        if (onCorrection) onCorrection(toLibraryBar(bar));
        else this.coalescedReset(listenerGuid, reset);
      },
      onReset: reset,
    });
  }

  unsubscribeBars(listenerGuid: string): void {
    this.streams.unsubscribe(listenerGuid);
    const window = this.resetWindows.get(listenerGuid);
    if (window) this.timers.clearTimeout(window.timer);
    this.resetWindows.delete(listenerGuid);
  }

  /** `reset` now, unless one ran within `resetEveryMs`: then once when that window ends. */
  private coalescedReset(guid: string, reset: () => void): void {
    const open = this.resetWindows.get(guid);
    if (open) {
      open.owed = true;
      return;
    }
    reset();
    const close = (): void => {
      const window = this.resetWindows.get(guid);
      this.resetWindows.delete(guid);
      if (window?.owed) this.coalescedReset(guid, reset);
    };
    this.resetWindows.set(guid, { timer: this.timers.setTimeout(close, this.resetEveryMs), owed: false });
  }

  getServerTime(callback: ServerTimeCallback): void {
    this.client.time().then(callback, (error: unknown) => console.warn(`candleflow: /time failed: ${message(error)}`));
  }

  getMarks(
    symbolInfo: LibrarySymbolInfo,
    from: number,
    to: number,
    onDataCallback: GetMarksCallback<Mark>,
    resolution: ResolutionString,
  ): void {
    const query = { symbol: tickerOf(symbolInfo), resolution: normalizeResolution(resolution), from, to };
    this.client.marks(query).then(onDataCallback, () => onDataCallback([]));
  }

  getTimescaleMarks(
    symbolInfo: LibrarySymbolInfo,
    from: number,
    to: number,
    onDataCallback: GetMarksCallback<TimescaleMark>,
    resolution: ResolutionString,
  ): void {
    const query = { symbol: tickerOf(symbolInfo), resolution: normalizeResolution(resolution), from, to };
    this.client.timescaleMarks(query).then(onDataCallback, () => onDataCallback([]));
  }

  getQuotes(symbols: string[], onDataCallback: QuotesCallback, onErrorCallback: QuotesErrorCallback): void {
    this.client.quotes(symbols).then(onDataCallback, (error: unknown) => onErrorCallback(message(error)));
  }

  /**
   * Quotes of both lists pushed on the page's one stream (`quote` events): the newest
   * known at once, then each as the server sends it (at most a few times a second per
   * symbol); `fastSymbols` get the same treatment, the server has no slower pace.
   */
  subscribeQuotes(
    symbols: string[],
    fastSymbols: string[],
    onRealtimeCallback: QuotesCallback,
    listenerGuid: string,
  ): void {
    this.unsubscribeQuotes(listenerGuid);
    const all = [...new Set([...symbols, ...fastSymbols])];
    if (all.length === 0) return;
    this.streams.subscribeQuotes({ guid: listenerGuid, symbols: all, onQuote: (quote) => onRealtimeCallback([quote]) });
  }

  unsubscribeQuotes(listenerGuid: string): void {
    this.streams.unsubscribeQuotes(listenerGuid);
  }

  /** The newest streamed quote of `symbol` (not part of TradingView's API). */
  streamedQuote(symbol: string): QuoteData | undefined {
    return this.streams.quotes.get(symbol);
  }

  /** Connection state of one bar subscription (not part of TradingView's API). */
  connectionState(listenerGuid: string): ConnectionState | undefined {
    return this.streams.state(listenerGuid);
  }

  /** Reconnects every stream waiting for its backoff timer, e.g. on the browser's `online` event. */
  reconnectNow(): void {
    this.streams.retryNow();
  }

  /** Closes every stream and poller. */
  /** Streams opened so far (one per page unless it reconnected; not part of TradingView's API). */
  streamsOpened(): number {
    return this.streams.opened;
  }

  destroy(): void {
    for (const guid of this.streams.guids()) this.unsubscribeBars(guid);
    this.streams.unsubscribeAll();
  }
}

function seriesKey(symbol: string, resolution: string): string {
  return `${symbol}|${resolution}`;
}
