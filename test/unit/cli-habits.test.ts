// kumactl habits in meshctl, in-process against a real listening control plane: version, control-plane contexts,
// inspect dataplane <name>, scheme-less addresses, suggestions for typos, check's exit 2, first-try errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { refusedAddress } from '../helpers/failing-instances.js';
import { runMeshctl } from '../../src/cli/program.js';
import { VERSION } from '../../src/version.js';

let t: TestApp;
let hostPort: string;
let work: string;

before(async () => {
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  hostPort = `127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  work = mkdtempSync(join(tmpdir(), 'meshctl-habits-'));
});

after(async () => {
  await t?.close();
  rmSync(work, { recursive: true, force: true });
  if (t) rmSync(t.dataDir, { recursive: true, force: true });
});

async function meshctl(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runMeshctl(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { MESHCTL_CONFIG: '', XDG_CONFIG_HOME: join(work, 'none'), ...env },
    readStdin: async () => '',
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
  });
  return { code, stdout, stderr };
}

describe('meshctl habits', () => {
  test('--address without a scheme, and version shows client and server', async () => {
    const run = await meshctl(['--address', hostPort, 'version']);
    assert.deepEqual(run, {
      code: 0,
      stdout: `Client: meshctl ${VERSION}\nServer: meshcp ${VERSION} at http://${hostPort}\n`,
      stderr: '',
    });
  });

  test('config control-planes add, list, switch, remove in the config file', async () => {
    const file = join(work, 'cfg', 'meshctl.yaml');
    const env = { MESHCTL_CONFIG: file };
    // MESHCTL_CONFIG naming a file that does not exist yet is fine for add (it creates it)
    assert.equal(
      (await meshctl(['config', 'control-planes', 'add', '--name', 'local', '--address', hostPort], env)).code,
      0,
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const remote = await meshctl(
      ['config', 'control-planes', 'add', '--name', 'remote', '--address', 'https://cp.example.com:5682'],
      env,
    );
    assert.equal(remote.stdout, 'added control plane "remote" (https://cp.example.com:5682) and switched to it\n');
    const again = await meshctl(['config', 'control-planes', 'add', '--name', 'remote', '--address', 'x:1'], env);
    assert.deepEqual(
      [again.code, again.stderr],
      [1, 'Error: control plane "remote" already exists: pass --overwrite to replace it\n'],
    );
    const list = await meshctl(['config', 'control-planes', 'list'], env);
    assert.match(
      list.stdout,
      /^ACTIVE\s+NAME\s+ADDRESS\s*\n\s+local\s+http:\/\/127\.0\.0\.1:\d+\s*\n\*\s+remote\s+https:\/\/cp\.example\.com:5682\s*\n$/,
    );
    assert.equal(
      (await meshctl(['config', 'control-planes', 'switch', '--name', 'local'], env)).stdout,
      'switched to control plane "local"\n',
    );
    // commands now use the current control plane
    assert.match((await meshctl(['version'], env)).stdout, new RegExp(`Server: meshcp .* at http://${hostPort}\\n$`));
    const nope = await meshctl(['config', 'control-planes', 'switch', '--name', 'nope'], env);
    assert.deepEqual(
      [nope.code, nope.stderr],
      [1, 'Error: there is no control plane "nope" (configured: local, remote)\n'],
    );
    assert.equal(
      (await meshctl(['config', 'control-planes', 'remove', '--name', 'local'], env)).stdout,
      'removed control plane "local"; current: "remote"\n',
    );
    assert.match(readFileSync(file, 'utf8'), /currentContext: remote/);
  });

  test('config control-planes add with several addresses: kept as a list, listed, and failed over in order', async () => {
    const file = join(work, 'ha', 'meshctl.yaml');
    const env = { MESHCTL_CONFIG: file };
    const dead = await refusedAddress();
    const added = await meshctl(
      ['config', 'control-planes', 'add', '--name', 'ha', '--address', `${dead}, ${hostPort}`],
      env,
    );
    assert.equal(added.stdout, `added control plane "ha" (${dead}, http://${hostPort}) and switched to it\n`);
    assert.match(readFileSync(file, 'utf8'), new RegExp(`address:\n\\s+- ${dead}\n\\s+- http://${hostPort}\n`));
    assert.match(
      (await meshctl(['config', 'control-planes', 'list'], env)).stdout,
      new RegExp(`\\*\\s+ha\\s+${dead},http://${hostPort}\\s*\n$`),
    );
    // version names the instance that answered; --verbose also says why the first was left
    const run = await meshctl(['--verbose', 'version'], env);
    assert.match(run.stdout, new RegExp(`Server: meshcp .* at http://${hostPort}\n$`));
    assert.equal(
      run.stderr,
      `meshctl: ${dead} did not answer (ECONNREFUSED); trying http://${hostPort}\nmeshctl: answered by http://${hostPort}\n`,
    );
    const bad = await meshctl(['--address', 'ftp://x', 'get', 'meshes']);
    assert.deepEqual(
      [bad.code, bad.stderr],
      [1, 'Error: --address: control plane address must be an http:// or https:// URL, got "ftp://x"\n'],
    );
    const zero = await meshctl(['--address', hostPort, '--request-timeout', '0', 'get', 'meshes']);
    assert.deepEqual([zero.code, zero.stderr], [1, 'Error: --request-timeout must be longer than 0\n']);
  });

  test('inspect dataplane <name>: certificate, acknowledged bundle, trusted backends, last contact', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
    };
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default', headers: admin, payload: mesh })).statusCode,
      200,
    );
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: { address: '10.0.0.1', inbound: [{ port: 1, servicePort: 2, tags: { 'kuma.io/service': 'web' } }] },
    };
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', headers: admin, payload: dp }))
        .statusCode,
      201,
    );
    const before = await meshctl(['--address', hostPort, 'inspect', 'dataplane', 'web-1']);
    assert.match(
      before.stdout,
      /^Dataplane default\/web-1 \(10\.0\.0\.1\), services web\n  certificate:\s+none issued yet\n/,
    );
    const token = (
      await t.app.inject({
        method: 'POST',
        url: '/tokens/dataplane',
        headers: admin,
        payload: { name: 'web-1', mesh: 'default' },
      })
    ).body;
    const asDp = { authorization: `Bearer ${token}` };
    assert.equal(
      (
        await t.app.inject({
          method: 'POST',
          url: '/meshes/default/dataplanes/web-1/certificate',
          headers: asDp,
          payload: {},
        })
      ).statusCode,
      200,
    );
    const bundle = await t.app.inject({
      method: 'GET',
      url: '/meshes/default/dataplanes/web-1/trust-bundle',
      headers: asDp,
    });
    const version = String(bundle.headers.etag).replace(/"/g, '');
    await t.app.inject({
      method: 'GET',
      url: '/meshes/default/dataplanes/web-1/trust-bundle',
      headers: { ...asDp, 'if-none-match': `"${version}"`, 'x-meshcp-poll-timeout': '0' },
    });
    const run = await meshctl(['--address', hostPort, 'inspect', 'dataplane', 'web-1']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /\n  certificate:\s+serial [0-9A-F]+ issued by ca-1, expires \d{4}-.*\(1 issued, last .*\)\n/,
    );
    assert.match(run.stdout, /\n  trusts:\s+ca-1\n/);
    assert.match(run.stdout, /\n  last contact:\s+\d{4}-\d\d-\d\dT.* \(online\)\n$/);
    const json = JSON.parse(
      (await meshctl(['--address', hostPort, 'inspect', 'dataplane', 'web-1', '-o', 'json'])).stdout,
    );
    assert.equal(json.issuedBackend, 'ca-1');
    assert.equal(json.acknowledgedBundleVersion, version);
    const missing = await meshctl(['--address', hostPort, 'inspect', 'dataplane', 'nope']);
    assert.deepEqual([missing.code, missing.stderr], [1, 'Error: Dataplane default/nope not found\n']);
  });

  test('a typo suggests the closest command instead of printing the whole help', async () => {
    const run = await meshctl(['rotaet']);
    assert.deepEqual(run, {
      code: 1,
      stdout: '',
      stderr: "error: unknown command 'rotaet'\n(Did you mean rotate?)\n(run 'meshctl --help' for usage)\n",
    });
  });

  test('check exits 2 when its own flags are wrong (1 means it found a problem)', async () => {
    assert.equal((await meshctl(['--address', hostPort, 'check', '--bogus'])).code, 2);
    const bad = await meshctl(['--address', hostPort, 'check', '--warn-before', 'soon']);
    assert.deepEqual(
      [bad.code, bad.stderr],
      [2, 'Error: --warn-before must be a duration such as 30s, 5m, 30d or 1h30m, got "soon"\n'],
    );
    assert.equal((await meshctl(['--address', hostPort, 'check', '--help'])).code, 0);
  });

  test('first-try errors: a missing token file, a token for a mesh that does not exist, no token off loopback', async () => {
    const missing = await meshctl(['--address', hostPort, '--token-file', join(work, 'admin-token'), 'get', 'meshes']);
    assert.deepEqual(
      [missing.code, missing.stderr],
      [
        1,
        `Error: the token file ${join(work, 'admin-token')} does not exist (the admin token is <data dir>/admin-token on the control plane's host)\n`,
      ],
    );
    const token = await meshctl([
      '--address',
      hostPort,
      'generate',
      'dataplane-token',
      '--name',
      'x',
      '--mesh',
      'nope',
      '--no-service-tag',
    ]);
    assert.deepEqual(
      [token.code, token.stderr],
      [1, 'Error: Mesh not found: mesh "nope" does not exist: create it first (meshctl get meshes lists them)\n'],
    );
    const remote = await t.app.inject({ method: 'GET', url: '/meshes', headers: { host: 'cp.example.com' } });
    assert.equal(remote.statusCode, 403);
    assert.match(
      JSON.parse(remote.body).detail,
      /an admin token is required \(the control plane wrote it to <data dir>\/admin-token; send it as "Authorization: Bearer <token>"/,
    );
  });

  test('rotate names the secrets only the removed backends used; --prune-secrets deletes them', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    for (const mesh of ['keep', 'prune']) {
      const body = {
        type: 'Mesh',
        name: mesh,
        mtls: {
          enabledBackend: 'ca-1',
          backends: [
            { name: 'ca-1', type: 'builtin' },
            { name: 'ca-2', type: 'builtin' },
          ],
        },
      };
      assert.equal(
        (await t.app.inject({ method: 'PUT', url: `/meshes/${mesh}`, headers: admin, payload: body })).statusCode,
        201,
      );
    }
    const kept = await meshctl([
      '--address',
      hostPort,
      'rotate',
      '--mesh',
      'keep',
      '--to',
      'ca-2',
      '--interval',
      '10ms',
    ]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(
      kept.stdout,
      /✓ rotation to ca-2 complete.*\nsecrets only the removed backends used remain: keep\.ca-builtin-cert-ca-1, keep\.ca-builtin-key-ca-1\n  delete them: meshctl rotate --mesh keep --to ca-2 --prune-secrets \(or one by one: meshctl delete secret <name> --mesh keep\)\n$/,
    );
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/meshes/keep/secrets/keep.ca-builtin-key-ca-1', headers: admin }))
        .statusCode,
      200,
    );

    const pruned = await meshctl([
      '--address',
      hostPort,
      'rotate',
      '--mesh',
      'prune',
      '--to',
      'ca-2',
      '--interval',
      '10ms',
      '--prune-secrets',
    ]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(
      pruned.stdout,
      /\n✓ deleted secret prune\/prune\.ca-builtin-cert-ca-1\n✓ deleted secret prune\/prune\.ca-builtin-key-ca-1\n$/,
    );
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/meshes/prune/secrets/prune.ca-builtin-key-ca-1', headers: admin }))
        .statusCode,
      404,
    );
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/meshes/prune/secrets/prune.ca-builtin-key-ca-2', headers: admin }))
        .statusCode,
      200,
      'ca-2 keeps its key',
    );
  });
});
