import {
  DISPLAY_NAME_LABEL,
  ENV_LABEL,
  MESH_LABEL,
  ORIGIN_LABEL,
  PROXY_TYPE_LABEL,
  ZONE_LABEL,
  type Labels,
} from './labels.js';
import { dataplaneProxyType, type Dataplane } from './dataplane.js';
import { mapKey, type Violation } from './violations.js';

/**
 * meshcp answers as a standalone (non-federated) Kuma zone control plane on Universal, whose zone is named
 * `default`: that is the zone its computed labels and the `kuma.io/zone` check name.
 */
export const ZONE_NAME = 'default';

export const LISTENER_ZONE_INGRESS_LABEL = 'kuma.io/listener-zoneingress';
export const LISTENER_ZONE_EGRESS_LABEL = 'kuma.io/listener-zoneegress';

type LabelledType = 'Mesh' | 'Secret' | 'GlobalSecret' | 'Dataplane';

interface DataplaneShape {
  networking?: { gateway?: { type?: string }; listeners?: { type?: string }[] };
}

/**
 * The labels Kuma 2.14 stores with a resource written through its API on a Universal zone CP: the caller's labels,
 * plus (where the caller did not set them) `kuma.io/mesh` on mesh-scoped types, and on the types a zone may create
 * (Dataplane, Secret, GlobalSecret; not Mesh, which belongs to the global CP) `kuma.io/origin: zone` and, unless
 * the origin is `global`, `kuma.io/zone` and `kuma.io/env: universal`. Dataplanes always get
 * `kuma.io/proxy-type` (`gateway` for builtin gateways, else `sidecar`) and a `kuma.io/listener-zone*` label
 * per zone ingress/egress listener. They show in GET and list answers and `filter[labels...]` matches them.
 */
export function computeLabels(type: LabelledType, mesh: string, spec: unknown, given: Labels | undefined): Labels {
  const labels: Labels = { ...(given ?? {}) };
  const setIfAbsent = (key: string, value: string) => {
    if (!(key in labels)) labels[key] = value;
  };
  if (type === 'Secret' || type === 'Dataplane') setIfAbsent(MESH_LABEL, mesh);
  if (type !== 'Mesh') {
    setIfAbsent(ORIGIN_LABEL, 'zone');
    if (labels[ORIGIN_LABEL] !== 'global') {
      setIfAbsent(ZONE_LABEL, ZONE_NAME);
      setIfAbsent(ENV_LABEL, 'universal');
    }
  }
  if (type === 'Dataplane') {
    const networking = (spec as DataplaneShape).networking ?? {};
    labels[PROXY_TYPE_LABEL] = dataplaneProxyType({ networking } as Pick<Dataplane, 'networking'>);
    const listenerTypes = new Set((networking.listeners ?? []).map((l) => l.type));
    if (listenerTypes.has('ZoneIngress')) labels[LISTENER_ZONE_INGRESS_LABEL] = 'enabled';
    else delete labels[LISTENER_ZONE_INGRESS_LABEL];
    if (listenerTypes.has('ZoneEgress')) labels[LISTENER_ZONE_EGRESS_LABEL] = 'enabled';
    else delete labels[LISTENER_ZONE_EGRESS_LABEL];
  }
  // Sorted by key, as Kuma's JSON (a Go map) shows them.
  return Object.fromEntries(Object.keys(labels).sort().map((key) => [key, labels[key]!]));
}

const IMMUTABLE_LABELS = [ORIGIN_LABEL, ZONE_LABEL, DISPLAY_NAME_LABEL];

/** What a write stores as labels, and (as Kuma) the violations when it would change an immutable computed label. */
export interface LabelsForWrite {
  labels: Labels;
  violations: Violation[];
}

/**
 * The labels to store for a PUT. On update, as Kuma, the origin, zone and display-name labels computed for the
 * stored resource and for the new body must agree: they may be neither changed nor removed.
 */
export function labelsForWrite(
  type: LabelledType,
  mesh: string,
  spec: unknown,
  given: Labels | undefined,
  current?: { spec: unknown; labels: Labels },
): LabelsForWrite {
  const labels = computeLabels(type, mesh, spec, given);
  const violations: Violation[] = [];
  if (current) {
    const before = computeLabels(type, mesh, current.spec, current.labels);
    for (const key of IMMUTABLE_LABELS) {
      if (!(key in before)) continue;
      const field = `labels${mapKey(key)}`;
      if (!(key in labels)) {
        violations.push({ field, message: `is immutable, cannot be removed (was ${JSON.stringify(before[key])})` });
      } else if (before[key] !== labels[key]) {
        violations.push({
          field,
          message: `is immutable, cannot be changed from ${JSON.stringify(before[key])} to ${JSON.stringify(labels[key])}`,
        });
      }
    }
  }
  return { labels, violations };
}

/** Kuma's title for a refused update (the immutable labels). */
export const UPDATE_REFUSED_TITLE = 'Could not update a resource';
