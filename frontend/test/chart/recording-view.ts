/** A `ChartView` that keeps what it was asked to draw, for `ChartApp` tests. */
import type { SeriesMarker, Time } from 'lightweight-charts';
import type { ChartView } from '../../src/chart/chart-view';
import type { Theme } from '../../src/chart/theme';
import type { MovingAverageLine } from '../../src/model/indicators';
import type { PlacedMark } from '../../src/model/marks';
import type { PriceFormat } from '../../src/model/price-format';
import type { ResolutionUnit } from '../../src/model/resolution';
import type { IndicatorPoint, WireBar } from '../../src/wire/answers';

export class RecordingView implements ChartView {
  bars: WireBar[] = [];
  readonly lines = new Map<string, IndicatorPoint[]>();
  readonly lineVisible = new Map<string, boolean>();
  marks: PlacedMark[] = [];
  priceFormat: PriceFormat | undefined;
  timeAxis: ResolutionUnit | undefined;
  theme: Theme | undefined;
  scrolledBack = 0;
  /** Calls of `showBars`, `updateBar`, ... in order, by name. */
  readonly calls: string[] = [];
  private scrollListener: ((firstVisibleLogical: number) => void) | undefined;
  private clickListener: ((time: number) => void) | undefined;

  onClick(listener: (time: number) => void): void {
    this.clickListener = listener;
  }

  /** A click on the bar at `time`, as the chart reports it. */
  click(time: number): void {
    this.clickListener?.(time);
  }

  showBars(bars: readonly WireBar[]): void {
    this.calls.push('showBars');
    this.bars = [...bars];
  }

  updateBar(bar: WireBar): void {
    this.calls.push('updateBar');
    const last = this.bars[this.bars.length - 1];
    if (last?.time === bar.time) this.bars[this.bars.length - 1] = bar;
    else this.bars.push(bar);
  }

  updateHistoricalBar(bar: WireBar): void {
    this.calls.push('updateHistoricalBar');
    const index = this.bars.findIndex((held) => held.time === bar.time);
    if (index >= 0) this.bars[index] = bar;
  }

  /** Lines added with `addLine`, in order. */
  readonly added: MovingAverageLine[] = [];

  addLine(line: MovingAverageLine): void {
    this.calls.push('addLine');
    this.added.push(line);
    this.lineVisible.set(line.id, line.defaultVisible);
  }

  showLine(id: string, points: readonly IndicatorPoint[]): void {
    this.lines.set(id, [...points]);
  }

  updateLine(id: string, point: IndicatorPoint): void {
    const points = this.lines.get(id) ?? [];
    const last = points[points.length - 1];
    if (last?.time === point.time) points[points.length - 1] = point;
    else points.push(point);
    this.lines.set(id, points);
  }

  setLineVisible(id: string, visible: boolean): void {
    this.lineVisible.set(id, visible);
  }

  showMarks(marks: readonly PlacedMark[]): void {
    this.marks = [...marks];
  }

  paneCount(): number {
    return 1 + this.added.filter((line) => line.pane === 'own' && this.lineVisible.get(line.id) === true).length;
  }

  markers(): SeriesMarker<Time>[] {
    return [];
  }

  setPriceFormat(format: PriceFormat): void {
    this.priceFormat = format;
  }

  setTimeAxis(unit: ResolutionUnit): void {
    this.timeAxis = unit;
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
  }

  framed: number[] = [];

  frame(count: number): void {
    this.calls.push('frame');
    this.framed.push(count);
  }

  visibleRange(): undefined {
    return undefined;
  }

  scrollBack(bars: number): void {
    this.scrolledBack += bars;
  }

  onScroll(listener: (firstVisibleLogical: number) => void): void {
    this.scrollListener = listener;
  }

  /** Pretends the user scrolled so that logical index `firstVisibleLogical` is leftmost. */
  scrollTo(firstVisibleLogical: number): void {
    this.scrollListener?.(firstVisibleLogical);
  }
}
