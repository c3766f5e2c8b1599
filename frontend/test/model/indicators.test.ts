import { describe, expect, it } from 'vitest';
import { emaNext, livePoint, mergePoints, MOVING_AVERAGES, smaOf } from '../../src/model/indicators';

const line = (id: string) => {
  const found = MOVING_AVERAGES.find((candidate) => candidate.id === id);
  if (!found) throw new Error(id);
  return found;
};

describe('moving averages', () => {
  it('offers SMA and EMA over 20, 50 and 200 bars', () => {
    expect(MOVING_AVERAGES.map((l) => `${l.kind}${l.period}`).sort()).toEqual([
      'ema20',
      'ema200',
      'ema50',
      'sma20',
      'sma200',
      'sma50',
    ]);
  });

  it('computes the live SMA point from the last closes', () => {
    const closes = Array.from({ length: 25 }, (_, i) => i + 1);
    expect(smaOf(closes, 20)).toBe(15.5);
    expect(smaOf(closes.slice(0, 19), 20)).toBeUndefined();
    expect(livePoint(line('sma20'), [], closes, 600, 25)).toEqual({ time: 600, value: 15.5 });
  });

  it('moves the live EMA point from the previous bar, not from itself', () => {
    const points = [
      { time: 60, value: 10 },
      { time: 120, value: 11 },
    ];
    const alpha = 2 / 21;
    // The bar at 120 is still forming: its point is recomputed from the one at 60.
    expect(livePoint(line('ema20'), points, [], 120, 21)?.value).toBeCloseTo(alpha * 21 + (1 - alpha) * 10);
    // A new bar at 180 builds on the point at 120.
    expect(livePoint(line('ema20'), points, [], 180, 21)?.value).toBeCloseTo(emaNext(11, 21, 20));
    expect(livePoint(line('ema20'), [], [], 180, 21)).toBeUndefined();
  });

  it('merges points by time', () => {
    expect(
      mergePoints(
        [{ time: 2, value: 2 }],
        [
          { time: 1, value: 1 },
          { time: 2, value: 3 },
        ],
      ),
    ).toEqual([
      { time: 1, value: 1 },
      { time: 2, value: 3 },
    ]);
  });
});
