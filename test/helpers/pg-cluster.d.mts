// Types of pg-cluster.mjs (plain JS so that scripts/run-tests.mjs runs it without tsx).

export interface PgCluster {
  host: string;
  readonly port: number;
  user: string;
  password: string;
  /** The cluster's temp dir (data, log, unix socket), removed by stop(). */
  dir: string;
  /** postgres://user:password@127.0.0.1:port/postgres */
  readonly url: string;
  urlOf(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** Drops it even with sessions open (WITH (FORCE)). */
  dropDatabase(name: string): Promise<void>;
  /** Starts the server again on the same port and data (after shutdown, kill9). */
  start(): Promise<void>;
  /** Fast shutdown, data and port kept. */
  shutdown(): Promise<void>;
  /** shutdown() then start(). */
  restart(): Promise<void>;
  /** SIGKILL to the postmaster and its backends: a crash; start() runs crash recovery. */
  kill9(): Promise<void>;
  /** SIGSTOP to the server and its backends: a hung database that still holds its connections. */
  freeze(): Promise<void>;
  /** SIGCONT after freeze(). */
  thaw(): Promise<void>;
  /** Stops the server and removes everything. */
  stop(): Promise<void>;
}

/** signals: false when the caller handles SIGINT/SIGTERM itself (else a signal removes the cluster and ends the process). */
export function startCluster(options?: { log?: (line: string) => void; signals?: boolean }): Promise<PgCluster>;
