/**
 * Entry point of tv.html: TradingView's Charting Library driven by our datafeed,
 * for users who own the library. The library is looked for at
 * `./charting_library/charting_library.standalone.js` (see charting_library/README.md);
 * without it the page explains how to add it.
 */
import './styles.css';
import { CandleflowDatafeed } from '../datafeed/datafeed';
import { initialTheme } from '../chart/theme';
import type { TradingViewDatafeed } from '../wire/tv-types';
import { readLocation, writeLocation } from './url-state';

const LIBRARY_PATH = './charting_library/';
const LIBRARY_SCRIPT = `${LIBRARY_PATH}charting_library.standalone.js`;

/** The few widget options we pass; the library accepts many more. */
interface WidgetOptions {
  container: HTMLElement;
  library_path: string;
  datafeed: TradingViewDatafeed;
  symbol: string;
  interval: string;
  locale: string;
  timezone: string;
  theme: 'light' | 'dark';
  autosize: boolean;
  disabled_features: string[];
  enabled_features: string[];
}

interface ChartApi {
  resetData(): void;
  symbol(): string;
  resolution(): string;
  onSymbolChanged(): { subscribe(obj: null, callback: () => void): void };
  onIntervalChanged(): { subscribe(obj: null, callback: (interval: string) => void): void };
}

interface Widget {
  onChartReady(callback: () => void): void;
  activeChart(): ChartApi;
}

declare global {
  interface Window {
    TradingView?: { widget: new (options: WidgetOptions) => Widget };
  }
}

/**
 * True when the library is there: the build says so in `charting-library.json`; an
 * older build without it is asked directly (not a 404, nor an HTML fallback page).
 */
async function libraryPresent(): Promise<boolean> {
  try {
    const manifest = await fetch('./charting-library.json');
    if (manifest.ok) {
      const answer: unknown = await manifest.json();
      return typeof answer === 'object' && answer !== null && 'present' in answer && answer.present === true;
    }
  } catch {
    // no manifest: ask for the script itself
  }
  try {
    const response = await fetch(LIBRARY_SCRIPT, { method: 'HEAD' });
    const type = response.headers.get('content-type') ?? '';
    return response.ok && !type.includes('text/html');
  } catch {
    return false;
  }
}

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(script);
  });
}

function showMissing(): void {
  const missing = document.getElementById('tv-missing');
  if (missing) missing.hidden = false;
  document.getElementById('tv-chart')?.remove();
}

async function firstSymbol(datafeed: CandleflowDatafeed): Promise<string | undefined> {
  const items = await datafeed.client.search('', '', '', 30).catch(() => []);
  const first = items[0];
  return first && (first.ticker ?? first.full_name);
}

async function start(): Promise<void> {
  const theme = initialTheme(location.search);
  document.documentElement.dataset.theme = theme;
  if (!(await libraryPresent())) {
    showMissing();
    return;
  }
  try {
    await loadScript(LIBRARY_SCRIPT);
  } catch {
    showMissing();
    return;
  }
  const TradingView = window.TradingView;
  const container = document.getElementById('tv-chart');
  if (!TradingView || !container) {
    showMissing();
    return;
  }

  let widget: Widget | undefined = undefined;
  const datafeed = new CandleflowDatafeed({
    // The library only drops its cache on onResetCacheNeeded; resetData() reloads the bars.
    onResetCacheNeeded: () => widget?.activeChart().resetData(),
  });
  const requested = readLocation(location.search);
  const symbol = requested.symbol ?? (await firstSymbol(datafeed)) ?? '';
  widget = new TradingView.widget({
    container,
    library_path: LIBRARY_PATH,
    datafeed,
    symbol,
    interval: requested.resolution,
    locale: 'en',
    timezone: 'Etc/UTC',
    theme,
    autosize: true,
    disabled_features: ['use_localstorage_for_settings'],
    enabled_features: ['seconds_resolution'],
  });
  const ready = widget;
  ready.onChartReady(() => {
    const chart = ready.activeChart();
    const keepInUrl = (): void =>
      history.replaceState(null, '', writeLocation(location.search, chart.symbol(), chart.resolution()));
    chart.onSymbolChanged().subscribe(null, keepInUrl);
    chart.onIntervalChanged().subscribe(null, keepInUrl);
  });
}

void start();
