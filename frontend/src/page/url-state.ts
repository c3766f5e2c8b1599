/**
 * The chart's symbol and resolution live in the query string
 * (`?symbol=Coinbase%3ABTC%2FUSD&resolution=5`), so a link reopens the same chart.
 */
import { isSupportedResolution, toSupportedResolution, type SupportedResolution } from '../model/resolution';

export const DEFAULT_RESOLUTION: SupportedResolution = '1';

export interface ChartLocation {
  symbol: string | undefined;
  resolution: SupportedResolution;
}

export function readLocation(search: string): ChartLocation {
  const params = new URLSearchParams(search);
  const typed = params.get('symbol')?.trim();
  const symbol = typed === '' ? undefined : typed;
  const raw = params.get('resolution') ?? '';
  const resolution = isSupportedResolution(raw) ? toSupportedResolution(raw) : DEFAULT_RESOLUTION;
  return { symbol, resolution };
}

/** The query string for a chart, keeping any other parameters (e.g. `theme`). */
export function writeLocation(search: string, symbol: string, resolution: string): string {
  const params = new URLSearchParams(search);
  params.set('symbol', symbol);
  params.set('resolution', resolution);
  return `?${params.toString()}`;
}

/** The charts of grid.html: `?charts=<symbol>|<resolution>,…` (split at each last `|`). */
export function readGrid(search: string): { symbol: string; resolution: SupportedResolution }[] {
  const raw = new URLSearchParams(search).get('charts') ?? '';
  return raw
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec.lastIndexOf('|') > 0 && isSupportedResolution(spec.slice(spec.lastIndexOf('|') + 1)))
    .map((spec) => {
      const cut = spec.lastIndexOf('|');
      return {
        symbol: spec.slice(0, cut),
        resolution: toSupportedResolution(spec.slice(cut + 1)),
      };
    });
}
