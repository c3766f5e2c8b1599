import { describe, expect, it } from 'vitest';
import { LiveBars } from '../../src/chart/live-bars';
import type { WireBar } from '../../src/wire/answers';
import { BTC, FakeWorker, SYMBOL_INFO } from './fake-worker';

const INFO = SYMBOL_INFO;

function bar(time: number, close: number) {
  return { symbol: BTC, resolution: '1', time, open: close, high: close, low: close, close, volume: 3 };
}

describe('LiveBars', () => {
  it('delivers bars of the current subscription in seconds', () => {
    const worker = new FakeWorker([]);
    const received: WireBar[] = [];
    const live = new LiveBars(worker.datafeed);
    expect(
      live.start(INFO, '1', 1, {
        onBar: (wire) => received.push(wire),
        onCorrection: () => undefined,
        onReset: () => undefined,
      }),
    ).toBe('connecting');
    worker.sources.last.open();
    worker.sources.last.emit('bar', bar(120, 7));
    expect(received).toEqual([{ time: 120, open: 7, high: 7, low: 7, close: 7, volume: 3 }]);
    expect(live.owns(`${BTC}|1|1`)).toBe(true);
  });

  it('on restart drops the old series: its bars and resets no longer reach the chart', () => {
    const worker = new FakeWorker([]);
    const received: number[] = [];
    let resets = 0;
    const listener = {
      onBar: (wire: WireBar) => received.push(wire.time),
      onCorrection: () => undefined,
      onReset: () => (resets += 1),
    };
    const live = new LiveBars(worker.datafeed);
    live.start(INFO, '1', 1, listener);
    worker.sources.last.open();
    live.start(INFO, '5', 2, listener);
    expect(live.owns(`${BTC}|1|1`)).toBe(false);
    expect(worker.sources.open).toHaveLength(1);
    const stream = worker.sources.last;
    stream.emit('bar', bar(60, 1));
    stream.emit('reset', { symbol: BTC, resolution: '1' });
    stream.emit('bar', { ...bar(300, 2), resolution: '5' });
    stream.emit('reset', { symbol: BTC, resolution: '5' });
    expect(received).toEqual([300]);
    expect(resets).toBe(1);

    live.stop();
    expect(worker.sources.open).toEqual([]);
  });
});
