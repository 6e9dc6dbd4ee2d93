// What a dataplane's polls record: its contact (to the second) and the serial it serves, without rewriting either
// when a poll repeats them — in a rotation step's storm every answered poll comes straight back.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';

test("a dataplane's polls keep its last contact to the second and its served serial, writing only what changed", async () => {
  const clock = new FakeClock();
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { clock });
  try {
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
    };
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: mesh })).statusCode, 200);
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
    };
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: dp })).statusCode,
      201,
    );
    const auth = {
      authorization: `Bearer ${(await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'default' } })).body}`,
    };
    const issued = (
      await t.app.inject({
        method: 'POST',
        url: '/meshes/default/dataplanes/web-1/certificate',
        headers: auth,
        payload: {},
      })
    ).json();
    const serial = new X509Certificate(issued.certificate).serialNumber;
    const poll = (query = '') =>
      t.app.inject({
        method: 'GET',
        url: `/meshes/default/dataplanes/web-1/trust-bundle${query}`,
        headers: { ...auth, 'if-none-match': `"${issued.bundleVersion}"` },
      });
    const facts = async () =>
      (await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/web-1/_certificate-facts' })).json();

    const first = clock.now();
    assert.equal((await poll(`?servedSerial=${serial}`)).statusCode, 304);
    assert.deepEqual(
      [(await facts()).lastContact, (await facts()).servedBackend],
      [new Date(first).toISOString(), 'ca-1'],
    );

    await clock.advance(600);
    assert.equal((await poll(`?servedSerial=${serial}`)).statusCode, 304);
    assert.equal((await facts()).lastContact, new Date(first).toISOString(), 'within the second: not written again');

    await clock.advance(600);
    assert.equal((await poll(`?servedSerial=${serial}`)).statusCode, 304);
    assert.equal((await facts()).lastContact, new Date(first + 1_200).toISOString(), 'a second later: recorded');

    // Another serial is always recorded (here one the control plane never issued: the backend stays the last known).
    assert.equal((await poll('?servedSerial=0ABC')).statusCode, 304);
    assert.deepEqual([(await facts()).servedSerial, (await facts()).servedBackend], ['ABC', 'ca-1']);
  } finally {
    await t.close();
  }
});
