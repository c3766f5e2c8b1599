/**
 * `ChartView` on lightweight-charts: candles with volume beneath, one line series
 * per moving average, and series markers for marks, coloured by the theme's palette.
 */
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  CrosshairMode,
  HistogramSeries,
  LineSeries,
  type CandlestickData,
  type HistogramData,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { lineLabel, type MovingAverageLine } from '../model/indicators';
import type { MarkDirection, PlacedMark } from '../model/marks';
import type { PriceFormat } from '../model/price-format';
import type { ResolutionUnit } from '../model/resolution';
import type { IndicatorPoint, WireBar } from '../wire/answers';
import type { ChartView } from './chart-view';
import { framing } from './framing';
import { PALETTES, type ChartPalette, type Theme } from './theme';

const asTime = (seconds: number): UTCTimestamp => seconds as UTCTimestamp;

const MARKER_SHAPES: Record<MarkDirection, SeriesMarker<Time>['shape']> = {
  up: 'arrowUp',
  down: 'arrowDown',
  neutral: 'circle',
};

export class LightweightChartView implements ChartView {
  readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly volume: ISeriesApi<'Histogram'>;
  private readonly markerPlugin: ISeriesMarkersPluginApi<Time>;
  private readonly lines = new Map<string, ISeriesApi<'Line'>>();
  /** Lines drawn in a pane of their own (lightweight-charts v5 panes): their series
   * exists only while they are visible, so a hidden line leaves no empty pane. */
  private readonly ownPane = new Map<string, MovingAverageLine>();
  private palette: ChartPalette;

  constructor(container: HTMLElement, lines: readonly MovingAverageLine[], theme: Theme) {
    this.palette = PALETTES[theme];
    this.chart = createChart(container, {
      autoSize: true,
      timeScale: { timeVisible: true, rightOffset: 4 },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, { priceLineVisible: true });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: 'volume',
      priceFormat: { type: 'volume' },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    for (const line of lines) this.addLine(line);
    this.markerPlugin = createSeriesMarkers(this.candles, []);
    this.applyPalette();
  }

  showBars(bars: readonly WireBar[]): void {
    this.candles.setData(bars.map((bar) => this.candle(bar)));
    this.volume.setData(bars.map((bar) => this.volumeBar(bar)));
  }

  updateBar(bar: WireBar): void {
    this.candles.update(this.candle(bar));
    this.volume.update(this.volumeBar(bar));
  }

  updateHistoricalBar(bar: WireBar): void {
    this.candles.update(this.candle(bar), true);
    this.volume.update(this.volumeBar(bar), true);
  }

  addLine(line: MovingAverageLine): void {
    if (this.lines.has(line.id)) return;
    if (line.pane === 'own') {
      this.ownPane.set(line.id, line);
      if (line.defaultVisible) this.lines.set(line.id, this.lineSeries(line, this.chart.panes().length));
      return;
    }
    this.lines.set(line.id, this.lineSeries(line, 0));
  }

  private lineSeries(line: MovingAverageLine, pane: number): ISeriesApi<'Line'> {
    const options = {
      color: line.color,
      lineWidth: 2 as const,
      visible: line.defaultVisible,
      priceLineVisible: false,
      lastValueVisible: false,
      crosshairMarkerVisible: false,
      title: lineLabel(line),
    };
    return this.chart.addSeries(LineSeries, options, pane);
  }

  paneCount(): number {
    return this.chart.panes().length;
  }

  showLine(id: string, points: readonly IndicatorPoint[]): void {
    this.lines.get(id)?.setData(points.map((point) => ({ time: asTime(point.time), value: point.value })));
  }

  updateLine(id: string, point: IndicatorPoint): void {
    this.lines.get(id)?.update({ time: asTime(point.time), value: point.value });
  }

  setLineVisible(id: string, visible: boolean): void {
    const own = this.ownPane.get(id);
    const series = this.lines.get(id);
    if (own && visible && !series) {
      this.lines.set(id, this.lineSeries({ ...own, defaultVisible: true }, this.chart.panes().length));
      return;
    }
    if (own && !visible && series) {
      this.chart.removeSeries(series);
      this.lines.delete(id);
      return;
    }
    series?.applyOptions({ visible });
  }

  showMarks(marks: readonly PlacedMark[]): void {
    this.markerPlugin.setMarkers(
      marks.map((mark) => ({
        time: asTime(mark.time),
        position: mark.direction === 'up' ? 'belowBar' : 'aboveBar',
        shape: MARKER_SHAPES[mark.direction],
        color: this.markColor(mark.direction),
        text: mark.text,
        id: mark.id,
      })),
    );
  }

  markers(): SeriesMarker<Time>[] {
    return [...this.markerPlugin.markers()];
  }

  setPriceFormat(format: PriceFormat): void {
    this.candles.applyOptions({ priceFormat: format });
    for (const series of this.lines.values()) series.applyOptions({ priceFormat: format });
  }

  setTimeAxis(unit: ResolutionUnit): void {
    const intraday = unit === 'second' || unit === 'minute';
    this.chart.applyOptions({ timeScale: { timeVisible: intraday, secondsVisible: unit === 'second' } });
  }

  /** New colours for the chart and candles; the caller redraws bars and marks, which carry colours of their own. */
  setTheme(theme: Theme): void {
    this.palette = PALETTES[theme];
    this.applyPalette();
  }

  frame(count: number): void {
    const timeScale = this.chart.timeScale();
    const frame = framing(count, timeScale.width());
    timeScale.applyOptions({ barSpacing: frame.barSpacing });
    if (frame.kind === 'newest') timeScale.scrollToRealTime();
    else timeScale.setVisibleLogicalRange({ from: frame.from, to: frame.to });
  }

  visibleRange(): { from: number; to: number; barSpacing: number } | undefined {
    const range = this.chart.timeScale().getVisibleLogicalRange();
    if (range === null) return undefined;
    return { from: range.from, to: range.to, barSpacing: this.chart.timeScale().options().barSpacing };
  }

  scrollBack(bars: number): void {
    const timeScale = this.chart.timeScale();
    timeScale.scrollToPosition(timeScale.scrollPosition() - bars, false);
  }

  onScroll(listener: (firstVisibleLogical: number) => void): void {
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (range) listener(range.from);
    });
  }

  onClick(listener: (time: number) => void): void {
    this.chart.subscribeClick((param) => {
      if (typeof param.time === 'number') listener(param.time);
    });
  }

  private markColor(direction: MarkDirection): string {
    if (direction === 'up') return this.palette.markUp;
    if (direction === 'down') return this.palette.markDown;
    return this.palette.markOther;
  }

  private candle(bar: WireBar): CandlestickData {
    return { time: asTime(bar.time), open: bar.open, high: bar.high, low: bar.low, close: bar.close };
  }

  private volumeBar(bar: WireBar): HistogramData {
    return {
      time: asTime(bar.time),
      value: bar.volume,
      color: bar.close >= bar.open ? this.palette.volumeUp : this.palette.volumeDown,
    };
  }

  private applyPalette(): void {
    const palette = this.palette;
    this.chart.applyOptions({
      layout: { background: { type: ColorType.Solid, color: palette.background }, textColor: palette.text },
      grid: { vertLines: { color: palette.grid }, horzLines: { color: palette.grid } },
      rightPriceScale: { borderColor: palette.border },
      timeScale: { borderColor: palette.border },
    });
    this.candles.applyOptions({
      upColor: palette.up,
      downColor: palette.down,
      borderUpColor: palette.up,
      borderDownColor: palette.down,
      wickUpColor: palette.up,
      wickDownColor: palette.down,
    });
  }
}
