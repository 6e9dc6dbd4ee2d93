/**
 * The CA rotation rules of api.md, as pure functions over the stored mesh, the requested mesh and fleet facts.
 * They never touch the store; the caller runs them inside the write transaction with fleet queries bound to it.
 */
import type { DataplaneSample } from '../store/facts-store.js';

export interface BackendView {
  name: string;
  type: string;
  /** Canonical JSON of the backend's conf: equal strings mean the same CA material source. */
  confKey: string;
  /** SHA-256 of the backend's root material, when it can be loaded. */
  fingerprint?: string;
  /** For builtin backends: the CA already exists in the store and will never be regenerated. */
  materialExists: boolean;
}

export interface MtlsView {
  enabledBackend: string;
  backends: BackendView[];
}

/** Fleet queries over active dataplanes (unexpired certificate) at the time of the write. */
export interface FleetFacts {
  notTrusting(backend: string, fingerprint: string): DataplaneSample | Promise<DataplaneSample>;
  issuedBy(backend: string): DataplaneSample | Promise<DataplaneSample>;
  /** Every active dataplane (holding an unexpired certificate from any backend). */
  active(): DataplaneSample | Promise<DataplaneSample>;
}

type RuleName = 'enable' | 'remove' | 'replace' | 'disable';

export interface RotationViolation {
  rule: RuleName;
  field: string;
  message: string;
  /** Waiting (for dataplanes to acknowledge or re-issue) can make the step pass. */
  retryable: boolean;
}

function listNames(sample: DataplaneSample): string {
  const more = sample.count - sample.names.length;
  return sample.names.join(', ') + (more > 0 ? ` and ${more} more` : '');
}

function dataplanes(count: number): string {
  return count === 1 ? '1 active dataplane' : `${count} active dataplanes`;
}

export { canonicalConfKey } from '../resources/ca-conf.js';

/** Rule 3: CA material is never replaced under a running name. */
function replacedInPlace(stored: MtlsView, next: MtlsView, mtlsOn: boolean): RotationViolation[] {
  const violations: RotationViolation[] = [];
  next.backends.forEach((backend, i) => {
    const before = stored.backends.find((b) => b.name === backend.name);
    if (!before || before.confKey === backend.confKey) return;
    const builtinCaExists = before.type === 'builtin' && backend.type === 'builtin' && before.materialExists;
    if (!mtlsOn && !builtinCaExists) return;
    violations.push({
      rule: 'replace',
      field: `mtls.backends[${i}]`,
      retryable: false,
      message: builtinCaExists
        ? `the CA of builtin backend "${backend.name}" already exists and is never regenerated: to rotate it, add a backend under a new name, enable it, then remove "${backend.name}"`
        : `backend "${backend.name}" cannot change its type or conf while mTLS is enabled: to rotate CA material, add a backend under a new name, enable it, then remove "${backend.name}"`,
    });
  });
  return violations;
}

/** Rule 1: only a backend that was added earlier, and that every active dataplane trusts, can be enabled. */
async function enableViolations(stored: MtlsView, next: MtlsView, fleet: FleetFacts): Promise<RotationViolation[]> {
  const target = next.backends.find((b) => b.name === next.enabledBackend)!;
  const before = stored.backends.find((b) => b.name === target.name);
  if (!before || before.confKey !== target.confKey) {
    return [
      {
        rule: 'enable',
        field: 'mtls.enabledBackend',
        retryable: false,
        message: `backend "${target.name}" must be added to the mesh in an earlier update (with the same type and conf) before it is enabled, so that every dataplane trusts it first`,
      },
    ];
  }
  if (!target.fingerprint) return [];
  const waiting = await fleet.notTrusting(target.name, target.fingerprint);
  if (waiting.count === 0) return [];
  return [
    {
      rule: 'enable',
      field: 'mtls.enabledBackend',
      retryable: true,
      message: `cannot enable backend "${target.name}" yet: ${dataplanes(waiting.count)} ${waiting.count === 1 ? 'does' : 'do'} not trust it yet (no acknowledged trust bundle with its root): ${listNames(waiting)}`,
    },
  ];
}

/**
 * Why `backend` cannot go yet, telling apart the dataplanes whose newest certificate it issued (they must re-issue)
 * from those already issued one by another backend whose proxy still serves the old one (they must reload).
 */
function stillHeldMessage(backend: string, holders: DataplaneSample): string {
  const stale = holders.notReloaded ?? { count: 0, dataplanes: [] };
  const parts: string[] = [];
  const issued = holders.count - stale.count;
  if (issued > 0) {
    const staleNames = new Set(stale.dataplanes.map((d) => d.name));
    const names = holders.names.filter((n) => !staleNames.has(n));
    const more = issued - names.length;
    const list = names.join(', ') + (more > 0 ? `${names.length > 0 ? ' and ' : ''}${more} more` : '');
    parts.push(`${dataplanes(issued)} still ${issued === 1 ? 'holds' : 'hold'} a certificate issued by it: ${list}`);
  }
  if (stale.count > 0) {
    const more = stale.count - stale.dataplanes.length;
    const list =
      stale.dataplanes.map((d) => `${d.name} (issued by "${d.issuedBackend}")`).join(', ') +
      (more > 0 ? ` and ${more} more` : '');
    parts.push(
      `${dataplanes(stale.count)} ${stale.count === 1 ? 'was' : 'were'} issued a certificate by another backend but ${stale.count === 1 ? 'its proxy still serves' : 'their proxies still serve'} the one from "${backend}" (not reloaded yet): ${list}`,
    );
  }
  return `cannot remove backend "${backend}" yet: ${parts.join('; ')}`;
}

/** Rule 2: a backend can go once no active dataplane holds a certificate it issued. */
async function removeViolations(stored: MtlsView, next: MtlsView, fleet: FleetFacts): Promise<RotationViolation[]> {
  const violations: RotationViolation[] = [];
  for (const backend of stored.backends) {
    if (next.backends.some((b) => b.name === backend.name)) continue;
    const holders = await fleet.issuedBy(backend.name);
    if (holders.count === 0) continue;
    if (backend.name === stored.enabledBackend) {
      // Its holders can only move to the new backend once that one is enabled, so waiting never helps here:
      // the step that enables the new backend on its own was skipped.
      violations.push({
        rule: 'remove',
        field: 'mtls.backends',
        retryable: false,
        message: `cannot remove backend "${backend.name}" in the same update that enables "${next.enabledBackend}": ${dataplanes(holders.count)} ${holders.count === 1 ? 'holds' : 'hold'} a certificate issued by "${backend.name}" and cannot get one from "${next.enabledBackend}" before it is enabled (${listNames(holders)}). Enable "${next.enabledBackend}" in its own update first, then remove "${backend.name}" once they have re-issued`,
      });
      continue;
    }
    violations.push({
      rule: 'remove',
      field: 'mtls.backends',
      retryable: true,
      message: stillHeldMessage(backend.name, holders),
    });
  }
  return violations;
}

/**
 * Rule 6 (beyond Kuma, which accepts it): turning mTLS off while active dataplanes hold certificates. Every one of
 * them would get a 409 "mTLS is disabled" on its next certificate request, and its peers would stop trusting it as
 * soon as its certificate expires. Waiting (for them to expire) takes the certificates' lifetime, so no Retry-After.
 */
async function disableViolations(fleet: FleetFacts): Promise<RotationViolation[]> {
  const holders = await fleet.active();
  if (holders.count === 0) return [];
  return [
    {
      rule: 'disable',
      field: 'mtls',
      retryable: false,
      message: `cannot turn mTLS off: ${dataplanes(holders.count)} ${holders.count === 1 ? 'holds a certificate' : 'hold certificates'} and would be refused a new one (${listNames(holders)}); stop them and delete their Dataplanes first, or send ?force=true to turn it off anyway`,
    },
  ];
}

/** All rotation violations of a mesh update; empty means the step is safe. Creating a mesh is never a rotation. */
export async function evaluateRotation(
  stored: MtlsView | undefined,
  next: MtlsView,
  fleet: FleetFacts,
): Promise<RotationViolation[]> {
  if (!stored) return [];
  const onBefore = stored.enabledBackend !== '';
  const onAfter = next.enabledBackend !== '';
  const violations = replacedInPlace(stored, next, onBefore && onAfter);
  // Rule 5: turning mTLS on is not a rotation step; turning it off is refused under a live fleet (rule 6).
  if (onBefore && !onAfter) violations.push(...(await disableViolations(fleet)));
  if (onBefore && onAfter) {
    if (stored.enabledBackend !== next.enabledBackend)
      violations.push(...(await enableViolations(stored, next, fleet)));
    violations.push(...(await removeViolations(stored, next, fleet)));
  }
  return violations;
}
