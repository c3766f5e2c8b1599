import { describe, expect, it } from 'vitest';
import { FEEDS_UP, readFeedHealth, watchFeedHealth } from '../../src/page/feed-health';

const DOWN = {
  status: 'degraded',
  feeds: {
    status: 'down',
    down: [['kraken', 'Kraken:BTC/USD', 'ClientConnectorError: Cannot connect to host ws.kraken.com:443']],
  },
};

describe('feed health from /healthz', () => {
  it('reads the markets that are down with the reason', () => {
    expect(readFeedHealth(DOWN)).toEqual({
      down: true,
      reason: 'kraken Kraken:BTC/USD: ClientConnectorError: Cannot connect to host ws.kraken.com:443',
    });
    expect(readFeedHealth({ feeds: { status: 'up', down: [] } })).toEqual(FEEDS_UP);
    expect(readFeedHealth({ feeds: { status: 'none' } })).toEqual(FEEDS_UP);
    expect(readFeedHealth('garbage')).toEqual(FEEDS_UP);
  });

  it('polls and reports changes only', async () => {
    const answers: unknown[] = [{ feeds: { status: 'up', down: [] } }, DOWN, DOWN, new Error('offline'), {}];
    const seen: boolean[] = [];
    const pending: (() => void)[] = [];
    watchFeedHealth(
      () => {
        const next = answers.shift();
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      },
      (health) => seen.push(health.down),
      1000,
      { setTimeout: (callback) => pending.push(callback) },
    );
    for (let i = 0; i < 5; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      pending.shift()?.();
    }
    expect(seen).toEqual([true, false]);
  });
});
