import { z } from 'zod';
import { MS_PER_YEAR, parseDuration } from './duration.js';
import { isValidBase64 } from './secret.js';
import { fromZodError, stripNulls, type Violation } from './violations.js';

/*
 * Per-type `conf` of a CA backend. The Mesh schema keeps `conf` a free-form object (its shape depends on `type`);
 * the CA backends call these validators. Violation fields are relative to the conf: the caller re-roots them under
 * `mtls.backends[i].conf`. Unknown keys are refused (beyond Kuma, which ignores them silently).
 */

// ---------------------------------------------------------------------------------------------------------------
// builtin

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;
export const DEFAULT_RSA_BITS = 2048;
export const DEFAULT_CA_EXPIRATION_MS = 10 * MS_PER_YEAR;

const RsaBitsSchema = z
  .number()
  .int()
  .meta({
    description: `RSA key size of the generated root, ${MIN_RSA_BITS} to ${MAX_RSA_BITS} (0 or unset: ${DEFAULT_RSA_BITS})`,
  });

export const BuiltinConfSchema = z.strictObject({
  caCert: z
    .strictObject({
      RSAbits: RsaBitsSchema.optional(),
      rsaBits: RsaBitsSchema.optional().meta({ description: 'alias of RSAbits (beyond Kuma)' }),
      expiration: z.string().optional().meta({ description: 'lifetime of the generated root, e.g. 10y (default)' }),
    })
    .optional(),
});
export type BuiltinConf = z.output<typeof BuiltinConfSchema>;

export interface ConfResult<T> {
  conf?: T;
  violations: Violation[];
}

export function notAnObject(value: unknown): boolean {
  return value === null || typeof value !== 'object' || Array.isArray(value);
}

export const CONVERT_ERROR = 'could not convert backend config: has to be an object';

/** Shape and value checks of a builtin backend's conf. `undefined`/`null` is the empty conf. */
export function validateBuiltinConf(conf: unknown): ConfResult<BuiltinConf> {
  const input = conf === undefined || conf === null ? {} : stripNulls(conf);
  if (notAnObject(input)) return { violations: [{ field: '', message: CONVERT_ERROR }] };
  const parsed = BuiltinConfSchema.safeParse(input);
  if (!parsed.success) return { violations: fromZodError(parsed.error) };
  const violations: Violation[] = [];
  const caCert = parsed.data.caCert;
  if (caCert) {
    for (const key of ['RSAbits', 'rsaBits'] as const) {
      const bits = caCert[key];
      if (bits !== undefined && bits !== 0 && (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS)) {
        violations.push({ field: `caCert.${key}`, message: `has to be between ${MIN_RSA_BITS} and ${MAX_RSA_BITS}` });
      }
    }
    if (caCert.RSAbits !== undefined && caCert.rsaBits !== undefined && caCert.RSAbits !== caCert.rsaBits) {
      violations.push({ field: 'caCert.rsaBits', message: 'has to be the same as caCert.RSAbits when both are set' });
    }
    if (caCert.expiration !== undefined) {
      const ms = parseDuration(caCert.expiration);
      if (ms === null) violations.push({ field: 'caCert.expiration', message: 'has to be a valid format' });
      else if (ms === 0) violations.push({ field: 'caCert.expiration', message: 'has to be greater than 0' });
    }
  }
  return violations.length === 0 ? { conf: parsed.data, violations } : { violations };
}

/** The RSA key size to generate: `RSAbits`, else `rsaBits`, else 2048 (0 means unset, as Kuma). */
export function effectiveRsaBits(conf: BuiltinConf | undefined): number {
  return conf?.caCert?.RSAbits || conf?.caCert?.rsaBits || DEFAULT_RSA_BITS;
}

/** The root's lifetime in milliseconds: `caCert.expiration`, else 10 years. */
export function effectiveCaExpirationMs(conf: BuiltinConf | undefined): number {
  const expiration = conf?.caCert?.expiration;
  if (expiration === undefined) return DEFAULT_CA_EXPIRATION_MS;
  const ms = parseDuration(expiration);
  return ms === null || ms === 0 ? DEFAULT_CA_EXPIRATION_MS : ms;
}

// ---------------------------------------------------------------------------------------------------------------
// provided

/** Kuma's DataSource: exactly one of `secret` (a Secret in the same mesh), `inline` (base64), `inlineString`, `file`. */
export const DataSourceSchema = z.union([
  z.strictObject({ secret: z.string().meta({ description: 'name of a Secret in the same mesh' }) }),
  z.strictObject({ inline: z.string().meta({ format: 'byte', description: 'base64 of the PEM' }) }),
  z.strictObject({ inlineString: z.string().meta({ description: 'the PEM itself' }) }),
  z.strictObject({ file: z.string().meta({ description: 'path readable by the control plane (deprecated in Kuma)' }) }),
]);
export type DataSource = z.output<typeof DataSourceSchema>;

export const ProvidedConfSchema = z.strictObject({
  cert: DataSourceSchema.optional(),
  key: DataSourceSchema.optional(),
});
export type ProvidedConf = z.output<typeof ProvidedConfSchema>;

const DATA_SOURCE_KEYS = ['secret', 'inline', 'inlineString', 'file'] as const;
type DataSourceKey = (typeof DATA_SOURCE_KEYS)[number];
const NO_SOURCE = 'data source has to be chosen. Available sources: secret, file, inline';

export function validateDataSource(field: string, value: unknown, out: Violation[]): DataSource | undefined {
  if (value === undefined) {
    out.push({ field, message: 'has to be defined' });
    return undefined;
  }
  if (notAnObject(value)) {
    out.push({ field, message: 'has to be an object with one of: secret, file, inline, inlineString' });
    return undefined;
  }
  const record = value as Record<string, unknown>;
  const before = out.length;
  const chosen: DataSourceKey[] = [];
  for (const key of Object.keys(record)) {
    if ((DATA_SOURCE_KEYS as readonly string[]).includes(key)) chosen.push(key as DataSourceKey);
    else out.push({ field: `${field}.${key}`, message: `unknown field ${JSON.stringify(key)}` });
  }
  if (chosen.length === 0) {
    out.push({ field, message: NO_SOURCE });
    return undefined;
  }
  if (chosen.length > 1) {
    out.push({ field, message: `only one data source can be chosen, got: ${chosen.join(', ')}` });
    return undefined;
  }
  const key = chosen[0]!;
  const raw = record[key];
  if (typeof raw !== 'string') {
    out.push({ field: `${field}.${key}`, message: 'has to be a string' });
    return undefined;
  }
  if (raw === '') out.push({ field: `${field}.${key}`, message: 'cannot be empty' });
  else if (key === 'inline' && !isValidBase64(raw))
    out.push({ field: `${field}.${key}`, message: 'has to be valid base64' });
  if (out.length !== before) return undefined;
  return { [key]: raw } as DataSource;
}

/**
 * Shape checks of a provided backend's conf (loading the material and checking the certificate is the CA backend's
 * job): both `cert` and `key` defined, each with exactly one non-empty source, no unknown keys.
 */
export function validateProvidedConfShape(conf: unknown): ConfResult<ProvidedConf> {
  const input = conf === undefined || conf === null ? {} : stripNulls(conf);
  if (notAnObject(input)) return { violations: [{ field: '', message: CONVERT_ERROR }] };
  const record = input as Record<string, unknown>;
  const violations: Violation[] = [];
  const cert = validateDataSource('cert', record['cert'], violations);
  const key = validateDataSource('key', record['key'], violations);
  for (const k of Object.keys(record)) {
    if (k !== 'cert' && k !== 'key') violations.push({ field: k, message: `unknown field ${JSON.stringify(k)}` });
  }
  if (violations.length > 0 || cert === undefined || key === undefined) return { violations };
  return { conf: { cert, key }, violations };
}

/** Names of the mesh Secrets a provided conf refers to (for the secret-in-use rule). Lenient: ignores what is malformed. */
export function providedConfSecretNames(conf: unknown): string[] {
  const names: string[] = [];
  if (notAnObject(conf)) return names;
  for (const k of ['cert', 'key']) {
    const ds = (conf as Record<string, unknown>)[k];
    if (!notAnObject(ds)) {
      const secret = (ds as Record<string, unknown>)['secret'];
      if (typeof secret === 'string' && secret !== '' && !names.includes(secret)) names.push(secret);
    }
  }
  return names;
}

/** A backend's type and conf with keys sorted: equal exactly when two confs describe the same CA material. */
export function canonicalConfKey(type: string, conf: unknown): string {
  const sortKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.keys(value as object)
          .sort()
          .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
      );
    }
    return value;
  };
  return JSON.stringify([type, sortKeys(conf ?? {})]);
}
