/**
 * The chart's one live subscription. Each `start` gets a fresh listener guid, so
 * bars, resets and connection changes still in flight for an older subscription
 * (another symbol, resolution or load) are recognised and dropped.
 */
import type { ConnectionState } from '../datafeed/streaming';
import type { LibrarySymbolInfo, TradingViewDatafeed } from '../wire/tv-types';
import type { WireBar } from '../wire/udf-client';
import { fromLibraryBar } from './history-source';

/** The part of `CandleflowDatafeed` the live subscription uses. */
export interface LiveDatafeed extends Pick<TradingViewDatafeed, 'subscribeBars' | 'unsubscribeBars'> {
  connectionState(listenerGuid: string): ConnectionState | undefined;
}

export interface LiveListener {
  onBar(bar: WireBar): void;
  /** The server announced a correction, or the stream reconnected: reload. */
  onReset(): void;
}

export class LiveBars {
  private guid: string | undefined;

  constructor(private readonly datafeed: LiveDatafeed) {}

  /** Replaces any current subscription; returns the new one's connection state. */
  start(info: LibrarySymbolInfo, resolution: string, generation: number, listener: LiveListener): ConnectionState {
    this.stop();
    const guid = `${info.ticker ?? info.full_name}|${resolution}|${String(generation)}`;
    this.guid = guid;
    this.datafeed.subscribeBars(
      info,
      resolution,
      (bar) => {
        if (this.guid === guid) listener.onBar(fromLibraryBar(bar));
      },
      guid,
      () => {
        if (this.guid === guid) listener.onReset();
      },
    );
    return this.datafeed.connectionState(guid) ?? 'connecting';
  }

  stop(): void {
    if (this.guid !== undefined) this.datafeed.unsubscribeBars(this.guid);
    this.guid = undefined;
  }

  /** True when `guid` is the current subscription's. */
  owns(guid: string): boolean {
    return guid === this.guid;
  }
}
