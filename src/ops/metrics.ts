import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CaMaterialError, type CaMaterial, type FileSourcePolicy } from '../ca/backend.js';
import type { Clock } from '../domain/clock.js';
import type { CaManager } from '../ca/ca-manager.js';
import type { LongPollGate } from '../dataplanes/limits.js';
import type { Mesh } from '../resources/mesh.js';
import type { FactsStore } from '../store/facts-store.js';
import type { ResourceStore } from '../store/resource-store.js';
import { registerIdentityGauges } from './identity-metrics.js';

interface MetricsSources {
  store: ResourceStore;
  facts: FactsStore;
  ca: CaManager;
  longPolls: LongPollGate;
  /** The fleet's lane on the main thread (src/fleet-turns.ts). */
  fleetLane: { readonly queued: number };
  clock: Clock;
  /** Where `File` data sources may be read (the identity gauges evaluate identities). */
  files: FileSourcePolicy;
}

/** Meshes read per scrape: the gauges are per mesh and backend, so this bounds a scrape's work and series. */
const MAX_MESHES_PER_SCRAPE = 1_000;

/**
 * The control plane's Prometheus metrics. Counters are bumped by the API hooks; gauges are computed at scrape time
 * from the same indexed fleet queries the rotation status uses, so a scrape costs a few index scans per mesh and no
 * series is per dataplane (10,000 dataplanes give the same series as 10).
 */
export class MeshcpMetrics {
  readonly registry = new Registry();
  readonly certificatesIssued: Counter<'mesh' | 'backend'>;
  readonly certificateRequestsRejected: Counter<'mesh' | 'reason'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private defaultsCollected = false;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.certificatesIssued = new Counter({
      name: 'meshcp_certificates_issued_total',
      help: 'Dataplane certificates issued, by mesh and the backend that signed them',
      labelNames: ['mesh', 'backend'],
      registers,
    });
    this.certificateRequestsRejected = new Counter({
      name: 'meshcp_certificate_requests_rejected_total',
      help: 'Dataplane certificate requests refused, by mesh and reason',
      labelNames: ['mesh', 'reason'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'meshcp_http_request_duration_seconds',
      help: 'API request durations by method, route pattern and status (long-polls included)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 60],
      registers,
    });
    new Gauge({
      name: 'meshcp_trust_bundle_long_polls',
      help: 'Trust-bundle long-polls waiting now',
      registers,
      collect() {
        this.set(sources.longPolls.size);
      },
    });
    new Gauge({
      name: 'meshcp_fleet_lane_queued',
      help: "Agents' requests and woken long-polls waiting for their turn on the main thread",
      registers,
      collect() {
        this.set(sources.fleetLane.queued);
      },
    });
    // One read of the store per scrape, shared by every gauge that needs it. A store that cannot be read (PostgreSQL
    // down) must not cost the scrape its other series: those gauges are left empty and meshcp_store_up says why.
    let pending: Promise<StoreSnapshot | undefined> | undefined;
    const snapshot = () =>
      (pending ??= readStore(sources)
        .catch(() => undefined)
        .finally(() => {
          pending = undefined;
        }));
    new Gauge({
      name: 'meshcp_store_up',
      help: 'Whether the last scrape could read the store (1) or not (0: the store-derived series are left out)',
      registers,
      async collect() {
        this.set((await snapshot()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'meshcp_active_dataplanes',
      help: 'Dataplanes holding an unexpired certificate, by mesh',
      labelNames: ['mesh'],
      registers,
      async collect() {
        const rows = (await snapshot()) ?? [];
        this.reset();
        for (const { mesh, active } of rows) this.set({ mesh }, active);
      },
    });
    new Gauge({
      name: 'meshcp_ca_not_after_timestamp_seconds',
      help: 'Expiry of each mTLS backend CA certificate (Unix seconds)',
      labelNames: ['mesh', 'backend', 'type'],
      registers,
      async collect() {
        const rows = (await snapshot()) ?? [];
        this.reset();
        for (const { mesh, materials } of rows) {
          for (const material of materials) {
            this.set(
              { mesh, backend: material.backend, type: material.type },
              Math.floor(material.notAfter.getTime() / 1000),
            );
          }
        }
      },
    });
    new Gauge({
      name: 'meshcp_rotation_dataplanes',
      help: 'Active dataplanes per mesh and backend: trusting it (acknowledged a bundle with its root) or issued by it',
      labelNames: ['mesh', 'backend', 'state'],
      registers,
      async collect() {
        const rows = (await snapshot()) ?? [];
        this.reset();
        for (const { mesh, fleet, materials } of rows) {
          for (const material of materials) {
            this.set(
              { mesh, backend: material.backend, state: 'trusting' },
              fleet.trusting(material.backend, material.fingerprint),
            );
            this.set({ mesh, backend: material.backend, state: 'issued' }, fleet.issuedBy(material.backend));
          }
        }
      },
    });
    registerIdentityGauges(
      registers,
      sources,
      async () => (await sources.store.list<Mesh>('Mesh', { offset: 0, size: MAX_MESHES_PER_SCRAPE })).items,
    );
  }

  /** Node's process metrics (CPU, memory, event loop, GC): only for a real diagnostics listener, not per test app. */
  collectProcessMetrics(): void {
    if (this.defaultsCollected) return;
    this.defaultsCollected = true;
    collectDefaultMetrics({ register: this.registry });
  }
}

type StoreSnapshot = {
  mesh: string;
  active: number;
  fleet: Awaited<ReturnType<FactsStore['fleetSummary']>>;
  materials: CaMaterial[];
}[];

/** What the store-derived gauges show, per mesh (at most MAX_MESHES_PER_SCRAPE). Throws when the store cannot be read. */
async function readStore(sources: MetricsSources): Promise<StoreSnapshot> {
  const now = sources.clock.now();
  const meshes = (await sources.store.list<Mesh>('Mesh', { offset: 0, size: MAX_MESHES_PER_SCRAPE })).items;
  const rows: StoreSnapshot = [];
  for (const mesh of meshes) {
    rows.push({
      mesh: mesh.name,
      active: await sources.facts.countActive(mesh.name, now),
      fleet: await sources.facts.fleetSummary(mesh.name, now),
      materials: await materialsOf(sources.ca, mesh.name),
    });
  }
  return rows;
}

async function materialsOf(ca: CaManager, mesh: string) {
  try {
    return (await ca.stateOf(mesh))?.materials ?? [];
  } catch (err) {
    if (err instanceof CaMaterialError) return [];
    throw err;
  }
}
