import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IssuanceAdmission, PerMinuteLimiter } from '../../src/dataplanes/limits.js';
import type { DomainError } from '../../src/domain/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';

function refusal(fn: () => void): DomainError {
  try {
    fn();
  } catch (err) {
    return err as DomainError;
  }
  assert.fail('expected a refusal');
}

describe('the per-dataplane certificate budget', () => {
  test('allows a burst of the budget, then refills one request per (60 / budget) seconds', async () => {
    const clock = new FakeClock(1_000_000);
    const limiter = new PerMinuteLimiter(30, clock);
    for (let i = 0; i < 30; i++) limiter.take('default/web-1', 'certificate requests');
    const refused = refusal(() => limiter.take('default/web-1', 'certificate requests'));
    assert.equal(refused.kind, 'too-many-requests');
    assert.equal(refused.retryAfterSeconds, 2);
    limiter.take('default/web-2', 'certificate requests'); // another dataplane has its own budget
    await clock.advance(2_000);
    limiter.take('default/web-1', 'certificate requests');
    assert.equal(refusal(() => limiter.take('default/web-1', 'certificate requests')).kind, 'too-many-requests');
  });

  test('forgets dataplanes that have not asked for a minute, so the map stays as large as the active fleet', async () => {
    const clock = new FakeClock(0);
    const limiter = new PerMinuteLimiter(30, clock);
    for (let i = 0; i < 10_000; i++) limiter.take(`default/dp-${i}`, 'certificate requests');
    assert.equal(limiter.size, 10_000);
    await clock.advance(61_000);
    limiter.take('default/dp-0', 'certificate requests');
    assert.equal(limiter.size, 1);
  });
});

describe('admission control of certificate issuance', () => {
  test('beyond the bound a request is refused at once with 503 and Retry-After; a finished issuance makes room', () => {
    const admission = new IssuanceAdmission(2);
    const first = admission.enter();
    admission.enter();
    const refused = refusal(() => admission.enter());
    assert.equal(refused.kind, 'unavailable');
    assert.equal(refused.retryAfterSeconds, 1);
    first();
    first(); // a second release of the same issuance does not make room twice
    admission.enter();
    assert.equal(refusal(() => admission.enter()).kind, 'unavailable');
    assert.equal(admission.size, 2);
  });
});
