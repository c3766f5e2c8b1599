/**
 * Typed client for the worker's UDF endpoints (`/udf/*`) and indicators (`/api/*`).
 *
 * Speaks the wire format (unix seconds, column tables) and returns plain objects;
 * turning them into what TradingView's library wants is `datafeed.ts`'s job.
 */
import {
  configAnswer,
  functionsAnswer,
  historyAnswer,
  indicatorAnswer,
  marksAnswer,
  quotesAnswer,
  searchAnswer,
  symbolAnswer,
  timeAnswer,
  timescaleMarksAnswer,
  type CandleflowMark,
  type FunctionEntry,
  type HistoryAnswer,
  type IndicatorPoint,
  type SymbolAnswer,
} from './answers';
import { buildUrl, type FetchLike } from './transport';
import type { DatafeedConfiguration, QuoteData, SearchSymbolResultItem, TimescaleMark } from './tv-types';
import { isJsonObject, type Validator } from './validate';

export interface HistoryQuery {
  symbol: string;
  resolution: string;
  from: number;
  /** Exclusive. */
  to: number;
  countback?: number;
}

export interface IndicatorQuery extends HistoryQuery {
  /** A registered function's name (`sma`, `ema`, `rsi`, ...). */
  kind: string;
  period: number;
  /** Every parameter of the function (sent instead of `period` when given). */
  params?: Record<string, number>;
  /** A line of a multi-line function. */
  output?: string;
}

export type ReplayAction = 'pause' | 'resume' | 'speed' | 'step' | 'jump';

export interface RangeQuery {
  symbol: string;
  resolution: string;
  from: number;
  to: number;
}

/** An answer the server marked as an error (`{s:"error", errmsg}`) or an unusable reply. */
export class UdfError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'UdfError';
  }
}

export interface UdfClientOptions {
  /** Where the UDF endpoints live: `/udf` on the same origin, or `http://host:6066/udf`. */
  udfUrl?: string;
  /** Where `/indicators` lives. */
  apiUrl?: string;
  fetch: FetchLike;
}

/** `body` checked by `validator`, or a `UdfError` naming the endpoint and what is wrong. */
function checked<T>(validator: Validator<T>, body: unknown, endpoint: string): T {
  const result = validator(body, '');
  if (!result.ok) throw new UdfError(`malformed answer from ${endpoint}: ${result.error}`);
  return result.value;
}

export class UdfClient {
  private readonly udfUrl: string;
  private readonly apiUrl: string;
  private readonly fetch: FetchLike;

  constructor(options: UdfClientOptions) {
    this.udfUrl = options.udfUrl ?? '/udf';
    this.apiUrl = options.apiUrl ?? '/api';
    this.fetch = options.fetch;
  }

  /** The multiplexed SSE URL (`/udf/streams`) for `subs` and `quotes`, resuming after `lastEventId`. */
  streamsUrl(subs: readonly string[], lastEventId?: string, quotes: readonly string[] = []): string {
    const query = new URLSearchParams();
    for (const sub of subs) query.append('sub', sub);
    for (const symbol of quotes) query.append('quote', symbol);
    if (lastEventId !== undefined) query.set('last_event_id', lastEventId);
    const text = query.toString();
    return `${buildUrl(this.udfUrl, 'streams')}${text ? `?${text}` : ''}`;
  }

  /** Adds or removes subs and quotes of an open multiplexed stream; rejects with `UdfError` (404: stream gone). */
  async streamControl(
    stream: string,
    action: 'subscribe' | 'unsubscribe',
    subs: readonly string[],
    quotes: readonly string[] = [],
  ): Promise<void> {
    const query = new URLSearchParams();
    for (const sub of subs) query.append('sub', sub);
    for (const symbol of quotes) query.append('quote', symbol);
    await this.get(
      `${buildUrl(this.udfUrl, `streams/${encodeURIComponent(stream)}/${action}`)}?${query.toString()}`,
      'POST',
    );
  }

  /** The Bar Replay SSE URL (`/udf/replay`) of `series` (`[symbol, resolution]`, the first one required). */
  replayUrl(series: readonly (readonly [string, string])[], from: number, speed: string, paused: boolean): string {
    const [first, ...more] = series;
    if (first === undefined) throw new UdfError('a replay needs a series');
    const query = new URLSearchParams({ symbol: first[0], resolution: first[1], from: String(from), speed });
    if (paused) query.set('paused', 'true');
    for (const [symbol, resolution] of more) query.append('sub', `${symbol}|${resolution}`);
    return `${buildUrl(this.udfUrl, 'replay')}?${query.toString()}`;
  }

  /** A control of a running replay (`pause`, `resume`, `speed`, `step`, `jump`); rejects with `UdfError`. */
  async replayControl(
    replay: string,
    action: ReplayAction,
    params: Record<string, string | number> = {},
  ): Promise<void> {
    await this.get(buildUrl(this.udfUrl, `replay/${encodeURIComponent(replay)}/${action}`, params), 'POST');
  }

  async config(): Promise<DatafeedConfiguration> {
    return checked(configAnswer, await this.get(buildUrl(this.udfUrl, 'config')), '/config');
  }

  async symbol(symbol: string): Promise<SymbolAnswer> {
    return checked(symbolAnswer, await this.get(buildUrl(this.udfUrl, 'symbols', { symbol })), '/symbols');
  }

  async search(query: string, type = '', exchange = '', limit = 30): Promise<SearchSymbolResultItem[]> {
    const body = await this.get(buildUrl(this.udfUrl, 'search', { query, type, exchange, limit }));
    return checked(searchAnswer, body, '/search');
  }

  async history(query: HistoryQuery): Promise<HistoryAnswer> {
    return checked(historyAnswer, await this.get(buildUrl(this.udfUrl, 'history', { ...query })), '/history');
  }

  async indicator(query: IndicatorQuery): Promise<IndicatorPoint[]> {
    const { params, period, ...rest } = query;
    const body = await this.get(buildUrl(this.apiUrl, 'indicators', { ...rest, ...(params ?? { period }) }));
    return checked(indicatorAnswer, body, '/indicators');
  }

  /** The indicators and signals the worker computes (`/api/functions`). */
  async functions(): Promise<FunctionEntry[]> {
    return checked(functionsAnswer, await this.get(buildUrl(this.apiUrl, 'functions')), '/functions');
  }

  async time(): Promise<number> {
    return checked(timeAnswer, await this.get(buildUrl(this.udfUrl, 'time')), '/time');
  }

  async quotes(symbols: readonly string[]): Promise<QuoteData[]> {
    const body = await this.get(buildUrl(this.udfUrl, 'quotes', { symbols: symbols.join(',') }));
    return checked(quotesAnswer, body, '/quotes');
  }

  async marks(query: RangeQuery): Promise<CandleflowMark[]> {
    return checked(marksAnswer, await this.get(buildUrl(this.udfUrl, 'marks', { ...query })), '/marks');
  }

  async timescaleMarks(query: RangeQuery): Promise<TimescaleMark[]> {
    const body = await this.get(buildUrl(this.udfUrl, 'timescale_marks', { ...query }));
    return checked(timescaleMarksAnswer, body, '/timescale_marks');
  }

  /** GETs JSON; an HTTP error or `{s:"error"}` becomes a `UdfError` carrying `errmsg`. */
  private async get(url: string, method: 'GET' | 'POST' = 'GET'): Promise<unknown> {
    let response;
    try {
      response = await this.fetch(url, method === 'GET' ? undefined : { method });
    } catch (error) {
      throw new UdfError(`cannot reach ${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new UdfError(`${url} answered HTTP ${response.status} without JSON`, response.status);
    }
    if (isJsonObject(body) && body.s === 'error') {
      throw new UdfError(typeof body.errmsg === 'string' ? body.errmsg : 'error', response.status);
    }
    if (!response.ok) throw new UdfError(`${url} answered HTTP ${response.status}`, response.status);
    return body;
  }
}
