import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { createTestApp, type TestApp } from '../helpers/app.js';

type Operation = {
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }>;
};
type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
};

describe('OpenAPI document', () => {
  let t: TestApp;
  let served: Doc;
  before(async () => {
    t = await createTestApp({}, { defaultMesh: false });
    // Public: a remote caller without a token may read it.
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json', headers: { host: 'cp.example.com' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    served = res.json() as Doc;
  });
  after(async () => {
    await t.close();
  });

  it('openapi/openapi.yaml is exactly what the server serves (run `npm run openapi` after changing routes)', () => {
    const file = YAML.parse(readFileSync(new URL('../../openapi/openapi.yaml', import.meta.url), 'utf8')) as Doc;
    assert.deepEqual(file, served);
  });

  it('is OpenAPI 3 and documents the main routes', () => {
    assert.match(served.openapi, /^3\./);
    assert.equal(served.info.title, 'meshcp');
    const expected: Record<string, string[]> = {
      '/': ['get'],
      '/healthz': ['get'],
      '/readyz': ['get'],
      '/meshes': ['get'],
      '/meshes/{name}': ['get', 'put', 'delete'],
      '/meshes/{mesh}/secrets': ['get'],
      '/meshes/{mesh}/secrets/{name}': ['get', 'put', 'delete'],
      '/secrets': ['get'],
      '/global-secrets': ['get'],
      '/global-secrets/{name}': ['get', 'put', 'delete'],
      '/meshes/{mesh}/dataplanes': ['get'],
      '/meshes/{mesh}/dataplanes/{name}': ['get', 'put', 'delete'],
      '/dataplanes': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      assert.ok(served.paths[path], `${path} is documented`);
      for (const method of methods)
        assert.ok(served.paths[path]![method], `${method.toUpperCase()} ${path} is documented`);
    }
    assert.equal(served.paths['/openapi.json'], undefined, 'the document does not list itself');
  });

  it('documents path parameters, list parameters, bodies and responses', () => {
    const put = served.paths['/meshes/{mesh}/secrets/{name}']!.put!;
    const pathParams = (put.parameters ?? []).filter((p) => p.in === 'path').map((p) => [p.name, p.required]);
    assert.deepEqual(pathParams.sort(), [
      ['mesh', true],
      ['name', true],
    ]);
    assert.ok((put.parameters ?? []).some((p) => p.in === 'query' && p.name === 'dryRun'));
    assert.deepEqual(Object.keys(put.requestBody!.content).sort(), ['application/json', 'application/yaml']);
    assert.ok(put.requestBody!.content['application/json']!.schema.properties!.data, 'the Secret schema has data');
    for (const status of ['200', '201', '400', '404']) assert.ok(put.responses[status], `PUT documents ${status}`);

    const meshPut = served.paths['/meshes/{name}']!.put!;
    const mtls = meshPut.requestBody!.content['application/json']!.schema.properties!.mtls as {
      properties: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(mtls.properties).sort(), ['backends', 'enabledBackend', 'skipValidation']);

    const list = served.paths['/meshes']!.get!;
    const query = (list.parameters ?? [])
      .filter((p) => p.in === 'query')
      .map((p) => p.name)
      .sort();
    assert.deepEqual(query, ['name', 'offset', 'size']);
    const page = list.responses['200']!.content!['application/json']!.schema.properties!;
    assert.deepEqual(Object.keys(page).sort(), ['items', 'next', 'total']);

    const error =
      served.paths['/meshes/{name}']!.get!.responses['404']!.content!['application/json']!.schema.properties!;
    assert.deepEqual(Object.keys(error).sort(), [
      'causes',
      'detail',
      'details',
      'invalid_parameters',
      'status',
      'title',
      'type',
    ]);
  });
});
