// A control plane started with the wrong secrets key says which key is wrong and what to check, in one line, instead
// of OpenSSL's "Unsupported state or unable to authenticate data" (or starting, and failing on some later request).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCpProcess, startCpProcess } from '../helpers/cp-process.js';

describe('a wrong secrets key', { timeout: 90_000 }, () => {
  let dataDir = '';
  before(async () => {
    // A first start writes secrets.key and seals the default mesh's token signing key with it.
    dataDir = mkdtempSync(join(tmpdir(), 'meshcp-wrong-key-'));
    const cp = await startCpProcess({}, 30_000, { dataDir });
    assert.equal(await cp.stop(), 0);
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('from MESHCP_SECRETS_KEY: exits 1 naming the variable and what to check', async () => {
    const run = await runCpProcess({
      MESHCP_DATA_DIR: dataDir,
      MESHCP_SECRETS_KEY: randomBytes(32).toString('base64'),
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /^meshcp: the secrets key from MESHCP_SECRETS_KEY \(key id [0-9a-f]{12}\) does not decrypt Secret\/default\/dataplane-token-signing-key-default-1: the data at rest was sealed with another key\. Check: set MESHCP_SECRETS_KEY to the key this database was written with/,
    );
    assert.equal(run.stderr.split('\n').filter((l) => l !== '').length, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /Unsupported state|unable to authenticate/);
  });

  it('from the key file: exits 1 naming the file', async () => {
    writeFileSync(join(dataDir, 'secrets.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const run = await runCpProcess({ MESHCP_DATA_DIR: dataDir });
    assert.equal(run.code, 1, run.stderr);
    assert.ok(
      run.stderr.startsWith(`meshcp: the secrets key from ${join(dataDir, 'secrets.key')} (key id `),
      run.stderr,
    );
    assert.match(run.stderr, /must be the key file this database was written with/);
    assert.doesNotMatch(run.stderr, /Unsupported state|unable to authenticate/);
  });
});
