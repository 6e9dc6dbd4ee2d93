import type Database from 'better-sqlite3';
import { sqliteDataplaneFilter } from './dataplane-filter-sql.js';
import type { Db } from './database.js';
import type { Dialect, SqlDriver, SqlExecutor, SqlParams } from './sql.js';

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  // instr() is 1 for an empty needle: an empty filter matches everything, as Kuma's substring match does.
  contains(column, params, text) {
    params.push(text);
    return `instr(${column}, ?) > 0`;
  },
  jsonHasEntry(column, params, key, value) {
    params.push(key, value);
    return `EXISTS (SELECT 1 FROM json_each(${column}) WHERE json_each.key = ? AND json_each.value = ?)`;
  },
  dataplaneFilter: sqliteDataplaneFilter,
  specParam: (spec) => spec,
};

/**
 * better-sqlite3 behind the async seam. Every statement runs synchronously on the one connection; a transaction
 * holds the connection until it ends, and statements from outside it wait (they would otherwise join it, and see or
 * lose its uncommitted writes). Prepared statements are cached by their text.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = sqliteDialect;
  private readonly statements = new Map<string, Database.Statement>();
  /** Resolves when no transaction holds the connection. */
  private idle: Promise<void> = Promise.resolve();
  private busy = false;
  private readonly direct: SqlExecutor;

  constructor(readonly db: Db) {
    this.direct = {
      all: async <Row>(sql: string, params?: SqlParams) => this.bind(sql, params, (s, p) => s.all(...p) as Row[]),
      get: async <Row>(sql: string, params?: SqlParams) =>
        this.bind(sql, params, (s, p) => s.get(...p) as Row | undefined),
      run: async (sql: string, params?: SqlParams) => this.bind(sql, params, (s, p) => s.run(...p).changes),
    };
  }

  async all<Row>(sql: string, params?: SqlParams): Promise<Row[]> {
    await this.waitIdle();
    return this.direct.all<Row>(sql, params);
  }

  async get<Row>(sql: string, params?: SqlParams): Promise<Row | undefined> {
    await this.waitIdle();
    return this.direct.get<Row>(sql, params);
  }

  async run(sql: string, params?: SqlParams): Promise<number> {
    await this.waitIdle();
    return this.direct.run(sql, params);
  }

  /** Locks are moot with one connection: IMMEDIATE takes SQLite's write lock at once, so writers never deadlock. */
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    while (this.busy) await this.idle;
    this.busy = true;
    let release!: () => void;
    this.idle = new Promise((resolve) => (release = resolve));
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.direct);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.busy = false;
      release();
    }
  }

  async ping(): Promise<void> {
    await this.get('SELECT 1 AS x FROM schema_migrations LIMIT 1');
  }

  async close(): Promise<void> {
    while (this.busy) await this.idle;
    this.db.close();
  }

  private async waitIdle(): Promise<void> {
    while (this.busy) await this.idle;
  }

  private bind<T>(
    sql: string,
    params: SqlParams | undefined,
    exec: (statement: Database.Statement, params: unknown[]) => T,
  ): T {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    if (params === undefined) return exec(statement, []);
    return exec(statement, Array.isArray(params) ? (params as unknown[]) : [params]);
  }
}
