import { describe, expect, it } from 'vitest';
import {
  arrayOf,
  boolean,
  either,
  finiteNumber,
  object,
  oneOf,
  optional,
  string,
  withDefault,
} from '../../src/wire/validate';

describe('primitive validators', () => {
  it('accept their type and name what they got otherwise', () => {
    expect(finiteNumber(1.5, 'x')).toEqual({ ok: true, value: 1.5 });
    expect(finiteNumber(Number.NaN, 'x')).toEqual({ ok: false, error: 'x: expected a finite number, got NaN' });
    expect(finiteNumber('1', 'x')).toEqual({ ok: false, error: 'x: expected a finite number, got "1"' });
    expect(string(undefined, 'name')).toEqual({ ok: false, error: 'name: expected a string, got nothing' });
    expect(boolean([], 'flag')).toEqual({ ok: false, error: 'flag: expected true or false, got an array' });
    expect(string({}, '')).toEqual({ ok: false, error: 'answer: expected a string, got an object' });
  });

  it('oneOf accepts only the listed strings', () => {
    const status = oneOf('ok', 'no_data');
    expect(status('ok', 's')).toEqual({ ok: true, value: 'ok' });
    expect(status('error', 's')).toEqual({ ok: false, error: 's: expected "ok" or "no_data", got "error"' });
  });

  it('either tries both, and says what both would have taken', () => {
    const id = either(string, finiteNumber, 'a string or a number');
    expect(id(3, 'id')).toEqual({ ok: true, value: 3 });
    expect(id('a', 'id')).toEqual({ ok: true, value: 'a' });
    expect(id(true, 'id')).toEqual({ ok: false, error: 'id: expected a string or a number, got true' });
  });

  it('optional and withDefault treat missing and null alike', () => {
    expect(optional(string)(null, 'x')).toEqual({ ok: true, value: undefined });
    expect(optional(string)(2, 'x').ok).toBe(false);
    expect(withDefault(string, 'blue')(undefined, 'x')).toEqual({ ok: true, value: 'blue' });
    expect(withDefault(string, 'blue')(null, 'x')).toEqual({ ok: true, value: 'blue' });
  });
});

describe('arrayOf and object', () => {
  it('point at the element that is wrong', () => {
    expect(arrayOf(finiteNumber)([1, 2, 'x'], 't')).toEqual({
      ok: false,
      error: 't[2]: expected a finite number, got "x"',
    });
    const point = object({ time: finiteNumber, tags: arrayOf(string) });
    expect(
      arrayOf(point)(
        [
          { time: 1, tags: [] },
          { time: 2, tags: ['a', 3] },
        ],
        '',
      ),
    ).toEqual({
      ok: false,
      error: '[1].tags[1]: expected a string, got 3',
    });
    expect(point({ time: 1 }, '')).toEqual({ ok: false, error: 'tags: expected an array, got nothing' });
  });

  it('drop unknown fields and leave absent optional ones out', () => {
    const shape = object({ name: string, ticker: optional(string), type: withDefault(string, 'crypto') });
    const checked = shape({ name: 'BTC/USD', ticker: null, extra: 1 }, '');
    expect(checked).toEqual({ ok: true, value: { name: 'BTC/USD', type: 'crypto' } });
    expect(checked.ok && 'ticker' in checked.value).toBe(false);
    expect(shape([], '').ok).toBe(false);
  });
});
