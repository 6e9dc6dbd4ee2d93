import type { Logger } from 'pino';
import { LongPollGate, PerMinuteLimiter } from './api/limits.js';
import { CaManager } from './ca/ca-manager.js';
import { SigningPool } from './ca/signing-pool.js';
import type { Config } from './config.js';
import { CertificateService } from './dataplanes/certificate-service.js';
import { DataplaneService } from './dataplanes/dataplane-service.js';
import { DataplaneTokenService } from './dataplanes/token-service.js';
import { IssueRecorder } from './dataplanes/issue-recorder.js';
import { TrustBundleService } from './dataplanes/trust-bundle-service.js';
import { MeshEvents } from './mesh-events.js';
import { MeshService } from './mesh/mesh-service.js';
import { MeshcpMetrics } from './ops/metrics.js';
import { SecretService } from './secrets/secret-service.js';
import type { Db } from './store/database.js';
import { FactsStore } from './store/facts-store.js';
import { ResourceStore } from './store/resource-store.js';
import type { SecretCipher } from './store/secret-cipher.js';

/** The domain layer, wired once per process and shared by the HTTP and HTTPS listeners. */
export interface Services {
  config: Config;
  log: Logger;
  store: ResourceStore;
  facts: FactsStore;
  events: MeshEvents;
  ca: CaManager;
  meshes: MeshService;
  secrets: SecretService;
  dataplanes: DataplaneService;
  tokens: DataplaneTokenService;
  certificates: CertificateService;
  trustBundles: TrustBundleService;
  /** Certificate requests per dataplane token and minute. */
  certificateLimiter: PerMinuteLimiter;
  longPolls: LongPollGate;
  signing: SigningPool;
  adminToken: string;
  instanceId: string;
  /** Prometheus metrics, shared by both API listeners and served by the diagnostics listener. */
  metrics: MeshcpMetrics;
}

export function createServices(deps: { db: Db; cipher: SecretCipher; config: Config; log: Logger; adminToken: string; instanceId: string }): Services {
  const store = new ResourceStore(deps.db, deps.cipher);
  const sealed = store.sealPlaintextCaKeys();
  if (sealed.length > 0) deps.log.info({ meshes: sealed }, 'encrypted the inline CA keys that were stored in plaintext');
  const facts = new FactsStore(deps.db);
  const events = new MeshEvents();
  const ca = new CaManager(store, facts);
  events.onAnyChange((mesh) => ca.invalidate(mesh));
  const dataplanes = new DataplaneService(store, facts, deps.config.certProfile);
  const signing = new SigningPool(deps.config.signingWorkers);
  const recorder = new IssueRecorder(facts, store, (mesh, version) => {
    try {
      return ca.stateOf(mesh)?.bundleVersion === version;
    } catch {
      return false;
    }
  });
  const longPolls = new LongPollGate(deps.config.maxLongPolls);
  return {
    metrics: new MeshcpMetrics({ store, facts, ca, longPolls, now: () => Date.now() }),
    config: deps.config,
    log: deps.log,
    store,
    facts,
    events,
    ca,
    meshes: new MeshService(store, facts, events, deps.log, () => recorder.flush()),
    secrets: new SecretService(store, events),
    dataplanes,
    tokens: new DataplaneTokenService(store, events, { requireServiceTag: deps.config.dpTokenRequireServiceTag }),
    certificates: new CertificateService(dataplanes, ca, signing, recorder, deps.config.certProfile),
    signing,
    trustBundles: new TrustBundleService(dataplanes, ca, facts, events, deps.config.certProfile),
    certificateLimiter: new PerMinuteLimiter(deps.config.dpCertRequestsPerMinute),
    longPolls,
    adminToken: deps.adminToken,
    instanceId: deps.instanceId,
  };
}
