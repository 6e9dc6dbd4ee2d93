import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';
import { dbSnapshot } from '../helpers/api-assert.js';
import { FakeClock } from '../helpers/fake-clock.js';

const MESH = {
  type: 'Mesh',
  name: 'default',
  mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', conf: { caCert: { RSAbits: 2048 } } }] },
};
const WEB = {
  type: 'Dataplane',
  mesh: 'default',
  name: 'web-1',
  networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
};

test('closing the app answers waiting long-polls with 304, then stops the signing pool and closes the database', async () => {
  const clock = new FakeClock();
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '1' }, { clock });
  let closed = false;
  try {
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: MESH })).statusCode, 200);
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: WEB })).statusCode,
      201,
    );
    const token = (
      await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'default' } })
    ).body;
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/meshes/default/dataplanes/web-1`;
    const auth = { authorization: `Bearer ${token}` };
    const cert = await (
      await fetch(`${base}/certificate`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{}',
      })
    ).json();

    // A dataplane holding the current bundle waits on its long-poll (a minute on the control plane's clock).
    const poll = fetch(`${base}/trust-bundle?wait=60s`, {
      headers: { ...auth, 'if-none-match': `"${cert.bundleVersion}"` },
    });
    await clock.waitForTimers();
    await t.app.close();
    closed = true;
    const answer = await poll;
    assert.equal(answer.status, 304, 'the poll was answered, not cut off, and did not wait out its minute');
    assert.equal(answer.headers.get('etag'), `"${cert.bundleVersion}"`);

    await assert.rejects(t.services.store.ping(), 'the database is closed');
    await assert.rejects(
      t.services.signing.sign('x', { chainPem: '', keyPem: '' }, undefined as never, {} as never),
      /signing pool is closed/,
      'the signing pool is stopped and starts no new worker',
    );
  } finally {
    if (!closed) await t.close();
    rmSync(t.dataDir, { recursive: true, force: true });
  }
});

test('reads never write: rotation status, insights and an operator reading a trust bundle change nothing stored', async () => {
  const t = await createTestApp();
  try {
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: MESH })).statusCode, 200);
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: WEB })).statusCode,
      201,
    );
    const before = await dbSnapshot(t.services);
    t.services.ca.invalidate('default'); // the first read after a cache miss loads the CA afresh
    for (const url of [
      '/meshes/default/ca-rotation',
      '/mesh-insights/default',
      '/meshes/default/dataplanes/web-1/trust-bundle',
      '/meshes/default/dataplanes/_overview',
    ]) {
      assert.equal((await t.app.inject({ method: 'GET', url })).statusCode, 200, url);
    }
    assert.deepEqual(await dbSnapshot(t.services), before, 'a GET wrote to the database');
  } finally {
    await t.close();
    rmSync(t.dataDir, { recursive: true, force: true });
  }
});
