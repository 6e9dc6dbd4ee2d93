import { ENV_LABEL, MESH_LABEL, ORIGIN_LABEL, ZONE_LABEL, DISPLAY_NAME_LABEL, type Labels } from './labels.js';
import { kindOf, type ResourceType } from './kinds.js';
import { mapKey, type Violation } from './violations.js';

/**
 * meshcp answers as a standalone (non-federated) Kuma zone control plane on Universal, whose zone is named
 * `default`: that is the zone its computed labels and the `kuma.io/zone` check name.
 */
export const ZONE_NAME = 'default';

/**
 * The labels Kuma 2.14 stores with a resource written through its API on a Universal zone CP: the caller's labels,
 * plus (where the caller did not set them) `kuma.io/mesh` on mesh-scoped kinds, and on the kinds a zone may create
 * (labels 'computed' in the kinds table; not Mesh, which belongs to the global CP) `kuma.io/origin: zone` and, unless
 * the origin is `global`, `kuma.io/zone` and `kuma.io/env: universal`; then the labels a kind computes from its spec
 * (a Dataplane's proxy type). They show in GET and list answers and `filter[labels...]` matches them.
 */
export function computeLabels(type: ResourceType, mesh: string, spec: unknown, given: Labels | undefined): Labels {
  const kind = kindOf(type);
  const labels: Labels = { ...(given ?? {}) };
  const setIfAbsent = (key: string, value: string) => {
    if (!(key in labels)) labels[key] = value;
  };
  if (kind.scope === 'mesh') setIfAbsent(MESH_LABEL, mesh);
  if (kind.labels === 'computed') {
    setIfAbsent(ORIGIN_LABEL, 'zone');
    if (labels[ORIGIN_LABEL] !== 'global') {
      setIfAbsent(ZONE_LABEL, ZONE_NAME);
      setIfAbsent(ENV_LABEL, 'universal');
    }
  }
  kind.specLabels?.(spec, labels);
  // Sorted by key, as Kuma's JSON (a Go map) shows them.
  return Object.fromEntries(
    Object.keys(labels)
      .sort()
      .map((key) => [key, labels[key]!]),
  );
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
  type: ResourceType,
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
