import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MeshEvents, WAKE_SLICE } from '../../src/mesh-events.js';
import { FakeClock } from '../helpers/fake-clock.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('waking the long-polls of a changed mesh', () => {
  test('a large fleet is woken one slice per turn of the event loop, so other requests are served in between', async () => {
    const events = new MeshEvents(new FakeClock(0));
    const fleet = WAKE_SLICE * 3 + 5;
    let woken = 0;
    const waits = Array.from({ length: fleet }, () => events.waitForChange('default', 60_000).then((r) => (assert.equal(r, 'changed'), woken++)));
    const other = events.waitForChange('other', 60_000).then(() => assert.fail('another mesh is not woken'));
    void other;
    events.meshChanged('default');
    await Promise.resolve();
    assert.equal(woken, WAKE_SLICE, 'the first slice at once');
    await turn();
    assert.ok(woken <= WAKE_SLICE * 2, `at most one slice more per turn, woke ${woken}`);
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
