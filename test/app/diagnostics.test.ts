// The diagnostics listener under many scrapers: one rendering of /metrics is served for a second (of the control
// plane's clock) to everyone, concurrent scrapes share one rendering, and what changed shows after that second.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildDiagnosticsApp, METRICS_CACHE_MS } from '../../src/api/diagnostics.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';

describe('/metrics on the diagnostics listener', () => {
  const clock = new FakeClock();
  let t: TestApp;
  let diagnostics: FastifyInstance;
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { clock });
    diagnostics = await buildDiagnosticsApp(t.services);
  });
  after(async () => {
    await diagnostics.close();
    await t.close();
    rmSync(t.dataDir, { recursive: true, force: true });
  });

  const scrape = async () => {
    const res = await diagnostics.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    return res.body;
  };

  it('serves concurrent scrapes one rendering, and a change after the cache interval', async () => {
    const texts = await Promise.all(Array.from({ length: 32 }, scrape));
    assert.equal(new Set(texts).size, 1, 'one rendering for 32 concurrent scrapers');
    assert.match(texts[0]!, /^meshcp_store_up 1$/m);
    assert.doesNotMatch(texts[0]!, /mesh="fresh"/);

    const put = await t.app.inject({ method: 'PUT', url: '/meshes/fresh', payload: { type: 'Mesh', name: 'fresh' } });
    assert.equal(put.statusCode, 201);
    assert.equal(await scrape(), texts[0], 'the same rendering within the interval');
    await clock.advance(METRICS_CACHE_MS);
    assert.match(await scrape(), /^meshcp_active_dataplanes\{mesh="fresh"\} 0$/m, 'rendered again after the interval');
  });
});
