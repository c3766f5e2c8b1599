/**
 * Light and dark themes. The page follows `prefers-color-scheme` until the user
 * picks a theme with the toggle; that choice is remembered in localStorage.
 */
export type Theme = 'light' | 'dark';

const STORAGE_KEY = 'candleflow.theme';

export interface ChartPalette {
  background: string;
  text: string;
  grid: string;
  border: string;
  up: string;
  down: string;
  volumeUp: string;
  volumeDown: string;
  markUp: string;
  markDown: string;
  markOther: string;
}

export const PALETTES: Record<Theme, ChartPalette> = {
  light: {
    background: '#ffffff',
    text: '#1f2937',
    grid: '#eef1f5',
    border: '#d1d5db',
    up: '#16a34a',
    down: '#dc2626',
    volumeUp: 'rgba(22, 163, 74, 0.35)',
    volumeDown: 'rgba(220, 38, 38, 0.35)',
    markUp: '#15803d',
    markDown: '#b91c1c',
    markOther: '#2563eb',
  },
  dark: {
    background: '#0f141b',
    text: '#d1d5db',
    grid: '#1c232d',
    border: '#2b3440',
    up: '#22c55e',
    down: '#ef4444',
    volumeUp: 'rgba(34, 197, 94, 0.45)',
    volumeDown: 'rgba(239, 68, 68, 0.45)',
    markUp: '#4ade80',
    markDown: '#f87171',
    markOther: '#60a5fa',
  },
};

/** `matchMedia` and `localStorage` are missing outside a browser (unit tests run on Node). */
const browser: { matchMedia?: typeof globalThis.matchMedia; localStorage?: Storage } = globalThis;

function darkQuery(): MediaQueryList | undefined {
  return browser.matchMedia?.('(prefers-color-scheme: dark)');
}

function systemTheme(): Theme {
  return darkQuery()?.matches ? 'dark' : 'light';
}

function storedTheme(): Theme | undefined {
  try {
    const value = browser.localStorage?.getItem(STORAGE_KEY);
    return value === 'light' || value === 'dark' ? value : undefined;
  } catch {
    return undefined; // storage disabled
  }
}

/** `?theme=dark|light` (handy for screenshots), then the stored choice, then the system's. */
export function initialTheme(search: string): Theme {
  const requested = new URLSearchParams(search).get('theme');
  if (requested === 'light' || requested === 'dark') return requested;
  return storedTheme() ?? systemTheme();
}

export function rememberTheme(theme: Theme): void {
  try {
    browser.localStorage?.setItem(STORAGE_KEY, theme);
  } catch {
    // storage disabled: the choice lasts until the page is closed
  }
}

/** Calls `onChange` when the system theme changes and the user has not picked one. */
export function followSystemTheme(onChange: (theme: Theme) => void): void {
  darkQuery()?.addEventListener('change', () => {
    if (storedTheme() === undefined) onChange(systemTheme());
  });
}
