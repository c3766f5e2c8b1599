/**
 * Resolution strings as TradingView spells them, and what they mean in time.
 *
 * `xS` seconds, `x` minutes (`60` and `240` for hours), `xD` days, `xW` weeks,
 * `xM` months; a count of 1 may be omitted (`D` == `1D`). The spellings a user may
 * type (URL, toolbar) are the server's, from `resolution-table.ts`, which is generated
 * from `candleflow/domain/resolution.py`: `1m` is refused as ambiguous (a minute on
 * some sites, a month here), `1h` with the spelling to use, exactly as the API refuses
 * them. `parseResolution` is exact too: `parseInt("1W")` style guessing is how other
 * datafeeds end up asking for one-minute bars when the user picked a week.
 */
import {
  RESOLUTION_NAMES,
  SPELLINGS,
  SUPPORTED_RESOLUTIONS,
  UNIT_WORDS,
  type SupportedResolution,
} from './resolution-table';

export { SUPPORTED_RESOLUTIONS, type SupportedResolution };

export type ResolutionUnit = 'second' | 'minute' | 'day' | 'week' | 'month';

export interface ParsedResolution {
  count: number;
  unit: ResolutionUnit;
}

/** A resolution that is not an accepted spelling; the message says what to write instead. */
export class ResolutionError extends Error {
  constructor(resolution: string) {
    super(resolutionAdvice(resolution));
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
const WRITTEN = /^([0-9]{1,6})? *([A-Za-z]*)$/;

function supportedList(): string {
  return `supported: ${SUPPORTED_RESOLUTIONS.join(', ')}`;
}

function nameOf(code: string): string {
  return (RESOLUTION_NAMES as Record<string, string | undefined>)[code] ?? code;
}

/**
 * Why `text` is not an accepted spelling and what to write instead: the same words as
 * the API's 400 (`advice` in `candleflow/domain/resolution.py`; the generated examples
 * hold the two together).
 */
export function resolutionAdvice(text: string): string {
  const shown = `'${text.slice(0, 40)}'`;
  if (text !== text.trim()) return `resolution ${shown} has spaces around it: write \`${text.trim()}\``;
  const match = WRITTEN.exec(text);
  if (!match || text === '') return `resolution ${shown} is not a TradingView resolution; ${supportedList()}`;
  const [, digits, word = ''] = match;
  const count = digits ? Number(digits) : 1;
  const minutes = SUPPORTED_RESOLUTIONS.filter((code) => /^\d+$/.test(code));
  const listed = (codes: readonly string[]): string => codes.map((code) => `\`${code}\``).join(', ');
  if (word === 'm') {
    const spelled = minutes.includes(String(count) as SupportedResolution)
      ? `\`${count}\``
      : `one of ${listed(minutes)}`;
    return `resolution ${shown} is ambiguous: minutes are plain numbers, ${spelled}; a month is \`1M\``;
  }
  const unit = ['', 'S', 'D', 'W', 'M'].includes(word)
    ? word
    : UNIT_WORDS[word.length === 1 ? word : word.toLowerCase()];
  if (unit === undefined) return `resolution ${shown} is not a TradingView resolution; ${supportedList()}`;
  if (unit === 'H') {
    const code = String(count * 60);
    if (minutes.includes(code as SupportedResolution)) {
      return `resolution ${shown} is not a TradingView resolution: hours are written in minutes, \`${code}\``;
    }
    const hours = minutes
      .filter((minute) => Number(minute) % 60 === 0)
      .map((minute) => `\`${minute}\` (${nameOf(minute)})`);
    return `resolution ${shown} is not supported: hours are written in minutes, ${hours.join(', ')}`;
  }
  const code = `${count}${unit}`;
  if ((SUPPORTED_RESOLUTIONS as readonly string[]).includes(code)) {
    return `resolution ${shown} is not a TradingView spelling: write \`${code}\` (${nameOf(code)})`;
  }
  return `resolution ${shown} is not supported; ${supportedList()}`;
}

/** Parses any well-formed TradingView resolution string (`2D` too); throws `ResolutionError` otherwise. */
export function parseResolution(resolution: string): ParsedResolution {
  const match = PATTERN.exec(resolution);
  if (!match) throw new ResolutionError(resolution);
  const [, digits = '', suffix = ''] = match;
  // A count of one may be left out of a unit (`D`, `S`), never out of minutes.
  if (digits === '' && suffix === '') throw new ResolutionError(resolution);
  const count = digits === '' ? 1 : Number(digits);
  const unit = UNIT_BY_SUFFIX[suffix];
  if (unit === undefined || !Number.isSafeInteger(count) || count < 1) throw new ResolutionError(resolution);
  return { count, unit };
}

/** The canonical spelling: `D` → `1D`. */
export function formatResolution({ count, unit }: ParsedResolution): string {
  return `${count}${SUFFIX_BY_UNIT[unit]}`;
}

export function normalizeResolution(resolution: string): string {
  return formatResolution(parseResolution(resolution));
}

/** True for an accepted spelling (`1D`, `D`, `60`), false for anything the server refuses. */
export function isSupportedResolution(resolution: string): boolean {
  return Object.hasOwn(SPELLINGS, resolution);
}

/** The code of an accepted spelling (`D` → `1D`); throws `ResolutionError` saying what to write otherwise. */
export function toSupportedResolution(resolution: string): SupportedResolution {
  const code = Object.hasOwn(SPELLINGS, resolution) ? SPELLINGS[resolution] : undefined;
  if (code === undefined) throw new ResolutionError(resolution);
  return code;
}

/** Nominal length of one bar in seconds (a month counts 30 days). */
export function resolutionSeconds(resolution: string): number {
  const { count, unit } = parseResolution(resolution);
  return count * UNIT_SECONDS[unit];
}

/** What a person calls it: `1 minute`, `4 hours`, `1 day` (a spelling no one would type as a resolution). */
export function resolutionName(resolution: string): string {
  return Object.hasOwn(SPELLINGS, resolution) ? nameOf(SPELLINGS[resolution] ?? resolution) : resolution;
}

/** The supported resolution nearest to `resolution` in bar length (`7` → `5`, `2D` → `1D`); `1` when it is no resolution at all. */
export function nearestSupported(resolution: string): SupportedResolution {
  let seconds: number;
  try {
    seconds = resolutionSeconds(resolution);
  } catch {
    return '1';
  }
  const distance = (code: SupportedResolution): number => Math.abs(Math.log(resolutionSeconds(code) / seconds));
  return SUPPORTED_RESOLUTIONS.reduce((best, code) => (distance(code) < distance(best) ? code : best));
}
