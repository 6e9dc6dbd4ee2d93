import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startCpProcess, type CpExit, type CpProcess } from '../helpers/cp-process.js';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START_TIMEOUT_MS = 60_000;

/** The process as the README runs it, with request lines and the diagnostics port on, and the default mesh made. */
const start = (dataDir: string): Promise<CpProcess> =>
  startCpProcess(
    {
      MESHCP_DIAGNOSTICS_PORT: '0',
      MESHCP_LOG_REQUESTS: 'true',
      MESHCP_SECRETS_KEY: '',
      MESHCP_LOCALHOST_IS_ADMIN: 'true',
      MESHCP_DEFAULTS_SKIP_MESH_CREATION: 'false',
    },
    START_TIMEOUT_MS,
    { dataDir },
  );

/** SIGTERM, and how it exited. */
async function stop(running: CpProcess): Promise<CpExit> {
  await running.stop();
  return running.exited;
}

async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await execFileAsync('curl', ['-sS', '-w', '\n%{http_code}', ...args]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

describe('the real process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-e2e-'));
  const started: CpProcess[] = [];
  after(async () => {
    for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the API, shuts down on SIGTERM, and keeps everything across a restart', async () => {
    // --- first start ---
    const first = await start(dataDir);
    started.push(first);
    assert.ok(Number(new URL(first.baseUrl).port) > 0);

    const index = await fetch(`${first.baseUrl}/`);
    assert.equal(index.status, 200);
    const indexBody = (await index.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(indexBody).sort(), ['clusterId', 'hostname', 'instanceId', 'product', 'version']);
    assert.equal(indexBody.product, 'meshcp');
    assert.equal((await fetch(`${first.baseUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${first.baseUrl}/readyz`)).status, 200);

    // The default mesh exists after the first start (as Kuma), without mTLS.
    const defaultMesh = await fetch(`${first.baseUrl}/meshes/default`);
    assert.equal(defaultMesh.status, 200);
    assert.equal(((await defaultMesh.json()) as { mtls?: unknown }).mtls, undefined);

    // The README's walk-through: curl --data-binary @mesh.yaml.
    const put = await curl([
      '-X',
      'PUT',
      `${first.baseUrl}/meshes/default`,
      '-H',
      'Content-Type: application/yaml',
      '--data-binary',
      `@${join(ROOT, 'examples', '0-mesh-ca-1.yaml')}`,
    ]);
    assert.equal(put.status, 200, put.body);
    assert.deepEqual(JSON.parse(put.body), {});
    const created = await curl([
      '-X',
      'PUT',
      `${first.baseUrl}/meshes/e2e`,
      '-H',
      'Content-Type: application/json',
      '--data',
      '{"type":"Mesh","name":"e2e","labels":{"made-by":"curl"}}',
    ]);
    assert.equal(created.status, 201, created.body);
    const secret = await fetch(`${first.baseUrl}/global-secrets/e2e-secret`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'GlobalSecret',
        name: 'e2e-secret',
        data: Buffer.from('kept across restarts').toString('base64'),
      }),
    });
    assert.equal(secret.status, 201);

    const meshBefore = await (await fetch(`${first.baseUrl}/meshes/default`)).json();
    assert.deepEqual((meshBefore as { mtls: unknown }).mtls, {
      enabledBackend: 'ca-1',
      backends: [{ name: 'ca-1', type: 'builtin' }],
    });
    const certBefore = await (
      await fetch(`${first.baseUrl}/meshes/default/secrets/default.ca-builtin-cert-ca-1`)
    ).json();
    assert.match(Buffer.from((certBefore as { data: string }).data, 'base64').toString(), /BEGIN CERTIFICATE/);

    // The admin token: a 0600 file, used for remote callers, and never logged.
    const tokenFile = join(dataDir, 'admin-token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'secrets.key')).mode & 0o777, 0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.ok(token.length >= 32);
    const remoteAt = (base: string) => ['-H', 'Host: cp.example.com', `${base}/meshes/default`];
    const remote = remoteAt(first.baseUrl);
    assert.equal((await curl(remote)).status, 403);
    assert.equal((await curl(['-H', `Authorization: Bearer ${token}`, ...remote])).status, 200);
    assert.equal((await curl(['-H', 'Authorization: Bearer wrong-token', ...remote])).status, 401);

    // SIGTERM: a clean exit.
    const exit = await stop(first);
    assert.deepEqual(exit, { code: 0, signal: null }, first.output());
    const log = first.output();
    assert.ok(!log.includes(token), 'the admin token is not in the log');
    const lines = log.split('\n').filter((l) => l.trim() !== '');
    const entries = lines.map((l) => JSON.parse(l) as { msg: string; method?: string; url?: string; status?: number });
    assert.ok(
      entries.some((e) => e.msg === 'request' && e.method === 'PUT' && e.url === '/meshes/default' && e.status === 200),
      'one pino line per request',
    );
    assert.ok(!log.includes('BEGIN PRIVATE KEY') && !log.includes('kept across restarts'));

    // --- restart on the same data dir ---
    const second = await start(dataDir);
    started.push(second);
    assert.deepEqual(await (await fetch(`${second.baseUrl}/meshes/default`)).json(), meshBefore);
    assert.deepEqual(
      await (await fetch(`${second.baseUrl}/meshes/default/secrets/default.ca-builtin-cert-ca-1`)).json(),
      certBefore,
    );
    const e2e = (await (await fetch(`${second.baseUrl}/meshes/e2e`)).json()) as { labels: Record<string, string> };
    assert.deepEqual(e2e.labels, { 'made-by': 'curl' });
    const kept = (await (await fetch(`${second.baseUrl}/global-secrets/e2e-secret`)).json()) as { data: string };
    assert.equal(Buffer.from(kept.data, 'base64').toString(), 'kept across restarts');
    assert.equal(readFileSync(tokenFile, 'utf8').trim(), token, 'the admin token survives a restart');
    assert.equal((await curl(['-H', `Authorization: Bearer ${token}`, ...remoteAt(second.baseUrl)])).status, 200);
    const names = ((await (await fetch(`${second.baseUrl}/meshes`)).json()) as { items: { name: string }[] }).items.map(
      (m) => m.name,
    );
    assert.deepEqual(names, ['default', 'e2e']);

    const secondExit = await stop(second);
    assert.deepEqual(secondExit, { code: 0, signal: null }, second.output());
    assert.ok(!second.output().includes(token));
  });
});
