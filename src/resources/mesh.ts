import { z } from 'zod';
import { MS_PER_HOUR, parseDuration } from './duration.js';
import { globalMetaShape } from './meta.js';
import { MAX_MESH_NAME_LENGTH, MAX_NAME_LENGTH, RFC1123_SUBDOMAIN, isValidResourceName } from './names.js';
import type { Violation } from './violations.js';

export const MTLS_MODES = ['STRICT', 'PERMISSIVE'] as const;
export type MtlsMode = (typeof MTLS_MODES)[number];

/** Default leaf lifetime when `dpCert.rotation.expiration` is unset (24h in every Kuma 2.x release). */
export const DEFAULT_DP_CERT_EXPIRATION_MS = 24 * MS_PER_HOUR;

/** Free-form JSON object: Kuma's `google.protobuf.Struct` (a backend's `conf`, whose shape depends on its type). */
const LooseObject = z.record(z.string(), z.unknown());

/*
 * Every object below is strict: a field Kuma's Mesh does not have is refused (400 naming its path), never dropped,
 * so a typo such as `mtsl:` cannot silently turn mTLS off. Only `conf` (a Struct in Kuma) is free-form.
 */

/** `logging`/`tracing`/`metrics` backends: meshcp stores them; their `conf` is type-specific and free-form. */
const NamedBackendSchema = <T extends z.ZodRawShape>(extra: T) =>
  z.strictObject({ name: z.string().optional(), type: z.string().optional(), conf: LooseObject.optional(), ...extra });

const LoggingSchema = z.strictObject({
  defaultBackend: z.string().optional(),
  backends: z.array(NamedBackendSchema({ format: z.string().optional() })).optional(),
});
const TracingSchema = z.strictObject({
  defaultBackend: z.string().optional(),
  backends: z.array(NamedBackendSchema({ sampling: z.number().optional() })).optional(),
});
const MetricsSchema = z.strictObject({
  enabledBackend: z.string().optional(),
  backends: z.array(NamedBackendSchema({})).optional(),
});
const MeshNetworkingSchema = z.strictObject({
  outbound: z.strictObject({ passthrough: z.boolean().optional() }).optional(),
});
const RoutingSchema = z.strictObject({
  localityAwareLoadBalancing: z.boolean().optional(),
  zoneEgress: z.boolean().optional(),
  defaultForbidMeshExternalServiceAccess: z.boolean().optional(),
});
const ConstraintRulesSchema = z.array(z.strictObject({ tags: z.record(z.string(), z.string()).optional() }));
const ConstraintsSchema = z.strictObject({
  dataplaneProxy: z
    .strictObject({ requirements: ConstraintRulesSchema.optional(), restrictions: ConstraintRulesSchema.optional() })
    .optional(),
});
const MeshServicesSchema = z.strictObject({
  mode: z.enum(['Disabled', 'Everywhere', 'ReachableBackends', 'Exclusive']).optional(),
});

export const CaBackendSchema = z.strictObject({
  name: z.string().default(''),
  type: z.string().default('').meta({ description: 'builtin | provided | vault' }),
  mode: z.enum(MTLS_MODES).optional().meta({ description: 'STRICT (default) or PERMISSIVE' }),
  dpCert: z
    .strictObject({
      rotation: z
        .strictObject({
          expiration: z.string().optional().meta({ description: 'leaf lifetime, e.g. 24h (default), 1h30m' }),
        })
        .optional(),
      requestTimeout: z.string().optional(),
    })
    .optional(),
  conf: LooseObject.optional().meta({ description: 'type-specific: see BuiltinConf and ProvidedConf' }),
  rootChain: z.strictObject({ requestTimeout: z.string().optional() }).optional(),
});

export const MeshMtlsSchema = z.strictObject({
  enabledBackend: z.string().optional().meta({ description: 'mTLS is on when this names a backend' }),
  skipValidation: z.boolean().optional(),
  backends: z.array(CaBackendSchema).optional(),
});

/**
 * A Mesh as sent and stored. `type` and `name` default to `""` so that a body without them reaches the
 * URL-equality check (Kuma answers `type from the URL has to be the same as in body`, not a parse error).
 * Sections meshcp does not interpret are stored as sent (they round-trip), but their fields are checked too.
 */
export const MeshSchema = z.strictObject({
  ...globalMetaShape,
  mtls: MeshMtlsSchema.optional(),
  logging: LoggingSchema.optional(),
  metrics: MetricsSchema.optional(),
  tracing: TracingSchema.optional(),
  networking: MeshNetworkingSchema.optional(),
  routing: RoutingSchema.optional(),
  constraints: ConstraintsSchema.optional(),
  meshServices: MeshServicesSchema.optional(),
  skipCreatingInitialPolicies: z.array(z.string()).optional(),
});

export type Mesh = z.output<typeof MeshSchema>;
export type MeshMtls = z.output<typeof MeshMtlsSchema>;
export type CaBackend = z.output<typeof CaBackendSchema>;

/** Kuma's rule: mTLS is enabled when `enabledBackend` is non-empty. */
export function meshMtlsEnabled(mesh: Pick<Mesh, 'mtls'>): boolean {
  return (mesh.mtls?.enabledBackend ?? '') !== '';
}

/** The enabled backend, or undefined when mTLS is off (or it names no backend). */
export function enabledBackend(mesh: Pick<Mesh, 'mtls'>): CaBackend | undefined {
  const name = mesh.mtls?.enabledBackend ?? '';
  if (name === '') return undefined;
  return mesh.mtls?.backends?.find((b) => b.name === name);
}

/** Leaf lifetime for certificates issued by `backend`, in milliseconds (24h when unset). */
export function dpCertExpirationMs(backend: CaBackend): number {
  const expiration = backend.dpCert?.rotation?.expiration;
  if (expiration === undefined || expiration === '') return DEFAULT_DP_CERT_EXPIRATION_MS;
  return parseDuration(expiration) ?? DEFAULT_DP_CERT_EXPIRATION_MS;
}

/** `dpCert.requestTimeout` in milliseconds, or undefined when unset (the signing pool's default then applies). */
export function dpCertRequestTimeoutMs(backend: CaBackend): number | undefined {
  const t = backend.dpCert?.requestTimeout;
  return t === undefined ? undefined : (parseRequestTimeout(t) ?? undefined);
}

/** Secret names of a builtin backend's root (as Kuma's `BuiltinCertSecretName` / `BuiltinKeySecretName`). */
export function builtinCertSecretName(mesh: string, backend: string): string {
  return `${mesh}.ca-builtin-cert-${backend}`;
}
export function builtinKeySecretName(mesh: string, backend: string): string {
  return `${mesh}.ca-builtin-key-${backend}`;
}

/**
 * A request timeout: the mesh duration grammar, or a protobuf Duration string such as `1.5s`
 * (what Kuma's JSON decoder takes for these `google.protobuf.Duration` fields).
 */
export function parseRequestTimeout(value: string): number | null {
  const proto = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value);
  if (proto) {
    const ms = Number(proto[1]) * 1000 + Math.round(Number(`0.${proto[2] ?? '0'}`) * 1000);
    return Number.isSafeInteger(ms) ? ms : null;
  }
  return parseDuration(value);
}

const INVALID_FORMAT = 'has to be a valid format';

/**
 * The structural Mesh checks (Kuma's `Mesh.Validate()` then the type part of `ValidateMTLSBackends`), fields as Kuma:
 * - duplicate backend names: `mtls.backends[i].name` `"<name>" name is already used for another backend`;
 * - a `dpCert` without a valid `rotation.expiration`: `mtls.dpcert.rotation.expiration` `has to be a valid format`
 *   (Kuma's lower-case path without index, once per bad backend);
 * - `enabledBackend` naming no backend: `mtls.enabledBackend` `has to be set to one of the backends in the mesh`;
 * - unknown type: `mtls.backends[i].type` `could not find installed plugin for this type`, first one only, as Kuma.
 * Beyond Kuma: several backends are allowed; empty backend names are refused; `dpCert.requestTimeout` and
 * `rootChain.requestTimeout` must parse; a builtin backend's name must make a valid secret name
 * `<mesh>.ca-builtin-cert-<backend>` (Kuma checks that only when `skipValidation` is off, at the odd field
 * `mtls.backends[i].conf.mtls.backends.name`; here it is always checked, at `mtls.backends[i].name`, because the
 * CP stores those secrets). Conf checks are per type (see ca-conf.ts) and not done here.
 */
export function validateMeshStructure(mesh: Mesh, knownBackendTypes: ReadonlySet<string>): Violation[] {
  const out: Violation[] = [];
  const mtls = mesh.mtls;
  if (!mtls) return out;
  const backends = mtls.backends ?? [];
  const used = new Set<string>();

  backends.forEach((backend, i) => {
    const at = `mtls.backends[${i}]`;
    if (backend.name === '') {
      out.push({ field: `${at}.name`, message: 'cannot be empty' });
    } else if (used.has(backend.name)) {
      out.push({
        field: `${at}.name`,
        message: `${JSON.stringify(backend.name)} name is already used for another backend`,
      });
    }
    used.add(backend.name);

    if (backend.dpCert !== undefined) {
      const expiration = backend.dpCert.rotation?.expiration ?? '';
      if (parseDuration(expiration) === null)
        out.push({ field: 'mtls.dpcert.rotation.expiration', message: INVALID_FORMAT });
      const timeout = backend.dpCert.requestTimeout;
      if (timeout !== undefined && parseRequestTimeout(timeout) === null) {
        out.push({ field: `${at}.dpCert.requestTimeout`, message: INVALID_FORMAT });
      }
    }
    const rootTimeout = backend.rootChain?.requestTimeout;
    if (rootTimeout !== undefined && parseRequestTimeout(rootTimeout) === null) {
      out.push({ field: `${at}.rootChain.requestTimeout`, message: INVALID_FORMAT });
    }
    if (backend.mode !== undefined && !(MTLS_MODES as readonly string[]).includes(backend.mode)) {
      out.push({ field: `${at}.mode`, message: `has to be one of: ${MTLS_MODES.join(', ')}` });
    }
    if ((backend.type === 'builtin' || backend.type === 'vault') && backend.name !== '') {
      out.push(...validateBuiltinBackendName(mesh.name, backend.name, `${at}.name`));
    }
  });

  const enabled = mtls.enabledBackend ?? '';
  if (enabled !== '' && !used.has(enabled)) {
    out.push({ field: 'mtls.enabledBackend', message: 'has to be set to one of the backends in the mesh' });
  }

  for (let i = 0; i < backends.length; i++) {
    if (!knownBackendTypes.has(backends[i]!.type)) {
      out.push({ field: `mtls.backends[${i}].type`, message: 'could not find installed plugin for this type' });
      break;
    }
  }
  return out;
}

/**
 * Kuma's builtin check on the secret name `<mesh>.ca-builtin-cert-<backend>`, with Kuma's messages. The limit is
 * 253 rather than Kuma's 255 so that the secret name is itself a valid resource name here.
 */
export function validateBuiltinBackendName(mesh: string, backend: string, field: string): Violation[] {
  // An invalid mesh name is reported on `name` by the caller; do not blame the backend for it.
  const meshPart = isValidResourceName(mesh, MAX_MESH_NAME_LENGTH) ? mesh : 'mesh';
  const secretName = builtinCertSecretName(meshPart, backend);
  if (secretName.length > MAX_NAME_LENGTH) {
    return [{ field, message: `Backend name is too long. Max length: ${MAX_NAME_LENGTH}` }];
  }
  if (!RFC1123_SUBDOMAIN.test(secretName)) {
    return [{ field, message: `${JSON.stringify(backend)} name must be valid dns name` }];
  }
  return [];
}
