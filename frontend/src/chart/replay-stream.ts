/**
 * One Bar Replay connection: the `/udf/replay` EventSource and the controls of the
 * replay it runs. The replay belongs to the connection, so nothing here reconnects:
 * an error before `caught_up` ends the replay (the listener is told), and
 * `caught_up` closes the stream (an EventSource would otherwise reopen it, starting a
 * new replay).
 */
import {
  replayBar,
  replayCaughtUp,
  replayClock,
  replayHello,
  replayIndicators,
  replayReset,
  type ReplayBar,
  type ReplayClock,
  type ReplayHello,
  type ReplayIndicators,
  type ReplayReset,
} from '../wire/replay-events';
import type { EventSourceFactory, EventSourceLike } from '../wire/transport';
import type { Checked } from '../wire/validate';
import type { ReplayAction } from '../wire/udf-client';

/** Speeds offered by the chart; the server takes any from 1 to 10,000. */
export const REPLAY_SPEEDS = ['1', '10', '60', '600', 'max'] as const;
export type ReplaySpeed = (typeof REPLAY_SPEEDS)[number];

export interface ReplayListener {
  onHello(hello: ReplayHello): void;
  onBar(bar: ReplayBar, correction: boolean): void;
  onIndicators(event: ReplayIndicators): void;
  onReset(event: ReplayReset): void;
  onClock(event: ReplayClock): void;
  onCaughtUp(clockMs: number): void;
  /** The stream failed before catching up: the replay is over. */
  onError(message: string): void;
}

/** What the stream needs of the UDF client. */
export interface ReplayClient {
  replayUrl(series: readonly (readonly [string, string])[], from: number, speed: string, paused: boolean): string;
  replayControl(replay: string, action: ReplayAction, params?: Record<string, string | number>): Promise<void>;
}

export class ReplayStream {
  private source: EventSourceLike | undefined;
  /** The replay's id, from `hello`. */
  id: string | undefined;
  caughtUp = false;

  constructor(
    private readonly client: ReplayClient,
    private readonly eventSource: EventSourceFactory,
    private readonly listener: ReplayListener,
  ) {}

  open(series: readonly (readonly [string, string])[], from: number, speed: ReplaySpeed, paused: boolean): void {
    this.close();
    const source = this.eventSource(this.client.replayUrl(series, from, speed, paused));
    this.source = source;
    this.caughtUp = false;
    const on = <T>(kind: string, parse: (data: string) => Checked<T>, handle: (value: T) => void): void => {
      source.addEventListener(kind, (event) => {
        if (this.source !== source) return;
        const checked = parse(event.data);
        if (checked.ok) handle(checked.value);
        else console.warn(`candleflow: dropped a malformed replay ${kind} event: ${checked.error}`);
      });
    };
    on('hello', replayHello, (hello) => {
      this.id = hello.replay;
      this.listener.onHello(hello);
    });
    on('bar', replayBar, (bar) => this.listener.onBar(bar, false));
    on('correction', replayBar, (bar) => this.listener.onBar(bar, true));
    on('indicators', replayIndicators, (event) => this.listener.onIndicators(event));
    on('reset', replayReset, (event) => this.listener.onReset(event));
    on('clock', replayClock, (event) => this.listener.onClock(event));
    on('caught_up', replayCaughtUp, (event) => {
      this.caughtUp = true;
      this.close();
      this.listener.onCaughtUp(event.clock_ms);
    });
    source.addEventListener('error', () => {
      if (this.source !== source) return;
      this.close();
      this.listener.onError('the replay stream ended before it caught up');
    });
  }

  get running(): boolean {
    return this.source !== undefined;
  }

  close(): void {
    const source = this.source;
    this.source = undefined;
    source?.close();
  }

  /** A control of the running replay; rejects when there is none or the server refuses. */
  async control(action: ReplayAction, params: Record<string, string | number> = {}): Promise<void> {
    if (this.id === undefined || this.source === undefined) throw new Error('no replay is running');
    await this.client.replayControl(this.id, action, params);
  }
}
