/**
 * The two ways the front end talks to the worker, as narrow interfaces.
 *
 * Everything that does I/O takes these as constructor arguments, so unit tests
 * hand in fakes (the httpx `MockTransport` idea) instead of patching globals.
 */

/** The part of `Response` we read. */
export interface ResponseLike {
  readonly ok: boolean;
  readonly status: number;
  json(): Promise<unknown>;
}

/** The part of `fetch` we call. */
export type FetchLike = (
  url: string,
  init?: { signal?: AbortSignal; method?: 'GET' | 'POST' },
) => Promise<ResponseLike>;

export interface MessageEventLike {
  readonly data: string;
  /** The SSE `id:` in effect for this event (the browser's `MessageEvent.lastEventId`). */
  readonly lastEventId?: string;
}

/** The part of `EventSource` we use. */
export interface EventSourceLike {
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: string, listener: (event: MessageEventLike) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

/** Timers, injectable so backoff and polling can be tested without waiting. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const browserFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

export const browserEventSource: EventSourceFactory = (url) => new EventSource(url);

export const browserTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (callback, ms) => globalThis.setInterval(callback, ms),
  clearInterval: (handle) => globalThis.clearInterval(handle as ReturnType<typeof setInterval>),
};

/** Builds `base/path?query`, dropping undefined parameters and URL-encoding the rest. */
export function buildUrl(base: string, path: string, params: Record<string, string | number | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) query.set(key, String(value));
  }
  const text = query.toString();
  return `${base.replace(/\/+$/, '')}/${path}${text ? `?${text}` : ''}`;
}
