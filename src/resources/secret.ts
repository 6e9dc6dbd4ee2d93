import { z } from 'zod';
import { globalResourceMetaShape, meshScopedMetaShape } from './meta.js';

const STD_ALPHABET = /^[A-Za-z0-9+/]*$/;
const URL_ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes base64 the way Kuma's JSON decoder (protojson) reads `bytes`: the standard alphabet or the URL-safe one,
 * padded or not, line breaks ignored (so `base64` output wrapped at 76 columns works). Anything else is null,
 * unlike Node's `Buffer.from(s, 'base64')`, which silently skips invalid characters.
 */
export function decodeBase64Strict(input: string): Buffer | null {
  if (typeof input !== 'string') return null;
  const s = input.replace(/[\r\n]/g, '');
  let body = s;
  const padAt = s.indexOf('=');
  if (padAt !== -1) {
    body = s.slice(0, padAt);
    const padding = s.slice(padAt);
    if (!/^={1,2}$/.test(padding) || s.length % 4 !== 0) return null;
  }
  if (body.length % 4 === 1) return null;
  const standard = STD_ALPHABET.test(body);
  if (!standard && !URL_ALPHABET.test(body)) return null;
  return Buffer.from(body, standard ? 'base64' : 'base64url');
}

export function isValidBase64(input: string): boolean {
  return decodeBase64Strict(input) !== null;
}

/** Secret `data`: base64, possibly empty. Invalid base64 fails the shape check (400 `Bad Request`, as Kuma). */
export const SecretDataSchema = z
  .string()
  .refine(isValidBase64, { message: 'has to be valid base64' })
  .meta({ format: 'byte', description: 'base64 of the secret bytes' });

/** A mesh-scoped Secret (`/meshes/{mesh}/secrets/{name}`). `type`/`mesh`/`name` default to `""` so the HTTP layer reports a mismatch with the URL. */
export const SecretSchema = z.strictObject({
  ...meshScopedMetaShape,
  data: SecretDataSchema.optional(),
});

/** A GlobalSecret (`/global-secrets/{name}`). */
export const GlobalSecretSchema = z.strictObject({
  ...globalResourceMetaShape,
  data: SecretDataSchema.optional(),
});

export type Secret = z.output<typeof SecretSchema>;
export type GlobalSecret = z.output<typeof GlobalSecretSchema>;
