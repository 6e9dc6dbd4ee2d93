// Tests clean up after themselves: a test app's data dir is gone once it is closed. (scripts/run-tests.mjs gives every
// run a temp dir of its own and fails the run when anything is left in it.)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';

test('closing a test app removes its data dir', async () => {
  const t = await createTestApp();
  assert.equal(existsSync(t.dataDir), true);
  await t.close();
  assert.equal(existsSync(t.dataDir), false);
});
