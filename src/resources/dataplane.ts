import { isIP } from 'node:net';
import { z } from 'zod';
import { LabelsSchema } from './labels.js';
import { mapKey, type Violation } from './violations.js';

export const SERVICE_TAG = 'kuma.io/service';
export const PROTOCOL_TAG = 'kuma.io/protocol';

/** Free-form sections meshcp stores but does not interpret. */
const LooseObject = z.record(z.string(), z.unknown());
const TagsSchema = z.record(z.string(), z.string());

export const InboundSchema = z.object({
  port: z.number().int().optional(),
  servicePort: z.number().int().optional(),
  serviceAddress: z.string().optional(),
  address: z.string().optional(),
  tags: TagsSchema.optional(),
  health: z.object({ ready: z.boolean().optional() }).optional(),
  serviceProbe: LooseObject.optional(),
  state: z.enum(['Ready', 'NotReady', 'Ignored']).optional(),
  name: z.string().optional(),
  protocol: z.string().optional(),
});

export const OutboundSchema = z.object({
  address: z.string().optional(),
  port: z.number().int().optional(),
  tags: TagsSchema.optional(),
  /** Deprecated in Kuma, still accepted: the service when `tags` is empty. */
  service: z.string().optional(),
  backendRef: z
    .object({
      kind: z.string().default(''),
      name: z.string().optional(),
      port: z.number().int().optional(),
      labels: TagsSchema.optional(),
    })
    .optional(),
});

export const GatewaySchema = z.object({
  tags: TagsSchema.optional(),
  type: z.enum(['DELEGATED', 'BUILTIN']).optional(),
});

export const DataplaneNetworkingSchema = z.object({
  address: z.string().optional(),
  advertisedAddress: z.string().optional(),
  inbound: z.array(InboundSchema).optional(),
  outbound: z.array(OutboundSchema).optional(),
  gateway: GatewaySchema.optional(),
  admin: z.object({ port: z.number().int().optional() }).optional(),
  transparentProxying: LooseObject.optional(),
  listeners: z.array(LooseObject).optional(),
});

/** A Universal Dataplane. `type`, `mesh` and `name` default to `""` so the HTTP layer reports a mismatch with the URL. */
export const DataplaneSchema = z.object({
  type: z.string().default(''),
  mesh: z.string().default(''),
  name: z.string().default(''),
  labels: LabelsSchema.optional(),
  networking: DataplaneNetworkingSchema.optional(),
  metrics: LooseObject.optional(),
  probes: LooseObject.optional(),
});

export type Dataplane = z.output<typeof DataplaneSchema>;
export type DataplaneInbound = z.output<typeof InboundSchema>;
export type DataplaneOutbound = z.output<typeof OutboundSchema>;

// ---------------------------------------------------------------------------------------------------------------
// validation (Kuma's dataplane validator, the v2.9 rules: every inbound needs a service tag, and a non-gateway
// dataplane needs at least one inbound)

const TAG_NAME = /^[a-zA-Z0-9.\-_:/]*$/;
const TAG_VALUE = /^[a-zA-Z0-9.\-_:]*$/;
const KNOWN_PROTOCOLS = new Set(['grpc', 'http', 'http2', 'kafka', 'tcp', 'tls']);
const ADVERTISED_PROTOCOLS = ['grpc', 'http', 'http2', 'kafka', 'tcp'];
const BACKEND_REF_KINDS = ['MeshExternalService', 'MeshMultiZoneService', 'MeshService'];
const DNS_NAME = /^([a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})*[._]?$/;
const PORT_RANGE = 'port must be in the range [1, 65535]';

/** Go's `net.ParseIP` accepts no zone suffix; Node's `isIP` does. */
function isIpAddress(value: string): boolean {
  return !value.includes('%') && isIP(value) !== 0;
}

/** govalidator's `IsDNSName`, which Kuma uses for `networking.address`. */
function isDnsName(value: string): boolean {
  if (value === '' || value.replace(/\./g, '').length > 255) return false;
  return !isIpAddress(value) && DNS_NAME.test(value);
}

function checkPort(field: string, port: number | undefined, out: Violation[]): void {
  const p = port ?? 0;
  if (p < 1 || p > 65535) out.push({ field, message: PORT_RANGE });
}

function sortedKeys(record: Readonly<Record<string, string>>): string[] {
  return Object.keys(record).sort();
}

interface TagsOptions {
  requireService?: boolean;
  /** Runs first, before the per-tag checks, as Kuma's extra tags validators. */
  extra?: (path: string, tags: Readonly<Record<string, string>>, out: Violation[]) => void;
}

/** Kuma's `ValidateTags` (tag names, values, and optionally the service tag) at `path` (e.g. `networking.inbound[0].tags`). */
function validateTags(path: string, tags: Readonly<Record<string, string>>, opts: TagsOptions, out: Violation[]): void {
  opts.extra?.(path, tags, out);
  for (const key of sortedKeys(tags)) {
    const at = path + mapKey(key);
    if (key === '') out.push({ field: path, message: 'tag name must be non-empty' });
    if (!TAG_NAME.test(key)) {
      out.push({ field: at, message: 'tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores' });
    }
    const value = tags[key]!;
    if (value === '') out.push({ field: at, message: 'tag value must be non-empty' });
    if (!TAG_VALUE.test(value)) {
      out.push({ field: at, message: 'tag value must consist of alphanumeric characters, dots, dashes and underscores' });
    }
  }
  if (opts.requireService && !(SERVICE_TAG in tags)) {
    out.push({ field: path, message: `mandatory tag ${JSON.stringify(SERVICE_TAG)} is missing` });
  }
}

function validateAddress(address: string | undefined, out: Violation[]): void {
  const field = 'networking.address';
  if (address === undefined || address === '') {
    out.push({ field, message: "address can't be empty" });
    return;
  }
  if (address === '0.0.0.0' || address === '::') out.push({ field, message: 'must not be 0.0.0.0 or ::' });
  if (!isIpAddress(address) && !isDnsName(address)) {
    out.push({ field, message: 'address has to be valid IP address or domain name' });
  }
}

function validateInbound(path: string, inbound: DataplaneInbound, dpAddress: string, out: Violation[]): void {
  const port = inbound.port ?? 0;
  const servicePort = inbound.servicePort ?? 0;
  checkPort(`${path}.port`, inbound.port, out);
  if (servicePort !== 0) checkPort(`${path}.servicePort`, servicePort, out);
  const sameEndpoint = servicePort === 0 || servicePort === port;
  const serviceAddress = inbound.serviceAddress ?? '';
  const address = inbound.address ?? '';
  if (serviceAddress !== '') {
    if (!isIpAddress(serviceAddress)) {
      out.push({ field: `${path}.serviceAddress`, message: 'serviceAddress has to be valid IP address' });
    }
    if (serviceAddress === dpAddress && sameEndpoint) {
      out.push({ field: `${path}.serviceAddress`, message: 'serviceAddress and servicePort has to differ from address and port' });
    }
  }
  if (address !== '') {
    if (!isIpAddress(address)) out.push({ field: `${path}.address`, message: 'address has to be valid IP address' });
    if (address === serviceAddress && sameEndpoint) {
      out.push({ field: `${path}.serviceAddress`, message: 'serviceAddress and servicePort has to differ from address and port' });
    }
  }
  validateTags(`${path}.tags`, inbound.tags ?? {}, {
    extra: (tagsPath, tags, o) => {
      const protocol = tags[PROTOCOL_TAG];
      if (protocol !== undefined && !KNOWN_PROTOCOLS.has(protocol.toLowerCase())) {
        o.push({
          field: tagsPath + mapKey(PROTOCOL_TAG),
          message: `tag ${JSON.stringify(PROTOCOL_TAG)} has an invalid value ${JSON.stringify(protocol)}. Allowed values: ${ADVERTISED_PROTOCOLS.join(', ')}`,
        });
      }
    },
  }, out);
}

function validateOutbound(path: string, outbound: DataplaneOutbound, out: Violation[]): void {
  checkPort(`${path}.port`, outbound.port, out);
  if (outbound.address && !isIpAddress(outbound.address)) {
    out.push({ field: `${path}.address`, message: 'address has to be valid IP address' });
  }
  const tags = outbound.tags ?? {};
  const hasTags = Object.keys(tags).length > 0;
  const ref = outbound.backendRef;
  if (ref !== undefined) {
    if (!BACKEND_REF_KINDS.includes(ref.kind)) {
      out.push({ field: `${path}.backendRef.kind`, message: `invalid value. Available values are: ${BACKEND_REF_KINDS.join(',')}` });
    }
    if ((ref.name ?? '') === '' && Object.keys(ref.labels ?? {}).length === 0) {
      out.push({ field: `${path}.backendRef`, message: "either 'name' or 'labels' should be specified" });
    }
    if (ref.kind !== 'MeshExternalService') checkPort(`${path}.backendRef.port`, ref.port, out);
  } else if (!hasTags) {
    if ((outbound.service ?? '') === '') {
      out.push({ field: `${path}.tags`, message: `mandatory tag ${JSON.stringify(SERVICE_TAG)} is missing` });
    }
  } else {
    validateTags(`${path}.tags`, tags, { requireService: true }, out);
  }
  if (ref !== undefined && (hasTags || (outbound.service ?? '') !== '')) {
    out.push({ field: `${path}.backendRef`, message: 'both backendRef and tags/service cannot be defined' });
  }
}

function validateGateway(gateway: z.output<typeof GatewaySchema>, out: Violation[]): void {
  validateTags('networking.gateway.tags', gateway.tags ?? {}, {
    requireService: true,
    extra: (tagsPath, tags, o) => {
      const protocol = tags[PROTOCOL_TAG];
      if (protocol !== undefined && protocol !== 'tcp') {
        o.push({ field: tagsPath + mapKey(PROTOCOL_TAG), message: `other values than tcp are not allowed, provided value "${protocol}"` });
      }
    },
  }, out);
}

function validateNetworking(networking: NonNullable<Dataplane['networking']>, out: Violation[]): void {
  validateAddress(networking.address, out);
  const dpAddress = networking.address ?? '';
  (networking.inbound ?? []).forEach((inbound, i) => {
    const path = `networking.inbound[${i}]`;
    validateInbound(path, inbound, dpAddress, out);
    if (!(SERVICE_TAG in (inbound.tags ?? {}))) {
      out.push({ field: `${path}.tags${mapKey(SERVICE_TAG)}`, message: 'tag has to exist' });
    }
  });
  (networking.outbound ?? []).forEach((outbound, i) => validateOutbound(`networking.outbound[${i}]`, outbound, out));
}

/**
 * Semantic checks of a Dataplane, Kuma's fields and messages (pkg/core/resources/apis/mesh/dataplane_validator.go,
 * v2.9 rules). Name and mesh checks are separate (names.ts).
 */
export function validateDataplane(dp: Dataplane): Violation[] {
  const out: Violation[] = [];
  const networking = dp.networking;
  if (networking === undefined) return [{ field: 'networking', message: 'must be defined' }];
  const inbound = networking.inbound ?? [];
  const gateway = networking.gateway;
  if (gateway !== undefined && (gateway.type ?? 'DELEGATED') === 'DELEGATED') {
    if (inbound.length > 0) out.push({ field: 'networking.inbound', message: 'inbound cannot be defined for delegated gateways' });
    validateGateway(gateway, out);
    validateNetworking(networking, out);
  } else if (gateway !== undefined) {
    if (inbound.length > 0) out.push({ field: 'networking.inbound', message: 'inbound cannot be defined for builtin gateways' });
    if ((networking.outbound ?? []).length > 0) {
      out.push({ field: 'networking.outbound', message: 'outbound cannot be defined for builtin gateways' });
    }
    if (dp.probes !== undefined) out.push({ field: 'networking.probes', message: 'probes cannot be defined for builtin gateways' });
    validateGateway(gateway, out);
    validateNetworking(networking, out);
  } else {
    if (inbound.length === 0) out.push({ field: 'networking', message: 'has to contain at least one inbound interface or gateway' });
    validateNetworking(networking, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// identity

/** The dataplane's tag set: the union of every inbound's tags and the gateway's tags (Kuma's `TagSet`). */
export function dataplaneTags(dp: Dataplane): Map<string, Set<string>> {
  const tags = new Map<string, Set<string>>();
  const add = (record: Readonly<Record<string, string>> | undefined): void => {
    for (const [k, v] of Object.entries(record ?? {})) {
      let values = tags.get(k);
      if (!values) tags.set(k, (values = new Set()));
      values.add(v);
    }
  };
  for (const inbound of dp.networking?.inbound ?? []) add(inbound.tags);
  add(dp.networking?.gateway?.tags);
  return tags;
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The sorted, distinct `kuma.io/service` values of the dataplane. */
export function dataplaneServices(dp: Dataplane): string[] {
  return [...(dataplaneTags(dp).get(SERVICE_TAG) ?? [])].sort(byCodePoint);
}

/** `gateway` when the dataplane is a gateway, else `sidecar` (Kuma's `kuma.io/proxy-type` label). */
export function dataplaneProxyType(dp: Dataplane): 'gateway' | 'sidecar' {
  return dp.networking?.gateway !== undefined ? 'gateway' : 'sidecar';
}

/**
 * The URI SANs of a dataplane certificate, as Kuma: `spiffe://<mesh>/<service>` for each sorted service, then
 * `kuma://<tag>/<value>` for every tag (the service tag included), sorted by tag name, then value.
 */
export function dataplaneSpiffeUris(mesh: string, dp: Dataplane): string[] {
  const tags = dataplaneTags(dp);
  const uris = dataplaneServices(dp).map((service) => `spiffe://${mesh}/${service}`);
  for (const key of [...tags.keys()].sort(byCodePoint)) {
    for (const value of [...tags.get(key)!].sort(byCodePoint)) uris.push(`kuma://${key}/${value}`);
  }
  return uris;
}
