import type { FileSourcePolicy } from './ca/backend.js';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { IssuanceAdmission, LongPollGate, PerMinuteLimiter } from './dataplanes/limits.js';
import { CaManager } from './ca/ca-manager.js';
import { generateRsaKeyPair, type RsaKeySource } from './ca/keys.js';
import { SigningPool } from './ca/signing-pool.js';
import type { Config } from './config.js';
import { DomainError } from './domain/errors.js';
import { systemClock, type Clock } from './domain/clock.js';
import { CertificateService } from './dataplanes/certificate-service.js';
import { dataplaneDescriptor, type DataplaneService } from './dataplanes/dataplane-rules.js';
import { DataplaneTokenService } from './dataplanes/token-service.js';
import { IssueRecorder } from './dataplanes/issue-recorder.js';
import { TrustBundleService } from './dataplanes/trust-bundle-service.js';
import { MeshEvents } from './mesh-events.js';
import { FleetTurns } from './fleet-turns.js';
import { MeshDescriptor } from './mesh/mesh-rules.js';
import type { Mesh } from './resources/mesh.js';
import { globalSecretDescriptor, secretDescriptor, type SecretSpec } from './secrets/secret-rules.js';
import { ResourceManager, type ResourceHandle } from './resource-manager/resource-manager.js';
import { kindHandles, type KindRules } from './resource-manager/kind-rules.js';
import type { ResourceType } from './resources/kinds.js';
import { MeshcpMetrics } from './ops/metrics.js';
import type { FactsStore } from './store/facts-store.js';
import type { Store } from './store/store.js';
import { meshIdentityDescriptor, meshTrustDescriptor } from './identity/mesh-identity-rules.js';
import { IdentityService } from './identity/identity-service.js';

/** How long shutdown waits for ended long-polls to write their 304 (a client that stops reading must not hold it). */
const LONG_POLL_DRAIN_MS = 2_000;
/**
 * Certificate issuances in progress at once, beyond which requests get 503 + Retry-After. A signature takes ~0.3-1 ms
 * on a worker, so 256 is a few hundred ms of work queued: enough to keep every signer busy (the HTTP issuance bench
 * runs 16 connections), small enough that a fleet-wide re-issue never queues thousands of requests in memory.
 */
const MAX_ISSUANCES_IN_PROGRESS = 256;

/** Resolves with `work`, or after `ms` of real time, whichever comes first (a bound on shutdown, not a decision). */
function boundedWait(work: Promise<void>, ms: number): Promise<void> {
  let cancel = () => {};
  const bound = new Promise<void>((resolve) => (cancel = systemClock.schedule(resolve, ms, { keepAlive: false })));
  return Promise.race([work, bound]).finally(cancel);
}

/** The domain layer, wired once per process and shared by the HTTP and HTTPS listeners. */
export interface Services {
  config: Config;
  log: Logger;
  /** The database (SQLite or PostgreSQL); `store.resources` and `store.facts` outside any transaction. */
  store: Store;
  facts: FactsStore;
  events: MeshEvents;
  /** The dataplane fleet's lane on the main thread: agents' requests and woken polls, a slice per turn. */
  fleetTurns: FleetTurns;
  ca: CaManager;
  /** Every kind of the kinds table through the one pipeline (src/resource-manager/resource-manager.ts), one handle each. */
  handles: Record<ResourceType, ResourceHandle<object>>;
  meshes: ResourceHandle<Mesh>;
  secrets: ResourceHandle<SecretSpec>;
  globalSecrets: ResourceHandle<SecretSpec>;
  dataplanes: DataplaneService;
  tokens: DataplaneTokenService;
  certificates: CertificateService;
  trustBundles: TrustBundleService;
  /** Certificate requests per dataplane token and minute. */
  certificateLimiter: PerMinuteLimiter;
  /** Bounds the certificate issuances in progress (503 + Retry-After beyond it). */
  issuanceAdmission: IssuanceAdmission;
  longPolls: LongPollGate;
  signing: SigningPool;
  adminToken: string;
  instanceId: string;
  /** Where `file` data sources may be read (MESHCP_FILE_SOURCE_DIRS), never the data directory. */
  fileSources: FileSourcePolicy;
  /** The one source of time of the process (a fake one in tests). */
  clock: Clock;
  /** Each listener (app) that serves these services holds them; the last one to let go closes them. */
  hold(): void;
  letGo(): Promise<void>;
  /**
   * Ends waiting long-polls (they answer 304) and resolves once they have answered: listeners call it before they
   * close their connections, so no client waits out its poll or loses its answer.
   */
  endLongPolls(): Promise<void>;
  /** Whether the store answers and hears other instances: false makes `/readyz` 503 (the process stays alive). */
  ready(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Commits answered certificates still pending, stops the signing workers, closes the database. Idempotent. */
  close(): Promise<void>;
  /** Prometheus metrics, shared by both API listeners and served by the diagnostics listener. */
  metrics: MeshcpMetrics;
}

export async function createServices(deps: {
  store: Store;
  config: Config;
  log: Logger;
  adminToken: string;
  instanceId: string;
  clock: Clock;
  /** Makes the RSA keys of builtin CAs and token signing keys; tests hand out keys generated ahead of time. */
  rsaKeys?: RsaKeySource;
}): Promise<Services> {
  const clock = deps.clock;
  const store = deps.store;
  const facts = store.facts;
  store.setOnlineWindow(deps.config.dpOnlineWindowMs);
  const fleetTurns = new FleetTurns();
  const events = new MeshEvents(clock, fleetTurns);
  const signing = new SigningPool(deps.config.signingWorkers);
  // `file` data sources: only where the operator allows, never in the data directory (keys, tokens, database).
  const files = { allowedDirs: deps.config.fileSourceDirs, deniedDirs: [resolve(deps.config.dataDir)] };
  const ca = new CaManager(store, signing, clock, files);
  events.onAnyChange((mesh) => {
    if (mesh === '*') {
      ca.invalidateAll();
      return;
    }
    ca.reload(mesh).catch((err: unknown) =>
      deps.log.warn({ mesh, err: (err as Error).message }, 'could not reload the CA state of a changed mesh'),
    );
  });
  // Another instance's commit: the same as a local one for caches and waiting long-polls.
  store.changes.subscribe((mesh) => events.meshChanged(mesh));
  await ca.recordCurrentBundles();
  const longPolls = new LongPollGate(deps.config.maxLongPolls);
  const recorder = new IssueRecorder(store, (mesh, version) => {
    const cached = ca.cachedState(mesh);
    return !cached || cached.bundleVersion === version;
  });
  events.onAnyChange((mesh) => store.forgetMesh(mesh));
  const resources = new ResourceManager(store, events);
  const identities = new IdentityService(store, events, clock, files);
  const rules: KindRules = {
    Mesh: new MeshDescriptor(store, deps.log, () => recorder.flush(), clock, deps.rsaKeys ?? generateRsaKeyPair, files),
    Secret: secretDescriptor(),
    GlobalSecret: globalSecretDescriptor,
    Dataplane: dataplaneDescriptor(deps.config.certProfile),
    MeshIdentity: meshIdentityDescriptor(store, clock, deps.rsaKeys ?? generateRsaKeyPair, deps.log, files),
    MeshTrust: meshTrustDescriptor(store, clock, deps.log, files),
  };
  const handles = kindHandles(resources, rules);
  const dataplanes = handles.Dataplane as DataplaneService;
  let holders = 0;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await boundedWait(longPolls.endAll(), LONG_POLL_DRAIN_MS);
      await recorder.flush().catch(() => {});
      await signing.close();
      await store.close();
    })());
  return {
    metrics: new MeshcpMetrics({ store: store.resources, facts, ca, longPolls, fleetLane: fleetTurns, clock, files }),
    config: deps.config,
    log: deps.log,
    store,
    facts,
    events,
    fleetTurns,
    ca,
    handles,
    meshes: handles.Mesh as ResourceHandle<Mesh>,
    secrets: handles.Secret as ResourceHandle<SecretSpec>,
    globalSecrets: handles.GlobalSecret as ResourceHandle<SecretSpec>,
    dataplanes,
    tokens: new DataplaneTokenService(
      store.resources,
      events,
      { requireServiceTag: deps.config.dpTokenRequireServiceTag },
      clock,
    ),
    certificates: new CertificateService(dataplanes, ca, signing, recorder, identities, deps.config.certProfile, clock),
    signing,
    trustBundles: new TrustBundleService(dataplanes, ca, facts, events, identities, deps.config.certProfile, clock),
    certificateLimiter: new PerMinuteLimiter(deps.config.dpCertRequestsPerMinute, clock),
    issuanceAdmission: new IssuanceAdmission(MAX_ISSUANCES_IN_PROGRESS),
    longPolls,
    adminToken: deps.adminToken,
    instanceId: deps.instanceId,
    clock,
    fileSources: files,
    hold: () => void holders++,
    letGo: async () => {
      if (--holders <= 0) await close();
    },
    endLongPolls: () => boundedWait(longPolls.endAll(), LONG_POLL_DRAIN_MS),
    ready: async () => {
      try {
        await store.ping();
      } catch (err) {
        const why = err instanceof DomainError ? err.detail : (err as Error).message;
        return { ok: false, reason: `the ${store.kind} store does not answer: ${why}` };
      }
      if (!store.changes.healthy)
        return { ok: false, reason: 'not listening for changes made by other instances (reconnecting)' };
      return { ok: true };
    },
    close,
  };
}
