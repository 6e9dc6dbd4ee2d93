import { createHash } from 'node:crypto';
import type { Mesh } from '../../resources/mesh.js';
import { rotationStatus } from '../../rotation/rotation-status.js';
import type { Services } from '../../services.js';

/** Bounds of one snapshot: the page shows the first meshes and dataplanes by name, with the true totals. */
export const GUI_MAX_MESHES = 50;
export const GUI_MAX_DATAPLANES = 200;

export interface GuiDataplaneRow {
  name: string;
  issuedBackend: string | null;
  trustedBackends: string[];
  certNotAfter: string | null;
  lastSeen: string | null;
  online: boolean;
}

/**
 * What the /gui page shows, read from the same queries as GET /meshes/{mesh}/ca-rotation plus one bounded page of
 * dataplane facts per mesh. `version` is a hash of the content: the page long-polls until it changes.
 */
export function guiSnapshot(services: Services, now: number) {
  const rows = services.facts.db.prepare(
    `SELECT name, issued_backend, acked_bundle_version, cert_not_after, last_contact FROM dataplane_facts
     WHERE mesh = ? ORDER BY name LIMIT ?`,
  );
  const onlineSince = now - services.config.dpOnlineWindowMs;
  const page = services.store.list<Mesh>('Mesh', { offset: 0, size: GUI_MAX_MESHES });
  const meshes = page.items.map((mesh) => {
    const bundles = new Map<string, string[]>();
    const trustedIn = (version: string | null) => {
      if (!version) return [];
      if (!bundles.has(version)) bundles.set(version, (services.facts.bundleBackends(mesh.name, version) ?? []).map((b) => b.name));
      return bundles.get(version)!;
    };
    type Row = { name: string; issued_backend: string | null; acked_bundle_version: string | null; cert_not_after: number | null; last_contact: number | null };
    const dataplanes: GuiDataplaneRow[] = (rows.all(mesh.name, GUI_MAX_DATAPLANES) as Row[]).map((r) => ({
      name: r.name,
      issuedBackend: r.issued_backend,
      trustedBackends: trustedIn(r.acked_bundle_version),
      certNotAfter: r.cert_not_after ? new Date(r.cert_not_after).toISOString() : null,
      lastSeen: r.last_contact ? new Date(r.last_contact).toISOString() : null,
      online: r.last_contact !== null && r.last_contact >= onlineSince,
    }));
    return {
      name: mesh.name,
      rotation: rotationStatus(mesh.name, mesh.spec, services.ca, services.facts, now),
      dataplanesTotal: services.store.count('Dataplane', mesh.name),
      dataplanes,
    };
  });
  const content = { meshesTotal: page.total, meshes };
  // lastSeen moves on every poll of every agent; the version ignores it so the page is woken by real progress only.
  const version = createHash('sha256')
    .update(JSON.stringify(content, (key, value) => (key === 'lastSeen' ? undefined : value)))
    .digest('base64url')
    .slice(0, 16);
  return { version, ...content };
}
