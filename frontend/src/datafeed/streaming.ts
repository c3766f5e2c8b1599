/**
 * Live bars over Server-Sent Events: one `EventSource` (`/udf/streams`) for every
 * subscription of the page.
 *
 * Each subscriber (guid) asks for a series, the sub `symbol|resolution`. The stream
 * is opened with every wanted sub in its URL; subs added or removed while it is open
 * go to the server as `POST /udf/streams/<id>/subscribe|unsubscribe`, the id coming
 * from the stream's `hello`. Events name their series (`symbol`, `resolution`; the
 * server's `subscribed` maps the sub as asked to that canonical pair), and reach every
 * guid subscribed to it — a guid unsubscribed meanwhile is simply no longer there.
 *
 * `bar` updates or appends the newest bar; `correction` carries an older bar that
 * changed (the subscriber applies it in place, or resets); `reset` says the series
 * must be refetched. On a stream error the stream is closed and reopened after a
 * capped exponential backoff with `last_event_id`: the server then sends what changed
 * meanwhile, and a `reset` only when it cannot tell.
 */
import {
  streamBarEvent,
  streamHelloEvent,
  streamResetEvent,
  streamSubscribedEvent,
  type StreamBar,
  type WireBar,
} from '../wire/answers';
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
  /** An older bar changed; without this handler a correction becomes `onReset`. */
  onCorrection?: (bar: WireBar) => void;
  onReset: () => void;
}

interface Subscription extends SubscriptionRequest {
  sub: string;
  state: ConnectionState;
}

/** What the streams need of the UDF client. */
export interface StreamsClient {
  streamsUrl(subs: readonly string[], lastEventId?: string): string;
  streamControl(stream: string, action: 'subscribe' | 'unsubscribe', subs: readonly string[]): Promise<void>;
}

export interface BarStreamsOptions {
  client: StreamsClient;
  eventSource: EventSourceFactory;
  timers: Timers;
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  onStateChange?: (guid: string, state: ConnectionState) => void;
}

/** The sub (and `bars.updates` key) of a series. */
export function subOf(symbol: string, resolution: string): string {
  return `${symbol}|${resolution}`;
}

function wireBar(bar: StreamBar): WireBar {
  return { time: bar.time, open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume };
}

export class BarStreams {
  private readonly subscriptions = new Map<string, Subscription>();
  /** Canonical `symbol|resolution` of each sub as asked, from the server's `subscribed`. */
  private readonly canonical = new Map<string, string>();
  private readonly policy: BackoffPolicy;
  private readonly random: () => number;
  private stream: EventSourceLike | undefined;
  /** The open stream's id (from `hello`); undefined until then. */
  private streamId: string | undefined;
  /** Subs the server holds (or was asked for) on the current stream. */
  private serverSubs = new Set<string>();
  private lastEventId: string | undefined;
  private retryTimer: unknown;
  private failures = 0;
  /** True once a stream has opened: the next open is a reconnect. */
  private wasLive = false;
  private current: ConnectionState = 'connecting';
  /** Streams opened so far (for tests and the debug hook). */
  opened = 0;

  constructor(private readonly options: BarStreamsOptions) {
    this.policy = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
  }

  subscribe(request: SubscriptionRequest): void {
    this.unsubscribe(request.guid);
    const subscription: Subscription = {
      ...request,
      sub: subOf(request.symbol, request.resolution),
      state: this.current,
    };
    this.subscriptions.set(request.guid, subscription);
    this.options.onStateChange?.(request.guid, subscription.state);
    if (this.stream === undefined) {
      if (this.retryTimer === undefined) this.connect();
    } else {
      this.sync();
    }
  }

  unsubscribe(guid: string): void {
    if (!this.subscriptions.delete(guid)) return;
    if (this.subscriptions.size === 0) {
      this.closeStream();
      this.cancelRetry();
      this.lastEventId = undefined;
      this.failures = 0;
      this.wasLive = false;
      this.current = 'connecting';
      return;
    }
    this.sync();
  }

  unsubscribeAll(): void {
    for (const guid of [...this.subscriptions.keys()]) this.unsubscribe(guid);
  }

  /** Reconnects now if waiting to (e.g. when the browser comes back online). */
  retryNow(): void {
    if (this.stream === undefined && this.subscriptions.size > 0) {
      this.cancelRetry();
      this.connect();
    }
  }

  state(guid: string): ConnectionState | undefined {
    return this.subscriptions.get(guid)?.state;
  }

  /** Guids with a subscription; for tests and the debug hook. */
  guids(): string[] {
    return [...this.subscriptions.keys()];
  }

  private wanted(): Set<string> {
    return new Set([...this.subscriptions.values()].map((subscription) => subscription.sub));
  }

  private connect(): void {
    const subs = [...this.wanted()];
    if (subs.length === 0) return;
    const stream = this.options.eventSource(this.options.client.streamsUrl(subs, this.lastEventId));
    this.opened += 1;
    this.stream = stream;
    this.streamId = undefined;
    this.serverSubs = new Set(subs);
    const mine = (listener: (event: MessageEventLike) => void) => (event: MessageEventLike) => {
      if (this.stream !== stream) return; // a late event of a stream already replaced
      if (event.lastEventId) this.lastEventId = event.lastEventId;
      listener(event);
    };
    stream.addEventListener('open', () => {
      if (this.stream === stream) this.onOpen();
    });
    stream.addEventListener('error', () => {
      if (this.stream === stream) this.onError();
    });
    stream.addEventListener(
      'hello',
      mine((event) => {
        const hello = streamHelloEvent(event.data);
        if (hello.ok) this.streamId = hello.value.stream;
        this.sync();
      }),
    );
    stream.addEventListener(
      'subscribed',
      mine((event) => {
        const answer = streamSubscribedEvent(event.data);
        if (answer.ok) this.canonical.set(answer.value.sub, subOf(answer.value.symbol, answer.value.resolution));
      }),
    );
    stream.addEventListener(
      'bar',
      mine((event) => this.onBar(event.data, false)),
    );
    stream.addEventListener(
      'correction',
      mine((event) => this.onBar(event.data, true)),
    );
    stream.addEventListener(
      'reset',
      mine((event) => {
        const series = streamResetEvent(event.data);
        if (!series.ok) return;
        for (const subscription of this.subscribersOf(subOf(series.value.symbol, series.value.resolution)))
          this.reset(subscription);
      }),
    );
  }

  /** Tells the server about subs added or removed since the stream opened. */
  private sync(): void {
    const id = this.streamId;
    if (this.stream === undefined || id === undefined) return;
    const wanted = this.wanted();
    const added = [...wanted].filter((sub) => !this.serverSubs.has(sub));
    const removed = [...this.serverSubs].filter((sub) => !wanted.has(sub));
    for (const sub of added) this.serverSubs.add(sub);
    for (const sub of removed) this.serverSubs.delete(sub);
    const stream = this.stream;
    const control = (action: 'subscribe' | 'unsubscribe', subs: string[]): void => {
      if (subs.length === 0) return;
      this.options.client.streamControl(id, action, subs).catch(() => {
        // the stream is gone (server restarted) or the request failed: reopen with every sub
        if (this.stream === stream) this.onError();
      });
    };
    control('subscribe', added);
    control('unsubscribe', removed);
  }

  private subscribersOf(series: string): Subscription[] {
    return [...this.subscriptions.values()].filter(
      (subscription) => (this.canonical.get(subscription.sub) ?? subscription.sub) === series,
    );
  }

  private onBar(data: string, correction: boolean): void {
    const checked = streamBarEvent(data);
    if (!checked.ok) {
      console.warn(`candleflow: dropped a malformed bar event: ${checked.error}`);
      return;
    }
    const bar = checked.value;
    this.failures = 0;
    if (this.current !== 'live') this.setState('live');
    for (const subscription of this.subscribersOf(subOf(bar.symbol, bar.resolution))) {
      const newest = subscription.lastTime;
      const current = newest === undefined ? !correction : bar.time >= newest;
      if (current) {
        subscription.lastTime = bar.time;
        subscription.onBar(wireBar(bar));
      } else if (correction) {
        // older than the newest bar delivered, or nothing delivered yet to compare with
        if (subscription.onCorrection) subscription.onCorrection(wireBar(bar));
        else this.reset(subscription);
      }
      // an older plain `bar` would be a time violation for the chart: dropped
    }
  }

  private onOpen(): void {
    const reconnected = this.wasLive;
    this.wasLive = true;
    this.setState('live');
    // With an event id the server sends what changed meanwhile; without one it cannot.
    if (reconnected && this.lastEventId === undefined) {
      for (const subscription of [...this.subscriptions.values()]) this.reset(subscription);
    }
  }

  private onError(): void {
    // The browser would retry on its own, but not after an HTTP error such as a 503,
    // nor with the subs added since: close it and reopen on our own schedule.
    this.closeStream();
    this.failures += 1;
    this.setState(this.failures >= this.policy.offlineAfter ? 'offline' : 'reconnecting');
    const delay = backoffDelay(this.failures, this.policy, this.random);
    this.retryTimer = this.options.timers.setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  private reset(subscription: Subscription): void {
    subscription.lastTime = undefined;
    subscription.onReset();
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    for (const subscription of this.subscriptions.values()) {
      if (subscription.state === state) continue;
      subscription.state = state;
      this.options.onStateChange?.(subscription.guid, state);
    }
  }

  private closeStream(): void {
    const stream = this.stream;
    if (!stream) return;
    this.stream = undefined;
    this.streamId = undefined;
    stream.close();
  }

  private cancelRetry(): void {
    if (this.retryTimer === undefined) return;
    this.options.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
