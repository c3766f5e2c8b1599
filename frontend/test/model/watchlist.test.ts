import { describe, expect, it } from 'vitest';
import { MAX_WATCHED, quoteView, readWatchlist, WATCH_KEY, Watchlist, writeWatchlist } from '../../src/model/watchlist';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

describe('the watchlist', () => {
  it("opens with the link's list, else the stored one, else none", () => {
    const storage = new MemoryStorage();
    expect(readWatchlist('', storage)).toBeUndefined();
    writeWatchlist(storage, ['A:B/C', 'D:E/F']);
    expect(storage.items.get(WATCH_KEY)).toBe('["A:B/C","D:E/F"]');
    expect(readWatchlist('?symbol=X', storage)).toEqual(['A:B/C', 'D:E/F']);
    expect(readWatchlist('?watch=G%3AH%2FI,,%20A:B/C,G:H/I', storage)).toEqual(['G:H/I', 'A:B/C']);
    expect(readWatchlist('?watch=', storage)).toEqual([]);
    storage.setItem(WATCH_KEY, '{not json');
    expect(readWatchlist('', storage)).toBeUndefined();
    storage.setItem(WATCH_KEY, '[1, "A:B/C", null]');
    expect(readWatchlist('', storage)).toEqual(['A:B/C']);
    expect(readWatchlist('', undefined)).toBeUndefined();
  });

  it('adds a symbol once, removes it, and holds at most MAX_WATCHED', () => {
    const list = new Watchlist(['A:B/C']);
    expect(list.add(' D:E/F ')).toBe(true);
    expect(list.add('A:B/C')).toBe(false);
    expect(list.add('  ')).toBe(false);
    expect(list.symbols).toEqual(['A:B/C', 'D:E/F']);
    expect(list.remove('A:B/C')).toBe(true);
    expect(list.remove('A:B/C')).toBe(false);
    const full = new Watchlist(Array.from({ length: MAX_WATCHED + 5 }, (_, i) => `X:S${String(i)}/USD`));
    expect(full.symbols).toHaveLength(MAX_WATCHED);
    expect(full.add('Y:Z/USD')).toBe(false);
  });

  it('shows the last price and the 24 h change with its direction', () => {
    expect(quoteView({ s: 'ok', n: 'A', v: { lp: 101.5, chp: 1.234 } })).toEqual({
      price: '101.5',
      change: '+1.23%',
      direction: 'up',
    });
    expect(quoteView({ s: 'ok', n: 'A', v: { lp: 99, chp: -0.5 } })).toEqual({
      price: '99',
      change: '-0.50%',
      direction: 'down',
    });
    expect(quoteView({ s: 'ok', n: 'A', v: { lp: 99, chp: 0 } }).direction).toBe('flat');
    expect(quoteView({ s: 'error', n: 'A', v: {} })).toEqual({ price: '—', change: '—', direction: 'flat' });
    expect(quoteView(undefined).price).toBe('—');
  });
});
