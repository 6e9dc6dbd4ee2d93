// Events nobody's request causes, on a real store with a clock the test moves: dataplanes going offline (once each)
// and CAs nearing expiry (warned at start and daily).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Writable } from 'node:stream';
import { FleetWatch } from '../../src/ops/fleet-watch.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 86_400_000;
let t: TestApp;
const clock = new FakeClock();
const lines: Record<string, any>[] = [];
let watch: FleetWatch;
let sink: Writable;
const watchOn = (on: FakeClock) =>
  new FleetWatch({
    ...t.services,
    store: t.services.store.resources,
    log: pino({ level: 'info' }, sink),
    clock: on,
    dpOnlineWindowMs: 90_000,
  });

before(async () => {
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0', MESHCP_DP_ONLINE_WINDOW: '90s' });
  await t.services.meshes.put(
    '',
    'default',
    { type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } },
    { principal: { kind: 'admin' }, dryRun: false, force: false },
  );
  sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  watch = watchOn(clock);
});
after(() => t.close());

describe('fleet watch', () => {
  it('reports each dataplane once when its last contact leaves the online window', async () => {
    const start = clock.now();
    for (const name of ['web-1', 'web-2', 'web-3']) await t.services.facts.touch('default', name, start);
    await clock.advance(60_000);
    await t.services.facts.touch('default', 'web-3', clock.now()); // web-3 keeps talking
    await watch.sweepOffline();
    assert.equal(lines.filter((l) => l.event === 'dataplane-offline').length, 0, 'within the window: online');
    await clock.advance(31_000);
    await watch.sweepOffline();
    const [offline] = lines.filter((l) => l.event === 'dataplane-offline');
    assert.equal(offline.msg, '2 dataplanes of mesh default went offline (no contact for 90s): web-1, web-2');
    assert.deepEqual([offline.count, offline.dataplanes], [2, ['web-1', 'web-2']]);
    await clock.advance(109_000);
    await watch.sweepOffline();
    const later = lines.filter((l) => l.event === 'dataplane-offline');
    assert.equal(later.length, 2, 'web-1 and web-2 are not reported again; web-3 now is');
    assert.equal(later[1].msg, 'dataplane of mesh default went offline (no contact for 90s): web-3');
  });

  it('warns about a CA expiring within 30 days, not before', async () => {
    const fresh = watchOn(new FakeClock());
    await fresh.checkCaExpiry();
    assert.equal(lines.filter((l) => l.event === 'ca-expiring').length, 0, 'a fresh 10-year builtin CA');
    await watchOn(new FakeClock(Date.now() + 3640 * DAY)).checkCaExpiry();
    const [warning] = lines.filter((l) => l.event === 'ca-expiring');
    assert.equal(warning.level, 40);
    assert.match(warning.msg, /^CA ca-1 of mesh default expires in \d+ days \(.*\): plan a rotation$/);
    assert.ok(warning.daysLeft <= 30);
  });

  it('once started, sweeps and checks the CAs daily on its clock', async () => {
    // 50 days before the CA's 30-day warning window ends: nothing to say at start.
    const later = new FakeClock(Date.now() + 3600 * DAY);
    const started = watchOn(later);
    const warned = () => lines.filter((l) => l.event === 'ca-expiring').length;
    const before = warned();
    await t.services.facts.touch('default', 'web-9', later.now());
    started.start(DAY);
    try {
      await later.advance(DAY);
      // The runs the clock fired read the store (a round trip on PostgreSQL): wait for what they report.
      await waitFor('the sweep on the clock to report web-9', () =>
        lines.some((l) => l.event === 'dataplane-offline' && l.dataplanes.includes('web-9')),
      );
      assert.equal(warned(), before, 'day 1: the CA is not yet within 30 days of its end');
      await later.advance(24 * DAY);
      await waitFor('a daily check on the clock to warn once the CA came within 30 days', () => warned() > before);
    } finally {
      started.stop();
    }
    assert.equal(later.pending, 0, 'stop() cancels both timers');
  });
});
