/**
 * Entry point of grid.html (`/grid?charts=<symbol>|<resolution>,…`): several charts on
 * one page, all fed by one `CandleflowDatafeed` — so the page holds one SSE
 * connection whatever the number of its charts. `window.__candleflowGrid` lets
 * end-to-end tests read each chart.
 *
 * Nothing goes wrong silently: without `charts=` the page explains itself and offers
 * grids of the server's symbols; a spec it cannot read (`X|7`) and a symbol the server
 * does not know keep their cell, with the reason and links that fix it.
 */
import './styles.css';
import { ChartApp, type ChartSnapshot } from '../chart/chart-app';
import { LightweightChartView } from '../chart/lightweight-view';
import { initialTheme } from '../chart/theme';
import { CandleflowDatafeed } from '../datafeed/datafeed';
import { MOVING_AVERAGES } from '../model/indicators';
import { priceFormatOf } from '../model/price-format';
import { nearestSupported, resolutionName } from '../model/resolution';
import type { WireBar } from '../wire/answers';
import { NO_SYMBOLS_HINT, renderStatus, searchTextOf, type StatusAction } from './status';
import { readGrid, type GridCell } from './url-state';

export interface GridDebugHook {
  /** The charts shown (cells with a problem hold none). */
  snapshots(): ChartSnapshot[];
  bars(index: number): WireBar[];
  /** Streams the datafeed opened so far (1 unless it reconnected). */
  streamsOpened(): number;
}

declare global {
  interface Window {
    __candleflowGrid?: GridDebugHook;
  }
}

/** Symbols a grid without charts offers, and the resolutions of its example grids. */
const EXAMPLE_SYMBOLS = 4;
const EXAMPLE_RESOLUTIONS = ['1', '60'] as const;
const SUGGESTIONS = 4;

const grid = document.getElementById('grid');
if (!grid) throw new Error('grid.html lacks #grid');
const theme = initialTheme(location.search);
document.documentElement.dataset.theme = theme;
const apps: ChartApp[] = [];
const datafeed = new CandleflowDatafeed({
  onConnectionState: (guid, state) => {
    for (const app of apps) app.handleConnection(guid, state);
  },
});
const cells = readGrid(location.search);

/** The grid's URL with the chart at `index` replaced by `spec` (removed when undefined). */
function gridHref(index: number, spec: string | undefined): string {
  const specs = cells.map((cell, at) => (at === index ? spec : cell.spec)).filter((kept) => kept !== undefined);
  const params = new URLSearchParams(location.search);
  params.set('charts', specs.join(','));
  return `?${params.toString()}`;
}

function symbolOf(item: { ticker?: string; full_name: string }): string {
  return item.ticker ?? item.full_name;
}

function makeCell(index: number, title: string): { cell: HTMLElement; host: HTMLElement; note: HTMLElement } {
  const cell = document.createElement('section');
  cell.className = 'cell';
  cell.dataset.testid = `chart-${String(index)}`;
  const heading = document.createElement('div');
  heading.className = 'cell-title';
  heading.textContent = title;
  const host = document.createElement('div');
  host.className = 'cell-chart';
  const note = document.createElement('div');
  note.className = 'cell-note status';
  note.dataset.testid = `chart-${String(index)}-note`;
  note.setAttribute('role', 'alert');
  note.hidden = true;
  cell.append(host, heading, note);
  grid?.append(cell);
  return { cell, host, note };
}

/** A spec the page cannot read: its cell says why, with a fix when the message names one. */
function showProblem(index: number, cell: Extract<GridCell, { problem: string }>): void {
  const { cell: section, note } = makeCell(index, cell.spec);
  section.dataset.failed = 'true';
  const actions: StatusAction[] = [];
  const cut = cell.spec.lastIndexOf('|');
  // The message's own advice (`1D` for `1d`), else the nearest resolution served (`5` for `7`).
  const suggested = /`([^`]+)`/.exec(cell.problem)?.[1] ?? nearestSupported(cell.spec.slice(cut + 1));
  if (cut > 0) {
    const fixed = `${cell.spec.slice(0, cut)}|${suggested}`;
    actions.push({ label: `use ${fixed}`, href: gridHref(index, fixed) });
  }
  actions.push({ label: 'remove this chart', href: gridHref(index, undefined) });
  renderStatus(note, cell.problem, actions);
}

async function suggestFor(index: number, symbol: string, resolution: string, note: HTMLElement): Promise<void> {
  note.parentElement?.setAttribute('data-failed', 'true'); // no empty canvas beside the message
  const found = await datafeed.client.search(searchTextOf(symbol), '', '', SUGGESTIONS).catch(() => []);
  const items = found.length > 0 ? found : await datafeed.client.search('', '', '', SUGGESTIONS).catch(() => []);
  const actions = items.map((item) => ({
    label: `use ${symbolOf(item)}`,
    href: gridHref(index, `${symbolOf(item)}|${resolution}`),
  }));
  actions.push({ label: 'remove this chart', href: gridHref(index, undefined) });
  renderStatus(note, `unknown symbol ${symbol}: this server has no trades of it`, actions);
}

function showChart(index: number, symbol: string, resolution: string): void {
  const title = `${symbol} · ${resolutionName(resolution)}`;
  const { cell, host, note } = makeCell(index, title);
  const heading = cell.querySelector('.cell-title');
  const app = new ChartApp(new LightweightChartView(host, MOVING_AVERAGES, theme), datafeed, {
    onConnection: (state) => {
      cell.dataset.connection = state;
    },
    onLastBar: (bar, info) => {
      if (heading)
        heading.textContent = bar ? `${title}  ${bar.close.toFixed(info ? priceFormatOf(info).precision : 2)}` : title;
    },
    onStatus: (message) => {
      renderStatus(note, message);
    },
    onChange: () => undefined,
    onUnknownSymbol: () => void suggestFor(index, symbol, resolution, note),
  });
  apps.push(app);
  void app.open(symbol, resolution);
}

/** No `charts=`: what the page is for, and grids of the server's own symbols to open. */
async function showIntroduction(): Promise<void> {
  const intro = document.createElement('section');
  intro.className = 'grid-intro';
  intro.dataset.testid = 'grid-intro';
  const heading = document.createElement('h2');
  heading.textContent = 'Several charts on one page';
  const usage = document.createElement('p');
  renderStatus(
    usage,
    'List the charts in the address: `/grid?charts=<symbol>|<resolution>,<symbol>|<resolution>,…`, ' +
      'e.g. `/grid?charts=Coinbase:BTC/USD|1,Coinbase:ETH/USD|60`. Resolutions are written as in the API: ' +
      '`1S`, `1`, `5`, `15`, `30`, `60`, `240`, `1D`, `1W`, `1M`. All charts share one live connection.',
  );
  usage.hidden = false;
  const examples = document.createElement('p');
  examples.dataset.testid = 'grid-examples';
  intro.append(heading, usage, examples);
  grid?.replaceWith(intro);
  try {
    const items = await datafeed.client.search('', '', '', EXAMPLE_SYMBOLS);
    if (items.length === 0) {
      renderStatus(examples, NO_SYMBOLS_HINT);
      return;
    }
    const actions = EXAMPLE_RESOLUTIONS.map((resolution) => {
      const specs = items.map((item) => `${symbolOf(item)}|${resolution}`).join(',');
      return {
        label: `${String(items.length)} charts at ${resolutionName(resolution)}`,
        href: `?charts=${encodeURIComponent(specs)}`,
      };
    });
    renderStatus(examples, 'Open one of this server’s grids:', actions);
  } catch (error) {
    renderStatus(
      examples,
      `cannot reach the candleflow server (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

if (cells.length === 0) {
  void showIntroduction();
} else {
  for (const [index, cell] of cells.entries()) {
    if ('problem' in cell) showProblem(index, cell);
    else showChart(index, cell.symbol, cell.resolution);
  }
}

window.__candleflowGrid = {
  snapshots: () => apps.map((app) => app.snapshot()),
  bars: (index) => (apps[index]?.store.bars ?? []).map((bar) => ({ ...bar })),
  streamsOpened: () => datafeed.streamsOpened(),
};
