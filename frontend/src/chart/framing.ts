/**
 * How a freshly loaded history is framed. Many bars: lightweight-charts' default bar
 * spacing with the newest bar at the right edge (older ones are a drag away). Few bars
 * (a new symbol, a daily or weekly chart of a young log): at that spacing they would sit
 * as a thin sliver against the right edge of an empty canvas, so they are spread over
 * the width instead, up to a candle width that still reads as a candle, and centred.
 */

/** lightweight-charts' default `barSpacing`, in pixels. */
export const DEFAULT_BAR_SPACING = 6;
/** Widest spacing given to few bars: wider candles stop looking like candles. */
export const MAX_FEW_BAR_SPACING = 40;
/** Bars fewer than fill this share of the width at the default spacing count as few. */
export const FEW_BARS_SHARE = 0.6;

export type Framing =
  { kind: 'newest'; barSpacing: number } | { kind: 'spread'; barSpacing: number; from: number; to: number };

/** The framing of `count` bars on a time scale `width` pixels wide (logical indexes 0 … count-1). */
export function framing(count: number, width: number): Framing {
  if (count === 0 || width <= 0 || count * DEFAULT_BAR_SPACING >= width * FEW_BARS_SHARE) {
    return { kind: 'newest', barSpacing: DEFAULT_BAR_SPACING };
  }
  // Two bars' room on each side, so the outer candles do not touch the edges.
  const barSpacing = Math.min(MAX_FEW_BAR_SPACING, width / (count + 4));
  const visible = width / barSpacing;
  const middle = (count - 1) / 2;
  return { kind: 'spread', barSpacing, from: middle - visible / 2, to: middle + visible / 2 };
}
