import { kriOf } from '../resources/kri.js';
import { kindOf } from '../resources/kinds.js';
import type { StoredResource } from './resource-store.js';

/**
 * The resource as Kuma answers it. Most kinds: the flat object (identity, times, labels when any, then the spec's
 * fields). Kuma's new-model kinds: its plugin envelope, `type, mesh, name, creationTime, modificationTime, labels,
 * kri, spec, status` (the status as computed for the read, `{}` when nothing is).
 */
export function renderResource<S extends object>(resource: StoredResource<S>): Record<string, unknown> {
  const head = {
    type: resource.type,
    ...(resource.mesh !== '' ? { mesh: resource.mesh } : {}),
    name: resource.name,
    creationTime: resource.creationTime,
    modificationTime: resource.modificationTime,
    ...(Object.keys(resource.labels).length > 0 ? { labels: resource.labels } : {}),
  };
  const envelope = kindOf(resource.type).envelope;
  if (!envelope) return { ...head, ...resource.spec };
  return {
    ...head,
    kri: kriOf(envelope.shortName, resource.mesh, resource.name, resource.labels),
    spec: resource.spec,
    status: resource.status ?? {},
  };
}
