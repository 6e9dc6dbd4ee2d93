import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import { systemClock } from '../domain/clock.js';

interface ConnectionLimits {
  /** Open connections across the listeners; beyond it new ones are closed at once. */
  maxConnections: number;
  /** Open connections from one remote address; 0 = no cap. */
  maxConnectionsPerAddress: number;
  /**
   * A new plain-HTTP connection that sends nothing for this long is closed (an idle socket costs a descriptor and
   * memory); HTTPS listeners get the same bound as their TLS handshake timeout.
   */
  firstByteTimeoutMs: number;
}

/**
 * Admits TCP connections to the API listeners (HTTP and HTTPS share one gate): one remote address cannot hold more
 * than its share, so a stranger with 20,000 idle or slowly-writing sockets cannot take the descriptors every proxy
 * needs to renew its certificate. Counts are per open connection: the map holds only addresses connected right now.
 */
export class ConnectionGate {
  private readonly perAddress = new Map<string, number>();
  private total = 0;
  refused = 0;

  constructor(private readonly limits: ConnectionLimits) {}

  /** Hooks the gate into a listener before it accepts anything. */
  guard(server: Server, tls: boolean): void {
    server.on('connection', (socket: Socket) => this.admit(socket, tls));
  }

  get openConnections(): number {
    return this.total;
  }

  private admit(socket: Socket, tls: boolean): void {
    const address = socket.remoteAddress ?? 'unknown';
    const fromAddress = this.perAddress.get(address) ?? 0;
    const { maxConnections, maxConnectionsPerAddress, firstByteTimeoutMs } = this.limits;
    if (this.total >= maxConnections || (maxConnectionsPerAddress > 0 && fromAddress >= maxConnectionsPerAddress)) {
      this.refused++;
      socket.destroy();
      return;
    }
    this.total++;
    this.perAddress.set(address, fromAddress + 1);
    // On a TLS listener the TLS layer reads the socket itself (a 'data' listener here would never fire).
    // Real time on purpose: a bound on a silent peer, which a test's fake clock must not stretch.
    const silent = tls
      ? undefined
      : systemClock.schedule(() => socket.destroy(), firstByteTimeoutMs, { keepAlive: false });
    if (silent) socket.once('data', silent);
    socket.once('close', () => {
      silent?.();
      this.total--;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left === 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
  }
}
