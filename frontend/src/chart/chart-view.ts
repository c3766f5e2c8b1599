/**
 * What the chart app asks of whatever draws it: the seam between the load logic
 * (`chart-app.ts`) and lightweight-charts (`lightweight-view.ts`). Times are
 * seconds. Tests hand `ChartApp` a recording implementation instead of a canvas.
 */
import type { SeriesMarker, Time } from 'lightweight-charts';
import type { MovingAverageLine } from '../model/indicators';
import type { PlacedMark } from '../model/marks';
import type { PriceFormat } from '../model/price-format';
import type { ResolutionUnit } from '../model/resolution';
import type { IndicatorPoint, WireBar } from '../wire/answers';
import type { Theme } from './theme';

export interface ChartView {
  /** Replaces candles and volume (`setData`). */
  showBars(bars: readonly WireBar[]): void;
  /** Updates or appends the newest candle and volume bar (`update`). */
  updateBar(bar: WireBar): void;
  /** Replaces an older candle and volume bar in place (v5 `update(bar, true)`). */
  updateHistoricalBar(bar: WireBar): void;
  /** Adds a line series (on the price scale, or in a pane of its own), hidden unless `line.defaultVisible`. */
  addLine(line: MovingAverageLine): void;
  /** Replaces a line's points. */
  showLine(id: string, points: readonly IndicatorPoint[]): void;
  /** Updates or appends a line's newest point. */
  updateLine(id: string, point: IndicatorPoint): void;
  setLineVisible(id: string, visible: boolean): void;
  showMarks(marks: readonly PlacedMark[]): void;
  /** Panes drawn (1: the price pane only), for the debug hook. */
  paneCount(): number;
  /** The markers as drawn, for the debug hook. */
  markers(): SeriesMarker<Time>[];
  setPriceFormat(format: PriceFormat): void;
  /** The time axis for bars of `unit`: seconds for second bars, times of day for intraday
   * bars, dates alone for days, weeks and months (never `00:00` under a daily candle). */
  setTimeAxis(unit: ResolutionUnit): void;
  setTheme(theme: Theme): void;
  /**
   * Frames a freshly loaded history of `count` bars: the newest bars at the right edge,
   * or, when they would fill only part of the width, all of them spread over it (never
   * three candles pressed against the right edge of an empty canvas).
   */
  frame(count: number): void;
  /** The logical range shown (0 is the first bar held) and the bar spacing, for the debug hook. */
  visibleRange(): { from: number; to: number; barSpacing: number } | undefined;
  /** Scrolls `bars` bars into the past (negative: towards now). */
  scrollBack(bars: number): void;
  /** Calls `listener` with the logical index of the leftmost visible bar whenever the view scrolls. */
  onScroll(listener: (firstVisibleLogical: number) => void): void;
  /** Calls `listener` with the time (seconds) of the bar clicked, when a bar was. */
  onClick(listener: (time: number) => void): void;
}
