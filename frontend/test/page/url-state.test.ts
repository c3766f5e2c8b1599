import { describe, expect, it } from 'vitest';
import { readGrid, readLocation, readToggles, writeLocation, writeToggles } from '../../src/page/url-state';

describe('URL state', () => {
  it('round-trips an exchange-qualified symbol', () => {
    const search = writeLocation('?theme=dark', 'Coinbase:BTC/USD', '1D');
    expect(search).toBe('?theme=dark&symbol=Coinbase%3ABTC%2FUSD&resolution=1D');
    expect(readLocation(search)).toEqual({ symbol: 'Coinbase:BTC/USD', resolution: '1D' });
  });

  it('normalises the resolution, and says why it falls back to one minute', () => {
    expect(readLocation('?symbol=X&resolution=D')).toEqual({ symbol: 'X', resolution: '1D' });
    expect(readLocation('?symbol=X')).toEqual({ symbol: 'X', resolution: '1' });
    expect(readLocation('?symbol=X&resolution=7')).toEqual({
      symbol: 'X',
      resolution: '1',
      problem: "resolution '7' is not supported; supported: 1S, 1, 5, 15, 30, 60, 240, 1D, 1W, 1M",
    });
    // The spelling the API refuses is refused here too, in the API's words.
    expect(readLocation('?resolution=1m').problem).toBe(
      "resolution '1m' is ambiguous: minutes are plain numbers, `1`; a month is `1M`",
    );
    expect(readLocation('?resolution=4h').problem).toContain('`240`');
    expect(readLocation('').symbol).toBeUndefined();
  });

  it('keeps the indicator and marks toggles, and leaves defaults out of the link', () => {
    expect(readToggles('')).toEqual({ lines: undefined, marks: true });
    const search = writeToggles('?symbol=X&resolution=5', {
      lines: ['sma20', 'bollinger(period=20,width=2.0).upper'],
      marks: false,
    });
    expect(readToggles(search)).toEqual({ lines: ['sma20', 'bollinger(period=20,width=2.0).upper'], marks: false });
    expect(readLocation(search)).toEqual({ symbol: 'X', resolution: '5' });
    expect(readToggles(writeToggles(search, { lines: [], marks: true }))).toEqual({ lines: [], marks: true });
    expect(writeToggles(search, { lines: undefined, marks: true })).toBe('?symbol=X&resolution=5');
  });

  it('reads the charts of the grid page, with what is wrong with each malformed one', () => {
    const search = `?charts=${encodeURIComponent('Coinbase:BTC/USD|1S, Kraken:ETH/USD|60,nobar,X|2,|1,Y|1m')}`;
    expect(readGrid(search)).toEqual([
      { spec: 'Coinbase:BTC/USD|1S', symbol: 'Coinbase:BTC/USD', resolution: '1S' },
      { spec: 'Kraken:ETH/USD|60', symbol: 'Kraken:ETH/USD', resolution: '60' },
      { spec: 'nobar', problem: "'nobar' is not <symbol>|<resolution>, e.g. Coinbase:BTC/USD|1" },
      { spec: 'X|2', problem: "resolution '2' is not supported; supported: 1S, 1, 5, 15, 30, 60, 240, 1D, 1W, 1M" },
      { spec: '|1', problem: "'|1' is not <symbol>|<resolution>, e.g. Coinbase:BTC/USD|1" },
      { spec: 'Y|1m', problem: "resolution '1m' is ambiguous: minutes are plain numbers, `1`; a month is `1M`" },
    ]);
    expect(readGrid('')).toEqual([]);
  });
});
