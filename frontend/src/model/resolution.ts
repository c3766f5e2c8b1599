/**
 * Resolution strings as TradingView spells them, and what they mean in time.
 *
 * `xS` seconds, `x` minutes (`60` and `240` for hours), `xD` days, `xW` weeks,
 * `xM` months; a count of 1 may be omitted (`D` == `1D`). Parsing is exact:
 * `parseInt("1W")` style guessing is how other datafeeds end up asking for
 * one-minute bars when the user picked a week.
 */

/** Every resolution candleflow stores and serves, finest first. */
export const SUPPORTED_RESOLUTIONS = ['1S', '1', '5', '15', '30', '60', '240', '1D', '1W', '1M'] as const;

export type SupportedResolution = (typeof SUPPORTED_RESOLUTIONS)[number];

export type ResolutionUnit = 'second' | 'minute' | 'day' | 'week' | 'month';

export interface ParsedResolution {
  count: number;
  unit: ResolutionUnit;
}

export class ResolutionError extends Error {
  constructor(resolution: string) {
    super(
      `unsupported resolution ${JSON.stringify(resolution)}: expected one of ${SUPPORTED_RESOLUTIONS.join(', ')} ` +
        '(or D, W, M for a count of one)',
    );
    this.name = 'ResolutionError';
  }
}

const PATTERN = /^(\d*)([SDWM]?)$/;
const UNIT_BY_SUFFIX: Record<string, ResolutionUnit> = { S: 'second', '': 'minute', D: 'day', W: 'week', M: 'month' };
const SUFFIX_BY_UNIT: Record<ResolutionUnit, string> = { second: 'S', minute: '', day: 'D', week: 'W', month: 'M' };
const UNIT_SECONDS: Record<ResolutionUnit, number> = {
  second: 1,
  minute: 60,
  day: 86_400,
  week: 7 * 86_400,
  // Months differ in length; this nominal value only sizes request windows.
  month: 30 * 86_400,
};

/** Parses any well-formed resolution string; throws `ResolutionError` otherwise. */
export function parseResolution(resolution: string): ParsedResolution {
  const match = PATTERN.exec(resolution.trim());
  if (!match) throw new ResolutionError(resolution);
  const [, digits = '', suffix = ''] = match;
  // Only days, weeks and months may leave a count of one out (`D`); `S` and `` may not.
  if (digits === '' && !['D', 'W', 'M'].includes(suffix)) throw new ResolutionError(resolution);
  const count = digits === '' ? 1 : Number(digits);
  const unit = UNIT_BY_SUFFIX[suffix];
  if (unit === undefined || !Number.isSafeInteger(count) || count < 1) throw new ResolutionError(resolution);
  return { count, unit };
}

/** The canonical spelling: `D` → `1D`, `01` → `1`. */
export function formatResolution({ count, unit }: ParsedResolution): string {
  return `${count}${SUFFIX_BY_UNIT[unit]}`;
}

export function normalizeResolution(resolution: string): string {
  return formatResolution(parseResolution(resolution));
}

export function isSupportedResolution(resolution: string): resolution is SupportedResolution {
  try {
    return (SUPPORTED_RESOLUTIONS as readonly string[]).includes(normalizeResolution(resolution));
  } catch {
    return false;
  }
}

/** Like `normalizeResolution`, but also rejects resolutions candleflow does not serve. */
export function toSupportedResolution(resolution: string): SupportedResolution {
  const normalized = normalizeResolution(resolution);
  if (!isSupportedResolution(normalized)) throw new ResolutionError(resolution);
  return normalized;
}

/** Nominal length of one bar in seconds (a month counts 30 days). */
export function resolutionSeconds(resolution: string): number {
  const { count, unit } = parseResolution(resolution);
  return count * UNIT_SECONDS[unit];
}

/** Short human label for buttons: `1s`, `5m`, `1h`, `4h`, `1D`, `1W`, `1M`. */
export function resolutionLabel(resolution: string): string {
  const { count, unit } = parseResolution(resolution);
  switch (unit) {
    case 'second':
      return `${count}s`;
    case 'minute':
      return count % 60 === 0 ? `${count / 60}h` : `${count}m`;
    case 'day':
      return `${count}D`;
    case 'week':
      return `${count}W`;
    case 'month':
      return `${count}M`;
  }
}
