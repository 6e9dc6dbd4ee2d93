import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';
import { httpCall } from '../helpers/http.js';
import { listenOnLoopback } from '../helpers/listen.js';

const DURATION_MS = 4000;
const CONCURRENCY = 8;

test('a short mixed load on loopback: no errors and no lost writes', async () => {
  const t = await createTestApp();
  const base = await listenOnLoopback(t.app);
  try {
    await httpCall(base, 'PUT', '/meshes/default', {
      body: {
        type: 'Mesh',
        name: 'default',
        mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
      },
    });
    for (let i = 0; i < 4; i++) {
      await httpCall(base, 'PUT', `/meshes/default/dataplanes/dp-${i}`, {
        body: {
          type: 'Dataplane',
          mesh: 'default',
          name: `dp-${i}`,
          networking: {
            address: '127.0.0.1',
            inbound: [{ port: 20000 + i, tags: { 'kuma.io/service': `svc-${i % 2}` } }],
          },
        },
      });
    }
    const written = new Map<string, string>();
    const counts = new Map<string, number>();
    const failures: string[] = [];
    let seq = 0;
    const operations: Array<() => Promise<[string, number, number[]]>> = [
      async () => ['GET mesh', (await httpCall(base, 'GET', '/meshes/default')).status, [200]],
      async () => ['list dataplanes', (await httpCall(base, 'GET', '/meshes/default/dataplanes?size=2')).status, [200]],
      async () => {
        const name = `load-${seq++}`;
        const data = Buffer.from(`value of ${name}`).toString('base64');
        const res = await httpCall(base, 'PUT', `/meshes/default/secrets/${name}`, {
          body: { type: 'Secret', mesh: 'default', name, data },
        });
        if (res.status === 201) written.set(name, data);
        return ['PUT secret', res.status, [201]];
      },
      async () => [
        'certificate',
        (await httpCall(base, 'POST', `/meshes/default/dataplanes/dp-${seq % 4}/certificate`, { body: {} })).status,
        [200],
      ],
      async () => [
        'trust bundle',
        (await httpCall(base, 'GET', `/meshes/default/dataplanes/dp-${seq % 4}/trust-bundle`)).status,
        [200],
      ],
      async () => ['rotation status', (await httpCall(base, 'GET', '/meshes/default/ca-rotation')).status, [200]],
    ];
    const deadline = Date.now() + DURATION_MS;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, worker) => {
        for (let i = worker; Date.now() < deadline; i++) {
          const [what, status, expected] = await operations[i % operations.length]();
          counts.set(what, (counts.get(what) ?? 0) + 1);
          if (!expected.includes(status)) failures.push(`${what}: ${status}`);
        }
      }),
    );
    assert.deepEqual(failures, []);
    for (const [name, data] of written) {
      const res = await httpCall(base, 'GET', `/meshes/default/secrets/${name}`);
      assert.equal(res.json().data, data, `secret ${name} was not lost`);
    }
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    assert.ok(written.size > 10 && total > 100, `the load ran (${total} requests)`);
    console.log(`load: ${total} requests in ${DURATION_MS} ms`, Object.fromEntries(counts));
  } finally {
    await t.close();
  }
});
