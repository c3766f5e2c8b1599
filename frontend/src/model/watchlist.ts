/**
 * The watchlist: the symbols the user follows, in their order, and how a quote shows.
 * Kept in local storage (`candleflow.watchlist`, a JSON array); a link may carry one
 * (`?watch=A,B`), which then replaces the stored list. Pure but for the storage given.
 */
import type { QuoteData } from '../wire/tv-types';

export const WATCH_KEY = 'candleflow.watchlist';
/** Symbols a watchlist holds at most (the stream follows up to 1,000 quotes). */
export const MAX_WATCHED = 200;

/** The part of `Storage` used. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

function clean(symbols: readonly unknown[]): string[] {
  const names = symbols.filter((s): s is string => typeof s === 'string').map((s) => s.trim());
  return [...new Set(names.filter((s) => s !== ''))].slice(0, MAX_WATCHED);
}

/** The list a page opens with: the link's `watch`, else the stored one; undefined when neither has one. */
export function readWatchlist(search: string, storage: StorageLike | undefined): string[] | undefined {
  const linked = new URLSearchParams(search).get('watch');
  if (linked !== null) return clean(linked.split(','));
  const stored = storage?.getItem(WATCH_KEY);
  if (stored === null || stored === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(stored);
    return Array.isArray(value) ? clean(value) : undefined;
  } catch {
    return undefined;
  }
}

export function writeWatchlist(storage: StorageLike | undefined, symbols: readonly string[]): void {
  try {
    storage?.setItem(WATCH_KEY, JSON.stringify(symbols));
  } catch {
    // storage full or forbidden (private mode): the list lives until the page closes
  }
}

export class Watchlist {
  private items: string[];

  constructor(symbols: readonly string[] = []) {
    this.items = clean(symbols);
  }

  get symbols(): readonly string[] {
    return this.items;
  }

  /** False when it is listed already (or the list is full). */
  add(symbol: string): boolean {
    const name = symbol.trim();
    if (name === '' || this.items.includes(name) || this.items.length >= MAX_WATCHED) return false;
    this.items = [...this.items, name];
    return true;
  }

  remove(symbol: string): boolean {
    const before = this.items.length;
    this.items = this.items.filter((item) => item !== symbol);
    return this.items.length !== before;
  }
}

export interface QuoteView {
  price: string;
  change: string;
  direction: 'up' | 'down' | 'flat';
}

function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Last price and 24 h change (%) as a row shows them; dashes for an unknown symbol. */
export function quoteView(quote: QuoteData | undefined): QuoteView {
  const values = quote?.s === 'ok' ? quote.v : {};
  const price = numberOf(values.lp);
  const percent = numberOf(values.chp);
  if (price === undefined) return { price: '—', change: '—', direction: 'flat' };
  const direction = percent === undefined || percent === 0 ? 'flat' : percent > 0 ? 'up' : 'down';
  const sign = percent !== undefined && percent > 0 ? '+' : '';
  return { price: String(price), change: percent === undefined ? '—' : `${sign}${percent.toFixed(2)}%`, direction };
}
