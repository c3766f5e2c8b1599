import { describe, expect, it } from 'vitest';
import { BarStore } from '../../src/model/bar-store';
import { GENERIC_MARK_KIND, markDirection, placeMarks } from '../../src/model/marks';
import type { CandleflowMark } from '../../src/wire/answers';

function mark(id: number, time: number, kind: string | undefined, label = '', text = ''): CandleflowMark {
  return {
    id,
    time,
    color: 'blue',
    text,
    label,
    labelFontColor: 'white',
    minSize: 14,
    ...(kind === undefined ? {} : { kind }),
  };
}

function bars(times: number[]): BarStore {
  const store = new BarStore();
  store.reset(times.map((time) => ({ time, open: 1, high: 1, low: 1, close: 1, volume: 0 })));
  return store;
}

describe('placeMarks', () => {
  it('pins each mark to the bar it falls in, ascending, and leaves out marks before the first bar', () => {
    const store = bars([60, 120, 180]);
    const placed = placeMarks(
      [mark(3, 200, 'death_cross', 'D'), mark(1, 61, 'golden_cross', 'G'), mark(2, 10, 'golden_cross', 'X')],
      (time) => store.barTimeAtOrBefore(time),
    );
    expect(placed).toEqual([
      { id: '1', time: 60, kind: 'golden_cross', direction: 'up', text: 'G' },
      { id: '3', time: 180, kind: 'death_cross', direction: 'down', text: 'D' },
    ]);
  });

  it('shows the text when a mark has no label', () => {
    const [placed] = placeMarks([mark(1, 60, 'golden_cross', '', 'hello')], () => 60);
    expect(placed?.text).toBe('hello');
  });

  it('takes a mark without a kind as a generic signal, whatever its colour or text say', () => {
    const bullish = {
      ...mark(1, 60, undefined, 'G', 'Golden cross: SMA20 crossed above SMA50'),
      color: 'green' as const,
    };
    const [placed] = placeMarks([bullish], () => 60);
    expect(placed).toMatchObject({ kind: GENERIC_MARK_KIND, direction: 'neutral' });
  });
});

describe('markDirection', () => {
  it('reads golden crosses as up, death crosses as down, any other kind as neutral', () => {
    expect(markDirection('golden_cross')).toBe('up');
    expect(markDirection('death_cross')).toBe('down');
    expect(markDirection(GENERIC_MARK_KIND)).toBe('neutral');
    expect(markDirection('rsi_above_70')).toBe('neutral');
  });
});
