import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import fc from 'fast-check';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { b64, example, expectError, expectUnchanged, json, type ExpectedError } from '../helpers/api-assert.js';

const BAD = 'Bad Request';
const PROCESS = 'Could not process a resource';
const RFC1123 =
  "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const MIB = 1024 * 1024;

const meshBody = (name = 'default', extra: Record<string, unknown> = {}) => ({
  type: 'Mesh',
  name,
  mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
  ...extra,
});
const raw = (method: 'PUT' | 'DELETE', url: string, payload: string | Buffer, contentType?: string): InjectOptions => ({
  method,
  url,
  payload,
  headers: contentType === undefined ? {} : { 'content-type': contentType },
});

interface Case {
  name: string;
  request: InjectOptions;
  expected: ExpectedError;
}

describe('bad input', () => {
  let t: TestApp;
  // URLs whose answers must not change, beyond the list routes.
  const watched = [
    '/meshes/default',
    '/meshes/default/secrets/s1',
    '/global-secrets/g1',
    '/meshes/default/dataplanes/web-1',
  ];
  before(async () => {
    t = await createTestApp();
    const setup: InjectOptions[] = [
      json('PUT', '/meshes/default', meshBody()),
      json('PUT', '/meshes/default/secrets/s1', { type: 'Secret', mesh: 'default', name: 's1', data: b64('s1') }),
      json('PUT', '/global-secrets/g1', { type: 'GlobalSecret', name: 'g1', data: b64('g1') }),
      {
        method: 'PUT',
        url: '/meshes/default/dataplanes/web-1',
        payload: example('dataplane-web-1.yaml'),
        headers: { 'content-type': 'application/yaml' },
      },
    ];
    for (const request of setup) {
      const res = await t.app.inject(request);
      assert.ok(res.statusCode < 300, res.body);
    }
  });
  after(async () => {
    await t.close();
  });

  /** Sends a bad request: it must get exactly `expected`, never a 500, and leave everything as it was. */
  const refuse = (request: InjectOptions, expected: ExpectedError) =>
    expectUnchanged(
      t,
      async () => {
        const res = await t.app.inject(request);
        assert.ok(res.statusCode < 500, `${request.method} ${request.url}: ${res.statusCode} ${res.body}`);
        return expectError(res, expected);
      },
      watched,
    );

  const run = (cases: Case[]) => {
    for (const c of cases) it(c.name, () => refuse(c.request, c.expected).then(() => undefined));
  };

  describe('malformed bodies are 400 Bad Request', () => {
    const meshJson = JSON.stringify(meshBody());
    run([
      {
        name: 'JSON syntax error',
        request: raw('PUT', '/meshes/default', '{"type": "Mesh", name: }', 'application/json'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'truncated JSON',
        request: raw('PUT', '/meshes/default', meshJson.slice(0, -3), 'application/json'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'JSON with charset',
        request: raw('PUT', '/meshes/default/secrets/s1', '{', 'application/json; charset=utf-8'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'not UTF-8 JSON',
        request: raw('PUT', '/meshes/default', Buffer.from([0xff, 0xfe, 0x7b, 0x00]), 'application/json'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'YAML syntax error',
        request: raw('PUT', '/meshes/default', 'type: Mesh\nname: [default\n', 'application/yaml'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'YAML with tab indentation',
        request: raw(
          'PUT',
          '/meshes/default',
          'type: Mesh\nname: default\nmtls:\n\tenabledBackend: ca-1\n',
          'text/yaml',
        ),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'YAML with duplicate keys',
        request: raw('PUT', '/meshes/default', 'type: Mesh\nname: default\nname: default\n', 'application/x-yaml'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'two YAML documents',
        request: raw(
          'PUT',
          '/meshes/default',
          'type: Mesh\nname: default\n---\ntype: Mesh\nname: other\n',
          'application/yaml',
        ),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'a YAML alias bomb',
        request: raw(
          'PUT',
          '/meshes/default',
          [
            'a: &a [x, x, x, x, x, x, x, x, x]',
            ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`),
          ].join('\n'),
          'application/yaml',
        ),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'a JSON array',
        request: raw('PUT', '/meshes/default', '[]', 'application/json'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'a JSON string',
        request: raw('PUT', '/meshes/default/secrets/s1', '"secret"', 'application/json'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'null',
        request: raw('PUT', '/meshes/default', 'null', 'application/json'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'an empty body',
        request: raw('PUT', '/meshes/default', '', 'application/json'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'an empty YAML body',
        request: raw('PUT', '/global-secrets/g1', '', 'application/yaml'),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'JSON nested 5000 levels deep',
        request: raw(
          'PUT',
          '/meshes/default',
          `{"type":"Mesh","name":"default","logging":${'['.repeat(5000)}${']'.repeat(5000)}}`,
          'application/json',
        ),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'YAML nested 5000 levels deep',
        request: raw(
          'PUT',
          '/meshes/default',
          `type: Mesh\nname: default\nlogging: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
          'application/yaml',
        ),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'a field of the wrong type',
        request: json('PUT', '/meshes/default', meshBody('default', { mtls: { enabledBackend: 42 } })),
        expected: {
          status: 400,
          title: BAD,
          params: [
            { field: 'mtls.enabledBackend', reason: 'json: cannot unmarshal number into Go value of type string' },
          ],
        },
      },
      {
        name: 'labels that are not strings',
        request: json('PUT', '/meshes/default/secrets/s1', {
          type: 'Secret',
          mesh: 'default',
          name: 's1',
          labels: { n: 1 },
        }),
        expected: { status: 400, title: BAD },
      },
      {
        name: 'a malformed DELETE body',
        request: raw('DELETE', '/meshes/default/secrets/s1', '{oops', 'application/json'),
        expected: { status: 400, title: BAD },
      },
    ]);
  });

  describe('other content types are 415', () => {
    const body = JSON.stringify(meshBody());
    run(
      [
        'text/plain',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/jsonx',
        'text/yaml-x',
      ].map(
        (contentType): Case => ({
          name: contentType,
          request: raw('PUT', '/meshes/default', body, contentType),
          expected: { status: 415, title: 'Unsupported Media Type' },
        }),
      ),
    );
    run([
      {
        name: 'no content type at all',
        request: raw('PUT', '/meshes/default/secrets/s1', '{}'),
        expected: { status: 415, title: 'Unsupported Media Type' },
      },
    ]);
  });

  describe('bodies over 1 MiB are 413', () => {
    const big = (n: number) =>
      JSON.stringify({ type: 'Secret', mesh: 'default', name: 's1', data: 'A'.repeat(n - 60 - (n % 4)) });
    run([
      {
        name: 'JSON secret',
        request: raw('PUT', '/meshes/default/secrets/s1', big(MIB + 100), 'application/json'),
        expected: { status: 413, title: 'Request Entity Too Large' },
      },
      {
        name: 'YAML mesh',
        request: raw('PUT', '/meshes/default', `type: Mesh\nname: default\n# ${'x'.repeat(MIB)}\n`, 'application/yaml'),
        expected: { status: 413, title: 'Request Entity Too Large' },
      },
      {
        name: 'global secret',
        request: raw('PUT', '/global-secrets/g1', big(2 * MIB), 'application/json'),
        expected: { status: 413, title: 'Request Entity Too Large' },
      },
    ]);

    it('a body just under the limit is fine', async () => {
      const data = Buffer.alloc(700 * 1024, 7).toString('base64');
      assert.ok(data.length > 900 * 1024 && data.length < MIB - 200);
      const res = await t.app.inject(
        json('PUT', '/meshes/default/secrets/large', { type: 'Secret', mesh: 'default', name: 'large', data }),
      );
      assert.equal(res.statusCode, 201, res.body);
      assert.equal((await t.app.inject(json('GET', '/meshes/default/secrets/large'))).json().data, data);
      assert.equal((await t.app.inject(json('DELETE', '/meshes/default/secrets/large'))).statusCode, 200);
    });
  });

  describe('names', () => {
    const nameCases: [string, string][] = [
      ['uppercase', 'Web'],
      ['underscore', 'my_secret'],
      ['leading dash', '-abc'],
      ['trailing dash', 'abc-'],
      ['trailing dot', 'abc.'],
      ['space', 'a b'],
      ['slash', 'a/b'],
      ['unicode', 'café'],
    ];
    for (const [label, name] of nameCases) {
      const url = encodeURIComponent(name);
      it(`bad characters: ${label}`, async () => {
        await refuse(
          json('PUT', `/meshes/default/secrets/${url}`, { type: 'Secret', mesh: 'default', name, data: b64('x') }),
          {
            status: 400,
            title: PROCESS,
            detail: 'Resource is not valid',
            params: [{ field: 'name', reason: RFC1123 }],
          },
        );
        await refuse(json('PUT', `/global-secrets/${url}`, { type: 'GlobalSecret', name }), {
          status: 400,
          title: PROCESS,
          params: [{ field: 'name', reason: RFC1123 }],
        });
        await refuse(json('PUT', `/meshes/${url}`, { type: 'Mesh', name }), {
          status: 400,
          title: PROCESS,
          params: [{ field: 'name', reason: RFC1123 }],
        });
      });
    }

    it('a mesh name over 63 characters', () =>
      refuse(json('PUT', `/meshes/${'a'.repeat(64)}`, { type: 'Mesh', name: 'a'.repeat(64) }), {
        status: 400,
        title: 'Failed to create a resource',
        params: [{ field: 'name', reason: 'cannot be longer than 63 characters' }],
      }).then(() => undefined));

    it('a resource name over 253 characters', async () => {
      const name = 'a'.repeat(254);
      await refuse(json('PUT', `/meshes/default/secrets/${name}`, { type: 'Secret', mesh: 'default', name }), {
        status: 400,
        title: PROCESS,
        params: [{ field: 'name', reason: 'value length must less or equal 253' }],
      });
    });
    it('names of 101 to 253 characters are valid', async () => {
      for (const name of ['a'.repeat(101), 'a'.repeat(253)]) {
        const res = await t.app.inject(
          json('PUT', `/meshes/default/secrets/${name}`, { type: 'Secret', mesh: 'default', name, data: b64('x') }),
        );
        assert.equal(res.statusCode, 201, res.body);
        assert.equal((await t.app.inject(json('GET', `/meshes/default/secrets/${name}`))).statusCode, 200);
        assert.equal((await t.app.inject(json('DELETE', `/meshes/default/secrets/${name}`))).statusCode, 200);
      }
    });
    it('a URL that is not valid percent-encoding', async () => {
      await refuse({ method: 'GET', url: '/meshes/%E0%A4%A' }, { status: 400, title: BAD });
    });
  });

  describe('URL and body disagree: every mismatch in one 400', () => {
    run([
      {
        name: 'mesh secret: name, type and mesh',
        request: json('PUT', '/meshes/default/secrets/s1', {
          type: 'GlobalSecret',
          mesh: 'other',
          name: 's2',
          data: b64('x'),
        }),
        expected: {
          status: 400,
          title: PROCESS,
          detail: 'Resource is not valid',
          params: [
            { field: 'name', reason: 'name from the URL has to be the same as in body' },
            { field: 'type', reason: 'type from the URL has to be the same as in body' },
            { field: 'mesh', reason: 'mesh from the URL has to be the same as in body' },
          ],
        },
      },
      {
        name: 'mesh secret without type, mesh and name',
        request: json('PUT', '/meshes/default/secrets/s1', { data: b64('x') }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [
            { field: 'name', reason: 'name from the URL has to be the same as in body' },
            { field: 'type', reason: 'type from the URL has to be the same as in body' },
            { field: 'mesh', reason: 'mesh from the URL has to be the same as in body' },
            // Kuma then checks the body's own (empty) name and mesh.
            { field: 'name', reason: 'cannot be empty' },
            { field: 'mesh', reason: 'cannot be empty' },
          ],
        },
      },
      {
        name: 'mesh: name and type',
        request: json('PUT', '/meshes/default', { ...meshBody('other'), type: 'Secret' }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [
            { field: 'name', reason: 'name from the URL has to be the same as in body' },
            { field: 'type', reason: 'type from the URL has to be the same as in body' },
          ],
        },
      },
      {
        name: 'global secret: name and type',
        request: json('PUT', '/global-secrets/g1', { type: 'Secret', name: 'g2' }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [
            { field: 'name', reason: 'name from the URL has to be the same as in body' },
            { field: 'type', reason: 'type from the URL has to be the same as in body' },
          ],
        },
      },
      {
        // Kuma checks the name rules on the body's name, not the URL's (api-server put_dataplanes cases 01 and 06).
        name: 'a bad name in the URL and a different, valid one in the body: only the mismatch',
        request: json('PUT', '/meshes/default/secrets/Bad_Name', { type: 'Secret', mesh: 'default', name: 'good' }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [{ field: 'name', reason: 'name from the URL has to be the same as in body' }],
        },
      },
      {
        name: 'a bad name in the body that differs from the URL: the mismatch and the body name',
        request: json('PUT', '/meshes/default/secrets/good', { type: 'Secret', mesh: 'default', name: 'Bad_Name' }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [
            { field: 'name', reason: 'name from the URL has to be the same as in body' },
            { field: 'name', reason: RFC1123 },
          ],
        },
      },
    ]);
  });

  describe('structural Mesh errors, on an existing mesh', () => {
    const mtls = (m: unknown) => json('PUT', '/meshes/default', { type: 'Mesh', name: 'default', mtls: m });
    run([
      {
        name: 'duplicate backend names',
        request: mtls({
          enabledBackend: 'ca-1',
          backends: [
            { name: 'ca-1', type: 'builtin' },
            { name: 'ca-1', type: 'provided' },
          ],
        }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [{ field: 'mtls.backends[1].name', reason: '"ca-1" name is already used for another backend' }],
        },
      },
      {
        name: 'enabledBackend naming nothing',
        request: mtls({ enabledBackend: 'ca-2', backends: [{ name: 'ca-1', type: 'builtin' }] }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [{ field: 'mtls.enabledBackend', reason: 'has to be set to one of the backends in the mesh' }],
        },
      },
      {
        name: 'unknown backend type',
        request: mtls({
          enabledBackend: 'ca-1',
          backends: [
            { name: 'ca-1', type: 'builtin' },
            { name: 'v', type: 'acmpca' },
          ],
        }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [{ field: 'mtls.backends[1].type', reason: 'could not find installed plugin for this type' }],
        },
      },
      {
        name: 'bad duration',
        request: mtls({
          enabledBackend: 'ca-1',
          backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '24 hours' } } }],
        }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [{ field: 'mtls.dpcert.rotation.expiration', reason: 'has to be a valid format' }],
        },
      },
      {
        name: 'unknown keys inside a builtin conf',
        request: mtls({
          enabledBackend: 'ca-1',
          backends: [{ name: 'ca-1', type: 'builtin', conf: { caCert: { RSAbits: 2048, bits: 4096 }, extra: true } }],
        }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [
            { field: 'mtls.backends[0].conf.caCert.bits', reason: 'unknown field "bits"' },
            { field: 'mtls.backends[0].conf.extra', reason: 'unknown field "extra"' },
          ],
        },
      },
      {
        name: 'unknown keys inside a provided conf',
        request: mtls({
          backends: [
            {
              name: 'p',
              type: 'provided',
              conf: { cert: { secret: 's1', secrett: 'x' }, key: { secret: 's1' }, chain: 'x' },
            },
          ],
        }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [
            { field: 'mtls.backends[0].conf.cert.secrett', reason: 'unknown field "secrett"' },
            { field: 'mtls.backends[0].conf.chain', reason: 'unknown field "chain"' },
          ],
        },
      },
      {
        name: 'a provided backend without cert and key',
        request: mtls({ backends: [{ name: 'p', type: 'provided' }] }),
        expected: {
          status: 400,
          title: PROCESS,
          params: [
            { field: 'mtls.backends[0].conf.cert', reason: 'has to be defined' },
            { field: 'mtls.backends[0].conf.key', reason: 'has to be defined' },
          ],
        },
      },
    ]);
  });

  describe('bad query flags and unknown routes', () => {
    run([
      {
        name: 'dryRun=maybe',
        request: json('PUT', '/meshes/default?dryRun=maybe', meshBody()),
        expected: { status: 400, title: BAD, params: [{ field: 'dryRun', reason: 'must be true or false' }] },
      },
      {
        name: 'an unknown route',
        request: json('GET', '/meshes/default/unknown-things'),
        expected: { status: 404, title: 'Not Found' },
      },
      {
        name: 'an unsupported method',
        request: json('PUT', '/meshes', {}),
        expected: { status: 404, title: 'Not Found' },
      },
    ]);
  });

  describe('unknown fields are refused with their path (Kuma drops them silently; see README, Differences from Kuma)', () => {
    it('on a mesh and a secret', async () => {
      const res = await t.app.inject(json('PUT', '/meshes/ignored', { type: 'Mesh', name: 'ignored', status: 'ok' }));
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(res.json().invalid_parameters, [{ field: 'status', reason: 'unknown field "status"' }]);
      const s = await t.app.inject(
        json('PUT', '/meshes/default/secrets/x', {
          type: 'Secret',
          mesh: 'default',
          name: 'x',
          data: b64('x'),
          kri: 'k',
          extra: {},
        }),
      );
      assert.equal(s.statusCode, 400, s.body);
      assert.deepEqual(s.json().invalid_parameters, [{ field: 'extra', reason: 'unknown field "extra"' }]);
    });

    it('including __proto__, which must not smuggle fields in', async () => {
      const text =
        '{"type":"Mesh","name":"proto","__proto__":{"labels":{"smuggled":"yes"},"mtls":{"enabledBackend":"x"}}}';
      const res = await t.app.inject(raw('PUT', '/meshes/proto', text, 'application/json'));
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(res.json().invalid_parameters, [{ field: '__proto__', reason: 'unknown field "__proto__"' }]);
      assert.equal(({} as Record<string, unknown>).labels, undefined, 'Object.prototype is untouched');
    });
  });

  it('the stored state after all of the above is what the setup made', async () => {
    const mesh = (await t.app.inject(json('GET', '/meshes/default'))).json();
    assert.deepEqual(mesh.mtls, meshBody().mtls);
    assert.equal((await t.app.inject(json('GET', '/meshes/default/secrets/s1'))).json().data, b64('s1'));
    assert.equal((await t.app.inject(json('GET', '/global-secrets/g1'))).json().data, b64('g1'));
  });
});

describe('random bodies never cause a 500 (property test)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await t.app.inject(
      json('PUT', '/meshes/default/secrets/ca-cert', {
        type: 'Secret',
        mesh: 'default',
        name: 'ca-cert',
        data: b64('not a certificate'),
      }),
    );
  });
  after(async () => {
    await t.close();
  });

  /** Every answer is < 500 and, when an error, exactly the documented error body. */
  const check = async (request: InjectOptions) => {
    const res = await t.app.inject(request);
    assert.ok(
      res.statusCode < 500,
      `${request.method} ${request.url} ${String(request.payload).slice(0, 300)} -> ${res.statusCode} ${res.body}`,
    );
    if (res.statusCode >= 400) {
      const body = res.json() as { title: string };
      expectError(res, { status: res.statusCode, title: body.title });
    }
  };

  // No `builtin` type (key generation is slow) and no `file` source (it reads the control plane's disk).
  const dataSource = fc.oneof(
    fc.record({ secret: fc.oneof(fc.constant('ca-cert'), fc.string()) }),
    fc.record({ inline: fc.oneof(fc.base64String(), fc.string()) }),
    fc.record({ inlineString: fc.string() }),
    fc.jsonValue(),
  );
  const backend = fc.record(
    {
      name: fc.oneof(fc.constantFrom('ca-1', 'ca-2'), fc.string()),
      type: fc.oneof(fc.constantFrom('provided', 'vault', ''), fc.jsonValue()),
      mode: fc.oneof(fc.constantFrom('STRICT', 'PERMISSIVE'), fc.jsonValue()),
      dpCert: fc.oneof(
        fc.record({
          rotation: fc.record({ expiration: fc.oneof(fc.constantFrom('1h', '24h', '0', '1h30m'), fc.string()) }),
        }),
        fc.jsonValue(),
      ),
      conf: fc.oneof(fc.record({ cert: dataSource, key: dataSource }, { requiredKeys: [] }), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );
  const mesh = fc.record(
    {
      type: fc.oneof(fc.constant('Mesh'), fc.jsonValue()),
      name: fc.oneof(fc.constant('fuzz'), fc.jsonValue()),
      labels: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()),
      mtls: fc.oneof(
        fc.record(
          {
            enabledBackend: fc.oneof(fc.constantFrom('ca-1', 'ca-2', ''), fc.jsonValue()),
            skipValidation: fc.oneof(fc.boolean(), fc.jsonValue()),
            backends: fc.oneof(fc.array(backend, { maxLength: 3 }), fc.jsonValue()),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      ),
    },
    { requiredKeys: [] },
  );
  const secretBody = fc.record(
    {
      type: fc.oneof(fc.constantFrom('Secret', 'GlobalSecret'), fc.jsonValue()),
      mesh: fc.oneof(fc.constant('default'), fc.jsonValue()),
      name: fc.oneof(fc.constant('fz'), fc.jsonValue()),
      data: fc.oneof(fc.base64String(), fc.string(), fc.jsonValue()),
      labels: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );
  const encode = fc.constantFrom('json', 'yaml');
  const send = (url: string, body: unknown, how: string): InjectOptions =>
    how === 'json'
      ? raw('PUT', url, JSON.stringify(body) ?? 'null', 'application/json')
      : raw('PUT', url, `${JSON.stringify(body) ?? 'null'}\n`, 'application/yaml'); // JSON is YAML

  it('PUT /meshes/fuzz', async () => {
    await fc.assert(
      fc.asyncProperty(mesh, encode, (body, how) => check(send('/meshes/fuzz', body, how))),
      { numRuns: 150 },
    );
  });

  it('PUT secrets and global secrets', async () => {
    await fc.assert(
      fc.asyncProperty(secretBody, encode, async (body, how) => {
        await check(send('/meshes/default/secrets/fz', body, how));
        await check(send('/global-secrets/fz', body, how));
      }),
      { numRuns: 100 },
    );
  });

  it('list query strings', async () => {
    const param = fc.tuple(
      fc.oneof(
        fc.constantFrom('size', 'offset', 'name', 'filter[labels.a]', 'filter[x]', 'filter[labels.a][b]', 'dryRun'),
        fc.string(),
      ),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/meshes', '/secrets', '/meshes/default/secrets', '/global-secrets'),
        fc.array(param, { maxLength: 4 }),
        (path, params) => check({ method: 'GET', url: `${path}?${new URLSearchParams(params).toString()}` }),
      ),
      { numRuns: 150 },
    );
  });
});
