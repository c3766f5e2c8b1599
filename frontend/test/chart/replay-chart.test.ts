import { describe, expect, it } from 'vitest';
import { ChartApp } from '../../src/chart/chart-app';
import { lineSlot, ReplayChart, type ReplayState } from '../../src/chart/replay-chart';
import type { FunctionEntry } from '../../src/wire/answers';
import { flush } from '../fakes';
import { BTC, FakeWorker, minutes } from './fake-worker';
import { RecordingView } from './recording-view';

const LAST = 1_700_000_040;
const START = LAST - 600;
const CATALOGUE: FunctionEntry[] = [
  {
    key: 'sma(period=20)',
    name: 'sma',
    type: 'indicator',
    summary: '',
    values: { period: 20 },
    outputs: ['value'],
    state: [],
    pane: 'price',
  },
  {
    key: 'bollinger(period=20,width=2.0)',
    name: 'bollinger',
    type: 'indicator',
    summary: '',
    values: { period: 20, width: 2 },
    outputs: ['middle', 'upper', 'lower'],
    state: [],
    pane: 'price',
  },
];

async function setup() {
  const worker = new FakeWorker(minutes(LAST, 1000));
  worker.server
    .on('/api/functions', () => ({ s: 'ok', functions: CATALOGUE }))
    .on('/udf/replay/r1/resume', () => ({ s: 'ok', clock_ms: 0, speed: 60, paused: false }))
    .on('/udf/replay/r1/pause', () => ({ s: 'ok', clock_ms: 0, speed: 60, paused: true }));
  const view = new RecordingView();
  const app = new ChartApp(
    view,
    worker.datafeed,
    { onConnection: () => undefined, onLastBar: () => undefined, onStatus: () => undefined, onChange: () => undefined },
    { timers: worker.timers, now: () => (LAST + 30) * 1000 },
  );
  expect(await app.open(BTC, '1')).toBe(true);
  const states: ReplayState[] = [];
  const replay = new ReplayChart(app, view, worker.datafeed, worker.sources.factory, (state) => states.push(state));
  return { worker, view, app, replay, states };
}

function bar(time: number, close: number, clock = time * 1000) {
  return {
    symbol: BTC,
    resolution: '1',
    time,
    open: close,
    high: close,
    low: close,
    close,
    volume: 3,
    clock_ms: clock,
  };
}

describe('ReplayChart', () => {
  it('continues the history before its start with bars, corrections, indicators and marks as they come', async () => {
    const { worker, view, app, replay, states } = await setup();
    const live = worker.sources.last;
    replay.start(START, '60', true);
    expect(live.closed).toBe(true);
    expect(app.detached).toBe(true);
    const stream = worker.sources.last;
    const query = new URLSearchParams(stream.url.split('?')[1]);
    expect(stream.url.startsWith('/udf/replay?')).toBe(true);
    expect([query.get('symbol'), query.get('resolution'), query.get('from'), query.get('speed')]).toEqual([
      BTC,
      '1',
      String(START),
      '60',
    ]);
    expect(query.get('paused')).toBe('true');

    stream.emit('hello', {
      replay: 'r1',
      series: [{ symbol: BTC, resolution: '1', history_to: START }],
      speed: 60,
      paused: true,
      clock_ms: START * 1000,
    });
    stream.emit('bar', bar(START, 500)); // while the history loads: applied after it
    await flush();
    expect(replay.state.loading).toBe(false);
    expect(replay.store.bars.at(-2)?.time).toBe(START - 60);
    expect(replay.store.last).toMatchObject({ time: START, close: 500 });
    expect(replay.barTimes).toEqual([START]);
    expect(view.lines.get('sma20')?.at(-1)?.time).toBe(START - 60);
    expect(worker.server.requestsTo('/udf/replay/r1/resume')).toHaveLength(1);

    stream.emit('bar', bar(START + 60, 501));
    stream.emit('correction', bar(START, 499));
    stream.emit('bar', bar(START, 123)); // older than the newest as a plain bar: dropped
    expect(replay.store.bars.slice(-2).map((b) => [b.time, b.close])).toEqual([
      [START, 499],
      [START + 60, 501],
    ]);
    expect(view.calls.at(-1)).toBe('updateHistoricalBar');
    expect(replay.barTimes).toEqual([START, START + 60]);

    stream.emit('indicators', {
      symbol: BTC,
      resolution: '1',
      from: START - 60,
      to: START,
      bars: [
        { time: START - 60, values: { 'sma(period=20)': null } },
        { time: START, values: { 'sma(period=20)': [42.5], 'ema(period=20)': [41] } },
      ],
      marks: [
        { time: START, signal: 'crossover(fast=20,slow=50)', kind: 'golden_cross', label: 'G', text: 'up', tone: 'up' },
      ],
      clock_ms: (START + 61) * 1000,
    });
    const sma = replay.lines.points('sma20');
    expect(sma.at(-1)).toEqual({ time: START, value: 42.5 });
    expect(sma.some((point) => point.time === START - 60)).toBe(false);
    expect(view.lines.get('sma20')?.at(-1)).toEqual({ time: START, value: 42.5 });
    expect(replay.marks.map((mark) => [mark.time, mark.kind])).toEqual([[START, 'golden_cross']]);
    expect(view.marks.map((mark) => mark.direction)).toEqual(['up']);
    expect(replay.state.clockMs).toBe((START + 61) * 1000);

    stream.emit('reset', { symbol: BTC, resolution: '1', from: START - 180, to: START - 60, clock_ms: 0 });
    await flush();
    const refetched = worker.server.requestsTo('/udf/history').at(-1)?.params;
    expect([refetched?.get('from'), refetched?.get('to')]).toEqual([String(START - 180), String(START - 60)]);

    stream.emit('caught_up', { clock_ms: (START + 90) * 1000 });
    expect(stream.closed).toBe(true);
    expect(replay.state).toMatchObject({ caughtUp: true, playing: false, clockMs: (START + 90) * 1000 });
    expect(states.length).toBeGreaterThan(3);

    expect(await replay.backToLive()).toBe(true);
    expect(app.detached).toBe(false);
    expect(worker.sources.last.url.startsWith('/udf/streams?')).toBe(true);
    expect(replay.state.active).toBe(false);
  });

  it('ends the replay on a stream error and places each line by its function key and output', async () => {
    const { worker, replay } = await setup();
    replay.start(START, 'max', false);
    worker.sources.last.fail();
    expect(replay.state.error).toMatch(/ended before it caught up/);
    await expect(replay.pause()).rejects.toThrow(/no replay/);
    const entries = CATALOGUE;
    expect(lineSlot({ id: 'sma20', kind: 'sma', period: 20, color: '', defaultVisible: true }, entries)).toEqual([
      'sma(period=20)',
      0,
    ]);
    const upper = {
      id: 'b',
      kind: 'bollinger',
      period: 20,
      color: '',
      defaultVisible: false,
      output: 'upper',
      group: 'bollinger(period=20,width=2.0)',
    };
    expect(lineSlot(upper, entries)).toEqual(['bollinger(period=20,width=2.0)', 1]);
  });
});
