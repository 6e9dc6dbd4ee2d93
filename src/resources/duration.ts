/**
 * Durations as Kuma's mesh `ParseDuration`: `^(\d+)(y|w|d|h|m|s|ms)$` or the literal `"0"`, with y = 365d and
 * w = 7d. Beyond Kuma, a sequence of such terms is accepted too (`1h30m`, `1d12h`), as Go's
 * `time.ParseDuration` does for its units. Values longer than 100 years are refused.
 */

export const MS_PER_SECOND = 1000;
export const MS_PER_MINUTE = 60 * MS_PER_SECOND;
export const MS_PER_HOUR = 60 * MS_PER_MINUTE;
export const MS_PER_DAY = 24 * MS_PER_HOUR;
export const MS_PER_WEEK = 7 * MS_PER_DAY;
export const MS_PER_YEAR = 365 * MS_PER_DAY;

/** The longest duration accepted anywhere: 100 years. */
export const MAX_DURATION_MS = 100 * MS_PER_YEAR;

const UNIT_MS: Readonly<Record<string, number>> = {
  y: MS_PER_YEAR,
  w: MS_PER_WEEK,
  d: MS_PER_DAY,
  h: MS_PER_HOUR,
  m: MS_PER_MINUTE,
  s: MS_PER_SECOND,
  ms: 1,
};

// `ms` must be tried before `m`, or `30ms` would read as 30 minutes followed by garbage.
const TERM = /(\d+)(ms|y|w|d|h|m|s)/y;

/** Parses a duration into milliseconds, or null when it is not valid. */
export function parseDuration(input: string): number | null {
  if (typeof input !== 'string') return null;
  if (input === '0') return 0;
  if (input === '') return null;
  let total = 0;
  let position = 0;
  while (position < input.length) {
    TERM.lastIndex = position;
    const match = TERM.exec(input);
    if (match === null || match.index !== position) return null;
    const digits = match[1]!;
    const unit = match[2]!;
    // More than 16 digits can never fit under the cap and would lose precision as a Number.
    if (digits.replace(/^0+/, '').length > 16) return null;
    total += Number(digits) * UNIT_MS[unit]!;
    if (total > MAX_DURATION_MS) return null;
    position = TERM.lastIndex;
  }
  return total;
}

const FORMAT_UNITS: ReadonlyArray<[string, number]> = [
  ['y', MS_PER_YEAR],
  ['d', MS_PER_DAY],
  ['h', MS_PER_HOUR],
  ['m', MS_PER_MINUTE],
  ['s', MS_PER_SECOND],
  ['ms', 1],
];

/**
 * Formats milliseconds in the same grammar, largest units first (`90 * 60_000` is `1h30m`, 0 is `0s`).
 * `parseDuration(formatDuration(x)) === x` for every whole, non-negative x up to the cap.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot format duration ${ms}`);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of FORMAT_UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
