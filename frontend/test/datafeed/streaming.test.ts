import { describe, expect, it, vi } from 'vitest';
import { CandleflowDatafeed } from '../../src/datafeed/datafeed';
import { backoffDelay, DEFAULT_BACKOFF, type ConnectionState } from '../../src/datafeed/streaming';
import type { Bar, LibrarySymbolInfo } from '../../src/wire/tv-types';
import { FakeEventSources, FakeServer, FakeTimers, flush } from '../fakes';

const BTC = 'Coinbase:BTC/USD';
const ETH = 'Kraken:ETH/USD';

function info(ticker: string): LibrarySymbolInfo {
  return {
    name: ticker.split(':')[1] ?? ticker,
    ticker,
    full_name: ticker,
    description: ticker,
    type: 'crypto',
    exchange: ticker.split(':')[0] ?? '',
    listed_exchange: ticker.split(':')[0] ?? '',
    session: '24x7',
    timezone: 'Etc/UTC',
    format: 'price',
    minmov: 1,
    pricescale: 100,
  };
}

function barEvent(symbol: string, resolution: string, time: number, close = 100) {
  return {
    symbol,
    resolution,
    time,
    open: 100,
    high: Math.max(100, close),
    low: Math.min(100, close),
    close,
    volume: 2,
    trades: 3,
  };
}

function setup(server = new FakeServer()) {
  const timers = new FakeTimers();
  const sources = new FakeEventSources();
  const states: [string, ConnectionState][] = [];
  const datafeed = new CandleflowDatafeed({
    fetch: server.fetch,
    eventSource: sources.factory,
    timers,
    random: () => 0.5, // no jitter
    onConnectionState: (guid, state) => states.push([guid, state]),
  });
  return { datafeed, sources, timers, states, server };
}

function subscriber() {
  const ticks: Bar[] = [];
  const onReset = vi.fn();
  return { ticks, onTick: (bar: Bar) => ticks.push(bar), onReset };
}

describe('subscribeBars', () => {
  it('opens one stream for the page with the series in the URL', () => {
    const { datafeed, sources } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'guid-a', a.onReset);
    expect(sources.all).toHaveLength(1);
    expect(sources.last.url).toBe('/udf/streams?sub=Coinbase%3ABTC%2FUSD%7C1');
    expect(sources.last.subs).toEqual([`${BTC}|1`]);
  });

  it('adds and removes subscriptions on the open stream without reconnecting', async () => {
    const server = new FakeServer()
      .on('/udf/streams/s1/subscribe', () => ({ s: 'ok', subscribed: [] }))
      .on('/udf/streams/s1/unsubscribe', () => ({ s: 'ok' }));
    const { datafeed, sources } = setup(server);
    const [a, b, c] = [subscriber(), subscriber(), subscriber()];
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    datafeed.subscribeBars(info(ETH), '1D', b.onTick, 'b', b.onReset); // before hello: sent after it
    sources.last.open();
    sources.last.emit('hello', { stream: 's1' }, '1');
    datafeed.subscribeBars(info(BTC), '5', c.onTick, 'c', c.onReset);
    datafeed.unsubscribeBars('a');
    await flush();
    expect(sources.all).toHaveLength(1);
    const control = server.requests.filter((request) => request.path.startsWith('/udf/streams/'));
    expect(control.map((request) => [request.path, request.params.getAll('sub')])).toEqual([
      ['/udf/streams/s1/subscribe', [`${ETH}|1D`]],
      ['/udf/streams/s1/subscribe', [`${BTC}|5`]],
      ['/udf/streams/s1/unsubscribe', [`${BTC}|1`]],
    ]);
    expect(datafeed.streamsOpened()).toBe(1);
  });

  it('reopens the stream with every sub when the server lost it', async () => {
    const server = new FakeServer().on(
      '/udf/streams/s1/subscribe',
      () => ({ s: 'error', errmsg: 'unknown_stream' }),
      404,
    );
    const { datafeed, sources, timers } = setup(server);
    const [a, b] = [subscriber(), subscriber()];
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    sources.last.open();
    sources.last.emit('hello', { stream: 's1' }, '7');
    datafeed.subscribeBars(info(ETH), '1', b.onTick, 'b', b.onReset);
    await flush();
    timers.advance(500);
    expect(sources.all).toHaveLength(2);
    expect(sources.last.subs).toEqual([`${BTC}|1`, `${ETH}|1`]);
    expect(sources.last.lastEventId).toBe('7');
  });

  it('hands bars to the library in milliseconds', () => {
    const { datafeed, sources } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'guid-a', a.onReset);
    sources.last.open();
    sources.last.emit('bar', barEvent(BTC, '1', 1_732_406_400, 101));
    expect(a.ticks).toEqual([{ time: 1_732_406_400_000, open: 100, high: 101, low: 100, close: 101, volume: 2 }]);
  });

  it('routes events by the series they name, through the canonical names of `subscribed`', () => {
    const { datafeed, sources } = setup();
    const minute = subscriber();
    const hour = subscriber();
    datafeed.subscribeBars(info('btc/usd'), '1', minute.onTick, 'minute', minute.onReset);
    datafeed.subscribeBars(info(BTC), '60', hour.onTick, 'hour', hour.onReset);
    const stream = sources.last;
    stream.emit('subscribed', { sub: 'btc/usd|1', symbol: BTC, resolution: '1' });
    stream.emit('bar', barEvent(BTC, '1', 1_732_406_460, 102));
    stream.emit('bar', barEvent(BTC, '60', 1_732_406_400, 99));
    stream.emit('bar', barEvent(BTC, '1', 1_732_406_520, 103));
    stream.emit('bar', barEvent(ETH, '1', 1_732_406_520, 7));

    expect(minute.ticks.map((bar) => [bar.time / 1000, bar.close])).toEqual([
      [1_732_406_460, 102],
      [1_732_406_520, 103],
    ]);
    expect(hour.ticks.map((bar) => [bar.time / 1000, bar.close])).toEqual([[1_732_406_400, 99]]);

    datafeed.unsubscribeBars('minute');
    expect(stream.closed).toBe(false);
    stream.emit('bar', barEvent(BTC, '1', 1_732_406_580, 104));
    stream.emit('bar', barEvent(BTC, '60', 1_732_406_400, 98));
    expect(minute.ticks).toHaveLength(2);
    expect(hour.ticks).toHaveLength(2);
    datafeed.unsubscribeBars('hour');
    expect(stream.closed).toBe(true); // nothing subscribed: no connection
  });

  it('survives a resolution switch where the old and new subscriptions overlap', () => {
    const { datafeed, sources } = setup();
    const old = subscriber();
    const next = subscriber();
    // The library subscribes the new resolution before it unsubscribes the old one.
    datafeed.subscribeBars(info(BTC), '1', old.onTick, 'old', old.onReset);
    const stream = sources.last;
    stream.emit('bar', barEvent(BTC, '1', 600));
    datafeed.subscribeBars(info(BTC), '5', next.onTick, 'new', next.onReset);
    stream.emit('bar', barEvent(BTC, '5', 600));
    stream.emit('bar', barEvent(BTC, '1', 660));
    datafeed.unsubscribeBars('old');
    // A late event of the old series reaches nobody.
    stream.emit('bar', barEvent(BTC, '1', 720));
    stream.emit('reset', { symbol: BTC, resolution: '1' });
    stream.emit('bar', barEvent(BTC, '5', 900));

    expect(old.ticks.map((bar) => bar.time / 1000)).toEqual([600, 660]);
    expect(next.ticks.map((bar) => bar.time / 1000)).toEqual([600, 900]);
    expect(old.onReset).not.toHaveBeenCalled();
    expect(sources.open).toEqual([stream]);
    expect(datafeed.connectionState('old')).toBeUndefined();
  });

  it('replaces a subscription that reuses a guid, and tolerates unknown or repeated unsubscribes', () => {
    const { datafeed, sources } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'same', a.onReset);
    datafeed.subscribeBars(info(ETH), '1', a.onTick, 'same', a.onReset);
    sources.last.emit('bar', barEvent(BTC, '1', 60));
    sources.last.emit('bar', barEvent(ETH, '1', 60));
    expect(a.ticks).toHaveLength(1);
    datafeed.unsubscribeBars('same');
    datafeed.unsubscribeBars('same');
    datafeed.unsubscribeBars('never-subscribed');
    expect(sources.open).toEqual([]);
  });

  it('drops bars older than the newest one delivered (no time violation)', () => {
    const { datafeed, sources } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    sources.last.emit('bar', barEvent(BTC, '1', 120));
    sources.last.emit('bar', barEvent(BTC, '1', 60));
    sources.last.emit('bar', barEvent(BTC, '1', 120, 105));
    sources.last.emit('bar', 'not json');
    sources.last.emit('bar', { time: 180, open: 'x' });
    expect(a.ticks.map((bar) => [bar.time / 1000, bar.close])).toEqual([
      [120, 100],
      [120, 105],
    ]);
  });

  it('starts no earlier than the newest bar of the first history request', async () => {
    const server = new FakeServer().on('/udf/history', () => ({
      s: 'ok',
      t: [60, 120],
      o: [1, 1],
      h: [1, 1],
      l: [1, 1],
      c: [1, 1],
      v: [1, 1],
    }));
    const { datafeed, sources } = setup(server);
    await new Promise((resolve) =>
      datafeed.getBars(info(BTC), '1', { from: 0, to: 180, countBack: 2, firstDataRequest: true }, resolve, resolve),
    );
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    sources.last.emit('bar', barEvent(BTC, '1', 60));
    sources.last.emit('bar', barEvent(BTC, '1', 120, 2));
    expect(a.ticks.map((bar) => bar.time / 1000)).toEqual([120]);
  });
});

describe('reset and reconnect', () => {
  it('a reset event calls onResetCacheNeeded of that subscription only', () => {
    const { datafeed, sources } = setup();
    const a = subscriber();
    const b = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    datafeed.subscribeBars(info(BTC), '5', b.onTick, 'b', b.onReset);
    const [streamA] = sources.all;
    streamA?.emit('bar', barEvent(BTC, '1', 600));
    streamA?.emit('reset', { symbol: BTC, resolution: '1' });
    expect(a.onReset).toHaveBeenCalledTimes(1);
    expect(b.onReset).not.toHaveBeenCalled();
    // After a reset the chart reloads; the stream may then carry any bar again.
    streamA?.emit('bar', barEvent(BTC, '1', 540));
    expect(a.ticks.map((bar) => bar.time / 1000)).toEqual([600, 540]);
  });

  it('forwards resets to the onResetCacheNeeded option too (tv.html calls resetData there)', () => {
    const hook = vi.fn();
    const sources = new FakeEventSources();
    const datafeed = new CandleflowDatafeed({
      fetch: new FakeServer().fetch,
      eventSource: sources.factory,
      timers: new FakeTimers(),
      onResetCacheNeeded: hook,
    });
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    sources.last.emit('reset', { symbol: BTC, resolution: '1' });
    expect(a.onReset).toHaveBeenCalledTimes(1);
    expect(hook).toHaveBeenCalledWith('a');
  });

  it('resumes after its last event id on reconnect, without a reset', () => {
    const { datafeed, sources, timers } = setup();
    const a = subscriber();
    const corrected: Bar[] = [];
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset, (bar) => corrected.push(bar));
    sources.last.open();
    sources.last.emit('bar', barEvent(BTC, '1', 600), '1700000000000001');
    sources.last.fail();
    timers.advance(500);
    expect(sources.last.lastEventId).toBe('1700000000000001');
    sources.last.open();
    sources.last.emit('correction', barEvent(BTC, '1', 540, 90), '1700000000000009');
    sources.last.emit('bar', barEvent(BTC, '1', 660), '1700000000000009');
    expect(a.onReset).not.toHaveBeenCalled();
    expect(corrected.map((bar) => [bar.time / 1000, bar.close])).toEqual([[540, 90]]);
    expect(a.ticks.map((bar) => bar.time / 1000)).toEqual([600, 660]);
  });

  it('applies corrections through onCorrection; without one they reset, at most once per window', () => {
    const { datafeed, sources, timers } = setup();
    const tv = subscriber();
    const chart = subscriber();
    const corrected: Bar[] = [];
    datafeed.subscribeBars(info(BTC), '1', tv.onTick, 'tv', tv.onReset);
    datafeed.subscribeBars(info(ETH), '1', chart.onTick, 'chart', chart.onReset, (bar) => corrected.push(bar));
    const stream = sources.last;
    stream.emit('bar', barEvent(BTC, '1', 600));
    stream.emit('bar', barEvent(ETH, '1', 600));
    for (let i = 0; i < 5; i += 1) {
      stream.emit('correction', barEvent(BTC, '1', 540, 90 + i));
      stream.emit('correction', barEvent(ETH, '1', 540, 90 + i));
    }
    expect(corrected.map((bar) => [bar.time / 1000, bar.close])).toHaveLength(5);
    expect(chart.onReset).not.toHaveBeenCalled();
    expect(tv.onReset).toHaveBeenCalledTimes(1); // at once, then coalesced
    timers.advance(3000);
    expect(tv.onReset).toHaveBeenCalledTimes(2); // the owed one, when the window closes
    timers.advance(10_000);
    expect(tv.onReset).toHaveBeenCalledTimes(2);
    // a correction of a bar at or after the newest is simply a bar
    stream.emit('correction', barEvent(ETH, '1', 660, 5));
    expect(chart.ticks.map((bar) => bar.time / 1000)).toEqual([600, 660]);
  });

  it('never hands a correction to onTick before any bar was delivered (no time violation)', () => {
    const { datafeed, sources } = setup();
    const a = subscriber();
    const corrected: Bar[] = [];
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset, (bar) => corrected.push(bar));
    sources.last.emit('correction', barEvent(BTC, '1', 540, 90));
    sources.last.emit('bar', barEvent(BTC, '1', 600));
    expect(corrected.map((bar) => bar.time / 1000)).toEqual([540]);
    expect(a.ticks.map((bar) => bar.time / 1000)).toEqual([600]);
  });

  it('reconnects with capped exponential backoff and resets the cache once live again', () => {
    const { datafeed, sources, timers, states } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    sources.last.open();
    sources.last.emit('bar', barEvent(BTC, '1', 600));
    expect(datafeed.connectionState('a')).toBe('live');

    // The worker goes away: every attempt fails for a while.
    for (let attempt = 0; attempt < 7; attempt += 1) {
      const current = sources.last;
      current.fail();
      expect(current.closed).toBe(true);
      expect(sources.open).toHaveLength(0);
      timers.advance(timers.delays[timers.delays.length - 1] ?? 0);
      expect(sources.all).toHaveLength(attempt + 2);
    }
    expect(timers.delays).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(a.onReset).not.toHaveBeenCalled();
    expect(states.map(([, state]) => state)).toEqual(['connecting', 'live', 'reconnecting', 'offline']);

    // The worker is back.
    sources.last.open();
    expect(a.onReset).toHaveBeenCalledTimes(1);
    expect(datafeed.connectionState('a')).toBe('live');
    sources.last.emit('bar', barEvent(BTC, '1', 660));
    expect(a.ticks.map((bar) => bar.time / 1000)).toEqual([600, 660]);

    // A bar resets the failure count: the next outage starts from the shortest delay.
    sources.last.fail();
    expect(timers.delays[timers.delays.length - 1]).toBe(500);
  });

  it('does not reset on the first open, only on reopening', () => {
    const { datafeed, sources, timers } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    sources.last.fail(); // the first attempt fails before ever opening
    timers.advance(500);
    sources.last.open();
    expect(a.onReset).not.toHaveBeenCalled();
  });

  it('cancels a pending reconnect on unsubscribe', () => {
    const { datafeed, sources, timers } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    sources.last.open();
    sources.last.fail();
    expect(timers.scheduled).toBe(1);
    datafeed.unsubscribeBars('a');
    expect(timers.scheduled).toBe(0);
    timers.advance(60_000);
    expect(sources.all).toHaveLength(1);
  });

  it('ignores an error from a stream it already replaced', () => {
    const { datafeed, sources, timers } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    const first = sources.last;
    first.open();
    first.fail();
    timers.advance(500);
    first.fail(); // late, from the closed stream
    expect(timers.scheduled).toBe(0);
    expect(sources.open).toHaveLength(1);
  });

  it('reconnectNow skips the remaining backoff', () => {
    const { datafeed, sources, timers } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    sources.last.open();
    for (let i = 0; i < 5; i += 1) {
      sources.last.fail();
      timers.advance(timers.delays[timers.delays.length - 1] ?? 0);
    }
    sources.last.fail();
    datafeed.reconnectNow();
    expect(timers.scheduled).toBe(0);
    expect(sources.open).toHaveLength(1);
  });

  it('destroy closes every stream', async () => {
    const { datafeed, sources } = setup();
    const a = subscriber();
    datafeed.subscribeBars(info(BTC), '1', a.onTick, 'a', a.onReset);
    datafeed.subscribeBars(info(ETH), '1D', a.onTick, 'b', a.onReset);
    datafeed.destroy();
    await flush();
    expect(sources.open).toHaveLength(0);
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => backoffDelay(attempt, DEFAULT_BACKOFF, () => 0.5));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('spreads by the jitter fraction and never passes the cap', () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(400);
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0.999_999)).toBe(600);
    expect(backoffDelay(10, DEFAULT_BACKOFF, () => 0.999_999)).toBe(10_000);
  });
});
