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
 * must be refetched. The same stream carries quotes: a quote listener follows symbols
 * (`quote=` in the URL, or the POSTs, at most `QUOTES_PER_REQUEST` a request) and gets
 * each `quote` event of them, an item of `/udf/quotes`. On a stream error the stream is closed and reopened after a
 * capped exponential backoff with `last_event_id`: the server then sends what changed
 * meanwhile, and a `reset` only when it cannot tell.
 */
import {
  quoteItem,
  streamBarEvent,
  streamHelloEvent,
  streamResetEvent,
  streamSubscribedEvent,
  type StreamBar,
  type WireBar,
} from '../wire/answers';
import type { QuoteData } from '../wire/tv-types';
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

/** Quotes one request may add or remove (the server's limit: a URL holds about 8 KB). */
export const QUOTES_PER_REQUEST = 40;

export interface QuoteListener {
  guid: string;
  symbols: readonly string[];
  onQuote: (quote: QuoteData) => void;
}

/** What the streams need of the UDF client. */
export interface StreamsClient {
  streamsUrl(subs: readonly string[], lastEventId?: string, quotes?: readonly string[]): string;
  streamControl(
    stream: string,
    action: 'subscribe' | 'unsubscribe',
    subs: readonly string[],
    quotes?: readonly string[],
  ): Promise<void>;
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
  private readonly quoteListeners = new Map<string, QuoteListener>();
  /** The newest quote of every symbol followed, as the stream sent it. */
  readonly quotes = new Map<string, QuoteData>();
  /** Canonical `symbol|resolution` of each sub as asked, from the server's `subscribed`. */
  private readonly canonical = new Map<string, string>();
  private readonly policy: BackoffPolicy;
  private readonly random: () => number;
  private stream: EventSourceLike | undefined;
  /** The open stream's id (from `hello`); undefined until then. */
  private streamId: string | undefined;
  /** Subs and quotes the server holds (or was asked for) on the current stream. */
  private serverSubs = new Set<string>();
  private serverQuotes = new Set<string>();
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
    this.wantsChanged();
  }

  /** Follows the quotes of `listener.symbols` (replacing the listener's earlier ones). */
  subscribeQuotes(listener: QuoteListener): void {
    this.quoteListeners.set(listener.guid, { ...listener, symbols: [...new Set(listener.symbols)] });
    for (const symbol of listener.symbols) {
      const known = this.quotes.get(symbol);
      if (known) listener.onQuote(known);
    }
    this.wantsChanged();
  }

  unsubscribeQuotes(guid: string): void {
    if (!this.quoteListeners.delete(guid)) return;
    const wanted = this.wantedQuotes();
    for (const symbol of [...this.quotes.keys()]) if (!wanted.has(symbol)) this.quotes.delete(symbol);
    this.dropped();
  }

  private wantsChanged(): void {
    if (this.stream === undefined) {
      if (this.retryTimer === undefined) this.connect();
    } else {
      this.sync();
    }
  }

  private active(): boolean {
    return this.subscriptions.size > 0 || this.quoteListeners.size > 0;
  }

  unsubscribe(guid: string): void {
    if (!this.subscriptions.delete(guid)) return;
    this.dropped();
  }

  /** Something was unsubscribed: close the stream when nothing is left, else tell the server. */
  private dropped(): void {
    if (!this.active()) {
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
    for (const guid of [...this.quoteListeners.keys()]) this.unsubscribeQuotes(guid);
  }

  /** Reconnects now if waiting to (e.g. when the browser comes back online). */
  retryNow(): void {
    if (this.stream === undefined && this.active()) {
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

  private wantedQuotes(): Set<string> {
    return new Set([...this.quoteListeners.values()].flatMap((listener) => listener.symbols));
  }

  private connect(): void {
    const subs = [...this.wanted()];
    const quotes = [...this.wantedQuotes()].slice(0, QUOTES_PER_REQUEST);
    if (subs.length === 0 && quotes.length === 0) return;
    const stream = this.options.eventSource(this.options.client.streamsUrl(subs, this.lastEventId, quotes));
    this.opened += 1;
    this.stream = stream;
    this.streamId = undefined;
    this.serverSubs = new Set(subs);
    this.serverQuotes = new Set(quotes);
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
      'quote',
      mine((event) => this.onQuote(event.data)),
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
    const quotes = this.wantedQuotes();
    const follow = [...quotes].filter((symbol) => !this.serverQuotes.has(symbol));
    const drop = [...this.serverQuotes].filter((symbol) => !quotes.has(symbol));
    for (const symbol of follow) this.serverQuotes.add(symbol);
    for (const symbol of drop) this.serverQuotes.delete(symbol);
    const stream = this.stream;
    const control = (action: 'subscribe' | 'unsubscribe', subs: string[], symbols: string[]): void => {
      for (let at = 0; at === 0 || at < symbols.length; at += QUOTES_PER_REQUEST) {
        const chunk = symbols.slice(at, at + QUOTES_PER_REQUEST);
        const withSubs = at === 0 ? subs : [];
        if (withSubs.length === 0 && chunk.length === 0) return;
        this.options.client.streamControl(id, action, withSubs, chunk).catch(() => {
          // the stream is gone (server restarted) or the request failed: reopen with everything
          if (this.stream === stream) this.onError();
        });
      }
    };
    control('subscribe', added, follow);
    control('unsubscribe', removed, drop);
  }

  private onQuote(data: string): void {
    const checked = quoteItem(data);
    if (!checked.ok) {
      console.warn(`candleflow: dropped a malformed quote event: ${checked.error}`);
      return;
    }
    const quote = checked.value;
    this.failures = 0;
    if (this.current !== 'live') this.setState('live');
    this.quotes.set(quote.n, quote);
    for (const listener of this.quoteListeners.values()) {
      if (listener.symbols.includes(quote.n)) listener.onQuote(quote);
    }
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
