/**
 * The shape of every JSON answer the front end reads: UDF (`/udf/*`), indicators
 * (`/api/indicators`) and the SSE events (`bar`, `correction`, `hello`, `subscribed`,
 * `reset`). `udf-client.ts` and `streaming.ts` run these at the edge, so nothing past
 * them handles unchecked data.
 *
 * Lenient only where the protocol is: optional fields may be missing, `nextTime`
 * may be in milliseconds, indicator values may be null before the period fills.
 */
import type {
  DatafeedConfiguration,
  LibrarySymbolInfo,
  Mark,
  QuoteData,
  SearchSymbolResultItem,
  TimescaleMark,
} from './tv-types';
import {
  arrayOf,
  boolean,
  either,
  finiteNumber,
  invalid,
  isJsonObject,
  object,
  oneOf,
  optional,
  string,
  valid,
  withDefault,
  type Checked,
  type Validator,
} from './validate';

/** The `errmsg` (and the Datafeed API's error text) of a symbol the server does not know. */
export const UNKNOWN_SYMBOL = 'unknown_symbol';

/** A bar on the wire: `time` in seconds (bucket start, UTC). */
export interface WireBar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export type HistoryAnswer =
  | { status: 'ok'; bars: WireBar[] }
  /** `nextTime` (seconds) is the newest bar before the requested range, when one exists. */
  | { status: 'no_data'; nextTime?: number };

export interface IndicatorPoint {
  time: number;
  value: number;
}

/** One registered function of `/api/functions`. */
export interface FunctionEntry {
  key: string;
  name: string;
  type: 'indicator' | 'signal';
  summary: string;
  values: Record<string, number>;
  outputs: string[];
  state: string[];
  pane: 'price' | 'own';
}

/** A UDF mark with candleflow's extra `kind` (`golden_cross`, `death_cross`, ...), when the server sends one. */
export interface CandleflowMark extends Mark {
  kind?: string;
}

/** The payload of an SSE `bar` event. */
export interface StreamBar extends WireBar {
  symbol: string;
  resolution: string;
  trades?: number;
}

const strings = arrayOf(string);
const numbers = arrayOf(finiteNumber);

/**
 * `nextTime` in seconds. TradingView's own example serves it in milliseconds while
 * everything else is seconds, so a value too large to be seconds (after year 5138)
 * is taken as milliseconds.
 */
export function nextTimeSeconds(value: number): number {
  return value > 1e11 ? Math.floor(value / 1000) : value;
}

export const configAnswer: Validator<DatafeedConfiguration> = object({
  supported_resolutions: optional(strings),
  exchanges: optional(arrayOf(object({ value: string, name: string, desc: withDefault(string, '') }))),
  symbols_types: optional(arrayOf(object({ name: string, value: string }))),
  supports_marks: optional(boolean),
  supports_timescale_marks: optional(boolean),
  supports_time: optional(boolean),
  supports_search: optional(boolean),
  supports_group_request: optional(boolean),
});

/** What `/symbols` must hold; the datafeed fills in the rest of `LibrarySymbolInfo`. */
export type SymbolAnswer = Partial<LibrarySymbolInfo> & Pick<LibrarySymbolInfo, 'name'>;

export const symbolAnswer: Validator<SymbolAnswer> = object({
  name: string,
  ticker: optional(string),
  full_name: optional(string),
  description: optional(string),
  type: optional(string),
  exchange: optional(string),
  listed_exchange: optional(string),
  session: optional(string),
  timezone: optional(string),
  format: optional(oneOf('price', 'volume')),
  minmov: optional(finiteNumber),
  pricescale: optional(finiteNumber),
  has_intraday: optional(boolean),
  has_seconds: optional(boolean),
  seconds_multipliers: optional(strings),
  intraday_multipliers: optional(strings),
  has_daily: optional(boolean),
  daily_multipliers: optional(strings),
  has_weekly_and_monthly: optional(boolean),
  weekly_multipliers: optional(strings),
  monthly_multipliers: optional(strings),
  has_empty_bars: optional(boolean),
  supported_resolutions: optional(strings),
  volume_precision: optional(finiteNumber),
  visible_plots_set: optional(oneOf('ohlc', 'ohlcv', 'c')),
  data_status: optional(oneOf('streaming', 'endofday', 'delayed_streaming')),
  currency_code: optional(string),
});

export const searchAnswer: Validator<SearchSymbolResultItem[]> = arrayOf(
  object({
    symbol: string,
    full_name: string,
    description: withDefault(string, ''),
    exchange: withDefault(string, ''),
    ticker: optional(string),
    type: withDefault(string, ''),
  }),
);

/** Columns `t o h l c` (and `v`, else volume 0) of equal length, or `no_data`. */
export const historyAnswer: Validator<HistoryAnswer> = (value, path) => {
  const status = object({ s: oneOf('ok', 'no_data'), nextTime: optional(finiteNumber) })(value, path);
  if (!status.ok) return status;
  if (status.value.s === 'no_data') {
    const nextTime = status.value.nextTime;
    return valid(
      nextTime === undefined ? { status: 'no_data' } : { status: 'no_data', nextTime: nextTimeSeconds(nextTime) },
    );
  }
  const columns = object({ t: numbers, o: numbers, h: numbers, l: numbers, c: numbers, v: optional(numbers) })(
    value,
    path,
  );
  if (!columns.ok) return columns;
  const { t, o, h, l, c, v = [] } = columns.value;
  const lengths = [t, o, h, l, c].map((values) => values.length);
  if (lengths.some((length) => length !== t.length)) {
    return { ok: false, error: `columns t o h l c differ in length (${lengths.join(', ')})` };
  }
  const bars: WireBar[] = [];
  for (const [i, time] of t.entries()) {
    const [open = NaN, high = NaN, low = NaN, close = NaN] = [o[i], h[i], l[i], c[i]];
    bars.push({ time, open, high, low, close, volume: v[i] ?? 0 });
  }
  return valid({ status: 'ok', bars });
};

/** Points of a line; a null value (fewer bars than the period so far) is no point. */
export const indicatorAnswer: Validator<IndicatorPoint[]> = (value, path) => {
  const status = object({ s: oneOf('ok', 'no_data') })(value, path);
  if (!status.ok) return status;
  if (status.value.s === 'no_data') return valid([]);
  const columns = object({ t: numbers, v: arrayOf(optional(finiteNumber)) })(value, path);
  if (!columns.ok) return columns;
  const { t, v } = columns.value;
  if (t.length !== v.length) return { ok: false, error: `columns t v differ in length (${t.length}, ${v.length})` };
  return valid(t.flatMap((time, i) => (v[i] === undefined ? [] : [{ time, value: v[i] }])));
};

const parameterValues: Validator<Record<string, number>> = (value, path) => {
  if (!isJsonObject(value)) return invalid(path, 'an object of numbers', value);
  const values: Record<string, number> = {};
  for (const [name, item] of Object.entries(value)) {
    const checked = finiteNumber(item, `${path}.${name}`);
    if (!checked.ok) return checked;
    values[name] = checked.value;
  }
  return valid(values);
};

const functionEntry: Validator<FunctionEntry> = (value, path) => {
  const checked = object({
    key: string,
    name: string,
    type: oneOf('indicator', 'signal'),
    summary: withDefault(string, ''),
    values: parameterValues,
    outputs: withDefault(arrayOf(string), []),
    state: withDefault(arrayOf(string), []),
    pane: withDefault(oneOf('price', 'own'), 'price'),
  })(value, path);
  return checked;
};

/** The catalogue of `/api/functions`. */
export const functionsAnswer: Validator<FunctionEntry[]> = (value, path) => {
  const checked = object({ s: oneOf('ok'), functions: arrayOf(functionEntry) })(value, path);
  return checked.ok ? valid(checked.value.functions) : checked;
};

/** Server time in seconds: a number, or a number as text (TradingView's example). */
export const timeAnswer: Validator<number> = (value, path) =>
  typeof value === 'string' && value.trim() !== '' ? finiteNumber(Number(value), path) : finiteNumber(value, path);

const quoteValues = object({
  ch: optional(finiteNumber),
  chp: optional(finiteNumber),
  short_name: optional(string),
  exchange: optional(string),
  description: optional(string),
  lp: optional(finiteNumber),
  ask: optional(finiteNumber),
  bid: optional(finiteNumber),
  open_price: optional(finiteNumber),
  high_price: optional(finiteNumber),
  low_price: optional(finiteNumber),
  prev_close_price: optional(finiteNumber),
  volume: optional(finiteNumber),
});

const quoteData = object({ s: oneOf('ok', 'error'), n: string, v: withDefault(quoteValues, {}) });

export const quotesAnswer: Validator<QuoteData[]> = (value, path) => {
  const checked = object({ s: oneOf('ok'), d: arrayOf(quoteData) })(value, path);
  return checked.ok ? valid(checked.value.d) : checked;
};

/** An SSE `quote` event's data (an item of `/udf/quotes`), parsed from its JSON text. */
export function quoteItem(data: string): Checked<QuoteData> {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  return quoteData(value, '');
}

const markId = either(string, finiteNumber, 'a string or a number');

const markColor = either(
  oneOf('red', 'green', 'blue', 'yellow'),
  object({ border: string, background: string }),
  '"red", "green", "blue", "yellow" or {border, background}',
);

const markObject = object({
  id: markId,
  time: finiteNumber,
  color: withDefault(markColor, 'blue'),
  text: withDefault(string, ''),
  label: withDefault(string, ''),
  labelFontColor: withDefault(string, 'white'),
  minSize: withDefault(finiteNumber, 14),
  kind: optional(string),
});

const MARK_COLUMNS = ['id', 'time', 'color', 'text', 'label', 'labelFontColor', 'minSize', 'kind'] as const;

/**
 * Marks as UDF serves them: a column table (`id`, `time`, `color`, ...; a missing
 * column other than `id` and `time` takes its default), an array of mark objects,
 * or `{s: "no_data"}`. candleflow adds a `kind` column; other servers may not.
 */
export const marksAnswer: Validator<CandleflowMark[]> = (value, path) => {
  if (Array.isArray(value)) return arrayOf(markObject)(value, path);
  if (!isJsonObject(value)) return invalid(path, 'a column table or an array of marks', value);
  if (value.s === 'no_data') return valid([]);
  const ids = value.id;
  if (!Array.isArray(ids)) return invalid('id', 'a column of mark ids', ids);
  for (const key of MARK_COLUMNS) {
    const values = value[key];
    if (values !== undefined && !(Array.isArray(values) && values.length === ids.length)) {
      return invalid(key, `a column of ${ids.length} values, as many as "id"`, values);
    }
  }
  const rows = ids.map((_, i) =>
    Object.fromEntries(
      MARK_COLUMNS.map((key) => {
        const values = value[key];
        return [key, Array.isArray(values) ? values[i] : undefined];
      }),
    ),
  );
  return arrayOf(markObject)(rows, path);
};

export const timescaleMarksAnswer: Validator<TimescaleMark[]> = arrayOf(
  object({
    id: markId,
    time: finiteNumber,
    color: string,
    label: withDefault(string, ''),
    tooltip: withDefault(strings, []),
    shape: optional(oneOf('circle', 'earningUp', 'earningDown', 'earning')),
  }),
);

/** An SSE event's data checked by `validator`, parsed from its JSON text. */
function streamEvent<T>(validator: Validator<T>): (data: string) => Checked<T> {
  return (data) => {
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return { ok: false, error: 'not JSON' };
    }
    return validator(value, '');
  };
}

/** An SSE `bar` (or `correction`) event's data. */
export const streamBarEvent = streamEvent<StreamBar>(
  object({
    symbol: withDefault(string, ''),
    resolution: withDefault(string, ''),
    time: finiteNumber,
    open: finiteNumber,
    high: finiteNumber,
    low: finiteNumber,
    close: finiteNumber,
    volume: withDefault(finiteNumber, 0),
    trades: optional(finiteNumber),
  }),
);

/** The `hello` event that opens a multiplexed stream: its id, for the subscribe POSTs. */
export const streamHelloEvent = streamEvent<{ stream: string }>(object({ stream: string }));

/** A `subscribed` event: the sub as asked, and the series its events name. */
export const streamSubscribedEvent = streamEvent<{ sub: string; symbol: string; resolution: string }>(
  object({ sub: string, symbol: string, resolution: string }),
);

/** A `reset` event: the series whose history must be refetched. */
export const streamResetEvent = streamEvent<{ symbol: string; resolution: string }>(
  object({ symbol: string, resolution: string }),
);
