import { describe, expect, it } from 'vitest';
import {
  ChartApp,
  INITIAL_BARS,
  RETRY_LOAD_MS,
  type ChartConnection,
  type ChartSnapshot,
} from '../../src/chart/chart-app';
import { flush } from '../fakes';
import { BTC, FakeWorker, minutes } from './fake-worker';
import { RecordingView } from './recording-view';

/** A minute-aligned time; the page "opens" 30 s after the bar starting here. */
const LAST = 1_700_000_040;

function setup(times = minutes(LAST, 1000)) {
  const worker = new FakeWorker(times);
  const view = new RecordingView();
  const seen = {
    connections: [] as ChartConnection[],
    statuses: [] as (string | undefined)[],
    changes: [] as ChartSnapshot[],
    lastBars: [] as (number | undefined)[],
    unknown: [] as string[],
  };
  const app = new ChartApp(
    view,
    worker.datafeed,
    {
      onConnection: (state) => seen.connections.push(state),
      onLastBar: (bar) => seen.lastBars.push(bar?.close),
      onStatus: (message) => seen.statuses.push(message),
      onChange: (snapshot) => seen.changes.push(snapshot),
      onUnknownSymbol: (symbol) => seen.unknown.push(symbol),
    },
    { timers: worker.timers, now: () => (LAST + 30) * 1000 },
  );
  worker.onConnectionState = (guid, state) => {
    app.handleConnection(guid, state);
  };
  return { worker, view, app, seen };
}

function liveBar(time: number, close: number) {
  return { symbol: BTC, resolution: '1', time, open: close, high: close, low: close, close, volume: 1 };
}

describe('ChartApp.open', () => {
  it('shows the newest page of bars, the visible lines and the marks, then goes live', async () => {
    const { worker, view, app } = setup();
    worker.marks = [
      { time: LAST - 60 * 10 + 7, color: 'green', label: 'G', kind: 'golden_cross' },
      { time: LAST - 60 * 5, color: 'red', label: 'D', kind: 'death_cross' },
      { time: LAST - 60 * 2, color: 'blue', label: 'S', kind: 'my_signal' },
    ];
    expect(await app.open(BTC, '1')).toBe(true);

    expect(view.bars.map((bar) => bar.time)).toEqual(minutes(LAST, INITIAL_BARS));
    expect(view.priceFormat).toEqual({ type: 'price', precision: 2, minMove: 0.01 });
    expect(view.calls.slice(-2)).toEqual(['showBars', 'frame']);
    expect(view.framed.at(-1)).toBe(INITIAL_BARS);
    // sma20 and sma50 are visible by default; their points cover the bars shown.
    expect(view.lines.get('sma20')?.map((point) => point.time)).toEqual(minutes(LAST, INITIAL_BARS));
    expect(view.lines.get('sma50')?.length).toBe(INITIAL_BARS);
    expect(view.lines.get('ema200')).toEqual([]);
    // The first mark falls inside a bar and is pinned to its start.
    expect(view.marks.map((mark) => [mark.time, mark.kind, mark.direction])).toEqual([
      [LAST - 600, 'golden_cross', 'up'],
      [LAST - 300, 'death_cross', 'down'],
      [LAST - 120, 'my_signal', 'neutral'],
    ]);
    expect(worker.sources.open.map((source) => source.subs)).toEqual([[`${BTC}|1`]]);
    expect(app.snapshot()).toMatchObject({ symbol: BTC, loads: 1, loading: false, bars: INITIAL_BARS });

    expect(app.connection).toBe('connecting');
    worker.sources.last.open();
    expect(app.connection).toBe('live');
    worker.sources.last.fail();
    expect(app.connection).toBe('reconnecting');
  });

  it('applies live bars to the candles and the lines, and drops stale ones', async () => {
    const { worker, view, app } = setup();
    await app.open(BTC, '1');
    worker.sources.last.open();
    worker.sources.last.emit('bar', liveBar(LAST + 60, 500));
    worker.sources.last.emit('bar', liveBar(LAST - 120, 1));

    expect(view.bars[view.bars.length - 1]).toEqual({
      time: LAST + 60,
      open: 500,
      high: 500,
      low: 500,
      close: 500,
      volume: 1,
    });
    expect(view.bars).toHaveLength(INITIAL_BARS + 1);
    const closes = [...minutes(LAST, 19).map((time) => time / 60), 500];
    const sma20 = view.lines.get('sma20')?.at(-1);
    expect(sma20?.time).toBe(LAST + 60);
    expect(sma20?.value).toBeCloseTo(closes.reduce((sum, close) => sum + close, 0) / 20, 9);
    expect(app.snapshot().ticks).toBe(1);
  });

  it('drops the answers of a load that a newer one superseded', async () => {
    const { view, app } = setup();
    const first = app.open(BTC, '1');
    const second = app.open(BTC, '5');
    expect(await first).toBe(false);
    expect(await second).toBe(true);
    expect(app.snapshot()).toMatchObject({ resolution: '5', loads: 1 });
    expect(view.bars.length).toBeGreaterThan(0);
  });

  it('says so for an unknown symbol, keeps nothing of the previous chart and does not retry', async () => {
    const { worker, view, app, seen } = setup();
    worker.marks = [{ time: LAST - 300, color: 'red', label: 'D' }];
    await app.open(BTC, '1');
    expect(seen.lastBars.at(-1)).toBeDefined();
    expect(view.marks).toHaveLength(1);

    expect(await app.open('Nowhere:X/Y', '1')).toBe(false);
    expect(seen.statuses.at(-1)).toBe('unknown symbol Nowhere:X/Y: this server has no trades of it');
    expect(seen.unknown).toEqual(['Nowhere:X/Y']);
    // The legend, last price and title of the previous symbol are cleared ...
    expect(seen.lastBars.at(-1)).toBeUndefined();
    expect(view.bars).toEqual([]);
    expect(view.marks).toEqual([]);
    // ... and the server answered: that is not "offline".
    expect(app.connection).toBe('idle');
    expect(worker.timers.scheduled).toBe(0);
  });

  it('frames the bars it loaded, however few', async () => {
    const { view, app } = setup(minutes(LAST, 3));
    await app.open(BTC, '1D');
    expect(view.framed.at(-1)).toBe(3);
    expect(view.timeAxis).toBe('day');
  });

  it('retries a load that failed after RETRY_LOAD_MS', async () => {
    const { worker, app, seen } = setup();
    worker.symbolFailures = 1;
    expect(await app.open(BTC, '1')).toBe(false);
    expect(seen.statuses.at(-1)).toBe(`cannot load ${BTC}: database unavailable; retrying`);
    worker.timers.advance(RETRY_LOAD_MS - 1);
    await flush();
    expect(app.loads).toBe(0);
    worker.timers.advance(1);
    await flush();
    expect(app.loads).toBe(1);
    expect(seen.statuses.at(-1)).toBeUndefined();
  });

  it('shows a failed line or marks request in the state line and retries it until it works', async () => {
    const { worker, view, app, seen } = setup();
    worker.marks = [{ time: LAST - 300, color: 'red', label: 'D' }];
    // The first indicator request (sma20) and the first marks request fail.
    worker.server
      .failNext('/api/indicators', 1, 'database unavailable')
      .failNext('/udf/marks', 1, 'database unavailable');
    expect(await app.open(BTC, '1')).toBe(true);
    expect(seen.statuses.at(-1)).toMatch(
      /^sma20 unavailable \(.*database unavailable.*\); marks unavailable .*; retrying$/,
    );
    expect(view.lines.get('sma20')).toEqual([]);
    expect(view.lines.get('sma50')?.length).toBe(INITIAL_BARS);
    expect(view.marks).toEqual([]);

    worker.timers.advance(RETRY_LOAD_MS);
    await flush();
    expect(view.lines.get('sma20')?.map((point) => point.time)).toEqual(minutes(LAST, INITIAL_BARS));
    expect(view.marks.map((mark) => mark.time)).toEqual([LAST - 300]);
    expect(seen.statuses.at(-1)).toBeUndefined();
  });

  it('reloads when the stream announces a correction', async () => {
    const { worker, app } = setup();
    await app.open(BTC, '1');
    worker.sources.last.open();
    worker.sources.last.emit('reset', { symbol: BTC, resolution: '1' });
    await flush();
    expect(app.loads).toBe(2);
    expect(worker.sources.open).toHaveLength(1);
  });
});

describe('ChartApp scroll-back', () => {
  it('loads an older page near the left edge, then stops once nothing older exists', async () => {
    const { view, app } = setup(minutes(LAST, 450));
    await app.open(BTC, '1');
    view.scrollTo(100);
    await flush();
    expect(app.olderLoads).toBe(0);

    view.scrollTo(5);
    await flush();
    expect(app.olderLoads).toBe(1);
    expect(view.bars.map((bar) => bar.time)).toEqual(minutes(LAST, 450));
    expect(view.lines.get('sma20')?.[0]?.time).toBe(LAST - 449 * 60);

    view.scrollTo(0);
    await flush();
    expect(app.historyExhausted).toBe(true);
    view.scrollTo(0);
    await flush();
    expect(app.olderLoads).toBe(2);
  });
});

describe('ChartApp lines and theme', () => {
  it('loads a line when it is switched on and hides it when switched off', async () => {
    const { view, app } = setup();
    await app.open(BTC, '1');
    app.setLineVisible('ema200', true);
    await flush();
    expect(view.lineVisible.get('ema200')).toBe(true);
    expect(view.lines.get('ema200')).toHaveLength(INITIAL_BARS);
    expect(app.lines.isVisible('ema200')).toBe(true);
    app.setLineVisible('ema200', false);
    expect(view.lineVisible.get('ema200')).toBe(false);
  });

  it('adds a registered function line and asks for it by name, parameters and line', async () => {
    const { worker, view, app } = setup();
    await app.open(BTC, '1');
    const upper = {
      id: 'bollinger(period=20,width=2.0).upper',
      kind: 'bollinger',
      period: 20,
      color: '#000',
      defaultVisible: false,
      params: { period: 20, width: 2 },
      output: 'upper',
      group: 'bollinger(period=20,width=2.0)',
    };
    app.addLine(upper);
    app.addLine(upper);
    expect(view.added).toEqual([upper]);
    app.setLineVisible(upper.id, true);
    await flush();
    const query = worker.indicatorQueries.at(-1);
    expect(query?.get('kind')).toBe('bollinger');
    expect(query?.get('width')).toBe('2');
    expect(query?.get('period')).toBe('20');
    expect(query?.get('output')).toBe('upper');
    expect(view.lines.get(upper.id)).toHaveLength(INITIAL_BARS);
  });

  it('hides and shows the signal marks without fetching them again', async () => {
    const { worker, view, app } = setup();
    worker.marks = [{ time: LAST - 300, color: 'red', label: 'D', kind: 'death_cross' }];
    await app.open(BTC, '1');
    expect(view.marks).toHaveLength(1);
    const requests = worker.server.requests.length;
    app.setMarksVisible(false);
    expect(view.marks).toEqual([]);
    expect(app.marksShown).toBe(false);
    app.setMarksVisible(true);
    expect(view.marks.map((mark) => mark.kind)).toEqual(['death_cross']);
    expect(worker.server.requests.length).toBe(requests);
  });

  it('keeps the marks hidden across loads once switched off', async () => {
    const { worker, view, app } = setup();
    worker.marks = [{ time: LAST - 300, color: 'red', label: 'D' }];
    app.setMarksVisible(false);
    await app.open(BTC, '5');
    expect(view.marks).toEqual([]);
  });

  it('redraws bars and marks in the new palette', async () => {
    const { view, app } = setup();
    await app.open(BTC, '1');
    const before = view.calls.length;
    app.setTheme('dark');
    expect(view.theme).toBe('dark');
    expect(view.calls.slice(before)).toEqual(['showBars']);
  });
});
