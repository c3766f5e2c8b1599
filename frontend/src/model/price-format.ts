/**
 * How prices of one symbol are printed: decimals and tick size derived from the
 * UDF symbol info (`pricescale` = 10^decimals, `minmov` ticks per step).
 */
import type { LibrarySymbolInfo } from '../wire/tv-types';

export interface PriceFormat {
  type: 'price';
  precision: number;
  minMove: number;
}

/** A missing or non-positive `pricescale`/`minmov` counts as 100 and 1 (two decimals, one cent). */
export function priceFormatOf(info: Pick<LibrarySymbolInfo, 'pricescale' | 'minmov'>): PriceFormat {
  const pricescale = info.pricescale > 0 ? info.pricescale : 100;
  const precision = Math.max(0, Math.round(Math.log10(pricescale)));
  return { type: 'price', precision, minMove: (info.minmov > 0 ? info.minmov : 1) / pricescale };
}
