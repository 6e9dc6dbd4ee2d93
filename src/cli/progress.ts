/** Progress bars as plain strings. */

export interface BarStyle {
  width: number;
  full: string;
  empty: string;
}

export const UNICODE_BAR: BarStyle = { width: 24, full: '█', empty: '░' };
export const ASCII_BAR: BarStyle = { width: 24, full: '#', empty: '-' };

/** A done/total fraction in [0, 1]; nothing to do counts as done. */
export function fraction(done: number, total: number): number {
  if (total <= 0) return 1;
  return Math.min(1, Math.max(0, done / total));
}

/** `[██████░░░░░░]` — the bar is full only when done >= total (no rounding up to 100%). */
export function bar(done: number, total: number, style: BarStyle = UNICODE_BAR): string {
  const f = fraction(done, total);
  let filled = Math.round(f * style.width);
  if (f < 1 && filled === style.width) filled = style.width - 1;
  if (f > 0 && filled === 0) filled = 1;
  return `[${style.full.repeat(filled)}${style.empty.repeat(style.width - filled)}]`;
}

/** `label  [████░░░░] 1/2  50%` with the label padded to `labelWidth`. */
export function progressLine(
  label: string,
  done: number,
  total: number,
  labelWidth = 0,
  style: BarStyle = UNICODE_BAR,
): string {
  const percent = Math.floor(fraction(done, total) * 100);
  return `${label.padEnd(labelWidth)} ${bar(done, total, style)} ${done}/${total} ${String(percent).padStart(3)}%`;
}
