import { describe, expect, it } from 'vitest';
import { formatVolume, priceFormatOf } from '../../src/model/price-format';

describe('priceFormatOf', () => {
  it('takes decimals from pricescale and the tick from minmov', () => {
    expect(priceFormatOf({ pricescale: 100, minmov: 1 })).toEqual({ type: 'price', precision: 2, minMove: 0.01 });
    expect(priceFormatOf({ pricescale: 100_000_000, minmov: 5 })).toEqual({
      type: 'price',
      precision: 8,
      minMove: 5e-8,
    });
    expect(priceFormatOf({ pricescale: 1, minmov: 1 })).toEqual({ type: 'price', precision: 0, minMove: 1 });
  });

  it('reads a missing or non-positive pricescale or minmov as two decimals, one tick', () => {
    expect(priceFormatOf({ pricescale: 0, minmov: 0 })).toEqual({ type: 'price', precision: 2, minMove: 0.01 });
    expect(priceFormatOf({ pricescale: -10, minmov: -1 })).toEqual({ type: 'price', precision: 2, minMove: 0.01 });
  });
});

describe('formatVolume', () => {
  it('abbreviates large volumes and keeps the digits of small ones', () => {
    expect([149.08005765, 0.040537, 0.00040537, 0, 12_345.6, 4_560_000, 7.1e9, 2].map(formatVolume)).toEqual([
      '149.08',
      '0.04054',
      '0.0004054',
      '0',
      '12.35K',
      '4.56M',
      '7.10B',
      '2',
    ]);
  });
});
