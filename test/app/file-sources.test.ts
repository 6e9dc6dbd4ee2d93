// `file` data sources of CA backends (vault and provided alike): read only under MESHCP_FILE_SOURCE_DIRS, never in
// the data directory, links resolved, one answer for "missing" and "not allowed", and a dry run reads nothing a real
// PUT would not. The "Vault" is a real HTTP listener that records what reaches it: a file the control plane must not
// read would arrive there as X-Vault-Token.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../helpers/app.js';

let recorder: Server;
let address = '';
const seenTokens: string[] = [];
let root = '';

before(async () => {
  recorder = createServer((req, res) => {
    seenTokens.push(String(req.headers['x-vault-token'] ?? ''));
    res.writeHead(403, { 'content-type': 'application/json' }).end('{"errors":["permission denied"]}');
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
  root = mkdtempSync(join(tmpdir(), 'meshcp-file-sources-'));
});

after(async () => {
  await new Promise<void>((resolve) => recorder.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

const vaultMesh = (tokenFile: string) => ({
  type: 'Mesh',
  name: 'default',
  mtls: {
    enabledBackend: 'v',
    backends: [
      {
        name: 'v',
        type: 'vault',
        conf: { fromCp: { address, pki: 'pki', role: 'dp', auth: { token: { file: tokenFile } } } },
      },
    ],
  },
});

const providedMesh = (certFile: string) => ({
  type: 'Mesh',
  name: 'default',
  mtls: {
    enabledBackend: 'p',
    backends: [{ name: 'p', type: 'provided', conf: { cert: { file: certFile }, key: { inlineString: 'x' } } }],
  },
});

async function put(t: TestApp, body: object, dryRun: boolean) {
  const res = await t.app.inject({
    method: 'PUT',
    url: `/meshes/default${dryRun ? '?dryRun=true' : ''}`,
    payload: body,
  });
  return {
    status: res.statusCode,
    body: JSON.parse(res.body) as { invalid_parameters?: { field: string; reason: string }[] },
  };
}

/** The reason given for one field, with the path the caller sent replaced, so two answers can be compared. */
function reasonFor(answer: Awaited<ReturnType<typeof put>>, field: string, path: string): string {
  const found = answer.body.invalid_parameters?.find((p) => p.field === field);
  assert.ok(found, JSON.stringify(answer.body));
  return found.reason.split(path).join('<path>');
}

describe('file data sources without MESHCP_FILE_SOURCE_DIRS', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
    rmSync(t.dataDir, { recursive: true, force: true });
  });

  it('are refused with a 400 naming the setting, for vault and provided, dry run or not, and nothing is sent', async () => {
    const secret = join(t.dataDir, 'secrets.key');
    writeFileSync(secret, 'the-control-planes-own-key', { mode: 0o600 });
    seenTokens.length = 0;
    for (const dryRun of [true, false]) {
      const vault = await put(t, vaultMesh(secret), dryRun);
      assert.equal(vault.status, 400, JSON.stringify(vault.body));
      assert.match(
        reasonFor(vault, 'mtls.backends[0].conf.fromCp.auth.token', secret),
        /file data sources are turned off.*MESHCP_FILE_SOURCE_DIRS/,
      );
      const provided = await put(t, providedMesh('/etc/hostname'), dryRun);
      assert.equal(provided.status, 400, JSON.stringify(provided.body));
      assert.match(reasonFor(provided, 'mtls.backends[0].conf.cert', '/etc/hostname'), /MESHCP_FILE_SOURCE_DIRS/);
    }
    assert.deepEqual(seenTokens, []);
  });
});

describe('file data sources with MESHCP_FILE_SOURCE_DIRS', () => {
  let t: TestApp;
  let allowed = '';
  before(async () => {
    allowed = join(root, 'allowed');
    mkdirSync(allowed);
    // The temp directory holds the data directory too: allowing a parent of it must not open it.
    t = await createTestApp({ MESHCP_FILE_SOURCE_DIRS: `${allowed},${tmpdir()}` });
    writeFileSync(join(allowed, 'vault-token'), 'hvs.allowed-token\n');
    writeFileSync(join(t.dataDir, 'secrets.key'), 'the-control-planes-own-key', { mode: 0o600 });
    symlinkSync(join(t.dataDir, 'secrets.key'), join(allowed, 'link-to-data-dir'));
    symlinkSync('/etc/passwd', join(allowed, 'link-out'));
  });
  after(async () => {
    await t.close();
    rmSync(t.dataDir, { recursive: true, force: true });
  });

  it('reads a file in an allowed directory (the token reaches Vault)', async () => {
    seenTokens.length = 0;
    const res = await put(t, vaultMesh(join(allowed, 'vault-token')), true);
    assert.equal(res.status, 400, JSON.stringify(res.body)); // the recording "Vault" refuses the token
    assert.deepEqual(seenTokens, ['hvs.allowed-token']);
  });

  it('never reads the data directory, directly, through a link, or through "..", and says so as for a missing file', async () => {
    const missing = join(allowed, 'no-such-file');
    const field = 'mtls.backends[0].conf.fromCp.auth.token';
    seenTokens.length = 0;
    const expected = reasonFor(await put(t, vaultMesh(missing), true), field, missing);
    assert.match(expected, /^could not load data: open <path>: .*MESHCP_FILE_SOURCE_DIRS/);
    const refused = [
      join(t.dataDir, 'secrets.key'),
      join(allowed, 'link-to-data-dir'),
      `${allowed}/../../${basename(t.dataDir)}/secrets.key`,
      join(allowed, 'link-out'),
      '/etc/shadow',
      '/etc/passwd',
      'vault-token',
      allowed,
    ];
    for (const path of refused) {
      for (const dryRun of [true, false]) {
        const res = await put(t, vaultMesh(path), dryRun);
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(reasonFor(res, field, path), expected, path);
      }
    }
    const provided = await put(t, providedMesh('/etc/passwd'), false);
    assert.equal(reasonFor(provided, 'mtls.backends[0].conf.cert', '/etc/passwd'), expected);
    assert.deepEqual(seenTokens, [], 'no refused file was sent anywhere');
  });
});
