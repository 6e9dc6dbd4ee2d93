/**
 * The guard of the new identity model and of the cut-over from `Mesh.mtls` (issue 23, rules 1-5), as pure functions
 * over the identities before and after a write and fleet facts; the caller runs them in the write transaction.
 * A refusal names the dataplanes it waits for and says whether waiting helps (`retryable`).
 */
import type { DataplaneSample } from '../store/facts-store.js';

/** An identity as the rules see it. */
export interface IdentityView {
  name: string;
  matchLabels?: Readonly<Record<string, string>>;
  /** Selects nothing (no `selector.dataplane`). */
  selectsNothing: boolean;
  ready: boolean;
  /** Why it is not Ready. */
  reason?: string;
  /** The KRI its certificates' facts carry. */
  kri: string;
  /** Its CA's fingerprint, and the bundle backend (a MeshTrust's CA entry) that trusts it, when one does. */
  ca?: { fingerprint: string; trustedAs?: { name: string; fingerprint: string } };
  /** Why the dataplane with these labels cannot get a SPIFFE ID from it, if it cannot. */
  spiffeProblem?: (labels: Readonly<Record<string, string>>) => string | undefined;
}

/** An active dataplane (unexpired certificate). */
export interface ActiveDataplane {
  name: string;
  labels: Readonly<Record<string, string>>;
  issuedBackend: string | null;
}

export interface IdentityFleet {
  notTrusting(backend: string, fingerprint: string): Promise<DataplaneSample>;
  issuedBy(backend: string): Promise<DataplaneSample>;
}

type IdentityRule = 'select' | 'trust' | 'mtls-off' | 'winner' | 'spiffe-id';

export interface IdentityViolation {
  rule: IdentityRule;
  field: string;
  message: string;
  retryable: boolean;
}

const SAMPLE = 10;
const few = (names: readonly string[]) =>
  names.slice(0, SAMPLE).join(', ') + (names.length > SAMPLE ? ` and ${names.length - SAMPLE} more` : '');
const listed = (sample: DataplaneSample) =>
  sample.names.join(', ') +
  (sample.count > sample.names.length ? ` and ${sample.count - sample.names.length} more` : '');
const count = (n: number) => (n === 1 ? '1 active dataplane' : `${n} active dataplanes`);

/** Kuma's BestMatched over views: most matchLabels, ties to the smallest name. */
export function winnerOf(
  identities: readonly IdentityView[],
  labels: Readonly<Record<string, string>>,
): IdentityView | undefined {
  let best: IdentityView | undefined;
  const size = (i: IdentityView) => Object.keys(i.matchLabels ?? {}).length;
  for (const identity of identities) {
    if (identity.selectsNothing || !Object.entries(identity.matchLabels ?? {}).every(([k, v]) => labels[k] === v))
      continue;
    if (!best || size(identity) > size(best) || (size(identity) === size(best) && identity.name < best.name))
      best = identity;
  }
  return best;
}

/** Who issues a dataplane: a Ready identity (with its CA), the legacy backend, or nothing. */
function effective(winner: IdentityView | undefined, mtlsOn: boolean): string {
  if (winner?.ready) return `identity:${winner.name}:${winner.ca?.fingerprint ?? ''}`;
  return mtlsOn ? 'legacy' : 'none';
}

/**
 * Rules 1 and 4 (and a SPIFFE ID every selected dataplane can have): a create, update or delete of an identity may
 * move an active dataplane only to a Ready identity whose CA every active dataplane already trusts (an acknowledged
 * bundle holding it), or back to `Mesh.mtls`; never to a non-Ready winner, or to nothing.
 */
export async function identityWriteViolations(
  before: readonly IdentityView[],
  after: readonly IdentityView[],
  dataplanes: readonly ActiveDataplane[],
  mtlsOn: boolean,
  fleet: IdentityFleet,
): Promise<IdentityViolation[]> {
  const toIdentity = new Map<string, { identity: IdentityView; names: string[] }>();
  const notReady = new Map<string, { identity: IdentityView; names: string[] }>();
  const orphaned: string[] = [];
  const noSpiffe: string[] = [];
  for (const dp of dataplanes) {
    const will = winnerOf(after, dp.labels);
    const issuerBefore = effective(winnerOf(before, dp.labels), mtlsOn);
    if (issuerBefore === effective(will, mtlsOn)) continue;
    // The dataplane's issuer changes with this write.
    const group = will?.ready ? toIdentity : will ? notReady : undefined;
    if (will && group) {
      const entry = group.get(will.name) ?? { identity: will, names: [] };
      group.set(will.name, entry);
      entry.names.push(dp.name);
      const problem = will.ready ? will.spiffeProblem?.(dp.labels) : undefined;
      if (problem) noSpiffe.push(`${dp.name} (${problem})`);
    } else if (!mtlsOn && issuerBefore !== 'none') {
      orphaned.push(dp.name);
    }
  }
  const violations: IdentityViolation[] = [];
  for (const { identity, names } of notReady.values()) {
    violations.push({
      rule: 'winner',
      field: 'spec.selector',
      retryable: false,
      message: `MeshIdentity "${identity.name}" would win ${count(names.length)} but is not Ready (${identity.reason ?? 'see its status'}), so ${names.length === 1 ? 'it' : 'they'} would lose ${names.length === 1 ? 'its' : 'their'} identity: ${few(names)}. Make it Ready first (it may select nothing meanwhile)`,
    });
  }
  for (const { identity, names } of toIdentity.values()) {
    const trusted = identity.ca?.trustedAs;
    if (!trusted) {
      violations.push({
        rule: 'select',
        field: 'spec.selector',
        retryable: false,
        message: `MeshIdentity "${identity.name}" would issue to ${count(names.length)} (${few(names)}) but no MeshTrust holds its CA, so no peer could verify them: enable meshTrustCreation or add a MeshTrust with its CA first`,
      });
      continue;
    }
    const waiting = await fleet.notTrusting(trusted.name, trusted.fingerprint);
    if (waiting.count > 0) {
      violations.push({
        rule: 'select',
        field: 'spec.selector',
        retryable: true,
        message: `MeshIdentity "${identity.name}" cannot select ${count(names.length)} yet (${few(names)}): ${count(waiting.count)} ${waiting.count === 1 ? 'does' : 'do'} not trust its CA yet (no acknowledged trust bundle with it): ${listed(waiting)}. Create or keep it selecting nothing until they do`,
      });
    }
  }
  if (noSpiffe.length > 0) {
    violations.push({
      rule: 'spiffe-id',
      field: 'spec.spiffeID',
      retryable: false,
      message: `these active dataplanes cannot be given a SPIFFE ID: ${few(noSpiffe)}`,
    });
  }
  if (orphaned.length > 0) {
    violations.push({
      rule: 'winner',
      field: 'spec.selector',
      retryable: false,
      message: `${count(orphaned.length)} would be left with no identity (mTLS is disabled in the mesh and no Ready MeshIdentity would select ${orphaned.length === 1 ? 'it' : 'them'}): ${few(orphaned)}`,
    });
  }
  return violations;
}

/** Rule 5 (Kuma 3.0): the SPIFFE ID templates of an identity never change in place. */
export function spiffeIdChangeViolations(
  before: { trustDomain?: string; path?: string } | undefined,
  after: { trustDomain?: string; path?: string } | undefined,
): IdentityViolation[] {
  const out: IdentityViolation[] = [];
  for (const field of ['trustDomain', 'path'] as const) {
    if ((before?.[field] ?? '') === (after?.[field] ?? '')) continue;
    out.push({
      rule: 'spiffe-id',
      field: `spec.spiffeID.${field}`,
      retryable: false,
      message: `cannot change in place (certificates already issued carry the old SPIFFE ID, and the MeshTrust keeps the old trust domain): create a new MeshIdentity with the new ${field} and move the dataplanes to it`,
    });
  }
  return out;
}

/**
 * Rule 2: CA certificates may leave the mesh's MeshTrusts only once no identity issues from them and no active
 * dataplane holds a certificate one of those identities issued.
 */
export async function trustRemovalViolations(
  removed: readonly string[],
  identities: readonly (IdentityView & { selectsAny: boolean })[],
  fleet: IdentityFleet,
  field: string,
): Promise<IdentityViolation[]> {
  const out: IdentityViolation[] = [];
  for (const identity of identities) {
    if (!identity.ca || !removed.includes(identity.ca.fingerprint)) continue;
    if (identity.selectsAny) {
      out.push({
        rule: 'trust',
        field,
        retryable: false,
        message: `MeshIdentity "${identity.name}" still issues from this CA: move its dataplanes to another identity (or delete it) first`,
      });
    }
    const holders = await fleet.issuedBy(identity.kri);
    if (holders.count > 0) {
      out.push({
        rule: 'trust',
        field,
        retryable: true,
        message: `${count(holders.count)} still ${holders.count === 1 ? 'holds' : 'hold'} a certificate from MeshIdentity "${identity.name}", whose CA this removes: ${listed(holders)}`,
      });
    }
  }
  return out;
}

/**
 * Rule 3: `Mesh.mtls` may be turned off (in a mesh of the new model) only once no active dataplane holds (or its proxy
 * still serves) a certificate from a `Mesh.mtls` backend and every active dataplane has a Ready identity.
 */
export async function mtlsOffViolations(
  identities: readonly IdentityView[],
  dataplanes: readonly ActiveDataplane[],
  legacyBackends: readonly string[],
  fleet: IdentityFleet,
): Promise<IdentityViolation[]> {
  const orphans = dataplanes.filter((dp) => !winnerOf(identities, dp.labels)?.ready);
  const out: IdentityViolation[] = [];
  if (orphans.length > 0) {
    out.push({
      rule: 'mtls-off',
      field: 'mtls',
      retryable: false,
      message: `cannot disable mTLS: ${count(orphans.length)} would be left without a Ready MeshIdentity: ${few(orphans.map((d) => d.name))}. Select them with a Ready identity first`,
    });
  }
  for (const backend of legacyBackends) {
    const holders = await fleet.issuedBy(backend);
    if (holders.count === 0) continue;
    const stale = holders.notReloaded?.count ?? 0;
    out.push({
      rule: 'mtls-off',
      field: 'mtls',
      retryable: orphans.length === 0,
      message: `cannot disable mTLS yet: ${count(holders.count)} still ${holders.count === 1 ? 'holds' : 'hold'} a certificate from the Mesh.mtls backend "${backend}"${stale > 0 ? ` (${stale} of them re-issued, but the proxy still serves the old one)` : ''}: ${listed(holders)}`,
    });
  }
  return out;
}
