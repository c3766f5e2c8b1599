/**
 * Where and how a UDF mark is drawn on a bar chart: pinned to the bar it falls in,
 * pointing up (bullish), down (bearish) or neither.
 */
import type { Mark } from '../wire/tv-types';

export type MarkDirection = 'up' | 'down' | 'neutral';

/** A mark pinned to a bar's time (seconds). */
export interface PlacedMark {
  id: string;
  time: number;
  direction: MarkDirection;
  text: string;
}

/** Up for a bullish crossover (green), down for a bearish one (red), neutral otherwise. */
export function markDirection(mark: Pick<Mark, 'color' | 'text' | 'label'>): MarkDirection {
  const color = typeof mark.color === 'string' ? mark.color : mark.color.background;
  const text = `${mark.label} ${mark.text}`.toLowerCase();
  if (color === 'green' || /golden|bull|cross(es)? above|\bup\b|buy/.test(text)) return 'up';
  if (color === 'red' || /death|bear|cross(es)? below|\bdown\b|sell/.test(text)) return 'down';
  return 'neutral';
}

/**
 * Marks pinned to the newest bar at or before their time, ascending by time.
 * A mark older than every bar has no bar to sit on and is left out.
 */
export function placeMarks(
  marks: readonly Mark[],
  barTimeAtOrBefore: (time: number) => number | undefined,
): PlacedMark[] {
  const placed: PlacedMark[] = [];
  for (const mark of marks) {
    const time = barTimeAtOrBefore(mark.time);
    if (time === undefined) continue;
    placed.push({ id: String(mark.id), time, direction: markDirection(mark), text: mark.label || mark.text });
  }
  return placed.sort((a, b) => a.time - b.time);
}
