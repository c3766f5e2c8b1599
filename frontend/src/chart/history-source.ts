/**
 * What the chart reads from the datafeed, as promises: symbol info, pages of bars
 * (walking over gaps in the history), moving-average lines and marks. Bars come
 * back in wire units (seconds), whatever the Datafeed API's milliseconds.
 */
import { resolutionSeconds } from '../model/resolution';
import type { Bar, HistoryMetadata, LibrarySymbolInfo, Mark, TradingViewDatafeed } from '../wire/tv-types';
import type { IndicatorPoint, IndicatorQuery, WireBar } from '../wire/udf-client';

/** Gaps (`nextTime`) followed per page before giving up for this request. */
export const MAX_GAP_HOPS = 3;

/** The part of `CandleflowDatafeed` history loading uses. */
export interface HistoryDatafeed extends Pick<TradingViewDatafeed, 'resolveSymbol' | 'getBars' | 'getMarks'> {
  readonly client: { indicator(query: IndicatorQuery): Promise<IndicatorPoint[]> };
}

export interface HistoryPage {
  bars: WireBar[];
  /** Nothing older than this page exists. */
  exhausted: boolean;
}

/** Library bar (milliseconds) → wire bar (seconds). */
export function fromLibraryBar(bar: Bar): WireBar {
  return {
    time: Math.round(bar.time / 1000),
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume ?? 0,
  };
}

export class HistorySource {
  constructor(private readonly datafeed: HistoryDatafeed) {}

  /** Rejects with `Error('unknown_symbol')` for a symbol the server does not know. */
  resolve(symbol: string): Promise<LibrarySymbolInfo> {
    return new Promise((resolve, reject) => {
      this.datafeed.resolveSymbol(symbol, resolve, (reason) => {
        reject(new Error(reason));
      });
    });
  }

  /**
   * Up to `countBack` bars before `to`. An empty answer with `nextTime` is a gap:
   * ask again ending just after `nextTime` (`to` is exclusive). Empty without
   * `nextTime` means nothing older exists.
   */
  async page(
    info: LibrarySymbolInfo,
    resolution: string,
    to: number,
    countBack: number,
    firstDataRequest: boolean,
  ): Promise<HistoryPage> {
    const span = countBack * resolutionSeconds(resolution);
    let end = to;
    for (let hop = 0; hop <= MAX_GAP_HOPS; hop += 1) {
      const { bars, meta } = await this.bars(info, resolution, end - span, end, countBack, firstDataRequest);
      if (bars.length > 0) return { bars: bars.map(fromLibraryBar), exhausted: false };
      const nextTime = meta.nextTime;
      if (nextTime === undefined || nextTime === null || nextTime >= end) return { bars: [], exhausted: true };
      end = nextTime + 1;
    }
    return { bars: [], exhausted: false };
  }

  /** A line's server values for `[from, to)`. */
  line(query: IndicatorQuery): Promise<IndicatorPoint[]> {
    return this.datafeed.client.indicator(query);
  }

  /** Marks with `from <= time <= to`; none when the server cannot answer. */
  marks(info: LibrarySymbolInfo, resolution: string, from: number, to: number): Promise<Mark[]> {
    return new Promise((resolve) => {
      this.datafeed.getMarks(info, from, to, resolve, resolution);
    });
  }

  private bars(
    info: LibrarySymbolInfo,
    resolution: string,
    from: number,
    to: number,
    countBack: number,
    firstDataRequest: boolean,
  ): Promise<{ bars: Bar[]; meta: HistoryMetadata }> {
    return new Promise((resolve, reject) => {
      this.datafeed.getBars(
        info,
        resolution,
        { from, to, countBack, firstDataRequest },
        (bars, meta) => {
          resolve({ bars, meta });
        },
        (reason) => {
          reject(new Error(reason));
        },
      );
    });
  }
}
