// meshctl generate dataplane-token binds the token to the Dataplane's services (issue 10, item 5).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { runMeshctl } from '../../src/cli/program.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let address: string;

before(async () => {
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  address = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const dp = {
    type: 'Dataplane',
    mesh: 'default',
    name: 'web-1',
    networking: {
      address: '127.0.0.1',
      inbound: [
        { port: 20001, tags: { 'kuma.io/service': 'web', version: 'v1' } },
        { port: 20002, tags: { 'kuma.io/service': 'web-admin' } },
      ],
    },
  };
  assert.equal(
    (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: dp })).statusCode,
    201,
  );
});

after(async () => {
  await t?.close();
  if (t) rmSync(t.dataDir, { recursive: true, force: true });
});

async function generate(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runMeshctl(['generate', 'dataplane-token', ...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { MESHCP_ADDRESS: address, MESHCTL_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent' },
    readStdin: async () => '',
    now: () => Date.now(),
    sleep: async () => {},
  });
  assert.equal(code, 0, stderr);
  return { tags: decodeJwt(stdout.trim()).Tags, stderr };
}

test('a token for a registered Dataplane is bound to its current services', async () => {
  const run = await generate('--name', 'web-1');
  assert.deepEqual(run.tags, { 'kuma.io/service': ['web', 'web-admin'] });
  assert.match(run.stderr, /bound to kuma\.io\/service=web,web-admin .*--no-service-tag/);
});

test('--no-service-tag keeps the Kuma default (any service)', async () => {
  assert.deepEqual((await generate('--name', 'web-1', '--no-service-tag')).tags, {});
});

test('explicit --tag kuma.io/service wins; other --tag flags are kept next to the bound service', async () => {
  assert.deepEqual((await generate('--name', 'web-1', '--tag', 'kuma.io/service=web')).tags, {
    'kuma.io/service': ['web'],
  });
  assert.deepEqual((await generate('--name', 'web-1', '--tag', 'version=v1')).tags, {
    version: ['v1'],
    'kuma.io/service': ['web', 'web-admin'],
  });
});

test('a Dataplane not registered yet: an unbound token and a note saying how to bind it', async () => {
  const run = await generate('--name', 'web-2');
  assert.deepEqual(run.tags, {});
  assert.match(run.stderr, /web-2 is not registered yet.*--tag kuma\.io\/service=<service>/);
});
