import { describe, expect, it } from 'vitest';
import { readGrid, readLocation, writeLocation } from '../../src/page/url-state';

describe('URL state', () => {
  it('round-trips an exchange-qualified symbol', () => {
    const search = writeLocation('?theme=dark', 'Coinbase:BTC/USD', '1D');
    expect(search).toBe('?theme=dark&symbol=Coinbase%3ABTC%2FUSD&resolution=1D');
    expect(readLocation(search)).toEqual({ symbol: 'Coinbase:BTC/USD', resolution: '1D' });
  });

  it('normalises the resolution and falls back to one minute', () => {
    expect(readLocation('?symbol=X&resolution=D').resolution).toBe('1D');
    expect(readLocation('?symbol=X&resolution=7').resolution).toBe('1');
    expect(readLocation('').symbol).toBeUndefined();
  });

  it('reads the charts of the grid page, skipping malformed ones', () => {
    const search = `?charts=${encodeURIComponent('Coinbase:BTC/USD|1S, Kraken:ETH/USD|60,nobar,X|2,|1')}`;
    expect(readGrid(search)).toEqual([
      { symbol: 'Coinbase:BTC/USD', resolution: '1S' },
      { symbol: 'Kraken:ETH/USD', resolution: '60' },
    ]);
    expect(readGrid('')).toEqual([]);
  });
});
