import { createHash } from 'node:crypto';
import type { DataplanePrincipal } from '../domain/principal.js';

interface Verified {
  principal: DataplanePrincipal;
  /** What the token was checked against: its mesh's signing key and revocations (see `DataplaneTokenService`). */
  keysFingerprint: string;
  /** The token is valid from `notBeforeMs` (inclusive) until `expiresMs` (exclusive), as jose checks `nbf`/`exp`. */
  notBeforeMs: number;
  expiresMs: number;
}

/** Far above the dataplanes one instance serves (10,000 in the benchmarks); ~150 bytes an entry. */
export const DEFAULT_VERIFIED_TOKENS = 50_000;

/**
 * Dataplane tokens that verified, so the next request with the same token skips the RS256 check and the claim
 * parsing (about half the main thread's time per certificate request). Only tokens that really verified get in, so a
 * stranger cannot fill it; it is bounded (the oldest entry goes first) and keyed by the token's SHA-256, so it holds
 * no token. A hit is re-checked against `nbf`/`exp` at the current time, and counts only while its mesh's signing key
 * and revocation list are the ones it was checked against (`keysFingerprint`): a revocation, a new signing key or the
 * mesh deleted makes every remembered token of that mesh verify again, while a rotation step (a Mesh write that
 * touches neither) keeps them — otherwise each step would send the whole fleet's tokens through RS256 again.
 */
export class VerifiedTokens {
  private readonly byKey = new Map<string, Verified>();

  constructor(private readonly max = DEFAULT_VERIFIED_TOKENS) {}

  get size(): number {
    return this.byKey.size;
  }

  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  /**
   * A token verified before and valid at `nowMs` (its principal, and the fingerprint of the keys it was checked
   * against, which the caller compares with its mesh's current ones); undefined otherwise (verify it again).
   */
  get(key: string, nowMs: number): { principal: DataplanePrincipal; keysFingerprint: string } | undefined {
    const hit = this.byKey.get(key);
    if (!hit) return undefined;
    if (nowMs < hit.notBeforeMs || nowMs >= hit.expiresMs) {
      this.byKey.delete(key);
      return undefined;
    }
    return hit;
  }

  /** `nbf`/`exp` in seconds as in the token (absent: no bound). */
  remember(
    key: string,
    principal: DataplanePrincipal,
    keysFingerprint: string,
    nbf: number | undefined,
    exp: number | undefined,
  ): void {
    this.byKey.delete(key);
    while (this.byKey.size >= this.max) this.byKey.delete(this.byKey.keys().next().value!);
    this.byKey.set(key, {
      principal,
      keysFingerprint,
      // jose compares whole seconds of the current time: valid while floor(now / 1000) is in [nbf, exp).
      notBeforeMs: nbf === undefined ? -Infinity : Math.ceil(nbf) * 1000,
      expiresMs: exp === undefined ? Infinity : Math.ceil(exp) * 1000,
    });
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
