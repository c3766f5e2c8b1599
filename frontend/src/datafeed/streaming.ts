/**
 * Live bars over Server-Sent Events: one `EventSource` per subscription.
 *
 * Two maps hold the bookkeeping. `subscriptions` (subscriber guid → subscription,
 * which owns its current stream) answers "what do I close on unsubscribe";
 * `subscriptionByStream` (stream → subscription) answers "who gets this event".
 * A stream leaves the second map the moment it is closed, so a late event from an
 * old stream — after an unsubscribe, a resolution switch or a reconnect — finds no
 * subscription and is dropped instead of reaching the wrong chart.
 *
 * On a stream error the stream is closed and reopened after a capped exponential
 * backoff. When a stream that was live before opens again, bars may have been
 * missed meanwhile, so the subscriber is told to reset (`onResetCacheNeeded`).
 */
import type { WireBar } from '../wire/udf-client';
import type { EventSourceFactory, EventSourceLike, MessageEventLike, Timers } from '../wire/transport';

/** `connecting` before the first open, `offline` after `offlineAfter` failed attempts in a row. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface BackoffPolicy {
  /** Delay before the first reconnect attempt. */
  initialMs: number;
  /** Upper bound of any delay: a worker that comes back is seen within this time. */
  maxMs: number;
  factor: number;
  /** ± fraction of random spread, so many tabs do not reconnect in lockstep. */
  jitter: number;
  /** Failed attempts in a row after which the state reads `offline` (retries go on). */
  offlineAfter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 500,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.2,
  offlineAfter: 6,
};

/** Delay before reconnect attempt number `attempt` (1-based). `random` returns [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt - 1));
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.round(Math.min(policy.maxMs, Math.max(0, base + spread)));
}

export interface SubscriptionRequest {
  guid: string;
  symbol: string;
  resolution: string;
  /** Newest bar time (seconds) the subscriber already has: older stream bars are dropped. */
  lastTime?: number;
  onBar: (bar: WireBar) => void;
  onReset: () => void;
}

interface Subscription extends SubscriptionRequest {
  stream: EventSourceLike | undefined;
  retryTimer: unknown;
  /** Failed connection attempts since the last bar received. */
  failures: number;
  /** True once a stream for this subscription has opened: the next open is a reconnect. */
  wasLive: boolean;
  state: ConnectionState;
}

export interface BarStreamsOptions {
  /** Builds the SSE URL of one series. */
  url: (symbol: string, resolution: string) => string;
  eventSource: EventSourceFactory;
  timers: Timers;
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  onStateChange?: (guid: string, state: ConnectionState) => void;
}

/** The payload of an SSE `bar` event. */
export interface StreamBar extends WireBar {
  symbol: string;
  resolution: string;
  trades?: number;
}

export function parseStreamBar(data: string): StreamBar | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const bar = value as Record<string, unknown>;
  const numeric = ['time', 'open', 'high', 'low', 'close'] as const;
  if (!numeric.every((key) => typeof bar[key] === 'number' && Number.isFinite(bar[key]))) return undefined;
  return {
    symbol: typeof bar.symbol === 'string' ? bar.symbol : '',
    resolution: typeof bar.resolution === 'string' ? bar.resolution : '',
    time: bar.time as number,
    open: bar.open as number,
    high: bar.high as number,
    low: bar.low as number,
    close: bar.close as number,
    volume: typeof bar.volume === 'number' ? bar.volume : 0,
    ...(typeof bar.trades === 'number' ? { trades: bar.trades } : {}),
  };
}

export class BarStreams {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly subscriptionByStream = new Map<EventSourceLike, Subscription>();
  private readonly policy: BackoffPolicy;
  private readonly random: () => number;

  constructor(private readonly options: BarStreamsOptions) {
    this.policy = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
  }

  subscribe(request: SubscriptionRequest): void {
    this.unsubscribe(request.guid);
    const subscription: Subscription = {
      ...request,
      stream: undefined,
      retryTimer: undefined,
      failures: 0,
      wasLive: false,
      state: 'connecting',
    };
    this.subscriptions.set(request.guid, subscription);
    this.options.onStateChange?.(request.guid, 'connecting');
    this.connect(subscription);
  }

  unsubscribe(guid: string): void {
    const subscription = this.subscriptions.get(guid);
    if (!subscription) return;
    this.subscriptions.delete(guid);
    this.cancelRetry(subscription);
    this.closeStream(subscription);
  }

  unsubscribeAll(): void {
    for (const guid of [...this.subscriptions.keys()]) this.unsubscribe(guid);
  }

  /** Reconnects every waiting subscription now (e.g. when the browser comes back online). */
  retryNow(): void {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.stream === undefined) {
        this.cancelRetry(subscription);
        this.connect(subscription);
      }
    }
  }

  state(guid: string): ConnectionState | undefined {
    return this.subscriptions.get(guid)?.state;
  }

  /** Guids with a subscription; for tests and the debug hook. */
  guids(): string[] {
    return [...this.subscriptions.keys()];
  }

  /** Number of open streams; equals the number of subscriptions not waiting to reconnect. */
  openStreams(): number {
    return this.subscriptionByStream.size;
  }

  private connect(subscription: Subscription): void {
    const stream = this.options.eventSource(this.options.url(subscription.symbol, subscription.resolution));
    subscription.stream = stream;
    this.subscriptionByStream.set(stream, subscription);
    stream.addEventListener('open', () => this.onOpen(stream));
    stream.addEventListener('error', () => this.onError(stream));
    stream.addEventListener('bar', (event: MessageEventLike) => this.onBar(stream, event.data));
    stream.addEventListener('reset', () => this.onResetEvent(stream));
  }

  private onOpen(stream: EventSourceLike): void {
    const subscription = this.subscriptionByStream.get(stream);
    if (!subscription) return;
    const reconnected = subscription.wasLive;
    subscription.wasLive = true;
    this.setState(subscription, 'live');
    if (reconnected) this.reset(subscription);
  }

  private onBar(stream: EventSourceLike, data: string): void {
    const subscription = this.subscriptionByStream.get(stream);
    if (!subscription) return;
    const bar = parseStreamBar(data);
    if (!bar) return;
    // The stream URL names the series, so `bar.symbol` is not compared: a server that
    // echoes a canonical spelling (case, exchange prefix) must not silence the chart.
    // A bar older than the newest delivered would be a "time violation" for the chart;
    // the server announces corrections of older bars with a `reset` event instead.
    if (subscription.lastTime !== undefined && bar.time < subscription.lastTime) return;
    subscription.lastTime = bar.time;
    subscription.failures = 0;
    if (subscription.state !== 'live') this.setState(subscription, 'live');
    subscription.onBar({
      time: bar.time,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      volume: bar.volume,
    });
  }

  private onResetEvent(stream: EventSourceLike): void {
    const subscription = this.subscriptionByStream.get(stream);
    if (subscription) this.reset(subscription);
  }

  private onError(stream: EventSourceLike): void {
    const subscription = this.subscriptionByStream.get(stream);
    if (!subscription) return;
    // The browser would retry on its own, but not after an HTTP error such as a 503,
    // and without a cap we control: close it and retry on our own schedule.
    this.closeStream(subscription);
    subscription.failures += 1;
    this.setState(subscription, subscription.failures >= this.policy.offlineAfter ? 'offline' : 'reconnecting');
    const delay = backoffDelay(subscription.failures, this.policy, this.random);
    subscription.retryTimer = this.options.timers.setTimeout(() => {
      subscription.retryTimer = undefined;
      if (this.subscriptions.get(subscription.guid) === subscription) this.connect(subscription);
    }, delay);
  }

  private reset(subscription: Subscription): void {
    subscription.lastTime = undefined;
    subscription.onReset();
  }

  private setState(subscription: Subscription, state: ConnectionState): void {
    if (subscription.state === state) return;
    subscription.state = state;
    this.options.onStateChange?.(subscription.guid, state);
  }

  private closeStream(subscription: Subscription): void {
    const stream = subscription.stream;
    if (!stream) return;
    subscription.stream = undefined;
    this.subscriptionByStream.delete(stream);
    stream.close();
  }

  private cancelRetry(subscription: Subscription): void {
    if (subscription.retryTimer === undefined) return;
    this.options.timers.clearTimeout(subscription.retryTimer);
    subscription.retryTimer = undefined;
  }
}
