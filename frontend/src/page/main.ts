/**
 * Entry point of index.html: wires the toolbar (symbol search, resolution and
 * moving-average buttons, theme toggle, connection state, last price) to a
 * `ChartApp`, and keeps `?symbol=…&resolution=…` in the URL.
 */
import './styles.css';
import { ChartApp, type ChartConnection, type ChartSnapshot } from '../chart/chart-app';
import { LightweightChartView } from '../chart/lightweight-view';
import { CandleflowDatafeed } from '../datafeed/datafeed';
import { createDebugHook } from './debug-hook';
import { lineLabel, linesOfFunctions, MOVING_AVERAGES, type MovingAverageLine } from '../model/indicators';
import { resolutionLabel, SUPPORTED_RESOLUTIONS, toSupportedResolution } from '../model/resolution';
import type { ConnectionState } from '../datafeed/streaming';
import { followSystemTheme, initialTheme, rememberTheme, type Theme } from '../chart/theme';
import type { LibrarySymbolInfo, SearchSymbolResultItem } from '../wire/tv-types';
import type { WireBar } from '../wire/answers';
import { priceFormatOf } from '../model/price-format';
import { readLocation, writeLocation } from './url-state';
import { FEEDS_UP, type FeedHealth, watchFeedHealth } from './feed-health';

const SEARCH_DEBOUNCE_MS = 150;
const NO_SYMBOLS_RETRY_MS = 3_000;

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
  indicators: element('indicators', HTMLElement),
  lastPrice: element('last-price', HTMLElement),
  conn: element('conn', HTMLElement),
  theme: element('theme-toggle', HTMLButtonElement),
  status: element('status', HTMLElement),
  legend: element('legend', HTMLElement),
};

let theme: Theme = initialTheme(location.search);
let connection: ConnectionState = 'connecting';
let currentLoad: Promise<unknown> = Promise.resolve();

let feeds: FeedHealth = FEEDS_UP;

/** `loading` is shown as `connecting`: the stream opens once history is in; a live
 * stream whose feeds are down is shown as `feed down`. */
function showConnection(state: ChartConnection): void {
  connection = state === 'loading' ? 'connecting' : state;
  const feedDown = connection === 'live' && feeds.down;
  ui.conn.dataset.state = feedDown ? 'feed-down' : connection;
  ui.conn.textContent = feedDown ? 'feed down' : connection;
  ui.conn.title = feedDown ? feeds.reason : '';
  ui.chart.dataset.connection = connection;
}

function symbolOf(item: SearchSymbolResultItem): string {
  return item.ticker ?? item.full_name;
}

function showLegend(bar: WireBar | undefined, digits: number): void {
  const title = document.createElement('strong');
  title.textContent = `${app.symbol} · ${resolutionLabel(app.resolution)} · UTC`;
  const values = bar
    ? `O ${bar.open.toFixed(digits)}  H ${bar.high.toFixed(digits)}  L ${bar.low.toFixed(digits)}  C ${bar.close.toFixed(digits)}  V ${bar.volume}`
    : '';
  ui.legend.replaceChildren(title, values);
}

function showLastBar(bar: WireBar | undefined, info: LibrarySymbolInfo | undefined): void {
  const digits = info ? priceFormatOf(info).precision : 2;
  showLegend(bar, digits);
  if (!bar) {
    ui.lastPrice.textContent = '';
    delete ui.lastPrice.dataset.price;
    delete ui.lastPrice.dataset.time;
    document.title = `${app.symbol || 'candleflow'} · candleflow`;
    return;
  }
  const price = bar.close.toFixed(digits);
  ui.lastPrice.textContent = price;
  ui.lastPrice.dataset.price = String(bar.close);
  ui.lastPrice.dataset.time = String(bar.time);
  ui.lastPrice.dataset.direction = bar.close >= bar.open ? 'up' : 'down';
  document.title = `${price} ${app.symbol} ${resolutionLabel(app.resolution)} · candleflow`;
}

/** Mirrors the chart's state on the container, for tests that read the DOM only. */
function showChange(snapshot: ChartSnapshot): void {
  ui.chart.dataset.bars = String(snapshot.bars);
  ui.chart.dataset.loading = String(snapshot.loading);
  ui.chart.dataset.loads = String(snapshot.loads);
  ui.chart.dataset.olderLoads = String(snapshot.olderLoads);
  ui.chart.dataset.historyExhausted = String(snapshot.historyExhausted);
}

function showStatus(text: string | undefined): void {
  ui.status.hidden = text === undefined;
  ui.status.textContent = text ?? '';
}

const datafeed = new CandleflowDatafeed({
  onConnectionState: (guid, state) => app.handleConnection(guid, state),
});

const view = new LightweightChartView(ui.chart, MOVING_AVERAGES, theme);

const app = new ChartApp(view, datafeed, {
  onConnection: showConnection,
  onLastBar: showLastBar,
  onStatus: showStatus,
  onChange: showChange,
});

function applyTheme(next: Theme): void {
  theme = next;
  document.documentElement.dataset.theme = next;
  ui.theme.textContent = next === 'dark' ? '☀' : '☾';
  ui.theme.title = next === 'dark' ? 'Switch to the light theme' : 'Switch to the dark theme';
  ui.theme.dataset.theme = next;
  app.setTheme(next);
}

function renderResolutionButtons(): void {
  for (const resolution of SUPPORTED_RESOLUTIONS) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = resolutionLabel(resolution);
    button.title = `Resolution ${resolution}`;
    button.dataset.resolution = resolution;
    button.dataset.testid = `resolution-${resolution}`;
    button.addEventListener('click', () => void navigate(app.symbol, resolution, true));
    ui.resolutions.append(button);
  }
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

function buttonText(line: MovingAverageLine): string {
  if (!line.group) return String(line.period);
  return line.output ?? (Object.values(line.params ?? {}).join(',') || line.kind);
}

/** One group per function name ("SMA 20 50 200", "RSI 14", ...), a toggle per line. */
function renderIndicatorButtons(): void {
  const kinds = [...new Set(app.lines.definitions.map((line) => line.kind))];
  for (const kind of kinds) {
    const group = document.createElement('div');
    group.className = 'group';
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', kind.toUpperCase());
    const label = document.createElement('span');
    label.className = 'group-label';
    label.textContent = kind.toUpperCase();
    group.append(label);
    for (const line of app.lines.definitions.filter((candidate) => candidate.kind === kind)) {
      const button = document.createElement('button');
      button.type = 'button';
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = line.color;
      button.append(swatch, buttonText(line));
      button.title = lineLabel(line);
      button.dataset.indicator = line.id;
      button.dataset.testid = `indicator-${line.id}`;
      button.setAttribute('aria-pressed', String(line.defaultVisible));
      button.addEventListener('click', () => {
        const visible = !app.lineVisible(line.id);
        app.setLineVisible(line.id, visible);
        button.setAttribute('aria-pressed', String(visible));
      });
      group.append(button);
    }
    ui.indicators.append(group);
  }
}

function markSelection(symbol: string, resolution: string): void {
  for (const button of ui.resolutions.querySelectorAll<HTMLButtonElement>('button')) {
    button.setAttribute('aria-pressed', String(button.dataset.resolution === resolution));
  }
  if (document.activeElement !== ui.input) ui.input.value = symbol;
  ui.chart.dataset.symbol = symbol;
  ui.chart.dataset.resolution = resolution;
}

/** Opens a chart and records it in the URL (a new history entry when `push`). */
async function navigate(symbol: string, resolution: string, push: boolean): Promise<boolean> {
  const canonical = toSupportedResolution(resolution);
  const search = writeLocation(location.search, symbol, canonical);
  if (search !== location.search) {
    if (push) history.pushState(null, '', search);
    else history.replaceState(null, '', search);
  }
  markSelection(symbol, canonical);
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
    const items = await search('');
    const first = items[0];
    if (first) return symbolOf(first);
    showStatus('No symbols yet: waiting for the first ticks (is the feed running? `make run`)');
    showConnection('offline');
    await new Promise((resolve) => setTimeout(resolve, NO_SYMBOLS_RETRY_MS));
  }
}

async function start(): Promise<void> {
  renderResolutionButtons();
  await loadFunctions();
  renderIndicatorButtons();
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
  });

  const requested = readLocation(location.search);
  markSelection(requested.symbol ?? '', requested.resolution);
  const symbol = requested.symbol ?? (await firstSymbol());
  await navigate(symbol, requested.resolution, false);
}

void start();
