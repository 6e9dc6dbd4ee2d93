import type { z } from 'zod';
import {
  SERVICE_TAG,
  PROTOCOL_TAG,
  GatewaySchema,
  type Dataplane,
  type DataplaneInbound,
  type DataplaneOutbound,
} from './dataplane-schema.js';
import { mapKey, type Violation } from './violations.js';
import {
  BACKEND_REF_KINDS,
  checkPort,
  isIpAddress,
  validateAddressAt,
  validateAdminPort,
  validateListeners,
  validateMetricsBackend,
  validateProbes,
  validateReachableBackends,
  validateServiceProbe,
} from './dataplane-sections.js';
import { validateIdentityUris } from './identity-uris.js';
import { PROXY_TYPE_LABEL, type Labels } from './labels.js';

export * from './dataplane-schema.js';

// ---------------------------------------------------------------------------------------------------------------
// validation (Kuma 2.14's dataplane validator: tags are optional on inbounds and gateways, but when present they
// need a service tag; a dataplane may have no inbound at all, e.g. outbound-only or transparent-proxy ones)

const TAG_NAME = /^[a-zA-Z0-9.\-_:/]*$/;
const TAG_VALUE = /^[a-zA-Z0-9.\-_:]*$/;
const KNOWN_PROTOCOLS = new Set(['grpc', 'http', 'http2', 'kafka', 'tcp', 'tls']);
const ADVERTISED_PROTOCOLS = ['grpc', 'http', 'http2', 'kafka', 'tcp'];
const DNS_NAME = /^([a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})*[._]?$/;

/** govalidator's `IsDNSName`, which Kuma uses for `networking.address`. */
function isDnsName(value: string): boolean {
  if (value === '' || value.replace(/\./g, '').length > 255) return false;
  return !isIpAddress(value) && DNS_NAME.test(value);
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
      out.push({
        field: at,
        message: 'tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores',
      });
    }
    const value = tags[key]!;
    if (value === '') out.push({ field: at, message: 'tag value must be non-empty' });
    if (!TAG_VALUE.test(value)) {
      out.push({
        field: at,
        message: 'tag value must consist of alphanumeric characters, dots, dashes and underscores',
      });
    }
  }
  if (opts.requireService && !(SERVICE_TAG in tags)) {
    out.push({ field: path, message: `mandatory tag ${JSON.stringify(SERVICE_TAG)} is missing` });
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
      out.push({
        field: `${path}.serviceAddress`,
        message: 'serviceAddress and servicePort has to differ from address and port',
      });
    }
  }
  if (address !== '') {
    if (!isIpAddress(address)) out.push({ field: `${path}.address`, message: 'address has to be valid IP address' });
    if (address === serviceAddress && sameEndpoint) {
      out.push({
        field: `${path}.serviceAddress`,
        message: 'serviceAddress and servicePort has to differ from address and port',
      });
    }
  }
  validateTags(
    `${path}.tags`,
    inbound.tags ?? {},
    {
      extra: (tagsPath, tags, o) => {
        const protocol = tags[PROTOCOL_TAG];
        if (protocol !== undefined && !KNOWN_PROTOCOLS.has(protocol.toLowerCase())) {
          o.push({
            field: tagsPath + mapKey(PROTOCOL_TAG),
            message: `tag ${JSON.stringify(PROTOCOL_TAG)} has an invalid value ${JSON.stringify(protocol)}. Allowed values: ${ADVERTISED_PROTOCOLS.join(', ')}`,
          });
        }
      },
    },
    out,
  );
  if (
    inbound.protocol !== undefined &&
    inbound.protocol !== '' &&
    !KNOWN_PROTOCOLS.has(inbound.protocol.toLowerCase())
  ) {
    out.push({
      field: `${path}.protocol`,
      message: `has an invalid value ${JSON.stringify(inbound.protocol)}. Allowed values: ${ADVERTISED_PROTOCOLS.join(', ')}`,
    });
  }
  validateServiceProbe(path, inbound.serviceProbe, out);
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
      out.push({
        field: `${path}.backendRef.kind`,
        message: `invalid value. Available values are: ${BACKEND_REF_KINDS.join(',')}`,
      });
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
  const tags = gateway.tags ?? {};
  validateTags(
    'networking.gateway.tags',
    tags,
    {
      requireService: Object.keys(tags).length > 0,
      extra: (tagsPath, tags, o) => {
        const protocol = tags[PROTOCOL_TAG];
        if (protocol !== undefined && protocol !== 'tcp') {
          o.push({
            field: tagsPath + mapKey(PROTOCOL_TAG),
            message: `other values than tcp are not allowed, provided value "${protocol}"`,
          });
        }
      },
    },
    out,
  );
}

function validateNetworking(networking: NonNullable<Dataplane['networking']>, out: Violation[]): void {
  validateAddressAt('networking.address', networking.address, isDnsName, out);
  const dpAddress = networking.address ?? '';
  (networking.inbound ?? []).forEach((inbound, i) => {
    const path = `networking.inbound[${i}]`;
    validateInbound(path, inbound, dpAddress, out);
    const tags = inbound.tags ?? {};
    if (Object.keys(tags).length > 0 && !(SERVICE_TAG in tags)) {
      out.push({ field: `${path}.tags${mapKey(SERVICE_TAG)}`, message: 'tag has to exist' });
    }
  });
  (networking.outbound ?? []).forEach((outbound, i) => validateOutbound(`networking.outbound[${i}]`, outbound, out));
  validateReachableBackends(networking.transparentProxying, out);
}

/**
 * Semantic checks of a Dataplane, Kuma 2.14's fields, messages and order (pkg/core/resources/apis/mesh/
 * dataplane_validator.go), then meshcp's own: tags must make certificate URIs that X.509 parsers accept.
 * Name and mesh checks are separate (names.ts).
 */
export function validateDataplane(dp: Dataplane): Violation[] {
  const out: Violation[] = [];
  const networking = dp.networking;
  if (networking === undefined) return [{ field: 'networking', message: 'must be defined' }];
  validateAdminPort(networking, out);
  const inbound = networking.inbound ?? [];
  const listeners = networking.listeners ?? [];
  const gateway = networking.gateway;
  if (gateway !== undefined && (gateway.type ?? 'DELEGATED') === 'DELEGATED') {
    if (inbound.length > 0)
      out.push({ field: 'networking.inbound', message: 'inbound cannot be defined for delegated gateways' });
    if (listeners.length > 0)
      out.push({ field: 'networking.listeners', message: 'listeners cannot be defined for delegated gateways' });
    validateGateway(gateway, out);
    validateNetworking(networking, out);
    validateProbes(dp.probes, out);
  } else if (gateway !== undefined) {
    if (inbound.length > 0)
      out.push({ field: 'networking.inbound', message: 'inbound cannot be defined for builtin gateways' });
    if ((networking.outbound ?? []).length > 0) {
      out.push({ field: 'networking.outbound', message: 'outbound cannot be defined for builtin gateways' });
    }
    if (listeners.length > 0)
      out.push({ field: 'networking.listeners', message: 'listeners cannot be defined for builtin gateways' });
    if (dp.probes !== undefined)
      out.push({ field: 'networking.probes', message: 'probes cannot be defined for builtin gateways' });
    validateGateway(gateway, out);
    validateNetworking(networking, out);
  } else {
    validateNetworking(networking, out);
    validateProbes(dp.probes, out);
    validateMetricsBackend(dp.metrics, out);
    validateListeners(networking, isDnsName, out);
  }
  if (out.length === 0) out.push(...validateIdentityUris(dp));
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

/**
 * Kuma's `kuma.io/proxy-type` label: `gateway` for a builtin gateway only; a delegated gateway runs its own proxy
 * beside a sidecar Envoy, so it is a `sidecar` as any other dataplane.
 */
export function dataplaneProxyType(dp: Pick<Dataplane, 'networking'>): 'gateway' | 'sidecar' {
  return dp.networking?.gateway?.type === 'BUILTIN' ? 'gateway' : 'sidecar';
}

export const LISTENER_ZONE_INGRESS_LABEL = 'kuma.io/listener-zoneingress';
export const LISTENER_ZONE_EGRESS_LABEL = 'kuma.io/listener-zoneegress';

/**
 * The labels Kuma computes from a Dataplane's spec: always `kuma.io/proxy-type` (`gateway` for builtin gateways,
 * else `sidecar`), and a `kuma.io/listener-zone*` label per zone ingress/egress listener (removed without one).
 */
export function dataplaneLabels(spec: unknown, labels: Labels): void {
  const networking = (spec as Pick<Dataplane, 'networking'>).networking ?? {};
  labels[PROXY_TYPE_LABEL] = dataplaneProxyType({ networking } as Pick<Dataplane, 'networking'>);
  const listenerTypes = new Set((networking.listeners ?? []).map((l) => l.type));
  if (listenerTypes.has('ZoneIngress')) labels[LISTENER_ZONE_INGRESS_LABEL] = 'enabled';
  else delete labels[LISTENER_ZONE_INGRESS_LABEL];
  if (listenerTypes.has('ZoneEgress')) labels[LISTENER_ZONE_EGRESS_LABEL] = 'enabled';
  else delete labels[LISTENER_ZONE_EGRESS_LABEL];
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
