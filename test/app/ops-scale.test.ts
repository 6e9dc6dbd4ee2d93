// A scrape and a /gui snapshot stay cheap at 10,000 dataplanes: the series do not grow with the fleet, and both are
// computed from grouped index scans (plus one bounded page of dataplanes for the page).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { guiSnapshot } from '../../src/api/gui/gui-state.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const FLEET = 10_000;
let t: TestApp;

before(async () => {
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  const mesh = {
    type: 'Mesh',
    name: 'default',
    mtls: {
      enabledBackend: 'ca-1',
      backends: [
        { name: 'ca-1', type: 'builtin' },
        { name: 'ca-2', type: 'builtin' },
      ],
    },
  };
  await t.services.meshes.put('', 'default', mesh, { principal: { kind: 'admin' }, dryRun: false, force: false });
});
after(() => t.close());

const seriesOf = (text: string) =>
  text.split('\n').filter((l) => l.startsWith('meshcp_') && !l.startsWith('meshcp_http_')).length;

test(`metrics and the /gui snapshot at ${FLEET.toLocaleString('en')} dataplanes`, async () => {
  const empty = seriesOf(await t.services.metrics.registry.metrics());
  const now = Date.now();
  const version = (await t.services.ca.stateOf('default'))!.bundleVersion;
  await t.services.store.transaction(async ({ facts }) => {
    for (let i = 0; i < FLEET; i++) {
      const name = `dp-${String(i).padStart(5, '0')}`;
      await facts.recordIssue('default', name, {
        backend: 'ca-1',
        identity: 'x',
        notBefore: now,
        notAfter: now + 3600_000,
        renewAfter: now + 1800_000,
        issuedAt: now,
      });
      if (i % 2 === 0) await facts.acknowledge('default', name, version, now);
    }
  });

  const started = performance.now();
  const text = await t.services.metrics.registry.metrics();
  const scrapeMs = performance.now() - started;
  assert.equal(seriesOf(text), empty, 'no series per dataplane');
  assert.match(text, new RegExp(`^meshcp_active_dataplanes\\{mesh="default"\\} ${FLEET}$`, 'm'));
  assert.match(
    text,
    new RegExp(`^meshcp_rotation_dataplanes\\{mesh="default",backend="ca-2",state="trusting"\\} ${FLEET / 2}$`, 'm'),
  );

  const snapStarted = performance.now();
  const snapshot = await guiSnapshot(t.services, Date.now());
  const snapshotMs = performance.now() - snapStarted;
  assert.equal(snapshot.meshes[0].dataplanes.length, 200);
  assert.equal(snapshot.meshes[0].rotation.nextStep.waitingFor?.count, FLEET / 2);
  console.log(`scrape ${scrapeMs.toFixed(1)} ms, /gui snapshot ${snapshotMs.toFixed(1)} ms at ${FLEET} dataplanes`);
  assert.ok(scrapeMs < 1_000, `scrape took ${scrapeMs} ms`);
  assert.ok(snapshotMs < 1_000, `snapshot took ${snapshotMs} ms`);
});
