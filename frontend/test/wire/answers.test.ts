import { describe, expect, it } from 'vitest';
import {
  configAnswer,
  functionsAnswer,
  historyAnswer,
  indicatorAnswer,
  marksAnswer,
  nextTimeSeconds,
  quotesAnswer,
  searchAnswer,
  streamBarEvent,
  streamHelloEvent,
  streamResetEvent,
  streamSubscribedEvent,
  symbolAnswer,
  timeAnswer,
  timescaleMarksAnswer,
} from '../../src/wire/answers';
import { UdfClient, UdfError } from '../../src/wire/udf-client';
import { FakeServer } from '../fakes';

const ok = <T>(value: T) => ({ ok: true, value });

describe('historyAnswer', () => {
  it('turns the column table into bars, volume 0 when v is missing', () => {
    expect(historyAnswer({ s: 'ok', t: [60, 120], o: [1, 2], h: [3, 4], l: [0, 1], c: [2, 3] }, '')).toEqual(
      ok({
        status: 'ok',
        bars: [
          { time: 60, open: 1, high: 3, low: 0, close: 2, volume: 0 },
          { time: 120, open: 2, high: 4, low: 1, close: 3, volume: 0 },
        ],
      }),
    );
  });

  it('reads no_data with nextTime in seconds, even when served in milliseconds', () => {
    expect(historyAnswer({ s: 'no_data' }, '')).toEqual(ok({ status: 'no_data' }));
    expect(historyAnswer({ s: 'no_data', nextTime: 1_732_406_400 }, '')).toEqual(
      ok({ status: 'no_data', nextTime: 1_732_406_400 }),
    );
    expect(historyAnswer({ s: 'no_data', nextTime: 1_732_406_400_000 }, '')).toEqual(
      ok({ status: 'no_data', nextTime: 1_732_406_400 }),
    );
    expect(nextTimeSeconds(60)).toBe(60);
  });

  it('rejects a wrong status, a bad value and columns of different lengths', () => {
    expect(historyAnswer({ s: 'maybe' }, '')).toEqual({
      ok: false,
      error: 's: expected "ok" or "no_data", got "maybe"',
    });
    expect(historyAnswer({ s: 'ok', t: [60], o: [1], h: [1], l: ['1'], c: [1] }, '')).toEqual({
      ok: false,
      error: 'l[0]: expected a finite number, got "1"',
    });
    expect(historyAnswer({ s: 'ok', t: [60, 120], o: [1], h: [1, 1], l: [1, 1], c: [1, 1] }, '')).toEqual({
      ok: false,
      error: 'columns t o h l c differ in length (2, 1, 2, 2, 2)',
    });
    expect(historyAnswer('ok', '').ok).toBe(false);
  });
});

describe('indicatorAnswer', () => {
  it('drops null values (period not filled yet) and reads no_data as no points', () => {
    expect(indicatorAnswer({ s: 'ok', t: [60, 120, 180], v: [null, 2, 3] }, '')).toEqual(
      ok([
        { time: 120, value: 2 },
        { time: 180, value: 3 },
      ]),
    );
    expect(indicatorAnswer({ s: 'no_data', nextTime: 60 }, '')).toEqual(ok([]));
  });

  it('rejects values that are neither numbers nor null, and unequal columns', () => {
    expect(indicatorAnswer({ s: 'ok', t: [60], v: ['2'] }, '').ok).toBe(false);
    expect(indicatorAnswer({ s: 'ok', t: [60, 120], v: [1] }, '')).toEqual({
      ok: false,
      error: 'columns t v differ in length (2, 1)',
    });
  });
});

describe('symbolAnswer, searchAnswer, configAnswer', () => {
  it('keeps the fields it knows, leaving absent ones out for the datafeed to fill', () => {
    const checked = symbolAnswer(
      { name: 'BTC/USD', pricescale: 100, has_seconds: true, currency_code: 'USD', x: 1 },
      '',
    );
    expect(checked).toEqual(ok({ name: 'BTC/USD', pricescale: 100, has_seconds: true, currency_code: 'USD' }));
    expect(symbolAnswer({ pricescale: 100 }, '')).toEqual({ ok: false, error: 'name: expected a string, got nothing' });
    expect(symbolAnswer({ name: 'X', format: 'percent' }, '').ok).toBe(false);
  });

  it('requires symbol and full_name of search items and defaults the rest', () => {
    expect(searchAnswer([{ symbol: 'BTC/USD', full_name: 'Coinbase:BTC/USD' }], '')).toEqual(
      ok([{ symbol: 'BTC/USD', full_name: 'Coinbase:BTC/USD', description: '', exchange: '', type: '' }]),
    );
    expect(searchAnswer([{ symbol: 'BTC/USD' }], '')).toEqual({
      ok: false,
      error: '[0].full_name: expected a string, got nothing',
    });
    expect(searchAnswer({}, '').ok).toBe(false);
  });

  it('checks the configuration fields that are present', () => {
    expect(configAnswer({ supports_marks: true, exchanges: [{ value: '', name: 'All' }] }, '')).toEqual(
      ok({ supports_marks: true, exchanges: [{ value: '', name: 'All', desc: '' }] }),
    );
    expect(configAnswer({ supported_resolutions: '1,5' }, '').ok).toBe(false);
  });
});

describe('timeAnswer and quotesAnswer', () => {
  it('reads server time as a number or as numeric text', () => {
    expect(timeAnswer(1_732_406_400, '')).toEqual(ok(1_732_406_400));
    expect(timeAnswer('1732406400', '')).toEqual(ok(1_732_406_400));
    expect(timeAnswer('soon', '').ok).toBe(false);
    expect(timeAnswer('', '').ok).toBe(false);
  });

  it('reads the d list, an error entry with no values included', () => {
    const d = [
      { s: 'ok', n: 'A', v: { lp: 1, ch: 0.5, short_name: 'A' } },
      { s: 'error', n: 'B', v: {} },
    ];
    expect(quotesAnswer({ s: 'ok', d }, '')).toEqual(ok(d));
    expect(quotesAnswer({ s: 'ok', d: [{ s: 'ok', n: 'A', v: { lp: 'high' } }] }, '')).toEqual({
      ok: false,
      error: 'd[0].v.lp: expected a finite number, got "high"',
    });
  });
});

describe('marksAnswer', () => {
  it('reads the column table, a missing column taking its default', () => {
    expect(
      marksAnswer({ id: [1, 'b'], time: [60, 120], color: ['green', { border: '#000', background: '#fff' }] }, ''),
    ).toEqual(
      ok([
        { id: 1, time: 60, color: 'green', text: '', label: '', labelFontColor: 'white', minSize: 14 },
        {
          id: 'b',
          time: 120,
          color: { border: '#000', background: '#fff' },
          text: '',
          label: '',
          labelFontColor: 'white',
          minSize: 14,
        },
      ]),
    );
  });

  it('reads the kind column candleflow adds, and leaves kind out where a server sends none', () => {
    const checked = marksAnswer({ id: [1, 2], time: [60, 120], kind: ['golden_cross', 'death_cross'] }, '');
    expect(checked.ok && checked.value.map((mark) => mark.kind)).toEqual(['golden_cross', 'death_cross']);
    const without = marksAnswer({ id: [1], time: [60] }, '');
    expect(without.ok && 'kind' in (without.value[0] ?? {})).toBe(false);
    expect(marksAnswer({ id: [1], time: [60], kind: [3] }, '')).toEqual({
      ok: false,
      error: '[0].kind: expected a string, got 3',
    });
  });

  it('reads an array of marks and no_data', () => {
    expect(marksAnswer([{ id: 1, time: 60, color: 'red', text: 't', label: 'D' }], '')).toEqual(
      ok([{ id: 1, time: 60, color: 'red', text: 't', label: 'D', labelFontColor: 'white', minSize: 14 }]),
    );
    expect(marksAnswer({ s: 'no_data' }, '')).toEqual(ok([]));
  });

  it('rejects short columns, a missing time and unknown colours', () => {
    expect(marksAnswer({ id: [1, 2], time: [60] }, '')).toEqual({
      ok: false,
      error: 'time: expected a column of 2 values, as many as "id", got an array',
    });
    expect(marksAnswer({ id: [1] }, '')).toEqual({
      ok: false,
      error: '[0].time: expected a finite number, got nothing',
    });
    expect(marksAnswer({ id: [1], time: [60], color: ['purple'] }, '').ok).toBe(false);
    expect(marksAnswer({ time: [60] }, '')).toEqual({
      ok: false,
      error: 'id: expected a column of mark ids, got nothing',
    });
  });

  it('checks timescale marks', () => {
    const mark = { id: 'g-60', time: 60, color: 'green', label: 'G', tooltip: ['Golden cross'], shape: 'earningUp' };
    expect(timescaleMarksAnswer([mark], '')).toEqual(ok([mark]));
    expect(timescaleMarksAnswer([{ ...mark, shape: 'star' }], '').ok).toBe(false);
  });
});

describe('streamBarEvent', () => {
  it('reads a bar event, defaulting what the server may leave out', () => {
    expect(streamBarEvent('{"time":60,"open":1,"high":2,"low":0,"close":1.5}')).toEqual(
      ok({ symbol: '', resolution: '', time: 60, open: 1, high: 2, low: 0, close: 1.5, volume: 0 }),
    );
  });

  it('says why an event is unusable', () => {
    expect(streamBarEvent('{"time":60')).toEqual({ ok: false, error: 'not JSON' });
    expect(streamBarEvent('{"time":60,"open":1,"high":2,"low":0}')).toEqual({
      ok: false,
      error: 'close: expected a finite number, got nothing',
    });
  });
});

describe('the protocol events of a multiplexed stream', () => {
  it('reads hello, subscribed and reset', () => {
    expect(streamHelloEvent('{"stream":"ab12"}')).toEqual(ok({ stream: 'ab12' }));
    expect(streamSubscribedEvent('{"sub":"BTC/USD|1","symbol":"Coinbase:BTC/USD","resolution":"1"}')).toEqual(
      ok({ sub: 'BTC/USD|1', symbol: 'Coinbase:BTC/USD', resolution: '1' }),
    );
    expect(streamResetEvent('{"symbol":"Coinbase:BTC/USD","resolution":"1"}')).toEqual(
      ok({ symbol: 'Coinbase:BTC/USD', resolution: '1' }),
    );
  });

  it('refuses what the server never sends', () => {
    expect(streamHelloEvent('{"stream":7}').ok).toBe(false);
    expect(streamHelloEvent('hello').ok).toBe(false);
    expect(streamSubscribedEvent('{"sub":"BTC/USD|1","symbol":"Coinbase:BTC/USD"}').ok).toBe(false);
    expect(streamResetEvent('{}').ok).toBe(false);
  });
});

describe('UdfClient at the edge', () => {
  it('turns an answer that fails its check into a UdfError naming the endpoint', async () => {
    const server = new FakeServer().on('/udf/history', () => ({ s: 'ok', t: [60], o: [1], h: [1], l: [1], c: [null] }));
    const client = new UdfClient({ fetch: server.fetch });
    const failure = client.history({ symbol: 'A', resolution: '1', from: 0, to: 120 });
    await expect(failure).rejects.toBeInstanceOf(UdfError);
    await expect(failure).rejects.toThrow('malformed answer from /history: c[0]: expected a finite number, got null');
  });
});

describe('functionsAnswer', () => {
  it('reads the catalogue and defaults the optional fields', () => {
    const checked = functionsAnswer(
      {
        s: 'ok',
        functions: [
          {
            key: 'rsi(period=14)',
            name: 'rsi',
            type: 'indicator',
            values: { period: 14 },
            params: [],
            pane: 'own',
            outputs: ['rsi', 'avg_gain', 'avg_loss'],
            state: ['avg_gain', 'avg_loss'],
            summary: 'RSI',
            warmup: 14,
          },
          {
            key: 'crossover(fast=20,slow=50)',
            name: 'crossover',
            type: 'signal',
            values: { fast: 20, slow: 50 },
            params: [],
            inputs: ['sma(period=20)'],
          },
        ],
      },
      '',
    );
    expect(checked.ok && checked.value.map((entry) => [entry.key, entry.pane, entry.outputs.length])).toEqual([
      ['rsi(period=14)', 'own', 3],
      ['crossover(fast=20,slow=50)', 'price', 0],
    ]);
  });

  it('says where an entry is wrong', () => {
    const checked = functionsAnswer({ s: 'ok', functions: [{ key: 'x', name: 'x', type: 'macro', values: {} }] }, '');
    expect(checked.ok ? '' : checked.error).toContain('functions[0].type');
    const values = functionsAnswer(
      { s: 'ok', functions: [{ key: 'x', name: 'x', type: 'signal', values: { a: 'b' } }] },
      '',
    );
    expect(values.ok ? '' : values.error).toContain('functions[0].values.a');
  });
});
