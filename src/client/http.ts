/**
 * A small HTTP(S) client for the control plane's API, shared by meshctl and the meshcp-dp agent.
 * It uses node:http/https (not fetch) so that a custom CA for the CP's self-signed HTTPS listener can be given.
 */
import http from 'node:http';
import https from 'node:https';
import { apiErrorLines } from './errors.js';

export interface ClientOptions {
  /** Base URL of the CP, e.g. http://127.0.0.1:5681 */
  address: string;
  /** Admin or dataplane token, sent as `Authorization: Bearer`. */
  token?: string;
  /** PEM CA to verify an HTTPS control plane (its server certificate is self-signed). */
  caPem?: string;
  /** Skip HTTPS verification (development only). */
  insecure?: boolean;
  userAgent?: string;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
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

/** The control plane could not be reached at all. */
export class ConnectionError extends Error {
  constructor(address: string, cause: Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    const tls = /CERT|SELF_SIGNED|ERR_TLS|UNABLE_TO_VERIFY/.test(code ?? '');
    super(
      `cannot reach the control plane at ${address}: ${code ?? cause.message}` +
        (tls ? ' (its HTTPS certificate is not trusted: pass --ca-cert <data dir>/server-cert.pem, or --insecure-skip-verify)' : ''),
    );
    this.name = 'ConnectionError';
  }
}

export class ApiClient {
  private readonly base: URL;

  constructor(readonly options: ClientOptions) {
    this.base = new URL(options.address);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new Error(`control plane address must be an http:// or https:// URL, got "${options.address}"`);
    }
  }

  get address(): string {
    return this.options.address;
  }

  /** A request; any status is returned as is. */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base.href : this.base.href + '/');
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.options.userAgent) headers['user-agent'] = this.options.userAgent;
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const isHttps = url.protocol === 'https:';
    const transport = isHttps ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
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
          response.on('error', reject);
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      if (options.timeoutMs) {
        request.setTimeout(options.timeoutMs, () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
      }
      request.on('error', (err) => {
        if ((err as Error).name === 'AbortError') reject(err);
        else reject(new ConnectionError(this.options.address, err));
      });
      request.end(payload);
    });
  }

  /** A request that must succeed (2xx or one of `accept`); errors become ApiCallError with readable lines. */
  async call(method: string, path: string, options: RequestOptions & { accept?: number[] } = {}): Promise<HttpResponse> {
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
      const page = await this.getJson<{ items: T[]; next: string | null; total: number }>(path, { query: { ...query, size: 1000, offset } });
      items.push(...page.items);
      if (!page.next || page.items.length === 0) return items;
      offset += page.items.length;
    }
  }

  async put(path: string, body: unknown, query: Record<string, string | undefined> = {}): Promise<HttpResponse> {
    return this.call('PUT', path, { body, query });
  }
}
