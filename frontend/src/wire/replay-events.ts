/**
 * The events of a Bar Replay stream (`/udf/replay`, see docs/web.md), checked at the
 * edge like every other answer. Each carries the replay clock `clock_ms`.
 */
import { streamBarEvent, type StreamBar } from './answers';
import {
  arrayOf,
  boolean,
  finiteNumber,
  invalid,
  isJsonObject,
  object,
  string,
  valid,
  withDefault,
  type Checked,
  type Validator,
} from './validate';

export interface ReplaySeries {
  symbol: string;
  resolution: string;
  /** The `to` (seconds) of the history the series continues. */
  history_to: number;
}

export interface ReplayHello {
  replay: string;
  series: ReplaySeries[];
  speed: number | null;
  paused: boolean;
  clock_ms: number;
}

/** One bar's indicator outputs by function key (`sma(period=20)`), null where it has none. */
export interface ReplayIndicatorBar {
  time: number;
  values: Record<string, (number | null)[] | null>;
}

export interface ReplayMark {
  time: number;
  signal: string;
  kind: string;
  label: string;
  text: string;
  tone: string;
}

export interface ReplayIndicators {
  symbol: string;
  resolution: string;
  from: number;
  to: number;
  bars: ReplayIndicatorBar[];
  marks: ReplayMark[];
  clock_ms: number;
}

export interface ReplayReset {
  symbol: string;
  resolution: string;
  from: number;
  to: number;
  clock_ms: number;
}

export interface ReplayClock {
  speed: number | null;
  paused: boolean;
  clock_ms: number;
}

export type ReplayBar = StreamBar & { clock_ms: number };

function json(data: string): Checked<unknown> {
  try {
    return valid(JSON.parse(data) as unknown);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
}

function parsed<T>(validator: Validator<T>): (data: string) => Checked<T> {
  return (data) => {
    const value = json(data);
    return value.ok ? validator(value.value, '') : value;
  };
}

const speed: Validator<number | null> = (value, path) => (value === null ? valid(null) : finiteNumber(value, path));

const outputs: Validator<(number | null)[] | null> = (value, path) => {
  if (value === null) return valid(null);
  if (!Array.isArray(value)) return invalid(path, 'an array of numbers or null', value);
  return valid(value.map((item) => (typeof item === 'number' && Number.isFinite(item) ? item : null)));
};

const values: Validator<Record<string, (number | null)[] | null>> = (value, path) => {
  if (!isJsonObject(value)) return invalid(path, 'an object of outputs', value);
  const result: Record<string, (number | null)[] | null> = {};
  for (const [key, item] of Object.entries(value)) {
    const checked = outputs(item, `${path}.${key}`);
    if (!checked.ok) return checked;
    result[key] = checked.value;
  }
  return valid(result);
};

export const replayHello = parsed<ReplayHello>(
  object({
    replay: string,
    series: arrayOf(object({ symbol: string, resolution: string, history_to: finiteNumber })),
    speed,
    paused: boolean,
    clock_ms: finiteNumber,
  }),
);

export function replayBar(data: string): Checked<ReplayBar> {
  const bar = streamBarEvent(data);
  if (!bar.ok) return bar;
  const clock = parsed(object({ clock_ms: finiteNumber }))(data);
  return clock.ok ? valid({ ...bar.value, clock_ms: clock.value.clock_ms }) : clock;
}

export const replayIndicators = parsed<ReplayIndicators>(
  object({
    symbol: string,
    resolution: string,
    from: finiteNumber,
    to: finiteNumber,
    bars: arrayOf(object({ time: finiteNumber, values })),
    marks: arrayOf(
      object({
        time: finiteNumber,
        signal: string,
        kind: string,
        label: withDefault(string, ''),
        text: withDefault(string, ''),
        tone: withDefault(string, 'neutral'),
      }),
    ),
    clock_ms: finiteNumber,
  }),
);

export const replayReset = parsed<ReplayReset>(
  object({ symbol: string, resolution: string, from: finiteNumber, to: finiteNumber, clock_ms: finiteNumber }),
);

export const replayClock = parsed<ReplayClock>(object({ speed, paused: boolean, clock_ms: finiteNumber }));

export const replayCaughtUp = parsed<{ clock_ms: number }>(object({ clock_ms: finiteNumber }));
