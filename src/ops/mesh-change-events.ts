import type { Mesh } from '../resources/mesh.js';

/** One line of the operator's event log: a message and the fields that say what it was about. */
export interface OpsEvent {
  msg: string;
  fields: Record<string, unknown>;
}

/**
 * What a successful mesh write meant, in the words of the CA rotation guide: adding a backend is step 1 (trust it),
 * enabling it step 2 (issue from it), removing the old one step 3. Pure: the before/after specs in, lines out.
 */
export function meshChangeEvents(mesh: string, before: Mesh | undefined, after: Mesh | undefined): OpsEvent[] {
  if (before === undefined && after === undefined) return [];
  if (after === undefined) return [{ msg: `mesh ${mesh} deleted`, fields: { event: 'mesh-deleted', mesh } }];
  const events: OpsEvent[] = [];
  if (before === undefined) events.push({ msg: `mesh ${mesh} created`, fields: { event: 'mesh-created', mesh } });
  const oldNames = new Set((before?.mtls?.backends ?? []).map((b) => b.name));
  const newBackends = after.mtls?.backends ?? [];
  const newNames = new Set(newBackends.map((b) => b.name));
  const oldEnabled = before?.mtls?.enabledBackend ?? '';
  const newEnabled = after.mtls?.enabledBackend ?? '';
  for (const backend of newBackends) {
    if (oldNames.has(backend.name) || backend.name === newEnabled) continue;
    events.push({
      msg: `rotation step 1: backend ${backend.name} added to mesh ${mesh} (dataplanes start trusting it)`,
      fields: { event: 'backend-added', mesh, backend: backend.name, type: backend.type },
    });
  }
  if (newEnabled !== oldEnabled) {
    if (newEnabled === '') {
      events.push({
        msg: `mTLS disabled on mesh ${mesh}`,
        fields: { event: 'mtls-disabled', mesh, previousBackend: oldEnabled },
      });
    } else if (oldEnabled === '') {
      events.push({
        msg: `mTLS enabled on mesh ${mesh} with backend ${newEnabled}`,
        fields: { event: 'mtls-enabled', mesh, backend: newEnabled },
      });
    } else {
      events.push({
        msg: `rotation step 2: backend ${newEnabled} enabled on mesh ${mesh} (dataplanes re-issue from it)`,
        fields: { event: 'backend-enabled', mesh, backend: newEnabled, previousBackend: oldEnabled },
      });
    }
  }
  for (const name of oldNames) {
    if (newNames.has(name)) continue;
    events.push({
      msg: `rotation step 3: backend ${name} removed from mesh ${mesh}`,
      fields: { event: 'backend-removed', mesh, backend: name },
    });
  }
  return events;
}

/** The step a refused mesh write attempted, named as the rotation guide does. */
export function attemptedStep(before: Mesh | undefined, requested: unknown): string {
  const spec = (requested ?? {}) as Mesh;
  const oldEnabled = before?.mtls?.enabledBackend ?? '';
  const newEnabled = spec.mtls?.enabledBackend ?? '';
  const oldNames = new Set((before?.mtls?.backends ?? []).map((b) => b.name));
  const newNames = new Set((spec.mtls?.backends ?? []).map((b) => b.name));
  if ([...oldNames].some((n) => !newNames.has(n))) return 'remove a backend';
  if (newEnabled !== oldEnabled) return `enable ${newEnabled || '(none)'}`;
  return 'update mesh';
}
