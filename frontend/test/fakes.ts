/**
 * Fakes for the transport seams (`FetchLike`, `EventSourceFactory`, `Timers`),
 * handed to the datafeed through its constructor.
 */
import type { EventSourceLike, FetchLike, MessageEventLike, ResponseLike, Timers } from '../src/wire/transport';

type Listener = (event: MessageEventLike) => void;

export class FakeEventSource implements EventSourceLike {
  closed = false;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {}

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
  }

  /** Delivers an event the way the browser would, even after close (to test stale streams). */
  emit(type: string, data: unknown = '', lastEventId?: string): void {
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    const event = lastEventId === undefined ? { data: text } : { data: text, lastEventId };
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  /** The `sub` query parameters of a multiplexed stream URL. */
  get subs(): string[] {
    return new URLSearchParams(this.url.split('?')[1] ?? '').getAll('sub');
  }

  /** The `last_event_id` the stream was opened with. */
  get lastEventId(): string | null {
    return new URLSearchParams(this.url.split('?')[1] ?? '').get('last_event_id');
  }

  open(): void {
    this.emit('open');
  }

  fail(): void {
    this.emit('error');
  }

  /** The `symbol` and `resolution` query parameters of the stream URL. */
  get params(): { symbol: string | null; resolution: string | null } {
    const query = new URLSearchParams(this.url.split('?')[1] ?? '');
    return { symbol: query.get('symbol'), resolution: query.get('resolution') };
  }
}

/** Records every stream the code under test opens. */
export class FakeEventSources {
  readonly all: FakeEventSource[] = [];

  readonly factory = (url: string): FakeEventSource => {
    const source = new FakeEventSource(url);
    this.all.push(source);
    return source;
  };

  get open(): FakeEventSource[] {
    return this.all.filter((source) => !source.closed);
  }

  get last(): FakeEventSource {
    const last = this.all[this.all.length - 1];
    if (!last) throw new Error('no EventSource was opened');
    return last;
  }
}

/** Manual clock: `advance(ms)` runs whatever falls due, in order. */
export class FakeTimers implements Timers {
  now = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void; every?: number }>();
  /** Every delay passed to `setTimeout`, in call order. */
  readonly delays: number[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  setInterval(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, callback, every: ms });
    return id;
  }

  clearInterval(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get scheduled(): number {
    return this.pending.size;
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()]
        .filter(([, timer]) => timer.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, timer] = due;
      this.now = timer.at;
      if (timer.every === undefined) this.pending.delete(id);
      else timer.at += timer.every;
      timer.callback();
    }
    this.now = until;
  }
}

export interface RecordedRequest {
  path: string;
  params: URLSearchParams;
}

/** A fetch that answers by path from a table of handlers and records every request. */
export class FakeServer {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, (params: URLSearchParams) => { status?: number; body: unknown }>();

  on(path: string, handler: (params: URLSearchParams) => unknown, status = 200): this {
    this.routes.set(path, (params) => ({ status, body: handler(params) }));
    return this;
  }

  /** The next `times` requests to `path` get `{s: "error", errmsg}` with `status`; then its handler answers again. */
  failNext(path: string, times: number, errmsg: string, status = 503): this {
    const route = this.routes.get(path);
    let left = times;
    this.routes.set(path, (params) => {
      if (left <= 0 && route) return route(params);
      left -= 1;
      return { status, body: { s: 'error', errmsg } };
    });
    return this;
  }

  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((request) => request.path === path);
  }

  readonly fetch: FetchLike = (url) => {
    const [path = '', query = ''] = url.split('?');
    const params = new URLSearchParams(query);
    this.requests.push({ path, params });
    const route = this.routes.get(path);
    const { status, body } = route ? route(params) : { status: 404, body: { s: 'error', errmsg: `no route ${path}` } };
    const response: ResponseLike = {
      ok: (status ?? 200) < 400,
      status: status ?? 200,
      json: () => Promise.resolve(body),
    };
    return Promise.resolve(response);
  };
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}
