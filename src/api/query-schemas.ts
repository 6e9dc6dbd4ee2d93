import { z } from 'zod';
import { invalidRequest } from '../domain/errors.js';
import { parseDuration } from '../resources/duration.js';
import { documentedAs, refuse } from './zod-compilers.js';

/** A repeated query parameter arrives as an array; like Kuma, the last one counts. */
const lastOf = (raw: unknown) => (Array.isArray(raw) ? raw[raw.length - 1] : raw);

function documented<S extends z.ZodType>(schema: S, as: Record<string, unknown>): S {
  documentedAs.add(schema, as);
  return schema;
}

/** `?name=true|false` (or a bare `?name`), anything else refused with the parameter named. */
function flag(name: string, description: string) {
  const schema = z.unknown().transform((raw, ctx) => {
    const value = lastOf(raw);
    if (value === undefined || value === 'false') return false;
    if (value === 'true' || value === '') return true;
    refuse(
      ctx,
      invalidRequest(`query parameter ${name} must be true or false`, [
        { field: name, message: 'must be true or false' },
      ]),
    );
    return z.NEVER;
  });
  return documented(schema.optional(), { type: 'boolean', description });
}

/** `?dryRun=` and `?force=` on PUT and DELETE of every resource. Other parameters are ignored, as Kuma does. */
export const WriteQuerySchema = z.looseObject({
  dryRun: flag('dryRun', 'answer as the real call would, write nothing'),
  force: flag('force', 'skip CA rotation rules 1-3 (admin only, logged)'),
});
export type WriteQuery = z.output<typeof WriteQuerySchema>;

const waitMs = z.unknown().transform((raw, ctx) => {
  if (raw === undefined) return 0;
  const ms = typeof raw === 'string' ? parseDuration(raw) : null;
  if (ms !== null) return ms;
  refuse(
    ctx,
    invalidRequest('wait must be a duration such as 30s (at most 60s)', [
      { field: 'wait', message: 'has to be a valid format' },
    ]),
  );
  return z.NEVER;
});

const SERIAL = /^[0-9A-Fa-f]{1,64}$/;
const servedSerial = z.unknown().transform((raw, ctx) => {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string' && SERIAL.test(raw)) return raw;
  refuse(
    ctx,
    invalidRequest('servedSerial must be the hexadecimal serial number of a certificate', [
      { field: 'servedSerial', message: 'has to be a valid format' },
    ]),
  );
  return z.NEVER;
});

/** `GET .../trust-bundle?wait=30s&servedSerial=<hex>`: the long-poll bound (as ms) and the serial the proxy serves. */
export const TrustBundleQuerySchema = z.looseObject({
  wait: documented(waitMs.optional(), {
    type: 'string',
    description: 'long-poll up to this duration (e.g. 30s, at most 60s) while the held bundle is current',
  }),
  servedSerial: documented(servedSerial.optional(), {
    type: 'string',
    pattern: SERIAL.source,
    description: 'serial number (hex) of the certificate the proxy serves now',
  }),
});
export type TrustBundleQuery = z.output<typeof TrustBundleQuerySchema>;
