/**
 * The bars one chart shows, in seconds, ascending and unique: history as it is
 * loaded (newest first, then older pages as the user scrolls back) and live bars
 * from the stream. Pure, so the merge rules are unit-tested without a chart.
 */
import type { WireBar } from '../wire/answers';

/** What a live bar did to the series; `stale` ones (older than the newest) are ignored. */
export type TickOutcome = 'update' | 'append' | 'stale';

/**
 * What a corrected older bar did: `replaced` one in place, `inserted` a bar the store
 * lacked between two it holds (a late tick in an empty bucket), or nothing because it
 * is `before` the loaded history (scrolling back loads it fresh).
 */
export type CorrectionOutcome = 'replaced' | 'inserted' | 'before';

export class BarStore {
  private items: WireBar[] = [];

  get bars(): readonly WireBar[] {
    return this.items;
  }

  get first(): WireBar | undefined {
    return this.items[0];
  }

  get last(): WireBar | undefined {
    return this.items[this.items.length - 1];
  }

  get length(): number {
    return this.items.length;
  }

  /** Replaces everything with a fresh history answer. */
  reset(bars: readonly WireBar[]): void {
    this.items = [...bars];
  }

  /** Adds an older page; only bars before the current first bar are kept. Returns how many were added. */
  prepend(older: readonly WireBar[]): number {
    const first = this.first;
    const kept = first === undefined ? [...older] : older.filter((bar) => bar.time < first.time);
    this.items = [...kept, ...this.items];
    return kept.length;
  }

  /** Applies a live bar: replaces the newest bar with the same time, or appends a newer one. */
  applyTick(bar: WireBar): TickOutcome {
    const last = this.last;
    if (last && bar.time < last.time) return 'stale';
    if (last?.time === bar.time) {
      this.items[this.items.length - 1] = bar;
      return 'update';
    }
    this.items.push(bar);
    return 'append';
  }

  /** Applies a corrected bar older than the newest one (see `CorrectionOutcome`). */
  applyCorrection(bar: WireBar): CorrectionOutcome {
    const first = this.first;
    if (first === undefined || bar.time < first.time) return 'before';
    const index = this.insertionPoint(bar.time);
    if (this.items[index]?.time === bar.time) {
      this.items[index] = bar;
      return 'replaced';
    }
    this.items.splice(index, 0, bar);
    return 'inserted';
  }

  /** Index of the first bar at or after `time`. */
  private insertionPoint(time: number): number {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.items[mid]?.time ?? Infinity) < time) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The closes of the `count` bars ending at the newest one (fewer if history is shorter). */
  lastCloses(count: number): number[] {
    return this.items.slice(Math.max(0, this.items.length - count)).map((bar) => bar.close);
  }

  /** The time of the newest bar at or before `time`, to pin a mark on a bar. */
  barTimeAtOrBefore(time: number): number | undefined {
    let low = 0;
    let high = this.items.length - 1;
    let found: number | undefined;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const barTime = this.items[mid]?.time ?? Infinity;
      if (barTime <= time) {
        found = barTime;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }
}
