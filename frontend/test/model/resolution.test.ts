import { describe, expect, it } from 'vitest';
import {
  isSupportedResolution,
  normalizeResolution,
  parseResolution,
  ResolutionError,
  resolutionAdvice,
  resolutionName,
  resolutionSeconds,
  nearestSupported,
  SUPPORTED_RESOLUTIONS,
  toSupportedResolution,
} from '../../src/model/resolution';
import { RESOLUTION_EXAMPLES, SPELLINGS } from '../../src/model/resolution-table';

describe('parseResolution', () => {
  it.each([
    ['1S', 1, 'second'],
    ['S', 1, 'second'],
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

  it.each(['', '0', '0D', '1H', '1d', '1.5', '-1', 'W1', '1WW', 'abc'])('rejects %j', (text) => {
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

  it('have names a person reads', () => {
    expect(SUPPORTED_RESOLUTIONS.map(resolutionName)).toEqual([
      '1 second',
      '1 minute',
      '5 minutes',
      '15 minutes',
      '30 minutes',
      '1 hour',
      '4 hours',
      '1 day',
      '1 week',
      '1 month',
    ]);
    expect(resolutionName('D')).toBe('1 day');
  });
});

describe('the spellings a user types (URL, toolbar)', () => {
  it("are exactly the API's: each generated example is accepted as the same code or refused with the same words", () => {
    expect(RESOLUTION_EXAMPLES.length).toBeGreaterThan(50);
    for (const [text, answer] of RESOLUTION_EXAMPLES) {
      if ('code' in answer) {
        expect(toSupportedResolution(text), text).toBe(answer.code);
        expect(isSupportedResolution(text), text).toBe(true);
      } else {
        expect(() => toSupportedResolution(text), text).toThrow(answer.error);
        expect(resolutionAdvice(text), text).toBe(answer.error);
        expect(isSupportedResolution(text), text).toBe(false);
      }
    }
  });

  it('never take `1m` for a minute nor `1h` for anything', () => {
    expect(() => toSupportedResolution('1m')).toThrow('minutes are plain numbers, `1`; a month is `1M`');
    expect(() => toSupportedResolution('1h')).toThrow('hours are written in minutes, `60`');
    expect(new Set(Object.keys(SPELLINGS))).toEqual(
      new Set(['1S', 'S', '1', '5', '15', '30', '60', '240', '1D', 'D', '1W', 'W', '1M', 'M']),
    );
  });
});

describe('nearestSupported', () => {
  it('offers the closest bar length for a resolution the server does not serve', () => {
    expect(['7', '2D', '3M', '120', '2S', 'abc', '60'].map(nearestSupported)).toEqual([
      '5',
      '1D',
      '1M',
      '60',
      '1S',
      '1',
      '60',
    ]);
  });
});
