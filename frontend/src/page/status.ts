/**
 * Messages for the user, as the page shows them: `code` in backticks becomes a `<code>`
 * element (commands, resolutions), and a message may offer ways forward as links
 * (another symbol, a corrected grid). The texts of the page's own hints live here too,
 * so they are written once and tested without a browser.
 */

/** A way forward a message offers: a link the user follows. */
export interface StatusAction {
  label: string;
  href: string;
}

/** What the page says when the server holds no symbol yet: how to feed it, with or without a clone. */
export const NO_SYMBOLS_HINT =
  'No symbols yet: this server has stored no trades. Feed it: in a clone of candleflow, `make run` starts ' +
  'everything; with the installed package, start the worker with `CANDLEFLOW_SOURCE=synthetic` (a demo ' +
  'random walk; `CANDLEFLOW_SYNTHETIC_HISTORY=48` adds two days of past trades), or publish ticks beside it ' +
  'with `candleflow ingest synthetic` (or `ingest replay FILE`, `ingest cryptocompare`). ' +
  'The chart opens as soon as the first trade is stored.';

/** The server could not be asked for symbols at all. */
export function unreachableHint(why: string): string {
  return `cannot reach the candleflow server (${why}); retrying`;
}

/** `Exchange:BASE/QUOTE` → what to search for when it is unknown (`BASE`, else the text as typed). */
export function searchTextOf(symbol: string): string {
  const pair = symbol.slice(symbol.indexOf(':') + 1);
  const base = pair.split('/')[0]?.trim() ?? '';
  return base === '' ? symbol.trim() : base;
}

/** Splits `text` at backticks into text and code parts (code at odd indexes). */
export function codeParts(text: string): { text: string; code: boolean }[] {
  return text
    .split('`')
    .map((part, index) => ({ text: part, code: index % 2 === 1 }))
    .filter((part) => part.text !== '');
}

/** `text` (backticks as `<code>`) and its actions into `element`; hidden when `text` is undefined. */
export function renderStatus(
  element: HTMLElement,
  text: string | undefined,
  actions: readonly StatusAction[] = [],
): void {
  element.hidden = text === undefined;
  const nodes: Node[] = codeParts(text ?? '').map((part) => {
    if (!part.code) return document.createTextNode(part.text);
    const code = document.createElement('code');
    code.textContent = part.text;
    return code;
  });
  if (actions.length > 0) {
    const list = document.createElement('span');
    list.className = 'status-actions';
    list.append(' ');
    for (const action of actions) {
      const link = document.createElement('a');
      link.href = action.href;
      link.textContent = action.label;
      list.append(link, ' ');
    }
    nodes.push(list);
  }
  element.replaceChildren(...nodes);
}
