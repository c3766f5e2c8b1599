import { describe, expect, it } from 'vitest';
import { codeParts, NO_SYMBOLS_HINT, searchTextOf } from '../../src/page/status';

describe('page messages', () => {
  it('tell a user without a clone how to feed the server, not only `make run`', () => {
    expect(NO_SYMBOLS_HINT).toContain('`make run`');
    expect(NO_SYMBOLS_HINT).toContain('`CANDLEFLOW_SOURCE=synthetic`');
    expect(NO_SYMBOLS_HINT).toContain('`candleflow ingest synthetic`');
    expect(NO_SYMBOLS_HINT).not.toContain('is the feed running');
  });

  it('search an unknown symbol by its base asset', () => {
    expect(searchTextOf('Bogus:BTC/XYZ')).toBe('BTC');
    expect(searchTextOf('ETH/USD')).toBe('ETH');
    expect(searchTextOf('dogecoin')).toBe('dogecoin');
  });

  it('render backticks as code', () => {
    expect(codeParts('write `1D` (1 day)')).toEqual([
      { text: 'write ', code: false },
      { text: '1D', code: true },
      { text: ' (1 day)', code: false },
    ]);
  });
});
