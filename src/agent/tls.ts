/**
 * Demo traffic over mTLS with the agent's material: an echo server on the inbound port whose context is swapped
 * live, and a caller that dials peers every second and counts handshake successes and failures.
 * Leaves carry URI SANs only: peers are checked against the bundle and their `spiffe://<mesh>/` URI, not a hostname.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { AgentEvent, AgentMaterial, DataplaneAgent } from './agent.js';
import { every, systemClock, type Clock } from '../domain/clock.js';

function contextOptions(material: AgentMaterial): tls.SecureContextOptions {
  return { key: material.keyPem, cert: material.certPem, ca: material.caPem };
}

/** URI SANs of a peer certificate (`URI:spiffe://default/web, URI:kuma://...`). */
function uriSans(cert: tls.PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/**
 * checkServerIdentity for mesh peers: the certificate must carry a SPIFFE ID of the mesh (and of `service`, if given),
 * or, in a mesh of the new model (`trustDomains` from the control plane), a SPIFFE ID of one of those trust domains.
 */
export function spiffeIdentityCheck(mesh: string, service?: string, trustDomains?: readonly string[]) {
  return (_host: string, cert: tls.PeerCertificate): Error | undefined => {
    if (trustDomains && !service) {
      const uris = uriSans(cert);
      const ok = uris.some((u) => trustDomains.some((td) => u.startsWith(`spiffe://${td}/`)));
      return ok
        ? undefined
        : new Error(
            `peer certificate has no SPIFFE ID of trust domain ${trustDomains.join(' or ')} (has: ${uris.join(', ') || 'none'})`,
          );
    }
    const expected = service ? `spiffe://${mesh}/${service}` : `spiffe://${mesh}/`;
    const uris = uriSans(cert);
    const ok = service ? uris.includes(expected) : uris.some((u) => u.startsWith(expected));
    return ok
      ? undefined
      : new Error(
          `peer certificate has no ${service ? expected : `${expected}*`} URI SAN (has: ${uris.join(', ') || 'none'})`,
        );
  };
}

const issuerOf = (cert: tls.PeerCertificate): string => {
  const issuer = cert.issuer as unknown as Record<string, string> | undefined;
  return issuer
    ? Object.entries(issuer)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : '';
};

export class EchoServer {
  private server?: tls.Server;
  handshakeFailures = 0;
  connections = 0;
  private readonly onMaterial = (material: AgentMaterial) => this.server?.setSecureContext(contextOptions(material));

  constructor(
    private readonly agent: DataplaneAgent,
    private readonly options: { host: string; port: number; log?: (e: AgentEvent) => void },
  ) {}

  async start(): Promise<number> {
    const material = this.agent.material;
    if (!material) throw new Error('the agent has no certificate yet');
    const server = tls.createServer(
      { ...contextOptions(material), requestCert: true, rejectUnauthorized: true },
      (socket) => {
        this.connections++;
        socket.on('error', () => socket.destroy());
        socket.pipe(socket);
      },
    );
    server.on('tlsClientError', (err, socket) => {
      this.handshakeFailures++;
      this.options.log?.({
        event: 'serve-handshake',
        ok: false,
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
        error: err.message,
      });
    });
    this.server = server;
    this.agent.on('material', this.onMaterial);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    this.options.log?.({ event: 'serving', address: `${this.options.host}:${port}` });
    return port;
  }

  async stop(): Promise<void> {
    this.agent.off('material', this.onMaterial);
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface Peer {
  host: string;
  port: number;
}

export function parsePeers(values: string[]): Peer[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v) => {
      const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(v);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`--call expects host:port, got "${v}"`);
      return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
    });
}

export interface CallStats {
  ok: number;
  /** TCP connected, then TLS or the echo failed: what a rotation must never cause. */
  failed: number;
  /** No TCP connection (peer not up yet): not a handshake failure. */
  unreachable: number;
}

export type CallOutcome =
  | { ok: true; peerIssuer: string; peerUris: string[] }
  | { ok: false; stage: 'connect' | 'handshake'; error: string };

/** One mTLS call: connect, handshake, echo a line. */
export function callOnce(peer: Peer, material: AgentMaterial, mesh: string, timeoutMs = 5000): Promise<CallOutcome> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const finish = (outcome: CallOutcome) => {
      if (settled) return;
      settled = true;
      cancelTimer();
      socket.destroy();
      resolve(outcome);
    };
    const socket = tls.connect({
      host: peer.host,
      port: peer.port,
      ...contextOptions(material),
      ...(isIP(peer.host) ? {} : { servername: peer.host }),
      checkServerIdentity: spiffeIdentityCheck(mesh, undefined, material.trustDomains),
    });
    // Real time on purpose: a bound on I/O, which a test's fake clock must not stretch.
    const cancelTimer = systemClock.schedule(
      () => finish({ ok: false, stage: connected ? 'handshake' : 'connect', error: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.on('connect', () => (connected = true));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish({
        ok: false,
        stage: connected ? 'handshake' : 'connect',
        error: err.code ? `${err.code}: ${err.message}` : err.message,
      }),
    );
    socket.on('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const payload = `ping ${randomBytes(8).toString('hex')}\n`;
      let echoed = '';
      socket.on('data', (chunk: Buffer) => {
        echoed += chunk.toString();
        if (echoed.length >= payload.length) {
          finish(
            echoed === payload
              ? { ok: true, peerIssuer: issuerOf(cert), peerUris: uriSans(cert) }
              : { ok: false, stage: 'handshake', error: 'echo mismatch' },
          );
        }
      });
      socket.on('end', () => finish({ ok: false, stage: 'handshake', error: 'connection closed before the echo' }));
      socket.write(payload);
    });
  });
}

export class PeerCaller {
  readonly stats = new Map<string, CallStats>();
  private stopTicks = () => {};
  private inFlight = new Set<Promise<void>>();
  /** Peers with a call still running: a slow call is never joined by the next one (no pile-up on a busy host). */
  private busy = new Set<string>();

  constructor(
    private readonly agent: DataplaneAgent,
    private readonly peers: Peer[],
    private readonly options: {
      mesh: string;
      clock: Clock;
      intervalMs?: number;
      /** How long one call may take before it counts as failed (default 5 s). */
      callTimeoutMs?: number;
      log?: (e: AgentEvent) => void;
    },
  ) {
    for (const p of peers) this.stats.set(`${p.host}:${p.port}`, { ok: 0, failed: 0, unreachable: 0 });
  }

  start(): void {
    const tick = () => {
      for (const peer of this.peers) {
        const key = `${peer.host}:${peer.port}`;
        if (this.busy.has(key)) continue;
        this.busy.add(key);
        const run = this.callPeer(peer).finally(() => {
          this.inFlight.delete(run);
          this.busy.delete(key);
        });
        this.inFlight.add(run);
      }
    };
    tick();
    this.stopTicks = every(this.options.clock, this.options.intervalMs ?? 1000, tick);
  }

  async stop(): Promise<void> {
    this.stopTicks();
    await Promise.all(this.inFlight);
  }

  totals(): CallStats {
    const sum: CallStats = { ok: 0, failed: 0, unreachable: 0 };
    for (const s of this.stats.values()) {
      sum.ok += s.ok;
      sum.failed += s.failed;
      sum.unreachable += s.unreachable;
    }
    return sum;
  }

  private async callPeer(peer: Peer): Promise<void> {
    const material = this.agent.material;
    if (!material) return;
    const key = `${peer.host}:${peer.port}`;
    const outcome = await callOnce(peer, material, this.options.mesh, this.options.callTimeoutMs);
    const stats = this.stats.get(key)!;
    if (outcome.ok) {
      stats.ok++;
      this.options.log?.({
        event: 'call',
        peer: key,
        ok: true,
        ownBackend: material.issuedBackend,
        peerIssuer: outcome.peerIssuer,
        peerId: outcome.peerUris[0],
      });
    } else if (outcome.stage === 'connect') {
      stats.unreachable++;
      this.options.log?.({ event: 'call', peer: key, ok: false, stage: 'connect', error: outcome.error });
    } else {
      stats.failed++;
      this.options.log?.({
        event: 'call',
        peer: key,
        ok: false,
        stage: 'handshake',
        ownBackend: material.issuedBackend,
        error: outcome.error,
      });
    }
  }
}
