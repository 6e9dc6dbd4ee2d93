import { CaMaterialError } from '../ca/backend.js';
import type { CaManager } from '../ca/ca-manager.js';
import type { RotationStatus } from '../contract/rotation.js';
import type { Mesh } from '../resources/mesh.js';
import type { DataplaneSample, FactsStore, FleetSummary } from '../store/facts-store.js';

export interface RotationStep {
  action: 'enable' | 'remove' | 'none';
  backend?: string;
  ready: boolean;
  description: string;
  waitingFor?: DataplaneSample;
}

/**
 * Where a CA rotation stands and what the next step waits for. It uses the same fleet queries as the rules the PUT
 * runs, so `ready: true` means the PUT of that step passes now.
 */
export async function rotationStatus(
  meshName: string,
  mesh: Mesh,
  ca: CaManager,
  facts: FactsStore,
  now: number,
): Promise<RotationStatus> {
  const enabledBackend = mesh.mtls?.enabledBackend ?? '';
  const backends = mesh.mtls?.backends ?? [];
  const fleet = await facts.fleetSummary(meshName, now);
  const activeDataplanes = fleet.active;
  let state;
  let loadError: string | undefined;
  try {
    state = await ca.stateOf(meshName);
  } catch (err) {
    if (!(err instanceof CaMaterialError)) throw err;
    loadError = err.message;
  }
  const materials = new Map(state?.materials.map((m) => [m.backend, m]));

  const backendStatus = backends.map((backend) => {
    const material = materials.get(backend.name);
    return {
      name: backend.name,
      type: backend.type,
      enabled: backend.name === enabledBackend,
      rootFingerprint: material?.rootSha256 ?? null,
      notAfter: material ? material.notAfter.toISOString() : null,
      dataplanesIssued: fleet.issuedBy(backend.name),
      dataplanesTrusting: material ? fleet.trusting(backend.name, material.fingerprint) : 0,
      ...(backend.type === 'vault' ? { vault: vaultStatus(meshName, backend.name, ca) } : {}),
    };
  });

  return {
    mesh: meshName,
    mtlsEnabled: enabledBackend !== '',
    enabledBackend: enabledBackend || null,
    bundleVersion: state?.bundleVersion ?? null,
    activeDataplanes,
    backends: backendStatus,
    nextStep: await nextStep(
      meshName,
      enabledBackend,
      backends.map((b) => b.name),
      materials,
      facts,
      fleet,
      now,
    ),
    ...(loadError ? { error: loadError } : {}),
  };
}

const plural = (count: number) => (count === 1 ? '1 active dataplane' : `${count} active dataplanes`);

async function nextStep(
  mesh: string,
  enabledBackend: string,
  names: string[],
  materials: Map<string, { fingerprint: string }>,
  facts: FactsStore,
  fleet: FleetSummary,
  now: number,
): Promise<RotationStep> {
  // Counts come from the summary; the names of the first few waited-for dataplanes only when there are any.
  const none: DataplaneSample = { count: 0, names: [] };
  const others = names.filter((n) => n !== enabledBackend);
  if (enabledBackend === '' || others.length === 0) {
    return { action: 'none', ready: true, description: 'no CA rotation in progress' };
  }
  // A backend that was enabled before is on its way out; a never-enabled one is on its way in.
  let old: string | undefined;
  for (const name of others) {
    if (await facts.wasEverEnabled(mesh, name)) {
      old = name;
      break;
    }
  }
  if (old) {
    const { notReloaded, ...waitingFor } =
      fleet.issuedBy(old) === 0 ? none : await facts.activeIssuedBy(mesh, old, now, fleet);
    // Dataplanes already issued a newer certificate wait for their proxy's reload, not for a re-issue.
    const reloads = notReloaded
      ? `, ${notReloaded.count} of them only to reload their proxy (a newer certificate is issued)`
      : '';
    return {
      action: 'remove',
      backend: old,
      ready: waitingFor.count === 0,
      description:
        waitingFor.count === 0
          ? `no active dataplane holds a certificate from "${old}": it can be removed`
          : `waiting for ${plural(waitingFor.count)} to re-issue their "${old}" certificates${reloads}`,
      waitingFor,
    };
  }
  const target = others[0];
  const material = materials.get(target);
  const waitingFor =
    !material || fleet.active - fleet.trusting(target, material.fingerprint) === 0
      ? none
      : await facts.activeNotTrusting(mesh, target, material.fingerprint, now, fleet);
  return {
    action: 'enable',
    backend: target,
    ready: material !== undefined && waitingFor.count === 0,
    description:
      waitingFor.count === 0
        ? `every active dataplane trusts "${target}": it can be enabled`
        : `waiting for ${plural(waitingFor.count)} to acknowledge a trust bundle with "${target}"`,
    waitingFor,
  };
}

/** A vault backend's last contact: bundles never need Vault (its chain is cached), issuance does. */
function vaultStatus(mesh: string, backend: string, ca: CaManager) {
  const contact = ca.vaultHealth.lastContact(mesh, backend);
  const description = !contact
    ? 'not contacted since the control plane started; its CA chain is cached'
    : !contact.reachable
      ? 'Vault is unreachable: trust bundles are served from the cached CA chain, certificate requests answer 503 with Retry-After'
      : contact.error
        ? 'Vault answers but refused the last call: certificate requests answer 502'
        : 'Vault issued the last certificate';
  return {
    reachable: contact ? contact.reachable : null,
    lastContactAt: contact?.at ?? null,
    ...(contact?.error ? { lastError: contact.error } : {}),
    description,
  };
}
