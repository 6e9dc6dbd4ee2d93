/**
 * Go's `time.ParseDuration` and `Duration.String()`, the form Kuma's new-model resources (`metav1.Duration`) read and
 * write: `"24h"` is stored and returned as `"24h0m0s"`. Nanoseconds as bigint (Go's int64 range).
 */

const UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_INT64 = (1n << 63n) - 1n;

type GoDurationResult = { ok: true; nanos: bigint } | { ok: false; error: string };

/** Parses as Go does; the errors are Go's (`time: invalid duration "x"`). */
export function parseGoDuration(input: string): GoDurationResult {
  const quoted = JSON.stringify(input);
  const invalid = { ok: false as const, error: `time: invalid duration ${quoted}` };
  let s = input;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, nanos: 0n };
  if (s === '') return invalid;
  let total = 0n;
  while (s !== '') {
    const number = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const whole = number[1]!;
    const fraction = number[2];
    if (whole === '' && (fraction === undefined || fraction === '')) return invalid;
    s = s.slice(number[0].length);
    const unitMatch = /^[^0-9.]+/.exec(s);
    if (!unitMatch) return { ok: false, error: `time: missing unit in duration ${quoted}` };
    const unitText = unitMatch[0];
    const unit = UNITS[unitText];
    if (unit === undefined)
      return { ok: false, error: `time: unknown unit ${JSON.stringify(unitText)} in duration ${quoted}` };
    s = s.slice(unitText.length);
    let value = BigInt(whole === '' ? '0' : whole) * unit;
    if (fraction) value += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    total += value;
    if (total > MAX_INT64) return invalid;
  }
  return { ok: true, nanos: negative ? -total : total };
}

/** Go's `Duration.String()`: `24h0m0s`, `1m30s`, `1.5s`, `300ms`, `0s`. */
export function formatGoDuration(nanos: bigint): string {
  if (nanos === 0n) return '0s';
  const sign = nanos < 0n ? '-' : '';
  const abs = nanos < 0n ? -nanos : nanos;
  if (abs < 1_000_000_000n) {
    const [unit, size] = abs < 1_000n ? ['ns', 1n] : abs < 1_000_000n ? ['µs', 1_000n] : ['ms', 1_000_000n];
    return sign + decimal(abs, size) + unit;
  }
  const hours = abs / UNITS.h!;
  const minutes = (abs % UNITS.h!) / UNITS.m!;
  const seconds = decimal(abs % UNITS.m!, UNITS.s!);
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

function decimal(value: bigint, unit: bigint): string {
  const whole = value / unit;
  const rest = value % unit;
  if (rest === 0n) return String(whole);
  const digits = String(unit).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}

/** Milliseconds of a parsed duration (for the clock), saturating at Number's safe range. */
export function goDurationMs(nanos: bigint): number {
  const ms = nanos / 1_000_000n;
  return ms > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(ms);
}
