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
      tlsMode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
      tlsCaFile?: string;
      maxOpenConnections: number;
      /** Apply pending migrations at start (under an advisory lock) instead of refusing to start. */
      autoMigrate: boolean;
    };
