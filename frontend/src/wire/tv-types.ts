/**
 * The subset of TradingView's Datafeed API types that candleflow implements.
 *
 * Written from TradingView's public documentation ("Datafeed API") so that the
 * project never depends on the licensed Charting Library. Field names follow the
 * library exactly: the same objects are handed to it by tv.html.
 */

/** A resolution string as TradingView spells it: `1S`, `1`, `60`, `1D`, `1W`, `1M`. */
export type ResolutionString = string;

export interface Exchange {
  value: string;
  name: string;
  desc: string;
}

export interface DatafeedSymbolType {
  name: string;
  value: string;
}

export interface DatafeedConfiguration {
  supported_resolutions?: ResolutionString[];
  exchanges?: Exchange[];
  symbols_types?: DatafeedSymbolType[];
  supports_marks?: boolean;
  supports_timescale_marks?: boolean;
  supports_time?: boolean;
  supports_search?: boolean;
  supports_group_request?: boolean;
}

export interface LibrarySymbolInfo {
  name: string;
  ticker?: string;
  full_name: string;
  description: string;
  type: string;
  exchange: string;
  listed_exchange: string;
  session: string;
  timezone: string;
  format: 'price' | 'volume';
  minmov: number;
  pricescale: number;
  has_intraday?: boolean;
  has_seconds?: boolean;
  seconds_multipliers?: string[];
  intraday_multipliers?: string[];
  has_daily?: boolean;
  daily_multipliers?: string[];
  has_weekly_and_monthly?: boolean;
  supported_resolutions?: ResolutionString[];
  volume_precision?: number;
  visible_plots_set?: 'ohlc' | 'ohlcv' | 'c';
  data_status?: 'streaming' | 'endofday' | 'delayed_streaming';
}

export interface SearchSymbolResultItem {
  symbol: string;
  full_name: string;
  description: string;
  exchange: string;
  ticker?: string;
  type: string;
}

/** A bar as the library wants it: `time` in **milliseconds** since the epoch (UTC). */
export interface Bar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume?: number;
}

/** What the library asks `getBars` for. Times in seconds; `to` is exclusive. */
export interface PeriodParams {
  from: number;
  to: number;
  countBack: number;
  firstDataRequest: boolean;
}

export interface HistoryMetadata {
  noData?: boolean;
  /** Seconds: the newest bar before the requested range, to jump over a gap. */
  nextTime?: number | null;
}

export type MarkConstColors = 'red' | 'green' | 'blue' | 'yellow';

export interface MarkCustomColor {
  border: string;
  background: string;
}

export interface Mark {
  id: string | number;
  /** Seconds. */
  time: number;
  color: MarkConstColors | MarkCustomColor;
  text: string;
  label: string;
  labelFontColor: string;
  minSize: number;
}

export interface TimescaleMark {
  id: string | number;
  /** Seconds. */
  time: number;
  /** A `MarkConstColors` name or any CSS colour. */
  color: string;
  label: string;
  tooltip: string[];
  shape?: 'circle' | 'earningUp' | 'earningDown' | 'earning';
}

export interface QuoteValues {
  ch?: number;
  chp?: number;
  short_name?: string;
  exchange?: string;
  description?: string;
  lp?: number;
  ask?: number;
  bid?: number;
  open_price?: number;
  high_price?: number;
  low_price?: number;
  prev_close_price?: number;
  volume?: number;
}

export interface QuoteData {
  s: 'ok' | 'error';
  n: string;
  v: QuoteValues | Record<string, unknown>;
}

export type OnReadyCallback = (configuration: DatafeedConfiguration) => void;
export type SearchSymbolsCallback = (items: SearchSymbolResultItem[]) => void;
export type ResolveCallback = (symbolInfo: LibrarySymbolInfo) => void;
export type HistoryCallback = (bars: Bar[], meta: HistoryMetadata) => void;
export type SubscribeBarsCallback = (bar: Bar) => void;
export type ErrorCallback = (reason: string) => void;
export type ServerTimeCallback = (serverTime: number) => void;
export type QuotesCallback = (data: QuoteData[]) => void;
export type QuotesErrorCallback = (reason: string) => void;
export type GetMarksCallback<T> = (marks: T[]) => void;

/** `IBasicDataFeed & IDatafeedQuotesApi`, as far as candleflow implements them. */
export interface TradingViewDatafeed {
  onReady(callback: OnReadyCallback): void;
  searchSymbols(userInput: string, exchange: string, symbolType: string, onResult: SearchSymbolsCallback): void;
  resolveSymbol(symbolName: string, onResolve: ResolveCallback, onError: ErrorCallback): void;
  getBars(
    symbolInfo: LibrarySymbolInfo,
    resolution: ResolutionString,
    periodParams: PeriodParams,
    onResult: HistoryCallback,
    onError: ErrorCallback,
  ): void;
  subscribeBars(
    symbolInfo: LibrarySymbolInfo,
    resolution: ResolutionString,
    onTick: SubscribeBarsCallback,
    listenerGuid: string,
    onResetCacheNeeded: () => void,
  ): void;
  unsubscribeBars(listenerGuid: string): void;
  getServerTime(callback: ServerTimeCallback): void;
  getMarks(
    symbolInfo: LibrarySymbolInfo,
    from: number,
    to: number,
    onDataCallback: GetMarksCallback<Mark>,
    resolution: ResolutionString,
  ): void;
  getTimescaleMarks(
    symbolInfo: LibrarySymbolInfo,
    from: number,
    to: number,
    onDataCallback: GetMarksCallback<TimescaleMark>,
    resolution: ResolutionString,
  ): void;
  getQuotes(symbols: string[], onDataCallback: QuotesCallback, onErrorCallback: QuotesErrorCallback): void;
  subscribeQuotes(
    symbols: string[],
    fastSymbols: string[],
    onRealtimeCallback: QuotesCallback,
    listenerGuid: string,
  ): void;
  unsubscribeQuotes(listenerGuid: string): void;
}
