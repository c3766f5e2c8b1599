import { describe, expect, it } from 'vitest';
import {
  isSupportedResolution,
  normalizeResolution,
  parseResolution,
  ResolutionError,
  resolutionLabel,
  resolutionSeconds,
  SUPPORTED_RESOLUTIONS,
  toSupportedResolution,
} from '../../src/model/resolution';

describe('parseResolution', () => {
  it.each([
    ['1S', 1, 'second'],
    ['15S', 15, 'second'],
    ['1', 1, 'minute'],
    ['60', 60, 'minute'],
    ['240', 240, 'minute'],
    ['1D', 1, 'day'],
    ['D', 1, 'day'],
    ['1W', 1, 'week'],
    ['W', 1, 'week'],
    ['1M', 1, 'month'],
    ['M', 1, 'month'],
    ['3M', 3, 'month'],
  ])('%s is %i %s', (text, count, unit) => {
    expect(parseResolution(text)).toEqual({ count, unit });
  });

  it.each(['', 'S', '0', '0D', '1H', '1d', '1.5', '-1', 'W1', '1WW', 'abc'])('rejects %j', (text) => {
    expect(() => parseResolution(text)).toThrow(ResolutionError);
  });

  it('does not read "1W" as one minute (the parseInt mistake)', () => {
    expect(resolutionSeconds('1W')).toBe(604_800);
    expect(resolutionSeconds('1W')).not.toBe(resolutionSeconds('1'));
  });
});

describe('normalizeResolution', () => {
  it('spells a count of one out', () => {
    expect(normalizeResolution('D')).toBe('1D');
    expect(normalizeResolution('W')).toBe('1W');
    expect(normalizeResolution('M')).toBe('1M');
  });

  it('keeps canonical spellings', () => {
    for (const resolution of SUPPORTED_RESOLUTIONS) expect(normalizeResolution(resolution)).toBe(resolution);
  });
});

describe('supported resolutions', () => {
  it('are the ten the server stores, finest first', () => {
    expect(SUPPORTED_RESOLUTIONS).toEqual(['1S', '1', '5', '15', '30', '60', '240', '1D', '1W', '1M']);
    const seconds = SUPPORTED_RESOLUTIONS.map(resolutionSeconds);
    expect([...seconds].sort((a, b) => a - b)).toEqual(seconds);
  });

  it('accept both spellings and nothing else', () => {
    expect(isSupportedResolution('D')).toBe(true);
    expect(isSupportedResolution('1D')).toBe(true);
    expect(isSupportedResolution('2')).toBe(false);
    expect(isSupportedResolution('nope')).toBe(false);
    expect(toSupportedResolution('D')).toBe('1D');
    expect(() => toSupportedResolution('3')).toThrow(ResolutionError);
  });

  it('map to bar lengths in seconds', () => {
    expect(SUPPORTED_RESOLUTIONS.map(resolutionSeconds)).toEqual([
      1, 60, 300, 900, 1800, 3600, 14_400, 86_400, 604_800, 2_592_000,
    ]);
  });

  it('have short labels', () => {
    expect(SUPPORTED_RESOLUTIONS.map(resolutionLabel)).toEqual([
      '1s',
      '1m',
      '5m',
      '15m',
      '30m',
      '1h',
      '4h',
      '1D',
      '1W',
      '1M',
    ]);
  });
});
