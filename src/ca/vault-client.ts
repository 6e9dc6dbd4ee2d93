import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

/*
 * The few Vault HTTP API calls a vault CA backend makes, over node:https (custom CA, SNI name, client certificate).
 * Errors are classified for the caller: Vault unreachable or unavailable (network, timeout, 5xx such as a sealed
 * Vault) versus Vault refusing (4xx, with Vault's own `errors` messages) versus an answer that makes no sense.
 * Tokens are sent in headers only and never appear in an error message.
 */

export interface VaultConnection {
  address: string;
  namespace?: string;
  pki: string;
  role: string;
  commonName?: string;
  tls: { caPem?: string; skipVerify: boolean; serverName?: string };
  auth: { token: string } | { clientCertPem: string; clientKeyPem: string };
}

/** Vault could not be reached, or answered that it cannot serve now (5xx): retrying later may help. */
export class VaultUnavailable extends Error {}
/** Vault answered 4xx: its configuration (role, policy, mount, token) refuses the call. */
export class VaultRefused extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
/** Vault answered 2xx with a body meshcp cannot use. */
export class VaultBadAnswer extends Error {}

const TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1024 * 1024;

export interface VaultCall {
  method: 'GET' | 'POST';
  path: string;
  body?: object;
  token?: string;
  /** Milliseconds before giving up (default 10 s); issuance passes the backend's `dpCert.requestTimeout`. */
  timeoutMs?: number;
}

function describeNetworkError(err: NodeJS.ErrnoException, timeoutMs: number): string {
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ENOTFOUND') return 'host not found';
  if (err.code === 'ETIMEDOUT' || err.message === 'timeout') return `no answer within ${timeoutMs / 1000}s`;
  if (err.code?.startsWith('ERR_TLS') || /certificate|self[- ]signed|altnames/i.test(err.message))
    return `TLS: ${err.message}`;
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

/** Vault's error body is `{"errors": ["..."]}`; anything else is shown trimmed. */
function vaultErrors(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errors?: unknown };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) return parsed.errors.map(String).join('; ');
    if (Array.isArray(parsed.errors)) return 'no error message';
  } catch {
    // not JSON
  }
  const trimmed = text.trim().slice(0, 200);
  return trimmed === '' ? 'empty body' : trimmed;
}

/** One call to Vault; resolves with the body of a 2xx answer, throws a classified error otherwise. */
export function callVault(conn: VaultConnection, call: VaultCall): Promise<string> {
  return callVaultOnce(conn, call, false);
}

/**
 * `fresh`: on a new connection, not a kept-alive one. A request written to a kept-alive socket that Vault closed
 * meanwhile (a restart, or Vault going down) fails with ECONNRESET before any answer: it is sent once more on a new
 * connection, which then reaches the restarted Vault, or says plainly that it is down ("connection refused").
 */
function callVaultOnce(conn: VaultConnection, call: VaultCall, fresh: boolean): Promise<string> {
  const url = new URL(`/v1/${call.path}`, conn.address);
  const what = `${call.method} ${url.pathname}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (call.token !== undefined) headers['x-vault-token'] = call.token;
  if (conn.namespace) headers['x-vault-namespace'] = conn.namespace;
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const timeoutMs = call.timeoutMs ?? TIMEOUT_MS;
  const options: RequestOptions = { method: call.method, headers, ...(fresh ? { agent: false } : {}) };
  if (url.protocol === 'https:') {
    options.rejectUnauthorized = !conn.tls.skipVerify;
    if (conn.tls.caPem) options.ca = conn.tls.caPem;
    if (conn.tls.serverName) options.servername = conn.tls.serverName;
    if ('clientCertPem' in conn.auth) {
      options.cert = conn.auth.clientCertPem;
      options.key = conn.auth.clientKeyPem;
    }
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<string>((resolve, reject) => {
    let req: ReturnType<typeof send>;
    try {
      req = send(url, options, onResponse);
    } catch (err) {
      // TLS options Node cannot use (a CA or client key it cannot parse) fail before any connection.
      reject(new VaultUnavailable(`cannot connect to Vault at ${conn.address}: ${(err as Error).message}`));
      return;
    }
    let answered = false;
    function onResponse(res: IncomingMessage) {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy();
          reject(new VaultBadAnswer(`Vault's answer to ${what} is larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) =>
        reject(new VaultUnavailable(`Vault at ${conn.address} broke off its answer to ${what}: ${err.message}`)),
      );
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(text);
        else if (status >= 500)
          reject(new VaultUnavailable(`Vault answered ${status} to ${what}: ${vaultErrors(text)}`));
        else reject(new VaultRefused(`Vault answered ${status} to ${what}: ${vaultErrors(text)}`, status));
      });
    }
    // A deadline for the whole call, not an idle timeout: a Vault that dribbles bytes cannot hold a request open.
    const deadline = setTimeout(
      () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    req.on('close', () => clearTimeout(deadline));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!fresh && !answered && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        resolve(callVaultOnce(conn, call, true));
        return;
      }
      reject(
        new VaultUnavailable(
          `Vault at ${conn.address} cannot be reached (${what}): ${describeNetworkError(err, timeoutMs)}`,
        ),
      );
    });
    req.end(payload);
  });
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new VaultBadAnswer(`Vault's answer to ${what} is not a JSON object`);
}

/** Tokens from a TLS certificate login, per connection (a new one exists after every mesh or secret change). */
const loginTokens = new WeakMap<VaultConnection, string>();

/** The token to send: the configured one, or one obtained by TLS certificate login (`auth/cert`). */
export async function vaultToken(conn: VaultConnection): Promise<string> {
  if ('token' in conn.auth) return conn.auth.token;
  const cached = loginTokens.get(conn);
  if (cached !== undefined) return cached;
  const body = parseJson(
    await callVault(conn, { method: 'POST', path: 'auth/cert/login', body: {} }),
    'the cert login',
  );
  const token = (body.auth as { client_token?: unknown } | undefined)?.client_token;
  if (typeof token !== 'string' || token === '')
    throw new VaultBadAnswer("Vault's cert login answer has no auth.client_token");
  loginTokens.set(conn, token);
  return token;
}

/** Checks the credentials: a token must be valid (`auth/token/lookup-self`); a cert login must succeed. */
export async function checkVaultCredentials(conn: VaultConnection): Promise<void> {
  const token = await vaultToken(conn);
  if ('token' in conn.auth) await callVault(conn, { method: 'GET', path: 'auth/token/lookup-self', token });
}

/** The PKI mount's CA chain, issuer first: `ca_chain`, with `ca/pem` (the issuer) put first when it is missing. */
export async function fetchVaultCaChain(conn: VaultConnection): Promise<string> {
  const issuer = await callVault(conn, { method: 'GET', path: `${conn.pki}/ca/pem` });
  const chain = await callVault(conn, { method: 'GET', path: `${conn.pki}/ca_chain` });
  const blocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const issuerBlocks = blocks(issuer);
  if (issuerBlocks.length === 0)
    throw new VaultBadAnswer(
      `Vault's GET /v1/${conn.pki}/ca/pem has no PEM certificate (is the mount's CA configured?)`,
    );
  const normalise = (b: string) => b.replace(/\s+/g, '');
  const rest = blocks(chain).filter((b) => normalise(b) !== normalise(issuerBlocks[0]!));
  return [issuerBlocks[0]!, ...rest].map((b) => `${b}\n`).join('');
}

export interface VaultLeaf {
  certificatePem: string;
  privateKeyPem?: string;
}

/** `sign/<role>` with the dataplane's CSR, or `issue/<role>` (Vault makes the key) without one. */
export async function issueFromVault(
  conn: VaultConnection,
  request: { csr?: string; commonName?: string; uris: string[]; ttlSeconds: number; timeoutMs?: number },
): Promise<VaultLeaf> {
  const endpoint = request.csr === undefined ? 'issue' : 'sign';
  const body = {
    ...(request.csr !== undefined ? { csr: request.csr } : {}),
    ...(request.commonName !== undefined ? { common_name: request.commonName } : {}),
    uri_sans: request.uris.join(','),
    ttl: `${request.ttlSeconds}s`,
    format: 'pem',
    ...(request.csr === undefined ? { private_key_format: 'pkcs8' } : {}),
  };
  const what = `POST /v1/${conn.pki}/${endpoint}/${conn.role}`;
  const post = async () =>
    callVault(conn, {
      method: 'POST',
      path: `${conn.pki}/${endpoint}/${conn.role}`,
      body,
      token: await vaultToken(conn),
      timeoutMs: request.timeoutMs,
    });
  let text: string;
  try {
    text = await post();
  } catch (err) {
    // A login token that expired or was revoked: log in again, once.
    if (!(err instanceof VaultRefused && err.status === 403 && loginTokens.delete(conn))) throw err;
    text = await post();
  }
  const answer = parseJson(text, what);
  const data = answer.data as Record<string, unknown> | undefined;
  const certificate = data?.certificate;
  if (typeof certificate !== 'string' || !certificate.includes('-----BEGIN CERTIFICATE-----')) {
    throw new VaultBadAnswer(`Vault's answer to ${what} has no data.certificate in PEM`);
  }
  if (request.csr !== undefined) return { certificatePem: certificate };
  const privateKey = data?.private_key;
  if (typeof privateKey !== 'string' || !privateKey.includes('PRIVATE KEY-----')) {
    throw new VaultBadAnswer(`Vault's answer to ${what} has no data.private_key in PEM`);
  }
  return { certificatePem: certificate, privateKeyPem: privateKey };
}
