// Kuma's own published OpenAPI document (kumahq/kuma v2.14.3, vendored under test/fixtures/kuma-openapi with its
// license) validates meshcp's answers: every operation of the document that meshcp serves is called in a realistic
// state, and its answer must match the document's schema for the status it got (and that status must be one the
// document names). The three corrections where the document disagrees with kuma-cp are in SOURCE.md and below.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import yaml from 'js-yaml';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { ecdsaRootCa } from '../helpers/ecdsa-ca.js';

/** A CA a MeshTrust PUT can name. */
const TRUST_CA_PEM = ecdsaRootCa('openapi-trust').certPem;

type Json = Record<string, any>;
const DOC = yaml.load(readFileSync(new URL('../fixtures/kuma-openapi/openapi.yaml', import.meta.url), 'utf8')) as Json;

/** The corrections of SOURCE.md, applied to a copy of the document. */
function corrected(doc: Json): Json {
  const copy = structuredClone(doc);
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const obj = node as Json;
    const props = obj.properties as Json | undefined;
    // google.protobuf.Timestamp: {seconds, nanos} in the document, an RFC 3339 string on the wire.
    if (props && Object.keys(props).sort().join() === 'nanos,seconds') return { type: 'string', format: 'date-time' };
    for (const key of Object.keys(obj)) obj[key] = walk(obj[key]);
    // A list's `next`: null on the last page.
    if (props?.next?.type === 'string' && props.items && props.total) props.next = { type: ['string', 'null'] };
    return obj;
  };
  walk(copy.components);
  walk(copy.paths);
  // Error.instance: set by kuma-cp only when tracing is on.
  const error = copy.components.schemas.Error;
  error.required = error.required.filter((f: string) => f !== 'instance');
  return copy;
}

const doc = corrected(DOC);
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
ajv.addFormat('date-time', {
  type: 'string',
  validate: (s: string) => /^\d{4}-\d\d-\d\dT/.test(s) && !Number.isNaN(Date.parse(s)),
});
ajv.addSchema({ $id: 'kuma', components: doc.components });

const resolveRef = (ref: string): Json =>
  ref
    .replace(/^#\//, '')
    .split('/')
    .reduce((n: Json, k) => n[k], doc);

/** The schema the document gives the answer of `operation` with `status`, as an ajv reference into the document. */
function answerSchema(operation: Json, status: number): Json | 'undocumented' | undefined {
  let response = operation.responses?.[String(status)];
  if (!response) return 'undocumented';
  if (response.$ref) response = resolveRef(response.$ref);
  const content = response.content?.['application/json'] ?? response.content?.['application/problem+json'];
  if (!content?.schema) return undefined;
  return JSON.parse(JSON.stringify(content.schema).replaceAll('"#/components/', '"kuma#/components/'));
}

const dataplane = (name: string) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
});
const secret = (type: string, name: string, mesh?: string) => ({
  type,
  name,
  ...(mesh ? { mesh } : {}),
  data: Buffer.from('hello').toString('base64'),
});

/** Path parameters, by the template they appear in: the realistic objects of the seeded state. */
function concrete(path: string, method: string): string {
  const name = (() => {
    if (path.startsWith('/meshes/{name}')) return method === 'delete' ? 'throwaway' : 'default';
    if (path.includes('/dataplanes/{name}')) return method === 'delete' ? 'throwaway' : 'web-1';
    if (path.includes('/secrets/{name}')) return method === 'delete' ? 'throwaway' : 'sec-1';
    if (path.includes('/global-secrets/{name}')) return method === 'delete' ? 'throwaway' : 'gsec-1';
    return 'x';
  })();
  return path
    .replace('{mesh}', 'default')
    .replace('{name}', name)
    .replace('{resourceType}', 'dataplanes')
    .replace('{resourceName}', 'web-1')
    .replace('{policyType}', 'meshtimeouts')
    .replace('{policyName}', 'x')
    .replace('{serviceType}', 'meshservices')
    .replace('{serviceName}', 'x')
    .replace(/\{[^}]+\}/g, 'x');
}

function bodyFor(path: string): object | undefined {
  if (path === '/meshes/{name}')
    return {
      type: 'Mesh',
      name: 'default',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
    };
  if (path === '/meshes/{mesh}/dataplanes/{name}') return dataplane('web-1');
  if (path === '/meshes/{mesh}/secrets/{name}') return secret('Secret', 'sec-1', 'default');
  if (path === '/global-secrets/{name}') return secret('GlobalSecret', 'gsec-1');
  if (path === '/meshes/{mesh}/meshidentities/{name}')
    return {
      type: 'MeshIdentity',
      mesh: 'default',
      name: 'x',
      spec: {
        selector: {}, // selects no dataplane: nothing to guard
        provider: {
          type: 'Bundled',
          bundled: { meshTrustCreation: 'Disabled', insecureAllowSelfSigned: true, autogenerate: { enabled: true } },
        },
      },
    };
  if (path === '/meshes/{mesh}/meshtrusts/{name}')
    return {
      type: 'MeshTrust',
      mesh: 'default',
      name: 'x',
      spec: { trustDomain: 'example.org', caBundles: [{ type: 'Pem', pem: { value: TRUST_CA_PEM } }] },
    };
  return {};
}

async function seed(t: TestApp) {
  const put = async (url: string, payload: object) =>
    assert.ok((await t.app.inject({ method: 'PUT', url, payload })).statusCode < 300, url);
  await put('/meshes/default', bodyFor('/meshes/{name}')!);
  await put('/meshes/throwaway', { type: 'Mesh', name: 'throwaway' });
  await put('/meshes/default/dataplanes/web-1', dataplane('web-1'));
  await put('/meshes/default/dataplanes/throwaway', dataplane('throwaway'));
  await put('/meshes/default/dataplanes/never', dataplane('never'));
  await put('/meshes/default/dataplanes/edge', {
    type: 'Dataplane',
    mesh: 'default',
    name: 'edge',
    networking: { address: '127.0.0.1', gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge' } } },
  });
  await put('/meshes/default/secrets/sec-1', secret('Secret', 'sec-1', 'default'));
  await put('/meshes/default/secrets/throwaway', secret('Secret', 'throwaway', 'default'));
  await put('/global-secrets/gsec-1', secret('GlobalSecret', 'gsec-1'));
  await put('/global-secrets/throwaway', secret('GlobalSecret', 'throwaway'));
  // web-1 is connected and holds a certificate: its overview carries a subscription and the mTLS insight.
  const token = (
    await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'default' } })
  ).body;
  const auth = { authorization: `Bearer ${token}` };
  assert.equal(
    (
      await t.app.inject({
        method: 'POST',
        url: '/meshes/default/dataplanes/web-1/certificate',
        headers: auth,
        payload: {},
      })
    ).statusCode,
    200,
  );
  assert.equal(
    (await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/web-1/trust-bundle', headers: auth }))
      .statusCode,
    200,
  );
}

const isNoSuchRoute = (status: number, body: string) => status === 404 && body.includes('no such route');

test("Kuma's published OpenAPI document validates every answer of every operation meshcp serves", async () => {
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  try {
    await seed(t);
    const served: string[] = [];
    const problems: string[] = [];
    const order = ['get', 'put', 'delete'];
    const operations = Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      order
        .filter((m) => (item as Json)[m])
        .map((method) => ({ path, method, operation: (item as Json)[method] as Json })),
    );
    operations.sort((a, b) => order.indexOf(a.method) - order.indexOf(b.method)); // deletes last
    for (const { path, method, operation } of operations) {
      const url = concrete(path, method);
      const res = await t.app.inject({
        method: method.toUpperCase() as 'GET' | 'PUT' | 'DELETE',
        url,
        ...(method === 'put' ? { payload: bodyFor(path) } : {}),
      });
      if (isNoSuchRoute(res.statusCode, res.body)) continue;
      const label = `${method.toUpperCase()} ${path} (${url}) -> ${res.statusCode}`;
      served.push(label);
      const schema = answerSchema(operation, res.statusCode);
      if (schema === 'undocumented') {
        problems.push(`${label}: the document names no ${res.statusCode} answer`);
        continue;
      }
      if (!schema) continue;
      const validate = ajv.compile(schema);
      if (!validate(res.json())) problems.push(`${label}: ${ajv.errorsText(validate.errors, { separator: '\n    ' })}`);
    }
    assert.deepEqual(problems, [], `answers that Kuma's document refuses:\n${problems.join('\n')}`);
    // What the GUI reads most, at least: the index, resources, global insight, meshes, dataplanes and their overviews,
    // layout, secrets, and the empty kinds.
    for (const op of [
      'GET / ',
      'GET /_resources ',
      'GET /global-insight ',
      'GET /meshes ',
      'GET /meshes/{name} ',
      'PUT /meshes/{name} ',
      'DELETE /meshes/{name} ',
      'GET /meshes/{mesh}/dataplanes/_overview ',
      'GET /meshes/{mesh}/dataplanes/{name}/_overview ',
      'GET /meshes/{mesh}/dataplanes/{name}/_layout ',
      'GET /meshes/{mesh}/dataplanes/{name}/_config ',
      'GET /meshes/{mesh}/meshtrusts ',
      'GET /meshes/{mesh}/meshidentities ',
      'GET /meshes/{mesh}/workloads ',
      'GET /meshes/{mesh}/meshgateways ',
      'GET /zoneegresses ',
      'PUT /meshes/{mesh}/dataplanes/{name} ',
      'DELETE /meshes/{mesh}/secrets/{name} ',
    ]) {
      assert.ok(
        served.some((s) => s.startsWith(op)),
        `${op.trim()} is served and validated (served: ${served.length})`,
      );
    }
  } finally {
    await t.close();
  }
});

test('the corrections are the only ones: without them, the document refuses what kuma-cp itself sends', () => {
  // A subscription as kuma-cp and meshcp send it: its times are strings, which the uncorrected document refuses.
  const raw = DOC.components.schemas.DataplaneOverview.properties.dataplaneInsight.properties.subscriptions.items;
  const sub = {
    id: 'x',
    controlPlaneInstanceId: 'cp',
    connectTime: '2026-01-01T00:00:00Z',
    status: { lastUpdateTime: '2026-01-01T00:00:00Z' },
  };
  assert.equal(new Ajv2020({ strict: false }).validate(raw, sub), false);
  const fixed = doc.components.schemas.DataplaneOverview.properties.dataplaneInsight.properties.subscriptions.items;
  assert.equal(new Ajv2020({ strict: false }).validate(fixed, sub), true);
  // And the document is strict where meshcp used to fall short: an index without `gui` is refused.
  const index = { hostname: 'h', product: 'meshcp', version: '0', instanceId: 'i', clusterId: 'c' };
  assert.equal(ajv.validate({ $ref: 'kuma#/components/schemas/Index' }, index), false);
  assert.equal(ajv.validate({ $ref: 'kuma#/components/schemas/Index' }, { ...index, gui: '/gui' }), true);
});
