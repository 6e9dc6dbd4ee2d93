// The operator's first minutes with a real control-plane process: metrics scraped over HTTP from the diagnostics
// listener, a port in use explained in one line, human-readable logs on request.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const started: CpProcess[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(started.map((cp) => cp.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs main.ts until it exits (or is stopped after `stopAfterMs`), collecting both streams. */
function run(env: Record<string, string>, stopAfterMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-ops-'));
  dirs.push(dataDir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, MESHCP_DATA_DIR: dataDir, MESHCP_API_HTTPS_PORT: '-1', MESHCP_DIAGNOSTICS_PORT: '-1', MESHCP_API_HTTP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
    if (stopAfterMs !== undefined && stdout.includes('HTTP API listening')) setTimeout(() => child.kill('SIGTERM'), stopAfterMs);
  });
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('control-plane process, operator side', { timeout: 60_000 }, () => {
  it('serves Prometheus metrics on the diagnostics port', async () => {
    const cp = await startCpProcess({ MESHCP_DIAGNOSTICS_PORT: '0' });
    started.push(cp);
    const line = cp.logs.find((l) => l.msg === 'diagnostics listening (Prometheus metrics)');
    assert.ok(line, JSON.stringify(cp.logs));
    const res = await fetch(line.url);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^meshcp_active_dataplanes\{mesh="default"\} 0$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.ok(cp.logs.some((l) => l.event === 'mesh-created' && l.msg === 'mesh default created'), 'the default mesh is an event');
  });

  it('a port in use is one line naming the variable to change', async () => {
    const cp = await startCpProcess();
    started.push(cp);
    const port = new URL(cp.baseUrl).port;
    const second = await run({ MESHCP_API_HTTP_PORT: port });
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `meshcp: port ${port} is already in use: stop what uses it or set MESHCP_API_HTTP_PORT to another port (0 picks a free one)\n`,
    );
  });

  it('MESHCP_LOG_FORMAT=pretty prints lines for people', async () => {
    const out = await run({ MESHCP_LOG_FORMAT: 'pretty' }, 100);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /INFO.*: HTTP API listening/);
    assert.match(out.stdout, /INFO.*: mesh default created/);
    assert.throws(() => JSON.parse(out.stdout.split('\n')[0]));
  });
});
