import type { Logger } from 'pino';
import { CaMaterialError } from '../ca/backend.js';
import type { CaManager } from '../ca/ca-manager.js';
import type { Mesh } from '../resources/mesh.js';
import type { FactsStore } from '../store/facts-store.js';
import type { ResourceStore } from '../store/resource-store.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A CA expiring within this is worth a warning every day: time to plan a rotation. */
export const CA_EXPIRY_WARNING_MS = 30 * DAY_MS;
/** Names listed in one "gone offline" line; the count is always exact. */
const OFFLINE_NAMES = 20;

export interface FleetWatchDeps {
  store: ResourceStore;
  facts: FactsStore;
  ca: CaManager;
  log: Logger;
  now: () => number;
  dpOnlineWindowMs: number;
}

/**
 * Events nobody's request causes: a dataplane going offline (its last contact falls out of the online window) and
 * a CA nearing expiry. `sweepOffline` reports each dataplane once, when its last contact crosses the window edge
 * between two sweeps (an index-free range over a few rows per sweep in a calm fleet).
 */
export class FleetWatch {
  private lastCutoff: number;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: FleetWatchDeps) {
    this.lastCutoff = deps.now() - deps.dpOnlineWindowMs;
  }

  async sweepOffline(): Promise<void> {
    const cutoff = this.deps.now() - this.deps.dpOnlineWindowMs;
    if (cutoff <= this.lastCutoff) return;
    const rows = await this.deps.facts.contactsBetween(this.lastCutoff, cutoff);
    this.lastCutoff = cutoff; // only after a successful read: a sweep during a store outage is made up by the next
    const byMesh = new Map<string, string[]>();
    for (const row of rows) byMesh.set(row.mesh, [...(byMesh.get(row.mesh) ?? []), row.name]);
    for (const [mesh, names] of byMesh) {
      const shown = names.slice(0, OFFLINE_NAMES);
      const more = names.length > shown.length ? ` and ${names.length - shown.length} more` : '';
      this.deps.log.info(
        { event: 'dataplane-offline', mesh, count: names.length, dataplanes: shown },
        `${names.length === 1 ? 'dataplane' : `${names.length} dataplanes`} of mesh ${mesh} went offline (no contact for ${Math.round(this.deps.dpOnlineWindowMs / 1000)}s): ${shown.join(', ')}${more}`,
      );
    }
  }

  async checkCaExpiry(): Promise<void> {
    const now = this.deps.now();
    for (const mesh of (await this.deps.store.list<Mesh>('Mesh', { offset: 0, size: 10_000 })).items) {
      let materials;
      try {
        materials = (await this.deps.ca.stateOf(mesh.name))?.materials ?? [];
      } catch (err) {
        if (!(err instanceof CaMaterialError)) throw err;
        this.deps.log.warn(
          { event: 'ca-unusable', mesh: mesh.name, reason: err.message },
          `the CA of mesh ${mesh.name} cannot be loaded: ${err.message}`,
        );
        continue;
      }
      for (const material of materials) {
        const left = material.notAfter.getTime() - now;
        if (left > CA_EXPIRY_WARNING_MS) continue;
        const days = Math.max(0, Math.floor(left / DAY_MS));
        this.deps.log.warn(
          {
            event: 'ca-expiring',
            mesh: mesh.name,
            backend: material.backend,
            notAfter: material.notAfter.toISOString(),
            daysLeft: days,
          },
          left <= 0
            ? `CA ${material.backend} of mesh ${mesh.name} has expired (${material.notAfter.toISOString()}): rotate it now`
            : `CA ${material.backend} of mesh ${mesh.name} expires in ${days} days (${material.notAfter.toISOString()}): plan a rotation`,
        );
      }
    }
  }

  /** CA check now and daily; offline sweep every `sweepMs`. Timers do not keep the process alive. */
  start(sweepMs = Math.min(30_000, Math.max(1_000, Math.floor(this.deps.dpOnlineWindowMs / 3)))): void {
    const run = (work: () => Promise<void>) => () =>
      void work().catch((err: unknown) =>
        this.deps.log.warn({ err: (err as Error).message }, 'fleet watch could not read the store'),
      );
    run(() => this.checkCaExpiry())();
    this.timers.push(
      setInterval(
        run(() => this.checkCaExpiry()),
        DAY_MS,
      ).unref(),
    );
    this.timers.push(
      setInterval(
        run(() => this.sweepOffline()),
        sweepMs,
      ).unref(),
    );
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }
}
