// The served-serial protocol: a dataplane whose proxy has not reloaded its new certificate still serves the old
// backend's certificate, and removing that backend (rule 2) waits until the dataplane reports serving the new one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);
const manifest = (file: string) => readFileSync(new URL(file, EXAMPLES), 'utf8');
const [STEP0, STEP1, STEP2, STEP3] = [
  '0-mesh-ca-1.yaml',
  '1-add-ca-2.yaml',
  '2-enable-ca-2.yaml',
  '3-remove-ca-1.yaml',
].map(manifest);
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const YAML_TYPE = { 'content-type': 'application/yaml' };

let workDir: string;
let t: TestApp;
const tokens = new Map<string, string>();

async function call(
  method: 'GET' | 'PUT' | 'POST',
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await t.app.inject({
    method,
    url,
    headers: { ...admin, ...headers },
    ...(payload === undefined ? {} : { payload: payload as string }),
  });
  return {
    status: res.statusCode,
    body:
      res.body && String(res.headers['content-type']).startsWith('application/json') ? JSON.parse(res.body) : res.body,
  };
}
const asDataplane = (
  name: string,
  method: 'GET' | 'POST',
  url: string,
  payload?: object,
  headers: Record<string, string> = {},
) => call(method, url, payload, { ...headers, authorization: `Bearer ${tokens.get(name)}` });
const bundleUrl = (name: string) => `/meshes/default/dataplanes/${name}/trust-bundle`;

/** The agent's word after a successful reload: the bundle it holds (If-None-Match) and the serial it serves. */
async function report(name: string, serial?: string) {
  const current = (await call('GET', bundleUrl(name))).body.bundleVersion;
  const res = await asDataplane(
    name,
    'GET',
    `${bundleUrl(name)}${serial ? `?servedSerial=${serial}` : ''}`,
    undefined,
    { 'if-none-match': `"${current}"` },
  );
  assert.ok(res.status === 304 || res.status === 200, `report of ${name}: ${res.status}`);
}

async function issue(name: string): Promise<string> {
  const res = await asDataplane(name, 'POST', `/meshes/default/dataplanes/${name}/certificate`, {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return new X509Certificate(res.body.certificate).serialNumber;
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'meshcp-served-'));
  const key = join(workDir, 'ca-2.key');
  const cert = join(workDir, 'ca-2.crt');
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
      '/CN=ca-2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  for (const [suffix, file] of [
    ['cert', cert],
    ['key', key],
  ]) {
    const doc = parseYaml(manifest(`secret-ca-2-${suffix}.yaml`));
    doc.data = readFileSync(file).toString('base64');
    assert.equal((await call('PUT', `/meshes/default/secrets/${doc.name}`, stringifyYaml(doc), YAML_TYPE)).status, 201);
  }
  assert.equal((await call('PUT', '/meshes/default', STEP0, YAML_TYPE)).status, 200);
  for (const name of ['web-1', 'api-1']) {
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name,
      networking: {
        address: '127.0.0.1',
        inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': name.slice(0, 3) } }],
      },
    };
    assert.equal((await call('PUT', `/meshes/default/dataplanes/${name}`, dp)).status, 201);
    tokens.set(name, (await call('POST', '/tokens/dataplane', { name, mesh: 'default' })).body);
  }
});
after(async () => {
  await t?.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('step 3 waits for what proxies serve, not for what was issued', () => {
  it('a reporting dataplane that has not reloaded its ca-2 certificate holds step 3; one that never reports keeps the old behaviour', async () => {
    const webCa1 = await issue('web-1');
    await issue('api-1');
    await report('web-1', webCa1); // web-1's agent reports serials; api-1's never does
    await report('api-1');
    assert.equal((await call('PUT', '/meshes/default', STEP1, YAML_TYPE)).status, 200);
    await report('web-1', webCa1);
    await report('api-1');
    assert.equal((await call('PUT', '/meshes/default', STEP2, YAML_TYPE)).status, 200);

    const webCa2 = await issue('web-1');
    await issue('api-1');
    // web-1's proxy still serves the ca-1 certificate (its reload has not succeeded): removing ca-1 would break it.
    await report('web-1', webCa1);
    const refused = await call('PUT', '/meshes/default?dryRun=true', STEP3, YAML_TYPE);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    // The message says why: web-1 already has its ca-2 certificate, only its proxy has not reloaded it.
    assert.equal(
      refused.body.causes[0].message,
      'cannot remove backend "ca-1" yet: 1 active dataplane was issued a certificate by another backend but its proxy still serves the one from "ca-1" (not reloaded yet): web-1 (issued by "ca-2")',
    );
    const status = (await call('GET', '/meshes/default/ca-rotation')).body;
    assert.match(
      status.nextStep.description,
      /1 of them only to reload its proxy|1 of them only to reload their proxy/,
    );
    assert.deepEqual([status.nextStep.ready, status.nextStep.waitingFor], [false, { count: 1, names: ['web-1'] }]);
    assert.equal(status.backends.find((b: any) => b.name === 'ca-1').dataplanesIssued, 1);

    // An operator's curl with the new serial is no report: only the dataplane's own calls count.
    assert.equal((await call('GET', `${bundleUrl('web-1')}?servedSerial=${webCa2}`)).status, 200);
    assert.equal((await call('PUT', '/meshes/default?dryRun=true', STEP3, YAML_TYPE)).status, 409);

    // The reload succeeded: the agent reports the new serial (leading zeros and case do not matter).
    await report('web-1', `00${webCa2.toLowerCase()}`);
    assert.equal((await call('GET', '/meshes/default/ca-rotation')).body.nextStep.ready, true);
    assert.equal((await call('PUT', '/meshes/default', STEP3, YAML_TYPE)).status, 200);
  });

  it('a servedSerial that is not a hex serial is a 400 in the error format', async () => {
    for (const bad of ['xyz', '12-34', 'a'.repeat(65)]) {
      const res = await asDataplane('web-1', 'GET', `${bundleUrl('web-1')}?servedSerial=${bad}`);
      assert.equal(res.status, 400, bad);
      assert.deepEqual(res.body.invalid_parameters, [{ field: 'servedSerial', reason: 'has to be a valid format' }]);
    }
    const twice = await asDataplane('web-1', 'GET', `${bundleUrl('web-1')}?servedSerial=AB&servedSerial=CD`);
    assert.equal(twice.status, 400);
  });
});
