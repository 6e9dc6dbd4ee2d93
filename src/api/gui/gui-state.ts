import { createHash } from 'node:crypto';
import type { Mesh } from '../../resources/mesh.js';
import { rotationStatus } from '../../rotation/rotation-status.js';
import { identityStatus } from '../../identity/identity-status.js';
import type { Services } from '../../services.js';

/** Bounds of one snapshot: the page shows the first meshes and dataplanes by name, with the true totals. */
const GUI_MAX_MESHES = 50;
const GUI_MAX_DATAPLANES = 200;

interface GuiDataplaneRow {
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
export async function guiSnapshot(services: Services, now: number) {
  const onlineSince = now - services.config.dpOnlineWindowMs;
  const page = await services.store.resources.list<Mesh>('Mesh', { offset: 0, size: GUI_MAX_MESHES });
  const meshes = [];
  for (const mesh of page.items) {
    const bundles = new Map<string, string[]>();
    const trustedIn = async (version: string | null) => {
      if (!version) return [];
      if (!bundles.has(version))
        bundles.set(
          version,
          ((await services.facts.bundleBackends(mesh.name, version)) ?? []).map((b) => b.name),
        );
      return bundles.get(version)!;
    };
    const dataplanes: GuiDataplaneRow[] = [];
    for (const r of await services.facts.firstByName(mesh.name, GUI_MAX_DATAPLANES)) {
      dataplanes.push({
        name: r.name,
        issuedBackend: r.issuedBackend,
        trustedBackends: await trustedIn(r.ackedBundleVersion),
        certNotAfter: r.certNotAfter ? new Date(r.certNotAfter).toISOString() : null,
        lastSeen: r.lastContact ? new Date(r.lastContact).toISOString() : null,
        online: r.lastContact !== null && r.lastContact >= onlineSince,
      });
    }
    meshes.push({
      name: mesh.name,
      rotation: await rotationStatus(mesh.name, mesh.spec, services.ca, services.facts, now),
      // The new identity model (meshes with MeshIdentities or MeshTrusts): null otherwise.
      identity: (await identityStatus(services.store, mesh.name, mesh.spec, now, services.fileSources)) ?? null,
      dataplanesTotal: await services.store.resources.count('Dataplane', mesh.name),
      dataplanes,
    });
  }
  const content = { meshesTotal: page.total, meshes };
  // lastSeen moves on every poll of every agent; the version ignores it so the page is woken by real progress only.
  const version = createHash('sha256')
    .update(JSON.stringify(content, (key, value) => (key === 'lastSeen' ? undefined : value)))
    .digest('base64url')
    .slice(0, 16);
  return { version, ...content };
}
