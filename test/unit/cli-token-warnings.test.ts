// meshctl and its token: `--token` puts it in every user's process list, so meshctl says so on stderr and names the
// safer ways; a token file (or a config file holding a token) that others can read gets a warning too. The command
// still runs: a warning, not a refusal.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runMeshctl } from '../../src/cli/program.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let address = '';
let dir = '';

before(async () => {
  // Not admin by loopback: the token is what lets meshctl in.
  t = await createTestApp({ MESHCP_LOCALHOST_IS_ADMIN: 'false' });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  address = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'meshctl-token-'));
});
after(async () => {
  await t?.close();
  if (t) rmSync(t.dataDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

async function meshctl(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runMeshctl(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { MESHCP_ADDRESS: address, MESHCTL_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent', ...env },
    readStdin: async () => '',
    now: () => Date.now(),
    sleep: async () => {},
  });
  return { code, stdout, stderr };
}

describe('meshctl token warnings', () => {
  it('--token works and warns on stderr, naming --token-file and MESHCP_TOKEN_FILE', async () => {
    const run = await meshctl(['--token', ADMIN_TOKEN, 'get', 'meshes']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /default/);
    assert.match(
      run.stderr,
      /^meshctl: warning: --token shows the token to every user of this host .*--token-file .*MESHCP_TOKEN_FILE/m,
    );
    assert.ok(!run.stderr.includes(ADMIN_TOKEN), 'the warning does not repeat the token');
  });

  it('a token file readable by others works and warns; a 0600 one is silent', async () => {
    const file = join(dir, 'admin-token');
    writeFileSync(file, `${ADMIN_TOKEN}\n`);
    chmodSync(file, 0o644);
    const open = await meshctl(['--token-file', file, 'get', 'meshes']);
    assert.equal(open.code, 0, open.stderr);
    assert.equal(
      open.stderr,
      `meshctl: warning: the token file ${file} is readable by other users (mode 0644): chmod 600 ${file}\n`,
    );
    const fromEnv = await meshctl(['get', 'meshes'], { MESHCP_TOKEN_FILE: file });
    assert.match(fromEnv.stderr, /the token file .* is readable by other users/);

    chmodSync(file, 0o600);
    const closed = await meshctl(['--token-file', file, 'get', 'meshes']);
    assert.deepEqual([closed.code, closed.stderr], [0, '']);
    const env = await meshctl(['get', 'meshes'], { MESHCP_TOKEN: ADMIN_TOKEN });
    assert.deepEqual([env.code, env.stderr], [0, '']);
  });

  it('a config file holding the token and readable by others warns', async () => {
    const config = join(dir, 'meshctl.yaml');
    writeFileSync(config, `address: ${address}\ntoken: ${ADMIN_TOKEN}\n`);
    chmodSync(config, 0o640);
    const run = await meshctl(['get', 'meshes'], { MESHCP_ADDRESS: '', MESHCTL_CONFIG: config });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stderr,
      `meshctl: warning: the config file holding the token ${config} is readable by other users (mode 0640): chmod 600 ${config}\n`,
    );
  });
});
