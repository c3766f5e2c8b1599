/**
 * Entry point of grid.html (`/grid?charts=<symbol>|<resolution>,…`): several charts on
 * one page, all fed by one `CandleflowDatafeed` — so the page holds one SSE
 * connection whatever the number of its charts. `window.__candleflowGrid` lets
 * end-to-end tests read each chart.
 */
import { ChartApp, type ChartSnapshot } from '../chart/chart-app';
import { LightweightChartView } from '../chart/lightweight-view';
import { initialTheme } from '../chart/theme';
import { CandleflowDatafeed } from '../datafeed/datafeed';
import { MOVING_AVERAGES } from '../model/indicators';
import type { WireBar } from '../wire/answers';
import { readGrid } from './url-state';

export interface GridDebugHook {
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

const grid = document.getElementById('grid');
if (!grid) throw new Error('grid.html lacks #grid');
const theme = initialTheme(location.search);
const apps: ChartApp[] = [];
const datafeed = new CandleflowDatafeed({
  onConnectionState: (guid, state) => {
    for (const app of apps) app.handleConnection(guid, state);
  },
});

for (const [index, { symbol, resolution }] of readGrid(location.search).entries()) {
  const cell = document.createElement('section');
  cell.className = 'cell';
  cell.dataset.testid = `chart-${String(index)}`;
  const title = document.createElement('span');
  title.className = 'cell-title';
  title.textContent = `${symbol} · ${resolution}`;
  const host = document.createElement('div');
  host.className = 'cell-chart';
  cell.append(title, host);
  grid.append(cell);
  const app = new ChartApp(new LightweightChartView(host, MOVING_AVERAGES, theme), datafeed, {
    onConnection: (state) => {
      cell.dataset.connection = state;
    },
    onLastBar: () => undefined,
    onStatus: (message) => {
      title.title = message ?? '';
    },
    onChange: () => undefined,
  });
  apps.push(app);
  void app.open(symbol, resolution);
}

window.__candleflowGrid = {
  snapshots: () => apps.map((app) => app.snapshot()),
  bars: (index) => (apps[index]?.store.bars ?? []).map((bar) => ({ ...bar })),
  streamsOpened: () => datafeed.streamsOpened(),
};
