import pg from 'pg';
import { readFileSync } from 'node:fs';
import { DomainError } from '../domain/errors.js';
import { postgresDataplaneFilter } from './dataplane-filter-sql.js';
import type { PostgresTlsMode } from './store-config.js';
import {
  toPositional,
  type Dialect,
  type SqlDriver,
  type SqlExecutor,
  type SqlParams,
  type TransactionLocks,
} from './sql.js';

export interface PostgresOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  tlsMode: PostgresTlsMode;
  tlsCaFile?: string;
  /** Connections of this instance's pool. */
  maxConnections: number;
  /** Tables live in this schema (tests give every app its own); default: the user's search_path. */
  schema?: string;
  /** A connection attempt and a statement each fail after this (the caller answers 503, never hangs). */
  timeoutMs?: number;
}

export const postgresDialect: Dialect = {
  name: 'postgres',
  contains(column, params, text) {
    params.push(text);
    return `strpos(${column}, ?) > 0`;
  },
  jsonHasEntry(column, params, key, value) {
    params.push(key, value);
    return `(${column}::jsonb ->> ?) = ?`;
  },
  dataplaneFilter: postgresDataplaneFilter,
  specParam: (spec) => (typeof spec === 'string' ? Buffer.from(spec) : spec),
};

/** SQLSTATE classes and codes after which the same transaction, run again, can succeed. */
const RETRYABLE = new Set(['40001', '40P01']);
/** Node and driver failures that mean "the database is not reachable right now". */
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (
    typeof e?.code === 'string' &&
    (/^(08|57P0|53)/.test(e.code) ||
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(e.code))
  )
    return true;
  // node-postgres's own wording for a pool or connection that cannot be used (no SQLSTATE on these).
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout|not queryable|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
    e?.message ?? '',
  );
}

/** What a caller hears of an outage: no address or driver message (the cause goes to the log via `cause`). */
export function storeUnavailable(err: unknown): DomainError {
  const error = new DomainError({
    kind: 'unavailable',
    title: 'Store unavailable',
    detail: 'the database cannot be reached right now; retry',
    retryAfterSeconds: 1,
  });
  error.cause = err;
  return error;
}

/** Big integers (COUNT, epoch milliseconds) and numerics as JS numbers: every value meshcp stores fits in 2^53. */
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
  },
};

export function connectionConfig(options: PostgresOptions): pg.ClientConfig {
  const timeout = options.timeoutMs ?? 5_000;
  const ssl =
    options.tlsMode === 'disable'
      ? false
      : {
          // require: encrypted, server not verified (as libpq's sslmode=require); verify-ca: chain only; verify-full: chain and name.
          rejectUnauthorized: options.tlsMode !== 'require',
          ...(options.tlsCaFile ? { ca: readFileSync(options.tlsCaFile, 'utf8') } : {}),
          ...(options.tlsMode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
        };
  return {
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    ssl,
    types,
    connectionTimeoutMillis: timeout,
    query_timeout: timeout,
    keepAlive: true,
    application_name: 'meshcp',
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  };
}

/** Lock keys: one 64-bit advisory lock per mesh name (a hash collision only serializes two meshes more than needed). */
const LOCK_SQL = {
  exclusive: "SELECT pg_advisory_xact_lock(hashtextextended('meshcp/mesh/' || $1, 0))",
  shared: "SELECT pg_advisory_xact_lock_shared(hashtextextended('meshcp/mesh/' || $1, 0))",
};

/**
 * node-postgres behind the async seam: a pool for statements, a pooled client per transaction. Row-level rules
 * that span instances take per-mesh advisory locks (see TransactionLocks); READ COMMITTED is enough under them.
 */
export class PostgresDriver implements SqlDriver {
  readonly dialect = postgresDialect;
  readonly pool: pg.Pool;
  private readonly statementNames = new Map<string, string>();

  constructor(readonly options: PostgresOptions) {
    this.pool = new pg.Pool({ ...connectionConfig(options), max: options.maxConnections, idleTimeoutMillis: 30_000 });
    // An idle client whose server went away emits here; without a listener it would crash the process.
    this.pool.on('error', () => {});
  }

  all<Row>(sql: string, params?: SqlParams): Promise<Row[]> {
    return this.query<Row>(this.pool, sql, params).then((r) => r.rows);
  }

  get<Row>(sql: string, params?: SqlParams): Promise<Row | undefined> {
    return this.query<Row>(this.pool, sql, params).then((r) => r.rows[0]);
  }

  run(sql: string, params?: SqlParams): Promise<number> {
    return this.query(this.pool, sql, params).then((r) => r.rowCount ?? 0);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, locks: TransactionLocks = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw storeUnavailable(err);
      }
      let broken = false;
      // pg-pool listens for a client's errors only while it is idle: a connection lost mid-transaction would
      // otherwise be an unhandled 'error' event and end the process.
      const onError = () => (broken = true);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        // Sorted, exclusive before shared: two transactions never wait on each other's locks in opposite orders.
        const exclusive = [...new Set(locks.meshes ?? [])].sort();
        const shared = [...new Set(locks.sharedMeshes ?? [])].filter((m) => !exclusive.includes(m)).sort();
        for (const mesh of exclusive) await client.query(LOCK_SQL.exclusive, [mesh]);
        for (const mesh of shared) await client.query(LOCK_SQL.shared, [mesh]);
        const tx: SqlExecutor = {
          all: <Row>(sql: string, params?: SqlParams) =>
            this.query<Row>(client, sql, params).then((r) => r.rows as Row[]),
          get: <Row>(sql: string, params?: SqlParams) =>
            this.query<Row>(client, sql, params).then((r) => r.rows[0] as Row | undefined),
          run: (sql, params) => this.query(client, sql, params).then((r) => r.rowCount ?? 0),
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < 5) continue;
        if (!(err instanceof DomainError) && isUnavailable(err)) throw storeUnavailable(err);
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    }
  }

  async ping(): Promise<void> {
    await this.get('SELECT 1 AS x');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async query<Row>(
    on: pg.Pool | pg.PoolClient,
    sql: string,
    params?: SqlParams,
  ): Promise<pg.QueryResult<Row & pg.QueryResultRow>> {
    const { text, values } = toPositional(sql, params, (i) => `$${i}`);
    let name = this.statementNames.get(sql);
    if (!name) {
      name = `meshcp_${this.statementNames.size}`;
      this.statementNames.set(sql, name);
    }
    try {
      return await on.query<Row & pg.QueryResultRow>({ name, text, values });
    } catch (err) {
      if (on === this.pool && isUnavailable(err)) throw storeUnavailable(err);
      throw err;
    }
  }
}
