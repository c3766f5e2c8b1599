/**
 * The Bar Replay controls: a compact `Replay` button on the toolbar opens a bar under
 * it with the start (a date typed in UTC, or `Pick` and click a bar), play/pause,
 * step, the speeds 1×, 10×, 60×, 600× and max, the replay clock and `Live`, which
 * leaves the replay for the live chart.
 */
import type { ChartApp } from '../chart/chart-app';
import type { ChartView } from '../chart/chart-view';
import { ReplayChart, type ReplayChartDatafeed, type ReplayState } from '../chart/replay-chart';
import { REPLAY_SPEEDS, type ReplaySpeed } from '../chart/replay-stream';
import { browserEventSource } from '../wire/transport';

/** Bars before the newest one a replay starts at when no start was chosen. */
const DEFAULT_BARS_BACK = 60;

/** `2024-01-01T10:00:05Z` as the value of a `datetime-local` input (UTC), and back. */
export function toInputValue(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19);
}

export function fromInputValue(value: string): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** `2024-01-01 10:00:05` (UTC) of a replay clock in ms. */
export function clockText(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, testid: string, text = ''): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  made.dataset.testid = testid;
  if (text) made.textContent = text;
  if (made instanceof HTMLButtonElement) made.type = 'button';
  return made;
}

export function statusOf(state: ReplayState): string {
  if (state.error) return 'error';
  if (!state.active) return 'idle';
  if (state.loading) return 'loading';
  if (state.caughtUp) return 'caught-up';
  return state.playing ? 'playing' : 'paused';
}

export interface ReplayPanel {
  render(state: ReplayState): void;
}

export function mountReplayPanel(
  toolbar: HTMLElement,
  replay: ReplayChart,
  view: ChartView,
  newestBarTime: () => number | undefined,
): ReplayPanel {
  const toggle = element('button', 'replay-toggle', 'Replay');
  toggle.className = 'tool-button';
  toggle.title = 'Bar Replay: the market re-played from a past time';
  toggle.setAttribute('aria-expanded', 'false');
  const spacer = toolbar.querySelector('.spacer');
  toolbar.insertBefore(toggle, spacer);

  const bar = element('div', 'replay-bar');
  bar.className = 'replay-bar';
  bar.hidden = true;
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Bar Replay');
  const start = element('input', 'replay-start');
  start.type = 'datetime-local';
  start.step = '1';
  start.title = 'Start of the replay (UTC)';
  const utc = element('span', 'replay-utc', 'UTC');
  utc.className = 'replay-status';
  const pick = element('button', 'replay-pick', 'Pick');
  pick.title = 'Click a bar on the chart to start there';
  pick.setAttribute('aria-pressed', 'false');
  const play = element('button', 'replay-play', 'Play');
  const step = element('button', 'replay-step', 'Step');
  step.title = 'Step: to the close of the current bar';
  const speeds = element('div', 'replay-speeds');
  speeds.className = 'group';
  speeds.setAttribute('role', 'group');
  speeds.setAttribute('aria-label', 'Replay speed');
  for (const speed of REPLAY_SPEEDS) {
    const choice = element('button', `replay-speed-${speed}`, speed === 'max' ? 'max' : `${speed}×`);
    choice.dataset.speed = speed;
    choice.addEventListener('click', () => void replay.setSpeed(speed));
    speeds.append(choice);
  }
  const clock = element('span', 'replay-clock');
  clock.className = 'replay-clock';
  const status = element('span', 'replay-status');
  status.className = 'replay-status';
  const live = element('button', 'replay-live', 'Live');
  live.title = 'Back to live';
  bar.append(start, utc, pick, play, step, speeds, clock, status, live);
  toolbar.after(bar);

  let picking = false;
  const setPicking = (on: boolean): void => {
    picking = on;
    pick.setAttribute('aria-pressed', String(on));
  };

  const chosenStart = (): number => {
    const typed = fromInputValue(start.value);
    if (typed !== undefined) return typed;
    const newest = newestBarTime() ?? Math.floor(Date.now() / 1000);
    return newest - DEFAULT_BARS_BACK * replay.barSeconds;
  };

  const begin = (from: number, playing: boolean): void => {
    start.value = toInputValue(from);
    replay.start(from, replay.state.speed, playing);
  };

  toggle.addEventListener('click', () => {
    const opening = bar.hidden;
    bar.hidden = !opening;
    toggle.setAttribute('aria-expanded', String(opening));
    if (opening && !start.value) start.value = toInputValue(chosenStart());
    if (!opening && replay.state.active) void replay.backToLive();
  });
  pick.addEventListener('click', () => setPicking(!picking));
  view.onClick((time) => {
    if (!picking || bar.hidden) return;
    setPicking(false);
    begin(time, false);
  });
  start.addEventListener('change', () => {
    const from = fromInputValue(start.value);
    if (from !== undefined && replay.state.active) begin(from, replay.state.playing);
  });
  play.addEventListener('click', () => {
    const state = replay.state;
    if (!state.active || state.caughtUp || state.error) begin(chosenStart(), true);
    else if (state.playing) void replay.pause();
    else void replay.play();
  });
  step.addEventListener('click', () => {
    if (!replay.state.active || replay.state.caughtUp) begin(chosenStart(), false);
    else void replay.step();
  });
  live.addEventListener('click', () => void replay.backToLive());

  return {
    render(state: ReplayState): void {
      const shown = statusOf(state);
      bar.dataset.state = shown;
      toggle.dataset.state = shown;
      play.textContent = state.active && state.playing && !state.caughtUp ? 'Pause' : 'Play';
      clock.textContent = clockText(state.clockMs);
      clock.dataset.clock = state.clockMs === undefined ? '' : String(state.clockMs);
      status.textContent = state.error ?? (shown === 'caught-up' ? 'caught up' : shown === 'idle' ? '' : shown);
      live.disabled = !state.active;
      for (const choice of speeds.querySelectorAll<HTMLButtonElement>('button')) {
        choice.setAttribute('aria-pressed', String(choice.dataset.speed === state.speed));
      }
    },
  };
}

export type { ReplaySpeed };

/**
 * Bar Replay of `app`'s chart on its `view`, its bar under `toolbar`; while it runs the
 * chart says so (`data-replay` on `chart`) and so does the connection badge `conn`.
 */
export function mountReplay(
  app: ChartApp,
  view: ChartView,
  datafeed: ReplayChartDatafeed,
  toolbar: HTMLElement,
  page: { chart: HTMLElement; conn: HTMLElement },
): ReplayChart {
  const show = (state: ReplayState): void => {
    panel.render(state);
    page.chart.dataset.replay = state.active ? (state.caughtUp ? 'caught-up' : 'on') : 'off';
    if (state.active) {
      page.conn.dataset.state = 'replay';
      page.conn.textContent = 'replay';
    }
  };
  const replay = new ReplayChart(app, view, datafeed, browserEventSource, show);
  const panel = mountReplayPanel(toolbar, replay, view, () => app.store.last?.time);
  return replay;
}
