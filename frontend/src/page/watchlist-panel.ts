/**
 * The watchlist beside the chart: each symbol with its last price and 24 h change,
 * live from the page's one SSE stream (`subscribeQuotes`), a click opens it, `×`
 * removes it and the field below adds one (an exact symbol, else the best search
 * match). The list is kept in local storage (`model/watchlist.ts`).
 */
import type { CandleflowDatafeed } from '../datafeed/datafeed';
import { quoteView, readWatchlist, Watchlist, writeWatchlist, type StorageLike } from '../model/watchlist';
import type { QuoteData, SearchSymbolResultItem } from '../wire/tv-types';

const LISTENER = 'watchlist';
/** Symbols a first visit starts with: the first ones the server lists. */
const FIRST_VISIT_SYMBOLS = 8;

export interface WatchlistPanel {
  readonly element: HTMLElement;
  symbols(): readonly string[];
  /** The newest quote shown per symbol. */
  quotes(): Record<string, QuoteData>;
  add(symbol: string): Promise<boolean>;
  remove(symbol: string): void;
  setVisible(visible: boolean): void;
}

function storage(): StorageLike | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}

function button(text: string, testid: string, title: string): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = text;
  element.title = title;
  element.dataset.testid = testid;
  return element;
}

export function mountWatchlist(
  parent: HTMLElement,
  datafeed: CandleflowDatafeed,
  open: (symbol: string) => void,
): WatchlistPanel {
  const aside = document.createElement('aside');
  aside.className = 'watchlist';
  aside.dataset.testid = 'watchlist';
  aside.setAttribute('aria-label', 'Watchlist');
  const list = document.createElement('ol');
  list.className = 'watch-items';
  const form = document.createElement('form');
  form.className = 'watch-add';
  const input = document.createElement('input');
  input.type = 'search';
  input.placeholder = 'Add symbol';
  input.dataset.testid = 'watch-input';
  input.setAttribute('aria-label', 'Symbol to add to the watchlist');
  form.append(input, button('+', 'watch-add', 'Add to the watchlist'));
  aside.append(list, form);
  parent.append(aside);

  const stored = storage();
  const initial = readWatchlist(location.search, stored);
  const watchlist = new Watchlist(initial ?? []);
  const shown = new Map<string, QuoteData>();
  const rows = new Map<string, HTMLLIElement>();

  function row(symbol: string): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'watch-item';
    item.dataset.testid = 'watch-item';
    item.dataset.symbol = symbol;
    const name = document.createElement('button');
    name.type = 'button';
    name.className = 'watch-symbol';
    name.textContent = symbol;
    name.title = `Open ${symbol}`;
    name.addEventListener('click', () => open(symbol));
    const price = document.createElement('span');
    price.className = 'watch-price';
    price.dataset.testid = 'watch-price';
    const change = document.createElement('span');
    change.className = 'watch-change';
    change.dataset.testid = 'watch-change';
    const remove = button('×', 'watch-remove', `Remove ${symbol}`);
    remove.className = 'watch-remove';
    remove.addEventListener('click', () => panel.remove(symbol));
    item.append(name, price, change, remove);
    return item;
  }

  function paint(symbol: string): void {
    const item = rows.get(symbol);
    if (!item) return;
    const view = quoteView(shown.get(symbol));
    const [price, change] = [item.querySelector('.watch-price'), item.querySelector('.watch-change')];
    if (price) price.textContent = view.price;
    if (change) change.textContent = view.change;
    item.dataset.direction = view.direction;
    const quote = shown.get(symbol);
    const last = quote?.s === 'ok' ? quote.v.lp : undefined;
    if (typeof last === 'number') item.dataset.price = String(last);
  }

  function render(): void {
    rows.clear();
    list.replaceChildren(
      ...watchlist.symbols.map((symbol) => {
        const item = row(symbol);
        rows.set(symbol, item);
        return item;
      }),
    );
    for (const symbol of watchlist.symbols) paint(symbol);
  }

  function follow(): void {
    writeWatchlist(stored, watchlist.symbols);
    render();
    datafeed.subscribeQuotes([...watchlist.symbols], [], onQuotes, LISTENER);
  }

  function onQuotes(quotes: QuoteData[]): void {
    for (const quote of quotes) {
      shown.set(quote.n, quote);
      paint(quote.n);
    }
  }

  function search(query: string): Promise<SearchSymbolResultItem[]> {
    return new Promise((resolve) => datafeed.searchSymbols(query, '', '', resolve));
  }

  const panel: WatchlistPanel = {
    element: aside,
    symbols: () => watchlist.symbols,
    quotes: () => Object.fromEntries(shown),
    async add(symbol: string): Promise<boolean> {
      const typed = symbol.trim();
      if (!typed) return false;
      const matches = await search(typed);
      const exact = matches.find((item) => (item.ticker ?? item.full_name) === typed);
      const chosen = exact ?? matches[0];
      if (!watchlist.add(chosen ? (chosen.ticker ?? chosen.full_name) : typed)) return false;
      follow();
      return true;
    },
    remove(symbol: string): void {
      if (!watchlist.remove(symbol)) return;
      shown.delete(symbol);
      follow();
    },
    setVisible(visible: boolean): void {
      aside.hidden = !visible;
    },
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const typed = input.value;
    input.value = '';
    void panel.add(typed);
  });

  if (initial === undefined) {
    void search('').then((items) => {
      for (const item of items.slice(0, FIRST_VISIT_SYMBOLS)) watchlist.add(item.ticker ?? item.full_name);
      follow();
    });
  } else {
    follow();
  }
  return panel;
}

/**
 * The watchlist beside `chart` (both wrapped in a `.workspace`), and its `☆ List` toggle
 * on `toolbar` before the spacer.
 */
export function mountWatchlistBeside(
  chart: HTMLElement,
  toolbar: HTMLElement,
  datafeed: CandleflowDatafeed,
  open: (symbol: string) => void,
): WatchlistPanel {
  const workspace = document.createElement('div');
  workspace.className = 'workspace';
  chart.before(workspace);
  workspace.append(chart);
  const panel = mountWatchlist(workspace, datafeed, open);
  const toggle = button('☆ List', 'watchlist-toggle', 'Watchlist');
  toggle.className = 'tool-button';
  toggle.setAttribute('aria-pressed', 'true');
  toggle.addEventListener('click', () => {
    const visible = panel.element.hidden;
    panel.setVisible(visible);
    toggle.setAttribute('aria-pressed', String(visible));
  });
  toolbar.insertBefore(toggle, toolbar.querySelector('.spacer'));
  return panel;
}
