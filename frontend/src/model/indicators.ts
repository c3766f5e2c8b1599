/**
 * The moving-average lines the chart can show, and how their newest point moves
 * with the live bar between two history loads. History values come from the
 * server (`/api/indicators`); only the point of the bar that is still forming is
 * computed here, with the same definitions (SMA: mean of the last `period`
 * closes; EMA: α = 2 / (period + 1) applied to the previous EMA).
 */
import type { IndicatorKind, IndicatorPoint } from '../wire/udf-client';

export interface MovingAverageLine {
  id: string;
  kind: IndicatorKind;
  period: number;
  color: string;
  /** Shown when the page opens. */
  defaultVisible: boolean;
}

export const MOVING_AVERAGES: readonly MovingAverageLine[] = [
  { id: 'sma20', kind: 'sma', period: 20, color: '#f59e0b', defaultVisible: true },
  { id: 'sma50', kind: 'sma', period: 50, color: '#3b82f6', defaultVisible: true },
  { id: 'sma200', kind: 'sma', period: 200, color: '#a855f7', defaultVisible: false },
  { id: 'ema20', kind: 'ema', period: 20, color: '#14b8a6', defaultVisible: false },
  { id: 'ema50', kind: 'ema', period: 50, color: '#ec4899', defaultVisible: false },
  { id: 'ema200', kind: 'ema', period: 200, color: '#84cc16', defaultVisible: false },
];

export function lineLabel(line: MovingAverageLine): string {
  return `${line.kind.toUpperCase()} ${line.period}`;
}

/** SMA of the last `period` closes, or undefined while fewer closes exist. */
export function smaOf(closes: readonly number[], period: number): number | undefined {
  if (closes.length < period) return undefined;
  const window = closes.slice(closes.length - period);
  return window.reduce((sum, close) => sum + close, 0) / period;
}

export function emaNext(previous: number, close: number, period: number): number {
  const alpha = 2 / (period + 1);
  return alpha * close + (1 - alpha) * previous;
}

/**
 * The newest point of a line after the bar at `time` closed at `close`.
 * `points` are the line's known points, ascending; `closes` end with `close`.
 */
export function livePoint(
  line: MovingAverageLine,
  points: readonly IndicatorPoint[],
  closes: readonly number[],
  time: number,
  close: number,
): IndicatorPoint | undefined {
  if (line.kind === 'sma') {
    const value = smaOf(closes, line.period);
    return value === undefined ? undefined : { time, value };
  }
  const last = points[points.length - 1];
  const previous = last?.time === time ? points[points.length - 2] : last;
  if (previous === undefined || previous.time >= time) return undefined;
  return { time, value: emaNext(previous.value, close, line.period) };
}

/** Merges `incoming` into `points` by time (incoming wins), ascending. */
export function mergePoints(points: readonly IndicatorPoint[], incoming: readonly IndicatorPoint[]): IndicatorPoint[] {
  const byTime = new Map<number, IndicatorPoint>();
  for (const point of points) byTime.set(point.time, point);
  for (const point of incoming) byTime.set(point.time, point);
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}
