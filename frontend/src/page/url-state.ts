/**
 * The chart's state lives in the query string, so a link reopens the same chart:
 * `?symbol=Coinbase%3ABTC%2FUSD&resolution=5`, plus the toggles once the user changed
 * them: `&lines=sma20+rsi14` (the visible indicator lines; absent: the defaults) and
 * `&marks=off` (signal marks hidden). A resolution the server would refuse is not
 * guessed at: it is reported (`problem`, the API's own words) and the default is used.
 */
import {
  resolutionAdvice,
  isSupportedResolution,
  toSupportedResolution,
  type SupportedResolution,
} from '../model/resolution';

export const DEFAULT_RESOLUTION: SupportedResolution = '1';

export interface ChartLocation {
  symbol: string | undefined;
  resolution: SupportedResolution;
  /** Why the URL's resolution was not used (it is not one the server accepts). */
  problem?: string;
}

export function readLocation(search: string): ChartLocation {
  const params = new URLSearchParams(search);
  const typed = params.get('symbol')?.trim();
  const symbol = typed === '' ? undefined : typed;
  const raw = params.get('resolution');
  if (raw === null || isSupportedResolution(raw)) {
    return { symbol, resolution: raw === null ? DEFAULT_RESOLUTION : toSupportedResolution(raw) };
  }
  return { symbol, resolution: DEFAULT_RESOLUTION, problem: resolutionAdvice(raw) };
}

/** The query string for a chart, keeping any other parameters (e.g. `theme`). */
export function writeLocation(search: string, symbol: string, resolution: string): string {
  const params = new URLSearchParams(search);
  params.set('symbol', symbol);
  params.set('resolution', resolution);
  return `?${params.toString()}`;
}

/** The toggles a link carries: visible lines (undefined: the defaults) and whether marks show. */
export interface ToggleState {
  lines: string[] | undefined;
  marks: boolean;
}

export function readToggles(search: string): ToggleState {
  const params = new URLSearchParams(search);
  const lines = params.get('lines');
  return {
    lines: lines === null ? undefined : lines.split(' ').filter((id) => id !== ''),
    marks: params.get('marks') !== 'off',
  };
}

/** The query string with `toggles` in it (`lines` left out when undefined, `marks` when shown). */
export function writeToggles(search: string, toggles: ToggleState): string {
  const params = new URLSearchParams(search);
  if (toggles.lines === undefined) params.delete('lines');
  else params.set('lines', toggles.lines.join(' '));
  if (toggles.marks) params.delete('marks');
  else params.set('marks', 'off');
  return `?${params.toString()}`;
}

/** One chart of grid.html, or what is wrong with its spec. */
export type GridCell =
  { spec: string; symbol: string; resolution: SupportedResolution } | { spec: string; problem: string };

/** The charts of grid.html: `?charts=<symbol>|<resolution>,…` (split at each last `|`), in order. */
export function readGrid(search: string): GridCell[] {
  const raw = new URLSearchParams(search).get('charts') ?? '';
  return raw
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec !== '')
    .map((spec): GridCell => {
      const cut = spec.lastIndexOf('|');
      const symbol = cut < 0 ? '' : spec.slice(0, cut).trim();
      if (cut < 0 || symbol === '') {
        return { spec, problem: `'${spec}' is not <symbol>|<resolution>, e.g. Coinbase:BTC/USD|1` };
      }
      const resolution = spec.slice(cut + 1);
      if (!isSupportedResolution(resolution)) return { spec, problem: resolutionAdvice(resolution) };
      return { spec, symbol, resolution: toSupportedResolution(resolution) };
    });
}
