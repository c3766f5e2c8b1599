/**
 * The chart in Bar Replay: the market of the open chart's series re-played from a past
 * time, drawn on the same view while the live chart (`ChartApp`) is detached.
 *
 * `start` opens the replay paused, loads what comes before it (bars, every line and the
 * marks up to the `history_to` its `hello` names), then plays. Bars form as they formed
 * (`bar`), late ticks correct older bars in place (`correction`), and each closed bar's
 * indicator values and marks arrive from the server (`indicators`, replacing what the
 * chart holds for those bars); a `reset` refetches a stretch from the store. At
 * `caught_up` the replay has reached the present and the chart keeps its last state
 * until `backToLive` reopens the live chart.
 */
import { BarStore } from '../model/bar-store';
import { IndicatorLines } from '../model/indicator-lines';
import type { MovingAverageLine } from '../model/indicators';
import { placeMarks } from '../model/marks';
import { resolutionSeconds } from '../model/resolution';
import type { CandleflowMark, FunctionEntry, IndicatorPoint, WireBar } from '../wire/answers';
import type { ReplayBar, ReplayHello, ReplayIndicators, ReplayMark, ReplayReset } from '../wire/replay-events';
import type { EventSourceFactory } from '../wire/transport';
import type { IndicatorQuery, RangeQuery } from '../wire/udf-client';
import type { ChartApp } from './chart-app';
import type { ChartView } from './chart-view';
import { HistorySource, type HistoryDatafeed } from './history-source';
import { ReplayStream, type ReplayClient, type ReplaySpeed } from './replay-stream';

/** Bars of history shown before the replay's start. */
export const HISTORY_BARS = 300;

export interface ReplayState {
  active: boolean;
  /** History before the start still loading. */
  loading: boolean;
  playing: boolean;
  caughtUp: boolean;
  /** The replay clock, unix ms. */
  clockMs: number | undefined;
  speed: ReplaySpeed;
  error: string | undefined;
}

export interface ReplayChartDatafeed extends HistoryDatafeed {
  readonly client: HistoryDatafeed['client'] &
    ReplayClient & {
      functions(): Promise<FunctionEntry[]>;
      history(query: RangeQuery): Promise<{ status: 'ok'; bars: WireBar[] } | { status: 'no_data' }>;
    };
}

/** Where a line's values sit in an `indicators` event: the function key and output index. */
export function lineSlot(line: MovingAverageLine, catalogue: readonly FunctionEntry[]): [string, number] {
  const key = line.group ?? `${line.kind}(period=${String(line.period)})`;
  const outputs = catalogue.find((entry) => entry.key === key)?.outputs ?? [];
  const index = line.output === undefined ? 0 : outputs.indexOf(line.output);
  return [key, Math.max(0, index)];
}

function markOf(mark: ReplayMark): CandleflowMark {
  const color = mark.tone === 'up' ? 'green' : mark.tone === 'down' ? 'red' : 'blue';
  return {
    id: `${mark.signal}-${String(mark.time)}`,
    time: mark.time,
    color,
    text: mark.text,
    label: mark.label,
    labelFontColor: 'white',
    minSize: 14,
    kind: mark.kind,
  };
}

export class ReplayChart {
  readonly store = new BarStore();
  lines = new IndicatorLines([]);
  marks: CandleflowMark[] = [];
  /** Times of the `bar` events applied, in order (corrections left out). */
  readonly barTimes: number[] = [];
  state: ReplayState = {
    active: false,
    loading: false,
    playing: false,
    caughtUp: false,
    clockMs: undefined,
    speed: '60',
    error: undefined,
  };
  private readonly stream: ReplayStream;
  private readonly history: HistorySource;
  private slots = new Map<string, [string, number]>();
  private symbol = '';
  private resolution = '1';
  /** Events that arrived while the history before the start loaded. */
  private queued: (() => void)[] | undefined;

  constructor(
    private readonly app: ChartApp,
    private readonly view: ChartView,
    private readonly datafeed: ReplayChartDatafeed,
    eventSource: EventSourceFactory,
    private readonly onChange: (state: ReplayState) => void = () => undefined,
  ) {
    this.history = new HistorySource(datafeed);
    this.stream = new ReplayStream(datafeed.client, eventSource, {
      onHello: (hello) => void this.onHello(hello),
      onBar: (bar, correction) => this.later(() => this.onBar(bar, correction)),
      onIndicators: (event) => this.later(() => this.onIndicators(event)),
      onReset: (event) => this.later(() => void this.onReset(event)),
      onClock: (event) => this.later(() => this.update({ clockMs: event.clock_ms, playing: !event.paused })),
      onCaughtUp: (clockMs) => this.later(() => this.update({ caughtUp: true, playing: false, clockMs })),
      onError: (message) => this.update({ error: message, playing: false }),
    });
  }

  /** Replays the open chart's series from `from` (seconds) at `speed`; plays once loaded when `play`. */
  start(from: number, speed: ReplaySpeed, play = true): void {
    this.app.detach();
    this.symbol = this.app.symbol;
    this.resolution = this.app.resolution;
    this.lines = new IndicatorLines(this.app.lines.definitions);
    for (const line of this.app.lines.definitions) this.lines.setVisible(line.id, this.app.lines.isVisible(line.id));
    this.store.reset([]);
    this.marks = [];
    this.barTimes.length = 0;
    this.queued = [];
    this.view.showBars([]);
    this.showMarks();
    this.state = {
      active: true,
      loading: true,
      playing: play,
      caughtUp: false,
      clockMs: from * 1000,
      speed,
      error: undefined,
    };
    this.onChange(this.state);
    this.stream.open([[this.symbol, this.resolution]], from, speed, true);
  }

  async play(): Promise<void> {
    this.update({ playing: true });
    if (!this.state.loading) await this.stream.control('resume');
  }

  async pause(): Promise<void> {
    this.update({ playing: false });
    await this.stream.control('pause');
  }

  async step(): Promise<void> {
    this.update({ playing: false });
    await this.stream.control('step');
  }

  async setSpeed(speed: ReplaySpeed): Promise<void> {
    this.update({ speed });
    if (this.stream.running) await this.stream.control('speed', { speed });
  }

  /** Ends the replay and reopens the live chart. */
  backToLive(): Promise<boolean> {
    this.leave();
    return this.app.reload();
  }

  /** Ends the replay, leaving the view to whoever opens a chart next. */
  leave(): void {
    this.stream.close();
    this.queued = undefined;
    if (this.state.active) this.update({ active: false, playing: false });
  }

  /** Draws everything again (after a theme change, whose palette the bars carry). */
  redraw(): void {
    this.view.showBars(this.store.bars);
    this.showMarks();
  }

  /** A line toggled while replaying: draw what the replay holds of it. */
  lineToggled(id: string, visible: boolean): void {
    if (!this.state.active) return;
    this.lines.setVisible(id, visible);
    if (visible) this.view.showLine(id, this.lines.points(id));
  }

  private update(change: Partial<ReplayState>): void {
    this.state = { ...this.state, ...change };
    this.onChange(this.state);
  }

  private later(apply: () => void): void {
    if (this.queued) this.queued.push(apply);
    else if (this.state.active) apply();
  }

  private async onHello(hello: ReplayHello): Promise<void> {
    const to = hello.series[0]?.history_to ?? Math.floor(hello.clock_ms / 1000);
    try {
      const [catalogue, info] = await Promise.all([
        this.datafeed.client.functions().catch(() => []),
        this.history.resolve(this.symbol),
      ]);
      this.slots = new Map(this.lines.definitions.map((line) => [line.id, lineSlot(line, catalogue)]));
      const page = await this.history.page(info, this.resolution, to, HISTORY_BARS, true);
      this.store.reset(page.bars);
      const first = this.store.first?.time ?? to;
      await Promise.all([
        ...this.lines.definitions.map(async (line) => this.lines.merge(line.id, await this.line(line, first, to))),
        this.datafeed.client.marks(this.range(first, to - 1)).then((marks) => (this.marks = marks)),
      ]);
    } catch (error) {
      this.update({ error: error instanceof Error ? error.message : String(error) });
    }
    this.view.showBars(this.store.bars);
    for (const line of this.lines.visibleDefinitions()) this.view.showLine(line.id, this.lines.points(line.id));
    this.showMarks();
    this.view.frame(this.store.bars.length);
    const queued = this.queued ?? [];
    this.queued = undefined;
    this.update({ loading: false, clockMs: hello.clock_ms });
    for (const apply of queued) apply();
    if (this.state.playing) await this.stream.control('resume').catch(() => undefined);
  }

  private line(line: MovingAverageLine, from: number, to: number): Promise<IndicatorPoint[]> {
    const query: IndicatorQuery = {
      ...this.range(from, to),
      kind: line.kind,
      period: line.period,
      ...(line.params ? { params: line.params } : {}),
      ...(line.output ? { output: line.output } : {}),
    };
    return this.history.line(query).catch(() => []);
  }

  private range(from: number, to: number): RangeQuery {
    return { symbol: this.symbol, resolution: this.resolution, from, to };
  }

  private onBar(bar: ReplayBar, correction: boolean): void {
    const wire: WireBar = {
      time: bar.time,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      volume: bar.volume,
    };
    if (!correction) {
      if (this.store.applyTick(wire) === 'stale') return;
      this.view.updateBar(wire);
      this.barTimes.push(wire.time);
    } else {
      const outcome = this.store.applyCorrection(wire);
      if (outcome === 'replaced') this.view.updateHistoricalBar(wire);
      else if (outcome === 'inserted') this.view.showBars(this.store.bars);
    }
    this.update({ clockMs: bar.clock_ms });
  }

  private onIndicators(event: ReplayIndicators): void {
    const times = new Set(event.bars.map((bar) => bar.time));
    for (const line of this.lines.definitions) {
      const [key, index] = this.slots.get(line.id) ?? lineSlot(line, []);
      const points: IndicatorPoint[] = [];
      for (const bar of event.bars) {
        const value = bar.values[key]?.[index];
        if (typeof value === 'number') points.push({ time: bar.time, value });
      }
      const all = this.lines.replace(line.id, times, points);
      if (this.lines.isVisible(line.id)) this.view.showLine(line.id, all);
    }
    this.marks = [
      ...this.marks.filter((mark) => mark.time < event.from || mark.time > event.to),
      ...event.marks.map(markOf),
    ];
    this.showMarks();
    this.update({ clockMs: event.clock_ms });
  }

  /** Bars of `[from, to)` changed beyond what the replay keeps: read them from the store. */
  private async onReset(event: ReplayReset): Promise<void> {
    const answer = await this.datafeed.client.history(this.range(event.from, event.to)).catch(() => undefined);
    if (answer?.status === 'ok') for (const bar of answer.bars) this.store.applyCorrection(bar);
    this.view.showBars(this.store.bars);
    await Promise.all(
      this.lines.definitions.map(async (line) => {
        const points = await this.line(line, event.from, event.to);
        const times = new Set(
          this.lines
            .points(line.id)
            .filter((p) => p.time >= event.from && p.time < event.to)
            .map((p) => p.time),
        );
        const all = this.lines.replace(line.id, times, points);
        if (this.lines.isVisible(line.id)) this.view.showLine(line.id, all);
      }),
    );
    const marks = await this.datafeed.client.marks(this.range(event.from, event.to - 1)).catch(() => []);
    this.marks = [...this.marks.filter((mark) => mark.time < event.from || mark.time >= event.to), ...marks];
    this.showMarks();
  }

  /** The marks toggled while replaying: shown or hidden as the live chart shows them. */
  marksToggled(): void {
    if (this.state.active) this.showMarks();
  }

  private showMarks(): void {
    const marks = this.app.marksShown ? this.marks : [];
    this.view.showMarks(placeMarks(marks, (time) => this.store.barTimeAtOrBefore(time)));
  }

  /** Seconds per bar of the replayed resolution. */
  get barSeconds(): number {
    return resolutionSeconds(this.resolution);
  }
}
