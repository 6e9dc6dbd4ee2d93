import { isIP } from 'node:net';
import type { z } from 'zod';
import { RFC1123_SUBDOMAIN, NAME_INVALID_CHARACTERS } from './names.js';
import { parseRequestTimeout } from './mesh.js';
import type { Violation } from './violations.js';
import type {
  DataplaneMetricsSchema,
  DataplaneNetworkingSchema,
  ProbesSchema,
  ServiceProbeSchema,
  TransparentProxyingSchema,
} from './dataplane-schema.js';

/*
 * The Kuma 2.14 Dataplane sections beyond inbounds, outbounds and gateway tags: the admin port, probes, a service
 * probe, listeners, transparent-proxy reachable backends and the metrics backend. Fields and messages are Kuma's
 * (pkg/core/resources/apis/mesh/dataplane_validator.go at v2.14.3), including its `transparentProxing` typo.
 */

type Networking = z.output<typeof DataplaneNetworkingSchema>;

export const PORT_RANGE = 'port must be in the range [1, 65535]';
export const BACKEND_REF_KINDS = ['MeshExternalService', 'MeshMultiZoneService', 'MeshService'];
const POSITIVE = 'must have a positive value';

export function checkPort(field: string, port: number | undefined, out: Violation[]): void {
  const p = port ?? 0;
  if (p < 1 || p > 65535) out.push({ field, message: PORT_RANGE });
}

/** Go's `net.ParseIP` accepts no zone suffix; Node's `isIP` does. */
export function isIpAddress(value: string): boolean {
  return !value.includes('%') && isIP(value) !== 0;
}

const LOOPBACK = '127.0.0.1';

/** Go's `net.IP.IsUnspecified` for the textual forms Kuma compares. */
function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::' || ip === '0:0:0:0:0:0:0:0';
}

/** Kuma's `overlap`: either side is a wildcard, or both are the same address. */
function overlapsLoopback(ip: string): boolean {
  if (!isIpAddress(ip)) return false;
  return isUnspecified(ip) || ip === LOOPBACK || ip === '::ffff:127.0.0.1';
}

/**
 * The admin port must not be a port the proxy or the application already listens on at 127.0.0.1 (Kuma's
 * `UsesInboundInterface` / `UsesOutboundInterface`): an inbound's own port on its address (default the dataplane
 * address), its service port on its service address (default 127.0.0.1), an outbound's port on its address
 * (default 127.0.0.1).
 */
export function validateAdminPort(networking: Networking, out: Violation[]): void {
  const admin = networking.admin;
  if (admin === undefined) return;
  const port = admin.port ?? 0;
  const field = 'networking.admin.port';
  const dpAddress = networking.address ?? '';
  const usedByInbound = (networking.inbound ?? []).some((inbound) => {
    const dataplanePort = inbound.port ?? 0;
    const workloadPort = inbound.servicePort || dataplanePort;
    const dataplaneIp = inbound.address || dpAddress;
    const workloadIp = inbound.serviceAddress || LOOPBACK;
    return (
      (port === dataplanePort && overlapsLoopback(dataplaneIp)) ||
      (port === workloadPort && overlapsLoopback(workloadIp))
    );
  });
  if (usedByInbound) out.push({ field, message: 'must differ from inbound' });
  const usedByOutbound = (networking.outbound ?? []).some(
    (outbound) => port === (outbound.port ?? 0) && overlapsLoopback(outbound.address || LOOPBACK),
  );
  if (usedByOutbound) out.push({ field, message: 'must differ from outbound' });
}

/** Go's `url.ParseRequestURI` for the paths probes use: absolute (`/x`) or with a scheme. */
function isRequestUri(value: string | undefined): boolean {
  if (value === undefined || value === '') return false;
  if (value.startsWith('/')) return !/\s/.test(value);
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value);
}

export function validateProbes(probes: z.output<typeof ProbesSchema> | undefined, out: Violation[]): void {
  if (probes === undefined) return;
  checkPort('probes.port', probes.port, out);
  (probes.endpoints ?? []).forEach((endpoint, i) => {
    const at = `probes.endpoints[${i}]`;
    checkPort(`${at}.inboundPort`, endpoint.inboundPort, out);
    if (!isRequestUri(endpoint.inboundPath))
      out.push({ field: `${at}.inboundPath`, message: 'should be a valid URL Path' });
    if (!isRequestUri(endpoint.path)) out.push({ field: `${at}.path`, message: 'should be a valid URL Path' });
  });
}

function checkProbeDuration(field: string, value: string | undefined, out: Violation[]): void {
  if (value === undefined) return;
  const ms = parseRequestTimeout(value);
  if (ms === null) out.push({ field, message: 'must have a valid value' });
  else if (ms === 0) out.push({ field, message: POSITIVE });
}

/** `serviceProbe` of an inbound (`path` is the inbound's): durations and thresholds must be positive. */
export function validateServiceProbe(
  path: string,
  probe: z.output<typeof ServiceProbeSchema> | undefined,
  out: Violation[],
): void {
  if (probe === undefined) return;
  const at = `${path}.serviceProbe`;
  checkProbeDuration(`${at}.interval`, probe.interval, out);
  checkProbeDuration(`${at}.timeout`, probe.timeout, out);
  if (probe.unhealthyThreshold !== undefined && probe.unhealthyThreshold <= 0)
    out.push({ field: `${at}.unhealthyThreshold`, message: POSITIVE });
  if (probe.healthyThreshold !== undefined && probe.healthyThreshold <= 0)
    out.push({ field: `${at}.healthyThreshold`, message: POSITIVE });
}

export function validateReachableBackends(
  tp: z.output<typeof TransparentProxyingSchema> | undefined,
  out: Violation[],
): void {
  const refs = tp?.reachableBackends?.refs ?? [];
  refs.forEach((ref, i) => {
    const at = `networking.transparentProxing.reachableBackends.refs[${i}]`;
    const name = ref.name ?? '';
    const namespace = ref.namespace ?? '';
    const hasLabels = Object.keys(ref.labels ?? {}).length > 0;
    if (!BACKEND_REF_KINDS.includes(ref.kind ?? '')) {
      out.push({ field: `${at}.kind`, message: `invalid value. Available values are: ${BACKEND_REF_KINDS.join(',')}` });
    }
    if (name !== '') {
      if (name.length > 253) out.push({ field: `${at}.name`, message: 'value length must less or equal 253' });
      else if (!RFC1123_SUBDOMAIN.test(name)) out.push({ field: `${at}.name`, message: NAME_INVALID_CHARACTERS });
    }
    if (name === '' && namespace === '' && !hasLabels)
      out.push({ field: `${at}.name`, message: 'name or labels are required' });
    if (name === '' && namespace !== '')
      out.push({ field: `${at}.name`, message: 'name is required, when namespace is defined' });
    if ((name !== '' || namespace !== '') && hasLabels) {
      out.push({ field: `${at}.labels`, message: 'labels cannot be defined when name is specified' });
    }
  });
}

/** The address rule shared by `networking.address` and a listener's address. */
export function validateAddressAt(
  field: string,
  address: string | undefined,
  isDnsName: (v: string) => boolean,
  out: Violation[],
): void {
  if (address === undefined || address === '') {
    out.push({ field, message: "address can't be empty" });
    return;
  }
  if (address === '0.0.0.0' || address === '::') out.push({ field, message: 'must not be 0.0.0.0 or ::' });
  if (!isIpAddress(address) && !isDnsName(address))
    out.push({ field, message: 'address has to be valid IP address or domain name' });
}

/** Zone-proxy listeners: a type, an address and port, names unique with inbound names, no shared address:port. */
export function validateListeners(networking: Networking, isDnsName: (v: string) => boolean, out: Violation[]): void {
  const names = new Set((networking.inbound ?? []).map((inbound) => inbound.name ?? '').filter((n) => n !== ''));
  const typeAt = new Map<string, string>();
  (networking.listeners ?? []).forEach((listener, i) => {
    const at = `networking.listeners[${i}]`;
    const type = listener.type ?? 'Unspecified';
    if (type === 'Unspecified') out.push({ field: `${at}.type`, message: 'type must be ZoneIngress or ZoneEgress' });
    validateAddressAt(`${at}.address`, listener.address, isDnsName, out);
    checkPort(`${at}.port`, listener.port, out);
    const name = listener.name ?? '';
    if (name !== '') {
      if (names.has(name))
        out.push({
          field: `${at}.name`,
          message: `name ${JSON.stringify(name)} must be unique across inbounds and listeners`,
        });
      names.add(name);
    }
    const key = `${listener.address ?? ''}:${listener.port ?? 0}`;
    const existing = typeAt.get(key);
    if (existing === undefined) typeAt.set(key, type);
    else if (existing === type)
      out.push({ field: at, message: `address:port ${key} is already used by another listener` });
    else out.push({ field: at, message: `address:port ${key} is used by listeners of different types` });
    const collides = (networking.inbound ?? []).some(
      (inbound) => `${inbound.address || networking.address || ''}:${inbound.port ?? 0}` === key,
    );
    if (collides) out.push({ field: at, message: `address:port ${key} collides with an inbound listener` });
  });
}

/** A dataplane's metrics backend: only `prometheus`, whose aggregate names must be unique. */
export function validateMetricsBackend(
  metrics: z.output<typeof DataplaneMetricsSchema> | undefined,
  out: Violation[],
): void {
  if (metrics === undefined) return;
  if (metrics.type !== 'prometheus') {
    out.push({ field: 'metrics.type', message: 'unknown backend type. Available backends: "prometheus"' });
    return;
  }
  const aggregate = metrics.conf?.['aggregate'];
  if (!Array.isArray(aggregate)) return;
  const used = new Set<string>();
  aggregate.forEach((entry: unknown, i) => {
    const name =
      entry !== null && typeof entry === 'object' ? String((entry as Record<string, unknown>)['name'] ?? '') : '';
    if (used.has(name)) {
      out.push({
        field: `metrics.conf.aggregate[${i}].name`,
        message: `duplicate entry: ${name}, values have to be unique`,
      });
    }
    used.add(name);
  });
}
