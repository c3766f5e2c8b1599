/**
 * Typed client for the worker's UDF endpoints (`/udf/*`) and indicators (`/api/*`).
 *
 * Speaks the wire format (unix seconds, column tables) and returns plain objects;
 * turning them into what TradingView's library wants is `datafeed.ts`'s job.
 */
import { buildUrl, type FetchLike } from './transport';
import type {
  DatafeedConfiguration,
  LibrarySymbolInfo,
  Mark,
  QuoteData,
  SearchSymbolResultItem,
  TimescaleMark,
} from './tv-types';

/** A bar on the wire: `time` in seconds (bucket start, UTC). */
export interface WireBar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export type HistoryResult =
  | { status: 'ok'; bars: WireBar[] }
  /** `nextTime` (seconds) is the newest bar before the requested range, when one exists. */
  | { status: 'no_data'; nextTime?: number };

export interface HistoryQuery {
  symbol: string;
  resolution: string;
  from: number;
  /** Exclusive. */
  to: number;
  countback?: number;
}

export type IndicatorKind = 'sma' | 'ema';

export interface IndicatorQuery extends HistoryQuery {
  kind: IndicatorKind;
  period: number;
}

export interface IndicatorPoint {
  time: number;
  value: number;
}

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

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numbers(value: unknown, field: string): number[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'number' && Number.isFinite(item))) {
    throw new UdfError(`malformed answer: "${field}" is not an array of numbers`);
  }
  return value as number[];
}

function column<T>(table: Json, field: string, index: number, fallback: T): T {
  const values = table[field];
  return Array.isArray(values) && index < values.length ? (values[index] as T) : fallback;
}

/**
 * `nextTime` in seconds. TradingView's own example serves it in milliseconds while
 * everything else is seconds, so a value too large to be seconds (after year 5138)
 * is taken as milliseconds.
 */
export function nextTimeSeconds(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return value > 1e11 ? Math.floor(value / 1000) : value;
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

  /** The SSE URL for one series (`/udf/stream`, for clients that want one stream per series). */
  streamUrl(symbol: string, resolution: string): string {
    return buildUrl(this.udfUrl, 'stream', { symbol, resolution });
  }

  /** The multiplexed SSE URL (`/udf/streams`) for `subs`, resuming after `lastEventId`. */
  streamsUrl(subs: readonly string[], lastEventId?: string): string {
    const query = new URLSearchParams();
    for (const sub of subs) query.append('sub', sub);
    if (lastEventId !== undefined) query.set('last_event_id', lastEventId);
    const text = query.toString();
    return `${buildUrl(this.udfUrl, 'streams')}${text ? `?${text}` : ''}`;
  }

  /** Adds or removes subs of an open multiplexed stream; rejects with `UdfError` (404: stream gone). */
  async streamControl(stream: string, action: 'subscribe' | 'unsubscribe', subs: readonly string[]): Promise<void> {
    const query = new URLSearchParams();
    for (const sub of subs) query.append('sub', sub);
    await this.get(
      `${buildUrl(this.udfUrl, `streams/${encodeURIComponent(stream)}/${action}`)}?${query.toString()}`,
      'POST',
    );
  }

  async config(): Promise<DatafeedConfiguration> {
    const body = await this.get(buildUrl(this.udfUrl, 'config'));
    if (!isRecord(body)) throw new UdfError('malformed answer from /config');
    return body;
  }

  async symbol(symbol: string): Promise<LibrarySymbolInfo> {
    const body = await this.get(buildUrl(this.udfUrl, 'symbols', { symbol }));
    if (!isRecord(body) || typeof body.name !== 'string') throw new UdfError('unknown_symbol');
    return body as unknown as LibrarySymbolInfo;
  }

  async search(query: string, type = '', exchange = '', limit = 30): Promise<SearchSymbolResultItem[]> {
    const body = await this.get(buildUrl(this.udfUrl, 'search', { query, type, exchange, limit }));
    if (!Array.isArray(body)) throw new UdfError('malformed answer from /search');
    return body.filter(isRecord) as unknown as SearchSymbolResultItem[];
  }

  async history(query: HistoryQuery): Promise<HistoryResult> {
    const body = await this.get(buildUrl(this.udfUrl, 'history', { ...query }));
    if (!isRecord(body)) throw new UdfError('malformed answer from /history');
    if (body.s === 'no_data') {
      const nextTime = nextTimeSeconds(body.nextTime);
      return nextTime === undefined ? { status: 'no_data' } : { status: 'no_data', nextTime };
    }
    if (body.s !== 'ok') throw new UdfError(`unexpected status ${JSON.stringify(body.s)} from /history`);
    const t = numbers(body.t, 't');
    const o = numbers(body.o, 'o');
    const h = numbers(body.h, 'h');
    const l = numbers(body.l, 'l');
    const c = numbers(body.c, 'c');
    const v = body.v === undefined ? [] : numbers(body.v, 'v');
    if (![o, h, l, c].every((values) => values.length === t.length)) {
      throw new UdfError('malformed answer from /history: columns differ in length');
    }
    const bars = t.map((time, i) => ({
      time,
      open: o[i] ?? NaN,
      high: h[i] ?? NaN,
      low: l[i] ?? NaN,
      close: c[i] ?? NaN,
      volume: v[i] ?? 0,
    }));
    return { status: 'ok', bars };
  }

  async indicator(query: IndicatorQuery): Promise<IndicatorPoint[]> {
    const body = await this.get(buildUrl(this.apiUrl, 'indicators', { ...query }));
    if (!isRecord(body)) throw new UdfError('malformed answer from /indicators');
    if (body.s === 'no_data') return [];
    const t = numbers(body.t, 't');
    const v = body.v;
    if (!Array.isArray(v) || v.length !== t.length) throw new UdfError('malformed answer from /indicators');
    // Values may be null where the average is not defined yet (fewer bars than the period).
    return t.flatMap((time, i) => {
      const value: unknown = v[i];
      return typeof value === 'number' && Number.isFinite(value) ? [{ time, value }] : [];
    });
  }

  async time(): Promise<number> {
    const body = await this.get(buildUrl(this.udfUrl, 'time'));
    const seconds = typeof body === 'string' ? Number(body) : body;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) throw new UdfError('malformed answer from /time');
    return seconds;
  }

  async quotes(symbols: readonly string[]): Promise<QuoteData[]> {
    const body = await this.get(buildUrl(this.udfUrl, 'quotes', { symbols: symbols.join(',') }));
    if (!isRecord(body) || body.s !== 'ok' || !Array.isArray(body.d))
      throw new UdfError('malformed answer from /quotes');
    return body.d.filter(isRecord) as unknown as QuoteData[];
  }

  async marks(query: RangeQuery): Promise<Mark[]> {
    const body = await this.get(buildUrl(this.udfUrl, 'marks', { ...query }));
    // UDF allows an array of marks as well as the usual column table.
    if (Array.isArray(body)) return body.filter(isRecord) as unknown as Mark[];
    if (!isRecord(body) || !Array.isArray(body.id)) return [];
    return body.id.map((id: unknown, i) => ({
      id: id as Mark['id'],
      time: column(body, 'time', i, 0),
      color: column(body, 'color', i, 'blue'),
      text: column(body, 'text', i, ''),
      label: column(body, 'label', i, ''),
      labelFontColor: column(body, 'labelFontColor', i, 'white'),
      minSize: column(body, 'minSize', i, 14),
    }));
  }

  async timescaleMarks(query: RangeQuery): Promise<TimescaleMark[]> {
    const body = await this.get(buildUrl(this.udfUrl, 'timescale_marks', { ...query }));
    return Array.isArray(body) ? (body.filter(isRecord) as unknown as TimescaleMark[]) : [];
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
    if (isRecord(body) && body.s === 'error') {
      throw new UdfError(typeof body.errmsg === 'string' ? body.errmsg : 'error', response.status);
    }
    if (!response.ok) throw new UdfError(`${url} answered HTTP ${response.status}`, response.status);
    return body;
  }
}
