/**
 * A small HTTP(S) client for the control plane's API, shared by meshctl and the meshcp-dp agent. Given several
 * addresses (instances of one HA control plane) it fails over between them (addresses.ts, failover.ts).
 * It uses node:http/https (not fetch) so that a custom CA for the CP's self-signed HTTPS listener can be given.
 */
import http from 'node:http';
import https from 'node:https';
import { AddressList, parseAddressList } from './addresses.js';
import { apiErrorLines } from './errors.js';
import {
  FAILOVER_STATUSES,
  isFailover,
  isTlsTrustError,
  mayResendAfter,
  mayResendAfterStatus,
  type AttemptFailure,
} from './failover.js';

export interface ClientOptions {
  /**
   * Base URL of the CP, e.g. http://127.0.0.1:5681; several (instances of one HA control plane) are tried in order
   * and the client stays on the one that answers. An AddressList shares the current address between clients.
   */
  address: string | readonly string[] | AddressList;
  /** Admin or dataplane token, sent as `Authorization: Bearer`; a function is called before every request. */
  token?: string | (() => string | Promise<string>);
  /** PEM CA to verify an HTTPS control plane (its server certificate is self-signed). */
  caPem?: string;
  /** Skip HTTPS verification (development only). */
  insecure?: boolean;
  userAgent?: string;
  /**
   * Bound on one attempt at one address, from sending to the whole answer, unless the request gives its own
   * (default 15 s): an instance that accepts connections and never answers costs this long, then the next is tried.
   */
  timeoutMs?: number;
  /** Called with the address that answered a request (meshctl --verbose names it). */
  onAnswer?: (address: string) => void;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** This request's bound per attempt (a long-poll: its wait plus a margin). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** An error answer of the API, parsed from its standard error body. */
export class ApiCallError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
    readonly retryAfterSeconds: number | undefined,
    readonly lines: string[],
  ) {
    super(lines.join('\n'));
    this.name = 'ApiCallError';
  }

  /** The `causes` of the body (field + message). */
  get causes(): { field: string; message: string }[] {
    const causes = (this.body as { causes?: unknown })?.causes;
    return Array.isArray(causes) ? (causes as { field: string; message: string }[]) : [];
  }
}

class DeadlinePassed extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** The control plane could not be reached at all (at one address, or at any of several: `tried`). */
export class ConnectionError extends Error implements AttemptFailure {
  readonly code?: string;
  readonly timedOut: boolean;
  /** Short: ECONNREFUSED, "no answer within 15000 ms"... */
  readonly reason: string;

  constructor(
    readonly address: string,
    /** What the transport reported (of the last address, when several were tried). */
    readonly cause: Error,
    readonly reachedServer = false,
    /** Every address tried and why it failed, when several were. */
    readonly tried: { address: string; reason: string }[] = [],
  ) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason = code ?? cause.message;
    const tls = isTlsTrustError(code);
    const where =
      tried.length > 1
        ? `no control plane answered (${tried.map((t) => `${t.address}: ${t.reason}`).join('; ')})`
        : `cannot reach the control plane at ${address}: ${reason}`;
    super(
      where +
        (tls
          ? ' (its HTTPS certificate is not trusted: pass --ca-cert <data dir>/server-cert.pem, or --insecure-skip-verify)'
          : ''),
    );
    this.name = 'ConnectionError';
    this.code = code;
    this.timedOut = cause instanceof DeadlinePassed;
    this.reason = reason;
  }
}

export class ApiClient {
  readonly addresses: AddressList;

  constructor(readonly options: ClientOptions) {
    const given = options.address;
    this.addresses = given instanceof AddressList ? given : new AddressList(parseAddressList(given));
  }

  /** The address in use: the one that answered last. */
  get address(): string {
    return this.addresses.current;
  }

  /**
   * A request; any status is returned as is. Sent to the current address; when that one does not answer (see
   * failover.ts) the next becomes current and, if the request may be sent again, gets it — each address once.
   */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const list = this.addresses;
    const tried: { address: string; reason: string }[] = [];
    for (;;) {
      const address = list.current;
      const last = tried.length + 1 >= list.size;
      let response: HttpResponse;
      try {
        response = await this.attempt(address, method, path, options);
      } catch (err) {
        if (!(err instanceof ConnectionError) || !isFailover(err)) throw err;
        tried.push({ address, reason: err.reason });
        list.advance(address, err.reason);
        if (last || !mayResendAfter(method, err)) {
          throw tried.length > 1 ? new ConnectionError(address, err.cause, err.reachedServer, tried) : err;
        }
        continue;
      }
      if (FAILOVER_STATUSES.has(response.status)) {
        tried.push({ address, reason: `HTTP ${response.status}` });
        list.advance(address, `HTTP ${response.status}`);
        if (!last && mayResendAfterStatus(method)) continue;
      }
      this.options.onAnswer?.(address);
      return response;
    }
  }

  /** One attempt at one address. */
  private async attempt(address: string, method: string, path: string, options: RequestOptions): Promise<HttpResponse> {
    const base = new URL(address);
    const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base.href : base.href + '/');
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.options.userAgent) headers['user-agent'] = this.options.userAgent;
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const isHttps = url.protocol === 'https:';
    const transport = isHttps ? https : http;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<HttpResponse>((resolve, reject) => {
      let reachedServer = false;
      const request = transport.request(
        url,
        {
          method,
          headers,
          signal: options.signal,
          ...(isHttps ? { ca: this.options.caPem, rejectUnauthorized: !this.options.insecure } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (err) => fail(err));
          response.on('end', () => {
            clearTimeout(deadline);
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      // A whole-exchange deadline (not an idle timeout): a server that trickles bytes is bounded too.
      const deadline = setTimeout(() => request.destroy(new DeadlinePassed(timeoutMs)), timeoutMs);
      // A kept-alive socket is connected already; a new one counts once its TCP connection is made.
      request.on('socket', (socket) => {
        if (!socket.connecting) reachedServer = true;
        else socket.once('connect', () => (reachedServer = true));
      });
      const fail = (err: Error) => {
        clearTimeout(deadline);
        if (err.name === 'AbortError') reject(err);
        else reject(new ConnectionError(address, err, reachedServer));
      };
      request.on('error', fail);
      request.end(payload);
    });
  }

  /** A request that must succeed (2xx or one of `accept`); errors become ApiCallError with readable lines. */
  async call(
    method: string,
    path: string,
    options: RequestOptions & { accept?: number[] } = {},
  ): Promise<HttpResponse> {
    const response = await this.raw(method, path, options);
    const ok = (response.status >= 200 && response.status < 300) || options.accept?.includes(response.status);
    if (ok) return response;
    let body: unknown = response.text;
    try {
      body = JSON.parse(response.text);
    } catch {
      // not JSON: keep the text
    }
    const retryAfter = Number(response.headers['retry-after']);
    throw new ApiCallError(
      method,
      path,
      response.status,
      body,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      apiErrorLines(response.status, body),
    );
  }

  async getJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.call('GET', path, options);
    return JSON.parse(response.text) as T;
  }

  /** Every item of a list endpoint, following `next` links. */
  async listAll<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T[]> {
    const items: T[] = [];
    let offset = 0;
    for (;;) {
      const page = await this.getJson<{ items: T[]; next: string | null; total: number }>(path, {
        query: { ...query, size: 1000, offset },
      });
      items.push(...page.items);
      if (!page.next || page.items.length === 0) return items;
      offset += page.items.length;
    }
  }

  async put(path: string, body: unknown, query: Record<string, string | undefined> = {}): Promise<HttpResponse> {
    return this.call('PUT', path, { body, query });
  }
}
