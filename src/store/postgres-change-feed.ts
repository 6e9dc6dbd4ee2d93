import pg from 'pg';
import { connectionConfig, type PostgresOptions } from './postgres-driver.js';
import type { SqlExecutor } from './sql.js';
import type { ChangeFeed } from './store.js';
import { systemClock } from '../domain/clock.js';

const RECONNECT_MS = [100, 250, 500, 1_000, 2_000];

/**
 * Cross-instance change notices over PostgreSQL LISTEN/NOTIFY. A write announces its mesh inside its transaction
 * (delivered only if it commits); every instance listens on a dedicated connection and wakes its long-polls and
 * drops its caches for that mesh. When the listening connection drops (a database restart), notices sent meanwhile
 * are lost, so on reconnect listeners hear '*' (everything may have changed).
 */
export class PostgresChangeFeed implements ChangeFeed {
  private readonly listeners: ((mesh: string) => void)[] = [];
  /** The connection listening now, or the one being opened. */
  private client: pg.Client | undefined;
  private everListened = false;
  private closed = false;
  private attempt = 0;
  /** Cancels the pending reconnect, if any. */
  private reconnect: (() => void) | undefined;
  private readonly channel: string;
  healthy = false;

  constructor(
    private readonly options: PostgresOptions,
    /** Notices from this instance are skipped: it told its own listeners when it committed. */
    private readonly instanceId: string,
  ) {
    // Channels are per database: a schema of its own (tests) gets a channel of its own.
    this.channel = `meshcp_changes${options.schema ? `_${options.schema}` : ''}`.toLowerCase();
  }

  async start(): Promise<void> {
    await this.connect();
  }

  async announce(tx: SqlExecutor, mesh: string): Promise<void> {
    await tx.get('SELECT pg_notify(?, ?)', [this.channel, `${this.instanceId} ${mesh}`]);
  }

  subscribe(listener: (mesh: string) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reconnect?.();
    await this.client?.end().catch(() => {});
  }

  private emit(mesh: string): void {
    for (const listener of this.listeners) listener(mesh);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(connectionConfig(this.options));
    this.client = client;
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      const payload = message.payload ?? '';
      const space = payload.indexOf(' ');
      if (space < 0 || payload.slice(0, space) === this.instanceId) return;
      this.emit(payload.slice(space + 1));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch {
      await client.end().catch(() => {});
      this.lost(client);
      return;
    }
    this.attempt = 0;
    this.healthy = true;
    if (this.everListened) this.emit('*');
    this.everListened = true;
  }

  private lost(client: pg.Client): void {
    if (this.closed || this.client !== client || this.reconnect) return;
    this.healthy = false;
    const delay = RECONNECT_MS[Math.min(this.attempt++, RECONNECT_MS.length - 1)];
    // Real time on purpose: a back-off between connection attempts, which a test's fake clock must not stretch.
    this.reconnect = systemClock.schedule(
      () => {
        this.reconnect = undefined;
        void this.connect();
      },
      delay,
      { keepAlive: false },
    );
  }
}
