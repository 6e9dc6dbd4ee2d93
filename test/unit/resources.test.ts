import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  GlobalSecretSchema,
  SecretSchema,
  ViolationList,
  decodeBase64Strict,
  describeShapeError,
  formatDuration,
  fromZodError,
  matchesLabelFilters,
  openApiComponents,
  parseDuration,
  parseLabelFilters,
  parseShape,
  resourceSchemas,
  toOpenApiSchema,
  validateLabels,
  validateMeshNameOnCreate,
  validateMeshReference,
  validateResourceName,
  zodPathToField,
} from '../../src/resources/index.js';

const RFC1123 =
  "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

describe('resource names', () => {
  it('accepts lowercase RFC 1123 subdomains', () => {
    for (const name of [
      'default',
      'web-1',
      'a',
      'ca-2-cert',
      'default.ca-builtin-cert-ca-1',
      '0abc',
      'a'.repeat(253),
    ]) {
      assert.deepEqual(validateResourceName(name), [], name);
    }
  });

  it('reports an empty name', () => {
    assert.deepEqual(validateResourceName(''), [{ field: 'name', message: 'cannot be empty' }]);
  });

  it('reports a name over 253 characters', () => {
    assert.deepEqual(validateResourceName('a'.repeat(254)), [
      { field: 'name', message: 'value length must less or equal 253' },
    ]);
  });

  it('reports invalid characters with Kuma message', () => {
    for (const name of ['Web', 'web_1', '-web', 'web-', 'a..b', 'web.', 'we b', 'wéb']) {
      assert.deepEqual(validateResourceName(name), [{ field: 'name', message: RFC1123 }], name);
    }
  });

  it('limits mesh names to 63 characters on create', () => {
    assert.deepEqual(validateMeshNameOnCreate('a'.repeat(63)), []);
    assert.deepEqual(validateMeshNameOnCreate('a'.repeat(64)), [
      { field: 'name', message: 'cannot be longer than 63 characters' },
    ]);
  });

  it('checks the mesh reference of mesh-scoped resources with the legacy character set', () => {
    assert.deepEqual(validateMeshReference('default'), []);
    assert.deepEqual(validateMeshReference('legacy_mesh'), []);
    assert.deepEqual(validateMeshReference(''), [{ field: 'mesh', message: 'cannot be empty' }]);
    assert.deepEqual(validateMeshReference('Default'), [
      {
        field: 'mesh',
        message: "invalid characters. Valid characters are numbers, lowercase latin letters and '-', '_', '.' symbols.",
      },
    ]);
  });
});

describe('durations', () => {
  const cases: Array<[string, number]> = [
    ['24h', 24 * 3600_000],
    ['10y', 10 * 365 * 86_400_000],
    ['1h30m', 90 * 60_000],
    ['1d12h', 36 * 3600_000],
    ['0', 0],
    ['0s', 0],
    ['90s', 90_000],
    ['250ms', 250],
    ['2w', 14 * 86_400_000],
    ['1m30s', 90_000],
    ['1s500ms', 1500],
    ['100y', 100 * 365 * 86_400_000],
  ];
  for (const [input, ms] of cases) {
    it(`parses ${JSON.stringify(input)}`, () => assert.equal(parseDuration(input), ms));
  }

  for (const input of [
    '-1h',
    '1x',
    '',
    'h',
    '1',
    '00',
    '1.5h',
    ' 1h',
    '1h ',
    '1H',
    '1hh',
    'h1',
    '101y',
    '99999999999999999999d',
    '1e3s',
  ]) {
    it(`rejects ${JSON.stringify(input)}`, () => assert.equal(parseDuration(input), null));
  }

  it('formats in the same grammar and round-trips', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(90 * 60_000), '1h30m');
    assert.equal(formatDuration(24 * 3600_000), '1d');
    assert.equal(formatDuration(10 * 365 * 86_400_000), '10y');
    for (const ms of [1, 999, 1500, 86_400_001, 3 * 365 * 86_400_000 + 5])
      assert.equal(parseDuration(formatDuration(ms)), ms);
  });
});

describe('violations', () => {
  it('builds nested Kuma paths', () => {
    const list = new ViolationList();
    const backend = list.under('mtls').under('backends').index(0);
    backend.add('name', 'a');
    backend.under('conf').add('cert', 'b');
    list.under('networking.inbound').index(2).under('tags').key('kuma.io/service').add('', 'c');
    list.add('', 'root');
    list.under('mtls.backends[1].conf').addAll([
      { field: 'key', message: 'd' },
      { field: '', message: 'e' },
    ]);
    assert.deepEqual(list.toArray(), [
      { field: 'mtls.backends[0].name', message: 'a' },
      { field: 'mtls.backends[0].conf.cert', message: 'b' },
      { field: 'networking.inbound[2].tags["kuma.io/service"]', message: 'c' },
      { field: '', message: 'root' },
      { field: 'mtls.backends[1].conf.key', message: 'd' },
      { field: 'mtls.backends[1].conf', message: 'e' },
    ]);
  });

  it('maps zod paths, record keys included', () => {
    assert.equal(zodPathToField(['mtls', 'backends', 0, 'conf', 'cert']), 'mtls.backends[0].conf.cert');
    assert.equal(
      zodPathToField(['networking', 'inbound', 0, 'tags', 'kuma.io/service']),
      'networking.inbound[0].tags["kuma.io/service"]',
    );
    assert.equal(zodPathToField(['labels', 'team']), 'labels["team"]');
    assert.equal(zodPathToField([]), '');
  });

  it('maps unknown keys of strict objects to one violation each', () => {
    const schema = z.strictObject({ a: z.strictObject({ b: z.number() }) });
    const result = schema.safeParse({ a: { b: 'x', c: 1, d: 2 }, foo: true });
    assert.equal(result.success, false);
    const violations = fromZodError(result.error!);
    assert.deepEqual(
      violations.filter((v) => v.message.startsWith('unknown field')),
      [
        { field: 'a.c', message: 'unknown field "c"' },
        { field: 'a.d', message: 'unknown field "d"' },
        { field: 'foo', message: 'unknown field "foo"' },
      ],
    );
    assert.ok(violations.some((v) => v.field === 'a.b'));
  });

  it('parseShape drops null members (YAML `conf:` with nothing), keeps GET-only meta, and refuses unknown fields', () => {
    const input = {
      type: 'Mesh',
      name: 'default',
      creationTime: '2024-01-01T00:00:00Z',
      mtls: { enabledBackend: null, backends: [{ name: 'ca-1', type: 'builtin', conf: null }] },
    };
    const ok = parseShape(resourceSchemas.Mesh, input);
    assert.ok(ok.ok);
    assert.deepEqual(ok.value, {
      type: 'Mesh',
      name: 'default',
      creationTime: '2024-01-01T00:00:00Z',
      mtls: { backends: [{ name: 'ca-1', type: 'builtin' }] },
    });
    const bad = parseShape(resourceSchemas.Mesh, { ...input, somethingNew: { x: 1 } });
    assert.deepEqual(bad.ok ? [] : bad.violations, [
      { field: 'somethingNew', message: 'unknown field "somethingNew"' },
    ]);
  });

  it('parseShape reports wrong JSON types with paths, and describes them for a Bad Request', () => {
    const bad = parseShape(resourceSchemas.Mesh, {
      type: 'Mesh',
      name: 'm',
      mtls: { backends: [{ name: 1, type: 'builtin', mode: 'LOOSE' }] },
    });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.violations.map((v) => v.field).sort(), ['mtls.backends[0].mode', 'mtls.backends[0].name']);
    // Kuma's decoder wording, not the schema library's.
    assert.equal(
      describeShapeError('Mesh', bad.violations),
      'invalid Mesh object: "json: cannot unmarshal number into Go value of type string"',
    );
  });

  it('missing type and name become "" so the URL checks report them', () => {
    const r = parseShape(resourceSchemas.Dataplane, { networking: { address: '1.2.3.4' } });
    assert.ok(r.ok);
    assert.equal(r.value.type, '');
    assert.equal(r.value.name, '');
    assert.equal(r.value.mesh, '');
  });
});

describe('secrets', () => {
  it('accepts standard base64, wrapped base64, empty data and no data', () => {
    for (const data of ['aGVsbG8=', 'aGVsbG8', 'aGk=', '', 'LS0tLS1CRUdJ\nTg==', 'a-_b']) {
      assert.ok(SecretSchema.safeParse({ type: 'Secret', mesh: 'default', name: 's', data }).success, data);
    }
    assert.ok(SecretSchema.safeParse({ type: 'Secret', mesh: 'default', name: 's' }).success);
    assert.ok(GlobalSecretSchema.safeParse({ type: 'GlobalSecret', name: 's', data: 'YQ==' }).success);
  });

  it('refuses invalid base64 as a shape error', () => {
    for (const data of ['not base64!', '<base64 of ca-2.crt>', 'a', 'aGVsbG8==', 'aGV=sbG8', 'a+_b']) {
      const r = parseShape(SecretSchema, { type: 'Secret', mesh: 'default', name: 's', data });
      assert.ok(!r.ok, data);
      assert.deepEqual(r.violations, [{ field: 'data', message: 'has to be valid base64' }]);
    }
    assert.ok(!SecretSchema.safeParse({ type: 'Secret', name: 's', data: 42 }).success);
  });

  it('decodes what it accepts', () => {
    assert.equal(decodeBase64Strict('aGVsbG8=')!.toString(), 'hello');
    assert.equal(decodeBase64Strict('aGVsbG8')!.toString(), 'hello');
    assert.equal(decodeBase64Strict('aGVs\r\nbG8=')!.toString(), 'hello');
    assert.deepEqual([...decodeBase64Strict('-_8')!], [0xfb, 0xff]);
    assert.equal(decodeBase64Strict('@@@@'), null);
  });
});

describe('labels', () => {
  it('accepts Kubernetes-style labels', () => {
    assert.deepEqual(
      validateLabels({ team: 'payments', 'example.com/tier': 'gold', empty: '' }, { mesh: 'default' }),
      [],
    );
    assert.deepEqual(validateLabels({ 'kuma.io/mesh': 'default', 'kuma.io/origin': 'zone' }, { mesh: 'default' }), []);
  });

  it('reports bad keys and values at labels["k"]', () => {
    const v = validateLabels({ '': 'x', 'bad key': 'ok', ok: 'bad value!', 'a/b/c': 'x', [`${'a'.repeat(64)}`]: 'x' });
    const fields = v.map((x) => x.field);
    assert.ok(fields.includes('labels[""]'));
    assert.ok(v.some((x) => x.field === 'labels[""]' && x.message === 'name part must be non-empty'));
    assert.ok(
      v.some(
        (x) =>
          x.field === 'labels["bad key"]' &&
          x.message.startsWith("name part must consist of alphanumeric characters, '-', '_' or '.'"),
      ),
    );
    assert.ok(
      v.some(
        (x) =>
          x.field === 'labels["ok"]' && x.message.startsWith('a valid label must be an empty string or consist of'),
      ),
    );
    assert.ok(v.some((x) => x.field === 'labels["a/b/c"]' && x.message.startsWith('a qualified name must consist of')));
    assert.ok(v.some((x) => x.message === 'name part must be no more than 63 characters'));
  });

  it("checks the Kuma labels in Kuma's wording", () => {
    assert.deepEqual(validateLabels({ 'kuma.io/mesh': 'other' }, { mesh: 'default' }), [
      { field: 'labels["kuma.io/mesh"]', message: 'kuma.io/mesh label must not differ from mesh set on resource' },
    ]);
    assert.deepEqual(validateLabels({ 'kuma.io/origin': 'elsewhere' }), [
      { field: 'labels["kuma.io/origin"]', message: 'unknown resource origin "elsewhere"' },
    ]);
    assert.deepEqual(validateLabels({ 'kuma.io/zone': 'east' }, { zone: 'default' }), [
      { field: 'labels["kuma.io/zone"]', message: 'kuma.io/zone label should have default value' },
    ]);
    assert.equal(validateLabels({ 'kuma.io/mesh': 'default' }).length, 1, 'kuma.io/mesh on a global resource');
    // A resource that came from the global CP is not held to this zone's mesh and zone.
    assert.deepEqual(
      validateLabels(
        { 'kuma.io/origin': 'global', 'kuma.io/zone': 'east', 'kuma.io/mesh': 'x' },
        { mesh: 'default', zone: 'default' },
      ),
      [],
    );
  });

  it('parses filter[labels.x] and refuses other filters as Kuma', () => {
    const r = parseLabelFilters(
      { 'filter[labels.team]': 'payments', 'filter[labels.kuma.io/zone]': ['a', 'b'], size: '10' },
      '/meshes',
    );
    assert.deepEqual(r.violations, []);
    assert.deepEqual(
      [...r.filters],
      [
        ['team', 'payments'],
        ['kuma.io/zone', 'b'],
      ],
    );
    assert.ok(matchesLabelFilters({ team: 'payments', 'kuma.io/zone': 'b' }, r.filters));
    assert.ok(!matchesLabelFilters({ team: 'payments' }, r.filters));
    assert.ok(!matchesLabelFilters(undefined, r.filters));

    const bad = parseLabelFilters({ 'filter[name]': 'x', 'filter[labels.a][eq]': 'y' }, '/meshes');
    assert.deepEqual(bad.violations, [
      { field: '/meshes.filter[name]', message: 'filters are only supported on labels' },
      { field: '/meshes.filter[labels.a][eq]', message: 'advanced filters are not supported' },
    ]);
  });
});

describe('OpenAPI', () => {
  it('produces OpenAPI 3.0 schemas without $schema for every resource', () => {
    const components = openApiComponents();
    assert.deepEqual(Object.keys(components).sort(), [
      'BuiltinConf',
      'Dataplane',
      'GlobalSecret',
      'Mesh',
      'MeshIdentity',
      'MeshTrust',
      'ProvidedConf',
      'Secret',
    ]);
    for (const schema of Object.values(components)) {
      assert.equal(schema.$schema, undefined);
      assert.equal(schema.type, 'object');
    }
  });

  it('request schemas accept unknown top-level fields and do not require name', () => {
    const mesh = toOpenApiSchema(resourceSchemas.Mesh) as { required?: string[]; additionalProperties?: unknown };
    assert.equal(mesh.required, undefined);
    assert.equal(mesh.additionalProperties, false, 'a Mesh is strict: unknown fields are refused');
    const conf = toOpenApiSchema(resourceSchemas.BuiltinConf) as { additionalProperties?: unknown };
    assert.equal(conf.additionalProperties, false, 'backend conf is strict');
    const secret = toOpenApiSchema(resourceSchemas.Secret) as { properties: { data: { format?: string } } };
    assert.equal(secret.properties.data.format, 'byte');
  });
});
