import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PerMinuteLimiter } from '../../src/api/limits.js';
import { ApiError } from '../../src/errors.js';

function refusal(fn: () => void): ApiError {
  try {
    fn();
  } catch (err) {
    return err as ApiError;
  }
  assert.fail('expected a 429');
}

describe('the per-dataplane certificate budget', () => {
  test('allows a burst of the budget, then refills one request per (60 / budget) seconds', () => {
    let now = 1_000_000;
    const limiter = new PerMinuteLimiter(30, () => now);
    for (let i = 0; i < 30; i++) limiter.take('default/web-1', 'certificate requests');
    const refused = refusal(() => limiter.take('default/web-1', 'certificate requests'));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '2');
    limiter.take('default/web-2', 'certificate requests'); // another dataplane has its own budget
    now += 2_000;
    limiter.take('default/web-1', 'certificate requests');
    assert.equal(refusal(() => limiter.take('default/web-1', 'certificate requests')).status, 429);
  });

  test('forgets dataplanes that have not asked for a minute, so the map stays as large as the active fleet', () => {
    let now = 0;
    const limiter = new PerMinuteLimiter(30, () => now);
    for (let i = 0; i < 10_000; i++) limiter.take(`default/dp-${i}`, 'certificate requests');
    assert.equal(limiter.size, 10_000);
    now += 61_000;
    limiter.take('default/dp-0', 'certificate requests');
    assert.equal(limiter.size, 1);
  });
});
