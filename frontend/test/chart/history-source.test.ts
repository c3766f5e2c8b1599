import { describe, expect, it } from 'vitest';
import { fromLibraryBar, HistorySource, MAX_GAP_HOPS } from '../../src/chart/history-source';
import { BTC, FakeWorker, minutes, SYMBOL_INFO } from './fake-worker';

const INFO = SYMBOL_INFO;

describe('HistorySource.page', () => {
  it('answers the newest bars before `to` in seconds', async () => {
    const worker = new FakeWorker(minutes(6000, 50));
    const page = await new HistorySource(worker.datafeed).page(INFO, '1', 6060, 10, true);
    expect(page.exhausted).toBe(false);
    expect(page.bars.map((bar) => bar.time)).toEqual(minutes(6000, 10));
    expect(page.bars[0]).toEqual({ time: 5460, open: 91, high: 92, low: 90, close: 91, volume: 2 });
  });

  it('walks over a gap by asking again just after `nextTime`', async () => {
    // A server that ignores `countback` answers a window after the newest bar with `nextTime`.
    const worker = new FakeWorker([]);
    worker.server.on('/udf/history', (params) =>
      Number(params.get('to')) > 601
        ? { s: 'no_data', nextTime: 600 }
        : { s: 'ok', t: [540, 600], o: [1, 2], h: [1, 2], l: [1, 2], c: [1, 2], v: [5, 6] },
    );
    const page = await new HistorySource(worker.datafeed).page(INFO, '1', 100_000, 10, false);
    expect(page.bars.map((bar) => bar.time)).toEqual([540, 600]);
    const asked = worker.server.requestsTo('/udf/history').map((request) => Number(request.params.get('to')));
    expect(asked).toEqual([100_000, 601]);
  });

  it('calls history exhausted when the server has nothing older', async () => {
    const worker = new FakeWorker([]);
    expect(await new HistorySource(worker.datafeed).page(INFO, '1', 6000, 10, false)).toEqual({
      bars: [],
      exhausted: true,
    });
  });

  it(`gives up after ${MAX_GAP_HOPS} gaps without calling history exhausted`, async () => {
    const worker = new FakeWorker([]);
    let nextTime = 1_000_000;
    worker.server.on('/udf/history', () => ({ s: 'no_data', nextTime: (nextTime -= 1000) }));
    const page = await new HistorySource(worker.datafeed).page(INFO, '1', 1_000_000, 10, false);
    expect(page).toEqual({ bars: [], exhausted: false });
    expect(worker.server.requestsTo('/udf/history')).toHaveLength(MAX_GAP_HOPS + 1);
  });
});

describe('HistorySource', () => {
  it('resolves symbols and rejects unknown ones with unknown_symbol', async () => {
    const source = new HistorySource(new FakeWorker([]).datafeed);
    expect((await source.resolve(BTC)).ticker).toBe(BTC);
    await expect(source.resolve('Nowhere:X/Y')).rejects.toThrow('unknown_symbol');
  });

  it('reads marks, and none when the server fails', async () => {
    const worker = new FakeWorker([]);
    worker.marks = [{ time: 120, color: 'green', label: 'G', kind: 'golden_cross' }];
    const source = new HistorySource(worker.datafeed);
    expect((await source.marks(INFO, '1', 0, 600)).map((mark) => [mark.time, mark.kind])).toEqual([
      [120, 'golden_cross'],
    ]);
    expect(Object.fromEntries(worker.server.requestsTo('/udf/marks')[0]?.params ?? [])).toEqual({
      symbol: BTC,
      resolution: '1',
      from: '0',
      to: '600',
    });
    worker.server.on('/udf/marks', () => ({ s: 'error', errmsg: 'boom' }), 500);
    expect(await source.marks(INFO, '1', 0, 600)).toEqual([]);
  });
});

describe('fromLibraryBar', () => {
  it('turns milliseconds into seconds and a missing volume into 0', () => {
    expect(fromLibraryBar({ time: 60_000, open: 1, high: 2, low: 0, close: 1 })).toEqual({
      time: 60,
      open: 1,
      high: 2,
      low: 0,
      close: 1,
      volume: 0,
    });
  });
});
