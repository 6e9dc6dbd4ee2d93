import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Services } from '../../src/services.js';

export interface Param {
  field: string;
  reason: string;
}

export interface ExpectedError {
  status: number;
  title: string;
  detail?: string;
  /** Exact list, in order. Omit to skip; `[]` means "no invalid_parameters key". */
  params?: Param[];
}

/**
 * Asserts that `res` is the one error body of api.md ("Error body"), with exactly these keys in this order:
 * type, status, title, detail, [invalid_parameters], details, [causes]; `status` equals the HTTP status,
 * `details` mirrors `detail` and `causes` mirrors `invalid_parameters`. Returns the body.
 */
export function expectError(res: LightMyRequestResponse, expected: ExpectedError) {
  assert.equal(res.statusCode, expected.status, `HTTP status (body: ${res.body})`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as Record<string, unknown>;
  const params = body.invalid_parameters as Param[] | undefined;
  const keys = params
    ? ['type', 'status', 'title', 'detail', 'invalid_parameters', 'details', 'causes']
    : ['type', 'status', 'title', 'detail', 'details'];
  assert.deepEqual(Object.keys(body), keys, `error body keys: ${res.body}`);
  assert.equal(body.type, '/std-errors');
  assert.equal(body.status, res.statusCode);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.detail, 'string');
  assert.equal(body.details, body.detail);
  assert.equal(body.title, expected.title, `title (body: ${res.body})`);
  if (expected.detail !== undefined) assert.equal(body.detail, expected.detail);
  if (params) {
    assert.ok(params.length > 0, 'invalid_parameters is omitted when empty');
    for (const p of params) assert.deepEqual(Object.keys(p), ['field', 'reason']);
    assert.deepEqual(
      body.causes,
      params.map((p) => ({ field: p.field, message: p.reason })),
    );
  }
  if (expected.params !== undefined)
    assert.deepEqual(params ?? [], expected.params, `invalid_parameters (body: ${res.body})`);
  assert.doesNotMatch(res.body, /\bat .+\.(ts|js):\d+/, 'no stack trace in an error body');
  return body;
}

/** Every row the store holds (secrets as ciphertext, so a rewrite with equal content still shows), and the fact tables. */
export async function dbSnapshot(services: Services) {
  const db = services.store.driver;
  return {
    resources: await db.all('SELECT * FROM resources ORDER BY type, mesh, name'),
    facts: await db.all('SELECT * FROM dataplane_facts ORDER BY mesh, name'),
    bundleBackends: await db.all('SELECT * FROM bundle_version_backends ORDER BY mesh, version, backend'),
    bundles: await db.all('SELECT * FROM bundle_versions ORDER BY mesh, version'),
  };
}

/** What a user sees: the bodies of the list routes (and any extra GETs). */
/** The mesh's secrets with the version each is at: a secret written once is at version 1. */
export function secretVersions(services: Services, mesh: string): Promise<{ name: string; version: number }[]> {
  return services.store.driver.all<{ name: string; version: number }>(
    "SELECT name, version FROM resources WHERE type = 'Secret' AND mesh = ? ORDER BY name",
    [mesh],
  );
}

export async function apiSnapshot(app: FastifyInstance, extra: string[] = []) {
  const urls = [
    '/meshes?size=1000',
    '/secrets?size=1000',
    '/global-secrets?size=1000',
    '/dataplanes?size=1000',
    ...extra,
  ];
  const out: Record<string, { status: number; body: string }> = {};
  for (const url of urls) {
    const res = await app.inject({ method: 'GET', url });
    out[url] = { status: res.statusCode, body: res.body };
  }
  return out;
}

/** Runs `fn` and asserts that neither the database nor the API view changed. */
export async function expectUnchanged<T>(
  t: { app: FastifyInstance; services: Services },
  fn: () => Promise<T>,
  extra: string[] = [],
): Promise<T> {
  const dbBefore = await dbSnapshot(t.services);
  const apiBefore = await apiSnapshot(t.app, extra);
  const result = await fn();
  assert.deepEqual(await dbSnapshot(t.services), dbBefore, 'the database changed');
  assert.deepEqual(await apiSnapshot(t.app, extra), apiBefore, 'the API view changed');
  return result;
}

export const json = (method: 'PUT' | 'DELETE' | 'GET', url: string, payload?: unknown): InjectOptions =>
  payload === undefined ? { method, url } : { method, url, payload: payload as object };

export const yaml = (url: string, text: string | Buffer, contentType = 'application/yaml'): InjectOptions => ({
  method: 'PUT' as const,
  url,
  payload: text,
  headers: { 'content-type': contentType },
});

export const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

/** A self-signed ECDSA P-256 CA made by openssl (an independent implementation), as PEM. */
export function opensslCa(cn = 'ca-2'): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'meshcp-ca-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '30',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout',
        join(dir, 'ca.key'),
        '-out',
        join(dir, 'ca.crt'),
      ],
      { stdio: 'pipe' },
    );
    return { certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An example manifest from examples/, with `data:` (the placeholder in the secret examples) replaced. */
export function example(file: string, replacements: Record<string, string> = {}): string {
  let text = readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8');
  for (const [from, to] of Object.entries(replacements)) {
    assert.ok(text.includes(from), `${file} contains ${from}`);
    text = text.split(from).join(to);
  }
  return text;
}

export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Every byte the store holds, to look for plaintext in: SQLite's files (database, WAL, shared memory), or on
 * PostgreSQL every row of every table as the server returns it (bytea as bytes).
 */
export async function storedBytes(t: { services: Services; dataDir: string }): Promise<Buffer> {
  if (t.services.store.kind === 'sqlite') {
    const files = readdirSync(t.dataDir).filter((f) => f.startsWith('meshcp.db'));
    return Buffer.concat(files.map((f) => readFileSync(join(t.dataDir, f))));
  }
  const parts: Buffer[] = [];
  for (const table of ['resources', 'dataplane_facts', 'bundle_versions', 'bundle_version_backends']) {
    for (const row of await t.services.store.driver.all<Record<string, unknown>>(`SELECT * FROM ${table}`)) {
      for (const value of Object.values(row)) parts.push(Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
    }
  }
  return Buffer.concat(parts);
}
