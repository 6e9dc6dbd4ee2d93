// The fleet summary behind the rotation status and rules is kept between writes on SQLite (a scan of the whole
// fleet otherwise, ~10-20 ms at 100,000 dataplanes): what the operator reads must still follow every change.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SecretCipher } from '../../src/store/secret-cipher.js';
import type { Store } from '../../src/store/store.js';
import { testStore } from '../helpers/test-store.js';

describe('the fleet summary follows the facts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshcp-summary-'));
  let store: Store;
  let drop: () => Promise<void>;
  const now = 1_000_000_000;
  const issue = (name: string, backend: string, notAfter: number) =>
    store.facts.recordIssue('default', name, {
      backend,
      identity: 'x',
      notBefore: now - 1000,
      notAfter,
      renewAfter: notAfter - 1000,
      issuedAt: now,
    });

  before(async () => {
    ({ store, drop } = await testStore(dir, new SecretCipher(randomBytes(32)), { instanceId: 'summary' }));
    await store.facts.recordBundleVersion('default', 'v1', 'ca-1', [{ name: 'ca-1', fingerprint: 'f1' }], now);
    await store.facts.recordBundleVersion(
      'default',
      'v2',
      'ca-1',
      [
        { name: 'ca-1', fingerprint: 'f1' },
        { name: 'ca-2', fingerprint: 'f2' },
      ],
      now,
    );
  });
  after(async () => {
    await store.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('issues, acknowledgements of a new bundle, expiry and rolled-back transactions', async () => {
    await issue('a', 'ca-1', now + 10_000);
    await issue('b', 'ca-1', now + 20_000);
    await store.facts.acknowledge('default', 'a', 'v1', now);
    let fleet = await store.facts.fleetSummary('default', now);
    assert.equal(fleet.active, 2);
    assert.equal(fleet.trusting('ca-2', 'f2'), 0);

    // The same bundle again changes nothing; a new one is counted at once.
    await store.facts.acknowledge('default', 'a', 'v1', now);
    await store.facts.acknowledge('default', 'a', 'v2', now);
    fleet = await store.facts.fleetSummary('default', now);
    assert.equal(fleet.trusting('ca-2', 'f2'), 1);
    assert.equal((await store.facts.activeNotTrusting('default', 'ca-2', 'f2', now)).count, 1);

    // A re-issue by ca-2 moves the dataplane between backends.
    await issue('b', 'ca-2', now + 20_000);
    assert.equal((await store.facts.fleetSummary('default', now)).issuedBy('ca-2'), 1);
    assert.equal((await store.facts.activeIssuedBy('default', 'ca-1', now)).count, 1);

    // Without any write: a certificate that has expired is no longer counted.
    assert.equal((await store.facts.fleetSummary('default', now + 10_000)).active, 1);

    // A transaction that wrote and then failed leaves no trace of its view behind.
    await assert.rejects(
      store.transaction(async ({ facts }) => {
        await facts.recordIssue('default', 'c', {
          backend: 'ca-2',
          identity: 'x',
          notBefore: now,
          notAfter: now + 50_000,
          renewAfter: now + 40_000,
          issuedAt: now,
        });
        assert.equal((await facts.fleetSummary('default', now)).active, 3);
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    assert.equal((await store.facts.fleetSummary('default', now)).active, 2);
  });
});
