/**
 * Where and how a mark is drawn on a bar chart: pinned to the bar it falls in,
 * pointing up (bullish), down (bearish) or neither, by the `kind` the server
 * gives it. A mark without a kind, or of a kind not listed here (a user-defined
 * signal), is a neutral signal.
 */
import type { CandleflowMark } from '../wire/answers';

export type MarkDirection = 'up' | 'down' | 'neutral';

/** The kind of a mark whose server names none. */
export const GENERIC_MARK_KIND = 'signal';

const DIRECTION_BY_KIND = new Map<string, MarkDirection>([
  ['golden_cross', 'up'],
  ['death_cross', 'down'],
  ['close_above_ema', 'up'],
  ['close_below_ema', 'down'],
]);

/** A mark pinned to a bar's time (seconds). */
export interface PlacedMark {
  id: string;
  time: number;
  kind: string;
  direction: MarkDirection;
  text: string;
}

export function markDirection(kind: string): MarkDirection {
  return DIRECTION_BY_KIND.get(kind) ?? 'neutral';
}

/**
 * Marks pinned to the newest bar at or before their time, ascending by time.
 * A mark older than every bar has no bar to sit on and is left out.
 */
export function placeMarks(
  marks: readonly CandleflowMark[],
  barTimeAtOrBefore: (time: number) => number | undefined,
): PlacedMark[] {
  const placed: PlacedMark[] = [];
  for (const mark of marks) {
    const time = barTimeAtOrBefore(mark.time);
    if (time === undefined) continue;
    const kind = mark.kind ?? GENERIC_MARK_KIND;
    placed.push({ id: String(mark.id), time, kind, direction: markDirection(kind), text: mark.label || mark.text });
  }
  return placed.sort((a, b) => a.time - b.time);
}
