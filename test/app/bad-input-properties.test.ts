import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createTestApp, type TestApp } from '../helpers/app.js';

const TABLES = ['resources', 'dataplane_facts', 'bundle_versions', 'bundle_version_backends'];
/** A digest of every stored row: equal before and after means the request changed nothing. */
async function snapshot(t: TestApp): Promise<string> {
  const hash = createHash('sha256');
  for (const table of TABLES) {
    for (const record of await t.services.store.driver.all<Record<string, unknown>>(
      `SELECT * FROM ${table} ORDER BY 1, 2, 3`,
    )) {
      const row = Object.values(record);
      // Blobs (sealed secrets) go in as bytes: JSON would spell every byte out.
      for (const value of row)
        (Buffer.isBuffer(value) ? hash.update('blob:').update(value) : hash.update(JSON.stringify(value))).update('\0');
      hash.update('\n');
    }
    hash.update('--');
  }
  return hash.digest('hex');
}

const CONTENT_TYPES = [
  'application/json',
  'application/yaml',
  'text/yaml',
  'application/x-yaml',
  'text/plain',
  'application/octet-stream',
];
const WRITE_ROUTES: Array<[string, string]> = [
  ['PUT', '/meshes/default'],
  ['PUT', '/meshes/fuzz'],
  ['PUT', '/meshes/default/secrets/ca-2-cert'],
  ['PUT', '/meshes/default/secrets/fuzz'],
  ['PUT', '/global-secrets/fuzz'],
  ['PUT', '/meshes/default/dataplanes/web-1'],
  ['PUT', '/meshes/default/dataplanes/fuzz'],
  ['POST', '/meshes/default/dataplanes/web-1/certificate'],
  ['POST', '/tokens/dataplane'],
  ['DELETE', '/meshes/default'],
  ['DELETE', '/meshes/default/secrets/ca-2-cert'],
  ['DELETE', '/meshes/default/secrets/default.ca-builtin-key-ca-1'],
];

// Values shaped like the resources, with wrong types, wrong names and garbage mixed in.
const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.double());
const dataSource = fc.oneof(
  fc.record({ secret: fc.oneof(fc.constantFrom('ca-2-cert', 'missing'), scalar) }),
  fc.record({ inline: fc.oneof(fc.base64String({ maxLength: 40 }), scalar) }),
  fc.record({ inlineString: scalar }),
  fc.record({ file: fc.constantFrom('/etc/hostname', '/nonexistent', '') }),
  fc.jsonValue({ maxDepth: 2 }),
);
// A vault conf, pointed at a closed port (connection refused at once) or at nothing valid.
const vaultFromCp = fc.record(
  {
    address: fc.oneof(
      fc.constantFrom('https://127.0.0.1:1', 'http://127.0.0.1:1/v1', 'ftp://vault', '', 'not a url'),
      scalar,
    ),
    namespace: fc.oneof(fc.constantFrom('team-a', '../x', ''), scalar),
    pki: fc.oneof(fc.constantFrom('pki', 'a//b', '/pki', ''), scalar),
    role: fc.oneof(fc.constantFrom('dp', 'a/b', ''), scalar),
    commonName: fc.oneof(fc.constantFrom('{{ tag "kuma.io/service" }}.mesh', '{{ .Mesh }}', '{{', ''), scalar),
    tls: fc.oneof(
      fc.record(
        { caCert: dataSource, skipVerify: fc.oneof(fc.boolean(), scalar), serverName: scalar },
        { requiredKeys: [] },
      ),
      scalar,
    ),
    auth: fc.oneof(
      fc.record({ token: dataSource }),
      fc.record({ tls: fc.record({ clientCert: dataSource, clientKey: dataSource }, { requiredKeys: [] }) }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  },
  { requiredKeys: [] },
);
const backend = fc.record(
  {
    name: fc.oneof(fc.constantFrom('ca-1', 'ca-2', '', 'CA_3'), scalar),
    type: fc.oneof(fc.constantFrom('provided', 'vault', 'builtin'), scalar),
    mode: fc.oneof(fc.constantFrom('STRICT', 'PERMISSIVE', 'strict'), scalar),
    dpCert: fc.oneof(
      fc.record({
        rotation: fc.record({ expiration: fc.oneof(fc.constantFrom('1h', '1x', '-1h', '0', '1h30m'), scalar) }),
      }),
      scalar,
    ),
    conf: fc.oneof(
      fc.record({ cert: dataSource, key: dataSource }, { requiredKeys: [] }),
      fc.record({
        caCert: fc.record(
          { RSAbits: fc.oneof(fc.constantFrom(1024, 1), scalar), expiration: scalar },
          { requiredKeys: [] },
        ),
      }),
      fc.record({ fromCp: fc.oneof(vaultFromCp, scalar) }, { requiredKeys: [] }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  },
  { requiredKeys: [] },
);
const mesh = fc.record(
  {
    type: fc.oneof(fc.constantFrom('Mesh', 'Secret'), scalar),
    name: fc.oneof(fc.constantFrom('default', 'fuzz', 'Default'), scalar),
    labels: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }), scalar),
    mtls: fc.oneof(
      fc.record(
        {
          enabledBackend: fc.oneof(fc.constantFrom('ca-1', 'ca-2', ''), scalar),
          skipValidation: fc.oneof(fc.boolean(), scalar),
          backends: fc.oneof(fc.array(backend, { maxLength: 3 }), scalar),
        },
        { requiredKeys: [] },
      ),
      scalar,
    ),
  },
  { requiredKeys: [] },
);
const otherResource = fc.record(
  {
    type: fc.oneof(fc.constantFrom('Secret', 'GlobalSecret', 'Dataplane'), scalar),
    mesh: fc.oneof(fc.constantFrom('default', 'other'), scalar),
    name: fc.oneof(fc.constantFrom('fuzz', 'web-1', 'ca-2-cert'), scalar),
    data: fc.oneof(fc.base64String({ maxLength: 16 }), fc.string({ maxLength: 16 }), scalar),
    networking: fc.oneof(
      fc.record(
        {
          address: fc.oneof(fc.constantFrom('127.0.0.1', '0.0.0.0', 'not an ip!'), scalar),
          inbound: fc.oneof(
            fc.array(
              fc.record(
                {
                  port: fc.oneof(fc.integer({ min: -1, max: 70000 }), scalar),
                  tags: fc.oneof(
                    fc.dictionary(fc.constantFrom('kuma.io/service', 'v', 'bad tag'), fc.string({ maxLength: 6 })),
                    scalar,
                  ),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 2 },
            ),
            scalar,
          ),
        },
        { requiredKeys: [] },
      ),
      scalar,
    ),
    csr: fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constant('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----'),
      scalar,
    ),
    bundleVersion: scalar,
    validFor: fc.oneof(fc.constantFrom('1h', '-1s', 'forever'), scalar),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  mesh.map((v) => ({ contentType: 'application/json', payload: JSON.stringify(v) })),
  otherResource.map((v) => ({ contentType: 'application/json', payload: JSON.stringify(v) })),
  fc.jsonValue().map((v) => ({ contentType: 'application/json', payload: JSON.stringify(v) })),
  fc.tuple(fc.uint8Array({ maxLength: 400 }), fc.constantFrom(...CONTENT_TYPES)).map(([bytes, contentType]) => ({
    contentType,
    payload: Buffer.from(bytes).toString('latin1'),
  })),
  fc
    .tuple(fc.string({ maxLength: 200 }), fc.constantFrom(...CONTENT_TYPES))
    .map(([text, contentType]) => ({ contentType, payload: text })),
);

describe('bad input never breaks the control plane (property-based)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    const ok = (res: { statusCode: number; body: string }) => assert.ok(res.statusCode < 300, res.body);
    const pem = 'LS0tLS1CRUdJTg=='; // base64 of "-----BEGIN": a secret a backend points at, no valid CA
    ok(
      await t.app.inject({
        method: 'PUT',
        url: '/meshes/default/secrets/ca-2-cert',
        payload: { type: 'Secret', mesh: 'default', name: 'ca-2-cert', data: pem },
      }),
    );
    ok(
      await t.app.inject({
        method: 'PUT',
        url: '/meshes/default',
        payload: {
          type: 'Mesh',
          name: 'default',
          mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
        },
      }),
    );
    ok(
      await t.app.inject({
        method: 'PUT',
        url: '/meshes/default/dataplanes/web-1',
        payload: {
          type: 'Dataplane',
          mesh: 'default',
          name: 'web-1',
          networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
        },
      }),
    );
  });
  after(() => t.close());

  test('every write route answers a 4xx in the error format (or a success) and a refused request changes nothing', async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...WRITE_ROUTES),
        body,
        fc.boolean(),
        async ([method, url], { contentType, payload }, dryRun) => {
          const before = await snapshot(t);
          const res = await t.app.inject({
            method: method as 'PUT',
            url: dryRun ? `${url}?dryRun=true` : url,
            headers: { 'content-type': contentType },
            payload: method === 'DELETE' ? undefined : payload,
          });
          assert.ok(res.statusCode < 500, `${method} ${url} → ${res.statusCode}: ${res.body}`);
          if (res.statusCode >= 400) {
            refused++;
            const error = res.json();
            assert.equal(error.type, '/std-errors');
            assert.equal(error.status, res.statusCode);
            assert.equal(typeof error.title, 'string');
            assert.equal(error.details, error.detail);
            assert.equal(await snapshot(t), before, `${method} ${url} was refused but changed the store`);
          } else if (dryRun && method !== 'POST') {
            assert.equal(await snapshot(t), before, `${method} ${url}?dryRun=true changed the store`);
          }
        },
      ),
      { numRuns: 1000, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
    assert.ok(refused > 500, `most generated inputs are bad (${refused} refused)`);
    assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });
});
