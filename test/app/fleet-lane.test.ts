// The fleet's lane (src/fleet-turns.ts): with a backlog of agent work on the main thread, the operator's requests
// are answered without waiting behind it, and an agent's request takes its turn behind the work that came first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLEET_SLICE } from '../../src/fleet-turns.js';
import { createTestApp } from '../helpers/app.js';

test("with agent work queued on the main thread, the operator's requests go first and agents' requests wait their turn", async () => {
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
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
    const token = (
      await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'default' } })
    ).body;

    // A backlog as a rotation step leaves it on a large fleet: 200 slices of agent work, each item ~0.1 ms of CPU.
    const backlog = FLEET_SLICE * 200;
    let done = 0;
    const spin = () => {
      const until = performance.now() + 0.1;
      while (performance.now() < until);
      done++;
    };
    for (let i = 0; i < backlog; i++) t.services.fleetTurns.run(spin);

    const status = t.app
      .inject({ method: 'GET', url: '/meshes/default/ca-rotation' })
      .then((r) => ({ status: r.statusCode, doneBefore: done }));
    const dryRun = t.app
      .inject({ method: 'PUT', url: '/meshes/default?dryRun=true', payload: mesh })
      .then((r) => ({ status: r.statusCode, doneBefore: done }));
    const poll = t.app
      .inject({
        method: 'GET',
        url: '/meshes/default/dataplanes/web-1/trust-bundle',
        headers: { authorization: `Bearer ${token}` },
      })
      .then((r) => ({ status: r.statusCode, doneBefore: done }));

    const [statusAnswer, dryRunAnswer, pollAnswer] = await Promise.all([status, dryRun, poll]);
    assert.equal(statusAnswer.status, 200);
    assert.equal(dryRunAnswer.status, 200);
    // On SQLite they are answered within a turn or two; on PostgreSQL each of their statements is a round trip, and
    // a slice of agent work runs in each turn they wait on the network: still far from the whole backlog.
    const bound = backlog / 4;
    assert.ok(
      statusAnswer.doneBefore < bound,
      `the status page waited for ${statusAnswer.doneBefore} items of agent work`,
    );
    assert.ok(dryRunAnswer.doneBefore < bound, `the dry run waited for ${dryRunAnswer.doneBefore} items of agent work`);
    assert.equal(pollAnswer.status, 200);
    assert.equal(pollAnswer.doneBefore, backlog, "the agent's poll started after the work queued before it");
  } finally {
    await t.close();
  }
});
