import { createHash, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { z } from 'zod';
import { systemClock, type Clock } from '../domain/clock.js';
import type { DataplaneTokenVerifier, Principal } from '../domain/principal.js';
import { DomainError } from '../domain/errors.js';
import type { MeshEvents } from '../mesh-events.js';
import { signingKeySecretName } from '../resources/backend-secrets.js';
import { SERVICE_TAG } from '../resources/dataplane.js';
import { parseDuration, MS_PER_YEAR } from '../resources/duration.js';
import { isValidResourceName } from '../resources/names.js';
import type { ResourceStore } from '../store/resource-store.js';
import { hasServiceTag } from './token-tags.js';
import { VerifiedTokens } from './verified-tokens.js';

export const revocationsSecretName = (mesh: string) => `dataplane-token-revocations-${mesh}`;

const TokenRequestSchema = z.object({
  name: z.string().optional(),
  mesh: z.string().optional(),
  tags: z.record(z.string(), z.array(z.string())).optional(),
  validFor: z.string().optional(),
});
export type DataplaneTokenRequest = z.infer<typeof TokenRequestSchema>;

/** Claims are checked as resource names before any lookup, so an unsigned token cannot make us look up (or keep) junk. */
const ResourceNameClaim = z.string().refine((name) => isValidResourceName(name));
const TokenClaimsSchema = z.object({
  Name: ResourceNameClaim,
  Mesh: ResourceNameClaim,
  Tags: z.record(z.string(), z.array(z.string())).nullish(),
  jti: z.string().min(1),
});

const CLOCK_SKEW_S = 5;
/** Far above a real token (~1 KB, more with many tags); longer ones are refused before they are decoded. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const KEY_ID = '1';

interface MeshTokenKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  revoked: Set<string>;
  /** SHA-256 of the signing key and revocation secrets as read: a remembered token counts only under the same. */
  fingerprint: string;
}

function invalidTokenRequest(field: string, message: string): DomainError {
  return new DomainError({
    kind: 'invalid',
    title: 'Invalid request',
    detail: 'Resource is not valid',
    violations: [{ field, message }],
  });
}

/** Kuma-style dataplane tokens: RS256 JWTs signed with a per-mesh key kept as a mesh secret. */
export class DataplaneTokenService implements DataplaneTokenVerifier {
  /** Keys of meshes that have a signing key; bounded by the meshes that exist (misses are not kept). */
  private readonly keys = new Map<string, MeshTokenKeys>();
  /** Bumped by every change: a key read that a change overtook is not cached (it may miss a revocation). */
  private changes = 0;
  /** Tokens that verified: a repeat request skips the signature check while its mesh's keys are the same. */
  private readonly verified: VerifiedTokens;
  private checks = 0;

  constructor(
    private readonly store: ResourceStore,
    events: MeshEvents,
    private readonly options: { requireServiceTag?: boolean; maxVerifiedTokens?: number } = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.verified = new VerifiedTokens(options.maxVerifiedTokens);
    // A change re-reads the mesh's keys on next use; remembered tokens stay, checked against the keys then read.
    events.onAnyChange((mesh) => {
      this.changes++;
      if (mesh === '*') this.keys.clear();
      else this.keys.delete(mesh);
    });
  }

  async issue(body: unknown): Promise<string> {
    const parsed = TokenRequestSchema.safeParse(body ?? {});
    if (!parsed.success)
      throw new DomainError({
        kind: 'invalid',
        title: 'Invalid request',
        detail: 'request body is not a valid token request',
      });
    const { name = '', mesh = '', tags, validFor } = parsed.data;
    if (mesh === '') throw invalidTokenRequest('mesh', 'cannot be empty');
    if (name === '') throw invalidTokenRequest('name', 'cannot be empty');
    if (this.options.requireServiceTag && !hasServiceTag(tags ?? {})) {
      throw invalidTokenRequest(
        'tags',
        `must bind the token to at least one "${SERVICE_TAG}" value (MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG is true)`,
      );
    }
    const validForMs = validFor === undefined || validFor === '' ? 10 * MS_PER_YEAR : parseDuration(validFor);
    if (validForMs === null || validForMs <= 0)
      throw invalidTokenRequest('validFor', `is invalid: time: invalid duration ${JSON.stringify(validFor)}`);
    const keys = await this.keysOf(mesh);
    if (!keys && !(await this.store.exists('Mesh', '', mesh))) {
      throw new DomainError({
        kind: 'not-found',
        title: 'Mesh not found',
        detail: `mesh "${mesh}" does not exist: create it first (meshctl get meshes lists them)`,
      });
    }
    if (!keys) {
      throw new DomainError({
        kind: 'not-found',
        title: 'Signing Key not found',
        detail: `there is no signing key with KID 1. Secret of name "${signingKeySecretName(mesh)}" in mesh "${mesh}" is not found. If signing key was rotated, regenerate the token`,
      });
    }
    const nowS = Math.floor(this.clock.now() / 1000) - CLOCK_SKEW_S;
    return new SignJWT({ Name: name, Mesh: mesh, Tags: tags ?? {} })
      .setProtectedHeader({ alg: 'RS256', kid: KEY_ID })
      .setJti(randomUUID())
      .setIssuedAt(nowS)
      .setNotBefore(nowS)
      .setExpirationTime(nowS + CLOCK_SKEW_S + Math.ceil(validForMs / 1000))
      .sign(keys.privateKey);
  }

  /** Tokens remembered as verified (for tests and metrics). */
  get verifiedTokens(): number {
    return this.verified.size;
  }

  /** RS256 signature checks made so far (a remembered token makes none): for tests. */
  get signatureChecks(): number {
    return this.checks;
  }

  async verify(token: string): Promise<Extract<Principal, { kind: 'dataplane' }> | undefined> {
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    const cacheKey = VerifiedTokens.keyOf(token);
    try {
      const known = this.verified.get(cacheKey, this.clock.now());
      if (known) {
        if ((await this.keysOf(known.principal.mesh))?.fingerprint === known.keysFingerprint) return known.principal;
        this.verified.forget(cacheKey);
      }
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'RS256' || header.kid !== KEY_ID) return undefined;
      const unverified = TokenClaimsSchema.safeParse(decodeJwt(token));
      if (!unverified.success) return undefined;
      const keys = await this.keysOf(unverified.data.Mesh);
      if (!keys) return undefined;
      // No leeway, as Kuma: `nbf` is already backdated, and `exp` must end a token when `validFor` says so.
      this.checks++;
      const { payload } = await jwtVerify(token, keys.publicKey, {
        algorithms: ['RS256'],
        currentDate: new Date(this.clock.now()),
      });
      const claims = TokenClaimsSchema.parse(payload);
      if (keys.revoked.has(claims.jti)) return undefined;
      const principal = {
        kind: 'dataplane' as const,
        mesh: claims.Mesh,
        name: claims.Name,
        tags: claims.Tags ?? {},
        jti: claims.jti,
      };
      // Remembered with the keys it was checked against: if a revocation overtook this check, they differ next time.
      this.verified.remember(cacheKey, principal, keys.fingerprint, payload.nbf, payload.exp);
      return principal;
    } catch (err) {
      // The store being unreachable is not the token's fault: the caller gets a 503 to retry, not a 401.
      if (err instanceof DomainError && err.kind === 'unavailable') throw err;
      return undefined;
    }
  }

  private async keysOf(mesh: string): Promise<MeshTokenKeys | undefined> {
    const cached = this.keys.get(mesh);
    if (cached) return cached;
    const changes = this.changes;
    const secret = await this.store.get<{ data?: string }>('Secret', mesh, signingKeySecretName(mesh));
    if (!secret?.spec.data) return undefined;
    const privateKey = createPrivateKey(Buffer.from(secret.spec.data, 'base64').toString());
    const revocations = await this.store.get<{ data?: string }>('Secret', mesh, revocationsSecretName(mesh));
    const revoked = new Set(
      Buffer.from(revocations?.spec.data ?? '', 'base64')
        .toString()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const fingerprint = createHash('sha256')
      .update(secret.spec.data)
      .update('\n')
      .update(revocations?.spec.data ?? '')
      .digest('base64url');
    const keys = { privateKey, publicKey: createPublicKey(privateKey), revoked, fingerprint };
    if (changes === this.changes) this.keys.set(mesh, keys);
    return keys;
  }
}
