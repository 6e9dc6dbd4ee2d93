import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { loadServerTls } from '../../src/bootstrap.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { httpCall } from '../helpers/http.js';
import { listenOnLoopback } from '../helpers/listen.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const builtinMesh = {
  type: 'Mesh',
  name: 'default',
  mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
};
const dataplane = (name: string, service: string) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: {
    address: '127.0.0.1',
    inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': service } }],
  },
});

async function tokenFor(base: string, name: string, mesh = 'default'): Promise<string> {
  const res = await httpCall(base, 'POST', '/tokens/dataplane', { headers: admin, body: { name, mesh } });
  assert.equal(res.status, 200, res.body);
  return res.body;
}

describe('without localhost-is-admin, only public routes answer without a token', () => {
  let t: TestApp;
  let base: string;
  before(async () => {
    t = await createTestApp({ MESHCP_LOCALHOST_IS_ADMIN: 'false' });
    base = await listenOnLoopback(t.app);
    assert.equal((await httpCall(base, 'PUT', '/meshes/default', { headers: admin, body: builtinMesh })).status, 200);
    assert.equal(
      (
        await httpCall(base, 'PUT', '/meshes/default/dataplanes/web-1', {
          headers: admin,
          body: dataplane('web-1', 'web'),
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await httpCall(base, 'PUT', '/meshes/default/dataplanes/web-2', {
          headers: admin,
          body: dataplane('web-2', 'web'),
        })
      ).status,
      201,
    );
  });
  after(() => t.close());

  test('public routes answer anonymous callers', async () => {
    for (const path of ['/', '/healthz', '/readyz', '/openapi.json']) {
      assert.equal((await httpCall(base, 'GET', path)).status, 200, path);
    }
  });

  test('everything else is 403 Access Denied for anonymous callers, even from loopback', async () => {
    const calls: [string, string, object?][] = [
      ['GET', '/meshes'],
      ['GET', '/meshes/default'],
      ['PUT', '/meshes/evil', { type: 'Mesh', name: 'evil' }],
      ['GET', '/meshes/default/secrets'],
      ['GET', '/global-secrets'],
      ['GET', '/meshes/default/dataplanes/web-1'],
      ['POST', '/meshes/default/dataplanes/web-1/certificate', {}],
      ['POST', '/tokens/dataplane', { name: 'web-1', mesh: 'default' }],
      ['GET', '/meshes/default/ca-rotation'],
    ];
    for (const [method, path, body] of calls) {
      const res = await httpCall(base, method, path, { body });
      assert.equal(res.status, 403, `${method} ${path}: ${res.body}`);
      assert.equal(res.json().title, 'Access Denied');
    }
    assert.equal(
      (await httpCall(base, 'GET', '/meshes/evil', { headers: admin })).status,
      404,
      'the refused PUT wrote nothing',
    );
  });

  test('a bad token is 401 Invalid authentication data; the admin token works', async () => {
    const bad = await httpCall(base, 'GET', '/meshes', { headers: { authorization: 'Bearer nope' } });
    assert.equal(bad.status, 401);
    assert.deepEqual([bad.json().title, bad.json().detail], ['Invalid authentication data', 'Unauthenticated']);
    assert.equal((await httpCall(base, 'GET', '/meshes', { headers: admin })).status, 200);
  });

  test('a dataplane token acts only on its own dataplane and never reads secrets', async () => {
    const token = { authorization: `Bearer ${await tokenFor(base, 'web-1')}` };
    assert.equal((await httpCall(base, 'GET', '/meshes/default/dataplanes/web-1', { headers: token })).status, 200);
    assert.equal(
      (await httpCall(base, 'POST', '/meshes/default/dataplanes/web-1/certificate', { headers: token, body: {} }))
        .status,
      200,
    );
    for (const [method, path] of [
      ['GET', '/meshes/default/dataplanes/web-2'],
      ['POST', '/meshes/default/dataplanes/web-2/certificate'],
      ['GET', '/meshes/default/secrets'],
      ['GET', '/meshes/default/secrets/default.ca-builtin-key-ca-1'],
      ['PUT', '/meshes/default'],
      ['POST', '/tokens/dataplane'],
    ]) {
      const res = await httpCall(base, method, path, { headers: token, body: method === 'GET' ? undefined : {} });
      assert.equal(res.status, 403, `${method} ${path}`);
    }
  });

  test('a revoked token is refused (401)', async () => {
    const jwt = await tokenFor(base, 'web-2');
    const jti = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).jti;
    const token = { authorization: `Bearer ${jwt}` };
    assert.equal((await httpCall(base, 'GET', '/meshes/default/dataplanes/web-2', { headers: token })).status, 200);
    const revoke = await httpCall(base, 'PUT', '/meshes/default/secrets/dataplane-token-revocations-default', {
      headers: admin,
      body: {
        type: 'Secret',
        mesh: 'default',
        name: 'dataplane-token-revocations-default',
        data: Buffer.from(`other,${jti}`).toString('base64'),
      },
    });
    assert.equal(revoke.status, 201);
    assert.equal((await httpCall(base, 'GET', '/meshes/default/dataplanes/web-2', { headers: token })).status, 401);
  });
});

describe('localhost is admin only with Kuma 2.14 strict checks', () => {
  let t: TestApp;
  let base: string;
  before(async () => {
    t = await createTestApp();
    base = await listenOnLoopback(t.app);
  });
  after(() => t.close());

  test('a plain loopback request is admin', async () => {
    assert.equal((await httpCall(base, 'GET', '/meshes')).status, 200);
    assert.equal((await httpCall(base, 'GET', '/meshes', { headers: { host: 'localhost' } })).status, 200);
  });

  test('forwarding headers, a foreign Host, cross-site Origin or Sec-Fetch-Site make it anonymous', async () => {
    const forged: Record<string, string>[] = [
      { 'x-forwarded-for': '203.0.113.9' },
      { 'x-real-ip': '203.0.113.9' },
      { forwarded: 'for=203.0.113.9' },
      // A same-host proxy that rewrites Host to 127.0.0.1 but still says it forwarded (issue 10, item 8).
      { 'x-forwarded-host': 'meshcp.example.com' },
      { 'x-forwarded-proto': 'https' },
      { via: '1.1 nginx' },
      { host: 'meshcp.example.com' },
      { origin: 'https://evil.example.com' },
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of forged) {
      const res = await httpCall(base, 'GET', '/meshes/default/secrets', { headers });
      assert.equal(res.status, 403, JSON.stringify(headers));
    }
  });
});

describe('HTTPS listener', () => {
  test('serves the same API over TLS with the generated server certificate', async () => {
    const t = await createTestApp();
    const tls = loadServerTls({ ...t.services.config, dataDir: t.dataDir });
    const https = await buildApp(t.services, { https: tls });
    await https.listen({ host: '127.0.0.1', port: 0 });
    const port = (https.server.address() as { port: number }).port;
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port, path: '/meshes/default', ca: tls.cert, servername: 'localhost' },
          (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () =>
              res.statusCode === 200 ? resolve(text) : reject(new Error(`status ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(JSON.parse(body).name, 'default');
      const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: tls.cert }).toString();
      assert.match(text, /DNS:localhost/);
      assert.match(text, /TLS Web Server Authentication/);
    } finally {
      await https.close();
      await t.close();
    }
  });
});

describe('limits', () => {
  let t: TestApp;
  let base: string;
  before(async () => {
    t = await createTestApp({ MESHCP_DP_CERT_REQUESTS_PER_MINUTE: '3', MESHCP_MAX_LONG_POLLS: '1' });
    base = await listenOnLoopback(t.app);
    await httpCall(base, 'PUT', '/meshes/default', { body: builtinMesh });
    await httpCall(base, 'PUT', '/meshes/default/dataplanes/web-1', { body: dataplane('web-1', 'web') });
    await httpCall(base, 'PUT', '/meshes/default/dataplanes/web-2', { body: dataplane('web-2', 'web') });
  });
  after(() => t.close());

  test('a dataplane token gets 429 with Retry-After past its certificate budget; admins are not capped', async () => {
    const token = { authorization: `Bearer ${await tokenFor(base, 'web-1')}` };
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await httpCall(base, 'POST', '/meshes/default/dataplanes/web-1/certificate', { headers: token, body: {} }))
          .status,
        200,
      );
    }
    const limited = await httpCall(base, 'POST', '/meshes/default/dataplanes/web-1/certificate', {
      headers: token,
      body: {},
    });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal(limited.json().title, 'Too Many Requests');
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await httpCall(base, 'POST', '/meshes/default/dataplanes/web-1/certificate', { body: {} })).status,
        200,
      );
    }
  });

  test('waiting long-polls are bounded; a newer poll of the same dataplane ends the older one', async () => {
    const version = (await httpCall(base, 'GET', '/meshes/default/dataplanes/web-2/trust-bundle')).json().bundleVersion;
    await httpCall(base, 'POST', '/meshes/default/dataplanes/web-2/certificate', { body: { bundleVersion: version } });
    const held = { 'if-none-match': `"${version}"` };
    const started = Date.now();
    const first = httpCall(base, 'GET', '/meshes/default/dataplanes/web-2/trust-bundle?wait=20s', { headers: held });
    await new Promise((r) => setTimeout(r, 300));
    const other = await httpCall(base, 'GET', '/meshes/default/dataplanes/web-1/trust-bundle?wait=20s', {
      headers: held,
    });
    assert.equal(other.status, 429, 'the process-wide bound of 1 is taken by web-2');
    const second = httpCall(base, 'GET', '/meshes/default/dataplanes/web-2/trust-bundle?wait=1s', { headers: held });
    assert.equal((await first).status, 304);
    assert.ok(Date.now() - started < 10_000, 'the older poll ended early');
    assert.equal((await second).status, 304);
  });
});

describe('logs never carry secrets', () => {
  test('tokens, private keys, CSRs and secret data stay out of the log', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // Request lines are at debug by default: turn them on, they must be free of secrets too.
    const t = await createTestApp({ MESHCP_LOG_REQUESTS: 'true' }, { logTo: sink });
    const base = await listenOnLoopback(t.app);
    try {
      await httpCall(base, 'PUT', '/meshes/default', { body: builtinMesh });
      await httpCall(base, 'PUT', '/meshes/default/dataplanes/web-1', { body: dataplane('web-1', 'web') });
      const jwt = await tokenFor(base, 'web-1');
      const dir = mkdtempSync(join(tmpdir(), 'meshcp-log-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-new',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-subj',
          '/CN=x',
          '-keyout',
          join(dir, 'k.pem'),
          '-out',
          join(dir, 'csr.pem'),
        ],
        { stdio: 'ignore' },
      );
      const csr = readFileSync(join(dir, 'csr.pem'), 'utf8');
      const withKey = await httpCall(base, 'POST', '/meshes/default/dataplanes/web-1/certificate', {
        headers: { authorization: `Bearer ${jwt}` },
        body: {},
      });
      await httpCall(base, 'POST', '/meshes/default/dataplanes/web-1/certificate', {
        headers: { authorization: `Bearer ${jwt}` },
        body: { csr },
      });
      const secretData = Buffer.from('a very secret value').toString('base64');
      await httpCall(base, 'PUT', '/meshes/default/secrets/s1', {
        body: { type: 'Secret', mesh: 'default', name: 's1', data: secretData },
      });
      await httpCall(base, 'PUT', '/meshes/default/secrets/s1', {
        body: { type: 'Secret', mesh: 'default', name: 's1', data: '***' },
      });
      await httpCall(base, 'GET', '/meshes', { headers: { authorization: 'Bearer not-a-token-1234' } });
      // A logged object that carries such fields (e.g. an error with the request) is redacted too.
      t.services.log.warn(
        { privateKey: 'PRIVATE', csr: 'CSR', data: 'DATA', token: 'TOKEN', nested: { key: 'KEY' } },
        'probe',
      );

      const log = lines.join('');
      writeFileSync(join(dir, 'captured.log'), log);
      assert.ok(lines.length >= 8, 'requests were logged');
      const privateKeyBody = withKey.json().privateKey.split('\n')[1];
      for (const forbidden of [
        jwt,
        jwt.split('.')[2],
        ADMIN_TOKEN,
        privateKeyBody,
        csr.split('\n')[1],
        secretData,
        'not-a-token-1234',
        'PRIVATE',
        'CSR"',
        'DATA',
        'TOKEN',
        '"KEY"',
        'BEGIN',
      ]) {
        assert.ok(!log.includes(forbidden), `log must not contain ${forbidden.slice(0, 20)}…`);
      }
      assert.match(log, /\[redacted\]/);
    } finally {
      await t.close();
    }
  });
});
