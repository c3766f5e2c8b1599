/**
 * Whether the worker's market-data feeds are down, read from `/healthz`: while they
 * are, the connection badge says "feed down" (with the client's reason as its title)
 * instead of "live", since the stream is open but no trades can come.
 */

export interface FeedHealth {
  down: boolean;
  /** The client's reasons, one line per market: `kraken Kraken:BTC/USD: Cannot connect …`. */
  reason: string;
}

export const FEEDS_UP: FeedHealth = { down: false, reason: '' };

/** The feed part of a `/healthz` body; anything unexpected counts as up (no false alarm). */
export function readFeedHealth(body: unknown): FeedHealth {
  const feeds = (body as { feeds?: { status?: unknown; down?: unknown } } | null)?.feeds;
  if (feeds?.status !== 'down' || !Array.isArray(feeds.down)) return FEEDS_UP;
  const lines = feeds.down
    .filter((item): item is unknown[] => Array.isArray(item) && item.length >= 3)
    .map(([source, symbol, reason]) => `${String(source)} ${String(symbol)}: ${String(reason)}`);
  return { down: true, reason: lines.join('\n') };
}

export interface HealthTimers {
  setTimeout(callback: () => void, ms: number): unknown;
}

/**
 * Ask `/healthz` now and every `everyMs`, calling `onChange` when the answer changes.
 * A failed request leaves the last answer (the stream's own state says when the
 * worker is unreachable).
 */
export function watchFeedHealth(
  fetchHealth: () => Promise<unknown>,
  onChange: (health: FeedHealth) => void,
  everyMs = 15_000,
  timers: HealthTimers = globalThis,
): void {
  let last = FEEDS_UP;
  const poll = async (): Promise<void> => {
    try {
      const next = readFeedHealth(await fetchHealth());
      if (next.down !== last.down || next.reason !== last.reason) {
        last = next;
        onChange(next);
      }
    } catch {
      // keep the last answer
    }
    timers.setTimeout(() => void poll(), everyMs);
  };
  void poll();
}
