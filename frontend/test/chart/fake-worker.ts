/**
 * A worker's answers for one symbol, served through `FakeServer`: bars every
 * minute at the given times, SMA/EMA points at the same times, marks, and the
 * SSE streams the datafeed opens. The chart tests drive a real `CandleflowDatafeed`
 * against it.
 */
import { CandleflowDatafeed } from '../../src/datafeed/datafeed';
import type { ConnectionState } from '../../src/datafeed/streaming';
import type { LibrarySymbolInfo } from '../../src/wire/tv-types';
import { FakeEventSources, FakeServer, FakeTimers } from '../fakes';

export const BTC = 'Coinbase:BTC/USD';

export const SYMBOL_INFO: LibrarySymbolInfo = {
  name: 'BTC/USD',
  ticker: BTC,
  full_name: BTC,
  description: 'Bitcoin / US Dollar',
  type: 'crypto',
  exchange: 'Coinbase',
  listed_exchange: 'Coinbase',
  session: '24x7',
  timezone: 'Etc/UTC',
  format: 'price',
  minmov: 1,
  pricescale: 100,
};

export interface WorkerMark {
  time: number;
  color: string;
  label: string;
  kind?: string;
}

/** Bars at `times` (close = time / 60), answered with the UDF rules: `from <= t < to`, newest `countback`. */
export class FakeWorker {
  readonly server = new FakeServer();
  readonly sources = new FakeEventSources();
  readonly timers = new FakeTimers();
  readonly datafeed: CandleflowDatafeed;
  times: number[];
  marks: WorkerMark[] = [];
  /** Receives the datafeed's connection changes (main.ts hands them to `ChartApp.handleConnection`). */
  onConnectionState: ((guid: string, state: ConnectionState) => void) | undefined;
  /** Answer `/udf/symbols` with an error body this many more times. */
  symbolFailures = 0;

  /** The query of every `/api/indicators` request, in order. */
  readonly indicatorQueries: URLSearchParams[] = [];

  constructor(times: number[]) {
    this.times = times;
    this.server
      .on('/udf/symbols', (params) => {
        if (this.symbolFailures > 0) {
          this.symbolFailures -= 1;
          return { s: 'error', errmsg: 'database unavailable' };
        }
        return params.get('symbol') === BTC ? SYMBOL_INFO : { s: 'error', errmsg: 'unknown_symbol' };
      })
      .on('/udf/history', (params) => this.history(params))
      .on('/api/indicators', (params) => {
        this.indicatorQueries.push(params);
        const times = this.inRange(params);
        return times.length === 0 ? { s: 'no_data' } : { s: 'ok', t: times, v: times.map((time) => time / 60 - 0.5) };
      })
      .on('/udf/marks', (params) => {
        const from = Number(params.get('from'));
        const to = Number(params.get('to'));
        const found = this.marks.filter((mark) => mark.time >= from && mark.time <= to);
        return {
          id: found.map((mark) => mark.time),
          time: found.map((mark) => mark.time),
          color: found.map((mark) => mark.color),
          text: found.map((mark) => `${mark.label} at ${mark.time}`),
          label: found.map((mark) => mark.label),
          labelFontColor: found.map(() => 'white'),
          minSize: found.map(() => 14),
          // A worker without the `kind` column (or another UDF server) sends none.
          ...(found.some((mark) => mark.kind !== undefined)
            ? { kind: found.map((mark) => mark.kind ?? 'signal') }
            : {}),
        };
      });
    this.datafeed = new CandleflowDatafeed({
      fetch: this.server.fetch,
      eventSource: this.sources.factory,
      timers: this.timers,
      random: () => 0.5,
      onConnectionState: (guid, state) => this.onConnectionState?.(guid, state),
    });
  }

  private inRange(params: URLSearchParams): number[] {
    const from = Number(params.get('from'));
    const to = Number(params.get('to'));
    const countback = Number(params.get('countback') ?? '0');
    const inside = this.times.filter((time) => time >= from && time < to);
    const before = this.times.filter((time) => time < to);
    return countback > 0 && before.length > inside.length ? before.slice(-countback) : inside;
  }

  private history(params: URLSearchParams): unknown {
    const times = this.inRange(params);
    if (times.length === 0) {
      const to = Number(params.get('to'));
      const older = this.times.filter((time) => time < to);
      const nextTime = older[older.length - 1];
      return nextTime === undefined ? { s: 'no_data' } : { s: 'no_data', nextTime };
    }
    return {
      s: 'ok',
      t: times,
      o: times.map((time) => time / 60),
      h: times.map((time) => time / 60 + 1),
      l: times.map((time) => time / 60 - 1),
      c: times.map((time) => time / 60),
      v: times.map(() => 2),
    };
  }
}

/** `count` one-minute bar times ending at `last`. */
export function minutes(last: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => last - (count - 1 - i) * 60);
}
