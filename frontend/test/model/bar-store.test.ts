import { describe, expect, it } from 'vitest';
import { BarStore } from '../../src/model/bar-store';
import type { WireBar } from '../../src/wire/answers';

const bar = (time: number, close = 100): WireBar => ({ time, open: 100, high: 101, low: 99, close, volume: 1 });

describe('BarStore', () => {
  it('replaces the newest bar, appends newer ones and ignores older ones', () => {
    const store = new BarStore();
    store.reset([bar(60), bar(120)]);
    expect(store.applyTick(bar(120, 105))).toBe('update');
    expect(store.applyTick(bar(180, 106))).toBe('append');
    expect(store.applyTick(bar(60, 1))).toBe('stale');
    expect(store.bars.map((b) => [b.time, b.close])).toEqual([
      [60, 100],
      [120, 105],
      [180, 106],
    ]);
  });

  it('prepends only bars older than the first one', () => {
    const store = new BarStore();
    store.reset([bar(300), bar(360)]);
    expect(store.prepend([bar(180), bar(240), bar(300)])).toBe(2);
    expect(store.bars.map((b) => b.time)).toEqual([180, 240, 300, 360]);
    expect(store.prepend([bar(400)])).toBe(0);
  });

  it('pins a time to the bar it falls in', () => {
    const store = new BarStore();
    store.reset([bar(60), bar(120), bar(180)]);
    expect(store.barTimeAtOrBefore(150)).toBe(120);
    expect(store.barTimeAtOrBefore(180)).toBe(180);
    expect(store.barTimeAtOrBefore(10)).toBeUndefined();
    expect(store.lastCloses(2)).toEqual([100, 100]);
  });

  it('corrects an older bar in place, inserts one missing in between, ignores one before the history', () => {
    const store = new BarStore();
    store.reset([bar(60), bar(120), bar(240)]);
    expect(store.applyCorrection(bar(120, 90))).toBe('replaced');
    expect(store.applyCorrection(bar(180, 91))).toBe('inserted');
    expect(store.applyCorrection(bar(0, 92))).toBe('before');
    expect(store.bars.map((b) => [b.time, b.close])).toEqual([
      [60, 100],
      [120, 90],
      [180, 91],
      [240, 100],
    ]);
  });
});
