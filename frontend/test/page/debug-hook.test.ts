import { describe, expect, it } from 'vitest';
import { ChartApp } from '../../src/chart/chart-app';
import { createDebugHook } from '../../src/page/debug-hook';
import { BTC, FakeWorker, minutes } from '../chart/fake-worker';
import { RecordingView } from '../chart/recording-view';

const LAST = 1_700_000_040;

function setup() {
  const worker = new FakeWorker(minutes(LAST, 50));
  const view = new RecordingView();
  const hooks = {
    onConnection: () => undefined,
    onLastBar: () => undefined,
    onStatus: () => undefined,
    onChange: () => undefined,
  };
  const app = new ChartApp(view, worker.datafeed, hooks, { timers: worker.timers, now: () => (LAST + 30) * 1000 });
  const navigations: [string, string][] = [];
  let load: Promise<unknown> = Promise.resolve();
  const hook = createDebugHook({
    app,
    view,
    datafeed: worker.datafeed,
    theme: () => 'dark',
    state: () => 'live',
    currentLoad: () => load,
    navigate: (symbol, resolution) => {
      navigations.push([symbol, resolution]);
      const opening = app.open(symbol, resolution);
      load = opening;
      return opening;
    },
  });
  return { app, hook, navigations };
}

describe('window.__candleflow', () => {
  it('reads the chart in seconds and hands out copies', async () => {
    const { hook } = setup();
    await hook.setSymbol(BTC);
    await hook.ready();
    expect(hook.symbol).toBe(BTC);
    expect(hook.resolution).toBe('1');
    expect(hook.state).toBe('live');
    expect(hook.theme).toBe('dark');
    const bars = hook.bars();
    expect(bars.map((bar) => bar.time)).toEqual(minutes(LAST, 50));
    expect(hook.lastBar()).toEqual(bars[bars.length - 1]);
    const first = bars[0];
    if (first) first.close = -1;
    expect(hook.bars()[0]?.close).not.toBe(-1);
    expect(hook.lines().sma20?.visible).toBe(true);
    expect(hook.lines().sma20?.points).toHaveLength(50);
    expect(hook.snapshot()).toMatchObject({ symbol: BTC, bars: 50, loads: 1, loading: false });
  });

  it('navigates through the page so the URL follows', async () => {
    const { hook, navigations } = setup();
    await hook.setSymbol(BTC);
    await hook.setResolution('5');
    expect(navigations).toEqual([
      [BTC, '1'],
      [BTC, '5'],
    ]);
    await hook.ready();
    expect(hook.snapshot().resolution).toBe('5');
  });
});
