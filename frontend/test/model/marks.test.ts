import { describe, expect, it } from 'vitest';
import { BarStore } from '../../src/model/bar-store';
import { markDirection, placeMarks } from '../../src/model/marks';
import type { Mark } from '../../src/wire/tv-types';

function mark(id: number, time: number, color: Mark['color'], label = '', text = ''): Mark {
  return { id, time, color, text, label, labelFontColor: 'white', minSize: 14 };
}

function bars(times: number[]): BarStore {
  const store = new BarStore();
  store.reset(times.map((time) => ({ time, open: 1, high: 1, low: 1, close: 1, volume: 0 })));
  return store;
}

describe('placeMarks', () => {
  it('pins each mark to the bar it falls in, ascending, and leaves out marks before the first bar', () => {
    const store = bars([60, 120, 180]);
    const placed = placeMarks([mark(3, 200, 'red', 'D'), mark(1, 61, 'green', 'G'), mark(2, 10, 'blue', 'X')], (time) =>
      store.barTimeAtOrBefore(time),
    );
    expect(placed).toEqual([
      { id: '1', time: 60, direction: 'up', text: 'G' },
      { id: '3', time: 180, direction: 'down', text: 'D' },
    ]);
  });

  it('shows the text when a mark has no label', () => {
    const [placed] = placeMarks([mark(1, 60, 'blue', '', 'hello')], () => 60);
    expect(placed?.text).toBe('hello');
  });
});

describe('markDirection', () => {
  it('reads green as up, red as down, anything else as neutral', () => {
    expect(markDirection(mark(1, 0, 'green'))).toBe('up');
    expect(markDirection(mark(1, 0, 'red'))).toBe('down');
    expect(markDirection(mark(1, 0, { border: '#000', background: 'red' }))).toBe('down');
    expect(markDirection(mark(1, 0, 'blue', 'X', 'volume spike'))).toBe('neutral');
  });
});
