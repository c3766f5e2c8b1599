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

/**
 * A volume as a trader reads it in a legend: thousands and up abbreviated (`12.35K`,
 * `4.56M`), units with two decimals, fractions with four significant digits (a crypto
 * volume of `0.0004054` BTC keeps its digits).
 */
export function formatVolume(volume: number): string {
  const size = Math.abs(volume);
  if (size >= 1e9) return `${(volume / 1e9).toFixed(2)}B`;
  if (size >= 1e6) return `${(volume / 1e6).toFixed(2)}M`;
  if (size >= 1e4) return `${(volume / 1e3).toFixed(2)}K`;
  if (size >= 1) return String(Number(volume.toFixed(2)));
  return String(Number(volume.toPrecision(4)));
}
