/** libpq's sslmode names (the subset node-postgres can honour). */
export const POSTGRES_TLS_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type PostgresTlsMode = (typeof POSTGRES_TLS_MODES)[number];

/** Where resources and facts live (MESHCP_STORE_*, parsed by src/config.ts). */
export type StoreConfig =
  | { type: 'sqlite' }
  | {
      type: 'postgres';
      host: string;
      port: number;
      user: string;
      password?: string;
      dbName: string;
      tlsMode: PostgresTlsMode;
      tlsCaFile?: string;
      maxOpenConnections: number;
      /** Apply pending migrations at start (under an advisory lock) instead of refusing to start. */
      autoMigrate: boolean;
    };
