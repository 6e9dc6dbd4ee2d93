import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  DEFAULT_DP_CERT_EXPIRATION_MS,
  MeshSchema,
  dpCertExpirationMs,
  effectiveCaExpirationMs,
  effectiveRsaBits,
  enabledBackend,
  meshMtlsEnabled,
  parseShape,
  providedConfSecretNames,
  reroot,
  validateBuiltinConf,
  validateMeshStructure,
  validateProvidedConfShape,
  type Mesh,
} from '../../src/resources/index.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);
const TYPES: ReadonlySet<string> = new Set(['builtin', 'provided']);

function mesh(input: unknown): Mesh {
  const r = parseShape(MeshSchema, input);
  if (!r.ok) assert.fail(`shape error: ${JSON.stringify(r.violations)}`);
  return r.value;
}

function meshWith(mtls: unknown, name = 'default'): Mesh {
  return mesh({ type: 'Mesh', name, mtls });
}

describe('Mesh examples from the rotation guide', () => {
  for (const file of ['0-mesh-ca-1.yaml', '1-add-ca-2.yaml', '2-enable-ca-2.yaml', '3-remove-ca-1.yaml']) {
    it(`${file} parses and validates clean`, () => {
      const m = mesh(parseYaml(readFileSync(new URL(file, EXAMPLES), 'utf8')));
      assert.equal(m.type, 'Mesh');
      assert.equal(m.name, 'default');
      assert.deepEqual(validateMeshStructure(m, TYPES), []);
      assert.ok(meshMtlsEnabled(m));
      for (const b of m.mtls!.backends!) {
        const r = b.type === 'builtin' ? validateBuiltinConf(b.conf) : validateProvidedConfShape(b.conf);
        assert.deepEqual(r.violations, [], `${file} ${b.name}`);
      }
    });
  }

  it('step 2 enables the provided backend, whose secrets are known', () => {
    const m = mesh(parseYaml(readFileSync(new URL('2-enable-ca-2.yaml', EXAMPLES), 'utf8')));
    const b = enabledBackend(m)!;
    assert.equal(b.name, 'ca-2');
    assert.deepEqual(providedConfSecretNames(b.conf), ['ca-2-cert', 'ca-2-key']);
  });

  it('the api.md sample mesh validates clean', () => {
    const m = mesh(
      parseYaml(`
type: Mesh
name: default
mtls:
  enabledBackend: ca-1
  skipValidation: false
  backends:
  - name: ca-1
    type: builtin
    mode: STRICT
    dpCert:
      rotation:
        expiration: 24h
      requestTimeout: 10s
    conf:
      caCert:
        RSAbits: 2048
        expiration: 10y
`),
    );
    assert.deepEqual(validateMeshStructure(m, TYPES), []);
    assert.deepEqual(validateBuiltinConf(m.mtls!.backends![0]!.conf).violations, []);
  });
});

describe('Mesh shape', () => {
  it('keeps the loose Kuma sections so they round-trip', () => {
    const input = {
      type: 'Mesh',
      name: 'm',
      logging: { backends: [{ name: 'file', type: 'file' }] },
      routing: { zoneEgress: false },
      skipCreatingInitialPolicies: ['*'],
    };
    assert.deepEqual(mesh(input), input);
  });

  it('refuses an unknown mode and wrong JSON types', () => {
    for (const mtls of [
      { backends: [{ name: 'a', type: 'builtin', mode: 'LOOSE' }] },
      { enabledBackend: 5 },
      { skipValidation: 'yes' },
      { backends: { name: 'a' } },
      { backends: [{ name: 'a', type: 'builtin', conf: 'x' }] },
      { backends: [{ name: 'a', type: 'builtin', dpCert: { rotation: { expiration: 24 } } }] },
    ]) {
      assert.ok(!parseShape(MeshSchema, { type: 'Mesh', name: 'm', mtls }).ok, JSON.stringify(mtls));
    }
  });

  it('mTLS is on only with a non-empty enabledBackend', () => {
    assert.equal(meshMtlsEnabled(meshWith(undefined)), false);
    assert.equal(meshMtlsEnabled(meshWith({ enabledBackend: '', backends: [{ name: 'a', type: 'builtin' }] })), false);
    assert.equal(meshMtlsEnabled(meshWith({ backends: [{ name: 'a', type: 'builtin' }] })), false);
    assert.equal(meshMtlsEnabled(meshWith({ enabledBackend: 'a', backends: [{ name: 'a', type: 'builtin' }] })), true);
  });

  it('defaults the leaf lifetime to 24h and reads compound values', () => {
    const m = meshWith({
      backends: [
        { name: 'a', type: 'builtin' },
        { name: 'b', type: 'builtin', dpCert: { rotation: { expiration: '1h30m' } } },
      ],
    });
    assert.equal(dpCertExpirationMs(m.mtls!.backends![0]!), DEFAULT_DP_CERT_EXPIRATION_MS);
    assert.equal(DEFAULT_DP_CERT_EXPIRATION_MS, 86_400_000);
    assert.equal(dpCertExpirationMs(m.mtls!.backends![1]!), 90 * 60_000);
  });
});

describe('validateMeshStructure', () => {
  it('allows several backends (rotation) and no mtls at all', () => {
    assert.deepEqual(validateMeshStructure(meshWith(undefined), TYPES), []);
    const m = meshWith({
      enabledBackend: 'ca-2',
      backends: [
        { name: 'ca-1', type: 'builtin' },
        { name: 'ca-2', type: 'builtin' },
        { name: 'ca-3', type: 'provided' },
      ],
    });
    assert.deepEqual(validateMeshStructure(m, TYPES), []);
  });

  it('reports duplicate backend names', () => {
    const m = meshWith({
      backends: [
        { name: 'ca-1', type: 'builtin' },
        { name: 'ca-1', type: 'provided' },
      ],
    });
    assert.deepEqual(validateMeshStructure(m, TYPES), [
      { field: 'mtls.backends[1].name', message: '"ca-1" name is already used for another backend' },
    ]);
  });

  it('reports an enabledBackend that names no backend', () => {
    const expected = [{ field: 'mtls.enabledBackend', message: 'has to be set to one of the backends in the mesh' }];
    assert.deepEqual(
      validateMeshStructure(meshWith({ enabledBackend: 'ca-2', backends: [{ name: 'ca-1', type: 'builtin' }] }), TYPES),
      expected,
    );
    assert.deepEqual(validateMeshStructure(meshWith({ enabledBackend: 'ca-1' }), TYPES), expected);
  });

  it('reports only the first unknown backend type, as Kuma', () => {
    const m = meshWith({
      backends: [
        { name: 'a', type: 'builtin' },
        { name: 'b', type: 'vault' },
        { name: 'c', type: 'acmpca' },
        { name: 'd' },
      ],
    });
    assert.deepEqual(validateMeshStructure(m, TYPES), [
      { field: 'mtls.backends[1].type', message: 'could not find installed plugin for this type' },
    ]);
    assert.deepEqual(validateMeshStructure(meshWith({ backends: [{ name: 'd' }] }), TYPES), [
      { field: 'mtls.backends[0].type', message: 'could not find installed plugin for this type' },
    ]);
  });

  it('reports a bad dpCert expiration at Kuma odd path, for each bad backend', () => {
    const bad = { field: 'mtls.dpcert.rotation.expiration', message: 'has to be a valid format' };
    const cases: unknown[] = [
      { rotation: { expiration: '1x' } },
      { rotation: { expiration: '' } },
      { rotation: {} },
      {},
      { requestTimeout: '10s' },
    ];
    for (const dpCert of cases) {
      assert.deepEqual(
        validateMeshStructure(meshWith({ backends: [{ name: 'a', type: 'builtin', dpCert }] }), TYPES),
        [bad],
        JSON.stringify(dpCert),
      );
    }
    const two = meshWith({
      backends: [
        { name: 'a', type: 'builtin', dpCert: { rotation: { expiration: '-1h' } } },
        { name: 'b', type: 'builtin', dpCert: { rotation: { expiration: 'h' } } },
      ],
    });
    assert.deepEqual(validateMeshStructure(two, TYPES), [bad, bad]);
    for (const expiration of ['24h', '1d', '0', '1h30m', '90s', '500ms']) {
      const ok = meshWith({ backends: [{ name: 'a', type: 'builtin', dpCert: { rotation: { expiration } } }] });
      assert.deepEqual(validateMeshStructure(ok, TYPES), [], expiration);
    }
  });

  it('reports request timeouts that do not parse', () => {
    const m = meshWith({
      backends: [
        {
          name: 'a',
          type: 'builtin',
          dpCert: { rotation: { expiration: '24h' }, requestTimeout: 'soon' },
          rootChain: { requestTimeout: '10 s' },
        },
      ],
    });
    assert.deepEqual(validateMeshStructure(m, TYPES), [
      { field: 'mtls.backends[0].dpCert.requestTimeout', message: 'has to be a valid format' },
      { field: 'mtls.backends[0].rootChain.requestTimeout', message: 'has to be a valid format' },
    ]);
    const ok = meshWith({
      backends: [
        {
          name: 'a',
          type: 'builtin',
          dpCert: { rotation: { expiration: '24h' }, requestTimeout: '1.5s' },
          rootChain: { requestTimeout: '1m' },
        },
      ],
    });
    assert.deepEqual(validateMeshStructure(ok, TYPES), []);
  });

  it('reports an empty backend name', () => {
    assert.deepEqual(validateMeshStructure(meshWith({ backends: [{ type: 'provided' }] }), TYPES), [
      { field: 'mtls.backends[0].name', message: 'cannot be empty' },
    ]);
  });

  it('requires builtin backend names that make valid secret names, with Kuma messages', () => {
    assert.deepEqual(validateMeshStructure(meshWith({ backends: [{ name: 'CA_1', type: 'builtin' }] }), TYPES), [
      { field: 'mtls.backends[0].name', message: '"CA_1" name must be valid dns name' },
    ]);
    assert.deepEqual(
      validateMeshStructure(meshWith({ backends: [{ name: 'x'.repeat(240), type: 'builtin' }] }), TYPES),
      [{ field: 'mtls.backends[0].name', message: 'Backend name is too long. Max length: 253' }],
    );
    // A provided backend stores nothing under its name: Kuma does not check it, neither do we.
    assert.deepEqual(validateMeshStructure(meshWith({ backends: [{ name: 'CA_1', type: 'provided' }] }), TYPES), []);
    // The secret name includes the mesh name: 'default.ca-builtin-cert-' is 24 characters.
    assert.deepEqual(
      validateMeshStructure(meshWith({ backends: [{ name: 'x'.repeat(229), type: 'builtin' }] }), TYPES),
      [],
    );
  });

  it('reports everything in one pass, in Kuma order', () => {
    const m = meshWith({
      enabledBackend: 'nope',
      backends: [
        { name: 'a', type: 'builtin', dpCert: { rotation: { expiration: 'bad' } } },
        { name: 'a', type: 'vault' },
      ],
    });
    assert.deepEqual(validateMeshStructure(m, TYPES), [
      { field: 'mtls.dpcert.rotation.expiration', message: 'has to be a valid format' },
      { field: 'mtls.backends[1].name', message: '"a" name is already used for another backend' },
      { field: 'mtls.enabledBackend', message: 'has to be set to one of the backends in the mesh' },
      { field: 'mtls.backends[1].type', message: 'could not find installed plugin for this type' },
    ]);
  });
});

describe('builtin conf', () => {
  it('accepts Kuma RSAbits, the rsaBits alias, an empty or missing conf', () => {
    for (const conf of [
      undefined,
      null,
      {},
      { caCert: {} },
      { caCert: { RSAbits: 4096 } },
      { caCert: { rsaBits: 3072 } },
      { caCert: { RSAbits: 4096, rsaBits: 4096 } },
      { caCert: { RSAbits: 0 } },
      { caCert: { expiration: '1y' } },
    ]) {
      assert.deepEqual(validateBuiltinConf(conf).violations, [], JSON.stringify(conf));
    }
  });

  it('computes the effective key size and lifetime', () => {
    assert.equal(effectiveRsaBits(validateBuiltinConf({}).conf), 2048);
    assert.equal(effectiveRsaBits(validateBuiltinConf({ caCert: { RSAbits: 0 } }).conf), 2048);
    assert.equal(effectiveRsaBits(validateBuiltinConf({ caCert: { RSAbits: 4096 } }).conf), 4096);
    assert.equal(effectiveRsaBits(validateBuiltinConf({ caCert: { rsaBits: 3072 } }).conf), 3072);
    assert.equal(effectiveCaExpirationMs(validateBuiltinConf({}).conf), 10 * 365 * 86_400_000);
    assert.equal(
      effectiveCaExpirationMs(validateBuiltinConf({ caCert: { expiration: '2y' } }).conf),
      2 * 365 * 86_400_000,
    );
  });

  it('reports out-of-range and conflicting key sizes', () => {
    assert.deepEqual(validateBuiltinConf({ caCert: { RSAbits: 1024 } }).violations, [
      { field: 'caCert.RSAbits', message: 'has to be between 2048 and 8192' },
    ]);
    assert.deepEqual(validateBuiltinConf({ caCert: { rsaBits: 16384 } }).violations, [
      { field: 'caCert.rsaBits', message: 'has to be between 2048 and 8192' },
    ]);
    assert.deepEqual(validateBuiltinConf({ caCert: { RSAbits: 2048, rsaBits: 4096 } }).violations, [
      { field: 'caCert.rsaBits', message: 'has to be the same as caCert.RSAbits when both are set' },
    ]);
    assert.equal(validateBuiltinConf({ caCert: { RSAbits: 2048.5 } }).violations[0]!.field, 'caCert.RSAbits');
    assert.equal(validateBuiltinConf({ caCert: { RSAbits: '4096' } }).violations[0]!.field, 'caCert.RSAbits');
  });

  it('reports a bad expiration', () => {
    for (const expiration of ['ten years', '-1y', '']) {
      assert.deepEqual(
        validateBuiltinConf({ caCert: { expiration } }).violations,
        [{ field: 'caCert.expiration', message: 'has to be a valid format' }],
        expiration,
      );
    }
    assert.deepEqual(validateBuiltinConf({ caCert: { expiration: '0' } }).violations, [
      { field: 'caCert.expiration', message: 'has to be greater than 0' },
    ]);
  });

  it('refuses unknown keys (beyond Kuma) and a conf that is not an object', () => {
    assert.deepEqual(validateBuiltinConf({ foo: 1 }).violations, [{ field: 'foo', message: 'unknown field "foo"' }]);
    assert.deepEqual(validateBuiltinConf({ caCert: { RSAbits: 2048, bits: 1 } }).violations, [
      { field: 'caCert.bits', message: 'unknown field "bits"' },
    ]);
    assert.deepEqual(validateBuiltinConf('x').violations, [
      { field: '', message: 'could not convert backend config: has to be an object' },
    ]);
    assert.deepEqual(validateBuiltinConf([]).violations, [
      { field: '', message: 'could not convert backend config: has to be an object' },
    ]);
  });

  it('re-roots under the backend conf as the caller does', () => {
    const v = reroot(validateBuiltinConf({ foo: 1 }).violations, 'mtls.backends[0].conf');
    assert.deepEqual(v, [{ field: 'mtls.backends[0].conf.foo', message: 'unknown field "foo"' }]);
  });
});

describe('provided conf shape', () => {
  it('accepts each data source kind', () => {
    const cases = [
      { cert: { secret: 'c' }, key: { secret: 'k' } },
      { cert: { inline: 'LS0tLS1CRUdJTg==' }, key: { inlineString: '-----BEGIN PRIVATE KEY-----' } },
      { cert: { file: '/etc/ca.crt' }, key: { file: '/etc/ca.key' } },
    ];
    for (const conf of cases) {
      const r = validateProvidedConfShape(conf);
      assert.deepEqual(r.violations, [], JSON.stringify(conf));
      assert.deepEqual(r.conf, conf);
    }
  });

  it('requires cert and key, as Kuma', () => {
    const expected = [
      { field: 'cert', message: 'has to be defined' },
      { field: 'key', message: 'has to be defined' },
    ];
    assert.deepEqual(validateProvidedConfShape(undefined).violations, expected);
    assert.deepEqual(validateProvidedConfShape({}).violations, expected);
    assert.deepEqual(reroot(validateProvidedConfShape({}).violations, 'mtls.backends[0].conf'), [
      { field: 'mtls.backends[0].conf.cert', message: 'has to be defined' },
      { field: 'mtls.backends[0].conf.key', message: 'has to be defined' },
    ]);
  });

  it('requires a chosen source, as Kuma', () => {
    const none = 'data source has to be chosen. Available sources: secret, file, inline';
    assert.deepEqual(validateProvidedConfShape({ cert: {}, key: { secret: null } }).violations, [
      { field: 'cert', message: none },
      { field: 'key', message: none },
    ]);
  });

  it('refuses empty values, invalid base64, several sources and unknown keys', () => {
    assert.deepEqual(validateProvidedConfShape({ cert: { inline: '' }, key: { file: '' } }).violations, [
      { field: 'cert.inline', message: 'cannot be empty' },
      { field: 'key.file', message: 'cannot be empty' },
    ]);
    assert.deepEqual(validateProvidedConfShape({ cert: { secret: '' }, key: { secret: 'k' } }).violations, [
      { field: 'cert.secret', message: 'cannot be empty' },
    ]);
    assert.deepEqual(validateProvidedConfShape({ cert: { inline: 'not base64!' }, key: { secret: 'k' } }).violations, [
      { field: 'cert.inline', message: 'has to be valid base64' },
    ]);
    assert.deepEqual(
      validateProvidedConfShape({ cert: { secret: 'a', file: '/x' }, key: { secret: 'k' } }).violations,
      [{ field: 'cert', message: 'only one data source can be chosen, got: secret, file' }],
    );
    assert.deepEqual(validateProvidedConfShape({ cert: { secret: 'c' }, key: { secret: 'k' }, foo: 1 }).violations, [
      { field: 'foo', message: 'unknown field "foo"' },
    ]);
    assert.deepEqual(validateProvidedConfShape({ cert: { secrett: 'c' }, key: { secret: 'k' } }).violations, [
      { field: 'cert.secrett', message: 'unknown field "secrett"' },
      { field: 'cert', message: 'data source has to be chosen. Available sources: secret, file, inline' },
    ]);
    assert.deepEqual(validateProvidedConfShape({ cert: 'ca.crt', key: { secret: 42 } }).violations, [
      { field: 'cert', message: 'has to be an object with one of: secret, file, inline, inlineString' },
      { field: 'key.secret', message: 'has to be a string' },
    ]);
    assert.equal(validateProvidedConfShape({ cert: { secret: 'c' }, key: { secret: '' } }).conf, undefined);
  });
});
