/**
 * Entry point of index.html: wires the toolbar (symbol search, resolution buttons,
 * the indicator menu, theme toggle, connection state, last price) to a `ChartApp`,
 * and keeps `?symbol=…&resolution=…` and the toggles in the URL.
 */
import './styles.css';
import './panels.css';
import { ChartApp, type ChartConnection, type ChartSnapshot } from '../chart/chart-app';
import { LightweightChartView } from '../chart/lightweight-view';
import { CandleflowDatafeed } from '../datafeed/datafeed';
import { createDebugHook } from './debug-hook';
import { lineLabel, linesOfFunctions, MOVING_AVERAGES } from '../model/indicators';
import { resolutionName, toSupportedResolution } from '../model/resolution';
import { followSystemTheme, initialTheme, rememberTheme, type Theme } from '../chart/theme';
import type { LibrarySymbolInfo, SearchSymbolResultItem } from '../wire/tv-types';
import type { WireBar } from '../wire/answers';
import { formatVolume, priceFormatOf } from '../model/price-format';
import { NO_SYMBOLS_HINT, renderStatus, searchTextOf, unreachableHint, type StatusAction } from './status';
import { IndicatorMenu, markResolution, renderResolutionButtons } from './toolbar';
import { readLocation, readToggles, writeLocation, writeToggles } from './url-state';
import { FEEDS_UP, type FeedHealth, watchFeedHealth } from './feed-health';
import { mountReplay } from './replay-panel';
import { mountWatchlistBeside } from './watchlist-panel';

const SEARCH_DEBOUNCE_MS = 150;
const NO_SYMBOLS_RETRY_MS = 3_000;
/** Symbols an unknown one's message offers instead. */
const SUGGESTIONS = 5;

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`index.html lacks #${id} (a ${type.name})`);
  return found;
}

const ui = {
  chart: element('chart', HTMLElement),
  form: element('symbol-form', HTMLFormElement),
  input: element('symbol-input', HTMLInputElement),
  options: element('symbol-options', HTMLDataListElement),
  resolutions: element('resolutions', HTMLElement),
  indicatorButton: element('indicator-button', HTMLButtonElement),
  indicators: element('indicators', HTMLElement),
  lastPrice: element('last-price', HTMLElement),
  conn: element('conn', HTMLElement),
  theme: element('theme-toggle', HTMLButtonElement),
  status: element('status', HTMLElement),
  legend: element('legend', HTMLElement),
  gridLink: element('grid-link', HTMLAnchorElement),
};

/** The grid page's resolutions for "this symbol on one page". */
const GRID_RESOLUTIONS = ['1', '5', '60', '1D'] as const;

let theme: Theme = initialTheme(location.search);
let connection: Exclude<ChartConnection, 'loading'> = 'connecting';
let currentLoad: Promise<unknown> = Promise.resolve();
/** What the page itself has to say (a link's resolution it could not use), above the chart's own messages. */
let notice: string | undefined;
let chartStatus: string | undefined;
let statusActions: StatusAction[] = [];

const CONNECTION_TITLES: Record<Exclude<ChartConnection, 'loading'>, string> = {
  connecting: 'Opening the live stream',
  live: 'Live: new trades move the chart as they are stored',
  reconnecting: 'The live stream dropped: reconnecting',
  offline: 'The server cannot be reached: retrying',
  idle: 'The server answered; this chart has nothing to stream',
};

let feeds: FeedHealth = FEEDS_UP;

/** `loading` is shown as `connecting`: the stream opens once history is in; a live
 * stream whose feeds are down is shown as `feed down`. */
function showConnection(state: ChartConnection): void {
  connection = state === 'loading' ? 'connecting' : state;
  const feedDown = connection === 'live' && feeds.down;
  ui.conn.dataset.state = feedDown ? 'feed-down' : connection;
  ui.conn.textContent = feedDown ? 'feed down' : connection;
  ui.conn.title = feedDown ? feeds.reason : CONNECTION_TITLES[connection];
  ui.chart.dataset.connection = connection;
}

function symbolOf(item: SearchSymbolResultItem): string {
  return item.ticker ?? item.full_name;
}

/** Symbol, resolution, the newest bar's OHLCV, and a row naming the lines drawn. */
function showLegend(bar: WireBar | undefined, digits: number): void {
  const title = document.createElement('strong');
  title.textContent = `${app.symbol} · ${resolutionName(app.resolution)} · UTC`;
  const values = document.createElement('span');
  values.className = 'legend-values';
  // A label and its value never part at a line break (a narrow window wraps between pairs).
  const pair = (label: string, value: string): string => `${label}\u00a0${value}`;
  values.textContent = bar
    ? [
        pair('O', bar.open.toFixed(digits)),
        pair('H', bar.high.toFixed(digits)),
        pair('L', bar.low.toFixed(digits)),
        pair('C', bar.close.toFixed(digits)),
        pair('V', formatVolume(bar.volume)),
      ].join('  ')
    : '';
  const lines = document.createElement('div');
  lines.className = 'legend-lines';
  // Without bars (an unknown symbol, an empty resolution) the lines have nothing to name.
  for (const line of bar ? app.lines.visibleDefinitions() : []) {
    const item = document.createElement('span');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = line.color;
    item.append(swatch, lineLabel(line));
    lines.append(item);
  }
  if (bar && !app.marksShown)
    lines.append(Object.assign(document.createElement('span'), { textContent: 'marks hidden' }));
  ui.legend.replaceChildren(title, values, lines);
}

let legendBar: WireBar | undefined;
let legendDigits = 2;

function showLastBar(bar: WireBar | undefined, info: LibrarySymbolInfo | undefined): void {
  const digits = info ? priceFormatOf(info).precision : 2;
  legendBar = bar;
  legendDigits = digits;
  showLegend(bar, digits);
  if (!bar) {
    ui.lastPrice.textContent = '';
    delete ui.lastPrice.dataset.price;
    delete ui.lastPrice.dataset.time;
    delete ui.lastPrice.dataset.direction;
    document.title = `${app.symbol || 'candleflow'} · candleflow`;
    return;
  }
  const price = bar.close.toFixed(digits);
  ui.lastPrice.textContent = price;
  ui.lastPrice.dataset.price = String(bar.close);
  ui.lastPrice.dataset.time = String(bar.time);
  ui.lastPrice.dataset.direction = bar.close >= bar.open ? 'up' : 'down';
  document.title = `${price} ${app.symbol} ${resolutionName(app.resolution)} · candleflow`;
}

/** Mirrors the chart's state on the container, for tests that read the DOM only. */
function showChange(snapshot: ChartSnapshot): void {
  ui.chart.dataset.bars = String(snapshot.bars);
  ui.chart.dataset.loading = String(snapshot.loading);
  ui.chart.dataset.loads = String(snapshot.loads);
  ui.chart.dataset.olderLoads = String(snapshot.olderLoads);
  ui.chart.dataset.historyExhausted = String(snapshot.historyExhausted);
}

/** The chart's message (undefined clears it), below the page's `notice`. */
function showStatus(text: string | undefined, actions: StatusAction[] = []): void {
  chartStatus = text;
  statusActions = actions;
  const parts = [notice, chartStatus].filter((part) => part !== undefined);
  renderStatus(ui.status, parts.length > 0 ? parts.join(' — ') : undefined, statusActions);
}

function chartHref(symbol: string, resolution: string): string {
  return writeLocation(location.search, symbol, resolution);
}

/** After "unknown symbol": offer the symbols whose name is closest, or else the first ones listed. */
async function suggestFor(symbol: string): Promise<void> {
  const resolution = app.resolution;
  const found = await datafeed.client.search(searchTextOf(symbol), '', '', SUGGESTIONS).catch(() => []);
  const items = found.length > 0 ? found : await datafeed.client.search('', '', '', SUGGESTIONS).catch(() => []);
  if (app.symbol !== symbol || items.length === 0) return;
  const actions = items.map((item) => ({
    label: symbolOf(item),
    href: chartHref(symbolOf(item), resolution),
  }));
  showStatus(`${chartStatus ?? `unknown symbol ${symbol}`}. Try:`, actions);
}

const datafeed = new CandleflowDatafeed({
  onConnectionState: (guid, state) => app.handleConnection(guid, state),
});

const view = new LightweightChartView(ui.chart, MOVING_AVERAGES, theme);

const app = new ChartApp(view, datafeed, {
  onConnection: showConnection,
  onLastBar: showLastBar,
  onStatus: (text) => {
    showStatus(text);
  },
  onChange: showChange,
  onUnknownSymbol: (symbol) => void suggestFor(symbol),
});

const defaultLines = new Set(MOVING_AVERAGES.filter((line) => line.defaultVisible).map((line) => line.id));

/** The toggles into the URL (replacing the entry: toggling is no navigation); defaults stay out of it. */
function keepTogglesInUrl(): void {
  const visible = app.lines.visibleDefinitions().map((line) => line.id);
  const same = visible.length === defaultLines.size && visible.every((id) => defaultLines.has(id));
  const search = writeToggles(location.search, { lines: same ? undefined : visible, marks: app.marksShown });
  if (search !== location.search) history.replaceState(null, '', search);
  showLegend(legendBar, legendDigits);
}

const menu = new IndicatorMenu(ui.indicatorButton, ui.indicators, {
  lines: () => app.lines.definitions,
  lineVisible: (id) => app.lineVisible(id),
  setLineVisible: (id, visible) => {
    app.setLineVisible(id, visible);
    replay.lineToggled(id, visible);
    keepTogglesInUrl();
  },
  marksVisible: () => app.marksShown,
  setMarksVisible: (visible) => {
    app.setMarksVisible(visible);
    replay.marksToggled();
    keepTogglesInUrl();
  },
});

/** The toggles a link carries: its lines (those the page knows) and marks. */
function applyToggles(search: string): void {
  const toggles = readToggles(search);
  if (toggles.lines !== undefined) {
    const wanted = new Set(toggles.lines);
    for (const line of app.lines.definitions) app.setLineVisible(line.id, wanted.has(line.id));
  }
  app.setMarksVisible(toggles.marks);
  menu.refresh();
}

/** Bar Replay on the same view (its bar under the toolbar), and the watchlist beside the chart. */
const toolbar = ui.form.parentElement ?? document.body;
const replay = mountReplay(app, view, datafeed, toolbar, { chart: ui.chart, conn: ui.conn });
const watchlist = mountWatchlistBeside(ui.chart, toolbar, datafeed, (s) => void navigate(s, app.resolution, true));

function applyTheme(next: Theme): void {
  theme = next;
  document.documentElement.dataset.theme = next;
  ui.theme.textContent = next === 'dark' ? '☀' : '☾';
  ui.theme.title = next === 'dark' ? 'Switch to the light theme' : 'Switch to the dark theme';
  ui.theme.dataset.theme = next;
  app.setTheme(next);
  if (replay.state.active) replay.redraw();
}

/** Adds the lines of every indicator the server registers beyond the moving averages. */
async function loadFunctions(): Promise<void> {
  try {
    const entries = await datafeed.client.functions();
    const known = new Set(app.lines.definitions.map((line) => line.id));
    for (const line of linesOfFunctions(entries, known)) app.addLine(line);
  } catch (error) {
    console.warn(`candleflow: no function catalogue (${error instanceof Error ? error.message : String(error)})`);
  }
}

function markSelection(symbol: string, resolution: string): void {
  markResolution(ui.resolutions, resolution);
  if (symbol !== '') {
    const charts = GRID_RESOLUTIONS.map((each) => `${symbol}|${each}`).join(',');
    ui.gridLink.href = `./grid?${new URLSearchParams({ charts }).toString()}`;
  }
  if (document.activeElement !== ui.input) ui.input.value = symbol;
  ui.chart.dataset.symbol = symbol;
  ui.chart.dataset.resolution = resolution;
}

/** Opens a chart and records it in the URL (a new history entry when `push`). */
async function navigate(symbol: string, resolution: string, push: boolean): Promise<boolean> {
  const canonical = toSupportedResolution(resolution);
  if (push) notice = undefined; // the user moved on from the link's problem
  const search = writeLocation(location.search, symbol, canonical);
  if (search !== location.search) {
    if (push) history.pushState(null, '', search);
    else history.replaceState(null, '', search);
  }
  markSelection(symbol, canonical);
  replay.leave(); // another chart: the replay of this one ends
  const load = app.open(symbol, canonical);
  currentLoad = load;
  return load;
}

function search(query: string): Promise<SearchSymbolResultItem[]> {
  return new Promise((resolve) => datafeed.searchSymbols(query, '', '', resolve));
}

function wireSymbolSearch(): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  ui.input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void suggest(ui.input.value.trim()), SEARCH_DEBOUNCE_MS);
  });
  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void openTyped();
  });
}

/** Fills the search field's suggestions. */
async function suggest(query: string): Promise<void> {
  const items = await search(query);
  ui.options.replaceChildren(
    ...items.map((item) => {
      const option = document.createElement('option');
      option.value = symbolOf(item);
      option.label = item.description;
      return option;
    }),
  );
}

/** An exact symbol opens as typed; anything else opens the best search match. */
async function openTyped(): Promise<void> {
  const typed = ui.input.value.trim();
  if (!typed) return;
  const known = [...ui.options.options].some((option) => option.value === typed);
  const match = known ? undefined : (await search(typed))[0];
  ui.input.blur();
  await navigate(match ? symbolOf(match) : typed, app.resolution, true);
}

/** With no symbol in the URL: the first symbol the server lists, once there is one. */
async function firstSymbol(): Promise<string> {
  for (;;) {
    try {
      const first = (await datafeed.client.search('', '', '', 1))[0];
      if (first) {
        showStatus(undefined);
        return symbolOf(first);
      }
      // The server answered, with nothing yet: how to feed it, not "offline".
      showStatus(NO_SYMBOLS_HINT);
      showConnection('idle');
    } catch (error) {
      showStatus(unreachableHint(error instanceof Error ? error.message : String(error)));
      showConnection('offline');
    }
    await new Promise((resolve) => setTimeout(resolve, NO_SYMBOLS_RETRY_MS));
  }
}

async function start(): Promise<void> {
  renderResolutionButtons(ui.resolutions, (resolution) => void navigate(app.symbol, resolution, true));
  await loadFunctions();
  menu.render();
  applyToggles(location.search);
  wireSymbolSearch();
  applyTheme(theme);
  ui.theme.addEventListener('click', () => {
    const next = theme === 'dark' ? 'light' : 'dark';
    rememberTheme(next);
    applyTheme(next);
    // An explicit choice replaces a `?theme=` from a shared link.
    const params = new URLSearchParams(location.search);
    if (params.has('theme')) {
      params.delete('theme');
      history.replaceState(null, '', `?${params.toString()}`);
    }
  });
  followSystemTheme(applyTheme);
  window.addEventListener('online', () => datafeed.reconnectNow());
  watchFeedHealth(
    () => fetch('/healthz').then((response) => response.json()),
    (health) => {
      feeds = health;
      showConnection(connection);
    },
  );
  window.addEventListener('popstate', () => {
    const { symbol, resolution } = readLocation(location.search);
    applyToggles(location.search);
    if (symbol) void navigate(symbol, resolution, false);
  });
  window.__candleflow = createDebugHook({
    app,
    view,
    datafeed,
    theme: () => theme,
    state: () => connection,
    currentLoad: () => currentLoad,
    navigate: (symbol, resolution) => navigate(symbol, resolution, true),
    replay,
    watchlist,
  });

  const requested = readLocation(location.search);
  if (requested.problem !== undefined) {
    notice = `${requested.problem}; showing ${requested.resolution} (${resolutionName(requested.resolution)})`;
    showStatus(undefined);
  }
  markSelection(requested.symbol ?? '', requested.resolution);
  const symbol = requested.symbol ?? (await firstSymbol());
  await navigate(symbol, requested.resolution, false);
}

void start();
