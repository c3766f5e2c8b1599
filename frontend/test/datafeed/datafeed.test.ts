import { describe, expect, it, vi } from 'vitest';
import { CandleflowDatafeed, FALLBACK_CONFIGURATION } from '../../src/datafeed/datafeed';
import type { Bar, HistoryMetadata, LibrarySymbolInfo, PeriodParams } from '../../src/wire/tv-types';
import { FakeEventSources, FakeServer, FakeTimers, flush } from '../fakes';

const SYMBOL = 'Coinbase:BTC/USD';

const symbolInfo: LibrarySymbolInfo = {
  name: 'BTC/USD',
  ticker: SYMBOL,
  full_name: SYMBOL,
  description: 'Bitcoin / US Dollar',
  type: 'crypto',
  exchange: 'Coinbase',
  listed_exchange: 'Coinbase',
  session: '24x7',
  timezone: 'Etc/UTC',
  format: 'price',
  minmov: 1,
  pricescale: 100,
};

function history(times: number[]) {
  return {
    s: 'ok',
    t: times,
    o: times.map(() => 1),
    h: times.map(() => 2),
    l: times.map(() => 0.5),
    c: times.map(() => 1.5),
    v: times.map(() => 10),
  };
}

function setup(server = new FakeServer()) {
  const timers = new FakeTimers();
  const sources = new FakeEventSources();
  const datafeed = new CandleflowDatafeed({
    fetch: server.fetch,
    eventSource: sources.factory,
    timers,
    random: () => 0.5,
  });
  return { server, timers, sources, datafeed };
}

function getBars(datafeed: CandleflowDatafeed, resolution: string, params: PeriodParams) {
  return new Promise<{ bars: Bar[]; meta: HistoryMetadata }>((resolve, reject) =>
    datafeed.getBars(
      symbolInfo,
      resolution,
      params,
      (bars, meta) => resolve({ bars, meta }),
      (reason) => reject(new Error(reason)),
    ),
  );
}

describe('onReady', () => {
  it('answers asynchronously with /udf/config', async () => {
    const config = { supported_resolutions: ['1', '1D'], supports_search: true, supports_marks: true };
    const { datafeed, server } = setup(new FakeServer().on('/udf/config', () => config));
    const callback = vi.fn();
    datafeed.onReady(callback);
    expect(callback).not.toHaveBeenCalled();
    await flush();
    expect(callback).toHaveBeenCalledWith(config);
    datafeed.onReady(callback);
    await flush();
    expect(server.requestsTo('/udf/config')).toHaveLength(1);
  });

  it('falls back to built-in defaults when the server is unreachable', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { datafeed } = setup(new FakeServer());
    const callback = vi.fn();
    datafeed.onReady(callback);
    await flush();
    expect(callback).toHaveBeenCalledWith(FALLBACK_CONFIGURATION);
    warn.mockRestore();
  });
});

describe('searchSymbols and resolveSymbol', () => {
  it('passes query, type, exchange and a limit of 30', async () => {
    const item = {
      symbol: 'BTC/USD',
      full_name: SYMBOL,
      description: 'Bitcoin',
      exchange: 'Coinbase',
      ticker: SYMBOL,
      type: 'crypto',
    };
    const { datafeed, server } = setup(new FakeServer().on('/udf/search', () => [item]));
    const onResult = vi.fn();
    datafeed.searchSymbols('btc', 'Coinbase', 'crypto', onResult);
    await flush();
    expect(onResult).toHaveBeenCalledWith([item]);
    const params = server.requestsTo('/udf/search')[0]?.params;
    expect(Object.fromEntries(params ?? [])).toEqual({
      query: 'btc',
      type: 'crypto',
      exchange: 'Coinbase',
      limit: '30',
    });
  });

  it('resolves a known symbol, filling what the library needs', async () => {
    const { datafeed, server } = setup(
      new FakeServer().on('/udf/symbols', () => ({ ...symbolInfo, ticker: undefined })),
    );
    const onResolve = vi.fn();
    datafeed.resolveSymbol(SYMBOL, onResolve, vi.fn());
    await flush();
    expect(server.requestsTo('/udf/symbols')[0]?.params.get('symbol')).toBe(SYMBOL);
    const resolved = onResolve.mock.calls[0]?.[0] as LibrarySymbolInfo;
    expect(resolved.ticker).toBe('BTC/USD');
    expect(resolved.has_seconds).toBe(true);
    expect(resolved.data_status).toBe('streaming');
  });

  it('reports an unknown symbol as "unknown_symbol"', async () => {
    const { datafeed } = setup(
      new FakeServer().on('/udf/symbols', () => ({ s: 'error', errmsg: 'unknown_symbol' }), 404),
    );
    const onError = vi.fn();
    datafeed.resolveSymbol('Nowhere:NOPE/USD', vi.fn(), onError);
    await flush();
    expect(onError).toHaveBeenCalledWith('unknown_symbol');
  });
});

describe('getBars', () => {
  it('sends from, to and countBack and hands bars over in milliseconds', async () => {
    const { datafeed, server } = setup(new FakeServer().on('/udf/history', () => history([60, 120, 180])));
    const { bars, meta } = await getBars(datafeed, '1', { from: 0, to: 240, countBack: 300, firstDataRequest: true });
    expect(Object.fromEntries(server.requestsTo('/udf/history')[0]?.params ?? [])).toEqual({
      symbol: SYMBOL,
      resolution: '1',
      from: '0',
      to: '240',
      countback: '300',
    });
    expect(bars.map((bar) => bar.time)).toEqual([60_000, 120_000, 180_000]);
    expect(bars[0]).toEqual({ time: 60_000, open: 1, high: 2, low: 0.5, close: 1.5, volume: 10 });
    expect(meta).toEqual({ noData: false });
  });

  it('returns more bars than [from, to) holds when countBack asks for them', async () => {
    // The server honours countback by going back past `from`; nothing may be cut off.
    const times = Array.from({ length: 300 }, (_, i) => 60 * i);
    const { datafeed } = setup(new FakeServer().on('/udf/history', () => history(times)));
    const { bars } = await getBars(datafeed, '1', {
      from: 17_000,
      to: 18_000,
      countBack: 300,
      firstDataRequest: false,
    });
    expect(bars).toHaveLength(300);
  });

  it('omits countback when the library sends none', async () => {
    const { datafeed, server } = setup(new FakeServer().on('/udf/history', () => history([60])));
    await getBars(datafeed, '1D', { from: 0, to: 86_400, countBack: 0, firstDataRequest: false });
    expect(server.requestsTo('/udf/history')[0]?.params.has('countback')).toBe(false);
  });

  it('normalises the resolution spelling', async () => {
    const { datafeed, server } = setup(new FakeServer().on('/udf/history', () => history([0])));
    await getBars(datafeed, 'D', { from: 0, to: 86_400, countBack: 1, firstDataRequest: false });
    expect(server.requestsTo('/udf/history')[0]?.params.get('resolution')).toBe('1D');
  });

  it('keeps `to` exclusive and times unique and ascending, whatever the server does', async () => {
    const { datafeed } = setup(new FakeServer().on('/udf/history', () => history([180, 60, 120, 120, 240])));
    const { bars } = await getBars(datafeed, '1', { from: 0, to: 240, countBack: 10, firstDataRequest: false });
    expect(bars.map((bar) => bar.time / 1000)).toEqual([60, 120, 180]);
  });

  it('passes nextTime (seconds) on no_data so the library can jump the gap', async () => {
    const { datafeed } = setup(new FakeServer().on('/udf/history', () => ({ s: 'no_data', nextTime: 1_700_000_000 })));
    const { bars, meta } = await getBars(datafeed, '1', {
      from: 1_800_000_000,
      to: 1_800_003_600,
      countBack: 0,
      firstDataRequest: false,
    });
    expect(bars).toEqual([]);
    expect(meta).toEqual({ noData: true, nextTime: 1_700_000_000 });
  });

  it('reads a nextTime served in milliseconds as seconds', async () => {
    const { datafeed } = setup(
      new FakeServer().on('/udf/history', () => ({ s: 'no_data', nextTime: 1_700_000_000_000 })),
    );
    const { meta } = await getBars(datafeed, '1', {
      from: 1_800_000_000,
      to: 1_800_003_600,
      countBack: 0,
      firstDataRequest: false,
    });
    expect(meta.nextTime).toBe(1_700_000_000);
  });

  it('says noData without nextTime when history has run out', async () => {
    const { datafeed } = setup(new FakeServer().on('/udf/history', () => ({ s: 'no_data' })));
    const { meta } = await getBars(datafeed, '1', { from: 0, to: 60, countBack: 5, firstDataRequest: false });
    expect(meta).toEqual({ noData: true });
  });

  it('reports {s:"error"} through onError with errmsg', async () => {
    const { datafeed } = setup(
      new FakeServer().on('/udf/history', () => ({ s: 'error', errmsg: 'countback too large' }), 400),
    );
    await expect(getBars(datafeed, '1', { from: 0, to: 60, countBack: 1e9, firstDataRequest: false })).rejects.toThrow(
      'countback too large',
    );
  });

  it('rejects an unsupported resolution without asking the server', async () => {
    const { datafeed, server } = setup(new FakeServer());
    await expect(getBars(datafeed, '1H', { from: 0, to: 60, countBack: 1, firstDataRequest: false })).rejects.toThrow(
      'hours are written in minutes, `60`',
    );
    expect(server.requests).toHaveLength(0);
  });
});

describe('server time, marks and quotes', () => {
  it('getServerTime answers seconds', async () => {
    const { datafeed } = setup(new FakeServer().on('/udf/time', () => 1_732_406_400));
    const callback = vi.fn();
    datafeed.getServerTime(callback);
    await flush();
    expect(callback).toHaveBeenCalledWith(1_732_406_400);
  });

  it('getMarks turns the column table into marks', async () => {
    const table = {
      id: [1, 2],
      time: [60, 120],
      color: ['green', 'red'],
      text: ['SMA 20 crosses above SMA 50', 'below'],
      label: ['G', 'D'],
      labelFontColor: ['white', 'white'],
      minSize: [14, 14],
    };
    const { datafeed, server } = setup(new FakeServer().on('/udf/marks', () => table));
    const callback = vi.fn();
    datafeed.getMarks(symbolInfo, 0, 180, callback, '1');
    await flush();
    expect(callback).toHaveBeenCalledWith([
      {
        id: 1,
        time: 60,
        color: 'green',
        text: 'SMA 20 crosses above SMA 50',
        label: 'G',
        labelFontColor: 'white',
        minSize: 14,
      },
      { id: 2, time: 120, color: 'red', text: 'below', label: 'D', labelFontColor: 'white', minSize: 14 },
    ]);
    expect(Object.fromEntries(server.requestsTo('/udf/marks')[0]?.params ?? [])).toEqual({
      symbol: SYMBOL,
      resolution: '1',
      from: '0',
      to: '180',
    });
  });

  it('getTimescaleMarks passes the array through', async () => {
    const marks = [{ id: 'x', time: 60, color: 'blue', label: 'X', tooltip: ['cross'] }];
    const { datafeed } = setup(new FakeServer().on('/udf/timescale_marks', () => marks));
    const callback = vi.fn();
    datafeed.getTimescaleMarks(symbolInfo, 0, 180, callback, '1');
    await flush();
    expect(callback).toHaveBeenCalledWith(marks);
  });

  it('getQuotes answers the d list, or the error', async () => {
    const d = [{ s: 'ok', n: SYMBOL, v: { lp: 97_000, ch: 10, chp: 0.01 } }];
    const { datafeed, server } = setup(new FakeServer().on('/udf/quotes', () => ({ s: 'ok', d })));
    const onData = vi.fn();
    datafeed.getQuotes([SYMBOL, 'Kraken:ETH/USD'], onData, vi.fn());
    await flush();
    expect(onData).toHaveBeenCalledWith(d);
    expect(server.requestsTo('/udf/quotes')[0]?.params.get('symbols')).toBe(`${SYMBOL},Kraken:ETH/USD`);

    const failing = setup(new FakeServer().on('/udf/quotes', () => ({ s: 'error', errmsg: 'no symbols' }), 400));
    const onError = vi.fn();
    failing.datafeed.getQuotes([], vi.fn(), onError);
    await flush();
    expect(onError).toHaveBeenCalledWith('no symbols');
  });

  it("subscribeQuotes follows quotes on the page's one stream, with the bars, until unsubscribed", async () => {
    const server = new FakeServer()
      .on('/udf/streams/s1/subscribe', () => ({ s: 'ok', subscribed: [] }))
      .on('/udf/streams/s1/unsubscribe', () => ({ s: 'ok' }));
    const { datafeed, sources } = setup(server);
    const onRealtime = vi.fn();
    datafeed.subscribeQuotes([SYMBOL], [SYMBOL], onRealtime, 'q1');
    expect(sources.all).toHaveLength(1);
    expect(new URLSearchParams(sources.last.url.split('?')[1]).getAll('quote')).toEqual([SYMBOL]);
    sources.last.open();
    sources.last.emit('hello', { stream: 's1' });
    const quote = { s: 'ok', n: SYMBOL, v: { lp: 1, ch: 0.5, chp: 1.2 } };
    sources.last.emit('quote', quote);
    sources.last.emit('quote', { s: 'ok', n: 'Other:A/B', v: { lp: 9 } }); // nobody follows it
    sources.last.emit('quote', '{"s": "ok"'); // malformed: dropped
    expect(onRealtime.mock.calls).toEqual([[[quote]]]);
    expect(datafeed.streamedQuote(SYMBOL)).toEqual(quote);

    // a second listener gets the newest quote at once; more symbols go to the open stream
    const late = vi.fn();
    const symbols = Array.from({ length: 45 }, (_, i) => `X:S${String(i)}/USD`);
    datafeed.subscribeQuotes([SYMBOL, ...symbols], [], late, 'q2');
    expect(late.mock.calls).toEqual([[[quote]]]);
    expect(sources.all).toHaveLength(1);
    await flush();
    const added = server.requestsTo('/udf/streams/s1/subscribe').map((request) => request.params.getAll('quote'));
    expect(added.map((chunk) => chunk.length)).toEqual([40, 5]);
    expect(added.flat().sort()).toEqual([...symbols].sort());

    datafeed.unsubscribeQuotes('q2');
    await flush();
    const dropped = server
      .requestsTo('/udf/streams/s1/unsubscribe')
      .flatMap((request) => request.params.getAll('quote'));
    expect(dropped.sort()).toEqual([...symbols].sort());
    datafeed.unsubscribeQuotes('q1');
    expect(sources.last.closed).toBe(true);
    sources.last.emit('quote', quote);
    expect(onRealtime).toHaveBeenCalledTimes(1);
  });
});
