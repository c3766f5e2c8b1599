/**
 * The indicator lines the chart can show: the moving averages it opens with, and
 * every line of the functions the server registers (`/api/functions`, e.g. RSI in
 * its own pane, Bollinger bands on the price). History values come from the server
 * (`/api/indicators`); only the SMA and EMA point of the bar that is still forming
 * is computed here, with the same definitions (SMA: mean of the last `period`
 * closes; EMA: α = 2 / (period + 1) applied to the previous EMA). Other functions'
 * newest point follows on the next history load.
 */
import type { FunctionEntry, IndicatorPoint } from '../wire/answers';

export interface MovingAverageLine {
  id: string;
  /** The function's name (`sma`, `ema`, `rsi`, ...), the `kind` of `/api/indicators`. */
  kind: string;
  period: number;
  color: string;
  /** Shown when the page opens. */
  defaultVisible: boolean;
  /** Every parameter of the function (default: `{period}`). */
  params?: Record<string, number>;
  /** The line of a multi-line function (Bollinger's `upper`); default: its first. */
  output?: string;
  /** `own`: drawn in a pane of its own below the candles. */
  pane?: 'price' | 'own';
  label?: string;
  /** Groups the toggles (a function's key). */
  group?: string;
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
  return line.label ?? `${line.kind.toUpperCase()} ${line.period}`;
}

/** Colours of function lines, in turn. */
const FUNCTION_COLORS = ['#0ea5e9', '#f97316', '#22c55e', '#e11d48', '#8b5cf6', '#eab308', '#06b6d4', '#d946ef'];

function parametersText(values: Record<string, number>): string {
  return Object.values(values).join(',');
}

/**
 * The lines of every registered indicator not in `known` (ids of lines already
 * listed), one per output line that is not state only, all hidden at first.
 * An SMA or EMA with only a period gets the id of the static lines (`sma20`).
 */
export function linesOfFunctions(entries: readonly FunctionEntry[], known: ReadonlySet<string>): MovingAverageLine[] {
  const lines: MovingAverageLine[] = [];
  for (const entry of entries) {
    if (entry.type !== 'indicator') continue;
    const period = entry.values.period ?? 0;
    const onlyPeriod = Object.keys(entry.values).length === 1 && 'period' in entry.values;
    const drawn = entry.outputs.filter((output) => !entry.state.includes(output));
    for (const output of drawn) {
      const first = output === entry.outputs[0];
      const id = first && onlyPeriod ? `${entry.name}${period}` : `${entry.key}${first ? '' : `.${output}`}`;
      if (known.has(id)) continue;
      const name = entry.name.toUpperCase();
      lines.push({
        id,
        kind: entry.name,
        period,
        color: FUNCTION_COLORS[lines.length % FUNCTION_COLORS.length] ?? '#888',
        defaultVisible: false,
        params: { ...entry.values },
        ...(first ? {} : { output }),
        pane: entry.pane,
        label: `${name} ${parametersText(entry.values)}${first ? '' : ` ${output}`}`.trim(),
        group: entry.key,
      });
    }
  }
  return lines;
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
  if (line.kind !== 'sma' && line.kind !== 'ema') return undefined;
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
