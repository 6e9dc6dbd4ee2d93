// A Vault PKI API double for tests, written from Vault's published HTTP API documentation (no Vault code): the
// paths meshcp calls, their request and response bodies, `{"errors": [...]}` error bodies, the X-Vault-Token and
// X-Vault-Namespace headers, TLS certificate login, and the role limits that decide what a certificate may carry
// (allowed_uri_sans globs, max_ttl, allow_any_name / allowed_domains, require_cn). Served over HTTPS with its own
// self-signed server certificate. It signs with the control plane's X.509 code (empty subject, URI SANs), which is
// fine for a test double; a real Vault also puts the common name in the subject.
import { generateKeyPairSync, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CsrError, parseAndVerifyCsr } from '../../src/ca/csr.js';
import { ecdsaRootCa } from './ecdsa-ca.js';
import {
  createSelfSignedServerCertificate,
  issueLeafCertificate,
  loadCaSigner,
  type CaSigner,
} from '../../src/ca/x509.js';

export interface VaultRole {
  /** Globs (`*` any run of characters) every requested URI SAN must match. */
  allowedUriSans: string[];
  maxTtlSeconds: number;
  allowAnyName?: boolean;
  /** Common names allowed: exact names, or `*.suffix` globs. */
  allowedDomains?: string[];
  /** Vault's default is true: a request without a common name is refused. */
  requireCn?: boolean;
  /** Key made by `issue`: Vault's default is RSA 2048; EC P-256 keeps tests quick. */
  keyType?: 'ec' | 'rsa';
}

export interface VaultDoubleOptions {
  pki?: string;
  namespace?: string;
  tokens?: string[];
  roles?: Record<string, VaultRole>;
  /** SHA-256 fingerprints (Node's colon hex) of client certificates `auth/cert/login` accepts. */
  trustedClientCerts?: string[];
  caLifetimeMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  token?: string;
  namespace?: string;
  body?: any;
}

interface PkiCa {
  signer: CaSigner;
  pem: string;
}

function newCa(name: string, lifetimeMs: number): PkiCa {
  const ca = ecdsaRootCa(name, lifetimeMs);
  return { pem: ca.certPem, signer: loadCaSigner(ca.certPem, ca.keyPem) };
}

const globToRegExp = (glob: string) =>
  new RegExp(
    `^${glob
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

/** Go-style durations as Vault reads `ttl`: "90s", "15m", "24h", "1h30m", or a number of seconds. */
function parseTtl(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const units: Record<string, number> = { h: 3600, m: 60, s: 1 };
  let total = 0;
  const rest = value.replace(/(\d+)([hms])/g, (_, n: string, u: string) => {
    total += Number(n) * units[u]!;
    return '';
  });
  return rest === '' ? total : Number.NaN;
}

export class VaultPkiDouble {
  readonly requests: RecordedRequest[] = [];
  /** PEM of the double's self-signed HTTPS certificate: what `fromCp.tls.caCert` must name. */
  readonly tlsCaPem: string;
  sealed = false;
  /** Accept requests and never answer them (a stuck Vault). */
  hanging = false;
  /** Answer issuance with a broken field, as a misbehaving proxy or Vault might. */
  corrupt: 'certificate' | 'private_key' | undefined;
  private server?: Server;
  private port = 0;
  private ca: PkiCa;
  private readonly tlsKeyPem: string;
  private readonly roles: Map<string, VaultRole>;
  private readonly tokens: Set<string>;
  private readonly loginTokens = new Set<string>();
  private readonly pki: string;

  private constructor(private readonly options: VaultDoubleOptions) {
    this.pki = options.pki ?? 'pki';
    this.ca = newCa('vault-root', options.caLifetimeMs ?? 365 * 24 * 3600_000);
    this.roles = new Map(Object.entries(options.roles ?? {}));
    this.tokens = new Set(options.tokens ?? []);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.tlsCaPem = createSelfSignedServerCertificate({
      privateKey,
      publicKey,
      commonName: 'vault.test',
      dnsNames: ['localhost', 'vault.test'],
      ipAddresses: ['127.0.0.1'],
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 24 * 3600_000),
    });
    this.tlsKeyPem = (privateKey as KeyObject).export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  static async start(options: VaultDoubleOptions = {}): Promise<VaultPkiDouble> {
    const vault = new VaultPkiDouble(options);
    await vault.up();
    return vault;
  }

  get address(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** PEM of the PKI mount's CA (what meshcp must put in trust bundles). */
  get caPem(): string {
    return this.ca.pem;
  }

  get caSha256(): string {
    return new X509Certificate(this.ca.pem).fingerprint256;
  }

  /** Serves again (after `down()`), on the same port. */
  async up(): Promise<void> {
    const server = createServer(
      { cert: this.tlsCaPem, key: this.tlsKeyPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        this.handle(req, res).catch((err: Error) => reply(res, 500, { errors: [`double failed: ${err.message}`] }));
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every connection: Vault is down. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Replaces the mount's CA (as an operator re-generating the root would): certificates no longer chain to the old one. */
  replaceCa(): void {
    this.ca = newCa('vault-root-2', this.options.caLifetimeMs ?? 365 * 24 * 3600_000);
  }

  setRole(name: string, role: VaultRole): void {
    this.roles.set(name, role);
  }

  revokeToken(token: string): void {
    this.tokens.delete(token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://vault');
    const path = url.pathname.replace(/^\/v1\//, '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: any;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        return reply(res, 400, { errors: ['failed to parse JSON input: invalid character'] });
      }
    }
    const token = header(req, 'x-vault-token');
    const namespace = header(req, 'x-vault-namespace');
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      ...(token ? { token } : {}),
      ...(namespace ? { namespace } : {}),
      ...(body ? { body } : {}),
    });

    if (this.hanging) return;
    if (this.sealed) return reply(res, 503, { errors: ['Vault is sealed'] });
    const wantNamespace = (this.options.namespace ?? '').replace(/\/$/, '');
    if ((namespace ?? '').replace(/\/$/, '') !== wantNamespace && !path.startsWith('sys/')) {
      return reply(res, 404, { errors: [`no handler for route "${path}". route entry not found.`] });
    }
    const authed = token !== undefined && (this.tokens.has(token) || this.loginTokens.has(token));

    if (req.method === 'POST' && path === 'auth/cert/login') return this.certLogin(req, res);
    if (req.method === 'GET' && path === 'auth/token/lookup-self') {
      if (!authed) return reply(res, 403, { errors: ['permission denied'] });
      return reply(res, 200, { data: { id: 'redacted', policies: ['meshcp'], ttl: 0 } });
    }
    if (req.method === 'GET' && path === `${this.pki}/ca/pem`) return replyText(res, this.ca.pem);
    if (req.method === 'GET' && path === `${this.pki}/ca_chain`) return replyText(res, this.ca.pem);
    const issuing = new RegExp(`^${this.pki}/(sign|issue)/([^/]+)$`).exec(path);
    if (req.method === 'POST' && issuing) {
      if (!authed) return reply(res, 403, { errors: ['permission denied'] });
      return this.issue(res, issuing[1] as 'sign' | 'issue', issuing[2]!, body ?? {});
    }
    return reply(res, 404, { errors: [`no handler for route "${path}". route entry not found.`] });
  }

  private certLogin(req: IncomingMessage, res: ServerResponse): void {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    const fingerprint = peer && 'fingerprint256' in peer ? peer.fingerprint256 : undefined;
    if (!fingerprint || !(this.options.trustedClientCerts ?? []).includes(fingerprint)) {
      return reply(res, 400, { errors: ['invalid certificate or no client certificate supplied'] });
    }
    const clientToken = `hvs.login-${randomUUID()}`;
    this.loginTokens.add(clientToken);
    reply(res, 200, {
      auth: { client_token: clientToken, policies: ['meshcp'], lease_duration: 3600, renewable: true },
    });
  }

  private issue(res: ServerResponse, mode: 'sign' | 'issue', roleName: string, body: Record<string, unknown>): void {
    const role = this.roles.get(roleName);
    if (!role) return reply(res, 400, { errors: [`unknown role: ${roleName}`] });
    const commonName = typeof body.common_name === 'string' && body.common_name !== '' ? body.common_name : undefined;
    if (commonName === undefined && role.requireCn !== false) {
      return reply(res, 400, {
        errors: [
          'the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, unless "require_cn" is set to false',
        ],
      });
    }
    if (
      commonName !== undefined &&
      !role.allowAnyName &&
      !(role.allowedDomains ?? []).some((d) => globToRegExp(d).test(commonName))
    ) {
      return reply(res, 400, { errors: [`common name ${commonName} not allowed by this role`] });
    }
    const uris = typeof body.uri_sans === 'string' && body.uri_sans !== '' ? body.uri_sans.split(',') : [];
    for (const uri of uris) {
      if (!role.allowedUriSans.some((glob) => globToRegExp(glob).test(uri))) {
        return reply(res, 400, { errors: [`URI Subject Alternative Name ${uri} not allowed by this role`] });
      }
    }
    const warnings: string[] = [];
    let ttl = body.ttl === undefined ? role.maxTtlSeconds : parseTtl(body.ttl);
    if (ttl === undefined || Number.isNaN(ttl))
      return reply(res, 400, { errors: [`error parsing ttl: invalid duration ${JSON.stringify(body.ttl)}`] });
    if (ttl > role.maxTtlSeconds) {
      warnings.push(`TTL "${ttl}s" is longer than permitted maxTTL "${role.maxTtlSeconds}s", so maxTTL is being used`);
      ttl = role.maxTtlSeconds;
    }
    const now = Date.now();
    const notAfter = new Date(Math.floor((now + ttl * 1000) / 1000) * 1000);
    if (notAfter > this.ca.signer.notAfter) {
      return reply(res, 400, {
        errors: [
          `cannot satisfy request, as TTL would result in notAfter ${notAfter.toISOString()} that is beyond the expiration of the CA certificate at ${this.ca.signer.notAfter.toISOString()}`,
        ],
      });
    }
    let spki: Buffer;
    let isRsa: boolean;
    let privateKeyPem: string | undefined;
    if (mode === 'sign') {
      if (typeof body.csr !== 'string') return reply(res, 400, { errors: ['"csr" is empty'] });
      try {
        const csr = parseAndVerifyCsr(body.csr);
        spki = csr.spkiDer;
        isRsa = csr.keyType === 'rsa';
      } catch (err) {
        if (!(err instanceof CsrError)) throw err;
        return reply(res, 400, { errors: ['certificate request could not be parsed: asn1: structure error'] });
      }
    } else {
      const pair =
        role.keyType === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      spki = pair.publicKey.export({ type: 'spki', format: 'der' });
      isRsa = role.keyType === 'rsa';
      privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    }
    if (uris.length === 0)
      return reply(res, 400, { errors: ['the double signs certificates with URI SANs only: uri_sans is empty'] });
    const leaf = issueLeafCertificate({
      ca: this.ca.signer,
      subjectPublicKeyDer: spki,
      publicKeyIsRsa: isRsa,
      uris,
      notBefore: new Date(now - 30_000), // Vault's default not_before_duration
      notAfter,
    });
    reply(res, 200, {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: {
        certificate: leaf.pem.trim(),
        issuing_ca: this.ca.pem.trim(),
        ca_chain: [this.ca.pem.trim()],
        serial_number: leaf.serialHex.toLowerCase().match(/../g)!.join(':'),
        expiration: Math.floor(notAfter.getTime() / 1000),
        ...(privateKeyPem ? { private_key: privateKeyPem.trim(), private_key_type: isRsa ? 'rsa' : 'ec' } : {}),
        ...(this.corrupt === 'certificate' ? { certificate: 'not a certificate' } : {}),
        ...(this.corrupt === 'private_key'
          ? { private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }
          : {}),
      },
      warnings: warnings.length > 0 ? warnings : null,
    });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function replyText(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'content-type': 'application/pem-certificate-chain' });
  res.end(text);
}

/** The SHA-256 fingerprint (Node's colon hex) of a PEM certificate, for `trustedClientCerts`. */
export const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;
