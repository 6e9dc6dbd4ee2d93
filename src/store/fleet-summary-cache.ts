/** What the rotation rules count over a mesh's active dataplanes. */
export interface FleetSummary {
  active: number;
  issuedBy(backend: string): number;
  trusting(backend: string, fingerprint: string): number;
}

interface Entry {
  summary: FleetSummary;
  /** The `now` it was computed for: an earlier `now` may count certificates that had expired by then. */
  computedAt: number;
  /** The earliest certificate expiry among the counted dataplanes: from then on `active` is smaller. */
  validUntil: number;
}

/**
 * The fleet summary of each mesh's committed facts, kept until a write may change it. At 100,000 dataplanes one
 * summary is a scan of 100,000 index entries (~10-20 ms); the status page and dry runs ask for it many times a
 * second while the fleet is at rest, and each poll's acknowledgement of the bundle it already held changes nothing.
 *
 * Only for SQLite: there every write of the facts goes through this process's FactsStore, which drops the mesh's
 * entry first. On PostgreSQL another instance writes facts this one never hears of, so it has no cache.
 */
export class FleetSummaryCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every write: a summary computed across a write is not kept. */
  private readonly generations = new Map<string, number>();

  get(mesh: string, now: number): FleetSummary | undefined {
    const entry = this.entries.get(mesh);
    return entry && now >= entry.computedAt && now < entry.validUntil ? entry.summary : undefined;
  }

  generation(mesh: string): number {
    return this.generations.get(mesh) ?? 0;
  }

  /** Keeps `summary` unless a write happened since `generation` was read. */
  set(mesh: string, generation: number, entry: Entry): void {
    if (this.generation(mesh) === generation) this.entries.set(mesh, entry);
  }

  invalidate(mesh: string): void {
    this.entries.delete(mesh);
    this.generations.set(mesh, this.generation(mesh) + 1);
  }
}
