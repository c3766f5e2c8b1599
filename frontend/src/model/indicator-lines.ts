/**
 * The moving-average lines one chart holds: which are visible and their points
 * (seconds, ascending). Server answers are merged in by time; the point of the
 * bar still forming follows each live bar (`livePoint`). Pure: the chart view
 * draws what this returns.
 */
import type { IndicatorPoint } from '../wire/answers';
import { livePoint, mergePoints, MOVING_AVERAGES, type MovingAverageLine } from './indicators';

interface LineState {
  definition: MovingAverageLine;
  points: IndicatorPoint[];
  visible: boolean;
}

/** A line's newest point after a live bar. */
export interface LinePointUpdate {
  id: string;
  point: IndicatorPoint;
}

export interface LineSnapshot {
  visible: boolean;
  points: IndicatorPoint[];
}

export class IndicatorLines {
  private readonly lines = new Map<string, LineState>();

  constructor(definitions: readonly MovingAverageLine[] = MOVING_AVERAGES) {
    for (const definition of definitions) {
      this.lines.set(definition.id, { definition, points: [], visible: definition.defaultVisible });
    }
  }

  /** Adds a line (hidden unless `defaultVisible`); false when its id exists already. */
  add(definition: MovingAverageLine): boolean {
    if (this.lines.has(definition.id)) return false;
    this.lines.set(definition.id, { definition, points: [], visible: definition.defaultVisible });
    return true;
  }

  get definitions(): MovingAverageLine[] {
    return [...this.lines.values()].map((line) => line.definition);
  }

  visibleDefinitions(): MovingAverageLine[] {
    return [...this.lines.values()].filter((line) => line.visible).map((line) => line.definition);
  }

  isVisible(id: string): boolean {
    return this.lines.get(id)?.visible ?? false;
  }

  /** True when the line exists and its visibility changed. */
  setVisible(id: string, visible: boolean): boolean {
    const line = this.lines.get(id);
    if (!line || line.visible === visible) return false;
    line.visible = visible;
    return true;
  }

  /** Drops every point (a new symbol or resolution). */
  clear(): void {
    for (const line of this.lines.values()) line.points = [];
  }

  /** Merges server points into a line (incoming wins by time); returns all its points. */
  merge(id: string, incoming: readonly IndicatorPoint[]): readonly IndicatorPoint[] {
    const line = this.lines.get(id);
    if (!line) return [];
    line.points = mergePoints(line.points, incoming);
    return line.points;
  }

  /** The line's points at `times` replaced by `points` (a time without a point loses its
   * point); returns all its points. */
  replace(id: string, times: ReadonlySet<number>, points: readonly IndicatorPoint[]): readonly IndicatorPoint[] {
    const line = this.lines.get(id);
    if (!line) return [];
    line.points = mergePoints(
      line.points.filter((point) => !times.has(point.time)),
      points,
    );
    return line.points;
  }

  /** A line's points (empty for an unknown id). */
  points(id: string): readonly IndicatorPoint[] {
    return this.lines.get(id)?.points ?? [];
  }

  /**
   * Moves each visible line that has history to the live bar at `time` closing at
   * `close`; `closes` are the newest closes, ending with `close`.
   */
  applyLiveBar(closes: readonly number[], time: number, close: number): LinePointUpdate[] {
    const updates: LinePointUpdate[] = [];
    for (const line of this.lines.values()) {
      if (!line.visible || line.points.length === 0) continue;
      const point = livePoint(line.definition, line.points, closes, time, close);
      if (!point) continue;
      const last = line.points[line.points.length - 1];
      if (last?.time === point.time) line.points[line.points.length - 1] = point;
      else line.points.push(point);
      updates.push({ id: line.definition.id, point });
    }
    return updates;
  }

  /** Copies of every line, by id. */
  snapshot(): Record<string, LineSnapshot> {
    const result: Record<string, LineSnapshot> = {};
    for (const [id, line] of this.lines) result[id] = { visible: line.visible, points: [...line.points] };
    return result;
  }
}
