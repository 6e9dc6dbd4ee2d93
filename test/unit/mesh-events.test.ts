import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FLEET_SLICE, FleetTurns } from '../../src/fleet-turns.js';
import { MeshEvents } from '../../src/mesh-events.js';
import { FakeClock } from '../helpers/fake-clock.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("the fleet's lane on the main thread", () => {
  test('work starts at once while the turn has room; beyond it, one slice per turn, in arrival order', async () => {
    const turns = new FleetTurns();
    const started: number[] = [];
    for (let i = 0; i < FLEET_SLICE * 3 + 5; i++) turns.run(() => started.push(i));
    assert.equal(started.length, FLEET_SLICE, 'the first slice at once');
    assert.equal(turns.queued, FLEET_SLICE * 2 + 5);
    await turn();
    assert.equal(started.length, FLEET_SLICE * 2, 'one slice more in the next turn');
    // A newcomer queues behind what waits.
    let newcomer = false;
    const admitted = turns.turn()!.then(() => (newcomer = true));
    while (turns.queued > 0) await turn();
    await admitted;
    assert.ok(newcomer);
    assert.deepEqual(
      started,
      Array.from({ length: FLEET_SLICE * 3 + 5 }, (_, i) => i),
      'in arrival order',
    );
    // Once the backlog is gone and a turn has passed, there is room again: no delay for a small fleet.
    await turn();
    await turn();
    assert.equal(turns.turn(), undefined);
  });

  test("a changed mesh wakes its long-polls through the lane: a slice at once, the rest in later turns; other meshes' polls stay asleep", async () => {
    const events = new MeshEvents(new FakeClock(0));
    const fleet = FLEET_SLICE * 3 + 5;
    let woken = 0;
    const waits = Array.from({ length: fleet }, () =>
      events.waitForChange('default', 60_000).then((r) => (assert.equal(r, 'changed'), woken++)),
    );
    void events.waitForChange('other', 60_000).then(() => assert.fail('another mesh is not woken'));
    events.meshChanged('default');
    await Promise.resolve();
    assert.equal(woken, FLEET_SLICE, 'the first slice at once');
    await turn();
    assert.ok(woken <= FLEET_SLICE * 2, `at most one slice more per turn, woke ${woken}`);
    await Promise.all(waits);
    assert.equal(woken, fleet);
  });

  test('a poll that stops waiting (its client left, its time is up) is not woken later, and "*" wakes every mesh', async () => {
    const clock = new FakeClock(0);
    const events = new MeshEvents(clock);
    const gone = new AbortController();
    const left = events.waitForChange('default', 60_000, gone.signal);
    const timed = events.waitForChange('default', 1_000);
    const other = events.waitForChange('other', 60_000);
    gone.abort();
    assert.equal(await left, 'timeout');
    await clock.advance(1_000);
    assert.equal(await timed, 'timeout');
    events.meshChanged('*');
    assert.equal(await other, 'changed');
  });
});
