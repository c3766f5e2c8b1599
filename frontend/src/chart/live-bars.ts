/**
 * The chart's one live subscription. Each `start` gets a fresh listener guid, so
 * bars, resets and connection changes still in flight for an older subscription
 * (another symbol, resolution or load) are recognised and dropped.
 */
import type { ConnectionState } from '../datafeed/streaming';
import type { Bar, LibrarySymbolInfo, TradingViewDatafeed } from '../wire/tv-types';
import type { WireBar } from '../wire/answers';
import { fromLibraryBar } from './history-source';

/** The part of `CandleflowDatafeed` the live subscription uses. */
export interface LiveDatafeed extends Pick<TradingViewDatafeed, 'unsubscribeBars'> {
  /** TradingView's `subscribeBars`, plus our `onCorrection` for bars older than the newest. */
  subscribeBars(
    ...args: [...Parameters<TradingViewDatafeed['subscribeBars']>, onCorrection?: (bar: Bar) => void]
  ): void;
  connectionState(listenerGuid: string): ConnectionState | undefined;
}

export interface LiveListener {
  onBar(bar: WireBar): void;
  /** An older bar changed (a late tick): apply it in place. */
  onCorrection(bar: WireBar): void;
  /** The server cannot tell what changed: reload. */
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
      (bar) => {
        if (this.guid === guid) listener.onCorrection(fromLibraryBar(bar));
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
