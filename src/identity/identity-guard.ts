import { trustCaBackend, trustEntry, type MeshTrustEntry } from '../ca/ca-manager.js';
import { conflict, Titles } from '../domain/errors.js';
import { ZONE_NAME } from '../resources/computed-labels.js';
import type { MeshIdentitySpec } from '../resources/mesh-identity.js';
import type { MeshTrustSpec } from '../resources/mesh-trust.js';
import type { ActiveDataplane, IdentityFleet, IdentityView, IdentityViolation } from '../rotation/identity-rules.js';
import type { StoreTx } from '../store/store.js';
import { evaluateIdentity, type IdentityState, type SourceReader, type StoredIdentity } from './evaluate.js';
import { sourceReaderFor, toIdentity } from './identity-reads.js';
import type { FileSourcePolicy } from '../ca/backend.js';
import { identityKri } from './identity-service.js';
import { spiffeIdOf } from './spiffe-id.js';

/** What the guard reads: a transaction's view, or the store's (the status page). */
export type StoreReads = Pick<StoreTx, 'resources' | 'facts'>;

/** Seconds a refusal that waiting can lift suggests before trying again (as the rotation rules). */
const GUARD_RETRY_AFTER_SECONDS = 5;

const ALL = { offset: 0, size: 1_000_000 };

/** The mesh's identities and trusts as a transaction sees them. */
export async function readForGuard(tx: StoreReads, mesh: string) {
  const identities = (await tx.resources.list<MeshIdentitySpec>('MeshIdentity', { mesh, ...ALL })).items.map(
    toIdentity,
  );
  const trusts = (await tx.resources.list<MeshTrustSpec>('MeshTrust', { mesh, ...ALL })).items.map((t) => ({
    name: t.name,
    spec: t.spec,
  }));
  return { identities, trusts };
}

/** The views the rules read: each identity evaluated against `trusts`, with the bundle backend that trusts its CA. */
export function viewsOf(
  identities: readonly StoredIdentity[],
  trusts: readonly { name: string; spec: MeshTrustSpec }[],
  read: SourceReader,
  now: number,
): (IdentityView & { state: IdentityState; selectsAny?: boolean })[] {
  const entries = trusts.flatMap((t) => trustEntry(t.name, t.spec) ?? []).sort((a, b) => (a.name < b.name ? -1 : 1));
  return identities.map((identity) => {
    const state = evaluateIdentity(identity, read, trusts, ZONE_NAME, now);
    const dataplane = identity.spec.selector?.dataplane;
    const fingerprint = state.ca?.fingerprint;
    const holder: MeshTrustEntry | undefined = fingerprint
      ? entries.find((e) => e.caFingerprints.includes(fingerprint))
      : undefined;
    return {
      name: identity.name,
      matchLabels: dataplane?.matchLabels ?? {},
      selectsNothing: !dataplane,
      ready: state.ready,
      ...(state.reason ? { reason: state.reason } : {}),
      kri: identityKri(identity),
      ...(fingerprint
        ? { ca: { fingerprint, ...(holder ? { trustedAs: trustCaBackend(holder.name, fingerprint) } : {}) } }
        : {}),
      spiffeProblem: (labels) => {
        if (!state.trustDomain) return undefined;
        const id = spiffeIdOf(identity, state.trustDomain, labels);
        return id.ok ? undefined : id.reason;
      },
      state,
    };
  });
}

/** The mesh's active dataplanes (unexpired certificate), with their labels and who issued their certificate. */
export async function activeDataplanes(tx: StoreReads, mesh: string, now: number): Promise<ActiveDataplane[]> {
  const facts = await tx.facts.firstByName(mesh, ALL.size);
  const active = new Map(
    facts.filter((f) => f.certNotAfter !== null && f.certNotAfter > now).map((f) => [f.name, f.issuedBackend]),
  );
  if (active.size === 0) return [];
  const dataplanes = (await tx.resources.list('Dataplane', { mesh, ...ALL })).items;
  return dataplanes
    .filter((dp) => active.has(dp.name))
    .map((dp) => ({ name: dp.name, labels: dp.labels, issuedBackend: active.get(dp.name) ?? null }));
}

/** Every dataplane of the mesh (labels), active or not: whether an identity selects anything at all. */
export async function allDataplaneLabels(tx: StoreReads, mesh: string): Promise<Readonly<Record<string, string>>[]> {
  return (await tx.resources.list('Dataplane', { mesh, ...ALL })).items.map((dp) => dp.labels);
}

export function fleetOf(tx: StoreReads, mesh: string, now: number): IdentityFleet {
  return {
    notTrusting: (backend, fingerprint) => tx.facts.activeNotTrusting(mesh, backend, fingerprint, now),
    issuedBy: (backend) => tx.facts.activeIssuedBy(mesh, backend, now),
  };
}

/** A reader over the transaction's secrets that also serves secrets a write is about to add. */
export async function readerWith(
  tx: StoreReads,
  mesh: string,
  identities: readonly StoredIdentity[],
  extra: ReadonlyMap<string, string>,
  files: FileSourcePolicy,
): Promise<SourceReader> {
  const base = await sourceReaderFor(tx.resources, mesh, identities, files);
  return (source) => {
    const pending = source.type === 'Secret' ? extra.get(source.secretRef?.name ?? '') : undefined;
    return pending !== undefined ? { ok: true, data: Buffer.from(pending) } : base(source);
  };
}

/** Refuses (409, Kuma's error body) unless forced; a forced step is logged with what it skipped. */
export function enforce(
  violations: readonly IdentityViolation[],
  request: { force: boolean; dryRun: boolean },
  title: string,
  log: { warn(obj: object, msg: string): void },
  what: Record<string, string>,
): void {
  if (violations.length === 0) return;
  if (!request.force) {
    const retryable = violations.every((v) => v.retryable);
    throw conflict(
      title,
      violations.map((v) => ({ field: v.field, message: v.message })),
      retryable ? GUARD_RETRY_AFTER_SECONDS : undefined,
    );
  }
  if (!request.dryRun)
    log.warn(
      { event: 'force-used', ...what, skippedRules: violations.map((v) => `${v.rule}: ${v.message}`) },
      'force=true: identity rules skipped',
    );
}

export { Titles };
