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
    expect(live.start(INFO, '1', 1, { onBar: (wire) => received.push(wire), onReset: () => undefined })).toBe(
      'connecting',
    );
    worker.sources.last.open();
    worker.sources.last.emit('bar', bar(120, 7));
    expect(received).toEqual([{ time: 120, open: 7, high: 7, low: 7, close: 7, volume: 3 }]);
    expect(live.owns(`${BTC}|1|1`)).toBe(true);
  });

  it('closes the old stream on restart and ignores what the old one still sends', () => {
    const worker = new FakeWorker([]);
    const received: number[] = [];
    let resets = 0;
    const listener = { onBar: (wire: WireBar) => received.push(wire.time), onReset: () => (resets += 1) };
    const live = new LiveBars(worker.datafeed);
    live.start(INFO, '1', 1, listener);
    const old = worker.sources.last;
    live.start(INFO, '5', 2, listener);
    expect(old.closed).toBe(true);
    expect(live.owns(`${BTC}|1|1`)).toBe(false);
    old.emit('bar', bar(60, 1));
    old.emit('reset');
    worker.sources.last.emit('bar', bar(300, 2));
    worker.sources.last.emit('reset');
    expect(received).toEqual([300]);
    expect(resets).toBe(1);

    live.stop();
    expect(worker.sources.open).toEqual([]);
  });
});
