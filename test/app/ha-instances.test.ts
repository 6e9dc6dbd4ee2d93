// Several control-plane instances on one PostgreSQL database (in-process: each with its own pool, caches, change
// feed and signing pool, as separate processes would have): conflicting writes sent to two instances at once,
// certificates issued on one instance while another rotates, CA material created once, and a change on one
// instance waking the long-polls of another. Runs in the PostgreSQL pass of `npm test`.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { IssueRecorder, StaleIssue } from '../../src/dataplanes/issue-recorder.js';
import { opensslCa, secretVersions } from '../helpers/api-assert.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { slowPooledRsaKeys } from '../helpers/rsa-key-pool.js';
import { TEST_STORE } from '../helpers/test-store.js';

const ENV = { MESHCP_DP_CERT_REQUESTS_PER_MINUTE: '1000000', MESHCP_SIGNING_WORKERS: '1' };
const b64 = (text: string) => Buffer.from(text).toString('base64');

const builtin = (name: string) => ({ name, type: 'builtin' });
const mesh = (name: string, enabled: string, backends: object[]) => ({
  type: 'Mesh',
  name,
  mtls: { enabledBackend: enabled, backends },
});
const dataplane = (mesh: string, name: string) => ({
  type: 'Dataplane',
  mesh,
  name,
  networking: {
    address: '127.0.0.1',
    inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': name } }],
  },
});

async function call(
  t: TestApp,
  method: 'GET' | 'PUT' | 'POST',
  url: string,
  payload?: object,
  headers: Record<string, string> = {},
) {
  return t.app.inject({ method, url, ...(payload ? { payload } : {}), headers });
}

function ok(res: LightMyRequestResponse, what: string): any {
  assert.ok(res.statusCode < 300, `${what}: ${res.statusCode} ${res.body}`);
  return res.body ? res.json() : undefined;
}

describe('several instances on one PostgreSQL database', {
  skip: TEST_STORE !== 'postgres' && 'runs in the PostgreSQL pass of npm test',
}, () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    a = await createTestApp(ENV, { defaultMesh: false });
    b = await createTestApp(ENV, { defaultMesh: false, sameStoreAs: a });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('a mesh created on one instance is served by the other, and a change on one wakes a long-poll waiting on the other within 1 s', async () => {
    ok(await call(a, 'PUT', '/meshes/wake', mesh('wake', 'ca-1', [builtin('ca-1')])), 'create on A');
    ok(await call(b, 'PUT', '/meshes/wake/dataplanes/web', dataplane('wake', 'web')), 'dataplane on B');
    const token = (await call(a, 'POST', '/tokens/dataplane', { mesh: 'wake', name: 'web' })).body;
    const auth = { authorization: `Bearer ${token}` };
    const bundle = ok(
      await call(b, 'GET', '/meshes/wake/dataplanes/web/trust-bundle', undefined, auth),
      'bundle from B',
    );
    ok(
      await call(a, 'POST', '/meshes/wake/dataplanes/web/certificate', { bundleVersion: bundle.bundleVersion }, auth),
      'certificate from A',
    );

    // The dataplane holds the current bundle and waits on B; the operator adds ca-2 on A.
    const waiting = call(b, 'GET', '/meshes/wake/dataplanes/web/trust-bundle?wait=30s', undefined, {
      ...auth,
      'if-none-match': `"${bundle.bundleVersion}"`,
    });
    await new Promise((resolve) => setTimeout(resolve, 100)); // let B's poll start waiting
    const changedAt = performance.now();
    ok(await call(a, 'PUT', '/meshes/wake', mesh('wake', 'ca-1', [builtin('ca-1'), builtin('ca-2')])), 'add ca-2 on A');
    const woken = await waiting;
    const ms = performance.now() - changedAt;
    assert.equal(woken.statusCode, 200, woken.body);
    assert.deepEqual(woken.json().supportedBackends, ['ca-1', 'ca-2']);
    assert.ok(ms < 1_000, `B answered ${Math.round(ms)} ms after A's change`);
  });

  it('a builtin CA and the token signing key are created once, whichever instances create the mesh at the same moment', async () => {
    const racing = await createTestApp(ENV, { defaultMesh: false, sameStoreAs: a, rsaKeys: slowPooledRsaKeys(30) });
    try {
      const body = mesh('once', 'ca-1', [builtin('ca-1')]);
      const results = await Promise.all([
        call(a, 'PUT', '/meshes/once', body),
        call(b, 'PUT', '/meshes/once', body),
        call(racing, 'PUT', '/meshes/once', body),
      ]);
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 200, 201]);
      assert.deepEqual(await secretVersions(a.services, 'once'), [
        { name: 'dataplane-token-signing-key-once-1', version: 1 },
        { name: 'once.ca-builtin-cert-ca-1', version: 1 },
        { name: 'once.ca-builtin-key-ca-1', version: 1 },
      ]);
      // Every instance serves the same root.
      const roots = await Promise.all(
        [a, b, racing].map(async (t) => (await t.services.ca.stateOf('once'))!.bundlePem),
      );
      assert.equal(new Set(roots).size, 1);
    } finally {
      await racing.close();
    }
  });

  it('a secret changed on one instance while another makes a backend use it: never both accepted (30 rounds)', async () => {
    ok(await call(a, 'PUT', '/meshes/sec', mesh('sec', 'ca-1', [builtin('ca-1')])), 'mesh');
    const ca = opensslCa('provided-ca');
    for (let round = 0; round < 30; round++) {
      const cert = `cert-${round}`;
      const key = `key-${round}`;
      ok(
        await call(a, 'PUT', `/meshes/sec/secrets/${cert}`, {
          type: 'Secret',
          mesh: 'sec',
          name: cert,
          data: b64(ca.certPem),
        }),
        'cert secret',
      );
      ok(
        await call(a, 'PUT', `/meshes/sec/secrets/${key}`, {
          type: 'Secret',
          mesh: 'sec',
          name: key,
          data: b64(ca.keyPem),
        }),
        'key secret',
      );
      const provided = { name: `p-${round}`, type: 'provided', conf: { cert: { secret: cert }, key: { secret: key } } };
      const [useIt, replaceIt] = await Promise.all([
        call(round % 2 ? a : b, 'PUT', '/meshes/sec', mesh('sec', 'ca-1', [builtin('ca-1'), provided])),
        call(round % 2 ? b : a, 'PUT', `/meshes/sec/secrets/${cert}`, {
          type: 'Secret',
          mesh: 'sec',
          name: cert,
          data: b64('not a certificate'),
        }),
      ]);
      assert.ok(
        !(useIt.statusCode < 300 && replaceIt.statusCode < 300),
        `round ${round}: both accepted (${useIt.body} / ${replaceIt.body})`,
      );
      // Whatever won, the stored mesh's provided backend (if any) still loads: its secret holds the CA.
      a.services.ca.invalidate('sec');
      const state = await a.services.ca.stateOf('sec');
      assert.ok(state, 'the mesh CA still loads');
      if (useIt.statusCode < 300)
        ok(await call(a, 'PUT', '/meshes/sec', mesh('sec', 'ca-1', [builtin('ca-1')])), 'reset');
    }
  });

  it('certificates issued on both instances while the other rotates: the last answer each dataplane got is what the rules see (5 rotations)', async () => {
    const dataplanes = ['d1', 'd2', 'd3', 'd4'];
    for (let round = 0; round < 5; round++) {
      const m = `rot-${round}`;
      ok(await call(a, 'PUT', `/meshes/${m}`, mesh(m, 'ca-1', [builtin('ca-1'), builtin('ca-2')])), 'step 1');
      const tokens = new Map<string, string>();
      for (const dp of dataplanes) {
        ok(await call(b, 'PUT', `/meshes/${m}/dataplanes/${dp}`, dataplane(m, dp)), 'dataplane');
        tokens.set(dp, (await call(a, 'POST', '/tokens/dataplane', { mesh: m, name: dp })).body);
      }
      const last = new Map<string, { backend: string; serial: string; at: number }>();
      const ca1AnsweredAt: number[] = [];
      let stop = false;
      // Each dataplane re-issues in a loop, alternating instances, acknowledging the bundle it was last given.
      // It stops once it got a certificate after the rotation ended. A refusal may only be "the mesh CA changed
      // during issuance, retry" (409): never a 500.
      const loops = dataplanes.map(async (dp, i) => {
        let bundleVersion: string | undefined;
        for (let n = 0, done = false; !done; n++) {
          const stopped = stop;
          const on = (n + i) % 2 ? a : b;
          const res = await call(
            on,
            'POST',
            `/meshes/${m}/dataplanes/${dp}/certificate`,
            bundleVersion ? { bundleVersion } : {},
            {
              authorization: `Bearer ${tokens.get(dp)}`,
            },
          );
          if (res.statusCode !== 200) {
            assert.equal(res.statusCode, 409, res.body);
            continue;
          }
          done = stopped;
          const body = res.json();
          bundleVersion = body.bundleVersion;
          const serial = new X509Certificate(body.certificate).serialNumber.replace(/^0+/, '');
          last.set(dp, { backend: body.issuedBackend, serial, at: performance.now() });
          if (body.issuedBackend === 'ca-1') ca1AnsweredAt.push(performance.now());
        }
      });
      // The operator: step 2 on one instance, step 3 on the other, each retried while refused.
      let step3At = 0;
      const operator = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        for (;;) {
          const res = await call(a, 'PUT', `/meshes/${m}`, mesh(m, 'ca-2', [builtin('ca-1'), builtin('ca-2')]));
          if (res.statusCode === 200) break;
          assert.equal(res.statusCode, 409, res.body);
        }
        for (;;) {
          const res = await call(b, 'PUT', `/meshes/${m}`, mesh(m, 'ca-2', [builtin('ca-2')]));
          if (res.statusCode === 200) {
            step3At = performance.now();
            break;
          }
          assert.equal(res.statusCode, 409, res.body);
        }
        stop = true;
      })();
      await operator;
      await Promise.all(loops);

      // No certificate from ca-1 was answered after step 3 (which removed ca-1) was answered.
      assert.ok(
        ca1AnsweredAt.every((t) => t < step3At),
        `round ${round}: a ca-1 certificate answered after step 3`,
      );
      // What the store says each dataplane holds is the last certificate it was given, and it is from ca-2.
      for (const dp of dataplanes) {
        const facts = await a.services.facts.get(m, dp);
        assert.equal(facts?.issuedBackend, 'ca-2', `${m}/${dp}`);
        assert.equal(
          facts?.issuedSerial,
          last.get(dp)!.serial.toUpperCase(),
          `${m}/${dp}: the recorded certificate is the last one answered`,
        );
      }
    }
  });

  it('an instance that has not heard of a rotation yet cannot record a certificate signed under the old mesh CA', async () => {
    ok(await call(a, 'PUT', '/meshes/stale', mesh('stale', 'ca-1', [builtin('ca-1'), builtin('ca-2')])), 'step 1');
    ok(await call(a, 'PUT', '/meshes/stale/dataplanes/d1', dataplane('stale', 'd1')), 'dataplane');
    const signedUnder = (await a.services.ca.stateOf('stale'))!;
    ok(await call(b, 'PUT', '/meshes/stale', mesh('stale', 'ca-2', [builtin('ca-1'), builtin('ca-2')])), 'step 2 on B');
    // A's cache as it is before B's notice arrives: it still serves the old bundle.
    const notHeardYet = new IssueRecorder(a.services.store, () => true);
    const now = Date.now();
    const issue = {
      backend: 'ca-1',
      identity: 'x',
      notBefore: now,
      notAfter: now + 3600_000,
      renewAfter: now + 1800_000,
      issuedAt: now,
      serial: 'ABC',
    };
    await assert.rejects(
      notHeardYet.record('stale', 'd1', issue, {
        bundleVersion: signedUnder.bundleVersion,
        meshVersion: signedUnder.meshVersion,
      }),
      StaleIssue,
    );
    assert.equal(await a.services.facts.get('stale', 'd1'), undefined, 'nothing recorded');
    const current = (await b.services.ca.stateOf('stale'))!;
    await notHeardYet.record(
      'stale',
      'd1',
      { ...issue, backend: 'ca-2' },
      { bundleVersion: current.bundleVersion, meshVersion: current.meshVersion },
    );
    assert.equal((await a.services.facts.get('stale', 'd1'))?.issuedBackend, 'ca-2');
  });
});
