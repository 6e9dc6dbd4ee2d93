// A small in-test dataplane agent: it gets its certificate (with a CSR or a CP-made key), serves mutual TLS with it,
// long-polls its trust bundle with If-None-Match, swaps in a new bundle or certificate the moment it gets one,
// re-issues when told, renews, and keeps opening mTLS connections to its peers, counting every handshake.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface Csr {
  csrPem: string;
  keyPem: string;
}

/** A CSR and its key, made by `openssl req` the way an operator would (ECDSA P-256). */
export async function opensslCsr(cn = 'x'): Promise<Csr> {
  const dir = mkdtempSync(join(tmpdir(), 'meshcp-agent-csr-'));
  try {
    const key = join(dir, 'key.pem');
    const csr = join(dir, 'csr.pem');
    await execFileAsync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-subj', `/CN=${cn}`, '-keyout', key, '-out', csr]);
    return { csrPem: readFileSync(csr, 'utf8'), keyPem: readFileSync(key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Peer {
  name: string;
  service: string;
  port: number;
}

export interface HeldCertificate {
  backend: string;
  certPem: string;
  keyPem: string;
  notAfter: string;
}

export interface AgentOptions {
  cpUrl: string;
  mesh: string;
  name: string;
  service: string;
  token: string;
  /** Send this CSR (the key stays here); without it the CP generates the key. */
  csr?: Csr;
  /** Hold the acknowledgement of a new bundle back this long (ms, random in range) after installing it. */
  ackDelayMs?: [number, number];
  /** The "small random delay" before a re-issue the CP asked for (ms, random in range). */
  reissueDelayMs?: [number, number];
  /** Renew this often on top of renewAfter, as an agent with short-lived certificates would. */
  renewEveryMs?: number;
  /** Long-poll duration sent as `?wait=`. */
  pollWait?: string;
}

export interface ConnectResult {
  ok: boolean;
  detail: string;
}

export interface ServerRejection {
  at: number;
  reason: string;
  /** Why Node refused the client's certificate (e.g. UNABLE_TO_GET_ISSUER_CERT), when that was the reason. */
  authorizationError?: string;
}

interface HttpAnswer {
  status: number;
  text: string;
}

const between = ([min, max]: [number, number]) => min + Math.random() * (max - min);

/** The URI SANs of a certificate as Node reports them (`URI:a, URI:b`), from TLS or from an X509Certificate. */
export function uriSans(cert: { subjectaltname?: string } | X509Certificate): string[] {
  const sans = cert instanceof X509Certificate ? cert.subjectAltName : cert.subjectaltname;
  return (sans ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

export class Agent {
  /** What the agent uses right now. */
  certPem = '';
  keyPem = '';
  bundlePem = '';
  bundleVersion = '';
  issuedBackend = '';
  /** The bundle version the agent has let the CP know it holds (after the hold-back). */
  releasedVersion: string | undefined;
  /** Every certificate it was issued, oldest first. */
  readonly certificates: HeldCertificate[] = [];
  /** Every bundle version it installed, in order. */
  readonly bundles: string[] = [];
  readonly stats = { ok: 0, failed: 0, failures: [] as string[], cpErrors: [] as string[] };
  /** Handshakes this agent's listener did not complete (a refused certificate, or a client that gave up). */
  readonly serverRejections: ServerRejection[] = [];
  port = 0;

  private server?: tls.Server;
  private stopped = false;
  /** Its own connections to the CP, so that stopping really hangs up (as a dataplane that goes away does). */
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly inflight = new Set<http.ClientRequest>();
  private readonly stopping = new AbortController();
  private pollLoop?: Promise<void>;
  private trafficLoop?: Promise<void>;
  private issueChain: Promise<void> = Promise.resolve();
  private issueQueued?: Promise<void>;
  private renewTimer?: NodeJS.Timeout;
  private renewInterval?: NodeJS.Timeout;

  constructor(readonly options: AgentOptions) {}

  get name() {
    return this.options.name;
  }

  get service() {
    return this.options.service;
  }

  private url(suffix: string) {
    return `${this.options.cpUrl}/meshes/${this.options.mesh}/dataplanes/${this.options.name}/${suffix}`;
  }

  /** A sleep that ends early when the agent stops. */
  private pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => {});
  }

  private get auth() {
    return { authorization: `Bearer ${this.options.token}` };
  }

  private send(method: string, url: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers, agent: this.httpAgent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          this.inflight.delete(req);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() });
        });
        res.on('error', reject);
      });
      this.inflight.add(req);
      req.on('error', (err) => {
        this.inflight.delete(req);
        reject(err);
      });
      req.end(body);
    });
  }

  /** Gets a certificate, starts the mTLS listener, and starts long-polling the trust bundle. */
  async start(): Promise<void> {
    await this.issue();
    this.server = tls.createServer(this.secureOptions(), (socket) => {
      socket.on('error', () => {}); // a peer that goes away mid-greeting is not a handshake failure
      const client = uriSans(socket.getPeerCertificate()).find((u) => u.startsWith(`spiffe://${this.options.mesh}/`));
      socket.end(`${this.name} greets ${client ?? 'nobody'}\n`);
    });
    this.server.on('tlsClientError', (err, socket) => {
      // Node destroys a socket whose client certificate does not verify: the error is a hang-up, the reason is here.
      const authorizationError = (socket as tls.TLSSocket & { authorizationError?: string }).authorizationError;
      this.serverRejections.push({ at: Date.now(), reason: err.message, ...(authorizationError ? { authorizationError: String(authorizationError) } : {}) });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    this.pollLoop = this.poll();
    if (this.options.renewEveryMs) {
      this.renewInterval = setInterval(() => void this.issue(), this.options.renewEveryMs);
      this.renewInterval.unref();
    }
  }

  private secureOptions(): tls.SecureContextOptions & tls.TlsOptions {
    return { key: this.keyPem, cert: this.certPem, ca: this.bundlePem, requestCert: true, rejectUnauthorized: true };
  }

  /** Swaps the listener's certificate and bundle live; new handshakes use them at once. */
  private applyToServer() {
    this.server?.setSecureContext({ key: this.keyPem, cert: this.certPem, ca: this.bundlePem });
  }

  private installBundle(caBundle: string, version: string) {
    if (version === this.bundleVersion) return;
    this.bundlePem = caBundle;
    this.bundleVersion = version;
    this.bundles.push(version);
    this.applyToServer();
  }

  /** Requests a certificate; requests are serialized so the last one recorded by the CP is the one in use. */
  issue(): Promise<void> {
    if (this.issueQueued) return this.issueQueued;
    const next = this.issueChain.then(async () => {
      this.issueQueued = undefined;
      if (this.stopped) return;
      try {
        await this.requestCertificate();
      } catch (err) {
        if (!this.stopped) this.stats.cpErrors.push(`${this.name} certificate: ${(err as Error).message}`);
      }
    });
    this.issueQueued = next;
    this.issueChain = next.catch(() => {});
    return next;
  }

  private async requestCertificate(): Promise<void> {
    const body: Record<string, string> = {};
    if (this.options.csr) body.csr = this.options.csr.csrPem;
    // Acknowledge only what the agent has released (see ackDelayMs); omitting it claims nothing.
    if (this.releasedVersion && this.releasedVersion === this.bundleVersion) body.bundleVersion = this.releasedVersion;
    const res = await this.send('POST', this.url('certificate'), { ...this.auth, 'content-type': 'application/json' }, JSON.stringify(body));
    if (res.status !== 200) {
      this.stats.cpErrors.push(`${this.name} certificate: ${res.status} ${res.text}`);
      return;
    }
    const answer = JSON.parse(res.text) as {
      certificate: string;
      privateKey?: string;
      issuedBackend: string;
      caBundle: string;
      bundleVersion: string;
      notAfter: string;
      renewAfter: string;
    };
    this.certPem = answer.certificate;
    this.keyPem = answer.privateKey ?? this.options.csr!.keyPem;
    this.issuedBackend = answer.issuedBackend;
    this.certificates.push({ backend: answer.issuedBackend, certPem: this.certPem, keyPem: this.keyPem, notAfter: answer.notAfter });
    // The first bundle comes with the first certificate; later ones come from the poll, which also acknowledges.
    if (this.bundlePem === '') this.installBundle(answer.caBundle, answer.bundleVersion);
    this.applyToServer();
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.issue(), Math.max(0, Date.parse(answer.renewAfter) - Date.now()));
    this.renewTimer.unref();
  }

  /** The trust-bundle long-poll: If-None-Match acknowledges; a new bundle is installed before it is acknowledged. */
  private async poll(): Promise<void> {
    const wait = this.options.pollWait ?? '10s';
    while (!this.stopped) {
      let res: HttpAnswer;
      try {
        res = await this.send('GET', this.url(`trust-bundle?wait=${wait}`), {
          ...this.auth,
          ...(this.releasedVersion ? { 'if-none-match': `"${this.releasedVersion}"` } : {}),
        });
      } catch (err) {
        if (this.stopped) return;
        this.stats.cpErrors.push(`${this.name} trust-bundle: ${(err as Error).message}`);
        await this.pause(200);
        continue;
      }
      if (res.status === 304) continue;
      if (res.status !== 200) {
        this.stats.cpErrors.push(`${this.name} trust-bundle: ${res.status} ${res.text}`);
        await this.pause(200);
        continue;
      }
      const bundle = JSON.parse(res.text) as { caBundle: string; bundleVersion: string; reissue: boolean };
      this.installBundle(bundle.caBundle, bundle.bundleVersion);
      const holdBack =
        this.releasedVersion === bundle.bundleVersion
          ? Promise.resolve()
          : this.pause(between(this.options.ackDelayMs ?? [0, 0])).then(() => {
              this.releasedVersion = bundle.bundleVersion;
            });
      const reissue = bundle.reissue
        ? this.pause(between(this.options.reissueDelayMs ?? [0, 0])).then(() => this.issue())
        : Promise.resolve();
      await Promise.all([holdBack, reissue]);
    }
  }

  /** One mTLS connection to `peer` with the given material; succeeds only when the peer greets us back. */
  tryConnect(peer: Peer, material?: { certPem: string; keyPem: string; bundlePem?: string }): Promise<ConnectResult> {
    const expected = `spiffe://${this.options.mesh}/${peer.service}`;
    return new Promise((resolve) => {
      let settled = false;
      let data = '';
      const done = (ok: boolean, detail: string) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        resolve({ ok, detail });
      };
      const socket = tls.connect({
        host: '127.0.0.1',
        port: peer.port,
        key: material?.keyPem ?? this.keyPem,
        cert: material?.certPem ?? this.certPem,
        ca: material?.bundlePem ?? this.bundlePem,
        rejectUnauthorized: true,
        // Leaves carry URI SANs only: check the peer's SPIFFE identity instead of a hostname.
        checkServerIdentity: (_host, cert) =>
          uriSans(cert).includes(expected) ? undefined : new Error(`peer ${peer.name} is not ${expected}: ${cert.subjectaltname}`),
      });
      socket.setTimeout(5_000, () => done(false, 'timeout'));
      socket.on('data', (chunk) => (data += chunk));
      socket.on('end', () => {
        const want = `${peer.name} greets spiffe://${this.options.mesh}/${this.service}\n`;
        done(data === want, data === want ? 'ok' : `unexpected greeting ${JSON.stringify(data)}`);
      });
      socket.on('error', (err) => done(false, err.message));
    });
  }

  async connect(peer: Peer): Promise<void> {
    const result = await this.tryConnect(peer);
    if (result.ok) this.stats.ok++;
    else {
      this.stats.failed++;
      this.stats.failures.push(
        `${new Date().toISOString()} ${this.name} -> ${peer.name}: ${result.detail} (holding ${this.issuedBackend}, bundle ${this.bundleVersion})`,
      );
    }
  }

  /** Keeps connecting to every peer, in a random order each round, until stopTraffic(). */
  startTraffic(peers: Peer[], pauseMs = 20): void {
    this.trafficLoop = (async () => {
      while (!this.stopped) {
        for (const peer of [...peers].sort(() => Math.random() - 0.5)) {
          if (this.stopped) return;
          await this.connect(peer);
        }
        await this.pause(pauseMs);
      }
    })();
  }

  /** Stops polling, renewing and connecting; the listener stays up until close(). */
  async stopActivity(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    clearTimeout(this.renewTimer);
    clearInterval(this.renewInterval);
    for (const req of this.inflight) req.destroy();
    await Promise.allSettled([this.pollLoop, this.trafficLoop, this.issueChain]);
    this.httpAgent.destroy();
  }

  async close(): Promise<void> {
    await this.stopActivity();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The certificates of the current bundle. */
  bundleRoots(): X509Certificate[] {
    return (this.bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem));
  }
}
