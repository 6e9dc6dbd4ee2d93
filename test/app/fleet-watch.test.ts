// Events nobody's request causes, on a real store with a clock the test moves: dataplanes going offline (once each)
// and CAs nearing expiry (warned at start and daily).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Writable } from 'node:stream';
import { FleetWatch } from '../../src/ops/fleet-watch.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const DAY = 86_400_000;
let t: TestApp;
let now = Date.now();
const lines: Record<string, any>[] = [];
let watch: FleetWatch;

before(async () => {
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0', MESHCP_DP_ONLINE_WINDOW: '90s' });
  await t.services.meshes.put(
    '',
    'default',
    { type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } },
    { principal: { kind: 'admin' }, dryRun: false, force: false },
  );
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  watch = new FleetWatch({
    ...t.services,
    store: t.services.store.resources,
    log: pino({ level: 'info' }, sink),
    now: () => now,
    dpOnlineWindowMs: 90_000,
  });
});
after(() => t.close());

describe('fleet watch', () => {
  it('reports each dataplane once when its last contact leaves the online window', async () => {
    const start = now;
    for (const name of ['web-1', 'web-2', 'web-3']) await t.services.facts.touch('default', name, start);
    now = start + 60_000;
    await t.services.facts.touch('default', 'web-3', now); // web-3 keeps talking
    await watch.sweepOffline();
    assert.equal(lines.filter((l) => l.event === 'dataplane-offline').length, 0, 'within the window: online');
    now = start + 91_000;
    await watch.sweepOffline();
    const [offline] = lines.filter((l) => l.event === 'dataplane-offline');
    assert.equal(offline.msg, '2 dataplanes of mesh default went offline (no contact for 90s): web-1, web-2');
    assert.deepEqual([offline.count, offline.dataplanes], [2, ['web-1', 'web-2']]);
    now = start + 200_000;
    await watch.sweepOffline();
    const later = lines.filter((l) => l.event === 'dataplane-offline');
    assert.equal(later.length, 2, 'web-1 and web-2 are not reported again; web-3 now is');
    assert.equal(later[1].msg, 'dataplane of mesh default went offline (no contact for 90s): web-3');
  });

  it('warns about a CA expiring within 30 days, not before', async () => {
    now = Date.now();
    await watch.checkCaExpiry();
    assert.equal(lines.filter((l) => l.event === 'ca-expiring').length, 0, 'a fresh 10-year builtin CA');
    now = Date.now() + 3640 * DAY;
    await watch.checkCaExpiry();
    const [warning] = lines.filter((l) => l.event === 'ca-expiring');
    assert.equal(warning.level, 40);
    assert.match(warning.msg, /^CA ca-1 of mesh default expires in \d+ days \(.*\): plan a rotation$/);
    assert.ok(warning.daysLeft <= 30);
  });
});
