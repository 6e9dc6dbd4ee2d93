import type { StoredResource } from './resource-store.js';

/** The flat Kuma object: identity, times, labels when any, then the spec fields. */
export function renderResource<S extends object>(resource: StoredResource<S>): Record<string, unknown> {
  return {
    type: resource.type,
    ...(resource.mesh !== '' ? { mesh: resource.mesh } : {}),
    name: resource.name,
    creationTime: resource.creationTime,
    modificationTime: resource.modificationTime,
    ...(Object.keys(resource.labels).length > 0 ? { labels: resource.labels } : {}),
    ...resource.spec,
  };
}
