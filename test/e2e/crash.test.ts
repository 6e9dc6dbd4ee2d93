import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { httpCall } from '../helpers/http.js';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';

const meshWithTwoBuiltinCas = (name: string) => ({
  type: 'Mesh',
  name,
  mtls: {
    enabledBackend: 'ca-1',
    backends: [
      { name: 'ca-1', type: 'builtin' },
      { name: 'ca-2', type: 'builtin' },
    ],
  },
});

/**
 * Keeps `parallel` requests in flight and kills the process with SIGKILL shortly after `killAfter` answers, in the
 * middle of the others; resolves with how many got an answer.
 */
async function burst(
  cp: CpProcess,
  parallel: number,
  killAfter: number,
  call: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  let answered = 0;
  const worker = async () => {
    while (cp.child.exitCode === null && cp.child.signalCode === null) {
      try {
        await call(next++);
        if (++answered === killAfter) setTimeout(() => cp.child.kill('SIGKILL'), 50 + Math.random() * 150);
      } catch {
        return; // connection refused or reset: the process is gone
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return answered;
}

function integrityCheck(dataDir: string): string {
  const db = new Database(join(dataDir, 'meshcp.db'));
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

test('kill -9 during a burst of mesh PUTs leaves every mesh whole or absent', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-crash-'));
  const cp = await startCpProcess({}, 30_000, { dataDir });
  const answered = await burst(cp, 6, 4, (i) =>
    httpCall(cp.baseUrl, 'PUT', `/meshes/crash-${i}`, { body: meshWithTwoBuiltinCas(`crash-${i}`) }),
  );
  assert.ok(answered > 0, 'some PUTs completed before the kill');
  assert.equal(integrityCheck(dataDir), 'ok');

  const restarted = await startCpProcess({}, 30_000, { dataDir });
  try {
    const meshes = (await httpCall(restarted.baseUrl, 'GET', '/meshes?size=1000')).json();
    const names = new Set<string>(
      meshes.items.map((m: { name: string }) => m.name).filter((n: string) => n.startsWith('crash-')),
    );
    assert.ok(names.size >= answered, `every answered PUT survived (${names.size} meshes, ${answered} answered)`);
    const db = new Database(join(dataDir, 'meshcp.db'), { readonly: true });
    const meshesWithSecrets = db
      .prepare("SELECT DISTINCT mesh FROM resources WHERE type = 'Secret' AND mesh LIKE 'crash-%'")
      .all() as { mesh: string }[];
    db.close();
    for (const { mesh } of meshesWithSecrets) assert.ok(names.has(mesh), `secrets of ${mesh} exist without their mesh`);
    for (const name of names) {
      const secrets = (await httpCall(restarted.baseUrl, 'GET', `/meshes/${name}/secrets`)).json();
      assert.deepEqual(
        secrets.items.map((s: { name: string }) => s.name).sort(),
        [
          `${name}.ca-builtin-cert-ca-1`,
          `${name}.ca-builtin-cert-ca-2`,
          `${name}.ca-builtin-key-ca-1`,
          `${name}.ca-builtin-key-ca-2`,
          `dataplane-token-signing-key-${name}-1`,
        ].sort(),
        `mesh ${name} is whole`,
      );
    }
    console.log(`crash test: ${answered} mesh PUTs answered before kill -9, ${names.size} meshes after restart`);
  } finally {
    await restarted.stop();
  }
  assert.equal(integrityCheck(dataDir), 'ok');
});

test('kill -9 during certificate issuance: the store stays consistent and issuing resumes', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-crash-'));
  const cp = await startCpProcess({}, 30_000, { dataDir });
  await httpCall(cp.baseUrl, 'PUT', '/meshes/default', { body: meshWithTwoBuiltinCas('default') });
  for (let i = 0; i < 4; i++) {
    const res = await httpCall(cp.baseUrl, 'PUT', `/meshes/default/dataplanes/dp-${i}`, {
      body: {
        type: 'Dataplane',
        mesh: 'default',
        name: `dp-${i}`,
        networking: { address: '127.0.0.1', inbound: [{ port: 20000 + i, tags: { 'kuma.io/service': 'web' } }] },
      },
    });
    assert.equal(res.status, 201);
  }
  const answered = await burst(cp, 8, 200, (i) =>
    httpCall(cp.baseUrl, 'POST', `/meshes/default/dataplanes/dp-${i % 4}/certificate`, { body: {} }),
  );
  assert.ok(answered > 0);
  assert.equal(integrityCheck(dataDir), 'ok');

  const restarted = await startCpProcess({}, 30_000, { dataDir });
  try {
    const overview = (await httpCall(restarted.baseUrl, 'GET', '/meshes/default/dataplanes/_overview')).json();
    const regenerations = overview.items.reduce(
      (n: number, dp: any) => n + (dp.dataplaneInsight?.mTLS.certificateRegenerations ?? 0),
      0,
    );
    assert.ok(regenerations >= answered, `every answered issuance was recorded (${regenerations} >= ${answered})`);
    const again = await httpCall(restarted.baseUrl, 'POST', '/meshes/default/dataplanes/dp-0/certificate', {
      body: {},
    });
    assert.equal(again.status, 200);
    assert.equal(again.json().issuedBackend, 'ca-1');
  } finally {
    await restarted.stop();
  }
});
