import { describe, expect, it } from 'vitest';
import type { ReplayState } from '../../src/chart/replay-chart';
import { clockText, fromInputValue, statusOf, toInputValue } from '../../src/page/replay-panel';

const IDLE: ReplayState = {
  active: false,
  loading: false,
  playing: false,
  caughtUp: false,
  clockMs: undefined,
  speed: '60',
  error: undefined,
};

describe('the replay bar', () => {
  it('reads and writes the start as a UTC date-time', () => {
    expect(toInputValue(1_704_067_205)).toBe('2024-01-01T00:00:05');
    expect(fromInputValue('2024-01-01T00:00:05')).toBe(1_704_067_205);
    expect(fromInputValue('2024-01-01T00:01')).toBe(1_704_067_260);
    expect(fromInputValue('')).toBeUndefined();
    expect(fromInputValue('soon')).toBeUndefined();
  });

  it('shows the clock in UTC and the replay state', () => {
    expect(clockText(1_704_067_205_999)).toBe('2024-01-01 00:00:05');
    expect(clockText(undefined)).toBe('');
    expect(statusOf(IDLE)).toBe('idle');
    expect(statusOf({ ...IDLE, active: true, loading: true })).toBe('loading');
    expect(statusOf({ ...IDLE, active: true, playing: true })).toBe('playing');
    expect(statusOf({ ...IDLE, active: true })).toBe('paused');
    expect(statusOf({ ...IDLE, active: true, caughtUp: true })).toBe('caught-up');
    expect(statusOf({ ...IDLE, active: true, error: 'gone' })).toBe('error');
  });
});
