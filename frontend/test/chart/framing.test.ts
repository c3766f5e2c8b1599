import { describe, expect, it } from 'vitest';
import { DEFAULT_BAR_SPACING, framing, MAX_FEW_BAR_SPACING } from '../../src/chart/framing';

describe('framing', () => {
  it('shows the newest bars at the default spacing when they fill the width', () => {
    expect(framing(300, 1200)).toEqual({ kind: 'newest', barSpacing: DEFAULT_BAR_SPACING });
    expect(framing(0, 1200).kind).toBe('newest');
  });

  it('spreads three daily bars over the middle of the canvas instead of the right edge', () => {
    const frame = framing(3, 1200);
    expect(frame.kind).toBe('spread');
    if (frame.kind !== 'spread') return;
    expect(frame.barSpacing).toBe(MAX_FEW_BAR_SPACING);
    // The three bars (logical 0, 1, 2) sit in the middle of the visible range.
    expect((frame.from + frame.to) / 2).toBeCloseTo(1, 9);
    expect(frame.from).toBeLessThan(-1);
    expect(frame.to).toBeGreaterThan(3);
    expect((frame.to - frame.from) * frame.barSpacing).toBeCloseTo(1200, 6);
  });

  it('fills the width with a few dozen bars, leaving room at both ends', () => {
    const frame = framing(60, 1200);
    expect(frame.kind).toBe('spread');
    if (frame.kind !== 'spread') return;
    expect(frame.barSpacing).toBeCloseTo(1200 / 64, 9);
    expect(frame.from).toBeCloseTo(-2.5, 9);
    expect(frame.to).toBeCloseTo(61.5, 9);
  });

  it('frames one bar (a symbol with a single trade) in the middle', () => {
    const frame = framing(1, 390);
    expect(frame).toMatchObject({ kind: 'spread', barSpacing: MAX_FEW_BAR_SPACING });
    if (frame.kind === 'spread') expect(frame.from + frame.to).toBeCloseTo(0, 9);
  });
});
