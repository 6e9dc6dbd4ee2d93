import type { Clock } from '../domain/clock.js';
import { FactsStore, type FactsSettings } from './facts-store.js';
import { FleetIndexStore } from './fleet-index-store.js';
import { FleetSummaryCache } from './fleet-summary-cache.js';
import { KnownBundles } from './known-bundles.js';
import { LiveStatsCache } from './live-fleet-stats.js';
import { ResourceStore } from './resource-store.js';
import type { SealedConfFields } from './ca-key-sealing.js';
import type { SecretCipher } from './secret-cipher.js';
import type { SqlDriver, SqlExecutor, TransactionLocks } from './sql.js';

/** What a transaction reads and writes through: the same stores, bound to the transaction's connection. */
export interface StoreTx {
  resources: ResourceStore;
  facts: FactsStore;
  fleet: FleetIndexStore;
  /** Tells every other instance, when (and only if) this transaction commits, that `mesh`'s CA view changed. */
  announceMeshChange(mesh: string): Promise<void>;
}

/** How instances hear of each other's commits (PostgreSQL LISTEN/NOTIFY); a lone SQLite process needs none. */
export interface ChangeFeed {
  /** Runs inside the writing transaction (NOTIFY is delivered at commit). */
  announce(tx: SqlExecutor, mesh: string): Promise<void>;
  /** `mesh` changed on another instance; '*' means "anything may have changed" (the feed reconnected). */
  subscribe(listener: (mesh: string) => void): void;
  /** Whether the feed currently listens (readiness). */
  readonly healthy: boolean;
  close(): Promise<void>;
}

const noChangeFeed: ChangeFeed = {
  announce: async () => {},
  subscribe: () => {},
  healthy: true,
  close: async () => {},
};

/** The store: resources and dataplane facts on one database, SQLite or PostgreSQL. */
export class Store {
  /** Statements outside any transaction. */
  readonly resources: ResourceStore;
  readonly facts: FactsStore;
  readonly fleet: FleetIndexStore;
  /** Shared by every FactsStore of this store; the services set the online window from the configuration. */
  private readonly factsSettings: FactsSettings = { onlineWindowMs: 90_000 };
  /** Fleet summaries kept between writes; SQLite only (see FleetSummaryCache). */
  private readonly summaries: FleetSummaryCache | undefined;
  /** Bundle versions seen committed; the owner calls `forgetMesh` on every mesh change. */
  private readonly bundles = new KnownBundles();

  constructor(
    readonly driver: SqlDriver,
    private readonly cipher: SecretCipher,
    /** The CA backend conf fields kept sealed in Mesh rows (the CA plugins name them). */
    private readonly sealedConfFields: SealedConfFields,
    readonly changes: ChangeFeed = noChangeFeed,
    private readonly clock: Clock,
  ) {
    this.resources = new ResourceStore(driver, driver.dialect, cipher, sealedConfFields, clock);
    this.summaries = driver.dialect.name === 'sqlite' ? new FleetSummaryCache() : undefined;
    this.factsSettings.liveStats = driver.dialect.name === 'sqlite' ? new LiveStatsCache() : undefined;
    this.facts = new FactsStore(driver, this.summaries, false, this.bundles, this.factsSettings);
    this.fleet = new FleetIndexStore(driver, this.factsSettings.liveStats);
  }

  /** A contact after a longer silence than this starts a new online stretch (`MESHCP_DP_ONLINE_WINDOW`). */
  setOnlineWindow(ms: number): void {
    this.factsSettings.onlineWindowMs = ms;
  }

  get kind(): 'sqlite' | 'postgres' {
    return this.driver.dialect.name;
  }

  /**
   * Runs `fn` atomically. On PostgreSQL `locks` serialize it with other instances' writers of the same meshes;
   * `fn` may run again from the start when the database resolves a deadlock, so it must only touch the store.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>, locks?: TransactionLocks): Promise<T> {
    return this.driver.transaction(
      (exec) =>
        fn({
          resources: new ResourceStore(exec, this.driver.dialect, this.cipher, this.sealedConfFields, this.clock),
          facts: new FactsStore(exec, this.summaries, true, this.bundles, this.factsSettings),
          fleet: new FleetIndexStore(exec, this.factsSettings.liveStats),
          announceMeshChange: (mesh) => this.changes.announce(exec, mesh),
        }),
      locks,
    );
  }

  /** After a change to `mesh` on any instance ('*': any mesh): forgets what was cached of it. */
  forgetMesh(mesh: string): void {
    this.bundles.forgetMesh(mesh);
  }

  /** Throws when the database does not answer (readiness). */
  async ping(): Promise<void> {
    await this.driver.ping();
  }

  async close(): Promise<void> {
    await this.changes.close();
    await this.driver.close();
  }
}
