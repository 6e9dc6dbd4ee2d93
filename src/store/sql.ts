/**
 * The one seam between the stores and a database engine. Statements are written once, in the SQL both SQLite and
 * PostgreSQL accept (ON CONFLICT, IS DISTINCT FROM, aggregate FILTER); parameters are `?` (positional) or `@name`
 * (named, may repeat). What differs — substring tests, JSON filters, binary specs — lives in a `Dialect`.
 */

export type SqlParams = readonly unknown[] | Readonly<Record<string, unknown>>;

export interface SqlExecutor {
  all<Row>(sql: string, params?: SqlParams): Promise<Row[]>;
  get<Row>(sql: string, params?: SqlParams): Promise<Row | undefined>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: SqlParams): Promise<number>;
}

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** Condition: `column` contains the text parameter (pushed onto `params`). */
  contains(column: string, params: unknown[], text: string): string;
  /** Condition: the JSON object in text column `column` has `key` set to `value`. */
  jsonHasEntry(column: string, params: unknown[], key: string, value: string): string;
  /** Conditions (pushing their parameters) for Kuma's Dataplane list filters on the stored spec JSON. */
  dataplaneFilter(filter: DataplaneListFilter, params: unknown[]): string[];
  /** Resource specs as the column takes them (SQLite keeps JSON as text; PostgreSQL's bytea takes bytes). */
  specParam(spec: Buffer | string): Buffer | string;
}

/** A per-mesh lock held until the transaction ends: writers of one mesh run one at a time across instances. */
export interface TransactionLocks {
  /** Meshes to lock exclusively (rotation steps, mesh creation, secrets a CA reads). */
  meshes?: readonly string[];
  /** Meshes to lock shared (recording certificates: many at once, never across a mesh write). */
  sharedMeshes?: readonly string[];
}

export interface SqlDriver extends SqlExecutor {
  readonly dialect: Dialect;
  /** Runs `fn` in one transaction (retried from the start when the database asks, e.g. a deadlock). */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, locks?: TransactionLocks): Promise<T>;
  /** Resolves when the database answers; throws StoreUnavailable otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Named `@name` parameters in order of appearance (repeats included), for engines that only take positional ones. */
export function toPositional(
  sql: string,
  params: SqlParams | undefined,
  placeholder: (index: number) => string,
): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  if (params === undefined || Array.isArray(params)) {
    const positional = (params ?? []) as unknown[];
    const text = sql.replace(/\?/g, () => {
      values.push(positional[values.length]);
      return placeholder(values.length);
    });
    return { text, values };
  }
  const named = params as Record<string, unknown>;
  const text = sql.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    if (!(name in named)) throw new Error(`missing SQL parameter @${name}`);
    values.push(named[name]);
    return placeholder(values.length);
  });
  return { text, values };
}

export type GatewayMode = 'true' | 'false' | 'builtin' | 'delegated';

export interface DataplaneListFilter {
  /** key -> text the value must contain (`*`: any value); all on one inbound, or all on the gateway. */
  tags: Record<string, string>;
  gateway?: GatewayMode;
}
