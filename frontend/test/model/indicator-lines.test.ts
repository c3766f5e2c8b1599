import { describe, expect, it } from 'vitest';
import { IndicatorLines } from '../../src/model/indicator-lines';
import type { MovingAverageLine } from '../../src/model/indicators';

const SMA3: MovingAverageLine = { id: 'sma3', kind: 'sma', period: 3, color: '#000', defaultVisible: true };
const EMA3: MovingAverageLine = { id: 'ema3', kind: 'ema', period: 3, color: '#111', defaultVisible: false };

describe('IndicatorLines', () => {
  it('starts with each line at its default visibility and reports only changes', () => {
    const lines = new IndicatorLines([SMA3, EMA3]);
    expect(lines.visibleDefinitions()).toEqual([SMA3]);
    expect(lines.setVisible('sma3', true)).toBe(false);
    expect(lines.setVisible('ema3', true)).toBe(true);
    expect(lines.setVisible('nope', true)).toBe(false);
    expect(lines.isVisible('ema3')).toBe(true);
    expect(lines.isVisible('nope')).toBe(false);
  });

  it('merges server points by time, the newer answer winning', () => {
    const lines = new IndicatorLines([SMA3]);
    lines.merge('sma3', [
      { time: 120, value: 2 },
      { time: 180, value: 3 },
    ]);
    const merged = lines.merge('sma3', [
      { time: 60, value: 1 },
      { time: 120, value: 2.5 },
    ]);
    expect(merged).toEqual([
      { time: 60, value: 1 },
      { time: 120, value: 2.5 },
      { time: 180, value: 3 },
    ]);
    lines.clear();
    expect(lines.snapshot()).toEqual({ sma3: { visible: true, points: [] } });
  });

  it('moves visible lines that have history with the live bar, replacing the forming point', () => {
    const lines = new IndicatorLines([SMA3, EMA3]);
    lines.setVisible('ema3', true);
    lines.merge('sma3', [{ time: 120, value: 2 }]);
    lines.merge('ema3', [{ time: 120, value: 2 }]);
    expect(lines.applyLiveBar([1, 2, 3, 6], 180, 6)).toEqual([
      { id: 'sma3', point: { time: 180, value: 11 / 3 } },
      { id: 'ema3', point: { time: 180, value: 4 } },
    ]);
    expect(lines.applyLiveBar([1, 2, 3, 9], 180, 9)).toEqual([
      { id: 'sma3', point: { time: 180, value: 14 / 3 } },
      { id: 'ema3', point: { time: 180, value: 5.5 } },
    ]);
    expect(lines.snapshot().ema3?.points).toEqual([
      { time: 120, value: 2 },
      { time: 180, value: 5.5 },
    ]);
  });

  it('leaves hidden lines and lines without history alone', () => {
    const lines = new IndicatorLines([SMA3, EMA3]);
    lines.merge('ema3', [{ time: 120, value: 2 }]);
    expect(lines.applyLiveBar([1, 2, 3], 180, 3)).toEqual([]);
  });
});
