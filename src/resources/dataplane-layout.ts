import { PROTOCOL_TAG, SERVICE_TAG, type Dataplane } from './dataplane.js';

/** Kuma's Kuma Resource Identifier: `kri_<short name>_<mesh>_<zone>_<namespace>_<name>_<section>`. */
function kri(shortName: string, mesh: string, zone: string, namespace: string, name: string, section = ''): string {
  return `kri_${shortName}_${mesh}_${zone}_${namespace}_${name}_${section}`;
}

interface DataplaneLayout {
  kri: string;
  labels: Record<string, string>;
  inbounds: { kri: string; port: number; protocol: string; proxyResourceName: string }[];
  outbounds: { kri: string; port: number; protocol: string; proxyResourceName: string }[];
  listeners: { kri: string; type: 'ZoneIngress' | 'ZoneEgress'; port: number; proxyResourceName: string }[];
}

const byKri = (a: { kri: string }, b: { kri: string }) => (a.kri < b.kri ? -1 : a.kri > b.kri ? 1 : 0);

/**
 * Kuma's `_layout` of a Dataplane, from the resource alone. Inbounds and zone listeners as Kuma names them (section:
 * the name, else the port; protocol: the field, else the `kuma.io/protocol` tag, else tcp). Outbounds: meshcp has
 * no MeshServices, so each outbound names the MeshService KRI of what it reaches — its `backendRef`, or its
 * `kuma.io/service` (older outbounds), in the dataplane's zone — with the service's port as the section.
 */
export function dataplaneLayout(
  mesh: string,
  name: string,
  labels: Record<string, string>,
  dp: Pick<Dataplane, 'networking'>,
): DataplaneLayout {
  const zone = labels['kuma.io/zone'] ?? '';
  const namespace = labels['k8s.kuma.io/namespace'] ?? '';
  const displayName = labels['kuma.io/display-name'] ?? name;
  const self = (section = '') => kri('dp', mesh, zone, namespace, displayName, section);
  const networking = dp.networking ?? {};
  const inbounds = (networking.inbound ?? []).map((inbound) => {
    const section = inbound.name || String(inbound.port ?? 0);
    return {
      kri: self(section),
      port: inbound.port ?? 0,
      protocol: inbound.protocol || inbound.tags?.[PROTOCOL_TAG] || 'tcp',
      proxyResourceName: `self_inbound_dp_${section}`,
    };
  });
  const listeners: DataplaneLayout['listeners'] = [];
  for (const listener of networking.listeners ?? []) {
    if (listener.type !== 'ZoneIngress' && listener.type !== 'ZoneEgress') continue;
    const section = listener.name || String(listener.port ?? 0);
    const prefix = listener.type === 'ZoneIngress' ? 'self_zoneingress_dp_' : 'self_zoneegress_dp_';
    listeners.push({
      kri: self(section),
      type: listener.type,
      port: listener.port ?? 0,
      proxyResourceName: prefix + section,
    });
  }
  const outbounds: DataplaneLayout['outbounds'] = [];
  for (const outbound of networking.outbound ?? []) {
    const ref = outbound.backendRef;
    const target = ref?.name || outbound.tags?.[SERVICE_TAG] || outbound.service;
    if (!target) continue;
    const port = ref?.port ?? outbound.port ?? 0;
    const id = kri('msvc', mesh, zone, namespace, target, String(port));
    outbounds.push({
      kri: id,
      port: outbound.port ?? port,
      protocol: outbound.tags?.[PROTOCOL_TAG] || 'tcp',
      proxyResourceName: id,
    });
  }
  return { kri: self(), labels, inbounds, outbounds: outbounds.sort(byKri), listeners };
}
